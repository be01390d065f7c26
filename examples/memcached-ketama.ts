// Route cache keys across three real memcached servers exactly as the fleet's other clients do: keys stored
// through twemproxy (ketama, md5) and by the `memcached` npm client (npm hashring) are found on exactly the
// server that switchyard's KetamaRing names with the matching preset. Then a multi-get the way a cache
// client does one: `ring.group(keys)` splits the keys by server, one pipelined batch per server.
// Run: npx tsx examples/memcached-ketama.ts [--keys N]   (starts its own memcached and nutcracker on loopback)
import { KetamaRing } from 'switchyard';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { Memcache } from './lib/memcache.js';
import { startMemcached, startTwemproxy, type Daemon } from './lib/servers.js';

export interface KetamaExampleResult {
  keys: number;
  twemproxy: { onNamedServer: number; elsewhere: number };
  npmClient: { onNamedServer: number; elsewhere: number };
  perServer: Record<string, number>;
  /** The multi-get through `group`: keys found, keys asked per server. */
  multiGet: { found: number; perServer: Record<string, number> };
}

interface NpmMemcached {
  set(key: string, value: string, lifetime: number, cb: (err: unknown) => void): void;
  end(): void;
}

export async function run(keyCount = 3000, log: (line: string) => void = console.log): Promise<KetamaExampleResult> {
  const daemons: Daemon[] = [];
  const conns: Memcache[] = [];
  try {
    for (let i = 0; i < 3; i++) daemons.push(await startMemcached());
    const ids = daemons.map((d) => `127.0.0.1:${d.port}`);
    const proxy = await startTwemproxy(ids.map((id) => `${id}:1`));
    daemons.push(proxy);
    for (const d of daemons.slice(0, 3)) conns.push(await Memcache.connect(d.port));
    const keys = Array.from({ length: keyCount }, (_, i) => `user:${i}:profile`);

    // 1. through twemproxy
    const viaProxy = await Memcache.connect(proxy.port);
    await Promise.all(keys.map((k) => viaProxy.set(k, `tw-${k}`)));
    viaProxy.close();
    const twemproxy = new KetamaRing(ids, { compat: 'twemproxy' });
    const tw = await check(
      keys,
      (k) => `tw-${k}`,
      (k) => ids.indexOf(twemproxy.get(k)!),
      conns,
    );
    log(
      `twemproxy (ketama, md5): ${tw.onNamedServer}/${keyCount} keys on the server KetamaRing('twemproxy') names, ${tw.elsewhere} elsewhere`,
    );

    // 2. with the memcached npm client (it places keys with npm hashring)
    const Client = createRequire(import.meta.url)('memcached') as new (servers: string[], o: object) => NpmMemcached;
    const client = new Client(ids, { timeout: 5000, retries: 0 });
    for (let i = 0; i < keys.length; i += 8) {
      // small batches: the client's connection pool is bounded
      await Promise.all(
        keys
          .slice(i, i + 8)
          .map(
            (k) =>
              new Promise<void>((res, rej) =>
                client.set(`npm:${k}`, `npm-${k}`, 0, (e) => (e ? rej(e as Error) : res())),
              ),
          ),
      );
    }
    client.end();
    // the client gives hashring `default port: 11211` (a server on 11211 is hashed by its host alone)
    const hashring = new KetamaRing(ids, { compat: 'hashring', defaultPort: 11211 });
    const npm = await check(
      keys.map((k) => `npm:${k}`),
      (k) => `npm-${k.slice(4)}`,
      (k) => ids.indexOf(hashring.get(k)!),
      conns,
    );
    log(
      `memcached npm client (hashring): ${npm.onNamedServer}/${keyCount} keys on the server KetamaRing('hashring') names, ${npm.elsewhere} elsewhere`,
    );

    // 3. a multi-get: the keys grouped by server, each server's keys in one pipelined batch
    const groups = twemproxy.group(keys);
    const replies = await Promise.all(
      [...groups].map(([id, ks]) => Promise.all(ks.map((k) => conns[ids.indexOf(id)]!.get(k)))),
    );
    const values = new Map([...groups.values()].flatMap((ks, s) => ks.map((k, i) => [k, replies[s]![i]] as const)));
    const found = keys.filter((k) => values.get(k) === `tw-${k}`).length;
    const perServer = Object.fromEntries(ids.map((id) => [id, groups.get(id)?.length ?? 0]));
    log(
      `multi-get via group(): ${found}/${keyCount} keys found; per server ${Object.entries(perServer)
        .map(([id, n]) => `${id}=${n}`)
        .join(', ')}`,
    );
    return { keys: keyCount, twemproxy: tw, npmClient: npm, perServer, multiGet: { found, perServer } };
  } finally {
    for (const c of conns) c.close();
    await Promise.all(daemons.map((d) => d.stop()));
  }
}

/** Reads every key from every server: counts keys found (only) on the named server and keys found elsewhere. */
async function check(keys: string[], value: (k: string) => string, named: (k: string) => number, conns: Memcache[]) {
  let onNamedServer = 0;
  let elsewhere = 0;
  const found = await Promise.all(conns.map((c) => Promise.all(keys.map((k) => c.get(k)))));
  keys.forEach((k, i) => {
    const where = found.map((vals, s) => (vals[i] === value(k) ? s : -1)).filter((s) => s >= 0);
    if (where.length === 1 && where[0] === named(k)) onNamedServer++;
    else elsewhere++;
  });
  return { onNamedServer, elsewhere };
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const i = process.argv.indexOf('--keys');
  run(i > 0 ? Number(process.argv[i + 1]) : 3000).catch((err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  });
}

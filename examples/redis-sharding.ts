// Shard keys across three real Redis servers with a consistent-hash ring, add a fourth, and migrate only the
// keys whose owner changed (about 1/4), compared with naive modulo hashing (about 3/4 would move). Every
// batch goes to Redis as one pipeline per server, with the keys grouped by owner by `ring.group(keys)`.
// Run: npx tsx examples/redis-sharding.ts [--keys N]   (starts its own redis-server processes on loopback)
import { HashRing, xxh32 } from 'switchyard';
import { pathToFileURL } from 'node:url';
import { Redis } from './lib/resp.js';
import { startRedis, type Daemon } from './lib/servers.js';

export interface RedisShardingResult {
  keys: number;
  ringMoved: number;
  moduloMoved: number;
  plan: Record<string, number>;
  misplaced: number;
  perServer: Record<string, number>;
}

export async function run(keyCount = 10_000, log: (line: string) => void = console.log): Promise<RedisShardingResult> {
  const daemons: Daemon[] = [];
  const clients = new Map<string, Redis>();
  try {
    for (let i = 0; i < 4; i++) daemons.push(await startRedis());
    const ids = daemons.map((d) => `127.0.0.1:${d.port}`);
    for (const [i, id] of ids.entries()) clients.set(id, await Redis.connect(daemons[i]!.port));
    const keys = Array.from({ length: keyCount }, (_, i) => `session:${i}`);

    // 1. three servers: write every key to its owner
    const ring = new HashRing(ids.slice(0, 3));
    await writeAll(ring.group(keys), clients);
    log(`wrote ${keyCount} keys across ${ids.slice(0, 3).join(', ')}`);

    // 2. add the fourth: which keys move, and to where
    const before = new Map(keys.map((k) => [k, ring.get(k)!]));
    ring.add(ids[3]!);
    const moves = keys.filter((k) => ring.get(k) !== before.get(k));
    const modulo = keys.filter((k) => xxh32(k) % 3 !== xxh32(k) % 4).length;
    const plan: Record<string, number> = {};
    for (const k of moves) {
      const step = `${before.get(k)} -> ${ring.get(k)}`;
      plan[step] = (plan[step] ?? 0) + 1;
    }
    log(
      `adding ${ids[3]}: ring moves ${moves.length} keys (${pct(moves.length, keyCount)}), modulo hashing would move ${modulo} (${pct(modulo, keyCount)})`,
    );
    log('migration plan:');
    for (const [step, n] of Object.entries(plan).sort()) log(`  ${step}: ${n} keys`);

    // 3. migrate: copy moved keys to their new owner, then delete them from the old one
    const bySource = new Map<string, string[]>();
    for (const k of moves) bySource.set(before.get(k)!, [...(bySource.get(before.get(k)!) ?? []), k]);
    for (const [from, ks] of bySource) {
      const values = await clients.get(from)!.pipeline(ks.map((k) => ['GET', k]));
      await clients.get(ids[3]!)!.pipeline(ks.map((k, i) => ['SET', k, String(values[i])]));
      await clients.get(from)!.pipeline(ks.map((k) => ['DEL', k]));
    }

    // 4. verify: every key is on exactly the server the ring names, with its value
    let misplaced = 0;
    const perServer: Record<string, number> = {};
    const owners = ring.group(keys);
    for (const id of ids) {
      const owned = owners.get(id) ?? [];
      const got = await clients.get(id)!.pipeline(owned.map((k) => ['GET', k]));
      misplaced += got.filter((v, i) => v !== `value-of-${owned[i]}`).length;
      perServer[id] = Number(await clients.get(id)!.command('DBSIZE'));
    }
    const total = Object.values(perServer).reduce((s, n) => s + n, 0);
    if (total !== keyCount) misplaced += Math.abs(total - keyCount);
    log(
      `after migration: ${Object.entries(perServer)
        .map(([id, n]) => `${id}=${n}`)
        .join(', ')}; misplaced ${misplaced}`,
    );
    return { keys: keyCount, ringMoved: moves.length, moduloMoved: modulo, plan, misplaced, perServer };
  } finally {
    for (const c of clients.values()) c.close();
    await Promise.all(daemons.map((d) => d.stop()));
  }
}

/** One pipeline of SETs per server, each with the keys `group` gave it. */
async function writeAll(groups: Map<string, string[]>, clients: Map<string, Redis>): Promise<void> {
  await Promise.all(
    [...groups].map(([id, ks]) => clients.get(id)!.pipeline(ks.map((k) => ['SET', k, `value-of-${k}`]))),
  );
}

const pct = (n: number, d: number) => `${((n / d) * 100).toFixed(1)}%`;

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const i = process.argv.indexOf('--keys');
  run(i > 0 ? Number(process.argv[i + 1]) : 10_000).catch((err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  });
}

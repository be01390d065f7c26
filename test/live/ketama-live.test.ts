// Live: three real memcached servers behind a real twemproxy (nutcracker, distribution: ketama). Keys stored
// through twemproxy must be found, reading each memcached directly, on exactly the member KetamaRing
// names (compat 'twemproxy', for md5 and every other twemproxy hash, with weights and node names).
// Likewise keys stored with the `memcached` npm client (which places keys with npm `hashring`).
import { createRequire } from 'node:module';
import { KetamaRing, type KetamaKeyHash } from '../../bindings/hashing/ketama/ketama.js';
import { McConn, startMemcached, startTwemproxy, type Memcached as Mc, type Twemproxy } from '../helpers/memcached.js';
import { removeDir, tempDir } from '../helpers/process.js';
import { live } from '../helpers/live.js';

const test = live(['memcached', 'nutcracker'], import.meta.url);

// the memcached npm client ships no types: the part used here
interface MemcachedClient {
  set(key: string, value: string, lifetime: number, cb: (err: unknown) => void): void;
  end(): void;
}
const Memcached = createRequire(import.meta.url)('memcached') as new (
  servers: Record<string, number>,
  options?: Record<string, unknown>,
) => MemcachedClient;

const servers: Mc[] = [];
let proxy: Twemproxy | null = null;
let dir = '';
const direct: McConn[] = [];

/** Servers in the wide pool: 100 equal weights is where float32 rounding gives 156, not 160, points each. */
const WIDE = 100;
const wide = () => Array.from({ length: WIDE }, (_, k) => `127.0.0.${k + 1}:${servers[k % 3]!.port}:1`);
const OTHER_HASHES: KetamaKeyHash[] = [
  'fnv1a_64',
  'fnv1_64',
  'fnv1a_32',
  'fnv1_32',
  'one_at_a_time',
  'crc32a',
  'crc32',
  'murmur',
];

test.before(async () => {
  dir = tempDir('ketama-live');
  // memcached i also listens on 127.0.0.(k + 1) for k % 3 == i, k < WIDE: WIDE distinct ketama servers
  for (let i = 0; i < 3; i++) {
    const hosts = [
      '127.0.0.1',
      ...Array.from({ length: WIDE }, (_, k) => k).flatMap((k) => (k % 3 === i && k > 0 ? [`127.0.0.${k + 1}`] : [])),
    ];
    servers.push(await startMemcached(hosts));
  }
  const plain = servers.map((s) => `127.0.0.1:${s.port}:1`);
  proxy = await startTwemproxy(dir, [
    { name: 'md5', hash: 'md5', servers: plain },
    { name: 'named', hash: 'md5', servers: servers.map((s, i) => `127.0.0.1:${s.port}:${i + 1} node${i}`) },
    ...OTHER_HASHES.map((h) => ({ name: h, hash: h, servers: plain })),
    { name: 'wide', hash: 'md5', servers: wide() },
    { name: 'tagged', hash: 'md5', servers: plain, hashTag: '{}' },
  ]);
  for (const s of servers) direct.push(await McConn.open(s.port));
});

test.after.always(async () => {
  for (const c of direct) c.close();
  if (proxy !== null) await proxy.server.stop();
  for (const s of servers) await s.server.stop();
  if (dir !== '') removeDir(dir);
});

/** Index of the one memcached holding `key` with `value`; fails on none or several. */
async function holder(t: import('ava').ExecutionContext, key: string | Uint8Array, value: string): Promise<number> {
  const got = await Promise.all(direct.map((c) => c.get(key)));
  const where = got.flatMap((v, i) => (v === value ? [i] : []));
  if (where.length !== 1) t.fail(`key ${String(key)} found on ${where.length} servers`);
  return where[0]!;
}

async function viaTwemproxy(
  t: import('ava').ExecutionContext,
  pool: string,
  ring: KetamaRing,
  keys: (string | Uint8Array)[],
) {
  const conn = await McConn.open(proxy!.ports[pool]!);
  const portOf = new Map(ring.members.map((id) => [id, Number(/:(\d+)/.exec(id)![1])]));
  let agree = 0;
  try {
    for (const key of keys) {
      const value = `${pool}|${Buffer.from(key).toString('hex')}`;
      const reply = await conn.set(key, value);
      if (reply !== 'STORED') t.fail(`set ${String(key)} via twemproxy: ${reply}`);
      const at = await holder(t, key, value);
      if (servers[at]!.port === portOf.get(ring.get(key)!)) agree++;
    }
  } finally {
    conn.close();
  }
  t.is(agree, keys.length, `${pool}: keys on the member KetamaRing names`);
}

test.serial('twemproxy md5 ketama: 2000 keys are on exactly the member KetamaRing names', async (t) => {
  const ring = new KetamaRing(
    servers.map((s) => `127.0.0.1:${s.port}:1`),
    { compat: 'twemproxy', hash: 'md5' },
  );
  await viaTwemproxy(
    t,
    'md5',
    ring,
    Array.from({ length: 2000 }, (_, i) => `user:${i}:${(i * 7919) % 1000}`),
  );
  // all three members are used
  t.is(new Set(Array.from({ length: 2000 }, (_, i) => ring.get(`user:${i}:${(i * 7919) % 1000}`))).size, 3);
});

test.serial('twemproxy md5 ketama with weights 1/2/3 and node names: 2000 keys', async (t) => {
  const ring = new KetamaRing(
    servers.map((s, i) => `127.0.0.1:${s.port}:${i + 1} node${i}`),
    { compat: 'twemproxy' },
  );
  t.deepEqual(
    ring.stats().members.map((m) => m.label),
    ['node0', 'node1', 'node2'],
  );
  await viaTwemproxy(
    t,
    'named',
    ring,
    Array.from({ length: 2000 }, (_, i) => `named:${i}`),
  );
});

test.serial('twemproxy ketama with every other key hash (ASCII and non-ASCII keys): 300 keys each', async (t) => {
  const enc = new TextEncoder();
  for (const hash of OTHER_HASHES) {
    const ring = new KetamaRing(
      servers.map((s) => `127.0.0.1:${s.port}`),
      { compat: 'twemproxy', hash },
    );
    const keys = Array.from({ length: 300 }, (_, i) =>
      i % 3 === 0 ? enc.encode(`${hash}:clé:${i}:€`) : `${hash}:key:${i}`,
    );
    await viaTwemproxy(t, hash, ring, keys);
  }
});

test.serial('twemproxy md5 ketama over 100 servers (156 points each, float32 rounding): 3000 keys', async (t) => {
  const ring = new KetamaRing(wide(), { compat: 'twemproxy' });
  t.deepEqual(new Set(ring.stats().members.map((m) => m.points)), new Set([156]));
  await viaTwemproxy(
    t,
    'wide',
    ring,
    Array.from({ length: 3000 }, (_, i) => `wide:${i}`),
  );
});

test.serial('twemproxy md5 ketama with hash_tag "{}": 1000 keys, tags empty, unmatched and nested', async (t) => {
  const ring = new KetamaRing(
    servers.map((s) => `127.0.0.1:${s.port}`),
    { compat: 'twemproxy', hashTag: '{}' },
  );
  const shapes = [
    (i: number) => `user:{${i % 40}}:item${i}`,
    (i: number) => `{}x${i}`,
    (i: number) => `a}b{c${i}`,
    (i: number) => `{{${i}}}z`,
    (i: number) => `t${i}{`,
  ];
  const keys = Array.from({ length: 1000 }, (_, i) => shapes[i % shapes.length]!(i));
  await viaTwemproxy(t, 'tagged', ring, keys);
  // keys sharing a tag share a server
  t.is(new Set(Array.from({ length: 20 }, (_, i) => ring.get(`user:{7}:item${i}`))).size, 1);
});

test.serial(
  'memcached npm client (hashring, weights 1/2/3): 2000 keys are on the member KetamaRing names',
  async (t) => {
    const weights: Record<string, number> = {};
    servers.forEach((s, i) => (weights[`127.0.0.1:${s.port}`] = i + 1));
    const client = new Memcached(weights, { timeout: 5000 });
    const ring = new KetamaRing(
      Object.entries(weights).map(([id, weight]) => ({ id, weight })),
      { compat: 'hashring', defaultPort: 11211 },
    );
    const keys = Array.from({ length: 2000 }, (_, i) => `npm:${i}:${(i * 31) % 97}`);
    try {
      for (let i = 0; i < keys.length; i += 8) {
        await Promise.all(
          keys.slice(i, i + 8).map(
            (key) =>
              new Promise<void>((resolve, reject) => {
                client.set(key, `npm|${key}`, 0, (err) => (err ? reject(err as Error) : resolve()));
              }),
          ),
        );
      }
    } finally {
      client.end();
    }
    let agree = 0;
    for (const key of keys) {
      const at = await holder(t, key, `npm|${key}`);
      if (`127.0.0.1:${servers[at]!.port}` === ring.get(key)) agree++;
    }
    t.is(agree, keys.length);
  },
);

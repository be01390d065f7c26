// Hash policies as Balancer policies: a keyed pick lands on the member the table names (ring_hash = Envoy's
// EnvoyRingHash, xxhash_ring = our HashRing, maglev, ketama); excluding it walks the table's preference order;
// an unavailable member's keys move and come back.
import test from 'ava';
import { Balancer } from '../../bindings/balancing/balancer.js';
import { parseRingHashPolicy } from '../../bindings/balancing/policies/hash-tables.js';
import { EnvoyRingHash } from '../../bindings/hashing/envoy/ring-hash.js';
import { HashRing } from '../../bindings/hashing/ring.js';
import { KetamaRing } from '../../bindings/hashing/ketama/ketama.js';
import { Maglev } from '../../bindings/hashing/envoy/maglev.js';

const ids = ['10.0.0.1:11211', '10.0.0.2:11211', '10.0.0.3:11211', '10.0.0.4:11211'];
const keys = Array.from({ length: 500 }, (_, i) => `user:${i}`);

for (const [name, policy, table] of [
  ['maglev', { maglev: { table_size: 251 } }, new Maglev(ids, { tableSize: 251 })],
  ['ketama', { name: 'ketama', compat: 'libmemcached' }, new KetamaRing(ids, { compat: 'libmemcached' })],
] as const) {
  test(`${name}: keyed picks follow the table, retries follow its preference, unavailability moves keys`, (t) => {
    const b = new Balancer({ policy, endpoints: ids });
    t.is(b.stats().policy, name);
    for (const k of keys) {
      const p = b.pick({ key: k });
      if (p.type !== 'pick') return t.fail();
      t.is(p.member.id, table.get(k)!);
      p.handle.done({ ok: true });
      const second = b.pick({ key: k, exclude: new Set([p.member.id]) });
      if (second.type !== 'pick') return t.fail();
      t.is(second.member.id, table.preference(k, 2)[1]!);
      second.handle.done({ ok: true });
    }
    b.setAvailable(ids[0]!, false);
    const moved = keys.filter((k) => table.get(k) === ids[0]);
    for (const k of moved) {
      const p = b.pick({ key: k });
      t.true(p.type === 'pick' && p.member.id !== ids[0]);
    }
    b.setAvailable(ids[0]!, true);
    for (const k of moved) {
      const p = b.pick({ key: k });
      t.true(p.type === 'pick' && p.member.id === ids[0]);
    }
  });
}

test('bad options name the field', (t) => {
  t.throws(() => new Balancer({ policy: { maglev: { table_size: 100 } } }), {
    instanceOf: RangeError,
    message: /tableSize.*100/,
  });
  t.throws(() => new Balancer({ policy: { maglev: { bogus: 1 } } }), {
    instanceOf: RangeError,
    message: /maglev\.bogus/,
  });
  t.throws(() => new Balancer({ policy: { ketama: { compat: 'nope' } } }), {
    instanceOf: RangeError,
    message: /ketama\.compat.*nope/,
  });
});

const weighted = ids.map((id, i) => ({ id, weight: 1 + i }));
const keys1000 = Array.from({ length: 1000 }, (_, i) => `session-${i * 7919}`);

type Members = readonly (string | { id: string; weight: number })[];
const tables: [
  string | object,
  (members: Members) => { get(k: string): string | undefined; preference(k: string, n: number): string[] },
][] = [
  ['ring_hash', (m) => new EnvoyRingHash(m)],
  [
    { ring_hash: { minimum_ring_size: 4096, hash_function: 'MURMUR_HASH_2' } },
    (m) => new EnvoyRingHash(m, { minimumRingSize: 4096, hashFunction: 'MURMUR_HASH_2' }),
  ],
  ['xxhash_ring', (m) => new HashRing(m)],
  [{ xxhash_ring: { vnodes: 40, hash: 'xxh64' } }, (m) => new HashRing(m, { vnodes: 40, hash: 'xxh64' })],
];

for (const backend of ['js', 'wasm'] as const) {
  test(`${backend}: ring_hash picks what new EnvoyRingHash(ids) picks, and xxhash_ring what new HashRing(ids) picks, for 1000 keys`, (t) => {
    for (const [policy, make] of tables) {
      for (const members of [ids, weighted]) {
        const b = new Balancer({ policy, backend, endpoints: members });
        const want = make(members);
        const got = keys1000.map((k) => b.pickOrThrow({ key: k }).member.id);
        t.deepEqual(
          got,
          keys1000.map((k) => want.get(k)!),
          JSON.stringify(policy),
        );
        t.is(new Set(got).size, ids.length);
        // a retry excluding the owner goes to the key's next member in ring order
        for (const k of keys1000.slice(0, 100)) {
          const p = b.pickOrThrow({ key: k, exclude: new Set([want.get(k)!]) });
          t.is(p.member.id, want.preference(k, 2)[1]!);
        }
      }
    }
  });
}

test('ring_hash over the eligible members: an unavailable member leaves the ring, as Envoy builds it from healthy hosts', (t) => {
  const b = new Balancer({ policy: 'ring_hash', endpoints: ids });
  b.setAvailable(ids[1]!, false);
  const ring = new EnvoyRingHash(ids.filter((id) => id !== ids[1]));
  t.deepEqual(
    keys1000.map((k) => b.pickOrThrow({ key: k }).member.id),
    keys1000.map((k) => ring.get(k)!),
  );
  b.setAvailable(ids[1]!, true);
  const full = new EnvoyRingHash(ids);
  t.true(keys1000.every((k) => b.pickOrThrow({ key: k }).member.id === full.get(k)));
  // Envoy's weights are integers >= 1: a fractional weight is rounded
  const f = new Balancer({
    policy: 'ring_hash',
    endpoints: [
      { id: ids[0]!, weight: 2.4 },
      { id: ids[1]!, weight: 0.2 },
    ],
  });
  const r = new EnvoyRingHash([
    { id: ids[0]!, weight: 2 },
    { id: ids[1]!, weight: 1 },
  ]);
  t.true(keys1000.every((k) => f.pickOrThrow({ key: k }).member.id === r.get(k)));
});

test('ring_hash options: Envoy, gRPC A42 and camelCase spellings; typed errors naming the field', (t) => {
  t.deepEqual(parseRingHashPolicy({}), {
    minimumRingSize: 1024,
    maximumRingSize: 8388608,
    hashFunction: 'XX_HASH',
  });
  t.deepEqual(
    parseRingHashPolicy({ minimum_ring_size: '2048', maximum_ring_size: 4096, hash_function: 'MURMUR_HASH_2' }),
    { minimumRingSize: 2048, maximumRingSize: 4096, hashFunction: 'MURMUR_HASH_2' },
  );
  t.deepEqual(parseRingHashPolicy({ minRingSize: 10, maxRingSize: 20 }), {
    minimumRingSize: 10,
    maximumRingSize: 20,
    hashFunction: 'XX_HASH',
  });
  t.like(parseRingHashPolicy({ min_ring_size: 5, hash_function: 'DEFAULT_HASH' }), { minimumRingSize: 5 });
  t.is(new Balancer({ loadBalancingConfig: [{ ring_hash: { minRingSize: 64 } }] }).policy.name, 'ring_hash');
  t.throws(() => new Balancer({ policy: { ring_hash: { vnodes: 50 } } }), {
    instanceOf: RangeError,
    message: /policy\.ring_hash\.vnodes/,
  });
  t.throws(() => parseRingHashPolicy({ maxRingSize: 0 }), {
    instanceOf: RangeError,
    message: /ring_hash\.maxRingSize.*0/,
  });
  t.throws(() => parseRingHashPolicy({ min_ring_size: 100, max_ring_size: 10 }), {
    instanceOf: RangeError,
    message: /ring_hash\.min_ring_size.*100/,
  });
  t.throws(() => parseRingHashPolicy({ hash_function: 'MD5' }), {
    instanceOf: RangeError,
    message: /ring_hash\.hash_function.*MD5/,
  });
});

test('a custom hasher whose table changes under the picker: picks follow the table, never a stale index', (t) => {
  // the picker maps the table's member indices to rows once; a table changed since (new `members` array) must
  // not be read through that map (index 1 would name another member after a removal)
  const shared = new HashRing(ids);
  const b = new Balancer({ policy: { name: 'xxhash_ring', hasher: () => shared }, endpoints: ids });
  const before = keys.map((k) => b.pickOrThrow({ key: k }).member.id);
  t.deepEqual(
    before,
    keys.map((k) => shared.get(k)!),
  );
  shared.remove(ids[0]!); // behind the Balancer's back: no new picker
  shared.add({ id: ids[0]!, weight: 1 });
  shared.remove(ids[1]!);
  let moved = 0;
  for (const k of keys) {
    const want = shared.get(k)!;
    const got = b.pickOrThrow({ key: k }).member.id;
    t.is(got, want);
    if (got !== before[keys.indexOf(k)]) moved++;
  }
  t.true(moved > 0); // the change did move keys, so the check above could fail
});

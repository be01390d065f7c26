// Hash policies as Balancer policies: a keyed pick lands on the member the table names (ring_hash = Envoy's
// EnvoyRingHash, xxhash_ring = our HashRing, maglev, ketama); excluding it walks the table's preference order;
// an unavailable member's keys move and come back.
import test from 'ava';
import { Balancer } from '../../bindings/balancing/balancer.js';
import {
  integerWeights,
  parseMaglevPolicy,
  parseRingHashPolicy,
} from '../../bindings/balancing/policies/hash-tables.js';
import { ringWeights } from '../../bindings/balancing/policies/hash.js';
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
    message: /policy\.maglev\.table_size.*100/,
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

test('maglev table_size must be prime, checked when the policy is parsed (naming the key given)', (t) => {
  t.throws(() => parseMaglevPolicy({ table_size: 65536 }), {
    instanceOf: RangeError,
    message: /^maglev\.table_size must be a prime .*got 65536$/,
  });
  t.throws(() => parseMaglevPolicy({ tableSize: '1000' }), {
    instanceOf: RangeError,
    message: /maglev\.tableSize.*1000/,
  });
  t.throws(() => new Balancer({ policy: { maglev: { tableSize: 65536 } } }), {
    instanceOf: RangeError,
    message: /policy\.maglev\.tableSize.*65536/,
  });
  t.deepEqual(parseMaglevPolicy({ table_size: '65537' }), { tableSize: 65537 });
  t.deepEqual(parseMaglevPolicy({}), { tableSize: 65537 });
});

/** Keyed picks of `b` for `keys1000`. */
const picks = (b: Balancer) => keys1000.map((k) => b.pickOrThrow({ key: k }).member.id);
/** The members that own some of `keys1000`, sorted. */
const owners = (b: Balancer) => [...new Set(picks(b))].sort();

for (const backend of ['js', 'wasm'] as const) {
  test(`${backend}: every valid endpoint weight builds each table (rounded or scaled as the table takes it)`, (t) => {
    const [a, b, c] = ids as [string, string, string];
    // ketama rounds fractional weights as ring_hash and maglev do (at least 1)
    const k = new Balancer({
      backend,
      policy: 'ketama',
      endpoints: [{ id: a, weight: 2.4 }, { id: b, weight: 0.2 }, c],
    });
    const kr = new KetamaRing([{ id: a, weight: 2 }, { id: b, weight: 1 }, c]);
    t.deepEqual(
      picks(k),
      keys1000.map((x) => kr.get(x)!),
    );
    // xxhash_ring: weight × vnodes < 0.5 still gets one point
    const x = new Balancer({ backend, policy: 'xxhash_ring', endpoints: [{ id: a, weight: 0.001 }, b] });
    const xr = new HashRing([{ id: a, weight: 1 / 160 }, b]);
    t.deepEqual(
      picks(x),
      keys1000.map((key) => xr.get(key)!),
    );
    t.is(xr.stats().members.find((m) => m.id === a)!.points, 1);
    // xxhash_ring: points past the ring's limit are scaled down together (weights up to a finite sum: 8e307 × 2)
    const big = new Balancer({
      backend,
      policy: 'xxhash_ring',
      endpoints: [{ id: a, weight: 8e307 }, { id: b, weight: 8e307 }, c],
    });
    t.deepEqual(owners(big), [a, b].sort());
    // ring_hash: a weight above 2^32 - 1; maglev: weights summing above it (Envoy's uint32 limit)
    const rh = new Balancer({
      backend,
      policy: { ring_hash: { maximum_ring_size: 4096 } },
      endpoints: [{ id: a, weight: 2 ** 33 }, b, c],
    });
    const ws = integerWeights(
      [
        { id: a, weight: 2 ** 33 },
        { id: b, weight: 1 },
        { id: c, weight: 1 },
      ],
      2 ** 32 - 1,
      2 ** 32 - 1,
    );
    const rr = new EnvoyRingHash(ws, { maximumRingSize: 4096 });
    t.deepEqual(
      picks(rh),
      keys1000.map((key) => rr.get(key)!),
    );
    const mg = new Balancer({
      backend,
      policy: { maglev: { table_size: 251 } },
      endpoints: [
        { id: a, weight: 3e9 },
        { id: b, weight: 3e9 },
      ],
    });
    const mr = new Maglev([a, b], { tableSize: 251 }); // equal weights: the same table as weights 1
    t.deepEqual(
      picks(mg),
      keys1000.map((key) => mr.get(key)!),
    );
    const huge = new Balancer({
      backend,
      policy: 'maglev',
      endpoints: [
        { id: a, weight: 8e307 },
        { id: b, weight: 8e307 },
      ],
    });
    t.deepEqual(owners(huge), [a, b].sort());
    // ketama: integer presets cap at 2^31 - 1, hashring takes [1e-9, 1e9]
    const kb = new Balancer({
      backend,
      policy: 'ketama',
      endpoints: [
        { id: a, weight: 1e12 },
        { id: b, weight: 1e12 },
      ],
    });
    t.deepEqual(owners(kb), [a, b].sort());
    const kh = new Balancer({
      backend,
      policy: { ketama: { compat: 'hashring' } },
      endpoints: [
        { id: a, weight: 8e307 },
        { id: b, weight: 5e-324 },
        { id: c, weight: 8e307 },
      ],
    });
    t.deepEqual(owners(kh), [a, c].sort());
  });
}

test('integerWeights / ringWeights: valid weights pass unchanged; others scaled to fit, ratios kept', (t) => {
  const m = [
    { id: 'a', weight: 3 },
    { id: 'b', weight: 1.4 },
  ];
  t.deepEqual(integerWeights(m, 0xffffffff, 0xffffffff), [
    { id: 'a', weight: 3 },
    { id: 'b', weight: 1 },
  ]);
  const s = integerWeights(
    [
      { id: 'a', weight: 6e9 },
      { id: 'b', weight: 2e9 },
      { id: 'c', weight: 1 },
    ],
    0xffffffff,
    0xffffffff,
  );
  t.true(s.reduce((x, w) => x + w.weight, 0) <= 0xffffffff);
  t.is(Math.round(s[0]!.weight / s[1]!.weight), 3);
  t.is(s[2]!.weight, 1);
  t.true(s.every((w) => Number.isInteger(w.weight) && w.weight >= 1));
  const ok = [
    { id: 'a', weight: 2 },
    { id: 'b', weight: 0.5 },
  ];
  t.is(ringWeights(ok, 160), ok);
  const r = ringWeights(
    [
      { id: 'a', weight: 1e308 },
      { id: 'b', weight: 1e-300 },
    ],
    160,
  );
  t.true(r.reduce((x, w) => x + Math.round(w.weight * 160), 0) <= 1 << 24);
  t.is(Math.round(r[1]!.weight * 160), 1);
});

test('scaled weights stay within the table limits; weights only floored stay as given', (t) => {
  // w × (1e9 / max) can round above 1e9 (here to 1000000000.0000001), which the hashring preset refuses
  const b = new Balancer({
    policy: { ketama: { compat: 'hashring' } },
    endpoints: [{ id: 'a:1', weight: 725736111707433.4 }, 'b:1'],
  });
  t.is(b.pick({ key: 'user:42' }).type, 'pick');
  // (1 / 49) × 49 is 0.9999999999999999: an unscaled weight is not round-tripped through the largest
  const r = ringWeights(
    [
      { id: 'a', weight: 1 },
      { id: 'b', weight: 49 },
      { id: 'c', weight: 0.001 },
    ],
    160,
  );
  t.deepEqual(
    r.map((m) => m.weight),
    [1, 49, 1 / 160],
  );
});

test("a table refusing an endpoint names it endpoints[i] (its row), not the table's members[k] / servers[k]", (t) => {
  t.throws(
    () => new Balancer({ policy: { ketama: { compat: 'twemproxy' } }, endpoints: ['10.0.0.1:11211', 'cache-a'] }),
    { instanceOf: RangeError, message: /^endpoints\[1\]\.id must be 'host:port'.*"cache-a"$/ },
  );
  for (const policy of ['ring_hash', 'maglev', 'ketama', 'xxhash_ring']) {
    const b = new Balancer({ policy, endpoints: ['a:1', 'b:1'] });
    b.setAvailable('a:1', false); // the table is built over rows [1, 2]: its member 1 is endpoints[2]
    t.throws(
      () => b.add('\ud800:1'),
      {
        instanceOf: RangeError,
        message: /^endpoints\[2\](\.id)? must be well-formed UTF-16/,
      },
      policy,
    );
  }
});

test('a keyless pick of a hash policy checks its random draw: outside [0, 1) is a RangeError, not the first member', (t) => {
  for (const policy of ['ring_hash', 'xxhash_ring', 'maglev', 'ketama'])
    for (const random of [() => 1, () => -0.5, () => '0.5' as unknown as number]) {
      const lb = new Balancer({ policy, endpoints: ['a:1', 'b:1', 'c:1'], random });
      t.throws(() => lb.pick(), {
        instanceOf: RangeError,
        message: /^random must be a function returning a number in \[0, 1\), got /,
      });
      t.is(lb.pick({ key: 'k' }).type, 'pick', 'a keyed pick draws nothing');
      lb.close();
    }
});

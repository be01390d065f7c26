// Rendezvous (HRW) hashing: the documented per-(key, member) hash against an independent BigInt +
// xxhash-wasm + Math.log oracle, WASM = TS bit for bit (scores compared with Object.is), weighted shares
// close to the weights, minimal disruption on add/remove, preference order, degenerate cases, bad input.
import test from 'ava';
import fc from 'fast-check';
import xxhashWasm from 'xxhash-wasm';
import { Rendezvous, NO_MEMBER } from '../../bindings/index.js';
import { lnUnit } from '../../bindings/hashing/rendezvous.js';
import { wasmHandle } from '../../bindings/core/backend.js';
import { HASH_WASM } from '../../bindings/core/families.js';

const ref = await xxhashWasm();
const wasmLn = wasmHandle(HASH_WASM)!.exports.lnUnit as (x: bigint) => number;
const M64 = (1n << 64n) - 1n;

/** The definition in the module header, with BigInt and Math.log. */
function oracleScores(key: string, members: { id: string; weight: number }[]): number[] {
  const k = ref.h64(key, 0n);
  const uniform = members.every((m) => m.weight === members[0]!.weight);
  return members.map(({ id, weight }) => {
    let h = k ^ ref.h64(id, 0n);
    h ^= h >> 33n;
    h = (h * 0xc2b2ae3d27d4eb4fn) & M64;
    h ^= h >> 29n;
    h = (h * 0x165667b19e3779f9n) & M64;
    h ^= h >> 32n;
    const x = h >> 12n;
    return uniform ? Number(x) : -weight / Math.log((Number(x) * 2 + 1) / 2 ** 53);
  });
}
const argmax = (s: ArrayLike<number>) => {
  let b = 0;
  for (let i = 1; i < s.length; i++) if (s[i]! > s[b]!) b = i;
  return b;
};

test('lnUnit: TS = WASM bit for bit, within 2.3e-16 relative of Math.log, at the ends of (0, 1)', (t) => {
  const xs = [0n, 1n, 2n, (1n << 52n) - 1n, 1n << 51n, (1n << 51n) - 1n, 0xb504f333f9de6n, 0x6a09e667f3bccn];
  fc.assert(
    fc.property(fc.bigInt({ min: 0n, max: (1n << 52n) - 1n }), (x) => void xs.push(x)),
    { numRuns: 20000 },
  );
  for (const x of xs) {
    const ts = lnUnit(Number(x >> 32n), Number(x & 0xffffffffn));
    if (!Object.is(ts, wasmLn(x))) t.fail(`x=${x}: TS ${ts}, WASM ${wasmLn(x)}`);
    const m = Math.log((Number(x) * 2 + 1) / 2 ** 53);
    if (Math.abs(ts - m) > 2.3e-16 * Math.abs(m)) t.fail(`x=${x}: ${ts} vs Math.log ${m}`);
  }
  t.pass();
});

for (const backend of ['wasm', 'js'] as const) {
  test(`${backend}: scores and winners follow the documented definition (oracle)`, (t) => {
    const weighted = [
      { id: 'alpha', weight: 1 },
      { id: 'beta', weight: 2.5 },
      { id: 'gamma', weight: 0.25 },
      { id: 'delta', weight: 4 },
    ];
    const uniform = ['10.0.0.1:80', '10.0.0.2:80', '10.0.0.3:80'].map((id) => ({ id, weight: 3 }));
    for (const members of [weighted, uniform]) {
      const r = new Rendezvous(members, { backend });
      t.is(r.backend, backend);
      t.is(r.stats().uniform, members === uniform);
      const sorted = [...members].sort((a, b) => (a.id < b.id ? -1 : 1));
      t.deepEqual(
        r.members,
        sorted.map((m) => m.id),
      );
      for (let i = 0; i < 2000; i++) {
        const key = i % 7 === 0 ? `é-${i}` : `key:${i}`;
        const want = oracleScores(key, sorted);
        const got = r.scores(key);
        for (let j = 0; j < want.length; j++)
          if (Math.abs(got[j]! - want[j]!) > 1e-15 * Math.abs(want[j]!)) t.fail(`${key} ${j}: ${got[j]} vs ${want[j]}`);
        t.is(r.get(key), sorted[argmax(want)]!.id);
      }
    }
  });

  test(`${backend}: weighted shares are within 4% (relative) of weight / total on 150k keys`, (t) => {
    const members = [1, 2, 3, 4, 0.5, 10].map((weight, i) => ({ id: `node-${i}`, weight }));
    const total = members.reduce((s, m) => s + m.weight, 0);
    const r = new Rendezvous(members, { backend });
    const keys = Array.from({ length: 150000 }, (_, i) => `obj/${i}`);
    const counts = new Map<string, number>();
    for (const m of r.getMany(keys)) counts.set(m!, (counts.get(m!) ?? 0) + 1);
    for (const m of members) {
      const share = (counts.get(m.id) ?? 0) / keys.length;
      t.true(Math.abs(share / (m.weight / total) - 1) < 0.04, `${m.id}: ${share} vs ${m.weight / total}`);
    }
    t.deepEqual(
      r.stats().members.map((m) => m.share),
      [...members].sort((a, b) => (a.id < b.id ? -1 : 1)).map((m) => m.weight / total),
    );
  });

  test(`${backend}: adding moves about w/(W + w) of keys, only to the newcomer; removing moves only its keys`, (t) => {
    const keys = Array.from({ length: 20000 }, (_, i) => `key:${i}`);
    for (const [n, w] of [
      [1, 1],
      [9, 1],
      [40, 1],
      [5, 3],
    ] as const) {
      const r = new Rendezvous(
        Array.from({ length: n }, (_, i) => ({ id: `m${i}`, weight: 1 })),
        { backend },
      );
      const before = r.getMany(keys);
      t.true(r.add({ id: 'new', weight: w }));
      const after = r.getMany(keys);
      let moved = 0;
      for (let i = 0; i < keys.length; i++) {
        if (before[i] !== after[i]) {
          moved++;
          t.is(after[i], 'new');
        }
      }
      const ideal = (keys.length * w) / (n + w);
      t.true(moved > ideal * 0.85 && moved < ideal * 1.15, `n=${n} w=${w}: moved ${moved}, ideal ${ideal}`);
      t.true(r.remove('new'));
      t.deepEqual(r.getMany(keys), before);
      // removing m0 moves only m0's keys
      t.true(r.remove('m0'));
      const gone = r.getMany(keys);
      for (let i = 0; i < keys.length; i++) if (before[i] !== 'm0') t.is(gone[i], before[i]);
    }
  });

  test(`${backend}: preference is descending score, owner first, independent of insertion order`, (t) => {
    const r1 = new Rendezvous(['c', { id: 'a', weight: 2 }, 'b', 'd'], { backend });
    const r2 = new Rendezvous([], { backend });
    r2.add(['d', 'b']);
    r2.add([{ id: 'a', weight: 2 }, 'c']);
    for (let i = 0; i < 300; i++) {
      const k = `k${i}`;
      const p = r1.preference(k, 10);
      t.is(p.length, 4);
      t.is(p[0], r1.get(k));
      t.deepEqual(r2.preference(k, 4), p);
      t.deepEqual(r1.preference(k, 2), p.slice(0, 2));
      t.deepEqual(r1.preference(k, 1), p.slice(0, 1));
      const s = r1.scores(k);
      const sc = p.map((id) => s[r1.members.indexOf(id)]!);
      for (let j = 1; j < sc.length; j++) t.true(sc[j - 1]! >= sc[j]!);
    }
  });

  test(`${backend}: empty, single member, setWeight, reset, dispose`, (t) => {
    const r = new Rendezvous([], { backend });
    t.is(r.get('k'), undefined);
    t.is(r.getIndex('k'), -1);
    t.deepEqual(r.getMany(['a', 'b']), [undefined, undefined]);
    t.deepEqual([...r.getManyBytes(new Uint8Array(1), new Uint32Array([0, 1]))], [NO_MEMBER]);
    t.deepEqual(r.preference('k', 3), []);
    t.deepEqual(r.scores('k').length, 0);
    t.true(r.add('solo'));
    t.is(r.get('k'), 'solo');
    t.deepEqual(r.preference('k', 3), ['solo']);
    t.true(r.add('other'));
    t.true(r.setWeight('other', 1e6));
    t.false(r.setWeight('other', 1e6));
    t.false(r.stats().uniform);
    let other = 0;
    for (let i = 0; i < 1000; i++) if (r.get(`q${i}`) === 'other') other++;
    t.true(other > 990);
    t.false(r.reset(['solo', { id: 'other', weight: 1e6 }]));
    t.true(r.reset(['x', 'y']));
    t.deepEqual(r.members, ['x', 'y']);
    r.dispose();
    t.is(r.get('k'), undefined);
  });
}

test('property: WASM and TS give identical scores, winners and batches', (t) => {
  const memberArb = fc.uniqueArray(
    fc.record({
      id: fc.string({ unit: 'binary', minLength: 1, maxLength: 10 }),
      weight: fc.oneof(fc.constant(1), fc.double({ min: 0.01, max: 100, noNaN: true })),
    }),
    { selector: (m) => m.id, minLength: 1, maxLength: 30 },
  );
  fc.assert(
    fc.property(
      memberArb,
      fc.array(fc.string({ unit: 'binary', maxLength: 30 }), { maxLength: 30 }),
      (members, keys) => {
        const a = new Rendezvous(members, { backend: 'wasm' });
        const b = new Rendezvous(members, { backend: 'js' });
        const many = a.getMany(keys);
        t.deepEqual(b.getMany(keys), many);
        for (let i = 0; i < keys.length; i++) {
          const sa = a.scores(keys[i]!);
          const sb = b.scores(keys[i]!);
          for (let j = 0; j < sa.length; j++)
            if (!Object.is(sa[j], sb[j])) t.fail(`${keys[i]} ${j}: ${sa[j]} vs ${sb[j]}`);
          t.is(a.get(keys[i]!), many[i]);
          t.is(b.get(keys[i]!), many[i]);
        }
        a.dispose();
      },
    ),
    { numRuns: 150 },
  );
});

test('bad input names the field and the value', (t) => {
  t.throws(() => new Rendezvous([{ id: 'a', weight: 0 }]), {
    instanceOf: RangeError,
    message: /members\[0\]\.weight must be a finite number > 0, got 0/,
  });
  t.throws(() => new Rendezvous([{ id: 'a', weight: Infinity }]), { instanceOf: RangeError, message: /weight/ });
  t.throws(() => new Rendezvous([{ id: 'a', weight: '2' as unknown as number }]), {
    instanceOf: TypeError,
    message: /weight/,
  });
  t.throws(() => new Rendezvous(['a', 'a']), { instanceOf: RangeError, message: /members\[1\]\.id must be unique/ });
  t.throws(() => new Rendezvous([''] as string[]), { instanceOf: RangeError, message: /members\[0\]/ });
  t.throws(() => new Rendezvous([], { backend: 'x' as 'js' }), { instanceOf: RangeError, message: /backend/ });
  const r = new Rendezvous(['a']);
  t.throws(() => r.get(1 as unknown as string), {
    instanceOf: TypeError,
    message: /key must be a string or a Uint8Array, got 1/,
  });
  t.throws(() => r.preference('k', 1.5), { instanceOf: RangeError, message: /n must be/ });
  t.throws(() => r.setWeight('zz', 1), { instanceOf: RangeError, message: /id/ });
  t.throws(() => r.setWeight('a', -1), { instanceOf: RangeError, message: /weight/ });
  t.throws(() => r.add({ id: 'a', weight: 2 }), { instanceOf: RangeError, message: /use setWeight/ });
  t.throws(() => r.getManyBytes(new Uint8Array(1), new Uint32Array([1, 0])), {
    instanceOf: RangeError,
    message: /offsets\[1\]/,
  });
});

test('batches larger than one WASM call (65536 keys) agree with single lookups', (t) => {
  const members = Array.from({ length: 5 }, (_, i) => ({ id: `r${i}`, weight: i + 1 }));
  const a = new Rendezvous(members, { backend: 'wasm' });
  const b = new Rendezvous(members, { backend: 'js' });
  const keys = Array.from({ length: 70001 }, (_, i) => `b${i}`);
  const many = a.getMany(keys);
  t.deepEqual(b.getMany(keys), many);
  for (let i = 65530; i < 65545; i++) t.is(a.get(keys[i]!), many[i]);
});

test('a failing rebuild (WASM memory exhausted) leaves the membership and every answer unchanged', (t) => {
  const r = new Rendezvous(['a', { id: 'b', weight: 2 }, 'c'], { backend: 'wasm' });
  const keys = Array.from({ length: 200 }, (_, i) => `k${i}`);
  const before = r.getMany(keys);
  const stats = r.stats();
  const mem = wasmHandle(HASH_WASM)!.mem;
  mem.alloc = () => {
    throw new RangeError('WebAssembly.Memory.grow(): Maximum memory size exceeded');
  };
  try {
    t.throws(() => r.add('d'), { instanceOf: RangeError, message: /grow/ });
    t.throws(() => r.setWeight('a', 5), { instanceOf: RangeError });
    t.throws(() => r.remove('c'), { instanceOf: RangeError });
    t.throws(() => r.reset(['x']), { instanceOf: RangeError });
  } finally {
    delete (mem as { alloc?: unknown }).alloc;
  }
  t.deepEqual(r.members, ['a', 'b', 'c']);
  t.is(r.weight('a'), 1);
  t.is(r.weight('d'), undefined);
  t.deepEqual(r.stats(), stats);
  t.deepEqual(r.getMany(keys), before);
  for (const k of keys.slice(0, 20)) t.is(r.get(k), before[keys.indexOf(k)]);
  t.true(r.add('d'), 'the next change works');
  t.deepEqual(r.members, ['a', 'b', 'c', 'd']);
});

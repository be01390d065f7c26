// HashRing: golden tables with boundary probes, WASM = TS differential properties, minimal disruption,
// distribution, memory reuse, degenerate cases and bad input.
import test from 'ava';
import fc from 'fast-check';
import xxhashWasm from 'xxhash-wasm';
import { HashRing, NO_MEMBER, xxh32, type MemberInput } from '../../bindings/index.js';
import { wasmHandle } from '../../bindings/core/backend.js';
import { assertLookupsSurviveGrow } from '../helpers/wasm-grow.js';
import { ownersBySearch, ringMembers } from '../helpers/ring.js';

const ref = await xxhashWasm();

// Golden ring: members a, b, c, 4 vnodes, xxh32 seed 0. Points = xxh32(`${id}-${i}`), from xxhash-wasm:
//   0x07215bc3 c-3 | 0x38a793d0 c-0 | 0x3e955f87 a-2 | 0x45ead8e4 b-0 | 0x4c489ad4 a-1 | 0x4dbc150a b-2
//   0x4ec6a2bf c-2 | 0x626850a0 a-3 | 0x9d4656ee b-3 | 0xac2457ba c-1 | 0xbc5d1820 b-1 | 0xc9ab01cb a-0
const GOLDEN: [number, string][] = [
  [0x07215bc3, 'c'],
  [0x38a793d0, 'c'],
  [0x3e955f87, 'a'],
  [0x45ead8e4, 'b'],
  [0x4c489ad4, 'a'],
  [0x4dbc150a, 'b'],
  [0x4ec6a2bf, 'c'],
  [0x626850a0, 'a'],
  [0x9d4656ee, 'b'],
  [0xac2457ba, 'c'],
  [0xbc5d1820, 'b'],
  [0xc9ab01cb, 'a'],
];

for (const backend of ['wasm', 'js'] as const) {
  test(`${backend}: golden table matches xxhash-wasm labels, probes at 0, max, on a point, one past`, (t) => {
    for (const [p, id] of GOLDEN) {
      const label = GOLDEN.filter(([q]) => q === p).length === 1;
      t.true(label);
      t.is(ref.h32(`${id}-${[0, 1, 2, 3].find((i) => ref.h32(`${id}-${i}`, 0) >>> 0 === p)}`, 0) >>> 0, p);
    }
    const ring = new HashRing(['b', 'c', 'a'], { vnodes: 4, backend });
    t.is(ring.backend, backend);
    t.is(ring.getByHash(0), 'c'); // below the first point -> first point
    t.is(ring.getByHash(0xffffffff), 'c'); // above the last point -> wraps to the first
    t.is(ring.getByHash(0xc9ab01cb + 1), 'c'); // one past the last point wraps
    for (let i = 0; i < GOLDEN.length; i++) {
      const [p, id] = GOLDEN[i]!;
      t.is(ring.getByHash(p), id, `exactly on point ${p.toString(16)}`);
      t.is(ring.getByHash(p - 1), id, `one before point ${p.toString(16)}`);
      const next = GOLDEN[(i + 1) % GOLDEN.length]![1];
      t.is(ring.getByHash(p + 1), next, `one past point ${p.toString(16)}`);
    }
    const stats = ring.stats();
    t.deepEqual(
      stats.members.map((m) => [m.id, m.points]),
      [
        ['a', 4],
        ['b', 4],
        ['c', 4],
      ],
    );
    t.is(Math.round(stats.members.reduce((s, m) => s + m.share, 0) * 1e9) / 1e9, 1);
    // a: arcs ending at its points
    const arcs = (id: string) =>
      GOLDEN.reduce(
        (s, [p, o], i) =>
          o === id ? s + (i === 0 ? p + 2 ** 32 - GOLDEN[GOLDEN.length - 1]![0] : p - GOLDEN[i - 1]![0]) : s,
        0,
      );
    t.is(stats.members[0]!.share, arcs('a') / 2 ** 32);
  });

  test(`${backend}: equal points are ordered by id, whatever the order members were given or added`, (t) => {
    // xxh32('n2210-0') === xxh32('n95400-0') === 2428070152 (found by search, checked against xxhash-wasm)
    t.is(ref.h32('n2210-0', 0) >>> 0, 2428070152);
    t.is(ref.h32('n95400-0', 0) >>> 0, 2428070152);
    const r1 = new HashRing(['n95400', 'n2210'], { vnodes: 1, backend });
    const r2 = new HashRing(['n2210'], { vnodes: 1, backend });
    r2.add('n95400');
    const r3 = new HashRing(['n95400'], { vnodes: 1, backend });
    r3.add('n2210');
    for (const r of [r1, r2, r3]) {
      t.is(r.getByHash(2428070152), 'n2210');
      t.is(r.getByHash(2428070151), 'n2210');
      t.deepEqual(r.preference('x', 2).length, 2);
    }
  });

  test(`${backend}: empty and single-member rings`, (t) => {
    const ring = new HashRing([], { backend });
    t.is(ring.size, 0);
    t.is(ring.get('k'), undefined);
    t.is(ring.getIndex('k'), -1);
    t.is(ring.getByHash(5), undefined);
    t.deepEqual(ring.getMany(['a', 'b']), [undefined, undefined]);
    t.deepEqual([...ring.getManyByHash(new Uint32Array([1, 2]))], [NO_MEMBER, NO_MEMBER]);
    t.deepEqual(ring.preference('k', 3), []);
    t.deepEqual(ring.stats().members, []);
    t.true(ring.add('only'));
    t.is(ring.get('k'), 'only');
    t.is(ring.getByHash(0), 'only');
    t.is(ring.getByHash(0xffffffff), 'only');
    t.deepEqual(ring.preference('k', 3), ['only']);
    t.is(ring.stats().members[0]!.share, 1);
    t.true(ring.remove('only'));
    t.is(ring.get('k'), undefined);
    t.false(ring.remove('only'));
  });

  test(`${backend}: weights scale points; xxh64 uses the upper 32 bits of xxh64`, (t) => {
    const ring = new HashRing([{ id: 'a', weight: 2 }, { id: 'b', weight: 0.5 }, 'c'], { vnodes: 10, backend });
    t.deepEqual(
      ring.stats().members.map((m) => m.points),
      [20, 5, 10],
    );
    const r64 = new HashRing(['a'], { vnodes: 3, hash: 'xxh64', seed: 7n, backend });
    t.is(r64.hashOf('key'), Number(ref.h64('key', 7n) >> 32n));
    const pts = [0, 1, 2].map((i) => Number(ref.h64(`a-${i}`, 7n) >> 32n)).sort((x, y) => x - y);
    t.is(r64.getByHash(pts[1]!), 'a');
    const r32 = new HashRing(['a', 'b'], { seed: 99, backend });
    t.is(r32.hashOf('key'), ref.h32('key', 99) >>> 0);
    t.is(r32.get('key'), r32.getByHash(ref.h32('key', 99) >>> 0));
  });
}

const memberArb = ringMembers(40);

test('property: WASM and TS build identical points, member indices and tables, and agree on lookups', (t) => {
  fc.assert(
    fc.property(
      memberArb,
      fc.integer({ min: 1, max: 200 }),
      fc.constantFrom('xxh32' as const, 'xxh64' as const),
      fc.nat({ max: 0xffffffff }),
      fc.array(fc.string({ unit: 'binary', maxLength: 30 }), { maxLength: 50 }),
      fc.array(fc.nat({ max: 0xffffffff }), { maxLength: 50 }),
      (members, vnodes, hash, seed, keys, hashes) => {
        const a = new HashRing(members, { vnodes, hash, seed, backend: 'wasm' });
        const b = new HashRing(members, { vnodes, hash, seed, backend: 'js' });
        const ta = (a as unknown as { t: { points: Uint32Array; members: Uint16Array; table: Uint32Array } }).t;
        const tb = (b as unknown as { t: { points: Uint32Array; members: Uint16Array; table: Uint32Array } }).t;
        if (!eq(ta.points, tb.points) || !eq(ta.members, tb.members) || !eq(ta.table, tb.table)) return false;
        for (const k of keys)
          if (a.get(k) !== b.get(k) || a.preference(k, 3).join() !== b.preference(k, 3).join()) return false;
        const hs = Uint32Array.from(hashes);
        const ia = a.getManyByHash(hs);
        const ib = b.getManyByHash(hs);
        if (!eq(ia, ib)) return false;
        for (let i = 0; i < hs.length; i++) if (a.members[ia[i]!] !== a.getByHash(hs[i]!)) return false;
        const enc = new TextEncoder();
        const parts = keys.map((k) => enc.encode(k));
        const bytes = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
        const offsets = new Uint32Array(parts.length + 1);
        parts.forEach((p, i) => {
          bytes.set(p, offsets[i]!);
          offsets[i + 1] = offsets[i]! + p.length;
        });
        const ba = a.getManyBytes(bytes, offsets);
        const bb = b.getManyBytes(bytes, offsets);
        if (!eq(ba, bb)) return false;
        for (let i = 0; i < keys.length; i++) if (a.members[ba[i]!] !== a.get(keys[i]!)) return false;
        a.dispose();
        return true;
      },
    ),
    { numRuns: 150 },
  );
  t.pass();
});

test('label boundaries: WASM and TS build identical tables for every label length mod 16 and vnode counts crossing 10/100/1000', (t) => {
  // the WASM build hashes the labels `${id}-${10q}` .. `${id}-${10q + 9}` up to their last byte once and
  // finishes each from there, except where that byte opens a 16-byte stripe or for xxh64: ids of lengths
  // 1..40 put the last byte at every offset mod 16, and these counts cross the digit-count boundaries
  type T = { t: { points: Uint32Array; members: Uint16Array; table: Uint32Array } };
  let cases = 0;
  for (const hash of ['xxh32', 'xxh64'] as const)
    for (let len = 1; len <= 40; len++) {
      const ids = ['a', 'b', 'c'].map((c) => c + 'x'.repeat(len - 1));
      for (const vnodes of [9, 10, 11, 101, 1001]) {
        const seed = len % 3 === 0 ? 0xdeadbeef : len;
        const a = new HashRing(ids, { vnodes, hash, seed, backend: 'wasm' });
        const b = new HashRing(ids, { vnodes, hash, seed, backend: 'js' });
        const ta = (a as unknown as T).t;
        const tb = (b as unknown as T).t;
        const same = eq(ta.points, tb.points) && eq(ta.members, tb.members) && eq(ta.table, tb.table);
        a.dispose();
        if (!same) return t.fail(`${hash} id length ${len} vnodes ${vnodes} seed ${seed}: tables differ`);
        cases++;
      }
    }
  for (const id of ['é', 'ü-ß', '日本語のホスト名', '🙂🙂🙂🙂']) {
    const a = new HashRing([id, id + '2'], { vnodes: 333, backend: 'wasm' });
    const b = new HashRing([id, id + '2'], { vnodes: 333, backend: 'js' });
    t.deepEqual([...(a as unknown as T).t.points], [...(b as unknown as T).t.points], id);
    a.dispose();
    cases++;
  }
  t.is(cases, 2 * 40 * 5 + 4);
});

test('golden boundaries: every point, its neighbours and the ends route as a binary search says (crowded buckets too)', (t) => {
  // 1000 members x 160 points: built in 2^17 buckets, looked up in 2^15 (RingTable.compact): thousands of
  // buckets hold 5+ points, which the WASM lookup scans 4 at a time; each point p is probed at p - 1, p and
  // p + 1, plus 0 and 2^32 - 1 (the wrap).
  const ids = Array.from({ length: 1000 }, (_, i) => `10.1.${i >> 8}.${i & 255}:11211`);
  const ring = new HashRing(ids, { backend: 'wasm' });
  const js = new HashRing(ids, { backend: 'js' });
  const tab = (ring as unknown as { t: { points: Uint32Array; members: Uint16Array; table: Uint32Array } }).t;
  const points = tab.points.slice();
  const owners = tab.members.slice();
  // WASM and TS build the same table
  const jsTab = (js as unknown as { t: { points: Uint32Array; members: Uint16Array; table: Uint32Array } }).t;
  t.deepEqual(points, jsTab.points.slice());
  t.deepEqual(owners, jsTab.members.slice());
  // the compacted WASM table is the TS core's 2^15-bucket table
  t.is(tab.table.length, 2 ** 15 + 1);
  t.deepEqual(tab.table.slice(), jsTab.table.slice());
  let crowded = 0;
  for (let b = 0; b + 1 < tab.table.length; b++) if (tab.table[b + 1]! - tab.table[b]! >= 5) crowded++;
  t.true(crowded > 100, `${crowded} buckets of 5+ points`);
  const probes: number[] = [0, 0xffffffff];
  for (const p of points) probes.push(Math.max(p - 1, 0), p, Math.min(p + 1, 0xffffffff));
  const hs = Uint32Array.from(probes);
  const expected = ownersBySearch(points, owners, hs);
  t.deepEqual(ring.getManyByHash(hs), expected);
  t.deepEqual(js.getManyByHash(hs), expected);
  for (let i = 0; i < hs.length; i += 997) t.is(ring.getByHash(hs[i]!), ring.members[expected[i]!]);
  ring.dispose();
});

test('crowded buckets (ids chosen so that their points collide) build the same table as TS, through the heapsort fallback', (t) => {
  // 300 members of one point each whose points share their top 10 bits, among 200 ordinary ones: ~150 land in
  // each of two of the table's 2048 buckets, past the insertion pass's budget, so the WASM build heap sorts
  // the range instead (the ordinary points make that range's order depend on every bit)
  const ids: string[] = [];
  for (let j = 0; ids.length < 300; j++) if (xxh32(`crowd${j}-0`) >>> 22 === 0) ids.push(`crowd${j}`);
  for (let j = 0; j < 200; j++) ids.push(`ord${j}`);
  const wasm = new HashRing(ids, { vnodes: 1, backend: 'wasm' });
  const js = new HashRing(ids, { vnodes: 1, backend: 'js' });
  type T = { t: { points: Uint32Array; members: Uint16Array; table: Uint32Array } };
  const a = (wasm as unknown as T).t;
  const b = (js as unknown as T).t;
  t.is(a.table.length, 2049);
  t.true(a.table[2]! - a.table[0]! >= 300, 'the crowded points share the first two buckets');
  t.deepEqual([...a.points], [...b.points]);
  t.deepEqual([...a.members], [...b.members]);
  t.deepEqual([...a.table], [...b.table]);
  const hs = Uint32Array.from(a.points, (p) => p + 1);
  t.deepEqual(wasm.getManyByHash(hs), js.getManyByHash(hs));
  wasm.dispose();
});

test('property: the order members are given or added never changes a lookup', (t) => {
  fc.assert(
    fc.property(memberArb, fc.array(fc.string(), { minLength: 1, maxLength: 30 }), fc.nat(), (members, keys, rot) => {
      const a = new HashRing(members, { vnodes: 20 });
      const shuffled = [...members.slice(rot % members.length), ...members.slice(0, rot % members.length)].reverse();
      const b = new HashRing(shuffled.slice(0, 1), { vnodes: 20 });
      b.add(shuffled.slice(1));
      return keys.every((k) => a.get(k) === b.get(k));
    }),
    { numRuns: 100 },
  );
  t.pass();
});

const keys = Array.from({ length: 50_000 }, (_, i) => `user:${i}:${(i * 2654435761) >>> 0}`);

test('adding a member moves only keys to it, about 1/(n+1); removing moves only its keys', (t) => {
  for (const n of [3, 10, 50]) {
    const ids = Array.from({ length: n }, (_, i) => `node-${i}`);
    const ring = new HashRing(ids);
    const before = keys.map((k) => ring.get(k));
    t.true(ring.add('node-new'));
    const after = keys.map((k) => ring.get(k));
    let moved = 0;
    for (let i = 0; i < keys.length; i++) {
      if (before[i] !== after[i]) {
        moved++;
        t.is(after[i], 'node-new');
      }
    }
    const ideal = 1 / (n + 1);
    const frac = moved / keys.length;
    t.true(Math.abs(frac - ideal) < ideal * 0.35, `n=${n}: moved ${frac.toFixed(4)} vs ideal ${ideal.toFixed(4)}`);
    t.true(ring.remove('node-new'));
    const back = keys.map((k) => ring.get(k));
    t.deepEqual(back, before);
    t.true(ring.remove('node-1'));
    const removed = keys.map((k) => ring.get(k));
    for (let i = 0; i < keys.length; i++) if (before[i] !== 'node-1') t.is(removed[i], before[i]);
  }
});

test('distribution per vnode count (max/mean key load), reported', (t) => {
  const ids = Array.from({ length: 20 }, (_, i) => `10.0.0.${i}:11211`);
  const rows: string[] = [];
  let prev = Infinity;
  for (const vnodes of [1, 10, 40, 160, 640]) {
    const ring = new HashRing(ids, { vnodes });
    const counts = new Map<string, number>();
    for (const k of keys) counts.set(ring.get(k)!, (counts.get(ring.get(k)!) ?? 0) + 1);
    const loads = ids.map((id) => counts.get(id) ?? 0);
    const mean = keys.length / ids.length;
    const maxOverMean = Math.max(...loads) / mean;
    const shares = ring.stats().members.map((m) => m.share * ids.length);
    const sd = Math.sqrt(shares.reduce((s, x) => s + (x - 1) ** 2, 0) / shares.length);
    rows.push(`vnodes=${vnodes}: max/mean keys ${maxOverMean.toFixed(3)}, share stdev ${(sd * 100).toFixed(1)}%`);
    if (vnodes >= 160) t.true(maxOverMean < 1.25, rows.at(-1));
    if (vnodes >= 40) t.true(sd < prev * 1.5);
    prev = sd;
  }
  t.log(rows.join('\n'));
});

test('weighted shares follow weights', (t) => {
  const ring = new HashRing(
    [
      { id: 'a', weight: 1 },
      { id: 'b', weight: 2 },
      { id: 'c', weight: 3 },
    ],
    { vnodes: 300 },
  );
  const s = ring.stats().members;
  t.true(Math.abs(s[0]!.share - 1 / 6) < 0.03);
  t.true(Math.abs(s[1]!.share - 2 / 6) < 0.04);
  t.true(Math.abs(s[2]!.share - 3 / 6) < 0.04);
});

test('1 MiB keys and lone surrogates route identically in WASM and TS', (t) => {
  const big = 'x'.repeat(1 << 20);
  const bigBytes = new Uint8Array(1 << 20).fill(0x78);
  const odd = ['\ud800', 'a\udfffb', '😀', 'ключ', big + '\ud800'];
  for (const hash of ['xxh32', 'xxh64'] as const) {
    const a = new HashRing(['p', 'q', 'r'], { hash, backend: 'wasm' });
    const b = new HashRing(['p', 'q', 'r'], { hash, backend: 'js' });
    for (const k of [big, ...odd]) {
      t.is(a.hashOf(k), b.hashOf(k));
      t.is(a.get(k), b.get(k));
      t.is(a.hashOf(k), a.hashOf(new TextEncoder().encode(k)));
    }
    t.is(a.get(big), a.get(bigBytes));
  }
  t.is(new HashRing(['p']).hashOf('\ud800'), xxh32(new Uint8Array([0xef, 0xbf, 0xbd])));
});

test('repeated add/remove and rebuilds reuse WASM memory (no unbounded growth)', (t) => {
  const handle = wasmHandle()!;
  const ring = new HashRing(
    Array.from({ length: 200 }, (_, i) => `m${i}`),
    { backend: 'wasm' },
  );
  const churn = (i: number) => {
    ring.add(`extra${i}`);
    ring.setWeight(`m${i % 200}`, 3);
    ring.remove(`extra${i}`);
    ring.setWeight(`m${i % 200}`, 1);
  };
  for (let i = 0; i < 20; i++) churn(i);
  const bytesAfterWarmup = handle.mem.byteLength;
  const allocated = handle.mem.allocatedBytes;
  for (let i = 20; i < 400; i++) churn(i);
  t.is(handle.mem.byteLength, bytesAfterWarmup);
  t.is(handle.mem.allocatedBytes, allocated);
  ring.dispose();
  t.true(handle.mem.allocatedBytes < allocated);
  t.is(ring.get('k'), undefined);
});

test('views stay valid when another allocation grows memory', (t) => {
  const ring = new HashRing(['a', 'b', 'c'], { backend: 'wasm' });
  const before = keys.slice(0, 100).map((k) => ring.get(k));
  const handle = wasmHandle()!;
  const old = handle.mem.memory.buffer;
  const p = handle.mem.alloc(8 << 20); // forces memory.grow
  t.is(old.byteLength, 0, 'the old buffer is detached');
  t.deepEqual(
    keys.slice(0, 100).map((k) => ring.get(k)),
    before,
  );
  handle.mem.release(p);
});

test('each lookup, first after another allocation grows memory, reads the new buffer', (t) => {
  const ring = new HashRing(['a', 'b', 'c'], { backend: 'wasm' });
  const handle = wasmHandle()!;
  const lookups: [string, (k: string) => unknown][] = [
    ['get', (k) => ring.get(k)],
    ['getIndex', (k) => ring.getIndex(k)],
    ['getByHash', (k) => ring.getByHash(ring.hashOf(k))],
    ['preference', (k) => ring.preference(k, 3)],
    ['stats', () => ring.stats()],
  ];
  assertLookupsSurviveGrow(t, handle, lookups);
});

test('mutators report whether anything changed; reset with the same set rebuilds nothing', (t) => {
  const ring = new HashRing(['a', { id: 'b', weight: 2 }]);
  const table = (ring as unknown as { t: object }).t;
  t.false(ring.add('a'));
  t.false(ring.reset([{ id: 'b', weight: 2 }, 'a']));
  t.is((ring as unknown as { t: object }).t, table);
  t.false(ring.setWeight('b', 2));
  t.false(ring.remove('zzz'));
  t.true(ring.setWeight('b', 3));
  t.is(ring.weight('b'), 3);
  t.true(ring.reset(['c']));
  t.deepEqual(ring.members, ['c']);
  t.true(ring.add(['d', { id: 'e', weight: 2 }]));
  t.deepEqual(ring.members, ['c', 'd', 'e']);
});

test('bad input: typed errors naming the field and value', (t) => {
  const bad: [() => unknown, typeof TypeError | typeof RangeError, RegExp][] = [
    [() => new HashRing(['a', 'a']), RangeError, /members\[1\]\.id.*"a"/],
    [() => new HashRing(['']), RangeError, /members\[0\].*""/],
    [() => new HashRing([{ id: '' }]), RangeError, /members\[0\]\.id/],
    [() => new HashRing([{ id: 'a', weight: 0 }]), RangeError, /members\[0\]\.weight.*0/],
    [() => new HashRing([{ id: 'a', weight: -1 }]), RangeError, /weight.*-1/],
    [() => new HashRing([{ id: 'a', weight: NaN }]), RangeError, /weight.*NaN/],
    [() => new HashRing([{ id: 'a', weight: Infinity }]), RangeError, /weight.*Infinity/],
    [() => new HashRing([{ id: 'a', weight: '2' as unknown as number }]), TypeError, /weight/],
    [() => new HashRing([{ id: 'a', weight: 0.001 }]), RangeError, /weight/],
    [() => new HashRing([42 as unknown as string]), TypeError, /members\[0\]/],
    [() => new HashRing([{ id: 5 } as unknown as MemberInput]), TypeError, /members\[0\]\.id/],
    [() => new HashRing(['a'], { vnodes: 0 }), RangeError, /vnodes.*0/],
    [() => new HashRing(['a'], { vnodes: 1.5 }), RangeError, /vnodes.*1\.5/],
    [() => new HashRing(['a'], { vnodes: 1e9 }), RangeError, /vnodes/],
    [() => new HashRing(['a'], { hash: 'md5' as 'xxh32' }), RangeError, /hash.*md5/],
    [() => new HashRing(['a'], { seed: -1 }), RangeError, /seed/],
    [() => new HashRing(['a'], { backend: 'gpu' as 'js' }), RangeError, /backend/],
    [() => new HashRing('ab' as unknown as string[]), TypeError, /members/],
    [() => new HashRing(['a']).get(5 as unknown as string), TypeError, /key.*5/],
    [() => new HashRing([]).get(null as unknown as string), TypeError, /key/],
    [() => new HashRing(['a']).getByHash(-1), RangeError, /hash.*-1/],
    [() => new HashRing(['a']).getByHash(2 ** 32), RangeError, /hash/],
    [() => new HashRing(['a']).getManyByHash([1] as unknown as Uint32Array), TypeError, /hashes/],
    [() => new HashRing(['a']).preference('k', -1), RangeError, /\bn\b.*-1/],
    [() => new HashRing(['a']).setWeight('zz', 1), RangeError, /id.*zz/],
    [() => new HashRing(['a']).add({ id: 'a', weight: 2 }), RangeError, /weight/],
    [() => new HashRing(['a']).getManyBytes(new Uint8Array(2), new Uint32Array([0, 3])), RangeError, /offsets\[1\]/],
  ];
  for (const [fn, type, msg] of bad) t.throws(fn, { instanceOf: type, message: msg });
  const ring = new HashRing(['a']);
  t.throws(() => ring.add({ id: 'b', weight: -2 }), { instanceOf: RangeError });
  t.deepEqual(ring.members, ['a']); // a failed mutation leaves the ring as it was
});

function eq(a: ArrayLike<number>, b: ArrayLike<number>): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

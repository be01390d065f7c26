// HashRing#getManyByHash through the direct table (assembly/ring-batch.ts): built once a ring has looked up a
// quarter of its entry count by batch, it must answer exactly what the bucket scan answers (boundary probes at
// every point and every entry edge, property over random rings; u8 entries up to 255 members, u16 above), be
// built only while it fits 2 MiB at 4 entries per point, and be freed with the ring's table.
import test from 'ava';
import fc from 'fast-check';
import { HashRing, type MemberInput } from '../../bindings/index.js';
import { wasmHandle } from '../../bindings/core/backend.js';
import { BATCH } from '../../bindings/core/core-wasm.js';
import { directBits } from '../../bindings/core/ring-batch.js';
import { ownersBySearch, ringMembers } from '../helpers/ring.js';

type Table = { t: { points: Uint32Array; members: Uint16Array; table: Uint32Array; total: number } };
const tableOf = (r: HashRing) => (r as unknown as Table).t;
const mem = () => wasmHandle()!.mem;

// the batch's I/O region at its largest up front, so that what a lookup allocates is the direct table alone
test.before(() => wasmHandle()!.io(BATCH * 8));

/** Owners by binary search over the ring's points: the reference every lookup must match. */
function expected(r: HashRing, hashes: Uint32Array): Uint32Array {
  const { points, members } = tableOf(r);
  return ownersBySearch(points, members, hashes);
}

/** Every point, its neighbours, every direct-table entry's first and last hash, and the ends of the range. */
function probes(r: HashRing, bits: number): Uint32Array {
  const out: number[] = [0, 0xffffffff];
  for (const p of tableOf(r).points) out.push(Math.max(p - 1, 0), p, Math.min(p + 1, 0xffffffff));
  const step = 2 ** (32 - Math.max(bits, 1));
  for (let b = 0; b < 2 ** bits && b < 1 << 16; b++) out.push(b * step, b * step + step - 1);
  return Uint32Array.from(out);
}

/** Looks up enough hashes by batch for the ring to build its direct table; returns the bytes it took. */
function warm(r: HashRing, bits: number): number {
  const before = mem().allocatedBytes;
  r.getManyByHash(new Uint32Array(Math.max(1, 2 ** (bits - 2))));
  return mem().allocatedBytes - before;
}

test('directBits: 16-32 entries per point, at least 4 under 2 MiB, u16 over 255 members', (t) => {
  t.is(directBits(1600, 10), 15); // 10 members × 160: 32 KiB
  t.is(directBits(16000, 100), 18); // 100 × 160: 256 KiB
  t.is(directBits(160000, 1000), 20); // 1000 × 160: u16, 2 MiB, 6.5 per point
  t.is(directBits(262144, 1000), 20); // 4 per point
  t.is(directBits(262145, 1000), 0);
  t.is(directBits(524288, 255), 21); // u8: 2 MiB
  t.is(directBits(524289, 255), 0);
  t.is(directBits(1, 1), 4);
});

for (const [n, vnodes] of [
  [1, 1],
  [3, 4],
  [10, 160],
  [100, 160],
  [255, 20],
  [256, 20],
  [1000, 160],
] as const) {
  test(`direct table: ${n} members × ${vnodes} points answer as the scan at every point and entry edge`, (t) => {
    const ids = Array.from({ length: n }, (_, i) => `10.0.${i >> 8}.${i & 255}:6379`);
    const r = new HashRing(ids, { vnodes, backend: 'wasm' });
    const bits = directBits(tableOf(r).total, n);
    t.true(bits > 0);
    const hs = probes(r, bits);
    const want = expected(r, hs);
    const held = mem().allocatedBytes;
    if (bits > 2) {
      const few = hs.subarray(0, 2 ** (bits - 2) - 1); // under a quarter of the entries: the scan, no table
      t.deepEqual(r.getManyByHash(few), want.subarray(0, few.length));
      t.is(mem().allocatedBytes, held);
    }
    t.true(warm(r, bits) >= 2 ** bits, 'the direct table was built');
    t.deepEqual(r.getManyByHash(hs), want);
    t.is(warm(r, bits), 0, 'built once');
    r.dispose();
  });
}

test('no direct table past 2 MiB at 4 entries per point: the scan answers, nothing is allocated for it', (t) => {
  const ids = Array.from({ length: 300 }, (_, i) => `m${i}`);
  const r = new HashRing(ids, { vnodes: 1000, backend: 'wasm' });
  t.is(directBits(tableOf(r).total, 300), 0);
  const before = mem().allocatedBytes;
  const hs = probes(r, 12);
  t.deepEqual(r.getManyByHash(hs), expected(r, hs));
  t.is(mem().allocatedBytes, before);
  r.dispose();
});

test('the direct table is freed when the ring changes or is disposed, and the new ring answers for its members', (t) => {
  const r = new HashRing(['a', 'b', 'c'], { backend: 'wasm' });
  const base = mem().allocatedBytes;
  const bits = directBits(tableOf(r).total, 3);
  t.true(warm(r, bits) >= 2 ** bits);
  r.reset(['a', 'b', 'e']); // a ring of the same size
  t.is(mem().allocatedBytes, base, "the old ring's direct table was freed with it");
  const hs = probes(r, bits);
  t.deepEqual(r.getManyByHash(hs), expected(r, hs), 'the new ring answers for its own members');
  t.true(mem().allocatedBytes >= base + 2 ** bits, 'and builds its own table');
  const ring = tableOf(r).points.length * 6;
  r.dispose();
  t.true(mem().allocatedBytes <= base - ring, 'dispose frees the ring and its direct table');
});

const memberArb = ringMembers(60);

test('property: after the direct table is built, getManyByHash = the scan, for random rings and hashes', (t) => {
  fc.assert(
    fc.property(
      memberArb,
      fc.integer({ min: 1, max: 120 }),
      fc.constantFrom('xxh32' as const, 'xxh64' as const),
      fc.array(fc.nat({ max: 0xffffffff }), { minLength: 1, maxLength: 300 }),
      (members: MemberInput[], vnodes, hash, random) => {
        const r = new HashRing(members, { vnodes, hash, backend: 'wasm' });
        const bits = directBits(tableOf(r).total, r.members.length);
        if (bits === 0) return true;
        warm(r, bits);
        const hs = Uint32Array.from([...probes(r, Math.min(bits, 12)), ...random]);
        const ok = r.getManyByHash(hs).every((o, i) => o === expected(r, hs.subarray(i, i + 1))[0]);
        r.dispose();
        return ok;
      },
    ),
    { numRuns: 60 },
  );
  t.pass();
});

// Jump consistent hash: every row of jump_hash.json (go-jump, Guava, lithammer, ClickHouse) on both
// paths, WASM = TS properties, xxh64 string keys against xxhash-wasm, minimal disruption, balance,
// membership rules (only the last bucket can go) and bad input.
import test from 'ava';
import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import xxhashWasm from 'xxhash-wasm';
import { JumpHash, NO_MEMBER, jumpHash } from '../../bindings/index.js';
import { jumpPair } from '../../bindings/hashing/jump.js';
import { wasmHandle } from '../../bindings/core/backend.js';
import { HASH_WASM } from '../../bindings/core/families.js';

const ref = await xxhashWasm();
const wasmJump = wasmHandle(HASH_WASM)!.exports.jumpHash as (key: bigint, buckets: number) => number;

interface Vectors {
  vectors: [
    { cases: { key: string; buckets: number[] }[] },
    { golden100: { num_buckets: number; buckets: number[] }; pairs: Row[] },
    { pairs: Row[] },
    { pairs: Row[] },
  ];
}
interface Row {
  key: string;
  num_buckets: number;
  bucket: number;
}
const V = JSON.parse(readFileSync(new URL('../vectors/jump_hash.json', import.meta.url), 'utf8')) as Vectors;
const rows: [bigint, number, number][] = [];
for (const c of V.vectors[0].cases) c.buckets.forEach((b, i) => rows.push([BigInt(c.key), i + 1, b]));
V.vectors[1].golden100.buckets.forEach((b, i) => rows.push([BigInt(i), V.vectors[1].golden100.num_buckets, b]));
for (const v of V.vectors.slice(1) as { pairs: Row[] }[])
  for (const p of v.pairs) rows.push([BigInt(p.key), p.num_buckets, p.bucket]);

test('every row of jump_hash.json: TS on halves, WASM i64, jumpHash(bigint | [hi, lo])', (t) => {
  t.is(rows.length, 114);
  for (const [key, n, want] of rows) {
    const hi = Number(key >> 32n);
    const lo = Number(key & 0xffffffffn);
    t.is(jumpPair(hi, lo, n), want, `TS ${key} ${n}`);
    t.is(wasmJump(BigInt.asIntN(64, key), n), want, `WASM ${key} ${n}`);
    t.is(jumpHash(key, n), want);
    t.is(jumpHash([hi, lo], n), want);
  }
});

for (const backend of ['wasm', 'js'] as const) {
  test(`${backend}: JumpHash batches reproduce the vector rows (BigUint64Array and [hi, lo] pairs)`, (t) => {
    for (const n of new Set(rows.map((r) => r[1]))) {
      const sel = rows.filter((r) => r[1] === n);
      const ids = Array.from({ length: n }, (_, i) => `b${i}`);
      const j = new JumpHash(ids, { backend });
      t.is(j.backend, backend);
      const big = BigUint64Array.from(sel.map((r) => r[0]));
      const pairs = Uint32Array.from(sel.flatMap((r) => [Number(r[0] >> 32n), Number(r[0] & 0xffffffffn)]));
      t.deepEqual(
        [...j.getManyByHash(big)],
        sel.map((r) => r[2]),
      );
      t.deepEqual(
        [...j.getManyByHash(pairs)],
        sel.map((r) => r[2]),
      );
      for (const [key, , want] of sel) t.is(j.getByHash(key), `b${want}`);
    }
  });

  test(`${backend}: string and byte keys are xxh64 (seed 0) of their UTF-8, then jump`, (t) => {
    const ids = Array.from({ length: 37 }, (_, i) => `10.0.0.${i}:6379`);
    const j = new JumpHash(ids, { backend });
    const keys = ['', 'a', 'user:42', 'héllo wörld', '日本語のキー', 'x'.repeat(100), '\ud800'];
    for (const k of keys) {
      const h = ref.h64(k, 0n);
      const want = jumpHash(h, 37);
      t.is(j.getIndex(k), want, k);
      t.is(j.get(k), ids[want]);
      t.is(j.get(new TextEncoder().encode(k)), ids[want]);
    }
    t.deepEqual(
      j.getMany(keys),
      keys.map((k) => j.get(k)),
    );
  });

  test(`${backend}: adding a bucket moves about 1/(n+1) of keys, only to it; removing the last restores`, (t) => {
    const keys = Array.from({ length: 20000 }, (_, i) => `key:${i}`);
    for (const n of [1, 7, 50]) {
      const j = new JumpHash(
        Array.from({ length: n }, (_, i) => `m${i}`),
        { backend },
      );
      const before = j.getMany(keys);
      t.true(j.add(`m${n}`));
      t.false(j.add(`m${n}`));
      const after = j.getMany(keys);
      let moved = 0;
      for (let i = 0; i < keys.length; i++) {
        if (before[i] !== after[i]) {
          moved++;
          t.is(after[i], `m${n}`);
        }
      }
      const ideal = keys.length / (n + 1);
      t.true(moved > ideal * 0.85 && moved < ideal * 1.15, `n=${n}: moved ${moved}, ideal ${ideal}`);
      t.true(j.remove(`m${n}`));
      t.deepEqual(j.getMany(keys), before);
    }
  });

  test(`${backend}: balance over 10 buckets within 3% of 1/10 on 200k keys`, (t) => {
    const j = new JumpHash(
      Array.from({ length: 10 }, (_, i) => `m${i}`),
      { backend },
    );
    const counts = new Array<number>(10).fill(0);
    const pairs = new Uint32Array(400000);
    for (let i = 0; i < pairs.length; i++) pairs[i] = Math.imul(i + 1, 0x9e3779b1) ^ (i * 7);
    for (const b of j.getManyByHash(pairs)) counts[b]!++;
    for (const c of counts) t.true(Math.abs(c / 20000 - 1) < 0.03, `${c}`);
  });

  test(`${backend}: empty membership, only the last bucket can be removed, add order is bucket order`, (t) => {
    const j = new JumpHash([], { backend });
    t.is(j.get('k'), undefined);
    t.is(j.getIndex('k'), -1);
    t.is(j.getByHash(5n), undefined);
    t.deepEqual(j.getMany(['a']), [undefined]);
    t.deepEqual([...j.getManyByHash(new BigUint64Array([1n, 2n]))], [NO_MEMBER, NO_MEMBER]);
    t.deepEqual(j.stats(), { backend, buckets: 0, bytes: 0, members: [] });
    t.true(j.add(['a', 'b', 'c']));
    t.deepEqual(j.members, ['a', 'b', 'c']);
    t.deepEqual(
      j.stats().members.map((m) => [m.id, m.bucket, m.share]),
      [
        ['a', 0, 1 / 3],
        ['b', 1, 1 / 3],
        ['c', 2, 1 / 3],
      ],
    );
    const err = t.throws(() => j.remove('a'), { instanceOf: RangeError });
    t.regex(err.message, /"a".*bucket 0 of 3.*last bucket.*"c"/);
    t.deepEqual(j.members, ['a', 'b', 'c']);
    t.throws(() => j.remove(['c', 'a']), { instanceOf: RangeError });
    t.deepEqual(j.members, ['a', 'b', 'c'], 'a failed remove changes nothing');
    t.false(j.remove('zz'));
    t.true(j.remove(['c', 'b']));
    t.deepEqual(j.members, ['a']);
    t.is(j.get('anything'), 'a');
  });
}

test('property: WASM = TS for random u64 keys and bucket counts up to 2^31 - 1', (t) => {
  fc.assert(
    fc.property(
      fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
      fc.oneof(fc.integer({ min: 1, max: 1000 }), fc.integer({ min: 1, max: 0x7fffffff })),
      (key, n) => {
        const want = wasmJump(BigInt.asIntN(64, key), n);
        return jumpPair(Number(key >> 32n), Number(key & 0xffffffffn), n) === want && want >= 0 && want < n;
      },
    ),
    { numRuns: 20000 },
  );
  t.pass();
});

test('property: WASM and TS JumpHash agree on string keys, single and batched', (t) => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 300 }),
      fc.array(fc.string({ unit: 'binary', maxLength: 40 }), { maxLength: 60 }),
      (n, keys) => {
        const ids = Array.from({ length: n }, (_, i) => `n${i}`);
        const a = new JumpHash(ids, { backend: 'wasm' });
        const b = new JumpHash(ids, { backend: 'js' });
        const many = a.getMany(keys);
        t.deepEqual(b.getMany(keys), many);
        keys.forEach((k, i) => t.is(a.get(k), many[i]));
      },
    ),
    { numRuns: 150 },
  );
});

test('bad input: 0 buckets, out-of-range keys, duplicate ids, wrong types', (t) => {
  t.throws(() => jumpHash(1n, 0), {
    instanceOf: RangeError,
    message: /buckets must be an integer in \[1, 2147483647\], got 0/,
  });
  t.throws(() => jumpHash(1n, 2 ** 31), { instanceOf: RangeError, message: /buckets/ });
  t.throws(() => jumpHash(1n, 1.5), { instanceOf: RangeError, message: /buckets/ });
  t.throws(() => jumpHash(1n, '3' as unknown as number), { instanceOf: TypeError, message: /buckets/ });
  t.throws(() => jumpHash(-1n, 3), {
    instanceOf: RangeError,
    message: /key must be a bigint in \[0, 2\^64 - 1\], got -1n/,
  });
  t.throws(() => jumpHash(1n << 64n, 3), { instanceOf: RangeError, message: /key/ });
  t.throws(() => jumpHash([1, 2 ** 32], 3), { instanceOf: RangeError, message: /key\[1\] \(low half\)/ });
  t.throws(() => jumpHash(5 as unknown as bigint, 3), {
    instanceOf: TypeError,
    message: /key must be a bigint or \[high, low\]/,
  });
  t.throws(() => new JumpHash(['a', 'a']), { instanceOf: RangeError, message: /members\[1\] must be unique/ });
  t.throws(() => new JumpHash(['a', '']), { instanceOf: RangeError, message: /members\[1\]/ });
  t.throws(() => new JumpHash('ab' as unknown as string[]), { instanceOf: TypeError, message: /members/ });
  t.throws(() => new JumpHash([], { backend: 'gpu' as 'js' }), { instanceOf: RangeError, message: /backend/ });
  const j = new JumpHash(['a']);
  t.throws(() => j.get(42 as unknown as string), {
    instanceOf: TypeError,
    message: /key must be a string or a Uint8Array, got 42/,
  });
  t.throws(() => j.getMany([1 as unknown as string]), { instanceOf: TypeError, message: /keys\[0\]/ });
  t.throws(() => j.getManyByHash(new Uint32Array(3)), {
    instanceOf: RangeError,
    message: /hashes.length must be even/,
  });
  t.throws(() => j.getManyByHash([1n] as unknown as BigUint64Array), { instanceOf: TypeError, message: /hashes/ });
  t.throws(() => j.getManyBytes(new Uint8Array(2), new Uint32Array([0, 3])), {
    instanceOf: RangeError,
    message: /offsets\[1\]/,
  });
  t.throws(() => j.add(5 as unknown as string), { instanceOf: TypeError, message: /ids/ });
});

test('batches larger than one WASM call (65536 keys) and a 1 MiB key', (t) => {
  const n = 1000;
  const ids = Array.from({ length: n }, (_, i) => `m${i}`);
  const a = new JumpHash(ids, { backend: 'wasm' });
  const b = new JumpHash(ids, { backend: 'js' });
  const pairs = new Uint32Array(2 * 70001);
  for (let i = 0; i < pairs.length; i++) pairs[i] = Math.imul(i + 7, 0x85ebca77) >>> 0;
  const big = new BigUint64Array(70001);
  for (let i = 0; i < big.length; i++) big[i] = (BigInt(pairs[2 * i]!) << 32n) | BigInt(pairs[2 * i + 1]!);
  const want = b.getManyByHash(pairs);
  t.deepEqual(a.getManyByHash(pairs), want);
  t.deepEqual(a.getManyByHash(big), want);
  t.deepEqual(b.getManyByHash(big), want);
  const huge = 'k'.repeat(1 << 20);
  t.is(a.get(huge), b.get(huge));
  t.is(a.getIndex(huge), jumpHash(ref.h64(huge, 0n), n));
});

test('property: WASM 4-way interleaved batches = TS, any bucket count', (t) => {
  fc.assert(
    fc.property(
      fc.array(fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), { maxLength: 23 }),
      fc.oneof(fc.integer({ min: 1, max: 5000 }), fc.integer({ min: 1, max: 0x7fffffff })),
      (keys, n) => {
        const big = BigUint64Array.from(keys);
        const pairs = Uint32Array.from(keys.flatMap((k) => [Number(k >> 32n), Number(k & 0xffffffffn)]));
        const want = keys.map((k) => jumpPair(Number(k >> 32n), Number(k & 0xffffffffn), n));
        const w = wasmHandle(HASH_WASM)!;
        const x = w.exports as Record<string, (...a: number[]) => void>;
        const p = w.io(keys.length * 12 + 16);
        w.mem.u32.set(pairs, p >>> 2);
        x.jumpManyPairs!(p, keys.length, n, p + keys.length * 8);
        const got = Array.from(
          w.mem.u32.subarray((p + keys.length * 8) >>> 2, ((p + keys.length * 8) >>> 2) + keys.length),
        );
        new BigUint64Array(w.mem.memory.buffer, p, keys.length).set(big);
        x.jumpMany!(p, keys.length, n, p + keys.length * 8);
        const got2 = Array.from(
          w.mem.u32.subarray((p + keys.length * 8) >>> 2, ((p + keys.length * 8) >>> 2) + keys.length),
        );
        return JSON.stringify(got) === JSON.stringify(want) && JSON.stringify(got2) === JSON.stringify(want);
      },
    ),
    { numRuns: 3000 },
  );
  t.pass();
});

// xxh64String (bindings/core/xxhash.ts), the string xxh64 on 32-bit locals, against
// xxhash-wasm (the reference test/unit/xxhash.test.ts uses) and the xxHash spec's vectors: every length
// around its 8-byte, 4-byte and 32-byte boundaries, bytes with the high bit of each lane set (carries), and
// non-ASCII strings (the UTF-8 fallback).
import test from 'ava';
import fc from 'fast-check';
import xxhashWasm from 'xxhash-wasm';
import { xxh64Hi, xxh64String } from '../../bindings/core/xxhash.js';

const ref = await xxhashWasm();
const u64 = (s: string, seed = 0n) => {
  const lo = xxh64String(s, Number(seed >> 32n), Number(seed & 0xffffffffn));
  return (BigInt(xxh64Hi()) << 32n) | BigInt(lo);
};

test('xxHash spec vectors (seed 0)', (t) => {
  t.is(u64(''), 0xef46db3751d8e999n);
  t.is(u64('a'), 0xd24ec4f1a98c6e5bn);
  t.is(u64('abc'), 0x44bc2cf5ad770999n);
});

test('every length 0..40 (lanes, the 4-byte step, single bytes, the 32-byte fallback), low and high bytes', (t) => {
  for (let len = 0; len <= 40; len++) {
    for (const base of [33, 0x7f - 90]) {
      const s = Array.from({ length: len }, (_, i) => String.fromCharCode(base + ((i * 7 + len) % 90))).join('');
      t.is(u64(s), ref.h64(s, 0n), `length ${len}`);
    }
    const high = '\x7f'.repeat(len); // every byte 0x7f: products near 2^32 in each half
    t.is(u64(high), ref.h64(high, 0n), `0x7f × ${len}`);
  }
});

test('any string: the same as xxhash-wasm over its UTF-8 bytes (fast-check)', (t) => {
  fc.assert(
    fc.property(fc.oneof(fc.string({ maxLength: 40 }), fc.string({ unit: 'binary', maxLength: 20 })), (s) => {
      return u64(s) === ref.h64(s, 0n);
    }),
    { numRuns: 2000 },
  );
  t.pass();
});

test('any seed: the same as xxhash-wasm (fast-check), including seeds whose low word carries', (t) => {
  fc.assert(
    fc.property(
      fc.string({ maxLength: 40 }),
      fc.bigInt({ min: 0n, max: 0xffffffffffffffffn }),
      (s, seed) => u64(s, seed) === ref.h64(s, seed),
    ),
    { numRuns: 2000 },
  );
  t.is(u64('user:42', 0xffffffffffffffffn), ref.h64('user:42', 0xffffffffffffffffn));
  t.pass();
});

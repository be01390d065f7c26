// xxh32/xxh64 against xxhash-wasm (the reference the issue names) on fixed and random inputs, for the
// public functions and both cores.
import test from 'ava';
import fc from 'fast-check';
import xxhashWasm from 'xxhash-wasm';
import { xxh32, xxh64 } from '../../bindings/index.js';
import { registerRingExtras } from '../../bindings/hashing/ring.js';
import { ringCore } from '../../bindings/core/backend.js';
import { jsCore } from '../../bindings/core/core-js.js';
import { xxh32Bytes, xxh32String, xxh64Bytes } from '../../bindings/core/xxhash.js';

const ref = await xxhashWasm();
const enc = new TextEncoder();
registerRingExtras(); // the WASM core's xxh64 is in the ring-batch module
const wasm = ringCore('wasm');
const js = jsCore;

function check(t: import('ava').ExecutionContext, bytes: Uint8Array, seed: number, str?: string) {
  const r32 = ref.h32Raw(bytes, seed) >>> 0;
  const r64 = ref.h64Raw(bytes, BigInt(seed));
  t.is(xxh32(bytes, seed), r32);
  t.is(wasm.xxh32(bytes, seed), r32);
  t.is(js.xxh32(bytes, seed), r32);
  t.is(xxh64(bytes, seed), r64);
  t.is(wasm.xxh64(bytes, BigInt(seed)), r64);
  t.is(xxh64Bytes(bytes, BigInt(seed)), r64);
  t.is(wasm.xxh64Hi(bytes, 0, seed), Number(r64 >> 32n));
  if (str !== undefined) {
    t.is(xxh32(str, seed), r32);
    t.is(xxh32String(str, seed), r32);
    t.is(xxh64(str, seed), r64);
  }
}

test('every length 0..300 around the stripe boundaries, seeds 0, 1, 2^32-1', (t) => {
  for (let len = 0; len <= 300; len++) {
    const s = Array.from({ length: len }, (_, i) => String.fromCharCode(33 + ((i * 7 + len) % 90))).join('');
    for (const seed of [0, 1, 0xffffffff]) check(t, enc.encode(s), seed, s);
  }
});

test('non-ASCII and lone surrogates hash as TextEncoder encodes them', (t) => {
  const samples = [
    'é',
    'héllo wörld',
    '日本語のキー',
    '😀 emoji key',
    '\ud800',
    'a\udc00b',
    'x'.repeat(15) + 'é',
    'ü'.repeat(40),
    'abcd\ud83d',
  ];
  for (const s of samples) for (const seed of [0, 42]) check(t, enc.encode(s), seed, s);
});

test('1 MiB string and bytes (larger than the initial WASM memory)', (t) => {
  const bytes = new Uint8Array(1 << 20).map((_, i) => (i * 131 + 7) & 0xff);
  check(t, bytes, 7);
  const s = 'k'.repeat(1 << 20) + 'é';
  check(t, enc.encode(s), 0, s);
});

test('property: random strings and bytes agree with xxhash-wasm', (t) => {
  fc.assert(
    fc.property(fc.string({ unit: 'binary', maxLength: 200 }), fc.nat({ max: 0xffffffff }), (s, seed) => {
      const b = enc.encode(s);
      const r32 = ref.h32Raw(b, seed) >>> 0;
      const r64 = ref.h64Raw(b, BigInt(seed));
      return (
        xxh32(s, seed) === r32 &&
        xxh32Bytes(b, seed) === r32 &&
        xxh64(s, seed) === r64 &&
        xxh64Bytes(b, BigInt(seed)) === r64 &&
        wasm.xxh64(b, BigInt(seed)) === r64
      );
    }),
    { numRuns: 3000 },
  );
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 600 }), fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), (b, seed) => {
      const r64 = ref.h64Raw(b, seed);
      return (
        xxh64(b, seed) === r64 &&
        xxh64Bytes(b, seed) === r64 &&
        wasm.xxh64(b, seed) === r64 &&
        wasm.xxh32(b, 5) === ref.h32Raw(b, 5) >>> 0
      );
    }),
    { numRuns: 2000 },
  );
  t.pass();
});

test('bad input: typed errors naming the field', (t) => {
  t.throws(() => xxh32(42 as unknown as string), { instanceOf: TypeError, message: /input/ });
  t.throws(() => xxh32('a', -1), { instanceOf: RangeError, message: /seed.*-1/ });
  t.throws(() => xxh32('a', 2 ** 32), { instanceOf: RangeError, message: /seed/ });
  t.throws(() => xxh32('a', 1.5), { instanceOf: RangeError, message: /seed/ });
  t.throws(() => xxh64('a', -1n), { instanceOf: RangeError, message: /seed/ });
  t.throws(() => xxh64('a', 2n ** 64n), { instanceOf: RangeError, message: /seed/ });
  t.throws(() => xxh64(null as unknown as string), { instanceOf: TypeError, message: /input/ });
});

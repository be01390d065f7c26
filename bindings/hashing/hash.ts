// Public xxHash functions (xxHash32 and xxHash64, github.com/Cyan4973/xxHash, doc/xxhash_spec.md; the twins
// are core/xxhash.ts and assembly/xxhash.ts). Each call takes the path measured fastest (the 'hash' suite of
// bench/ring.bench.ts; docs/performance.md):
// - strings: TS over charCodeAt; encoding a short string into WASM memory costs more than hashing it;
// - bytes: TS below WASM_MIN_BYTES, WASM from there (the copy is a memcpy, the WASM loop is ~3x faster);
// - xxh64: WASM (native i64 beats 32-bit-half emulation) for bytes of any length and for strings, in the ring
//   family's ring-batch module (core/ring-batch.ts), which a bundle carries once it names xxh64.
// Where the default backend is 'js' each runs its TS twin (core/xxhash.ts), so neither needs the pure-TS core.
import { defaultWasmCore } from '../core/backend.js';
import { useRingBatchXxh64 } from '../core/ring-batch.js';
import type { Key } from './key-router.js';
import { intInRange, rangeError, typeError } from '../util/validate.js';
import { utf8Scratch } from '../core/utf8.js';
import { xxh32Bytes, xxh32String, xxh64Bytes } from '../core/xxhash.js';

/** Byte length from which hashing bytes in WASM beats TS, measured (bench/ring.bench.ts, 'hash' suite). */
export const WASM_MIN_BYTES = 64;

/** A string (hashed as its UTF-8 bytes) or bytes: the hashing `Key` (key-router.ts). */
export type HashInput = Key;

/** An xxh64 seed, a bigint in [0, 2^64 - 1] or a safe integer >= 0, as a bigint. */
export function seed64(seed: unknown): bigint {
  if (typeof seed !== 'bigint') return BigInt(intInRange('seed', seed, 0, Number.MAX_SAFE_INTEGER));
  if (BigInt.asUintN(64, seed) !== seed) throw rangeError('seed', 'a bigint in [0, 2^64 - 1]', seed);
  return seed;
}

/** xxHash32 of a string (as UTF-8) or bytes. */
export function xxh32(input: HashInput, seed: number = 0): number {
  const s = intInRange('seed', seed, 0, 0xffffffff);
  if (typeof input === 'string') return xxh32String(input, s);
  if (!(input instanceof Uint8Array)) throw typeError('input', 'a string or a Uint8Array', input);
  const core = input.length < WASM_MIN_BYTES ? null : defaultWasmCore();
  return core === null ? xxh32Bytes(input, s) : core.xxh32(input, s);
}

/** xxHash64 of a string (as UTF-8) or bytes, as an unsigned bigint. */
export function xxh64(input: HashInput, seed: bigint | number = 0n): bigint {
  const s = seed64(seed);
  let bytes: Uint8Array;
  if (typeof input === 'string') bytes = utf8Scratch(input);
  else if (input instanceof Uint8Array) bytes = input;
  else throw typeError('input', 'a string or a Uint8Array', input);
  const core = defaultWasmCore();
  if (core === null) return xxh64Bytes(bytes, s);
  useRingBatchXxh64(); // the ring family's xxh64 is in its ring-batch module
  return core.xxh64(bytes, s);
}

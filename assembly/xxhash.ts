// xxHash32 and xxHash64 (Yann Collet, https://github.com/Cyan4973/xxHash, spec doc/xxhash_spec.md)
// over bytes already in linear memory. No allocation. Bit-identical to the reference and to xxhash-wasm.
// `xxh32Save` / `xxh32Last` split xxh32 before its last step, for inputs that differ only in their last byte.

const P32_1: u32 = 0x9e3779b1;
const P32_2: u32 = 0x85ebca77;
const P32_3: u32 = 0xc2b2ae3d;
const P32_4: u32 = 0x27d4eb2f;
const P32_5: u32 = 0x165667b1;

const P64_1: u64 = 0x9e3779b185ebca87;
const P64_2: u64 = 0xc2b2ae3d27d4eb4f;
const P64_3: u64 = 0x165667b19e3779f9;
const P64_4: u64 = 0x85ebca77c2b2ae63;
const P64_5: u64 = 0x27d4eb2f165667c5;

// @ts-ignore: decorator
@inline function round32(acc: u32, input: u32): u32 {
  return rotl<u32>(acc + input * P32_2, 13) * P32_1;
}

// `xxh32Save`: where xxh32 stops (a byte offset) while it runs, and the next byte and h where it stopped.
let stopAt: usize = usize.MAX_VALUE;
let savedAt: usize = 0;
let savedH: u32 = 0;

export function xxh32(ptr: usize, len: usize, seed: u32): u32 {
  let p = ptr;
  const end = ptr + len;
  const limit = ptr + min(len, stopAt); // past the steps it may run
  let h: u32;
  if (len >= 16) {
    let v1 = seed + P32_1 + P32_2;
    let v2 = seed + P32_2;
    let v3 = seed;
    let v4 = seed - P32_1;
    for (; p + 16 <= limit; p += 16) {
      v1 = round32(v1, load<u32>(p));
      v2 = round32(v2, load<u32>(p, 4));
      v3 = round32(v3, load<u32>(p, 8));
      v4 = round32(v4, load<u32>(p, 12));
    }
    h = rotl<u32>(v1, 1) + rotl<u32>(v2, 7) + rotl<u32>(v3, 12) + rotl<u32>(v4, 18);
  } else {
    h = seed + P32_5;
  }
  h += <u32>len;
  for (; p + 4 <= limit; p += 4) h = rotl<u32>(h + load<u32>(p) * P32_3, 17) * P32_4;
  if (p + 4 > end) for (; p < limit; p++) h = rotl<u32>(h + <u32>load<u8>(p) * P32_5, 11) * P32_1;
  if (limit < end) {
    savedAt = p - ptr;
    savedH = h;
  }
  return avalanche32(h);
}

// @ts-ignore: decorator
@inline function avalanche32(h: u32): u32 {
  h ^= h >> 15;
  h *= P32_2;
  h ^= h >> 13;
  h *= P32_3;
  return h ^ (h >> 16);
}

/**
 * For inputs of one length and seed that differ only in their last byte (ring labels 10q .. 10q + 9): runs
 * the steps of xxh32(ptr, len, seed) before the one that reads the last byte, once; `xxh32Last` runs that
 * step for each input. Returns false if that step is a stripe's (len a multiple of 16): `xxh32Last` cannot.
 */
export function xxh32Save(ptr: usize, len: usize, seed: u32): bool {
  stopAt = len - 1;
  xxh32(ptr, len, seed);
  stopAt = usize.MAX_VALUE;
  return (len & 15) != 0;
}

/**
 * The hash of the input `xxh32Save` saw, with its last 4 bytes `word` (a little-endian u32, if the last step
 * reads a word) or its last byte `byte` (if it reads a byte).
 */
// @ts-ignore: decorator
@inline export function xxh32Last(len: usize, word: u32, byte: u32): u32 {
  const h = savedH;
  return avalanche32(
    savedAt + 4 <= len ? rotl<u32>(h + word * P32_3, 17) * P32_4 : rotl<u32>(h + byte * P32_5, 11) * P32_1,
  );
}

// @ts-ignore: decorator
@inline function round64(acc: u64, input: u64): u64 {
  return rotl<u64>(acc + input * P64_2, 31) * P64_1;
}

// @ts-ignore: decorator
@inline function merge64(acc: u64, val: u64): u64 {
  return (acc ^ round64(0, val)) * P64_1 + P64_4;
}

export function xxh64(ptr: usize, len: usize, seed: u64): u64 {
  let p = ptr;
  const end = ptr + len;
  let h: u64;
  if (len >= 32) {
    const limit = end - 32;
    let v1 = seed + P64_1 + P64_2;
    let v2 = seed + P64_2;
    let v3 = seed;
    let v4 = seed - P64_1;
    do {
      v1 = round64(v1, load<u64>(p));
      v2 = round64(v2, load<u64>(p, 8));
      v3 = round64(v3, load<u64>(p, 16));
      v4 = round64(v4, load<u64>(p, 24));
      p += 32;
    } while (p <= limit);
    h = rotl<u64>(v1, 1) + rotl<u64>(v2, 7) + rotl<u64>(v3, 12) + rotl<u64>(v4, 18);
    h = merge64(h, v1);
    h = merge64(h, v2);
    h = merge64(h, v3);
    h = merge64(h, v4);
  } else {
    h = seed + P64_5;
  }
  h += <u64>len;
  while (p + 8 <= end) {
    h ^= round64(0, load<u64>(p));
    h = rotl<u64>(h, 27) * P64_1 + P64_4;
    p += 8;
  }
  if (p + 4 <= end) {
    h ^= <u64>load<u32>(p) * P64_1;
    h = rotl<u64>(h, 23) * P64_2 + P64_3;
    p += 4;
  }
  while (p < end) {
    h ^= <u64>load<u8>(p) * P64_5;
    h = rotl<u64>(h, 11) * P64_1;
    p++;
  }
  h ^= h >> 33;
  h *= P64_2;
  h ^= h >> 29;
  h *= P64_3;
  h ^= h >> 32;
  return h;
}

/** Upper 32 bits of xxh64 with the seed given as two halves: no i64 (BigInt) crosses the boundary. */
export function xxh64Hi(ptr: usize, len: usize, seedLo: u32, seedHi: u32): u32 {
  return <u32>(xxh64(ptr, len, (<u64>seedHi << 32) | <u64>seedLo) >> 32);
}

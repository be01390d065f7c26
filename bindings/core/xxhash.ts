// Pure-TS xxHash32 and xxHash64 (https://github.com/Cyan4973/xxHash, doc/xxhash_spec.md): the twin of
// assembly/xxhash.ts, bit for bit. xxh64 runs on 32-bit halves (no BigInt on the hot path).
// Strings are hashed as their UTF-8 bytes; xxh32String and xxh64String read ASCII strings straight from
// charCodeAt and fall back to an exact UTF-8 encoding for any other.
import { utf8Scratch } from './utf8.js';

const P32_1 = 0x9e3779b1;
const P32_2 = 0x85ebca77;
const P32_3 = 0xc2b2ae3d;
const P32_4 = 0x27d4eb2f;
const P32_5 = 0x165667b1;

const imul = Math.imul;

function rotl32(x: number, r: number): number {
  return (x << r) | (x >>> (32 - r));
}

function round32(acc: number, input: number): number {
  return imul(rotl32((acc + imul(input, P32_2)) | 0, 13), P32_1);
}

function avalanche32(h: number): number {
  h ^= h >>> 15;
  h = imul(h, P32_2);
  h ^= h >>> 13;
  h = imul(h, P32_3);
  h ^= h >>> 16;
  return h >>> 0;
}

function le32(b: Uint8Array, p: number): number {
  return b[p]! | (b[p + 1]! << 8) | (b[p + 2]! << 16) | (b[p + 3]! << 24);
}

export function xxh32Bytes(b: Uint8Array, seed: number, len = b.length): number {
  let p = 0;
  let h: number;
  if (len >= 16) {
    const limit = len - 16;
    let v1 = (seed + P32_1 + P32_2) | 0;
    let v2 = (seed + P32_2) | 0;
    let v3 = seed | 0;
    let v4 = (seed - P32_1) | 0;
    do {
      v1 = round32(v1, le32(b, p));
      v2 = round32(v2, le32(b, p + 4));
      v3 = round32(v3, le32(b, p + 8));
      v4 = round32(v4, le32(b, p + 12));
      p += 16;
    } while (p <= limit);
    h = (rotl32(v1, 1) + rotl32(v2, 7) + rotl32(v3, 12) + rotl32(v4, 18)) | 0;
  } else {
    h = (seed + P32_5) | 0;
  }
  h = (h + len) | 0;
  for (; p + 4 <= len; p += 4) {
    h = (h + imul(le32(b, p), P32_3)) | 0;
    h = imul(rotl32(h, 17), P32_4);
  }
  for (; p < len; p++) {
    h = (h + imul(b[p]!, P32_5)) | 0;
    h = imul(rotl32(h, 11), P32_1);
  }
  return avalanche32(h);
}

/** xxh32 of the UTF-8 encoding of `s`, unsigned. */
export const xxh32String = (s: string, seed: number): number => xxh32StringI32(s, seed) >>> 0;

/**
 * xxh32 of the UTF-8 encoding of `s` as a signed int32 (`>>> 0` for the unsigned value): always a Smi, so a call
 * that is not inlined returns hashes >= 2^31 unboxed (HashRing#get). Reads code units as bytes and ORs them
 * together on the way; if any was not ASCII (> 127) the result is discarded and the exact UTF-8 bytes are hashed
 * instead. One OR per code unit instead of a branch per word: about 5% faster on ASCII keys.
 */
export function xxh32StringI32(s: string, seed: number): number {
  const len = s.length;
  let p = 0;
  let h: number;
  let any = 0;
  if (len >= 16) {
    const limit = len - 16;
    let v1 = (seed + P32_1 + P32_2) | 0;
    let v2 = (seed + P32_2) | 0;
    let v3 = seed | 0;
    let v4 = (seed - P32_1) | 0;
    do {
      const a0 = s.charCodeAt(p);
      const a1 = s.charCodeAt(p + 1);
      const a2 = s.charCodeAt(p + 2);
      const a3 = s.charCodeAt(p + 3);
      const b0 = s.charCodeAt(p + 4);
      const b1 = s.charCodeAt(p + 5);
      const b2 = s.charCodeAt(p + 6);
      const b3 = s.charCodeAt(p + 7);
      const c0 = s.charCodeAt(p + 8);
      const c1 = s.charCodeAt(p + 9);
      const c2 = s.charCodeAt(p + 10);
      const c3 = s.charCodeAt(p + 11);
      const d0 = s.charCodeAt(p + 12);
      const d1 = s.charCodeAt(p + 13);
      const d2 = s.charCodeAt(p + 14);
      const d3 = s.charCodeAt(p + 15);
      any |= a0 | a1 | a2 | a3 | b0 | b1 | b2 | b3 | c0 | c1 | c2 | c3 | d0 | d1 | d2 | d3;
      v1 = round32(v1, a0 | (a1 << 8) | (a2 << 16) | (a3 << 24));
      v2 = round32(v2, b0 | (b1 << 8) | (b2 << 16) | (b3 << 24));
      v3 = round32(v3, c0 | (c1 << 8) | (c2 << 16) | (c3 << 24));
      v4 = round32(v4, d0 | (d1 << 8) | (d2 << 16) | (d3 << 24));
      p += 16;
    } while (p <= limit);
    h = (rotl32(v1, 1) + rotl32(v2, 7) + rotl32(v3, 12) + rotl32(v4, 18)) | 0;
  } else {
    h = (seed + P32_5) | 0;
  }
  h = (h + len) | 0;
  for (; p + 4 <= len; p += 4) {
    const a0 = s.charCodeAt(p);
    const a1 = s.charCodeAt(p + 1);
    const a2 = s.charCodeAt(p + 2);
    const a3 = s.charCodeAt(p + 3);
    any |= a0 | a1 | a2 | a3;
    h = (h + imul(a0 | (a1 << 8) | (a2 << 16) | (a3 << 24), P32_3)) | 0;
    h = imul(rotl32(h, 17), P32_4);
  }
  for (; p < len; p++) {
    const c = s.charCodeAt(p);
    any |= c;
    h = (h + imul(c, P32_5)) | 0;
    h = imul(rotl32(h, 11), P32_1);
  }
  return (any > 127 ? xxh32Bytes(utf8Scratch(s), seed) : avalanche32(h)) | 0;
}

// ---- xxh64 on (hi, lo) pairs; functions return the low word and leave the high word in `H` ----

let H = 0;

const P1H = 0x9e3779b1,
  P1L = 0x85ebca87;
const P2H = 0xc2b2ae3d,
  P2L = 0x27d4eb4f;
const P3H = 0x165667b1,
  P3L = 0x9e3779f9;
const P4H = 0x85ebca77,
  P4L = 0xc2b2ae63;
const P5H = 0x27d4eb2f,
  P5L = 0x165667c5;
const TWO_32 = 4294967296;

function add64(ah: number, al: number, bh: number, bl: number): number {
  const lo = (al >>> 0) + (bl >>> 0);
  H = (ah + bh + (lo > 0xffffffff ? 1 : 0)) >>> 0;
  return lo >>> 0;
}

/** (ah, al) × (bh, bl) mod 2^64 on 32-bit halves: returns the low word; the high word is read with `xxh64Hi()`. */
export function mul64(ah: number, al: number, bh: number, bl: number): number {
  al >>>= 0;
  bl >>>= 0;
  H = (mulHi(al, bl) + imul(ah, bl) + imul(al, bh)) >>> 0;
  return imul(al, bl) >>> 0;
}

function rotl64(h: number, l: number, r: number): number {
  if (r >= 32) {
    const t = h;
    h = l;
    l = t;
    r -= 32;
  }
  if (r === 0) {
    H = h >>> 0;
    return l >>> 0;
  }
  H = ((h << r) | (l >>> (32 - r))) >>> 0;
  return ((l << r) | (h >>> (32 - r))) >>> 0;
}

/** rotl(acc + input * P2, 31) * P1 */
function round64(ah: number, al: number, ih: number, il: number): number {
  let l = mul64(ih, il, P2H, P2L);
  l = add64(ah, al, H, l);
  l = rotl64(H, l, 31);
  return mul64(H, l, P1H, P1L);
}

function merge64(hh: number, hl: number, vh: number, vl: number): number {
  let l = round64(0, 0, vh, vl);
  const xh = (hh ^ H) >>> 0;
  l = mul64(xh, (hl ^ l) >>> 0, P1H, P1L);
  return add64(H, l, P4H, P4L);
}

/** xxh64 of bytes; returns the low word, high word in `xxh64Hi()` afterwards. */
export function xxh64Pair(b: Uint8Array, seedHi: number, seedLo: number, len = b.length): number {
  let p = 0;
  let hh: number, hl: number;
  if (len >= 32) {
    const limit = len - 32;
    let v1l = add64(seedHi, seedLo, P1H, P1L);
    let v1h = H;
    v1l = add64(v1h, v1l, P2H, P2L);
    v1h = H;
    let v2l = add64(seedHi, seedLo, P2H, P2L);
    let v2h = H;
    let v3h = seedHi >>> 0,
      v3l = seedLo >>> 0;
    // seed - P1 = seed + (2^64 - P1)
    let v4l = add64(seedHi, seedLo, ~P1H >>> 0, (~P1L + 1) >>> 0);
    let v4h = H;
    do {
      v1l = round64(v1h, v1l, le32(b, p + 4) >>> 0, le32(b, p) >>> 0);
      v1h = H;
      v2l = round64(v2h, v2l, le32(b, p + 12) >>> 0, le32(b, p + 8) >>> 0);
      v2h = H;
      v3l = round64(v3h, v3l, le32(b, p + 20) >>> 0, le32(b, p + 16) >>> 0);
      v3h = H;
      v4l = round64(v4h, v4l, le32(b, p + 28) >>> 0, le32(b, p + 24) >>> 0);
      v4h = H;
      p += 32;
    } while (p <= limit);
    let l = rotl64(v1h, v1l, 1);
    let h = H;
    const r2 = rotl64(v2h, v2l, 7);
    l = add64(h, l, H, r2);
    h = H;
    const r3 = rotl64(v3h, v3l, 12);
    l = add64(h, l, H, r3);
    h = H;
    const r4 = rotl64(v4h, v4l, 18);
    l = add64(h, l, H, r4);
    h = H;
    l = merge64(h, l, v1h, v1l);
    l = merge64(H, l, v2h, v2l);
    l = merge64(H, l, v3h, v3l);
    l = merge64(H, l, v4h, v4l);
    hh = H;
    hl = l;
  } else {
    hl = add64(seedHi, seedLo, P5H, P5L);
    hh = H;
  }
  hl = add64(hh, hl, 0, len);
  hh = H;
  for (; p + 8 <= len; p += 8) {
    let k = round64(0, 0, le32(b, p + 4) >>> 0, le32(b, p) >>> 0);
    hh = (hh ^ H) >>> 0;
    hl = (hl ^ k) >>> 0;
    k = rotl64(hh, hl, 27);
    k = mul64(H, k, P1H, P1L);
    hl = add64(H, k, P4H, P4L);
    hh = H;
  }
  if (p + 4 <= len) {
    let k = mul64(0, le32(b, p) >>> 0, P1H, P1L);
    hh = (hh ^ H) >>> 0;
    hl = (hl ^ k) >>> 0;
    k = rotl64(hh, hl, 23);
    k = mul64(H, k, P2H, P2L);
    hl = add64(H, k, P3H, P3L);
    hh = H;
    p += 4;
  }
  for (; p < len; p++) {
    let k = mul64(0, b[p]!, P5H, P5L);
    hh = (hh ^ H) >>> 0;
    hl = (hl ^ k) >>> 0;
    k = rotl64(hh, hl, 11);
    hl = mul64(H, k, P1H, P1L);
    hh = H;
  }
  // avalanche
  hl = (hl ^ (hh >>> 1)) >>> 0; // h ^= h >> 33
  hl = mul64(hh, hl, P2H, P2L);
  hh = H;
  hl = (hl ^ ((hl >>> 29) | (hh << 3))) >>> 0; // h ^= h >> 29
  hh = (hh ^ (hh >>> 29)) >>> 0;
  hl = mul64(hh, hl, P3H, P3L);
  hh = H;
  hl = (hl ^ hh) >>> 0; // h ^= h >> 32
  H = hh;
  return hl;
}

/** High word of the last xxh64Pair result. */
export function xxh64Hi(): number {
  return H;
}

export function xxh64Bytes(b: Uint8Array, seed: bigint): bigint {
  const lo = xxh64Pair(b, Number((seed >> 32n) & 0xffffffffn), Number(seed & 0xffffffffn));
  return (BigInt(H) << 32n) | BigInt(lo);
}

/** High 32 bits of a × b for unsigned 32-bit a, b: a × each 16-bit half of b is below 2^48, exact. */
function mulHi(a: number, b: number): number {
  const a0 = a & 0xffff,
    a1 = a >>> 16,
    b0 = b & 0xffff,
    b1 = b >>> 16;
  const p01 = a0 * b1,
    p10 = a1 * b0;
  const mid = ((a0 * b0) >>> 16) + (p01 & 0xffff) + (p10 & 0xffff);
  return a1 * b1 + (p01 >>> 16) + (p10 >>> 16) + (mid >>> 16);
}

/**
 * xxh64 of the UTF-8 bytes of `s`: returns the low word, the high word in `xxh64Hi()` afterwards. ASCII keys
 * shorter than 32 bytes (request keys, mostly) are read straight from charCodeAt with the 64-bit state in
 * two 32-bit locals, 4-5x `xxh64Pair`; other strings take `xxh64Pair` over their UTF-8 bytes.
 */
export function xxh64String(s: string, seedHi: number, seedLo: number): number {
  const len = s.length;
  if (len >= 32) return xxh64Pair(utf8Scratch(s), seedHi, seedLo);
  let l = add64(seedHi, seedLo, P5H, P5L);
  l = add64(H, l, 0, len);
  let h = H;
  let any = 0;
  let p = 0;
  let mh: number, ml: number, rh: number, rl: number, c: number;
  for (; p + 8 <= len; p += 8) {
    // lane × P2, rotl 31, × P1 (round(0, lane)); h ^= it
    const a0 = s.charCodeAt(p),
      a1 = s.charCodeAt(p + 1),
      a2 = s.charCodeAt(p + 2),
      a3 = s.charCodeAt(p + 3);
    const b0 = s.charCodeAt(p + 4),
      b1 = s.charCodeAt(p + 5),
      b2 = s.charCodeAt(p + 6),
      b3 = s.charCodeAt(p + 7);
    any |= a0 | a1 | a2 | a3 | b0 | b1 | b2 | b3;
    const kl = (a0 | (a1 << 8) | (a2 << 16) | (a3 << 24)) >>> 0;
    const kh = (b0 | (b1 << 8) | (b2 << 16) | (b3 << 24)) >>> 0;
    ml = imul(kl, P2L) >>> 0;
    mh = (mulHi(kl, P2L) + imul(kl, P2H) + imul(kh, P2L)) >>> 0;
    rh = ((mh << 31) | (ml >>> 1)) >>> 0;
    rl = ((ml << 31) | (mh >>> 1)) >>> 0;
    ml = imul(rl, P1L) >>> 0;
    mh = (mulHi(rl, P1L) + imul(rl, P1H) + imul(rh, P1L)) >>> 0;
    h = (h ^ mh) >>> 0;
    l = (l ^ ml) >>> 0;
    // h = rotl(h, 27) × P1 + P4
    rh = ((h << 27) | (l >>> 5)) >>> 0;
    rl = ((l << 27) | (h >>> 5)) >>> 0;
    ml = imul(rl, P1L) >>> 0;
    mh = (mulHi(rl, P1L) + imul(rl, P1H) + imul(rh, P1L)) >>> 0;
    c = ml + P4L;
    l = c >>> 0;
    h = (mh + P4H + (c >= TWO_32 ? 1 : 0)) >>> 0;
  }
  if (p + 4 <= len) {
    // h ^= u32 × P1; h = rotl(h, 23) × P2 + P3
    const a0 = s.charCodeAt(p),
      a1 = s.charCodeAt(p + 1),
      a2 = s.charCodeAt(p + 2),
      a3 = s.charCodeAt(p + 3);
    any |= a0 | a1 | a2 | a3;
    const k = (a0 | (a1 << 8) | (a2 << 16) | (a3 << 24)) >>> 0;
    h = (h ^ (mulHi(k, P1L) + imul(k, P1H))) >>> 0;
    l = (l ^ imul(k, P1L)) >>> 0;
    rh = ((h << 23) | (l >>> 9)) >>> 0;
    rl = ((l << 23) | (h >>> 9)) >>> 0;
    ml = imul(rl, P2L) >>> 0;
    mh = (mulHi(rl, P2L) + imul(rl, P2H) + imul(rh, P2L)) >>> 0;
    c = ml + P3L;
    l = c >>> 0;
    h = (mh + P3H + (c >= TWO_32 ? 1 : 0)) >>> 0;
    p += 4;
  }
  for (; p < len; p++) {
    // h ^= byte × P5; h = rotl(h, 11) × P1
    const b = s.charCodeAt(p);
    any |= b;
    h = (h ^ (mulHi(b, P5L) + imul(b, P5H))) >>> 0;
    l = (l ^ imul(b, P5L)) >>> 0;
    rh = ((h << 11) | (l >>> 21)) >>> 0;
    rl = ((l << 11) | (h >>> 21)) >>> 0;
    l = imul(rl, P1L) >>> 0;
    h = (mulHi(rl, P1L) + imul(rl, P1H) + imul(rh, P1L)) >>> 0;
  }
  if (any > 127) return xxh64Pair(utf8Scratch(s), seedHi, seedLo);
  // avalanche: h ^= h >> 33; h *= P2; h ^= h >> 29; h *= P3; h ^= h >> 32
  l = (l ^ (h >>> 1)) >>> 0;
  ml = imul(l, P2L) >>> 0;
  h = (mulHi(l, P2L) + imul(l, P2H) + imul(h, P2L)) >>> 0;
  l = (ml ^ ((ml >>> 29) | (h << 3))) >>> 0;
  h = (h ^ (h >>> 29)) >>> 0;
  ml = imul(l, P3L) >>> 0;
  h = (mulHi(l, P3L) + imul(l, P3H) + imul(h, P3L)) >>> 0;
  H = h;
  return (ml ^ h) >>> 0;
}

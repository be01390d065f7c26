// MurmurHash2 as libstdc++'s 64-bit `std::_Hash_bytes` (libstdc++-v3/libsupc++/hash_bytes.cc), which Envoy's
// MurmurHash::murmurHash2 is and ring_hash's MURMUR_HASH_2 entries use (seed 0xc70f6907): the pure-TS twin of
// assembly/murmur2.ts, on 32-bit halves (no BigInt). The 64-bit result is a low word returned and a high
// word read right after with `murmurHi()`.

const MUL_H = 0xc6a4a793;
const MUL_L = 0x5bd1e995;
let MH = 0;

/** (ah, al) × (bh, bl) mod 2^64: returns the low word, high in MH. */
function mul64(ah: number, al: number, bh: number, bl: number): number {
  const a0 = al & 0xffff;
  const a1 = al >>> 16;
  const b0 = bl & 0xffff;
  const b1 = bl >>> 16;
  const p00 = a0 * b0;
  const p01 = a0 * b1;
  const p10 = a1 * b0;
  const mid = (p00 >>> 16) + (p01 & 0xffff) + (p10 & 0xffff);
  const hi = a1 * b1 + (p01 >>> 16) + (p10 >>> 16) + (mid >>> 16);
  MH = (hi + Math.imul(ah, bl) + Math.imul(al, bh)) >>> 0;
  return ((mid << 16) | (p00 & 0xffff)) >>> 0;
}

function le32(b: Uint8Array, p: number): number {
  return (b[p]! | (b[p + 1]! << 8) | (b[p + 2]! << 16) | (b[p + 3]! << 24)) >>> 0;
}

/** Envoy's MurmurHash::murmurHash2 (seed 0xc70f6907 by default): returns the low word, high in murmurHi(). */
export function envoyMurmur2Pair(b: Uint8Array, len = b.length, seedHi = 0, seedLo = 0xc70f6907): number {
  let l = mul64(0, len, MUL_H, MUL_L);
  let h = (seedHi ^ MH) >>> 0;
  l = (seedLo ^ l) >>> 0;
  const aligned = len & ~7;
  for (let p = 0; p < aligned; p += 8) {
    let dl = mul64(le32(b, p + 4), le32(b, p), MUL_H, MUL_L);
    let dh = MH;
    dl = (dl ^ (dh >>> 15)) >>> 0;
    dl = mul64(dh, dl, MUL_H, MUL_L);
    dh = MH;
    l = mul64((h ^ dh) >>> 0, (l ^ dl) >>> 0, MUL_H, MUL_L);
    h = MH;
  }
  const rest = len & 7;
  if (rest !== 0) {
    let dl = 0;
    let dh = 0;
    for (let i = 0; i < rest; i++) {
      const v = b[aligned + i]!;
      if (i < 4) dl = (dl | (v << (8 * i))) >>> 0;
      else dh = (dh | (v << (8 * (i - 4)))) >>> 0;
    }
    l = mul64((h ^ dh) >>> 0, (l ^ dl) >>> 0, MUL_H, MUL_L);
    h = MH;
  }
  l = (l ^ (h >>> 15)) >>> 0;
  l = mul64(h, l, MUL_H, MUL_L);
  h = MH;
  l = (l ^ (h >>> 15)) >>> 0;
  MH = h;
  return l;
}

export function murmurHi(): number {
  return MH;
}

// MurmurHash2 as libstdc++'s 64-bit `std::_Hash_bytes` (libstdc++-v3/libsupc++/hash_bytes.cc), which Envoy's
// MurmurHash::murmurHash2 is and ring_hash's MURMUR_HASH_2 entries use (seed 0xc70f6907): the pure-TS twin of
// assembly/murmur2.ts, on 32-bit halves (no BigInt). The 64-bit result is a low word returned and a high
// word read right after with `murmurHi()`.
import { mul64, xxh64Hi } from '../../core/xxhash.js';

const MUL_H = 0xc6a4a793;
const MUL_L = 0x5bd1e995;
/** The high word of the last result (read with `murmurHi()`). */
let MH = 0;

function le32(b: Uint8Array, p: number): number {
  return (b[p]! | (b[p + 1]! << 8) | (b[p + 2]! << 16) | (b[p + 3]! << 24)) >>> 0;
}

/** Envoy's MurmurHash::murmurHash2 (seed 0xc70f6907 by default): returns the low word, high in murmurHi(). */
export function envoyMurmur2Pair(b: Uint8Array, len = b.length, seedHi = 0, seedLo = 0xc70f6907): number {
  let l = mul64(0, len, MUL_H, MUL_L);
  let h = (seedHi ^ xxh64Hi()) >>> 0;
  l = (seedLo ^ l) >>> 0;
  const aligned = len & ~7;
  for (let p = 0; p < aligned; p += 8) {
    let dl = mul64(le32(b, p + 4), le32(b, p), MUL_H, MUL_L);
    let dh = xxh64Hi();
    dl = (dl ^ (dh >>> 15)) >>> 0;
    dl = mul64(dh, dl, MUL_H, MUL_L);
    dh = xxh64Hi();
    l = mul64((h ^ dh) >>> 0, (l ^ dl) >>> 0, MUL_H, MUL_L);
    h = xxh64Hi();
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
    h = xxh64Hi();
  }
  l = (l ^ (h >>> 15)) >>> 0;
  l = mul64(h, l, MUL_H, MUL_L);
  h = xxh64Hi();
  l = (l ^ (h >>> 15)) >>> 0;
  MH = h;
  return l;
}

export function murmurHi(): number {
  return MH;
}

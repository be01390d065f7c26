// Rendezvous (highest random weight) hashing, Thaler and Ravishankar 1998 ("Using name-based mappings to
// increase hit rates", IEEE/ACM ToN 6(1)), weighted with the logarithmic method (Schindelhauer and
// Schomaker 2005, "Weighted distributed hash tables"; score = -weight / ln(u)).
// Exact definition (the TS twin in bindings/hashing/rendezvous.ts is bit-identical):
//   k = xxh64(key, seed 0); s_i = xxh64(UTF-8 id_i, seed 0)
//   h = avalanche(k ^ s_i) with xxh64's final avalanche (>>33, *P2, >>29, *P3, >>32)
//   x = h >> 12 (top 52 bits), u = (2x + 1) / 2^53, strictly inside (0, 1)
//   score_i = -w_i / ln(u) with ln computed by `lnUnit` below (fdlibm's log polynomial, only +-*/), or
//   score_i = x when every weight is equal (`uniform`, the same order without a logarithm)
// The member with the highest score wins; ties go to the lower index. No allocation.
import { xxh64 } from './xxhash';

const P2: u64 = 0xc2b2ae3d27d4eb4f;
const P3: u64 = 0x165667b19e3779f9;
const LN2_HI: f64 = 6.93147180369123816490e-1;
const LN2_LO: f64 = 1.90821492927058770002e-10;
const SQRT2: f64 = 1.4142135623730951;
const LG1: f64 = 6.666666666666735130e-1;
const LG2: f64 = 3.999999999940941908e-1;
const LG3: f64 = 2.857142874366239149e-1;
const LG4: f64 = 2.222219843214978396e-1;
const LG5: f64 = 1.818357216161805012e-1;
const LG6: f64 = 1.531383769920937332e-1;
const LG7: f64 = 1.479819860511658591e-1;

// @ts-ignore: decorator
@inline function avalanche(h: u64): u64 {
  h ^= h >> 33;
  h *= P2;
  h ^= h >> 29;
  h *= P3;
  h ^= h >> 32;
  return h;
}

/** ln((2x + 1) / 2^53) for x < 2^52, from + - * / only so that JS computes the same bits. */
export function lnUnit(x: u64): f64 {
  const y = (x << 1) | 1;
  let k = <i32>(63 - clz<u64>(y));
  let m = <f64>y * reinterpret<f64>(<u64>(1023 - k) << 52); // y / 2^k in [1, 2), exact
  if (m > SQRT2) {
    m *= 0.5;
    k++;
  }
  const f = m - 1.0;
  const s = f / (2.0 + f);
  const z = s * s;
  const w = z * z;
  const t1 = w * (LG2 + w * (LG4 + w * LG6));
  const t2 = z * (LG1 + w * (LG3 + w * (LG5 + w * LG7)));
  const r = t2 + t1;
  const hfsq = 0.5 * f * f;
  const dk = <f64>(k - 53);
  return dk * LN2_HI - (hfsq - (s * (hfsq + r) + dk * LN2_LO) - f);
}

// @ts-ignore: decorator
@inline function score(k: u64, seed: u64, weight: f64, uniform: bool): f64 {
  const x = avalanche(k ^ seed) >> 12;
  return uniform ? <f64>x : -weight / lnUnit(x);
}

/** Index of the winner for key hash k among n members (seeds: u64[n], weights: f64[n]); n > 0. */
export function rendezvousPick(k: u64, seeds: usize, weights: usize, n: u32, uniform: bool): u32 {
  let best: u32 = 0;
  let top = score(k, load<u64>(seeds), load<f64>(weights), uniform);
  for (let i: u32 = 1; i < n; i++) {
    const sc = score(k, load<u64>(seeds + (<usize>i << 3)), load<f64>(weights + (<usize>i << 3)), uniform);
    if (sc > top) {
      top = sc;
      best = i;
    }
  }
  return best;
}

/** Winner for the key bytes [ptr, ptr + len). */
export function rendezvousPickBytes(
  ptr: usize,
  len: usize,
  seeds: usize,
  weights: usize,
  n: u32,
  uniform: bool,
): u32 {
  return rendezvousPick(xxh64(ptr, len, 0), seeds, weights, n, uniform);
}

/** Keys as bytes back to back with u32 offsets[count + 1]; out[i] (u32) = winner of key i. */
export function rendezvousPickManyBytes(
  bytes: usize,
  offsets: usize,
  count: u32,
  seeds: usize,
  weights: usize,
  n: u32,
  uniform: bool,
  out: usize,
): void {
  for (let i: u32 = 0; i < count; i++) {
    const s = load<u32>(offsets + (<usize>i << 2));
    const e = load<u32>(offsets + (<usize>i << 2), 4);
    store<u32>(out + (<usize>i << 2), rendezvousPick(xxh64(bytes + s, e - s, 0), seeds, weights, n, uniform));
  }
}

/** out[i] (f64) = score of member i for the key bytes [ptr, ptr + len). */
export function rendezvousScoresBytes(
  ptr: usize,
  len: usize,
  seeds: usize,
  weights: usize,
  n: u32,
  uniform: bool,
  out: usize,
): void {
  const k = xxh64(ptr, len, 0);
  for (let i: u32 = 0; i < n; i++) {
    const sc = score(k, load<u64>(seeds + (<usize>i << 3)), load<f64>(weights + (<usize>i << 3)), uniform);
    store<f64>(out + (<usize>i << 3), sc);
  }
}

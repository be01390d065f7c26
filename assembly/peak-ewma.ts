// peak_ewma: tower's Peak-EWMA (tower/src/load/peak_ewma.rs) with Finagle's penalty, and the exp(-t) both
// twins share. Twin: bindings/balancing/policies/peak-ewma.ts (identical results, bit for bit).
import { cell, COL_ACTIVE, COL_EST, COL_STAMP } from './picker';

/**
 * Peak-EWMA cost of `row` at `now` (`ratePerMs` = 1 / decayMs, so that no division is on the pick's path): decays the estimate toward 0 (tower's load() updates with rtt 0), then
 * estimate × (active + 1), or penalty + active for a member with active requests and a zero estimate.
 */
export function peakEwmaCost(base: usize, cap: u32, row: u32, now: f64, ratePerMs: f64, penalty: f64): f64 {
  const c = <usize>cap;
  const r = <usize>row;
  const pEst = cell(base, c, COL_EST, r);
  const pStamp = cell(base, c, COL_STAMP, r);
  let est = load<f64>(pEst);
  const elapsed = now - load<f64>(pStamp);
  if (elapsed > 0) {
    est = est * expNeg(elapsed * ratePerMs);
    store<f64>(pEst, est);
    store<f64>(pStamp, now);
  }
  const active = load<f64>(cell(base, c, COL_ACTIVE, r));
  if (est == 0 && active > 0) return penalty + active;
  return est * (active + 1);
}

/**
 * Records an RTT: a higher sample replaces the estimate, a lower one is averaged in by elapsed time with weight
 * 1 - exp(-elapsed/decay), raised to `minWeight` when that is larger (the warm-up rule of docs/design.md;
 * 0 or NaN: tower's rule unchanged).
 */
export function peakEwmaObserve(
  base: usize,
  cap: u32,
  row: u32,
  now: f64,
  rttMs: f64,
  ratePerMs: f64,
  minWeight: f64,
): f64 {
  const c = <usize>cap;
  const r = <usize>row;
  const pEst = cell(base, c, COL_EST, r);
  const pStamp = cell(base, c, COL_STAMP, r);
  let est = load<f64>(pEst);
  if (est < rttMs) est = rttMs;
  else {
    let elapsed = now - load<f64>(pStamp);
    if (elapsed < 0) elapsed = 0;
    const decay = expNeg(elapsed * ratePerMs);
    if (1 - decay < minWeight) est = est * (1 - minWeight) + rttMs * minWeight;
    else est = est * decay + rttMs * (1 - decay);
  }
  store<f64>(pEst, est);
  store<f64>(pStamp, now);
  return est;
}

/**
 * exp(-t) for t >= 0, computed the same way as the TS twin (`expNeg` in bindings/balancing/policies/peak-ewma.ts) so the
 * two agree bit for bit (Math.exp differs between V8 and AssemblyScript in the last bit for ~7% of inputs).
 * t in (2^-28, 2^-7] (the range a pick almost always sees): the Taylor polynomial of degree 6 in Horner form;
 * above: the fdlibm/musl reduction exp(x) = 2^k × exp(r), |r| <= ln2/2, with its degree-5 rational approximation.
 */
export function expNeg(t: f64): f64 {
  if (!(t > 0)) return 1;
  if (t >= 708) return 0;
  let x = -t;
  let hi: f64 = 0;
  let lo: f64 = 0;
  let k: i32 = 0;
  if (t > 0.34657359027997264) {
    k = t >= 1.0397207708399179 ? <i32>(1.4426950408889634 * x - 0.5) : -1;
    hi = x - <f64>k * 0.6931471803691238;
    lo = <f64>k * 1.9082149292705877e-10;
    x = hi - lo;
  } else if (t > 0.0078125) {
    hi = x;
  } else if (t > 3.725290298461914e-9) {
    return (
      1 +
      x *
        (1 +
          x *
            (0.5 +
              x * (0.16666666666666666 + x * (0.041666666666666664 + x * (0.008333333333333333 + x * 0.001388888888888889)))))
    );
  } else return 1.0 + x;
  const xs = x * x;
  const xq = xs * xs;
  const c =
    x -
    (xs * 0.16666666666666602 +
      xq * (-0.0027777777777015593 + xs * 0.00006613756321437934 + xq * (-0.0000016533902205465252 + xs * 4.1381367970572385e-8)));
  const y = 1.0 + ((x * c) / (2 - c) - lo + hi);
  return k == 0 ? y : y * reinterpret<f64>(<u64>(0x3ff + k) << 52);
}

// Balancing policy kernels over the Balancer's state table (bindings/balancing/picker.ts): one f64 column-major
// table per balancer, column c of row r at base + (c * cap + r) * 8; `rows` is an i32 list of eligible rows.
// No allocation. Each function has a TS twin in bindings/balancing/policies/*.ts giving identical results.
//
// swrrStep: nginx smooth weighted round robin, one selection round (nginx commit 52327e062,
//   ngx_http_upstream_get_peer). latencyAwareScan: the latency-aware score of docs/design.md.
// peakEwmaCost / peakEwmaObserve: tower's Peak-EWMA (tower/src/load/peak_ewma.rs) with Finagle's penalty.

const COL_WEIGHT: usize = 0;
const COL_CW: usize = 1;
const COL_EW: usize = 2;
const COL_ACTIVE: usize = 3;
const COL_EST: usize = 4;
const COL_STAMP: usize = 5;
const COL_FAILS: usize = 6;
const COL_CHECKED: usize = 7;
const COL_AVG_RTT: usize = 9;

// @ts-ignore: decorator
@inline function cell(base: usize, cap: usize, col: usize, row: usize): usize {
  return base + ((col * cap + row) << 3);
}

/**
 * One nginx selection round. mask: 0, or u8 per row (1 = excluded, nginx's `tried`). Returns the row or -1.
 */
export function swrrStep(
  base: usize,
  cap: u32,
  rows: usize,
  count: u32,
  mask: usize,
  maxFails: f64,
  failTimeoutMs: f64,
  now: f64,
): i32 {
  const c = <usize>cap;
  let best: i32 = -1;
  let bestCw: f64 = 0;
  let total: f64 = 0;
  for (let k: u32 = 0; k < count; k++) {
    const r = <usize>load<i32>(rows + (<usize>k << 2));
    if (mask != 0 && load<u8>(mask + r) != 0) continue;
    if (maxFails > 0 && load<f64>(cell(base, c, COL_FAILS, r)) >= maxFails) {
      if (now - load<f64>(cell(base, c, COL_CHECKED, r)) <= failTimeoutMs) continue;
    }
    const pEw = cell(base, c, COL_EW, r);
    const pCw = cell(base, c, COL_CW, r);
    const ew = load<f64>(pEw);
    const cw = load<f64>(pCw) + ew;
    store<f64>(pCw, cw);
    total += ew;
    const w = load<f64>(cell(base, c, COL_WEIGHT, r));
    if (ew < w) store<f64>(pEw, ew + 1 < w ? ew + 1 : w);
    if (best < 0 || cw > bestCw) {
      best = <i32>r;
      bestCw = cw;
    }
  }
  if (best < 0) return -1;
  const b = <usize>best;
  store<f64>(cell(base, c, COL_CW, b), bestCw - total);
  const pChecked = cell(base, c, COL_CHECKED, b);
  if (now - load<f64>(pChecked) > failTimeoutMs) store<f64>(pChecked, now);
  return best;
}

/**
 * latency_aware: the row with the lowest connWeight × active / maxConn + rttWeight × avgRtt / maxRttMs,
 * scanning `count` rows from position `start` (wrapping); the first lowest wins. mask as in swrrStep.
 */
export function latencyAwareScan(
  base: usize,
  cap: u32,
  rows: usize,
  count: u32,
  mask: usize,
  start: u32,
  connWeight: f64,
  maxConn: f64,
  rttWeight: f64,
  maxRttMs: f64,
): i32 {
  const c = <usize>cap;
  let best: i32 = -1;
  let bestScore: f64 = 0;
  let k = start;
  for (let i: u32 = 0; i < count; i++) {
    const r = <usize>load<i32>(rows + (<usize>k << 2));
    if (++k == count) k = 0;
    if (mask != 0 && load<u8>(mask + r) != 0) continue;
    const score =
      connWeight * (load<f64>(cell(base, c, COL_ACTIVE, r)) / maxConn) +
      rttWeight * (load<f64>(cell(base, c, COL_AVG_RTT, r)) / maxRttMs);
    if (best < 0 || score < bestScore) {
      best = <i32>r;
      bestScore = score;
    }
  }
  return best;
}

/**
 * Peak-EWMA cost of `row` at `now`: decays the estimate toward 0 (tower's load() updates with rtt 0), then
 * estimate × (active + 1), or penalty + active for a member with active requests and a zero estimate.
 */
export function peakEwmaCost(base: usize, cap: u32, row: u32, now: f64, decayMs: f64, penalty: f64): f64 {
  const c = <usize>cap;
  const r = <usize>row;
  const pEst = cell(base, c, COL_EST, r);
  const pStamp = cell(base, c, COL_STAMP, r);
  let est = load<f64>(pEst);
  const elapsed = now - load<f64>(pStamp);
  if (elapsed > 0) {
    est = est * expNeg(elapsed / decayMs);
    store<f64>(pEst, est);
    store<f64>(pStamp, now);
  }
  const active = load<f64>(cell(base, c, COL_ACTIVE, r));
  if (est == 0 && active > 0) return penalty + active;
  return est * (active + 1);
}

/** Records an RTT: a higher sample replaces the estimate, a lower one is averaged in by elapsed time. */
export function peakEwmaObserve(base: usize, cap: u32, row: u32, now: f64, rttMs: f64, decayMs: f64): f64 {
  const c = <usize>cap;
  const r = <usize>row;
  const pEst = cell(base, c, COL_EST, r);
  const pStamp = cell(base, c, COL_STAMP, r);
  let est = load<f64>(pEst);
  if (est < rttMs) est = rttMs;
  else {
    let elapsed = now - load<f64>(pStamp);
    if (elapsed < 0) elapsed = 0;
    const decay = expNeg(elapsed / decayMs);
    est = est * decay + rttMs * (1 - decay);
  }
  store<f64>(pEst, est);
  store<f64>(pStamp, now);
  return est;
}

/**
 * exp(-t) for t >= 0, computed the same way as the TS twin (`expNeg` in bindings/balancing/policies/peak-ewma.ts) so the
 * two agree bit for bit (Math.exp differs between V8 and AssemblyScript in the last bit for ~7% of inputs).
 * The fdlibm/musl reduction exp(x) = 2^k × exp(r), |r| <= ln2/2, with its degree-5 rational approximation.
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
  } else if (t > 3.725290298461914e-9) {
    hi = x;
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

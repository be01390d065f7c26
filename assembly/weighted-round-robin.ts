// weighted_round_robin: nginx smooth weighted round robin, one selection round (nginx commit 52327e062,
// ngx_http_upstream_get_peer). Twin: bindings/balancing/swrr-step.ts (identical results).
import { cell, COL_CHECKED, COL_CW, COL_EW, COL_FAILS, COL_WEIGHT } from './picker';

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
 * `swrrStep` from a plain state (every effective weight at its weight, no failure counted: nothing is skipped or
 * recovers) over rows 0 .. count - 1, four at a time with SIMD (two f64x2 accumulators, so that each compare and
 * select waits on half the chain): current_weight += effective_weight; the first row of the strictly greatest
 * wins and loses `total` (the effective weights' sum in row order, as swrrStep adds it). The same numbers as
 * swrrStep, without its `checked` stamp, which only a counted failure reads.
 */
export function swrrPlainStep(base: usize, cap: u32, count: u32, total: f64): i32 {
  const pCw = cell(base, <usize>cap, COL_CW, 0);
  const pEw = cell(base, <usize>cap, COL_EW, 0);
  let va = f64x2.splat(-Infinity);
  let vb = va;
  let ia = i64x2.splat(0);
  let ib = ia;
  let idx = i64x2(0, 1);
  const two = i64x2.splat(2);
  const four = i64x2.splat(4);
  let k: u32 = 0;
  for (; k + 4 <= count; k += 4) {
    const o = <usize>k << 3;
    const a = f64x2.add(v128.load(pCw + o), v128.load(pEw + o));
    const b = f64x2.add(v128.load(pCw + o, 16), v128.load(pEw + o, 16));
    v128.store(pCw + o, a);
    v128.store(pCw + o, b, 16);
    const ga = f64x2.gt(a, va);
    const gb = f64x2.gt(b, vb);
    va = v128.bitselect(a, va, ga);
    ia = v128.bitselect(idx, ia, ga);
    vb = v128.bitselect(b, vb, gb);
    ib = v128.bitselect(i64x2.add(idx, two), ib, gb);
    idx = i64x2.add(idx, four);
  }
  // each lane holds the first greatest of its rows (k mod 4): the greatest wins, the earliest row on a tie
  let best = f64x2.extract_lane(va, 0);
  let at = i64x2.extract_lane(ia, 0);
  let v = f64x2.extract_lane(va, 1);
  let i = i64x2.extract_lane(ia, 1);
  if (v > best || (v == best && i < at)) {
    best = v;
    at = i;
  }
  v = f64x2.extract_lane(vb, 0);
  i = i64x2.extract_lane(ib, 0);
  if (v > best || (v == best && i < at)) {
    best = v;
    at = i;
  }
  v = f64x2.extract_lane(vb, 1);
  i = i64x2.extract_lane(ib, 1);
  if (v > best || (v == best && i < at)) {
    best = v;
    at = i;
  }
  for (; k < count; k++) {
    const o = <usize>k << 3;
    const c = load<f64>(pCw + o) + load<f64>(pEw + o);
    store<f64>(pCw + o, c);
    if (c > best) {
      best = c;
      at = k;
    }
  }
  store<f64>(pCw + (<usize>at << 3), best - total);
  return <i32>at;
}

// weighted_round_robin: nginx smooth weighted round robin, one selection round (nginx commit 52327e062,
// ngx_http_upstream_get_peer). Twin: bindings/balancing/policies/weighted-round-robin.ts (identical results).
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

// One selection round of nginx's smooth weighted round robin (nginx commit 52327e062, `ngx_http_upstream_get_peer`
// in src/http/ngx_http_upstream_round_robin.c), over the state table's columns: the TS twins of
// assembly/weighted-round-robin.ts (identical results, differential-tested). The picker that runs them is swrr.ts.
//
// Per pick, for each eligible member in list order: current_weight += effective_weight, total +=
// effective_weight, and effective_weight++ if it is below weight; the member with the strictly greatest
// current_weight (the first on ties) wins and loses `total`. A member is skipped while `maxFails` > 0,
// fails >= maxFails and now - checked <= failTimeoutMs; the winner's `checked` is set to now if it is older
// than failTimeoutMs. A failure does fails++, accessed = checked = now, effective_weight -= trunc(weight /
// maxFails) (floored at 0); a success clears fails if accessed < checked (weighted-round-robin.ts onDone).
import { COL_CHECKED, COL_CW, COL_EW, COL_FAILS, COL_WEIGHT } from './picker.js';

export interface SwrrExports {
  swrrStep(
    base: number,
    cap: number,
    rows: number,
    count: number,
    mask: number,
    maxFails: number,
    failTimeoutMs: number,
    now: number,
  ): number;
  swrrPlainStep(base: number, cap: number, count: number, total: number): number;
}

/** One nginx selection round over `rows` (TS twin of assembly/weighted-round-robin.ts swrrStep). */
export function swrrStepTs(
  f: Float64Array,
  cap: number,
  rows: Int32Array,
  count: number,
  mask: Uint8Array | null,
  maxFails: number,
  failTimeoutMs: number,
  now: number,
): number {
  const oCw = COL_CW * cap;
  const oEw = COL_EW * cap;
  const oW = COL_WEIGHT * cap;
  const oFails = COL_FAILS * cap;
  const oChecked = COL_CHECKED * cap;
  let best = -1;
  let bestCw = 0;
  let total = 0;
  for (let k = 0; k < count; k++) {
    const r = rows[k]!;
    if (mask !== null && mask[r] !== 0) continue;
    if (maxFails > 0 && f[oFails + r]! >= maxFails && now - f[oChecked + r]! <= failTimeoutMs) continue;
    const ew = f[oEw + r]!;
    const cw = f[oCw + r]! + ew;
    f[oCw + r] = cw;
    total += ew;
    const w = f[oW + r]!;
    if (ew < w) f[oEw + r] = ew + 1 < w ? ew + 1 : w; // nginx: ew++ (weights are integers there)
    if (best < 0 || cw > bestCw) {
      best = r;
      bestCw = cw;
    }
  }
  if (best < 0) return -1;
  f[oCw + best] = bestCw - total;
  if (now - f[oChecked + best]! > failTimeoutMs) f[oChecked + best] = now;
  return best;
}

/**
 * One nginx selection round from a plain state (every effective weight at its weight, no failure counted), as
 * `swrrStepTs` computes it there: nothing is skipped or recovers, `total` is the effective weights' sum in row
 * order, and only the `checked` stamp (read only once a failure is counted) is left out. TS twin of
 * assembly/weighted-round-robin.ts swrrPlainStep, which runs over rows 0 .. count - 1.
 */
export function swrrPlainStepTs(f: Float64Array, cap: number, rows: Int32Array, count: number, total: number): number {
  const oCw = COL_CW * cap;
  const oEw = COL_EW * cap;
  let best = -1;
  let bestCw = -Infinity;
  for (let k = 0; k < count; k++) {
    const r = rows[k]!;
    const cw = f[oCw + r]! + f[oEw + r]!;
    f[oCw + r] = cw;
    if (cw > bestCw) {
      best = r;
      bestCw = cw;
    }
  }
  f[oCw + best] = bestCw - total;
  return best;
}

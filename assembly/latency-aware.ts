// latency_aware: the latency-aware score of docs/design.md, a scan of the eligible rows.
// Twin: bindings/balancing/policies/latency-aware.ts (identical results).
import { cell, COL_ACTIVE, COL_AVG_RTT } from './picker';

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

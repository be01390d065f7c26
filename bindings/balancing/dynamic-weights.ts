// Weights learned at run time, an option of the weighted policies:
//
// - `dynamicWeights` (docs/design.md, "Dynamic weights"): after each completion, score = 0.7 × accuracy +
//   0.3 × (1 − delay) with accuracy = 1 for ok, 0 for a failure and delay = min(1, rttMs / maxRttMs); the
//   member's factor w ← (1 − α) w + α × score (α = 0.1), clamped to [0.1, 1]; its weight is the configured
//   weight × w.
// - `loadReports` (gRPC A58 weighted_round_robin, grpc-js `load-balancer-weighted-round-robin.ts`): backends
//   report { qps, eps, utilization } (ORCA); weight = qps / (utilization + eps / qps × errorUtilizationPenalty),
//   clamped to [LOAD_WEIGHT_MIN, LOAD_WEIGHT_MAX] (1e-12, 1e12) so that extreme reports (qps 1e30 at
//   utilization 1e-10 is Infinity) stay finite and usable by every scheduler.
//   A member's weight counts only after `blackoutPeriodMs` of continuous reports and until
//   `weightExpirationPeriodMs` after the last one; members without a usable weight get the mean of the others
//   (or their configured weight when no member has one).
// - `slowStart` (Envoy, slow-start.ts): a member added or recovered ramps its weight up over a window.
//
// The Balancer applies new weights (`applyWeights`: configured or load-report weight × dynamic factor × slow
// start) every `weightUpdatePeriodMs`, rebuilding the picker if any changed.
import { asObject, checkKeys, durationMs, num, pickKey } from './policy-config.js';
import {
  COL_ADDED_AT,
  COL_BASE_WEIGHT,
  COL_DYN,
  COL_LOAD_AT,
  COL_LOAD_SINCE,
  COL_LOAD_WEIGHT,
  COL_WEIGHT,
  type StateTable,
} from './picker.js';
import { parseSlowStart, slowStartFactor, type SlowStartConfig } from './slow-start.js';
import { rangeError, typeError } from '../util/validate.js';

export interface DynamicWeightsConfig {
  alpha: number;
  accuracyWeight: number;
  delayWeight: number;
  maxRttMs: number;
  minFactor: number;
  maxFactor: number;
}

export interface LoadReportConfig {
  blackoutPeriodMs: number;
  weightExpirationPeriodMs: number;
  errorUtilizationPenalty: number;
}

export interface LoadReport {
  qps: number;
  /** Errors per second (default 0). */
  eps?: number;
  /** application_utilization if > 0, else cpu_utilization (A58). */
  utilization: number;
}

export function parseDynamicWeights(json: unknown, field: string): DynamicWeightsConfig {
  const o = asObject(field, json === true ? {} : json);
  checkKeys(field, o, [
    'alpha',
    'accuracyWeight',
    'accuracy_weight',
    'delayWeight',
    'delay_weight',
    'maxRttMs',
    'max_rtt',
  ]);
  return {
    alpha: num(field, o, 'alpha', 'alpha', 0.1, Number.MIN_VALUE, 1),
    accuracyWeight: num(field, o, 'accuracyWeight', 'accuracy_weight', 0.7, 0, 1),
    delayWeight: num(field, o, 'delayWeight', 'delay_weight', 0.3, 0, 1),
    maxRttMs: durationMs(field, o, 'maxRttMs', 'max_rtt', 500, Number.MIN_VALUE),
    minFactor: 0.1,
    maxFactor: 1,
  };
}

/** gRPC A58 field names (blackout_period, weight_expiration_period, error_utilization_penalty). */
export function parseLoadReports(json: unknown, field: string): LoadReportConfig {
  const o = asObject(field, json === true ? {} : json);
  checkKeys(field, o, [
    'blackoutPeriodMs',
    'blackout_period',
    'weightExpirationPeriodMs',
    'weight_expiration_period',
    'errorUtilizationPenalty',
    'error_utilization_penalty',
  ]);
  return {
    blackoutPeriodMs: durationMs(field, o, 'blackoutPeriodMs', 'blackout_period', 10_000),
    weightExpirationPeriodMs: durationMs(field, o, 'weightExpirationPeriodMs', 'weight_expiration_period', 180_000),
    errorUtilizationPenalty: num(field, o, 'errorUtilizationPenalty', 'error_utilization_penalty', 1, 0, 1e9),
  };
}

/** The docs/design.md "Dynamic weights" update of a factor after one completion. */
export function updateDynamicFactor(c: DynamicWeightsConfig, factor: number, ok: boolean, rttMs: number): number {
  const delay = rttMs === rttMs ? Math.min(1, rttMs / c.maxRttMs) : 0;
  const score = c.accuracyWeight * (ok ? 1 : 0) + c.delayWeight * (1 - delay);
  const w = (1 - c.alpha) * factor + c.alpha * score;
  return Math.max(c.minFactor, Math.min(c.maxFactor, w));
}

/** Bounds of a load-report weight (see the header). */
export const LOAD_WEIGHT_MIN = 1e-12;
export const LOAD_WEIGHT_MAX = 1e12;
/** The least weight a ramping member gets: the smallest normal float32 (stride weights are float32). */
const F32_MIN_NORMAL = 2 ** -126;

/** A58 weight of one report, in [LOAD_WEIGHT_MIN, LOAD_WEIGHT_MAX] (0 when it carries no usable signal). */
export function loadReportWeight(c: LoadReportConfig, r: LoadReport): number {
  const eps = r.eps ?? 0;
  if (!(r.qps > 0) || !(r.utilization > 0)) return 0;
  // no penalty term without errors or penalty (else eps / qps = Infinity times 0 would make NaN)
  const penalty = eps > 0 && c.errorUtilizationPenalty > 0 ? (eps / r.qps) * c.errorUtilizationPenalty : 0;
  const w = r.qps / (r.utilization + penalty); // in [0, Infinity]: an overflow or underflow is clamped
  return Math.min(LOAD_WEIGHT_MAX, Math.max(LOAD_WEIGHT_MIN, w));
}

/** How a weighted policy's weights change at run time (all optional). */
export interface Weighting {
  slowStart?: SlowStartConfig;
  dynamic?: DynamicWeightsConfig;
  loadReports?: LoadReportConfig;
  /** How often new weights are applied (gRPC weight_update_period, default 1 s; min 100 ms). */
  updatePeriodMs: number;
}

/**
 * Load-report options given flat beside the policy's, as gRPC A58's weighted_round_robin config spells them
 * (`enable_oob_load_report` is accepted and ignored: reports arrive through `reportLoad` / `done({ load })`).
 */
const A58_KEYS = [
  'blackout_period',
  'blackoutPeriodMs',
  'weight_expiration_period',
  'weightExpirationPeriodMs',
  'error_utilization_penalty',
  'errorUtilizationPenalty',
  'enable_oob_load_report',
];

/** Option keys a weighted policy accepts for its Weighting. */
// built by a pure call so that bundlers drop it (and A58_KEYS) where nothing reads it
export const WEIGHTING_KEYS: readonly string[] = /* @__PURE__ */ (() => [
  'slowStart',
  'slow_start_config',
  'dynamicWeights',
  'dynamic_weights',
  'loadReports',
  'load_reports',
  ...A58_KEYS,
  'oob_reporting_period',
  'weight_update_period',
  'weightUpdatePeriodMs',
])();

/** The Weighting in a policy's options, or undefined when none is asked for. */
export function parseWeighting(o: Record<string, unknown>, field: string): Weighting | undefined {
  const w: Weighting = {
    updatePeriodMs: durationMs(field, o, 'weightUpdatePeriodMs', 'weight_update_period', 1000, 100),
  };
  // undefined only is absent: null (false for slowStart) is a TypeError naming the key
  const ss = pickKey(o, 'slowStart', 'slow_start_config', field);
  if (ss !== undefined) w.slowStart = parseSlowStart(ss[1], `${field}.${ss[0]}`);
  const dw = pickKey(o, 'dynamicWeights', 'dynamic_weights', field);
  if (dw !== undefined && dw[1] !== false) w.dynamic = parseDynamicWeights(dw[1], `${field}.${dw[0]}`);
  const lr = pickKey(o, 'loadReports', 'load_reports', field);
  if (lr !== undefined && lr[1] !== false) w.loadReports = parseLoadReports(lr[1], `${field}.${lr[0]}`);
  else if (A58_KEYS.some((k) => o[k] !== undefined)) {
    const sub: Record<string, unknown> = {};
    for (const k of A58_KEYS) if (o[k] !== undefined && k !== 'enable_oob_load_report') sub[k] = o[k];
    w.loadReports = parseLoadReports(sub, field);
  }
  return w.slowStart === undefined && w.dynamic === undefined && w.loadReports === undefined ? undefined : w;
}

/** Checks a load report: { qps, eps?, utilization }, each a finite number >= 0. */
export function validateLoadReport(field: string, report: unknown): LoadReport {
  if (report === null || typeof report !== 'object')
    throw typeError(field, 'an object { qps, eps?, utilization }', report);
  const r = report as Record<string, unknown>;
  for (const k of ['qps', 'utilization', 'eps'] as const) {
    const v = r[k];
    if (v === undefined && k === 'eps') continue;
    if (typeof v !== 'number') throw typeError(`${field}.${k}`, 'a finite number >= 0', v);
    if (!Number.isFinite(v) || v < 0) throw rangeError(`${field}.${k}`, 'a finite number >= 0', v);
  }
  return report as LoadReport;
}

/** Records a load report's weight for `row` (A58: the blackout starts with the first of a run of reports). */
export function recordLoadReport(c: LoadReportConfig, t: StateTable, row: number, r: LoadReport, now: number): void {
  const w = loadReportWeight(c, r);
  if (w <= 0) return; // no usable signal (A58 ignores it)
  if (t.get(COL_LOAD_WEIGHT, row) === 0) t.set(COL_LOAD_SINCE, row, now);
  t.set(COL_LOAD_WEIGHT, row, w);
  t.set(COL_LOAD_AT, row, now);
}

/**
 * A row's load-report weight if usable now: past the blackout (from its first report, or from its return to
 * rotation), not expired (an expired one is cleared).
 */
function usableLoadWeight(c: LoadReportConfig, t: StateTable, r: number, now: number): number {
  const w = t.get(COL_LOAD_WEIGHT, r);
  if (w === 0) return 0;
  if (now - t.get(COL_LOAD_AT, r) >= c.weightExpirationPeriodMs) {
    t.set(COL_LOAD_WEIGHT, r, 0); // expired: the blackout starts again with the next report
    return 0;
  }
  // the blackout also restarts when the member comes back into rotation (COL_ADDED_AT: added or recovered), as
  // gRPC restarts it when an endpoint becomes READY again (grpc-go resets nonEmptySince)
  const since = Math.max(t.get(COL_LOAD_SINCE, r), t.get(COL_ADDED_AT, r));
  if (c.blackoutPeriodMs > 0 && now - since < c.blackoutPeriodMs) return 0;
  return w;
}

/**
 * Sets COL_WEIGHT of rows [0, n) from the configured weight (or the load-report weight; A58: rows without
 * one get the mean of those with one among the members in rotation, `members`), × the dynamic factor, × the
 * slow-start factor. True if any changed.
 */
export function applyWeights(
  wt: Weighting,
  t: StateTable,
  n: number,
  now: number,
  members: { isAvailableRow(row: number): boolean },
): boolean {
  let loadSum = 0;
  let loadCount = 0;
  const lr = wt.loadReports;
  if (lr !== undefined) {
    for (let r = 0; r < n; r++) {
      const w = usableLoadWeight(lr, t, r, now);
      // the mean is over the members in rotation (A58: the endpoints of the picker, which are READY)
      if (w > 0 && members.isAvailableRow(r)) {
        loadSum += w;
        loadCount++;
      }
    }
  }
  let changed = false;
  for (let r = 0; r < n; r++) {
    let w = t.get(COL_BASE_WEIGHT, r);
    if (lr !== undefined && loadCount > 0) {
      const lw = usableLoadWeight(lr, t, r, now);
      w = lw > 0 ? lw : loadSum / loadCount;
    }
    if (wt.dynamic !== undefined) w *= t.get(COL_DYN, r);
    // a ramping member's weight stays > 0 as a float32 (gRPC's stride weights) when pow underflows (aggression
    // near 0): 0 reads as 'unknown'
    if (wt.slowStart !== undefined && w > 0)
      w = Math.max(w * slowStartFactor(wt.slowStart, now - t.get(COL_ADDED_AT, r)), F32_MIN_NORMAL);
    if (t.get(COL_WEIGHT, r) !== w) {
      t.set(COL_WEIGHT, r, w);
      changed = true;
    }
  }
  return changed;
}

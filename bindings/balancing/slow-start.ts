// Slow start (Envoy `slow_start_config`, load_balancing_policies/common): a member added after the balancer's
// first membership, or available again after being excluded, ramps up its weight over `windowMs`:
//   weight × max(minWeightPercent / 100, (t / windowMs)^(1 / aggression)),  t = time since it was added
// (defaults: aggression 1, minWeightPercent 10). Applies to weighted policies (weighted_round_robin,
// least_request); the Balancer re-evaluates weights every `updateIntervalMs` while a member is warming up.
import { asObject, checkKeys, durationMs, num, unwrap } from './policy-config.js';

export interface SlowStartConfig {
  windowMs: number;
  aggression: number;
  minWeightPercent: number;
}

/**
 * Envoy JSON (`slow_start_window: "30s"`, `aggression: { default_value: 1, runtime_key }` (a RuntimeDouble: the
 * key is ignored, there is no runtime), `min_weight_percent: { value: 10 }`, or the bare numbers) or camelCase.
 */
export function parseSlowStart(json: unknown, field: string): SlowStartConfig {
  const o = asObject(field, json);
  checkKeys(field, o, ['windowMs', 'slow_start_window', 'aggression', 'minWeightPercent', 'min_weight_percent']);
  const ag = unwrap(field, o, 'aggression', 'default_value', ['runtime_key']);
  const mw = unwrap(field, o, 'min_weight_percent');
  return {
    windowMs: durationMs(field, o, 'windowMs', 'slow_start_window', 0, Number.MIN_VALUE),
    aggression: num(field, ag, 'aggression', 'aggression', 1, Number.MIN_VALUE, 1e6),
    minWeightPercent: num(field, mw, 'minWeightPercent', 'min_weight_percent', 10, 0, 100),
  };
}

/** The weight multiplier at `sinceMs` after the member was added (1 once the window has passed). */
export function slowStartFactor(c: SlowStartConfig, sinceMs: number): number {
  if (!(sinceMs < c.windowMs)) return 1;
  // Envoy's time factor, max(1 ms, t) / window: never 0, so a new member's weight is small, not 0 (which the
  // stride scheduler reads as "unknown" and gives the mean)
  const t = Math.min(1, Math.max(1, sinceMs) / c.windowMs);
  const f = c.aggression === 1 ? t : Math.pow(t, 1 / c.aggression);
  return Math.max(c.minWeightPercent / 100, f);
}

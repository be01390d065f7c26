// Run-time weights (dynamic-weights.ts: slow start, dynamic weights, load reports) as the Balancer's plug-in:
// the Balancer applies them only for a policy that carries a `weighting`, so it reaches that code through this
// object. The complete Balancer always has WEIGHT_RUNNER; `switchyard/lite` has it once a weighted built-in
// policy (weightedRoundRobinPolicy, leastRequestPolicy) or `registerRunTimeWeights()` registered it, and
// refuses a policy with a `weighting` before that (docs/browsers.md).
import { applyWeights, recordLoadReport, updateDynamicFactor, validateLoadReport } from './dynamic-weights.js';

export interface WeightRunner {
  apply: typeof applyWeights;
  record: typeof recordLoadReport;
  dynamic: typeof updateDynamicFactor;
  /** Checks a load report (Balancer.reportLoad, done({ load })). */
  validate: typeof validateLoadReport;
}

export const WEIGHT_RUNNER: WeightRunner = {
  apply: applyWeights,
  record: recordLoadReport,
  dynamic: updateDynamicFactor,
  validate: validateLoadReport,
};

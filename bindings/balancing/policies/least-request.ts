// least_request: power of d choices (bindings/balancing/p2c.ts) over requests in flight (Envoy
// `load_balancing_policies/least_request`). `choiceCount` distinct members are sampled and the one with the
// fewest active requests wins, the first sampled on ties. When the eligible members' weights differ, members
// compare by Envoy's weighted form: the higher `weight / (active + 1)^activeRequestBias` wins (Envoy feeds
// that weight to an EDF scheduler; here it is the P2C load, so a pick stays O(1)).
//
// A pick reads two cells of the state table; a JS→WASM call alone costs about as much as a whole TS pick
// (bench/policies.bench.ts, the peakEwmaCost kernel rows), so picks run in TS over the table (which lives
// in WASM memory under the 'wasm' backend).
//
//   new Balancer({ policy: { name: 'least_request', choiceCount: 2 } })
import { asObject, checkKeys, int, num } from '../policy-config.js';
import { parseWeighting, WEIGHTING_KEYS, type Weighting } from '../dynamic-weights.js';
import { COL_ACTIVE, COL_WEIGHT, type Picker, type Policy, type PolicyEnv } from '../picker.js';
import { type LoadMetric, P2CPicker } from '../p2c.js';

export interface LeastRequestConfig {
  /** Members sampled per pick, >= 2 (default 2). */
  choiceCount: number;
  /** Envoy's active_request_bias (default 1). */
  activeRequestBias: number;
  /** Slow start, dynamic weights, load reports. */
  weighting?: Weighting;
}

export function parseLeastRequest(json: unknown, field = 'least_request'): LeastRequestConfig {
  const o = asObject(field, json);
  checkKeys(field, o, ['choiceCount', 'choice_count', 'activeRequestBias', 'active_request_bias', ...WEIGHTING_KEYS]);
  const c: LeastRequestConfig = {
    choiceCount: int(field, o, 'choiceCount', 'choice_count', 2, 2, 0x7fffffff),
    activeRequestBias: num(field, o, 'activeRequestBias', 'active_request_bias', 1, 0, 1e6),
  };
  const w = parseWeighting(o, field);
  if (w !== undefined) c.weighting = w;
  return c;
}

/** Requests in flight; with differing weights Envoy's (active + 1)^bias / weight (lower is better). */
class ActiveRequests implements LoadMetric {
  private f: Float64Array = new Float64Array(0);
  private cap = 0;
  constructor(
    private readonly env: PolicyEnv,
    private readonly weighted: boolean,
    private readonly bias: number,
  ) {}

  prepare(): void {
    const t = this.env.table;
    this.f = t.f;
    this.cap = t.cap;
  }

  load(r: number): number {
    const active = this.f[COL_ACTIVE * this.cap + r]!;
    if (!this.weighted) return active;
    const bias = this.bias;
    const load = bias === 1 ? active + 1 : bias === 0 ? 1 : Math.pow(active + 1, bias);
    return load / this.f[COL_WEIGHT * this.cap + r]!;
  }
}

export class LeastRequestPolicy implements Policy {
  readonly name = 'least_request';
  readonly weighting: Weighting | undefined;
  readonly usesRtt: boolean;
  constructor(readonly config: LeastRequestConfig = parseLeastRequest({})) {
    this.weighting = config.weighting;
    this.usesRtt = config.weighting?.dynamic !== undefined;
  }

  build(rows: Int32Array, env: PolicyEnv): Picker {
    let weighted = false;
    for (let k = 1; k < rows.length; k++) {
      if (env.table.get(COL_WEIGHT, rows[k]!) !== env.table.get(COL_WEIGHT, rows[0]!)) weighted = true;
    }
    const metric = new ActiveRequests(env, weighted, this.config.activeRequestBias);
    return new P2CPicker(rows, env, this.config.choiceCount, metric);
  }
}

// least_request: Envoy's `load_balancing_policies/least_request`. With equal weights, power of d choices
// (bindings/balancing/p2c.ts) over requests in flight: `choiceCount` distinct members are sampled and the one with
// the fewest active requests wins, the first sampled on ties. When the eligible members' weights differ, Envoy's
// EDF (`EdfLoadBalancerBase::chooseHostOnce`, `pickAndAdd`): each member has a deadline; a pick takes the earliest
// (ties: the earliest queued) and queues it again at that deadline + 1 / (weight / (active + 1)^activeRequestBias),
// its weight as of the pick. Idle members get picks in proportion to their weights; busy ones fall behind. (The
// weighted form used to be the P2C load, under which the lighter member of an idle pair never won: weights 3 and
// 1 gave 4000 picks to 0.) O(log n) per pick on edf.ts's tournament tree (ties to the earliest queued); a retry's
// excluded members keep their deadlines. Pick + done 0.50 / 0.41 / 0.31 x round robin's at 8 / 64 / 1024
// members, each in its own process beside one (bench/results/policies.json; a binary heap was 0.25 / 0.19 at 64 /
// 1024).
//
// A pick reads two cells of the state table; a JS→WASM call alone costs about as much as a whole TS pick
// (bench/policies.bench.ts, the peakEwmaCost kernel rows), so picks run in TS over the table (which lives
// in WASM memory under the 'wasm' backend).
//
//   new Balancer({ policy: { name: 'least_request', choiceCount: 2 } })
import { asObject, checkKeys, int, num } from '../policy-config.js';
import { parseWeighting, WEIGHTING_KEYS, type Weighting } from '../dynamic-weights.js';
import { COL_ACTIVE, COL_WEIGHT, type PickContext, type Picker, type Policy, type PolicyEnv } from '../picker.js';
import { type LoadMetric, P2CPicker } from '../p2c.js';
import { TreeEdf } from '../edf.js';

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

/** Requests in flight (members of equal weight). */
class ActiveRequests implements LoadMetric {
  private f: Float64Array = new Float64Array(0);
  private cap = 0;
  constructor(private readonly env: PolicyEnv) {}

  prepare(): void {
    const t = this.env.table;
    this.f = t.f;
    this.cap = t.cap;
  }

  load(r: number): number {
    return this.f[COL_ACTIVE * this.cap + r]!;
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
    if (weighted) return new WeightedLeastRequest(rows, env, this.config.activeRequestBias);
    return new P2CPicker(rows, env, this.config.choiceCount, new ActiveRequests(env));
  }
}

/**
 * Envoy's weighted least request: EDF over `weight / (active + 1)^bias`, each member's weight taken when it is
 * picked (see the header), on edf.ts's tournament tree. Its entries are indices k into `rows`.
 */
class WeightedLeastRequest implements Picker {
  private readonly edf: TreeEdf;

  constructor(
    readonly rows: Int32Array,
    private readonly env: PolicyEnv,
    private readonly bias: number,
  ) {
    const n = rows.length;
    const weights = new Float64Array(n);
    for (let k = 0; k < n; k++) weights[k] = this.weight(k);
    const entries = Int32Array.from({ length: n }, (_, k) => k);
    this.edf = new TreeEdf(entries, weights, (k) => 1 / this.weight(k));
  }

  /** `weight / (active + 1)^bias` of rows[k] now. */
  private weight(k: number): number {
    const t = this.env.table;
    const r = this.rows[k]!;
    const bias = this.bias;
    const active = t.f[COL_ACTIVE * t.cap + r]!;
    const load = bias === 1 ? active + 1 : bias === 0 ? 1 : Math.pow(active + 1, bias);
    return t.f[COL_WEIGHT * t.cap + r]! / load;
  }

  pick(ctx: PickContext | undefined): number {
    const ex = ctx?.exclude;
    let k: number;
    if (ex === undefined || ex.size === 0) k = this.edf.pick();
    else {
      const ids = this.env.ids;
      const rows = this.rows;
      k = this.edf.pick((j) => ex.has(ids[rows[j]!]!));
    }
    return k < 0 ? -1 : this.rows[k]!;
  }
}

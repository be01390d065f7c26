// least_request: power of d choices over in-flight requests (Mitzenmacher, "The Power of Two Choices in
// Randomized Load Balancing"; Envoy `load_balancing_policies/least_request`). `choiceCount` distinct members
// are sampled (Envoy samples with replacement and may compare a member with itself; we never do) and the
// one with the fewest active requests wins, the first sampled on ties. When the eligible members' weights
// differ, members compare by Envoy's weighted form: the higher `weight / (active + 1)^activeRequestBias`
// wins (Envoy feeds that weight to an EDF scheduler; here it is the P2C metric, so a pick stays O(1)).
//
// A pick reads two cells of the state table; a JS→WASM call alone costs about as much as a whole TS pick
// (bench/policies.bench.ts, the peakEwmaCost kernel rows), so picks run in TS over the table (which lives
// in WASM memory under the 'wasm' backend).
//
//   new Balancer({ policy: { name: 'least_request', choiceCount: 2 } })
import { asObject, checkKeys, int, num } from '../policy-config.js';
import { parseWeighting, WEIGHTING_KEYS, type Weighting } from '../dynamic-weights.js';
import {
  COL_ACTIVE,
  COL_WEIGHT,
  filterExcluded,
  type Picker,
  type PickContext,
  type Policy,
  type PolicyEnv,
} from '../picker.js';
import { sampleDistinct } from './peak-ewma.js';

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

class LeastRequestPicker implements Picker {
  private readonly scratch: Int32Array;
  private readonly chosen: Int32Array;
  constructor(
    readonly rows: Int32Array,
    private readonly env: PolicyEnv,
    private readonly config: LeastRequestConfig,
    private readonly weighted: boolean,
  ) {
    this.scratch = new Int32Array(rows.length);
    this.chosen = new Int32Array(config.choiceCount);
  }

  /** Lower is better. */
  private cost(f: Float64Array, cap: number, r: number): number {
    const active = f[COL_ACTIVE * cap + r]!;
    if (!this.weighted) return active;
    const bias = this.config.activeRequestBias;
    const load = bias === 1 ? active + 1 : bias === 0 ? 1 : Math.pow(active + 1, bias);
    return load / f[COL_WEIGHT * cap + r]!;
  }

  pick(ctx: PickContext | undefined): number {
    let cand = this.rows;
    let m = cand.length;
    const ex = ctx?.exclude;
    if (ex !== undefined && ex.size > 0) {
      m = filterExcluded(cand, this.env.ids, ex, this.scratch);
      cand = this.scratch;
    }
    if (m <= 1) return m === 0 ? -1 : cand[0]!;
    const t = this.env.table;
    const f = t.f;
    const random = this.env.random;
    if (this.config.choiceCount === 2 || m === 2) {
      const a = Math.floor(random() * m);
      let b = Math.floor(random() * (m - 1));
      if (b >= a) b++;
      const ra = cand[a]!;
      const rb = cand[b]!;
      return this.cost(f, t.cap, rb) < this.cost(f, t.cap, ra) ? rb : ra;
    }
    const c = sampleDistinct(random, m, this.config.choiceCount, this.chosen);
    let best = cand[this.chosen[0]!]!;
    let bestCost = this.cost(f, t.cap, best);
    for (let i = 1; i < c; i++) {
      const r = cand[this.chosen[i]!]!;
      const cost = this.cost(f, t.cap, r);
      if (cost < bestCost) {
        best = r;
        bestCost = cost;
      }
    }
    return best;
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
    return new LeastRequestPicker(rows, env, this.config, weighted);
  }
}

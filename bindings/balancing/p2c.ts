// Power of d choices (Mitzenmacher, "The Power of Two Choices in Randomized Load Balancing", 2001; tower
// `balance/p2c`, Envoy `least_request`, Finagle `P2CPeakEwma`): sample `choiceCount` distinct eligible members
// uniformly and pick the one with the lowest load. One picker for every P2C policy, generic over the load
// metric (tower's `Load` trait): least_request ranks by requests in flight, peak_ewma by Peak-EWMA cost.
//
// Rules (the seeded sequences the tests pin depend on them):
// - never compares a member with itself: with d = 2 (or two candidates) a = ⌊r₁·m⌋, b = ⌊r₂·(m − 1)⌋, b++
//   if b >= a, a uniform pair of distinct indices (Envoy samples with replacement and may compare a member
//   with itself; we never do);
// - with d > 2, Floyd's algorithm draws d distinct indices (`sampleDistinct`);
// - the strictly lower load wins; ties go to the first sampled (with d = 2: `a`);
// - excluded members (ctx.exclude) are removed before sampling; one candidate is picked without a draw.
//
//   const picker = new P2CPicker(rows, env, 2, { prepare() {}, load: (row) => active[row] });
import { filterExcluded, type Picker, type PickContext, type PolicyEnv } from './picker.js';
import type { Random } from '../util/random.js';

/**
 * A member's load, lower is better (tower's `Load`). `prepare(now)` runs once per pick before the first
 * `load`, and only when there is a choice to make: read the clock (`now` is NaN when the Balancer took no
 * reading) or re-read the state table's view there. `load(row)` may update the row's state (Peak-EWMA
 * decays its estimate when read); it is called for each sampled row, the second-sampled one first when d = 2.
 */
export interface LoadMetric {
  prepare(now: number): void;
  load(row: number): number;
}

export class P2CPicker implements Picker {
  private readonly scratch: Int32Array;
  private readonly chosen: Int32Array;

  constructor(
    readonly rows: Int32Array,
    private readonly env: PolicyEnv,
    private readonly choiceCount: number,
    private readonly metric: LoadMetric,
  ) {
    this.scratch = new Int32Array(rows.length);
    this.chosen = new Int32Array(choiceCount);
  }

  pick(ctx: PickContext | undefined, now: number): number {
    let cand = this.rows;
    let m = cand.length;
    const ex = ctx?.exclude;
    if (ex !== undefined && ex.size > 0) {
      m = filterExcluded(cand, this.env.ids, ex, this.scratch);
      cand = this.scratch;
    }
    if (m <= 1) return m === 0 ? -1 : cand[0]!;
    const metric = this.metric;
    metric.prepare(now);
    const random = this.env.random;
    if (this.choiceCount === 2 || m === 2) {
      const a = Math.floor(random() * m);
      let b = Math.floor(random() * (m - 1));
      if (b >= a) b++;
      const ra = cand[a]!;
      const rb = cand[b]!;
      return metric.load(rb) < metric.load(ra) ? rb : ra;
    }
    const c = sampleDistinct(random, m, this.choiceCount, this.chosen);
    let best = cand[this.chosen[0]!]!;
    let bestLoad = metric.load(best);
    for (let i = 1; i < c; i++) {
      const r = cand[this.chosen[i]!]!;
      const l = metric.load(r);
      if (l < bestLoad) {
        best = r;
        bestLoad = l;
      }
    }
    return best;
  }
}

/**
 * min(k, m) distinct indices in [0, m), in `out` (Floyd's algorithm; no allocation). Returns the count.
 * For k >= m every index, in order.
 */
export function sampleDistinct(random: Random, m: number, k: number, out: Int32Array): number {
  if (k >= m) {
    for (let i = 0; i < m; i++) out[i] = i;
    return m;
  }
  let c = 0;
  for (let j = m - k; j < m; j++) {
    const t = Math.floor(random() * (j + 1));
    let seen = false;
    for (let i = 0; i < c; i++) if (out[i] === t) seen = true;
    out[c++] = seen ? j : t;
  }
  return c;
}

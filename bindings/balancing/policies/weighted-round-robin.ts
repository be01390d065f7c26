// weighted_round_robin: nginx's smooth weighted round robin by default, exactly (bindings/balancing/swrr.ts:
// nginx's selection, failure accounting, and a precomputed period where the weights have one).
// `scheduler: 'edf'` swaps in Envoy's EDF (bindings/balancing/edf.ts): O(log n); `scheduler: 'stride'` gRPC's
// static stride scheduler (bindings/balancing/stride.ts): O(1) expected, the default with run-time weights
// (dynamicWeights, loadReports) as in gRPC's weighted_round_robin, whose weights have no period to precompute.
// Neither keeps nginx's failure accounting.
//
//   weights a=5 b=1 c=1 → a a b a c a a (then again)
import { asObject, checkKeys, durationMs, int } from '../policy-config.js';
import { EdfScheduler } from '../edf.js';
import { StrideScheduler } from '../stride.js';
import { SwrrPicker } from '../swrr.js';
import { parseWeighting, WEIGHTING_KEYS, type Weighting } from '../dynamic-weights.js';
import { rangeError } from '../../util/validate.js';
import {
  COL_ACCESSED,
  COL_CHECKED,
  COL_CW,
  COL_EW,
  COL_FAILS,
  COL_WEIGHT,
  type Picker,
  type PickContext,
  type Policy,
  type PolicyEnv,
  type StateTable,
} from '../picker.js';

export interface WeightedRoundRobinConfig {
  /** nginx max_fails (default 1); 0 disables failure accounting. */
  maxFails: number;
  /** nginx fail_timeout in ms (default 10 000). */
  failTimeoutMs: number;
  /** Slow start, dynamic weights, load reports (weights may then be fractional: no table, live steps). */
  weighting?: Weighting;
  /**
   * 'nginx' (exact), 'edf' (Envoy's earliest deadline first) or 'stride' (gRPC's static stride scheduler);
   * the last two keep no max_fails accounting. Default: 'stride' with dynamicWeights or loadReports, else 'nginx'.
   */
  scheduler?: WrrScheduler;
}

export type WrrScheduler = 'nginx' | 'edf' | 'stride';

export const DEFAULT_MAX_FAILS = 1;
export const DEFAULT_FAIL_TIMEOUT_MS = 10_000;

export function parseWeightedRoundRobin(json: unknown, field = 'weighted_round_robin'): WeightedRoundRobinConfig {
  const o = asObject(field, json);
  checkKeys(field, o, ['maxFails', 'max_fails', 'failTimeoutMs', 'fail_timeout', 'scheduler', ...WEIGHTING_KEYS]);
  const c: WeightedRoundRobinConfig = {
    maxFails: int(field, o, 'maxFails', 'max_fails', DEFAULT_MAX_FAILS, 0, 0x7fffffff),
    failTimeoutMs: durationMs(field, o, 'failTimeoutMs', 'fail_timeout', DEFAULT_FAIL_TIMEOUT_MS),
  };
  const w = parseWeighting(o, field);
  if (w !== undefined) c.weighting = w;
  if (o.scheduler !== undefined) {
    if (o.scheduler !== 'nginx' && o.scheduler !== 'edf' && o.scheduler !== 'stride')
      throw rangeError(`${field}.scheduler`, "'nginx', 'edf' or 'stride'", o.scheduler);
    c.scheduler = o.scheduler;
  }
  return c;
}

/** COL_WEIGHT of each of `rows` (a loop: Float64Array.from with a map function took ~60 µs at 1024 rows). */
function weightsOf(rows: Int32Array, t: StateTable): Float64Array {
  const f = t.f;
  const o = COL_WEIGHT * t.cap;
  const w = new Float64Array(rows.length);
  for (let k = 0; k < rows.length; k++) w[k] = f[o + rows[k]!]!;
  return w;
}

/** Envoy's EDF over the eligible rows' current weights (rebuilt with every picker). */
class EdfPicker implements Picker {
  private readonly edf: EdfScheduler;
  constructor(
    readonly rows: Int32Array,
    private readonly env: PolicyEnv,
  ) {
    this.edf = new EdfScheduler(rows, weightsOf(rows, env.table));
  }

  pick(ctx: PickContext | undefined): number {
    const ex = ctx?.exclude;
    if (ex === undefined || ex.size === 0) return this.edf.pick();
    const ids = this.env.ids;
    return this.edf.pick((r) => ex.has(ids[r]!));
  }
}

/** gRPC's static stride scheduler over the eligible rows' current weights (rebuilt with every picker). */
class StridePicker implements Picker {
  readonly stride: StrideScheduler;
  constructor(
    readonly rows: Int32Array,
    private readonly env: PolicyEnv,
    seq: number,
  ) {
    this.stride = new StrideScheduler(rows, weightsOf(rows, env.table), seq);
  }

  pick(ctx: PickContext | undefined): number {
    const ex = ctx?.exclude;
    if (ex === undefined || ex.size === 0) return this.stride.pick();
    const ids = this.env.ids;
    return this.stride.pick((r) => ex.has(ids[r]!));
  }
}

/** The scheduler a config runs: its own, else 'stride' with run-time weights (as gRPC), else 'nginx'. */
export function wrrScheduler(config: WeightedRoundRobinConfig): WrrScheduler {
  if (config.scheduler !== undefined) return config.scheduler;
  const w = config.weighting;
  return w?.dynamic !== undefined || w?.loadReports !== undefined ? 'stride' : 'nginx';
}

export class WeightedRoundRobinPolicy implements Policy {
  readonly name = 'weighted_round_robin';
  readonly weighting: Weighting | undefined;
  readonly usesRtt: boolean;
  readonly scheduler: WrrScheduler;
  /**
   * The nginx picker of each slot: a Balancer with priority levels or localities keeps one per slot alive (a
   * row may be in two: its level's and its locality's), so a failure goes to every picker holding its row.
   */
  private slots = new Map<string, SwrrPicker>();
  /** A picker was built since the last membership change: nginx's numbers are in play. */
  private built = false;
  /** The stride picker built last: the next one continues its sequence (gRPC keeps one per policy). */
  private lastStride: StridePicker | null = null;

  constructor(readonly config: WeightedRoundRobinConfig = parseWeightedRoundRobin({})) {
    this.weighting = config.weighting;
    this.usesRtt = config.weighting?.dynamic !== undefined;
    this.scheduler = wrrScheduler(config);
  }

  build(rows: Int32Array, env: PolicyEnv, slot = ''): Picker {
    if (this.scheduler === 'edf') return new EdfPicker(rows, env);
    if (this.scheduler === 'stride') {
      // gRPC starts the sequence at a random uint32
      const seq = this.lastStride?.stride.seq ?? Math.floor(env.random() * 2 ** 32);
      return (this.lastStride = new StridePicker(rows, env, seq));
    }
    const live = this.built;
    if (live) {
      // keep nginx's numbers across availability and weight changes: the slot's previous picker writes them to
      // the state table (and is done), and the new one continues from there, live
      this.slots.get(slot)?.retire();
      const t = env.table;
      for (let r = 0; r < t.n; r++) if (t.get(COL_EW, r) > t.get(COL_WEIGHT, r)) t.set(COL_EW, r, t.get(COL_WEIGHT, r));
    }
    this.built = true;
    const p = new SwrrPicker(rows, env, this.config, live);
    this.slots.set(slot, p);
    return p;
  }

  releaseSlots(keep: ReadonlySet<string>): void {
    for (const [slot, p] of this.slots)
      if (!keep.has(slot)) {
        p.retire();
        this.slots.delete(slot);
      }
  }

  onMembership(env: PolicyEnv): void {
    const t = env.table;
    for (let r = 0; r < t.n; r++) {
      t.set(COL_CW, r, 0);
      t.set(COL_EW, r, t.get(COL_WEIGHT, r));
      t.set(COL_FAILS, r, 0);
      t.set(COL_CHECKED, r, 0);
      t.set(COL_ACCESSED, r, 0);
    }
    for (const p of this.slots.values()) p.release();
    this.slots.clear();
    this.built = false;
  }

  onDone(env: PolicyEnv, row: number, ok: boolean, _rttMs: number, now: number): void {
    if (env.ids.length === 1 || this.scheduler !== 'nginx') return; // nginx: peers->single keeps no failure state
    const t = env.table;
    if (ok) {
      if (t.get(COL_ACCESSED, row) < t.get(COL_CHECKED, row)) t.set(COL_FAILS, row, 0);
      return;
    }
    for (const p of this.slots.values())
      if (p.rows.includes(row)) {
        p.goLive();
        p.perturbed();
      }
    if (now !== now) now = env.now();
    t.set(COL_FAILS, row, t.get(COL_FAILS, row) + 1);
    t.set(COL_ACCESSED, row, now);
    t.set(COL_CHECKED, row, now);
    const maxFails = this.config.maxFails;
    if (maxFails > 0) {
      const ew = t.get(COL_EW, row) - Math.trunc(t.get(COL_WEIGHT, row) / maxFails);
      t.set(COL_EW, row, ew < 0 ? 0 : ew);
    }
  }

  stats(env: PolicyEnv, row: number): Record<string, number> {
    if (this.scheduler !== 'nginx') return {};
    for (const p of this.slots.values()) if (p.rows.includes(row)) p.materialize();
    const t = env.table;
    return {
      currentWeight: t.get(COL_CW, row),
      effectiveWeight: t.get(COL_EW, row),
      fails: t.get(COL_FAILS, row),
    };
  }
}

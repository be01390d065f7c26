// nginx's smooth weighted round robin, exactly, for the weighted_round_robin policy (nginx commit 52327e062,
// "Upstream: smooth weighted round-robin balancing", and `ngx_http_upstream_get_peer` /
// `ngx_http_upstream_free_round_robin_peer` in src/http/ngx_http_upstream_round_robin.c).
//
// One selection round is swrr-step.ts (nginx's step, and its plain form); a failure's accounting is the policy's
// (weighted-round-robin.ts). One-member sets skip all of this, as nginx's `peers->single` does. A membership
// change resets the state, as an nginx reload does.
//
// With integer weights, no failures and no exclusions the sequence repeats every sum-of-weights picks, so the
// picker precomputes one period and hands it out from a table (`cycle` mode); a failure or an exclusion replays
// the period up to the current position to recover nginx's current weights and continues live. From any plain
// state (effective weights at the weights, no failures counted) the sequence repeats with the same period (a
// period is used only once it is seen to end where it began), so after one period of plain live steps the picker
// builds a period from the live state, a few steps per pick, and goes back to the table (before, it stayed live
// until every current weight was 0 again, which after a failure need never happen: a live step per pick for good).
// Measured (bench/policies.bench.ts, provisional, shared 2-core machine): the live step (swrrStep kernel) takes
// WASM 33 ns vs TS 40 ns at 8 members, 399 vs 677 ns at 64, 5.9 vs 10.5 µs at 1024; a table pick is O(1). So the
// live step runs in WASM when `env.wasm` is set and the set has >= WASM_MIN_MEMBERS (32) members, in TS below that
// (where the call overhead eats the gain).
// Weights without such a period (fractional, as run-time weights are, or a period past MAX_CYCLE) step live for
// good, and most of those steps start from a plain state, where the step skips and recovers nothing: there the
// picker runs `swrrPlainStep` (the same numbers, no per-member checks, no clock read; over rows 0 .. n - 1 four at
// a time with WASM SIMD, else in TS). It knows the state is plain from a scan (`plainSum`), made at the first live
// pick and then once every PLAIN_SCAN_EVERY live picks until it finds it so, and stops at a counted failure.
// Measured with dynamicWeights (bench/policies.bench.ts pick + done, WASM, ratio to round robin's in the same
// run, two runs, was): 0.43-0.44 (0.31) at 8 members, 0.31-0.33 (0.18) at 64, 0.08-0.09 (0.02) at 1024, 0.69 vs
// 3.1 µs; the WASM plain step wins from 8 members on; still O(n) per pick, as nginx is.
//
//   weights a=5 b=1 c=1 → a a b a c a a (then again)
import { KernelRows } from './kernel-rows.js';
import { type SwrrExports, swrrPlainStepTs, swrrStepTs } from './swrr-step.js';
import {
  COL_CW,
  COL_EW,
  COL_FAILS,
  COL_WEIGHT,
  COLS,
  type Picker,
  type PickContext,
  type PolicyEnv,
  type StateTable,
} from './picker.js';

/** nginx's max_fails and fail_timeout (weighted-round-robin.ts WeightedRoundRobinConfig). */
export interface SwrrConfig {
  readonly maxFails: number;
  readonly failTimeoutMs: number;
}

/** Longest precomputed period, and the most work (period × members) spent building it. */
const MAX_CYCLE = 1 << 20;
const MAX_CYCLE_WORK = 1 << 22;
/** Member-steps of a period built from a live state per live pick (SwrrPicker.maybeCycle). */
const BUILD_WORK = 8192;
/**
 * A period keeps the current weights before every MARK_EVERY-th pick (integers: the weights are), so leaving it
 * replays at most MARK_EVERY - 1 picks (it replayed up to a whole period: 11 ms at 1024 members). Memory: period /
 * 64 × members int32s, 160 KiB for 1024 members of weights 1-4, at most 256 KiB (MAX_CYCLE_WORK / 16 bytes).
 */
const MARK_EVERY = 64;
/** A period being built on `copy` from a live state: `done` steps so far, `since` live steps since that state. */
interface NextPeriod {
  readonly copy: Float64Array;
  readonly cycle: Int32Array;
  readonly marks: Int32Array;
  done: number;
  since: number;
}
let identity = new Int32Array(0);
/** 0, 1, ..., n - 1 (rows of a private copy), shared. */
function localRows(n: number): Int32Array {
  if (identity.length < n) identity = Int32Array.from({ length: Math.max(n, identity.length * 2) }, (_, i) => i);
  return identity;
}
/** From here on the live step runs in WASM when available (measured, see header). */
export const WASM_MIN_MEMBERS = 32;
/** A live state that is not plain is scanned for plainness once every this many live picks. */
const PLAIN_SCAN_EVERY = 16;

/**
 * Row `r` is plain: its effective weight is at its weight and no failure is counted (fails counts even with
 * maxFails 0, as nginx does, and only a live step clears it), so a live step neither skips nor recovers it.
 */
function plainRow(f: Float64Array, cap: number, r: number): boolean {
  return f[COL_EW * cap + r] === f[COL_WEIGHT * cap + r] && f[COL_FAILS * cap + r] === 0;
}

export class SwrrPicker implements Picker {
  /** Position in the period while in cycle mode. */
  private pos = 0;
  private live: boolean;
  /** The period, once built; null with `cycleTried` when there is none (see periodOf). */
  private cycle: Int32Array | null = null;
  private cycleTried = false;
  /**
   * The current weights of `rows` before every MARK_EVERY-th pick of the period, the first at its start
   * (materialize replays from the last one); null: no period built, whose start is then nginx's initial state.
   */
  private marks: Int32Array | null = null;
  /** Sum of the weights when they are integers and a period is small enough to precompute, else -1; 0: unknown. */
  private period = 0;
  /** Consecutive unmasked live steps that ended in a plain state (see maybeCycle). */
  private plainRun = 0;
  /** A period being built from a live state, a few steps per live pick (see maybeCycle). */
  private next: NextPeriod | null = null;
  /** The position whose numbers the state table holds in cycle mode (materialize), else -1. */
  private shownAt = -1;
  /** While the live state is plain (see plainSum), the effective weights' sum; NaN: not known to be plain. */
  private plainTotal = NaN;
  /** Live picks until the next plainSum scan while the state is not plain (one in PLAIN_SCAN_EVERY). */
  private scanIn = 0;
  /** `rows` are 0 .. n - 1, as the WASM plain step reads them. */
  private readonly contiguous: boolean;
  private readonly k: KernelRows;

  constructor(
    readonly rows: Int32Array,
    private readonly env: PolicyEnv,
    private readonly config: SwrrConfig,
    live: boolean,
  ) {
    this.live = live;
    this.k = new KernelRows(rows, env, WASM_MIN_MEMBERS);
    let contiguous = true;
    for (let k = 0; k < rows.length && contiguous; k++) contiguous = rows[k] === k;
    this.contiguous = contiguous;
  }

  release(): void {
    this.k.release();
  }

  /** Done for good, its numbers left in the state table for the rows' next picker (goLive), its rows freed. */
  retire(): void {
    this.goLive();
    this.release();
  }

  pick(ctx: PickContext | undefined, now: number): number {
    const rows = this.rows;
    if (rows.length === 0) return -1;
    const ex = ctx?.exclude;
    const excluding = ex !== undefined && ex.size > 0;
    if (this.env.ids.length === 1) return excluding && ex.has(this.env.ids[rows[0]!]!) ? -1 : rows[0]!;
    if (!this.live && !excluding) {
      const c = this.cycle ?? this.buildCycle();
      if (c !== null) {
        const r = c[this.pos]!;
        if (++this.pos === c.length) this.pos = 0;
        return r;
      }
    }
    this.goLive();
    const t = this.env.table;
    if (!excluding) {
      let total = this.plainTotal;
      if (total !== total && --this.scanIn <= 0) {
        total = this.plainTotal = this.plainSum(t);
        this.scanIn = PLAIN_SCAN_EVERY;
      }
      if (total === total) {
        const r = this.plainStep(t, total);
        this.maybeCycle(t, false);
        return r;
      }
    }
    if (now !== now) now = this.env.now();
    const mask = this.k.mask(ex);
    const r = this.step(t, mask, now);
    this.maybeCycle(t, mask !== null);
    return r;
  }

  /** A failure was counted: the state is not plain until a scan finds it so again. */
  perturbed(): void {
    this.plainTotal = NaN;
    this.scanIn = PLAIN_SCAN_EVERY;
  }

  /**
   * The effective weights' sum in row order if the state is plain (every effective weight at its weight, no
   * failure counted: a live step then skips nothing and recovers nothing), else NaN.
   */
  private plainSum(t: StateTable): number {
    const f = t.f;
    const cap = t.cap;
    let total = 0;
    for (let k = 0; k < this.rows.length; k++) {
      const r = this.rows[k]!;
      if (!plainRow(f, cap, r)) return NaN;
      total += f[COL_EW * cap + r]!;
    }
    return total;
  }

  /** The plain step: in WASM (SIMD) when available and the rows are 0 .. n - 1, from 2 members on (measured). */
  private plainStep(t: StateTable, total: number): number {
    const w = this.env.wasm;
    if (w !== null && this.contiguous)
      return (w.exports as unknown as SwrrExports).swrrPlainStep(t.ptr, t.cap, this.rows.length, total);
    return swrrPlainStepTs(t.f, t.cap, this.rows, this.rows.length, total);
  }

  private step(t: StateTable, mask: Uint8Array | null, now: number): number {
    const { maxFails, failTimeoutMs } = this.config;
    const w = this.k.wasm;
    if (w !== null) {
      const maskPtr = this.k.stage(mask);
      const x = w.exports as unknown as SwrrExports;
      return x.swrrStep(t.ptr, t.cap, this.k.ptr, this.rows.length, maskPtr, maxFails, failTimeoutMs, now);
    }
    return swrrStepTs(t.f, t.cap, this.rows, this.rows.length, mask, maxFails, failTimeoutMs, now);
  }

  /** Leaves cycle mode, with nginx's numbers in the state table (materialize). */
  goLive(): void {
    if (this.live) return;
    this.materialize();
    this.live = true;
    this.plainRun = 0;
    this.next = null;
  }

  /**
   * In cycle mode, writes nginx's current and effective weights for position `pos` of the period into the state
   * table, from the last mark at or before it and a replay of the picks since (at most MARK_EVERY - 1); the
   * picker stays in cycle mode (stats() reads them so, and the next pick from the table does not need them).
   */
  materialize(): void {
    // a period later the numbers are the same again; a picker that handed out nothing from a period has nothing
    // to write (with priority levels or localities another picker over the same rows may have moved them since)
    if (this.live || this.cycle === null || this.shownAt === this.pos) return;
    this.shownAt = this.pos;
    const t = this.env.table;
    const f = t.f;
    const m = this.rows.length;
    const marks = this.marks;
    const from = marks === null ? 0 : this.pos - (this.pos % MARK_EVERY);
    const at = (from / MARK_EVERY) * m;
    for (let k = 0; k < m; k++) {
      const r = this.rows[k]!;
      f[COL_CW * t.cap + r] = marks !== null ? marks[at + k]! : 0;
      f[COL_EW * t.cap + r] = f[COL_WEIGHT * t.cap + r]!;
    }
    for (let i = from; i < this.pos; i++) swrrStepTs(f, t.cap, this.rows, m, null, 0, Infinity, 0);
  }

  /**
   * Back to cycle mode after a live step. The state is plain when every effective weight is at its weight and
   * no failure is counted: from a plain state, integer weights repeat every sum-of-weights picks (checked on
   * the copy each period is built on). So: at once when the state is the period's start again; else, after one
   * period of unmasked live steps ending in plain states, a period from the current state, simulated on a copy
   * a few steps per live pick (BUILD_WORK member-steps: no pick stalls for the whole period, 10 ms at 1024
   * members), and taken up at the position the live steps reached meanwhile. A step that is not plain, or
   * masked, starts the count again. Before, one failure or exclusion kept a picker live (O(n) per pick) until
   * every current weight was 0 again, which after a perturbation need never happen.
   */
  private maybeCycle(t: StateTable, masked: boolean): void {
    const period = this.periodOf();
    if (period < 0) return;
    const f = t.f;
    const cap = t.cap;
    const rows = this.rows;
    const marks = this.marks;
    let atStart = true;
    for (let k = 0; k < rows.length; k++) {
      const r = rows[k]!;
      if (!plainRow(f, cap, r)) {
        this.plainRun = 0;
        this.next = null;
        return;
      }
      if (f[COL_CW * cap + r] !== (marks === null ? 0 : marks[k])) atStart = false;
    }
    if (atStart || masked) {
      if (atStart) {
        this.live = false;
        this.pos = this.shownAt = 0;
      }
      this.plainRun = 0;
      this.next = null;
      return;
    }
    const n = this.next;
    if (n === null) {
      if (++this.plainRun < period) return;
      const from = new Float64Array(rows.length);
      for (let k = 0; k < rows.length; k++) {
        const cw = (from[k] = f[COL_CW * cap + rows[k]!]!);
        // marks are int32s: a current weight that far out (never seen) is not built on
        if (!(Math.abs(cw) < 2 ** 30)) {
          this.plainRun = 0;
          return;
        }
      }
      this.next = { copy: this.copyAt(from), ...this.tables(period), done: 0, since: 0 };
      return;
    }
    n.since++;
    const m = rows.length;
    const end = Math.min(period, n.done + Math.max(1, Math.ceil(BUILD_WORK / m)));
    for (; n.done < end; n.done++) this.simStep(n, n.done);
    if (n.done < period) return;
    this.next = null;
    this.plainRun = 0;
    if (!this.closes(n)) return; // not periodic from there (never seen): count again
    this.cycle = n.cycle;
    this.marks = n.marks;
    this.cycleTried = true;
    this.live = false;
    this.pos = this.shownAt = n.since % period;
  }

  /** The sum of the weights if they are integers and one period is small enough to precompute, else -1. */
  private periodOf(): number {
    if (this.period !== 0) return this.period;
    const t = this.env.table;
    let period = 0;
    for (let k = 0; k < this.rows.length; k++) {
      const w = t.get(COL_WEIGHT, this.rows[k]!);
      if (!Number.isInteger(w)) return (this.period = -1);
      period += w;
    }
    const ok = period > 0 && period <= MAX_CYCLE && period * this.rows.length <= MAX_CYCLE_WORK;
    return (this.period = ok ? period : -1);
  }

  /**
   * The period from nginx's initial state (all current weights 0), built once and at once, simulated on a
   * private copy so the live columns stay untouched; null unless it ends where it started.
   */
  private buildCycle(): Int32Array | null {
    if (this.cycleTried) return this.cycle;
    this.cycleTried = true;
    const period = this.periodOf();
    if (period < 0) return null;
    const m = this.rows.length;
    const b = { copy: this.copyAt(new Float64Array(m)), ...this.tables(period) };
    for (let i = 0; i < period; i++) this.simStep(b, i);
    if (!this.closes(b)) return null;
    this.marks = b.marks;
    return (this.cycle = b.cycle);
  }

  /** A period's picks and marks, to fill. */
  private tables(period: number): { cycle: Int32Array; marks: Int32Array } {
    return { cycle: new Int32Array(period), marks: new Int32Array(Math.ceil(period / MARK_EVERY) * this.rows.length) };
  }

  /** Pick `i` of a period on `b.copy` into `b.cycle`, the current weights before it into `b.marks` at a mark. */
  private simStep(b: { copy: Float64Array; cycle: Int32Array; marks: Int32Array }, i: number): void {
    const m = this.rows.length;
    const copy = b.copy;
    if (i % MARK_EVERY === 0) {
      const at = (i / MARK_EVERY) * m;
      for (let k = 0; k < m; k++) b.marks[at + k] = copy[COL_CW * m + k]!;
    }
    b.cycle[i] = this.rows[swrrStepTs(copy, m, localRows(m), m, null, 0, Infinity, 0)]!;
  }

  /** A simulated period ends where it began: `b.copy`'s current weights are the first mark again. */
  private closes(b: { copy: Float64Array; marks: Int32Array }): boolean {
    const m = this.rows.length;
    for (let k = 0; k < m; k++) if (b.copy[COL_CW * m + k] !== b.marks[k]) return false;
    return true;
  }

  /** A private state table of `rows` (row k at index k): weights, effective weights at them, current weights `from`. */
  private copyAt(from: Float64Array): Float64Array {
    const t = this.env.table;
    const cap = this.rows.length;
    const f = new Float64Array(cap * COLS);
    for (let k = 0; k < cap; k++) {
      f[COL_WEIGHT * cap + k] = t.get(COL_WEIGHT, this.rows[k]!);
      f[COL_EW * cap + k] = f[COL_WEIGHT * cap + k]!;
      f[COL_CW * cap + k] = from[k]!;
    }
    return f;
  }
}

// latency_aware: the weighted score of docs/design.md ("Latency-aware score"):
// score = connWeight × active / maxConn + rttWeight × avgRtt / maxRttMs (defaults 0.6, 1000, 0.4, 500 ms);
// the lowest score wins. avgRtt is an EWMA of completed requests' RTTs (`rttSmoothing`, the weight of a new
// sample; the first sample sets it; 0 before any). Ties go to the first member scanned; the scan starts after
// the member picked last, so equal scores take turns (it used to start one member further on each pick, which
// gave the member after a worse or unavailable one twice the share of the others). Warm-up (the rule peak_ewma
// uses, docs/design.md): while a member has fewer than `warmupSamples` (default 16) samples, a new sample's
// weight is at least 1/(n+1), so the first samples count as their mean and one early peak does not outweigh the
// next few samples.
//
// The pick is the scan's answer (every eligible member, not a power-of-d-choices sample), kept incrementally:
// sets of >= TREE_MIN_MEMBERS (16) keep the scores in a min segment tree (a tournament tree; Cormen et al.,
// "Introduction to Algorithms", ch. 14, augmented data structures) whose nodes also hold the leftmost and
// rightmost position of their minimum. A start or a completion marks the member, and the next pick updates
// its leaf and path (O(log n)); the pick is then the root's leftmost minimum unless the minimum is also held
// at or after `start` (a tie), found by one O(log n) search. Same score expression, exact comparisons: the
// scan's winner bit for bit. Changes the hooks do not see (completions of picks another policy issued, after
// `setPolicy`) are read back two ways: members with picks in flight when the picker was built are re-read one
// per pick, in turn, until nothing is in flight there (within two passes after the last such completion);
// and a sweep re-reads one position every SWEEP_EVERY (16) picks (another latency_aware's sample on a member
// removed and re-added meanwhile: within 16 passes). Measured (bench/policies.bench.ts and scratch A/Bs,
// interleaved, shared 2-core machine), pick+done over round robin's at 64 / 1024 members: 0.22 / 0.02 (scan)
// -> ~0.33 / ~0.31 (tree; each pick re-read `start`) -> ~0.37 / ~0.34 (watch list and sweep instead, +10 %).
// What remains is mostly the picked member's leaf path, rewritten after each completion (the picked member
// holds the minimum), and the hooks. Measured and not faster: a 4-ary tree (half the levels, min of four),
// node fields interleaved in one array, a branch-free choice of the child, a table of the connection term;
// without the Balancer's timed pick and completion (measureRtt: false) it runs only 5-8 % faster. Picks with
// `ctx.exclude` (retries), sets below 16 and degenerate configs (a NaN score) scan: the latencyAwareScan
// kernel takes TS 30 ns vs WASM 35 ns at 8 members, TS 532 vs WASM 375 ns at 64, TS 7.9 vs WASM 5.5 µs at
// 1024; so sets of >= WASM_MIN_MEMBERS (32) scan in WASM when the balancer's backend is 'wasm', smaller ones
// in TS (assembly/latency-aware.ts latencyAwareScan and latencyAwareScanTs below are differential-tested; the
// rows and the exclusion mask reach the kernel through kernel-rows.ts).
//
//   new Balancer({ policy: { name: 'latency_aware', maxRttMs: 200 } })
import { asObject, checkKeys, durationMs, int, num } from '../policy-config.js';
import { DEFAULT_WARMUP_SAMPLES, warmupWeight } from './peak-ewma.js';
import { KernelRows } from '../kernel-rows.js';
import {
  COL_ACTIVE,
  COL_AVG_RTT,
  COL_SAMPLES,
  type Picker,
  type PickContext,
  type Policy,
  type PolicyEnv,
} from '../picker.js';

export interface LatencyAwareConfig {
  connWeight: number;
  maxConn: number;
  rttWeight: number;
  maxRttMs: number;
  /** EWMA weight of a new RTT sample, in (0, 1] (default 0.2). */
  rttSmoothing: number;
  /** Samples under the warm-up rule (default DEFAULT_WARMUP_SAMPLES; 0: the first sample sets the average). */
  warmupSamples?: number;
}

export const WASM_MIN_MEMBERS = 32;

export function parseLatencyAware(json: unknown, field = 'latency_aware'): LatencyAwareConfig {
  const o = asObject(field, json);
  checkKeys(field, o, [
    'connWeight',
    'conn_weight',
    'maxConn',
    'max_conn',
    'rttWeight',
    'rtt_weight',
    'maxRttMs',
    'max_rtt',
    'rttSmoothing',
    'rtt_smoothing',
    'warmupSamples',
    'warmup_samples',
  ]);
  const maxConn = num(field, o, 'maxConn', 'max_conn', 1000, Number.MIN_VALUE, Number.MAX_VALUE);
  const maxRttMs = durationMs(field, o, 'maxRttMs', 'max_rtt', 500, Number.MIN_VALUE);
  const c: LatencyAwareConfig = {
    connWeight: num(field, o, 'connWeight', 'conn_weight', 0.6, 0, 1e9),
    maxConn,
    rttWeight: num(field, o, 'rttWeight', 'rtt_weight', 0.4, 0, 1e9),
    maxRttMs,
    rttSmoothing: num(field, o, 'rttSmoothing', 'rtt_smoothing', 0.2, Number.MIN_VALUE, 1),
  };
  if (o.warmupSamples !== undefined || o.warmup_samples !== undefined)
    c.warmupSamples = int(field, o, 'warmupSamples', 'warmup_samples', DEFAULT_WARMUP_SAMPLES, 0, 1e9);
  return c;
}

interface LatencyExports {
  latencyAwareScan(
    base: number,
    cap: number,
    rows: number,
    count: number,
    mask: number,
    start: number,
    connWeight: number,
    maxConn: number,
    rttWeight: number,
    maxRttMs: number,
  ): number;
}

/** TS twin of assembly/latency-aware.ts latencyAwareScan. */
export function latencyAwareScanTs(
  f: Float64Array,
  cap: number,
  rows: Int32Array,
  count: number,
  mask: Uint8Array | null,
  start: number,
  c: LatencyAwareConfig,
): number {
  const oA = COL_ACTIVE * cap;
  const oR = COL_AVG_RTT * cap;
  let best = -1;
  let bestScore = 0;
  let k = start;
  for (let i = 0; i < count; i++) {
    const r = rows[k]!;
    if (++k === count) k = 0;
    if (mask !== null && mask[r] !== 0) continue;
    const score = c.connWeight * (f[oA + r]! / c.maxConn) + c.rttWeight * (f[oR + r]! / c.maxRttMs);
    if (best < 0 || score < bestScore) {
      best = r;
      bestScore = score;
    }
  }
  return best;
}

/** The latency_aware score of row `r` (the scan's expression, so that both compare the same numbers). */
function scoreOf(f: Float64Array, cap: number, r: number, c: LatencyAwareConfig): number {
  return c.connWeight * (f[COL_ACTIVE * cap + r]! / c.maxConn) + c.rttWeight * (f[COL_AVG_RTT * cap + r]! / c.maxRttMs);
}

/**
 * Min segment tree over positions [0, n) (leaves at `size + pos`, padding positions +Infinity): node i holds
 * the minimum of its subtree and the leftmost and rightmost positions holding it, so the root answers a pick
 * at once unless the minimum is held on both sides of `start`. A NaN score (a degenerate config: 0 × Infinity)
 * makes the picker scan instead.
 */
class ScoreTree {
  readonly size: number;
  readonly v: Float64Array;
  readonly lo: Int32Array;
  readonly hi: Int32Array;
  constructor(readonly n: number) {
    let size = 1;
    while (size < n) size <<= 1;
    this.size = size;
    this.v = new Float64Array(2 * size).fill(Infinity);
    this.lo = new Int32Array(2 * size);
    this.hi = new Int32Array(2 * size);
    for (let p = 0; p < size; p++) this.lo[size + p] = this.hi[size + p] = p;
  }

  /**
   * Sets leaf `pos` to `s` and its ancestors; stops where a node does not change. The child's minimum and its
   * leftmost and rightmost holders travel up in locals, so each level reads the sibling and the parent only.
   */
  set(pos: number, s: number): void {
    const v = this.v;
    const lo = this.lo;
    const hi = this.hi;
    let i = pos + this.size;
    v[i] = s;
    let m = s;
    let a = pos;
    let b = pos;
    while (i > 1) {
      const sib = i ^ 1;
      const sv = v[sib]!;
      if (sv < m) {
        m = sv;
        a = lo[sib]!;
        b = hi[sib]!;
      } else if (sv === m) {
        // a tie: the leftmost holder from the left child, the rightmost from the right one
        if (i & 1) a = lo[sib]!;
        else b = hi[sib]!;
      }
      i >>= 1;
      if (v[i] === m && lo[i] === a && hi[i] === b) return;
      v[i] = m;
      lo[i] = a;
      hi[i] = b;
    }
  }

  /** Recomputes every inner node. */
  rebuild(): void {
    const v = this.v;
    const lo = this.lo;
    const hi = this.hi;
    for (let i = this.size - 1; i >= 1; i--) {
      const l = 2 * i;
      const m = Math.min(v[l]!, v[l + 1]!);
      v[i] = m;
      lo[i] = v[l] === m ? lo[l]! : lo[l + 1]!;
      hi[i] = v[l + 1] === m ? hi[l + 1]! : hi[l]!;
    }
  }

  /** The first position >= `from` whose leaf is <= x, or -1 (padding positions may be returned: >= n). */
  first(from: number, x: number): number {
    const v = this.v;
    const size = this.size;
    let i = from + size;
    for (;;) {
      if (v[i]! <= x) {
        while (i < size) {
          i <<= 1;
          if (!(v[i]! <= x)) i++;
        }
        return i - size;
      }
      while (i & 1) i >>= 1; // climb while a right child; the root (1) ends at 0
      if (i === 0) return -1;
      i++;
    }
  }

  /** The first position holding the minimum from `start` on, wrapping: the scan's winner. */
  pick(start: number): number {
    const left = this.lo[1]!;
    if (left >= start || this.hi[1]! < start) return left;
    const p = this.first(start, this.v[1]!);
    return p < 0 || p >= this.n ? left : p;
  }
}

/** From here on a picker keeps the scores in a ScoreTree (measured, see header). */
export const TREE_MIN_MEMBERS = 16;
/** Touched rows held before a flush (a flush runs at the next pick or when this many are waiting). */
const DIRTY_MAX = 64;
/** Picks per step of the sweep that re-reads every position in turn (see header). */
export const SWEEP_EVERY = 16;

class LatencyAwarePicker implements Picker {
  private start = 0;
  private readonly k: KernelRows;
  /** Scores by position in `rows`, or null: scan (small sets, NaN scores). */
  private tree: ScoreTree | null = null;
  /** Position of each row in `rows`, -1 if absent (tree mode only). */
  private readonly pos: Int32Array;
  /** Positions whose score changed since the last pick (`dirty[p]` 1 while listed). */
  private readonly dirty: Uint8Array;
  private readonly dirtyRows = new Int32Array(DIRTY_MAX);
  private dirtyCount = 0;
  /** Positions with picks in flight when the picker was built (possibly another policy's), re-read in turn. */
  private readonly watch: Int32Array;
  private watchCount = 0;
  private watchAt = 0;
  /** Picks until the next sweep step, and the position it re-reads. */
  private sweepIn = SWEEP_EVERY;
  private sweepAt = 0;
  // the config's numbers, read per update (scoreOf's expression)
  private readonly connWeight: number;
  private readonly maxConn: number;
  private readonly rttWeight: number;
  private readonly maxRttMs: number;

  constructor(
    readonly rows: Int32Array,
    private readonly env: PolicyEnv,
    private readonly config: LatencyAwareConfig,
  ) {
    this.k = new KernelRows(rows, env, WASM_MIN_MEMBERS);
    this.connWeight = config.connWeight;
    this.maxConn = config.maxConn;
    this.rttWeight = config.rttWeight;
    this.maxRttMs = config.maxRttMs;
    const n = rows.length;
    this.pos = new Int32Array(env.table.cap).fill(-1);
    for (let p = 0; p < n; p++) this.pos[rows[p]!] = p;
    this.dirty = new Uint8Array(n >= TREE_MIN_MEMBERS ? n : 0);
    this.watch = new Int32Array(n >= TREE_MIN_MEMBERS ? n : 0);
    if (n >= TREE_MIN_MEMBERS) {
      const tree = new ScoreTree(n);
      const t = env.table;
      const f = t.f;
      for (let p = 0; p < n; p++) {
        const r = rows[p]!;
        this.pos[r] = p;
        tree.v[tree.size + p] = scoreOf(f, t.cap, r, config);
        if (f[COL_ACTIVE * t.cap + r]! > 0) this.watch[this.watchCount++] = p;
      }
      tree.rebuild();
      this.tree = tree;
      if (tree.v[1] !== tree.v[1]) this.tree = null;
    }
  }

  release(): void {
    this.k.release();
  }

  /** Row `r`'s score changed: its leaf is updated before the next pick (a start and a done count once). */
  touch(r: number): void {
    if (this.tree === null) return;
    const p = r < this.pos.length ? this.pos[r]! : -1;
    if (p < 0 || this.dirty[p] !== 0) return;
    if (this.dirtyCount === this.dirtyRows.length) this.flush();
    this.dirty[p] = 1;
    this.dirtyRows[this.dirtyCount++] = p;
  }

  /** Updates the leaves of the touched rows. */
  private flush(): void {
    for (let i = 0; i < this.dirtyCount; i++) {
      const p = this.dirtyRows[i]!;
      this.dirty[p] = 0;
      this.update(p);
    }
    this.dirtyCount = 0;
  }

  /**
   * Re-reads the next watched position; drops it once nothing is in flight there (every pick in flight at
   * build, whichever policy issued it, has completed: later changes reach the hooks). A dropped entry's place
   * takes the last one, read next: each entry is read within 2 × (entries) picks.
   */
  private catchUp(): void {
    let i = this.watchAt;
    if (i >= this.watchCount) i = 0;
    const p = this.watch[i]!;
    this.update(p);
    const t = this.env.table;
    if (t.f[COL_ACTIVE * t.cap + this.rows[p]!] === 0) this.watch[i] = this.watch[--this.watchCount]!;
    else i++;
    this.watchAt = i;
  }

  /** Re-reads one position every SWEEP_EVERY picks (see header). */
  private sweep(): void {
    this.sweepIn = SWEEP_EVERY;
    const p = this.sweepAt;
    this.sweepAt = p + 1 < this.rows.length ? p + 1 : 0;
    this.update(p);
  }

  /** Re-reads the score at position `p` into the tree. */
  private update(p: number): void {
    const tree = this.tree;
    if (tree === null) return;
    const r = this.rows[p]!;
    const t = this.env.table;
    const f = t.f;
    const cap = t.cap;
    const s =
      this.connWeight * (f[COL_ACTIVE * cap + r]! / this.maxConn) +
      this.rttWeight * (f[COL_AVG_RTT * cap + r]! / this.maxRttMs);
    if (s !== s) this.tree = null;
    else if (tree.v[tree.size + p] !== s) tree.set(p, s);
  }

  pick(ctx: PickContext | undefined): number {
    const rows = this.rows;
    const n = rows.length;
    if (n === 0) return -1;
    const ex = ctx?.exclude;
    const r = this.scan(ex, rows, n);
    // the next scan starts after the member picked: members of equal score take turns
    if (r >= 0) {
      const p = this.pos[r]! + 1;
      this.start = p >= n ? 0 : p;
    }
    return r;
  }

  private scan(ex: ReadonlySet<string> | undefined, rows: Int32Array, n: number): number {
    const start = this.start;
    const tree = this.tree;
    if (tree !== null && (ex === undefined || ex.size === 0)) {
      if (this.dirtyCount > 0) this.flush();
      if (this.watchCount > 0) this.catchUp();
      if (--this.sweepIn === 0) this.sweep();
      if (this.tree !== null) return rows[tree.pick(start)]!;
    }
    const mask = this.k.mask(ex);
    const t = this.env.table;
    const c = this.config;
    const w = this.k.wasm;
    if (w !== null) {
      const maskPtr = this.k.stage(mask);
      const x = w.exports as unknown as LatencyExports;
      return x.latencyAwareScan(
        t.ptr,
        t.cap,
        this.k.ptr,
        n,
        maskPtr,
        start,
        c.connWeight,
        c.maxConn,
        c.rttWeight,
        c.maxRttMs,
      );
    }
    return latencyAwareScanTs(t.f, t.cap, rows, n, mask, start, c);
  }
}

export class LatencyAwarePolicy implements Policy {
  readonly name = 'latency_aware';
  readonly usesRtt = true;
  /** The live picker of each slot (picker.ts): its WASM rows are released when it is replaced. */
  private readonly last = new Map<string, LatencyAwarePicker>();
  /** The values of `last`, for the hooks (no iterator per call). */
  private live: LatencyAwarePicker[] = [];
  private readonly warmupSamples: number;
  constructor(readonly config: LatencyAwareConfig = parseLatencyAware({})) {
    this.warmupSamples = config.warmupSamples ?? DEFAULT_WARMUP_SAMPLES;
  }

  build(rows: Int32Array, env: PolicyEnv, slot = ''): Picker {
    this.last.get(slot)?.release();
    const p = new LatencyAwarePicker(rows, env, this.config);
    this.last.set(slot, p);
    this.live = [...this.last.values()];
    return p;
  }

  releaseSlots(keep: ReadonlySet<string>): void {
    for (const [slot, p] of this.last) {
      if (!keep.has(slot)) {
        p.release();
        this.last.delete(slot);
      }
    }
    this.live = [...this.last.values()];
  }

  onMembership(): void {
    for (const p of this.last.values()) p.release();
    this.last.clear();
    this.live = [];
  }

  onStart(_env: PolicyEnv, row: number): void {
    const live = this.live;
    for (let i = 0; i < live.length; i++) live[i]!.touch(row);
  }

  onDone(env: PolicyEnv, row: number, _ok: boolean, rttMs: number): void {
    if (rttMs === rttMs) {
      const t = env.table;
      const f = t.f;
      const iN = COL_SAMPLES * t.cap + row;
      const iAvg = COL_AVG_RTT * t.cap + row;
      const n = f[iN]!;
      let a = this.config.rttSmoothing;
      const floor = warmupWeight(n, this.warmupSamples);
      if (floor > a) a = floor;
      f[iAvg] = n === 0 ? rttMs : (1 - a) * f[iAvg]! + a * rttMs;
      f[iN] = n + 1;
    } // else not measured (measureRtt: false): only the in-flight count changed
    const live = this.live;
    for (let i = 0; i < live.length; i++) live[i]!.touch(row);
  }

  stats(env: PolicyEnv, row: number): Record<string, number> {
    return { avgRttMs: env.table.get(COL_AVG_RTT, row) };
  }
}

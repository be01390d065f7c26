// latency_aware: the weighted score of docs/design.md ("Latency-aware score"):
// score = connWeight × active / maxConn + rttWeight × avgRtt / maxRttMs (defaults 0.6, 1000, 0.4, 500 ms);
// the lowest score wins. avgRtt is an EWMA of completed requests' RTTs (`rttSmoothing`, the weight of a new
// sample; the first sample sets it; 0 before any). Ties go to the first member scanned; the scan starts one
// member further on each pick, so equal scores rotate. Warm-up (the rule peak_ewma uses, docs/design.md): while
// a member has fewer than `warmupSamples` (default 16) samples, a new sample's weight is at least 1/(n+1), so
// the first samples count as their mean and one early peak does not outweigh the next few samples.
//
// The pick scans every eligible member (not a power-of-d-choices sample). Measured (bench/policies.bench.ts,
// provisional, shared 2-core machine): the latencyAwareScan kernel takes TS 30 ns vs WASM 35 ns at 8
// members, TS 532 vs WASM 375 ns at 64, TS 7.9 vs WASM 5.5 µs at 1024; so sets of >= WASM_MIN_MEMBERS (32)
// scan in WASM when the balancer's backend is 'wasm', smaller ones in TS (assembly/latency-aware.ts
// latencyAwareScan and latencyAwareScanTs below are differential-tested; the rows and the exclusion mask reach
// the kernel through kernel-rows.ts).
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

class LatencyAwarePicker implements Picker {
  private start = 0;
  private readonly k: KernelRows;
  constructor(
    readonly rows: Int32Array,
    private readonly env: PolicyEnv,
    private readonly config: LatencyAwareConfig,
  ) {
    this.k = new KernelRows(rows, env, WASM_MIN_MEMBERS);
  }

  release(): void {
    this.k.release();
  }

  pick(ctx: PickContext | undefined): number {
    const rows = this.rows;
    const n = rows.length;
    if (n === 0) return -1;
    const mask = this.k.mask(ctx?.exclude);
    const start = this.start;
    if (++this.start >= n) this.start = 0;
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
  constructor(readonly config: LatencyAwareConfig = parseLatencyAware({})) {}

  build(rows: Int32Array, env: PolicyEnv, slot = ''): Picker {
    this.last.get(slot)?.release();
    const p = new LatencyAwarePicker(rows, env, this.config);
    this.last.set(slot, p);
    return p;
  }

  releaseSlots(keep: ReadonlySet<string>): void {
    for (const [slot, p] of this.last) {
      if (!keep.has(slot)) {
        p.release();
        this.last.delete(slot);
      }
    }
  }

  onMembership(): void {
    for (const p of this.last.values()) p.release();
    this.last.clear();
  }

  onDone(env: PolicyEnv, row: number, _ok: boolean, rttMs: number): void {
    if (rttMs !== rttMs) return; // not measured (measureRtt: false)
    const t = env.table;
    const n = t.get(COL_SAMPLES, row);
    let a = this.config.rttSmoothing;
    const floor = warmupWeight(n, this.config.warmupSamples ?? DEFAULT_WARMUP_SAMPLES);
    if (floor > a) a = floor;
    t.set(COL_AVG_RTT, row, n === 0 ? rttMs : (1 - a) * t.get(COL_AVG_RTT, row) + a * rttMs);
    t.set(COL_SAMPLES, row, n + 1);
  }

  stats(env: PolicyEnv, row: number): Record<string, number> {
    return { avgRttMs: env.table.get(COL_AVG_RTT, row) };
  }
}

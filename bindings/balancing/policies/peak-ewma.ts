// peak_ewma: Peak-EWMA load with power of two choices (Finagle `PeakEwma`, linkerd, tower
// `tower/src/load/peak_ewma.rs` + `balance/p2c`). Each member keeps an RTT estimate: a sample higher than the
// estimate replaces it at once (the peak), a lower one is averaged in with weight 1 − exp(−Δt/decayMs), and
// reading the load decays the estimate toward 0 the same way (tower's `load()` is an update with RTT 0).
// cost = estimate × (in-flight + 1); a member with requests in flight and a zero estimate (no sample, no
// default RTT) costs `PENALTY + in-flight` (Finagle). The cost is the load of the shared power-of-d-choices
// picker (bindings/balancing/p2c.ts): `choiceCount` distinct members are sampled, the cheapest wins.
//
// Warm-up (ours, docs/design.md "Warm-up of RTT estimates", shared with latency_aware): while a member has fewer
// than `warmupSamples` (default 16) samples, a lower sample's weight is at least 1/(n+1), n = the samples before
// it, the default RTT counting as one when it is > 0. tower and Finagle average by elapsed time only, so an early
// peak (a TCP connect, a cold JIT) set by the first sample held for about `decayMs` while hundreds of fast
// samples arrived within a second; now the first samples are averaged (their mean at worst), and after the
// warm-up the rule is tower's exactly. `warmupSamples: 0` turns it off.
//
// Measured (bench/policies.bench.ts, provisional, shared 2-core machine): one peakEwmaCost call takes WASM
// 51 ns vs TS 48 ns at 64 and 1024 members (the call boundary eats the arithmetic's gain), and a pick needs
// two; so picks and completions run in TS over the state table (which lives in WASM memory under 'wasm'),
// with d = 2 (the default) in one function (PeakEwmaPairPicker). What remains of a pick+done is mostly two
// draws, three `expNeg` and two clock reads. `expNeg` keeps the range a pick sees in a small function so that
// V8 inlines both of a pick's costs (one was a call); with the Balancer no longer reading the picked member's
// object at completion, pick + done 1.0-1.1x at 1024 members (median of 5: 1.07; a row-major state table did
// not pay: 0.92-0.98x at 1024 in an inlined pick + done, 0.88-0.99x at 64). No division is left on the usual
// path: the decay multiplies by `ratePerMs` (1 / decayMs, computed once) and expNeg's usual range is a
// polynomial (fdlibm's rational form has a division): pick + done 0-3 % faster (interleaved A/B, 8-1024 members).
// The WASM kernels (assembly/peak-ewma.ts peakEwmaCost/peakEwmaObserve) are kept identical and
// differential-tested; `expNeg` below replaces Math.exp so both agree bit for bit.
//
//   new Balancer({ policy: { name: 'peak_ewma', decayMs: 10_000, defaultRttMs: 0 } })
import { asObject, checkKeys, durationMs, int } from '../policy-config.js';
import {
  COL_ACTIVE,
  COL_EST,
  COL_SAMPLES,
  COL_STAMP,
  type Picker,
  type PickContext,
  type Policy,
  type PolicyEnv,
} from '../picker.js';
import { type LoadMetric, P2CPicker } from '../p2c.js';
import type { Random } from '../../util/random.js';

export interface PeakEwmaConfig {
  /** Time constant of the decay (default 10 000 ms). */
  decayMs: number;
  /**
   * Estimate for a member before its first sample (default 0, Finagle's: a new member is tried at once, and
   * penalized while its first requests are in flight). linkerd uses 30 ms; tower takes it as a parameter. A
   * default far above the real RTT holds for about `decayMs` (measured in bench/tail-latency.bench.ts: with 30 ms vs
   * 5 ms backends the slow member kept 3% of the traffic over a 1 s run).
   */
  defaultRttMs: number;
  /** Members sampled per pick (default 2). */
  choiceCount: number;
  /** Samples under the warm-up rule (default DEFAULT_WARMUP_SAMPLES; 0: tower's rule from the first sample). */
  warmupSamples?: number;
}

export const DEFAULT_DECAY_MS = 10_000;
export const DEFAULT_RTT_MS = 0;
/** Samples averaged at least as their mean before the plain EWMA takes over (docs/design.md, warm-up). */
export const DEFAULT_WARMUP_SAMPLES = 16;

/**
 * The warm-up rule shared by peak_ewma and latency_aware: the least weight of a new sample when `n` samples
 * (counting a prior estimate as one) came before it, or 0 once `n >= warmupSamples`.
 */
export function warmupWeight(n: number, warmupSamples: number): number {
  return n < warmupSamples ? 1 / (n + 1) : 0;
}
/** Finagle's penalty, Long.MaxValue >> 16 nanoseconds, in ms. */
export const PENALTY_MS = 2 ** 47 / 1e6;

export function parsePeakEwma(json: unknown, field = 'peak_ewma'): PeakEwmaConfig {
  const o = asObject(field, json);
  checkKeys(field, o, [
    'decayMs',
    'decay',
    'defaultRttMs',
    'default_rtt',
    'choiceCount',
    'choice_count',
    'warmupSamples',
    'warmup_samples',
  ]);
  const c: PeakEwmaConfig = {
    decayMs: durationMs(field, o, 'decayMs', 'decay', DEFAULT_DECAY_MS, Number.MIN_VALUE),
    defaultRttMs: durationMs(field, o, 'defaultRttMs', 'default_rtt', DEFAULT_RTT_MS),
    choiceCount: int(field, o, 'choiceCount', 'choice_count', 2, 2, 0x7fffffff),
  };
  // only present when given, so that the parsed defaults stay the three tower options
  if (o.warmupSamples !== undefined || o.warmup_samples !== undefined)
    c.warmupSamples = int(field, o, 'warmupSamples', 'warmup_samples', DEFAULT_WARMUP_SAMPLES, 0, 1e9);
  return c;
}

/**
 * exp(−t) for t >= 0, operation for operation the same as assembly/peak-ewma.ts `expNeg`. The range a pick
 * almost always sees, t in (2^-28, 2^-7] (elapsed under 78 ms at the default decayMs), is the Taylor polynomial
 * of degree 6 in Horner form (no division; the remainder t^7/7! < 4e-19 is far under half an ulp), small enough
 * for V8 to inline both of a pick's costs; other arguments go to `expNegWide` (fdlibm).
 */
export function expNeg(t: number): number {
  if (!(t > 3.725290298461914e-9 && t <= 0.0078125)) return expNegWide(t);
  const x = -t;
  return (
    1 +
    x *
      (1 +
        x *
          (0.5 +
            x *
              (0.16666666666666666 +
                x * (0.041666666666666664 + x * (0.008333333333333333 + x * 0.001388888888888889)))))
  );
}

/**
 * expNeg outside (2^-28, 2^-7]: the fdlibm/musl reduction exp(x) = 2^k × exp(r), |r| <= ln2/2, with its
 * degree-5 rational approximation (k = 0, hi = x, lo = 0 up to ln2/2).
 */
function expNegWide(t: number): number {
  if (!(t > 0)) return 1;
  if (t >= 708) return 0;
  if (!(t > 3.725290298461914e-9)) return 1.0 - t;
  let k = 0;
  let hi = -t;
  let lo = 0;
  if (t > 0.34657359027997264) {
    // exp(x) = 2^k × exp(r): k <= -1 here
    k = t >= 1.0397207708399179 ? Math.trunc(1.4426950408889634 * -t - 0.5) : -1;
    hi = -t - k * 0.6931471803691238;
    lo = k * 1.9082149292705877e-10;
  }
  const x = hi - lo;
  const xs = x * x;
  const xq = xs * xs;
  const c =
    x -
    (xs * 0.16666666666666602 +
      xq *
        (-0.0027777777777015593 +
          xs * 0.00006613756321437934 +
          xq * (-0.0000016533902205465252 + xs * 4.1381367970572385e-8)));
  const y = 1.0 + ((x * c) / (2 - c) - lo + hi);
  return k === 0 ? y : y * POW2_NEG[-k]!;
}

/** 2^-k for k in [0, 1022], exact (built from the bit pattern). */
const POW2_NEG = (() => {
  const t = new Float64Array(1023);
  const dv = new DataView(new ArrayBuffer(8));
  for (let k = 0; k < 1023; k++) {
    dv.setUint32(0, (0x3ff - k) << 20);
    dv.setUint32(4, 0);
    t[k] = dv.getFloat64(0);
  }
  return t;
})();

/** TS twin of assembly/peak-ewma.ts peakEwmaCost (`ratePerMs` = 1 / decayMs). */
export function peakEwmaCostTs(f: Float64Array, cap: number, r: number, now: number, ratePerMs: number): number {
  const iEst = COL_EST * cap + r;
  const iStamp = COL_STAMP * cap + r;
  let est = f[iEst]!;
  const elapsed = now - f[iStamp]!;
  if (elapsed > 0) {
    est = est * expNeg(elapsed * ratePerMs);
    f[iEst] = est;
    f[iStamp] = now;
  }
  const active = f[COL_ACTIVE * cap + r]!;
  if (est === 0 && active > 0) return PENALTY_MS + active;
  return est * (active + 1);
}

/**
 * TS twin of assembly/peak-ewma.ts peakEwmaObserve (`ratePerMs` = 1 / decayMs; `minWeight`: the warm-up floor,
 * 0 = tower's rule).
 */
export function peakEwmaObserveTs(
  f: Float64Array,
  cap: number,
  r: number,
  now: number,
  rttMs: number,
  ratePerMs: number,
  minWeight = 0,
): number {
  const iEst = COL_EST * cap + r;
  const iStamp = COL_STAMP * cap + r;
  let est = f[iEst]!;
  if (est < rttMs) est = rttMs;
  else {
    let elapsed = now - f[iStamp]!;
    if (elapsed < 0) elapsed = 0;
    const decay = expNeg(elapsed * ratePerMs);
    if (1 - decay < minWeight) est = est * (1 - minWeight) + rttMs * minWeight;
    else est = est * decay + rttMs * (1 - decay);
  }
  f[iEst] = est;
  f[iStamp] = now;
  return est;
}

/** Peak-EWMA cost at the pick's time (decays the stored estimates it reads, as tower's `load()` does). */
class PeakEwmaLoad implements LoadMetric {
  private f: Float64Array = new Float64Array(0);
  private cap = 0;
  private now = 0;
  constructor(
    private readonly env: PolicyEnv,
    private readonly ratePerMs: number,
  ) {}

  prepare(now: number): void {
    this.now = now === now ? now : this.env.now();
    const t = this.env.table;
    this.f = t.f;
    this.cap = t.cap;
  }

  load(r: number): number {
    return peakEwmaCostTs(this.f, this.cap, r, this.now, this.ratePerMs);
  }
}

/**
 * P2CPicker over PeakEwmaLoad for d = 2, calling the cost directly (no LoadMetric call site shared with
 * least_request): the same draws, the same costs in the same order (the second-sampled row first), the same
 * tie rule, so the same row for the same clock and random source (differential-tested against P2CPicker +
 * PeakEwmaLoad). Measured: pick+done ~10-20 % faster (interleaved A/B in one process). Retries
 * (`ctx.exclude`) and sets of fewer than two rows go to the generic picker.
 */
class PeakEwmaPairPicker implements Picker {
  declare private readonly random: Random;
  declare private readonly generic: P2CPicker;
  constructor(
    readonly rows: Int32Array,
    private readonly env: PolicyEnv,
    private readonly ratePerMs: number,
  ) {
    this.random = env.random;
    this.generic = new P2CPicker(rows, env, 2, new PeakEwmaLoad(env, ratePerMs));
  }

  pick(ctx: PickContext | undefined, now: number): number {
    const rows = this.rows;
    const m = rows.length;
    if (m <= 1 || (ctx !== undefined && ctx.exclude !== undefined && ctx.exclude.size > 0))
      return this.generic.pick(ctx, now);
    if (now !== now) now = this.env.now();
    const t = this.env.table;
    const f = t.f;
    const cap = t.cap;
    const random = this.random;
    const a = Math.floor(random() * m);
    let b = Math.floor(random() * (m - 1));
    if (b >= a) b++;
    const ra = rows[a]!;
    const rb = rows[b]!;
    const ratePerMs = this.ratePerMs;
    return peakEwmaCostTs(f, cap, rb, now, ratePerMs) < peakEwmaCostTs(f, cap, ra, now, ratePerMs) ? rb : ra;
  }
}

export class PeakEwmaPolicy implements Policy {
  readonly name = 'peak_ewma';
  readonly usesRtt = true;
  private readonly warmup: number;
  private readonly prior: number;
  private readonly ratePerMs: number;
  constructor(readonly config: PeakEwmaConfig = parsePeakEwma({})) {
    this.ratePerMs = 1 / config.decayMs;
    this.warmup = config.warmupSamples ?? DEFAULT_WARMUP_SAMPLES;
    this.prior = config.defaultRttMs > 0 ? 1 : 0;
  }

  build(rows: Int32Array, env: PolicyEnv): Picker {
    const ratePerMs = this.ratePerMs;
    if (this.config.choiceCount === 2) return new PeakEwmaPairPicker(rows, env, ratePerMs);
    return new P2CPicker(rows, env, this.config.choiceCount, new PeakEwmaLoad(env, ratePerMs));
  }

  onMembership(env: PolicyEnv, added: readonly number[], now: number): void {
    for (const r of added) {
      env.table.set(COL_EST, r, this.config.defaultRttMs);
      env.table.set(COL_STAMP, r, now);
    }
  }

  onDone(env: PolicyEnv, row: number, _ok: boolean, rttMs: number, now: number): void {
    if (rttMs !== rttMs) return; // not measured (measureRtt: false)
    if (now !== now) now = env.now();
    const t = env.table;
    const f = t.f;
    const iN = COL_SAMPLES * t.cap + row;
    const n = f[iN]!;
    const floor = warmupWeight(n + this.prior, this.warmup);
    peakEwmaObserveTs(f, t.cap, row, now, rttMs, this.ratePerMs, floor);
    f[iN] = n + 1;
  }

  /** The estimate and the cost a pick would see now (computed without decaying the stored estimate). */
  stats(env: PolicyEnv, row: number, now: number): Record<string, number> {
    const t = env.table;
    const elapsed = now - t.get(COL_STAMP, row);
    const est = elapsed > 0 ? t.get(COL_EST, row) * expNeg(elapsed * this.ratePerMs) : t.get(COL_EST, row);
    const active = t.get(COL_ACTIVE, row);
    return { rttEstimateMs: est, costMs: est === 0 && active > 0 ? PENALTY_MS + active : est * (active + 1) };
  }
}

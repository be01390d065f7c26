// gRPC's static stride scheduler for weighted round robin (gRFC A58; grpc `StaticStrideScheduler::Make` and
// `Pick` in src/core/load_balancing/weighted_round_robin/static_stride_scheduler.cc, also grpc-go
// balancer/weightedroundrobin/scheduler.go and grpc-java `StaticStrideScheduler`).
//
// Weights are scaled to integers so that the largest is M = 0xFFFF: with mean μ of the positive weights,
// the largest is first capped at 10 μ (kMaxRatio), each weight is round(min(w, max) × M / max) but at least
// max(1, round(0.01 × mean')) (kMinRatio; mean' = round(μ × M / max)), and a weight 0 ("unknown") gets mean'.
// A pick draws sequence numbers s = 0, 1, ... (uint32, wrapping; gRPC starts at a random value): member
// i = s mod n of generation g = floor(s / n) is taken when (w_i × g + i × 32767) mod M >= M − w_i, else the
// next number is tried. Member i is thus taken w_i times in M generations, spread evenly; a pick costs
// max / mean ≤ 10 tries on average, whatever n, and weights may be fractional. No set at all (0 members)
// picks -1; one member, or all weights 0, is round robin over the same sequence (gRPC's fallback), and so are
// weights that give no usable scale (NaN, a sum <= 0), where gRPC's arithmetic breaks down: every scaled weight
// is then >= 1, so a pick always ends. A weight above the largest float32 counts as that float (in gRPC's f32
// it would be Infinity, and the scale 0).
// grpc-go has no caps (kMaxRatio, kMinRatio), grpc-java uses kMinRatio 0.1; with weights within 10x of the
// mean all three agree. Measured (a pick alone, weights 1-4 × 0.5-1, 2-core EPYC, Node 20, interleaved): 14 /
// 37 / 32 ns at 8 / 64 / 1024 members, EDF (edf.ts) 32 / 75 / 129 ns then (54-56 ns at 1024 on the tournament
// tree it now uses for distinct weights). Picking never allocates.
//
//   weights a=1 b=2, sequence from 0 → scaled a=32768 b=65535 → b a b b a b b a b b a b
/** Largest scaled weight (kMaxWeight). */
export const STRIDE_MAX_WEIGHT = 0xffff;
/** Weights above this multiple of the mean are capped to it (kMaxRatio). */
export const STRIDE_MAX_RATIO = 10;
/** Weights below this fraction of the mean are raised to it (kMinRatio). */
export const STRIDE_MIN_RATIO = 0.01;
/** Per-member offset (kOffset = kMaxWeight / 2). */
const OFFSET = STRIDE_MAX_WEIGHT >>> 1;
/** Sequence numbers are uint32. */
const SEQ_SPAN = 2 ** 32;
/** With skips, this many generations are tried before the fallback (see `pick`). */
const SKIP_GENERATIONS = 64;
/** The largest float32: larger weights are taken as it (gRPC's weights are f32, where they would be Infinity). */
const F32_MAX = 3.4028234663852886e38;

/**
 * gRPC's scaled weights (uint16, each >= 1) of `weights` (>= 0), or null where gRPC falls back to round robin,
 * and where the weights give no usable scale (see the header).
 */
export function strideWeights(weights: ArrayLike<number>): Uint16Array | null {
  const n = weights.length;
  if (n <= 1) return null;
  let sum = 0;
  let max = 0; // float in gRPC: weights are f32 there
  let zeros = 0;
  for (let k = 0; k < n; k++) {
    const w = Math.fround(Math.min(weights[k]!, F32_MAX));
    sum += w;
    if (w > max) max = w;
    if (w === 0) zeros++;
  }
  if (zeros === n || !(sum > 0)) return null; // !(sum > 0): a NaN or negative weight
  const mean = sum / (n - zeros);
  if (max / mean > STRIDE_MAX_RATIO) max = Math.fround(STRIDE_MAX_RATIO * mean);
  const scale = STRIDE_MAX_WEIGHT / max;
  const scaledMean = Math.round(scale * mean);
  const lower = Math.max(1, Math.round(scaledMean * STRIDE_MIN_RATIO));
  const out = new Uint16Array(n);
  for (let k = 0; k < n; k++) {
    const w = Math.fround(Math.min(weights[k]!, F32_MAX));
    out[k] = w === 0 ? scaledMean : Math.max(Math.round(Math.min(w, max) * scale), lower);
    if (out[k] === 0) return null; // NaN on the way: a pick would never find a taker
  }
  return out;
}

export class StrideScheduler {
  /** The item of each index (a copy of the constructor's). */
  private readonly items: Int32Array;
  /** Scaled weight of each index; null: round robin (gRPC's fallback). */
  private readonly w: Uint16Array | null;
  /** (i × OFFSET) mod M, per index. */
  private readonly off: Int32Array;
  /** The next sequence number, and its index (s mod n) and generation mod M (floor(s / n) mod M). */
  private s: number;
  private i: number;
  private g: number;

  /** `items[k]` with weight `weights[k]` (>= 0, 0 = unknown); `seq`: the first sequence number (uint32). */
  constructor(items: Int32Array, weights: ArrayLike<number>, seq: number) {
    const n = items.length;
    this.items = items.slice();
    this.w = strideWeights(weights);
    this.off = new Int32Array(n);
    for (let k = 0; k < n; k++) this.off[k] = (k * OFFSET) % STRIDE_MAX_WEIGHT;
    this.s = this.i = this.g = 0;
    this.seq = seq;
  }

  get length(): number {
    return this.items.length;
  }

  /** The next sequence number (uint32). */
  get seq(): number {
    return this.s;
  }

  set seq(s: number) {
    const n = this.items.length;
    this.s = s >>> 0;
    this.i = n === 0 ? 0 : this.s % n;
    this.g = n === 0 ? 0 : Math.floor(this.s / n) % STRIDE_MAX_WEIGHT;
  }

  /** Index of the next sequence number; advances it. */
  private next(): number {
    const k = this.i;
    if (++this.s === SEQ_SPAN) {
      this.s = this.i = this.g = 0; // uint32 wraps: index and generation restart at 0
    } else if (++this.i === this.items.length) {
      this.i = 0;
      if (++this.g === STRIDE_MAX_WEIGHT) this.g = 0;
    }
    return k;
  }

  /** Whether index k is taken in generation `g` (mod M). */
  private takes(k: number, g: number): boolean {
    const wk = this.w![k]!;
    // (wk × g + off) mod M with M = 2^16 − 1 (2^16 ≡ 1): x < 2^32, so fold the 16-bit halves twice
    let x = wk * g + this.off[k]!;
    x = (x >>> 16) + (x & 0xffff);
    x = (x >>> 16) + (x & 0xffff);
    if (x >= STRIDE_MAX_WEIGHT) x -= STRIDE_MAX_WEIGHT;
    return x >= STRIDE_MAX_WEIGHT - wk;
  }

  /**
   * The next item; `skip(item)` true items are passed over like a sequence number that did not take them.
   * With skips, after SKIP_GENERATIONS × n numbers without a taker (the items left weigh < 1/64 of the largest
   * together) the first unskipped item of largest weight is returned; -1 if every item is skipped.
   */
  pick(skip?: (item: number) => boolean): number {
    const n = this.items.length;
    if (n === 0) return -1;
    if (this.w === null) {
      if (skip === undefined) return this.items[this.next()]!;
      for (let t = 0; t < n; t++) {
        const item = this.items[this.next()]!;
        if (!skip(item)) return item;
      }
      return -1;
    }
    if (skip === undefined) {
      for (;;) {
        const g = this.g;
        const k = this.next();
        if (this.takes(k, g)) return this.items[k]!;
      }
    }
    for (let t = SKIP_GENERATIONS * n; t > 0; t--) {
      const g = this.g;
      const k = this.next();
      if (this.takes(k, g) && !skip(this.items[k]!)) return this.items[k]!;
    }
    let best = -1;
    for (let k = 0; k < n; k++) if (!skip(this.items[k]!) && (best < 0 || this.w[k]! > this.w[best]!)) best = k;
    return best < 0 ? -1 : this.items[best]!;
  }
}

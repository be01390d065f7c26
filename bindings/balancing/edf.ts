// Earliest deadline first scheduling for weighted picks (Envoy `source/common/upstream/edf_scheduler.h`):
// each member has a deadline; a pick takes the earliest (ties: the earliest inserted), advances the clock to
// it and re-inserts the member with deadline + 1/weight. Over time member i gets weight_i / Σweight of the
// picks, with O(log n) per pick and fractional weights. Used by weighted_round_robin with `scheduler: 'edf'`
// (large sets with changing weights, where nginx's O(n) step is the bottleneck: see bench/policies.bench.ts).
//
// A binary min-heap over typed arrays; picking never allocates.
export class EdfScheduler {
  private readonly deadline: Float64Array;
  private readonly seq: Float64Array;
  private readonly item: Int32Array;
  private size = 0;
  private nextSeq = 0;
  private now = 0;
  private readonly parked: Int32Array;
  private readonly parkedDeadline: Float64Array;
  private readonly parkedSeq: Float64Array;
  private readonly parkedW: Int32Array;
  /** Index into `weights` of each heap slot's item. */
  private readonly widx: Int32Array;
  private readonly weights: Float64Array;

  /** `items[k]` with weight `weights[k]` (> 0); initial deadlines 1/weight, in order. */
  constructor(items: Int32Array, weights: Float64Array) {
    const n = items.length;
    this.deadline = new Float64Array(n);
    this.seq = new Float64Array(n);
    this.item = new Int32Array(n);
    this.parked = new Int32Array(n);
    this.parkedDeadline = new Float64Array(n);
    this.parkedSeq = new Float64Array(n);
    this.parkedW = new Int32Array(n);
    this.widx = new Int32Array(n);
    this.weights = weights;
    for (let k = 0; k < n; k++) this.push(items[k]!, 1 / weights[k]!, this.nextSeq++, k);
  }

  get length(): number {
    return this.size;
  }

  /** The next item, re-inserted with its next deadline; `skip(item)` true items are passed over (kept). */
  pick(skip?: (item: number) => boolean): number {
    let parked = 0;
    let out = -1;
    while (this.size > 0) {
      const it = this.item[0]!;
      if (skip !== undefined && skip(it)) {
        this.parked[parked] = it;
        this.parkedDeadline[parked] = this.deadline[0]!;
        this.parkedSeq[parked] = this.seq[0]!;
        this.parkedW[parked] = this.widx[0]!;
        parked++;
        this.popTop();
        continue;
      }
      const d = this.deadline[0]!;
      const w = this.widx[0]!;
      this.now = d;
      this.popTop();
      this.push(it, this.now + 1 / this.weights[w]!, this.nextSeq++, w);
      out = it;
      break;
    }
    for (let k = 0; k < parked; k++)
      this.push(this.parked[k]!, this.parkedDeadline[k]!, this.parkedSeq[k]!, this.parkedW[k]!);
    return out;
  }

  private less(a: number, b: number): boolean {
    const da = this.deadline[a]!;
    const db = this.deadline[b]!;
    return da < db || (da === db && this.seq[a]! < this.seq[b]!);
  }

  private swap(a: number, b: number): void {
    const d = this.deadline[a]!;
    this.deadline[a] = this.deadline[b]!;
    this.deadline[b] = d;
    const s = this.seq[a]!;
    this.seq[a] = this.seq[b]!;
    this.seq[b] = s;
    const i = this.item[a]!;
    this.item[a] = this.item[b]!;
    this.item[b] = i;
    const w = this.widx[a]!;
    this.widx[a] = this.widx[b]!;
    this.widx[b] = w;
  }

  private push(item: number, deadline: number, seq: number, w: number): void {
    let i = this.size++;
    this.item[i] = item;
    this.deadline[i] = deadline;
    this.seq[i] = seq;
    this.widx[i] = w;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.less(i, p)) break;
      this.swap(i, p);
      i = p;
    }
  }

  private popTop(): void {
    const last = --this.size;
    if (last > 0) {
      this.swap(0, last);
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < last && this.less(l, m)) m = l;
        if (r < last && this.less(r, m)) m = r;
        if (m === i) break;
        this.swap(i, m);
        i = m;
      }
    }
  }
}

// Earliest deadline first scheduling for weighted picks (Envoy `source/common/upstream/edf_scheduler.h`):
// each member has a deadline; a pick takes the earliest (ties: the earliest inserted), advances the clock to
// it and re-inserts the member with deadline + 1/weight. Over time member i gets weight_i / Σweight of the
// picks, with O(log n) per pick and fractional weights. Used by weighted_round_robin with `scheduler: 'edf'`
// (large sets with changing weights, where nginx's O(n) step is the bottleneck: see bench/policies.bench.ts).
//
// A binary min-heap of entry indices over typed arrays (each entry's deadline and insertion number live in
// arrays indexed by entry, so heap moves swap one index); picking never allocates.
export class EdfScheduler {
  /** The item of each entry (a copy of the constructor's). */
  private readonly items: Int32Array;
  /** Entry indices, a min-heap by (deadline, seq). */
  private readonly heap: Int32Array;
  private readonly deadline: Float64Array;
  /** Insertion number of each entry's current deadline: ties go to the earliest inserted. */
  private readonly seq: Float64Array;
  /** Entries `skip` passed over during one pick, put back after it. */
  private readonly parked: Int32Array;
  private size = 0;
  private nextSeq = 0;
  private now = 0;

  /** `items[k]` with weight `weights[k]` (> 0); initial deadlines 1/weight, in order. */
  constructor(
    items: Int32Array,
    private readonly weights: Float64Array,
  ) {
    const n = items.length;
    this.items = items.slice();
    this.heap = new Int32Array(n);
    this.deadline = new Float64Array(n);
    this.seq = new Float64Array(n);
    this.parked = new Int32Array(n);
    for (let k = 0; k < n; k++) {
      this.deadline[k] = 1 / weights[k]!;
      this.seq[k] = this.nextSeq++;
      this.push(k);
    }
  }

  get length(): number {
    return this.size;
  }

  /** The next item, re-inserted with its next deadline; `skip(item)` true items are passed over (kept). */
  pick(skip?: (item: number) => boolean): number {
    let parked = 0;
    let out = -1;
    while (this.size > 0) {
      const k = this.heap[0]!;
      this.popTop();
      if (skip !== undefined && skip(this.items[k]!)) {
        this.parked[parked++] = k;
        continue;
      }
      this.now = this.deadline[k]!;
      this.deadline[k] = this.now + 1 / this.weights[k]!;
      this.seq[k] = this.nextSeq++;
      this.push(k);
      out = this.items[k]!;
      break;
    }
    for (let i = 0; i < parked; i++) this.push(this.parked[i]!);
    return out;
  }

  /** Heap slot a before slot b. */
  private less(a: number, b: number): boolean {
    const ka = this.heap[a]!;
    const kb = this.heap[b]!;
    const da = this.deadline[ka]!;
    const db = this.deadline[kb]!;
    return da < db || (da === db && this.seq[ka]! < this.seq[kb]!);
  }

  private swap(a: number, b: number): void {
    const k = this.heap[a]!;
    this.heap[a] = this.heap[b]!;
    this.heap[b] = k;
  }

  private push(k: number): void {
    let i = this.size++;
    this.heap[i] = k;
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

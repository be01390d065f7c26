// Earliest deadline first scheduling for weighted picks (Envoy `source/common/upstream/edf_scheduler.h`):
// each member has a deadline; a pick takes the earliest (ties: the earliest inserted), advances the clock to
// it and re-inserts the member with deadline + 1/weight. Over time member i gets weight_i / Σweight of the
// picks, with O(log n) per pick and fractional weights. Used by weighted_round_robin with `scheduler: 'edf'`
// (large sets with changing weights, where nginx's O(n) step is the bottleneck: see bench/policies.bench.ts).
//
// Members of equal weight advance by the same step, so among them the (deadline, insertion) order is the order
// they were last re-inserted in: each such group is a queue sorted by (deadline, seq), and a pick moves the
// picked member from its group's head to its tail (a re-insertion lands after every member of its group, as
// float addition is monotone; after a pick that skipped members it may land earlier, found from the tail).
// A binary min-heap orders the groups by their heads, so a pick costs O(log g) for g distinct weights and O(1)
// within a group. With many distinct weights (g > n / GROUPED_MAX_SHARE, e.g. dynamic weights) a plain heap of
// members is faster: its slots hold the keys (deadline, seq, entry in parallel typed arrays), and a pick
// replaces the top in one bottom-up sift (Floyd; Wegener, "Bottom-up heapsort", 1993) that picks the earlier
// child without a branch. Measured (a pick alone, 2-core EPYC, Node 20; was 26 / 93 / 147 ns): 4 weights 20
// (plain) / 28 / 27 ns at 8 / 64 / 1024 members; distinct weights 28-32 / 42-49 / 63-66 ns (plain; with a
// branch per level 30-35 / 67-77 / 104-129 in the same runs). Tried and dropped: a 4-ary heap (no faster), a
// calendar queue (Brown 1988: 3x faster on spread-out weights, but dynamic weights cluster near the
// configured ones, so its buckets crowd). Either way the sequence is Envoy's exactly ((deadline, seq) is a
// total order; a group's head is its minimum), differential-tested against a reference heap. Picking never
// allocates.
/** One scheduler (GroupedEdf or HeapEdf). */
interface Edf {
  readonly length: number;
  pick(skip?: (item: number) => boolean): number;
}

/** Grouping pays off from this many members per distinct weight on average (measured, see header). */
const GROUPED_MAX_SHARE = 4;

export class EdfScheduler {
  private readonly impl: Edf;

  /** `items[k]` with weight `weights[k]` (> 0); initial deadlines 1/weight, in order. */
  constructor(items: Int32Array, weights: Float64Array) {
    const steps = new Set<number>();
    for (let k = 0; k < weights.length; k++) steps.add(1 / weights[k]!);
    this.impl =
      steps.size * GROUPED_MAX_SHARE <= items.length ? new GroupedEdf(items, weights) : new HeapEdf(items, weights);
  }

  get length(): number {
    return this.impl.length;
  }

  /** The next item, re-inserted with its next deadline; `skip(item)` true items are passed over (kept). */
  pick(skip?: (item: number) => boolean): number {
    return this.impl.pick(skip);
  }
}

/** Members grouped by weight (see header). */
class GroupedEdf implements Edf {
  /** The item of each entry (a copy of the constructor's). */
  private readonly items: Int32Array;
  /** Deadline and insertion number of each entry (ties go to the earliest inserted). */
  private readonly dl: Float64Array;
  private readonly sq: Float64Array;
  /** Per group: 1 / weight, its queue's region in `slots` (offset, length) and the head's place in it. */
  private readonly gStep: Float64Array;
  private readonly gOff: Int32Array;
  private readonly gLen: Int32Array;
  private readonly gHead: Int32Array;
  /** Entries of each group's queue, circular within the group's region, head first. */
  private readonly slots: Int32Array;
  /** Groups, a min-heap by their heads' (deadline, seq); `gPos[g]` is g's slot in it. */
  private readonly heap: Int32Array;
  private readonly gPos: Int32Array;
  private nextSeq = 0;

  /** `items[k]` with weight `weights[k]` (> 0); initial deadlines 1/weight, in order. */
  constructor(items: Int32Array, weights: Float64Array) {
    const n = items.length;
    this.items = items.slice();
    this.dl = new Float64Array(n);
    this.sq = new Float64Array(n);
    const groupOf = new Map<number, number[]>();
    for (let k = 0; k < n; k++) {
      const step = 1 / weights[k]!;
      this.dl[k] = step;
      this.sq[k] = this.nextSeq++;
      let g = groupOf.get(step);
      if (g === undefined) groupOf.set(step, (g = []));
      g.push(k);
    }
    const count = groupOf.size;
    this.gStep = new Float64Array(count);
    this.gOff = new Int32Array(count);
    this.gLen = new Int32Array(count);
    this.gHead = new Int32Array(count);
    this.slots = new Int32Array(n);
    this.heap = new Int32Array(count);
    this.gPos = new Int32Array(count);
    let g = 0;
    let off = 0;
    for (const [step, members] of groupOf) {
      this.gStep[g] = step;
      this.gOff[g] = off;
      this.gLen[g] = members.length;
      for (const k of members) this.slots[off++] = k;
      this.heap[g] = g;
      this.gPos[g] = g;
      g++;
    }
    for (let i = (count >> 1) - 1; i >= 0; i--) this.siftDown(i);
  }

  get length(): number {
    return this.items.length;
  }

  /** The next item, re-inserted with its next deadline; `skip(item)` true items are passed over (kept). */
  pick(skip?: (item: number) => boolean): number {
    if (this.heap.length === 0) return -1;
    if (skip === undefined) {
      const g = this.heap[0]!;
      const e = this.slots[this.gOff[g]! + this.gHead[g]!]!;
      this.requeue(g, 0, e);
      this.siftDown(0);
      return this.items[e]!;
    }
    // the earliest entry not skipped: the earliest of each group's first one not skipped
    let best = -1;
    let bestG = -1;
    let bestJ = 0;
    for (let g = 0; g < this.heap.length; g++) {
      const off = this.gOff[g]!;
      const len = this.gLen[g]!;
      let h = this.gHead[g]!;
      for (let j = 0; j < len; j++) {
        const e = this.slots[off + h]!;
        if (++h === len) h = 0;
        if (skip(this.items[e]!)) continue;
        if (best < 0 || this.before(e, best)) {
          best = e;
          bestG = g;
          bestJ = j;
        }
        break;
      }
    }
    if (best < 0) return -1;
    this.requeue(bestG, bestJ, best);
    this.siftDown(this.gPos[bestG]!);
    return this.items[best]!;
  }

  /** Entry a before entry b in (deadline, seq). */
  private before(a: number, b: number): boolean {
    const da = this.dl[a]!;
    const db = this.dl[b]!;
    return da < db || (da === db && this.sq[a]! < this.sq[b]!);
  }

  /** Picks entry e, `j` places after the head of group g: next deadline, moved to its place from the tail. */
  private requeue(g: number, j: number, e: number): void {
    this.dl[e] = this.dl[e]! + this.gStep[g]!;
    this.sq[e] = this.nextSeq++;
    const off = this.gOff[g]!;
    const len = this.gLen[g]!;
    const s = this.slots;
    const head = this.gHead[g]!;
    // the j entries before e move one place back, then the head advances: e's place becomes the tail
    let p = head + j;
    if (p >= len) p -= len;
    for (let q = 0; q < j; q++) {
      const prev = p === 0 ? len - 1 : p - 1;
      s[off + p] = s[off + prev]!;
      p = prev;
    }
    const h = head + 1 === len ? 0 : head + 1;
    this.gHead[g] = h;
    // p is now the old head's place: the tail; e goes there, or earlier if an entry there is later
    let back = len - 1;
    while (back > 0) {
      const prev = p === 0 ? len - 1 : p - 1;
      const o = s[off + prev]!;
      if (!this.before(e, o)) break;
      s[off + p] = o;
      p = prev;
      back--;
    }
    s[off + p] = e;
  }

  /** Head entry of group g. */
  private headOf(g: number): number {
    return this.slots[this.gOff[g]! + this.gHead[g]!]!;
  }

  /** Moves the group at heap slot i down to its place (its head only ever gets later). */
  private siftDown(i: number): void {
    const heap = this.heap;
    const size = heap.length;
    const g = heap[i]!;
    const e = this.headOf(g);
    for (;;) {
      let c = 2 * i + 1;
      if (c >= size) break;
      let ce = this.headOf(heap[c]!);
      if (c + 1 < size) {
        const re = this.headOf(heap[c + 1]!);
        if (this.before(re, ce)) {
          c++;
          ce = re;
        }
      }
      if (!this.before(ce, e)) break;
      heap[i] = heap[c]!;
      this.gPos[heap[i]!] = i;
      i = c;
    }
    heap[i] = g;
    this.gPos[g] = i;
  }
}

/** A heap of members whose slots hold the keys (see header). */
class HeapEdf implements Edf {
  /** The item of each entry (a copy of the constructor's). */
  private readonly items: Int32Array;
  /** 1 / weight of each entry. */
  private readonly step: Float64Array;
  /** Heap slots: deadline, insertion number (ties go to the earliest inserted) and entry. */
  private readonly hd: Float64Array;
  private readonly hs: Float64Array;
  private readonly hk: Int32Array;
  /** Slots `skip` passed over during one pick (deadline, seq, entry), put back after it. */
  private readonly pd: Float64Array;
  private readonly ps: Float64Array;
  private readonly pk: Int32Array;
  private size = 0;
  private nextSeq = 0;

  /** `items[k]` with weight `weights[k]` (> 0); initial deadlines 1/weight, in order. */
  constructor(items: Int32Array, weights: Float64Array) {
    const n = items.length;
    this.items = items.slice();
    this.step = new Float64Array(n);
    this.hd = new Float64Array(n);
    this.hs = new Float64Array(n);
    this.hk = new Int32Array(n);
    this.pd = new Float64Array(n);
    this.ps = new Float64Array(n);
    this.pk = new Int32Array(n);
    for (let k = 0; k < n; k++) {
      this.step[k] = 1 / weights[k]!;
      this.push(this.step[k]!, this.nextSeq++, k);
    }
  }

  get length(): number {
    return this.size;
  }

  /** The next item, re-inserted with its next deadline; `skip(item)` true items are passed over (kept). */
  pick(skip?: (item: number) => boolean): number {
    if (this.size === 0) return -1;
    if (skip === undefined) return this.take();
    let parked = 0;
    let out = -1;
    while (this.size > 0) {
      const k = this.hk[0]!;
      if (!skip(this.items[k]!)) {
        out = this.take();
        break;
      }
      this.pd[parked] = this.hd[0]!;
      this.ps[parked] = this.hs[0]!;
      this.pk[parked++] = k;
      const last = --this.size;
      if (last > 0) this.siftDown(this.hd[last]!, this.hs[last]!, this.hk[last]!);
    }
    for (let i = 0; i < parked; i++) this.push(this.pd[i]!, this.ps[i]!, this.pk[i]!);
    return out;
  }

  /** Takes the top (the clock moves to its deadline): it goes back with deadline + 1/weight. */
  private take(): number {
    const k = this.hk[0]!;
    this.siftDown(this.hd[0]! + this.step[k]!, this.nextSeq++, k);
    return this.items[k]!;
  }

  /**
   * Places (d, s, k) at the root's hole: the hole first moves down along the earlier child to a leaf (one
   * comparison per level), then (d, s, k) rises from there (Floyd's bottom-up sift: a re-inserted member's next
   * deadline is late, so it seldom rises far). The earlier child is chosen without a branch on the deadlines
   * (`c += +(rd < cd)`, where a branch is a coin flip the CPU mispredicts half the time), ties by a branch
   * seldom taken.
   */
  private siftDown(d: number, s: number, k: number): void {
    const hd = this.hd;
    const hs = this.hs;
    const hk = this.hk;
    const size = this.size;
    let i = 0;
    for (;;) {
      let c = 2 * i + 1;
      if (c >= size) break;
      if (c + 1 < size) {
        const cd = hd[c]!;
        const rd = hd[c + 1]!;
        if (rd === cd) c += +(hs[c + 1]! < hs[c]!);
        else c += +(rd < cd);
      }
      hd[i] = hd[c]!;
      hs[i] = hs[c]!;
      hk[i] = hk[c]!;
      i = c;
    }
    this.siftUp(i, d, s, k);
  }

  private push(d: number, s: number, k: number): void {
    this.siftUp(this.size++, d, s, k);
  }

  /** Places (d, s, k) at hole `i` or above it: parents later than it move down. */
  private siftUp(i: number, d: number, s: number, k: number): void {
    const hd = this.hd;
    const hs = this.hs;
    const hk = this.hk;
    while (i > 0) {
      const p = (i - 1) >> 1;
      const pd = hd[p]!;
      if (!(d < pd || (d === pd && s < hs[p]!))) break;
      hd[i] = pd;
      hs[i] = hs[p]!;
      hk[i] = hk[p]!;
      i = p;
    }
    hd[i] = d;
    hs[i] = s;
    hk[i] = k;
  }
}

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
// within a group (4 weights: 28 / 27 ns a pick at 64 / 1024 members). With many distinct weights
// (g > n / GROUPED_MAX_SHARE, e.g. dynamic weights) a tournament tree of members is faster (a winner tree,
// Knuth TAOCP vol. 3, 5.4.1: leaf k is member k, each node holds the earlier of its children's): a pick takes
// the root's member and plays the matches on that member's path again, bottom-up: one comparison per level on
// nodes known in advance, each winner chosen without a branch. Measured (interleaved, 2-core EPYC, Node 20),
// against the binary heap it replaced (Floyd's bottom-up sift, branch-free child choice): a pick alone
// 1.1-1.5x at 8 / 64 / 1024 members with dynamic-like weights (54-56 vs 64-86 ns at 1024), 0.95-1.4x with
// spread weights; weighted_round_robin(edf, dynamicWeights) pick + done 1.0-1.3x at 1024 (median of 5: 1.14).
// Skipped members are parked (ranked after every other) and put back after the pick. Tried and dropped: a loser
// tree (a branch per level: 0.67x the heap at 1024; branch-free: behind the winner tree), each node's deadline
// stored beside it (the same in pick + done) and two levels per step (half the chain of dependent comparisons;
// the same in a pick alone: the levels' instructions, not their latency, set the pace); a 4-ary heap (no
// faster), a calendar queue (Brown 1988: 3x faster on spread-out weights, but dynamic weights cluster near the
// configured ones, so its buckets crowd). Either way the sequence is Envoy's exactly ((deadline, seq) is a
// total order; a group's head is its minimum), differential-tested against a reference scan. Picking never
// allocates.
/** One scheduler (GroupedEdf or TreeEdf). */
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
    // distinct steps, counted until there are too many to group (dynamic weights: all differ)
    const steps = new Set<number>();
    for (let k = 0; k < weights.length && steps.size * GROUPED_MAX_SHARE <= items.length; k++)
      steps.add(1 / weights[k]!);
    this.impl =
      steps.size * GROUPED_MAX_SHARE <= items.length ? new GroupedEdf(items, weights) : new TreeEdf(items, weights);
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

/**
 * A tournament tree of members (see header). Also weighted least_request's scheduler (policies/least-request.ts),
 * which gives each entry's next step as it is picked (`stepOf`): Envoy's `pickAndAdd` with a weight of the moment.
 */
export class TreeEdf implements Edf {
  /** The item of each entry (a copy of the constructor's). */
  private readonly items: Int32Array;
  /** 1 / weight, deadline and insertion number (ties go to the earliest inserted) of each entry. */
  private readonly step: Float64Array;
  private readonly dl: Float64Array;
  private readonly sq: Float64Array;
  /** Node p in [1, n): the earliest entry below it (children 2p, 2p + 1); leaf n + k holds entry k. */
  private readonly win: Int32Array;
  /** 1 for an entry `skip` passed over during the current pick (it then ranks after every other). */
  private readonly parked: Uint8Array;
  /** Entries passed over during one pick, put back after it. */
  private readonly pk: Int32Array;
  private nextSeq = 0;
  /**
   * `items[k]` with weight `weights[k]` (> 0); initial deadlines 1/weight, in order. `stepOf(k)`, if given, is a
   * picked entry's next step (instead of 1/weight), asked at each pick.
   */
  constructor(
    items: Int32Array,
    weights: Float64Array,
    private readonly stepOf?: (entry: number) => number,
  ) {
    const n = items.length;
    this.items = items.slice();
    this.step = new Float64Array(n);
    this.dl = new Float64Array(n);
    this.sq = new Float64Array(n);
    this.win = new Int32Array(2 * n);
    this.parked = new Uint8Array(n);
    this.pk = new Int32Array(n);
    for (let k = 0; k < n; k++) {
      this.dl[k] = this.step[k] = 1 / weights[k]!;
      this.sq[k] = this.nextSeq++;
      this.win[n + k] = k;
    }
    for (let p = n - 1; p >= 1; p--) {
      const a = this.win[2 * p]!;
      const b = this.win[2 * p + 1]!;
      this.win[p] = this.before(b, a) ? b : a;
    }
  }

  get length(): number {
    return this.items.length;
  }

  /** The next item, re-inserted with its next deadline; `skip(item)` true items are passed over (kept). */
  pick(skip?: (item: number) => boolean): number {
    const n = this.items.length;
    if (n === 0) return -1;
    if (skip === undefined) return this.take(this.top(), false);
    let parked = 0;
    let out = -1;
    for (;;) {
      const k = this.top();
      if (this.parked[k] === 1) break; // every entry is parked
      if (!skip(this.items[k]!)) {
        out = this.take(k, parked > 0);
        break;
      }
      this.parked[k] = 1;
      this.pk[parked++] = k;
      this.replay(k);
    }
    for (let i = 0; i < parked; i++) {
      const k = this.pk[i]!;
      this.parked[k] = 0;
      this.replay(k);
    }
    return out;
  }

  /** The earliest entry. */
  private top(): number {
    return this.items.length === 1 ? 0 : this.win[1]!;
  }

  /** Entry a before entry b: parked last, then (deadline, seq). */
  private before(a: number, b: number): boolean {
    const pa = this.parked[a]!;
    const pb = this.parked[b]!;
    if (pa !== pb) return pa < pb;
    const da = this.dl[a]!;
    const db = this.dl[b]!;
    return da < db || (da === db && this.sq[a]! < this.sq[b]!);
  }

  /** Entry k's key changed (parked or put back): the matches on its path are played again. */
  private replay(k: number): void {
    const win = this.win;
    for (let c = this.items.length + k; c > 1; c >>= 1) {
      const a = win[c]!;
      const o = win[c ^ 1]!;
      win[c >> 1] = this.before(o, a) ? o : a;
    }
  }

  /**
   * Takes entry k, the earliest not parked (the clock moves to its deadline): it goes back with deadline +
   * 1/weight, and the matches on its path are played again, bottom-up. With nothing parked the comparison is
   * (deadline, seq) alone, and each match's winner is chosen without a branch (`cur ^= (cur ^ o) & -b`, where a
   * branch is a coin flip the CPU mispredicts half the time); ties by a branch seldom taken.
   */
  private take(k: number, parked: boolean): number {
    const dl = this.dl;
    const sq = this.sq;
    const win = this.win;
    dl[k] = dl[k]! + (this.stepOf === undefined ? this.step[k]! : this.stepOf(k));
    sq[k] = this.nextSeq++;
    if (parked) {
      this.replay(k);
      return this.items[k]!;
    }
    let cur = k;
    let cd = dl[k]!;
    for (let c = this.items.length + k; c > 1; c >>= 1) {
      const o = win[c ^ 1]!;
      const od = dl[o]!;
      const b = od === cd ? +(sq[o]! < sq[cur]!) : +(od < cd);
      cur ^= (cur ^ o) & -b;
      cd = dl[cur]!;
      win[c >> 1] = cur;
    }
    return this.items[k]!;
  }
}

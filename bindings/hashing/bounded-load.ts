// Consistent hashing with bounded loads (Mirrokni, Thorup, Zadimoghaddam, "Consistent Hashing with Bounded
// Loads", SODA 2018, arXiv:1608.01350): a decorator over any table with a preference order (EnvoyRingHash,
// Maglev, HashRing). With m requests in flight including the new one, member i may hold at most
// capacity_i = ceil(c × m × w_i / Σw) (ceil(c × m / n), i.e. c × the average, when weights are equal);
// a key goes to the first member of its preference order (ring order for rings, successive slots for
// Maglev) whose load is below its capacity. With c >= 1 the capacities sum to at least m, so some member
// always has room; no member ever exceeds its capacity, and a large c gives the plain lookup.
//
// Envoy's `hash_balance_factor` (percent: 125 means c = 1.25) applies a similar bound but, once the owner is
// over capacity, probes the other hosts in an order shuffled by the request hash (mt19937) rather than in
// ring order. `BoundedLoad` follows the paper's preference-order walk; `EnvoyBoundedLoad`
// (envoy/hash-balance.ts) reproduces Envoy's rule decision for decision.
//
//   const lb = new BoundedLoad(new Maglev(hosts), { factor: 1.25 });
//   const pick = lb.acquire('user:42'); // ... then pick.done()
//
// Loads come from `options.load(id)` (e.g. in-flight requests your client tracks; lower is better), or, when
// no callback is given, from counters kept here: `acquire` adds one and its handle's `done()` removes it,
// `setLoad` overrides a member's count.
//
// `BoundedLoad` is a `KeyLookup` (key-router.ts), not a `KeyRouter`: it answers lookups over a table it does
// not own, so the table's memory (its stats and dispose) stays with the table; its own stats are loads.
import type { Key, KeyLookup, OrderedKeyRouter } from './key-router.js';
import { checkOptions } from './base.js';
import { checkKeys, MemberPositions } from './shared.js';
import { bool, numberError, rangeError, str, typeError } from '../util/validate.js';

/** What the decorator needs from a consistent-hash table: an OrderedKeyRouter's lookups and order, weights if any. */
export interface BoundedLoadTarget extends Pick<OrderedKeyRouter, 'members' | 'get' | 'preference'> {
  weight?(id: string): number | undefined;
}

export interface BoundedLoadOptions {
  /** c >= 1: a member may hold at most ceil(c × its fair share of the load including the new request). */
  factor: number;
  /** Current load of a member (in-flight requests). Default: the counters kept by `acquire`/`setLoad`. */
  load?: (id: string) => number;
  /** Capacities in proportion to the target's member weights (default true); false: equal shares. */
  weighted?: boolean;
}

export interface BoundedPick {
  member: string;
  /** Ends the request: removes its unit of load (once; no-op with a `load` callback). */
  done(): void;
}

/**
 * ceil(c × total × share): the bound for one member when `total` requests (including the new one) share.
 * TypeError/RangeError for a factor that is not a finite number >= 1, a total that is not a finite number >= 0,
 * or a share outside [0, 1].
 */
export function boundedCapacity(factor: number, total: number, share: number): number {
  checkFactor(factor);
  if (!(typeof total === 'number' && total >= 0 && total < Infinity))
    throw numberError('total', 'a finite number >= 0', total);
  if (!(typeof share === 'number' && share >= 0 && share <= 1)) throw numberError('share', 'a number in [0, 1]', share);
  return capacityOf(factor, total, share);
}

/** boundedCapacity without the checks, for the lookups (their inputs are checked where they come from). */
function capacityOf(factor: number, total: number, share: number): number {
  return Math.ceil(factor * total * share);
}

function checkFactor(factor: unknown): number {
  if (!(typeof factor === 'number' && factor >= 1 && factor < Infinity))
    throw numberError('factor', 'a finite number >= 1', factor);
  return factor;
}

export class BoundedLoad implements KeyLookup {
  readonly factor: number;
  readonly target: BoundedLoadTarget;
  private readonly loadFn: ((id: string) => number) | undefined;
  private readonly weighted: boolean;
  private readonly counts = new Map<string, number>();
  private counted = 0;
  private sumFor: readonly string[] | null = null;
  private weightSum = 0;
  private readonly positions = new MemberPositions();

  constructor(target: BoundedLoadTarget, options: BoundedLoadOptions) {
    if (
      target === null ||
      typeof target !== 'object' ||
      typeof target.preference !== 'function' ||
      typeof target.get !== 'function'
    ) {
      throw typeError('target', 'a table with members, get() and preference() (every key router but JumpHash)', target);
    }
    checkOptions(options, ['factor', 'load', 'weighted']);
    this.factor = checkFactor(options.factor);
    if (options.load !== undefined && typeof options.load !== 'function')
      throw typeError('load', 'a function (id) => number', options.load);
    this.loadFn = options.load;
    this.weighted = options.weighted === undefined ? true : bool('weighted', options.weighted);
    this.target = target;
  }

  /** The target's members. */
  get members(): readonly string[] {
    return this.target.members;
  }

  get size(): number {
    return this.target.members.length;
  }

  /** A member's current load. */
  load(id: string): number {
    if (this.loadFn !== undefined) {
      const v = this.loadFn(id);
      if (!Number.isFinite(v) || v < 0) throw numberError(`load(${JSON.stringify(id)})`, 'a finite number >= 0', v);
      return v;
    }
    return this.counts.get(id) ?? 0;
  }

  /**
   * Sum of the members' loads: O(n) calls with a callback; with counters, a running sum (which keeps the
   * requests still open on members since removed from the table until their `done()`).
   */
  totalLoad(): number {
    if (this.loadFn === undefined) return this.counted;
    let s = 0;
    for (const id of this.target.members) s += this.load(id);
    return s;
  }

  /**
   * The most a member may hold once one more request arrives (ceil(c × share × (total + 1))); a RangeError for an
   * id that is not a member.
   */
  capacity(id: string): number {
    this.member(id);
    return capacityOf(this.factor, this.totalLoad() + 1, this.share(id));
  }

  /** The member for `key` under the bound, without recording load; undefined with no members. */
  get(key: Key): string | undefined {
    const members = this.target.members;
    if (members.length === 0) return this.target.get(key);
    const total = this.totalLoad() + 1;
    const first = this.target.get(key);
    if (first === undefined) return undefined;
    if (this.load(first) < capacityOf(this.factor, total, this.share(first))) return first;
    // walk the preference order; if everyone is full (loads set from outside), the least loaded relative
    // to its capacity wins, earliest in the order on ties
    let best = first;
    let bestRatio = Infinity;
    for (const id of this.target.preference(key, members.length)) {
      const cap = capacityOf(this.factor, total, this.share(id));
      const l = this.load(id);
      if (l < cap) return id;
      const ratio = l / cap;
      if (ratio < bestRatio) {
        bestRatio = ratio;
        best = id;
      }
    }
    return best;
  }

  /** Index into `members` of `get(key)`, or -1 with no members. */
  getIndex(key: Key): number {
    return this.positions.of(this.target.members, this.get(key));
  }

  getMany(keys: readonly Key[]): (string | undefined)[] {
    checkKeys(keys);
    return keys.map((k) => this.get(k));
  }

  /** Picks a member for `key` and counts the request against it until `done()`. */
  acquire(key: Key): BoundedPick | undefined {
    const member = this.get(key);
    if (member === undefined) return undefined;
    if (this.loadFn !== undefined) return { member, done: () => {} };
    this.counts.set(member, (this.counts.get(member) ?? 0) + 1);
    this.counted++;
    let open = true;
    return {
      member,
      done: () => {
        if (!open) return;
        open = false;
        this.counted--;
        const n = (this.counts.get(member) ?? 0) - 1;
        if (n > 0) this.counts.set(member, n);
        else this.counts.delete(member);
      },
    };
  }

  /**
   * Sets the counted load of a member (ignored when a `load` callback is given); of a member removed with load
   * still counted too. Any other id is a RangeError: its load would count in the total and raise every capacity.
   */
  setLoad(id: string, load: number): void {
    if (!this.counts.has(id)) this.member(id);
    if (!Number.isInteger(load) || load < 0) throw numberError('load', 'an integer >= 0', load);
    this.counted += load - (this.counts.get(id) ?? 0);
    if (load === 0) this.counts.delete(id);
    else this.counts.set(id, load);
  }

  /** Forgets every counted load. */
  clearLoads(): void {
    this.counts.clear();
    this.counted = 0;
  }

  /** Per-member load and capacity for the next request. */
  stats(): { factor: number; total: number; members: { id: string; load: number; capacity: number }[] } {
    const total = this.totalLoad();
    return {
      factor: this.factor,
      total,
      members: this.target.members.map((id) => ({
        id,
        load: this.load(id),
        capacity: capacityOf(this.factor, total + 1, this.share(id)),
      })),
    };
  }

  /** A TypeError unless `id` is a string, a RangeError unless it is one of the target's members. */
  private member(id: string): void {
    str('id', id);
    if (this.positions.of(this.target.members, id) < 0) throw rangeError('id', 'a member', id);
  }

  private share(id: string): number {
    const members = this.target.members;
    if (!this.weighted || typeof this.target.weight !== 'function') return 1 / members.length;
    if (this.sumFor !== members) {
      // members arrays are replaced, never mutated, when a table is rebuilt
      let sum = 0;
      for (const m of members) sum += this.target.weight(m) ?? 0;
      this.weightSum = sum;
      this.sumFor = members;
    }
    return (this.target.weight(id) ?? 0) / this.weightSum;
  }
}

export {
  EnvoyBoundedLoad,
  Mt19937,
  type EnvoyBoundedLoadOptions,
  type EnvoyHashingTarget,
} from './envoy/hash-balance.js';

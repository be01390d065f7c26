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
// ring order. `BoundedLoad` follows the paper's preference-order walk; `EnvoyBoundedLoad` (below) reproduces
// Envoy's rule decision for decision.
//
//   const lb = new BoundedLoad(new Maglev(hosts), { factor: 1.25 });
//   const pick = lb.acquire('user:42'); // ... then pick.done()
//
// Loads come from `options.load(id)` (e.g. in-flight requests your client tracks; lower is better), or, when
// no callback is given, from counters kept here: `acquire` adds one and its handle's `done()` removes it,
// `setLoad` overrides a member's count.
import { positive, rangeError, typeError } from '../util/validate.js';

export type Key = string | Uint8Array;

/** What the decorator needs from a consistent-hash table. */
export interface BoundedLoadTarget {
  readonly members: readonly string[];
  get(key: Key): string | undefined;
  preference(key: Key, n: number): string[];
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

/** ceil(c × total × share): the bound for one member when `total` requests (including the new one) share. */
export function boundedCapacity(factor: number, total: number, share: number): number {
  return Math.ceil(factor * total * share);
}

export class BoundedLoad {
  readonly factor: number;
  readonly target: BoundedLoadTarget;
  private readonly loadFn: ((id: string) => number) | undefined;
  private readonly weighted: boolean;
  private readonly counts = new Map<string, number>();
  private counted = 0;
  private sumFor: readonly string[] | null = null;
  private weightSum = 0;

  constructor(target: BoundedLoadTarget, options: BoundedLoadOptions) {
    if (
      target === null ||
      typeof target !== 'object' ||
      typeof target.preference !== 'function' ||
      typeof target.get !== 'function'
    ) {
      throw typeError(
        'target',
        'a table with members, get() and preference() (EnvoyRingHash, Maglev, HashRing)',
        target,
      );
    }
    if (options === null || typeof options !== 'object') throw typeError('options', 'an object', options);
    const c = positive('factor', options.factor);
    if (c < 1) throw rangeError('factor', 'a number >= 1', c);
    this.factor = c;
    if (options.load !== undefined && typeof options.load !== 'function')
      throw typeError('load', 'a function (id) => number', options.load);
    this.loadFn = options.load;
    this.weighted = options.weighted ?? true;
    this.target = target;
  }

  /** A member's current load. */
  load(id: string): number {
    if (this.loadFn !== undefined) {
      const v = this.loadFn(id);
      if (typeof v !== 'number' || !Number.isFinite(v) || v < 0)
        throw rangeError(`load(${JSON.stringify(id)})`, 'a finite number >= 0', v);
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

  /** The most a member may hold once one more request arrives (ceil(c × share × (total + 1))). */
  capacity(id: string): number {
    return boundedCapacity(this.factor, this.totalLoad() + 1, this.share(id));
  }

  /** The member for `key` under the bound, without recording load; undefined with no members. */
  get(key: Key): string | undefined {
    const members = this.target.members;
    if (members.length === 0) return this.target.get(key);
    const total = this.totalLoad() + 1;
    const first = this.target.get(key);
    if (first === undefined) return undefined;
    if (this.load(first) < boundedCapacity(this.factor, total, this.share(first))) return first;
    // walk the preference order; if everyone is full (loads set from outside), the least loaded relative
    // to its capacity wins, earliest in the order on ties
    let best = first;
    let bestRatio = Infinity;
    for (const id of this.target.preference(key, members.length)) {
      const cap = boundedCapacity(this.factor, total, this.share(id));
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

  getMany(keys: readonly Key[]): (string | undefined)[] {
    if (!Array.isArray(keys)) throw typeError('keys', 'an array of strings or Uint8Arrays', keys);
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

  /** Sets the counted load of a member (ignored when a `load` callback is given). */
  setLoad(id: string, load: number): void {
    if (typeof id !== 'string') throw typeError('id', 'a string', id);
    if (typeof load !== 'number' || !Number.isInteger(load) || load < 0)
      throw rangeError('load', 'an integer >= 0', load);
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
        capacity: boundedCapacity(this.factor, total + 1, this.share(id)),
      })),
    };
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

// ---- Envoy's hash_balance_factor, exactly (BoundedLoadHashingLoadBalancer::chooseHost) ----

/** std::mt19937 (Matsumoto & Nishimura 1998), 32-bit outputs; seeded as the C++ standard specifies. */
export class Mt19937 {
  private readonly mt = new Uint32Array(624);
  private i = 624;

  constructor(seed: number) {
    const mt = this.mt;
    mt[0] = seed >>> 0;
    for (let k = 1; k < 624; k++) {
      const prev = mt[k - 1]! ^ (mt[k - 1]! >>> 30);
      // 1812433253 × prev + k mod 2^32, exact on 16-bit halves
      mt[k] = ((((prev >>> 16) * 1812433253) << 16) + (prev & 0xffff) * 1812433253 + k) >>> 0;
    }
  }

  next(): number {
    const mt = this.mt;
    if (this.i >= 624) {
      for (let k = 0; k < 624; k++) {
        const y = (mt[k]! & 0x80000000) | (mt[(k + 1) % 624]! & 0x7fffffff);
        mt[k] = mt[(k + 397) % 624]! ^ (y >>> 1) ^ (y & 1 ? 0x9908b0df : 0);
      }
      this.i = 0;
    }
    let y = mt[this.i++]!;
    y ^= y >>> 11;
    y ^= (y << 7) & 0x9d2c5680;
    y ^= (y << 15) & 0xefc60000;
    y ^= y >>> 18;
    return y >>> 0;
  }
}

/** A table that answers Envoy's chooseHost(hash, attempt) and lists hosts in Envoy's host-set order. */
export interface EnvoyHashingTarget {
  readonly members: readonly string[];
  /** Envoy's host-set order (the order given); defaults to `members`. */
  readonly hosts?: readonly string[];
  getByHash(hash: bigint | number, attempt?: number): string | undefined;
  weight?(id: string): number | undefined;
}

export interface EnvoyBoundedLoadOptions {
  /** Envoy `hash_balance_factor`, an integer percent >= 100 (125 means c = 1.25). */
  hashBalanceFactor: number;
  /** Active requests of a host (Envoy's rq_active). */
  load: (id: string) => number;
  /** Active requests in the cluster (Envoy's upstream_rq_active); default: the sum of `load` over hosts. */
  totalLoad?: () => number;
}

/**
 * Envoy's `hash_balance_factor` decorator over EnvoyRingHash or Maglev, decision for decision: with A active
 * requests in the cluster, a host of normalized weight w may hold slots = max(ceil(floor(((A + 1) × f + 99)
 * / 100) × w), 1) and is overloaded when its active count exceeds slots. An overloaded owner makes Envoy
 * walk all hosts in a Fisher-Yates shuffle drawn from std::mt19937 seeded with the request hash (its low
 * 32 bits), taking the first host that is not overloaded, else the least overloaded.
 */
export class EnvoyBoundedLoad {
  readonly hashBalanceFactor: number;
  readonly target: EnvoyHashingTarget;
  private readonly loadFn: (id: string) => number;
  private readonly totalFn: (() => number) | undefined;
  private hosts: readonly string[] = [];
  private weights: number[] = [];
  private position = new Map<string, number>();

  constructor(target: EnvoyHashingTarget, options: EnvoyBoundedLoadOptions) {
    if (target === null || typeof target !== 'object' || typeof target.getByHash !== 'function')
      throw typeError('target', 'a table with getByHash(hash, attempt) (EnvoyRingHash, Maglev)', target);
    if (options === null || typeof options !== 'object') throw typeError('options', 'an object', options);
    const f = options.hashBalanceFactor;
    if (typeof f !== 'number') throw typeError('hashBalanceFactor', 'an integer >= 100', f);
    if (!Number.isInteger(f) || f < 100 || f > 0xffffffff)
      throw rangeError('hashBalanceFactor', 'an integer >= 100', f);
    if (typeof options.load !== 'function') throw typeError('load', 'a function (id) => number', options.load);
    this.hashBalanceFactor = f;
    if (options.totalLoad !== undefined && typeof options.totalLoad !== 'function')
      throw typeError('totalLoad', 'a function () => number', options.totalLoad);
    this.loadFn = options.load;
    this.totalFn = options.totalLoad;
    this.target = target;
  }

  /** The host Envoy picks for a 64-bit request hash (attempt 0), or undefined with no hosts. */
  getByHash(hash: bigint | number): string | undefined {
    const host = this.target.getByHash(hash, 0);
    if (host === undefined) return undefined;
    this.refresh();
    const hosts = this.hosts;
    const loadOf = (id: string): number => {
      const v = this.loadFn(id);
      if (typeof v !== 'number' || !Number.isInteger(v) || v < 0)
        throw rangeError(`load(${JSON.stringify(id)})`, 'an integer >= 0', v);
      return v;
    };
    let active: number;
    if (this.totalFn !== undefined) active = this.totalFn();
    else {
      active = 0;
      for (const id of hosts) active += loadOf(id);
    }
    const totalSlots = Math.floor(((((active + 1) * this.hashBalanceFactor) % 2 ** 32) + 99) / 100);
    const weights = this.weights;
    const factor = (k: number) => loadOf(hosts[k]!) / Math.max(Math.ceil(totalSlots * weights[k]!), 1);
    const owner = this.position.get(host)!;
    let least = owner;
    let leastFactor = factor(owner);
    if (leastFactor <= 1.0) return host;
    const n = hosts.length;
    const index = Array.from({ length: n }, (_, i) => i);
    const rng = new Mt19937(Number(BigInt.asUintN(32, BigInt(hash))));
    for (let i = 0; i < n; i++) {
      const span = n - i;
      const bucket = Math.floor(4294967296 / span);
      let j = span;
      while (j >= span) j = Math.floor(rng.next() / bucket);
      const t = index[i]!;
      index[i] = index[i + j]!;
      index[i + j] = t;
      const k = index[i]!;
      if (k === owner) continue;
      const fk = factor(k);
      if (fk <= 1.0) return hosts[k];
      if (leastFactor > fk) {
        least = k;
        leastFactor = fk;
      }
    }
    return hosts[least];
  }

  /** Normalized weights and host positions, recomputed when the target's host list is replaced. */
  private refresh(): void {
    const hosts = this.target.hosts ?? this.target.members;
    if (hosts === this.hosts) return;
    const w = hosts.map((id) => this.target.weight?.(id) ?? 1);
    let sum = 0;
    for (const x of w) sum += x;
    this.weights = w.map((x) => x / sum);
    this.position = new Map(hosts.map((id, i) => [id, i]));
    this.hosts = hosts;
  }
}

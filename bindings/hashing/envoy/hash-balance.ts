// Envoy's `hash_balance_factor` over EnvoyRingHash or Maglev, decision for decision (envoyproxy/envoy,
// source/extensions/load_balancing_policies/common/thread_aware_lb_impl.cc, formerly source/common/upstream/;
// BoundedLoadHashingLoadBalancer::chooseHost): the bounded-load rule of Mirrokni, Thorup and Zadimoghaddam
// (SODA 2018; bounded-load.ts has the paper's own walk) with Envoy's slot arithmetic and, once the owner is
// overloaded, a probe of all hosts in a Fisher-Yates shuffle drawn from std::mt19937 seeded with the request
// hash. `EnvoyBoundedLoad` is a `KeyLookup` (key-router.ts): it decorates a table it does not own.
//
//   const lb = new EnvoyBoundedLoad(new Maglev(hosts), { hashBalanceFactor: 125, load: (id) => active(id) });
//   lb.get('user:42');
import type { Key, KeyLookup } from '../key-router.js';
import { checkOptions } from '../base.js';
import { checkKeys, MemberPositions } from '../shared.js';
import { numberError, rangeError, typeError } from '../../util/validate.js';
import { keyHashHi, keyHashLo, u64Lo } from './common.js';

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
  /** Envoy's chooseHost: a 64-bit hash given as a safe integer or a bigint (both are checked at construction). */
  getByHash(hash: bigint | number, attempt?: number): string | undefined;
  weight?(id: string): number | undefined;
}

export interface EnvoyBoundedLoadOptions {
  /** Envoy `hash_balance_factor`, an integer percent >= 100 (125 means c = 1.25). */
  hashBalanceFactor: number;
  /** Active requests of a host (Envoy's rq_active), an integer >= 0. */
  load: (id: string) => number;
  /**
   * Active requests in the cluster (Envoy's upstream_rq_active), an integer >= 0; default: the sum of `load`
   * over hosts.
   */
  totalLoad?: () => number;
}

const TARGET = 'a table with getByHash(hash, attempt) over 64-bit request hashes (EnvoyRingHash, Maglev)';

/** An active-request count from a callback (`what` names it): an integer >= 0. */
function count(what: string, v: unknown): number {
  if (!Number.isInteger(v) || (v as number) < 0) throw numberError(what, 'an integer >= 0', v);
  return v as number;
}

/**
 * Envoy's `hash_balance_factor` decorator over EnvoyRingHash or Maglev, decision for decision: with A active
 * requests in the cluster, a host of normalized weight w may hold slots = max(ceil(floor(((A + 1) × f + 99)
 * / 100) × w), 1) and is overloaded when its active count exceeds slots. An overloaded owner makes Envoy
 * walk all hosts in a Fisher-Yates shuffle drawn from std::mt19937 seeded with the request hash (its low
 * 32 bits), taking the first host that is not overloaded, else the least overloaded.
 */
export class EnvoyBoundedLoad implements KeyLookup {
  readonly hashBalanceFactor: number;
  readonly target: EnvoyHashingTarget;
  private readonly loadFn: (id: string) => number;
  private readonly totalFn: (() => number) | undefined;
  private hosts: readonly string[] = [];
  private weights: number[] = [];
  private position = new Map<string, number>();
  private readonly positions = new MemberPositions();

  constructor(target: EnvoyHashingTarget, options: EnvoyBoundedLoadOptions) {
    if (target === null || typeof target !== 'object' || typeof target.getByHash !== 'function')
      throw typeError('target', TARGET, target);
    this.target = target;
    // Envoy's request hashes are 64-bit, given as safe integers or bigints (as get passes them): a table of
    // 32-bit hashes (HashRing, KetamaRing, nginx) or of bigint keys only (JumpHash) is refused here, not on
    // the first request whose hash it cannot take
    this.pick(Number.MAX_SAFE_INTEGER);
    this.pick(0xffffffffffffffffn);
    checkOptions(options, ['hashBalanceFactor', 'load', 'totalLoad']);
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
  }

  /** The target's members. */
  get members(): readonly string[] {
    return this.target.members;
  }

  get size(): number {
    return this.target.members.length;
  }

  /** The host Envoy picks for `key`, whose request hash is xxHash64 (seed 0) of its bytes (as the tables' `get`). */
  get(key: Key): string | undefined {
    const lo = keyHashLo(key);
    const hi = keyHashHi();
    return this.getByHash(hi < 0x200000 ? hi * 4294967296 + lo : (BigInt(hi) << 32n) | BigInt(lo));
  }

  /** Index into `members` of `get(key)`, or -1 with no members. */
  getIndex(key: Key): number {
    return this.positions.of(this.target.members, this.get(key));
  }

  getMany(keys: readonly Key[]): (string | undefined)[] {
    checkKeys(keys);
    return keys.map((k) => this.get(k));
  }

  /** The host Envoy picks for a 64-bit request hash (attempt 0), or undefined with no hosts. */
  getByHash(hash: bigint | number): string | undefined {
    u64Lo(hash); // a bad hash is the caller's error (naming `hash`); a refused good one is the target's
    const host = this.pick(hash);
    if (host === undefined) return undefined;
    this.refresh();
    const hosts = this.hosts;
    const loadOf = (id: string): number => count(`load(${JSON.stringify(id)})`, this.loadFn(id));
    let active: number;
    if (this.totalFn !== undefined) active = count('totalLoad()', this.totalFn());
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

  /** The target's host for `hash` (attempt 0); a hash it refuses is a TypeError naming `target`. */
  private pick(hash: bigint | number): string | undefined {
    try {
      return this.target.getByHash(hash, 0);
    } catch (err) {
      if ((err instanceof TypeError || err instanceof RangeError) && /^hash\b/.test(err.message))
        throw new TypeError(typeError('target', TARGET, this.target).message, { cause: err });
      throw err;
    }
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

// EnvoyRingHash: Envoy's `ring_hash` load balancer (envoyproxy/envoy,
// source/extensions/load_balancing_policies/ring_hash/ring_hash_lb.cc), entry for entry.
//
// Hosts keep the order given (Envoy's host-set order: it decides who gets the fractional entries). Weights
// are Envoy's integer `load_balancing_weight`s, normalized to w / sum. scale = min(ceil(minNormalized ×
// minimumRingSize) / minNormalized, maximumRingSize); walking the hosts with running sums, a host appends
// entries while `current < target` (target += scale × normalized weight), entry i hashing `${id}_${i}` with
// xxHash64 seed 0 (`XX_HASH`) or libstdc++'s 64-bit std::hash (`MURMUR_HASH_2`, seed 0xc70f6907). Entries
// are sorted by hash. A request hash maps to the first entry >= hash, wrapping to entry 0.
//
// Keys: `get(key)` hashes the key's UTF-8 bytes (or the bytes given) with xxHash64 seed 0, which is what
// Envoy's hash policies compute for a header, cookie or query-parameter value (HashUtil::xxHash64), even on
// a MURMUR_HASH_2 ring. `getByHash` takes a hash Envoy computed some other way.
//
//   const ring = new EnvoyRingHash(['10.0.0.1:80', { id: '10.0.0.2:80', weight: 2 }]);
//   ring.get('user:42'); // '10.0.0.1:80' or '10.0.0.2:80'
//
// Paths (bench/envoy.bench.ts): the ring is built by the WASM core (native u64 hashing and radix sort) or by
// the pure-TS twin. Lookups (ours, not Envoy's, same answers) read a bucket table over the hashes' top bits
// (about one entry per bucket, `fillBuckets`) and binary-search only that bucket's entries: ring_hash pick + done
// 1.5x faster at 1024 members than a search of the whole ring (12 mispredicted steps at 2 560 entries).
// `get(key)` on a WASM-built ring hashes and looks up in one WASM call (xxh64 on emulated 32-bit halves in TS is
// ~4x slower than copying the key in); `getByHash` and the pure-TS backend search in TS over 32-bit views.
import type { Backend } from '../../core/core.js';
import { batchKeys, putKey, putKeyLength, type WasmHandle } from '../../core/core-wasm.js';
import { HASH_WASM } from '../../core/families.js';
import { writeDecimal } from '../../core/label.js';
import { align16, detached } from '../../core/memory.js';
import { utf8 } from '../../core/utf8.js';
import { intInRange, rangeError, str } from '../../util/validate.js';
import { xxh64Hi, xxh64Pair } from '../../core/xxhash.js';
import { type Key, keyError, type RouterMemberStats, type OrderedKeyRouter, type RouterStats } from '../key-router.js';
import { checkOptions, FixedRouter } from '../base.js';
import { checkKeys, distinctFrom } from '../shared.js';
import { type EnvoyMemberInput, keyHash, keyHashLo, parseEnvoyMembers, u64Hi, u64Lo } from './common.js';
import { envoyMurmur2Pair, murmurHi } from './murmur2.js';

export type { EnvoyMemberInput };
export { envoyMurmur2Pair, murmurHi };
export type EnvoyRingHashFunction = 'XX_HASH' | 'MURMUR_HASH_2';

export interface EnvoyRingHashOptions {
  /** Envoy `minimum_ring_size` (default 1024). */
  minimumRingSize?: number;
  /** Envoy `maximum_ring_size` (default 8388608, also the largest allowed). */
  maximumRingSize?: number;
  /** Envoy `hash_function` for the ring entries (default 'XX_HASH'). Request keys are always xxHash64. */
  hashFunction?: EnvoyRingHashFunction;
  /** Build with this backend; by default the active one (`backend()`). */
  backend?: Backend;
}

export interface EnvoyRingMemberStats extends RouterMemberStats {
  weight: number;
  /** Ring entries of this member. */
  points: number;
  /** Fraction of the 64-bit hash space that maps to this member. */
  share: number;
}

export interface EnvoyRingStats extends RouterStats {
  hashFunction: EnvoyRingHashFunction;
  points: number;
  minPointsPerMember: number;
  maxPointsPerMember: number;
  /** Bytes of entry hashes, member indices and the bucket table. */
  bytes: number;
  members: EnvoyRingMemberStats[];
}

export const ENVOY_MIN_RING_SIZE = 1024;
export const ENVOY_MAX_RING_SIZE = 8388608;

interface RingExports {
  envoyRingLookupManyBytes(
    hashes: number,
    hosts: number,
    size: number,
    table: number,
    bits: number,
    bytes: number,
    offsets: number,
    count: number,
    out: number,
  ): void;
  envoyRingGet(
    hashes: number,
    hosts: number,
    size: number,
    table: number,
    bits: number,
    key: number,
    len: number,
  ): number;
  envoyRingCounts(weights: number, n: number, minRing: number, maxRing: number, counts: number): number;
  envoyRingScratchBytes(size: number): number;
  envoyRingBuild(
    keys: number,
    keyOffsets: number,
    counts: number,
    n: number,
    hashKind: number,
    label: number,
    scratch: number,
    hashes: number,
    hosts: number,
  ): number;
}

/** Entries per host as Envoy's running sums assign them (twin of envoyRingCounts). */
export function envoyRingCounts(weights: readonly number[], minRingSize: number, maxRingSize: number): number[] {
  const n = weights.length;
  if (n === 0) return [];
  let sum = 0;
  for (const w of weights) sum += w;
  let minWeight = 1.0;
  for (const w of weights) minWeight = Math.min(minWeight, w / sum);
  const scale = Math.min(Math.ceil(minWeight * minRingSize) / minWeight, maxRingSize);
  let current = 0;
  let target = 0;
  const counts = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    target += scale * (weights[i]! / sum);
    let c = 0;
    while (current < target) {
      current += 1;
      c++;
    }
    counts[i] = c;
  }
  return counts;
}

/**
 * A built ring: hashes as [lo, hi] u32 pairs (little-endian u64s), host index per entry, and a bucket table over
 * the hashes' top `bits` bits (fillBuckets). In WASM memory the three follow each other from `ptr`.
 */
interface Table {
  size: number;
  hashes: Uint32Array;
  hosts: Uint32Array;
  buckets: Uint32Array;
  bits: number;
  /** WASM region (0 for the TS build). */
  ptr: number;
}

/** Bits of the bucket table for `size` entries: about one entry per bucket, at most 2^20 buckets (4 MiB). */
const bucketBits = (size: number): number => Math.min(20, Math.max(1, Math.ceil(Math.log2(size))));

/**
 * Entry t of `buckets` (2^bits + 1 entries) is the index of the first entry >= t << (64 - bits), the last one
 * `size`: the first entry >= a hash lies in its bucket's range (or is the range's end), so a lookup searches about
 * one entry instead of the whole ring (12 steps at 2 560 entries, each a likely mispredicted branch).
 */
function fillBuckets(hashes: Uint32Array, size: number, buckets: Uint32Array, bits: number): void {
  const shift = 32 - bits;
  const n = 1 << bits;
  let i = 0;
  for (let t = 0; t < n; t++) {
    while (i < size && hashes[2 * i + 1]! >>> shift < t) i++;
    buckets[t] = i;
  }
  buckets[n] = size;
}

/** Pure-TS build (twin of envoyRingBuild): entries in build order, then a stable sort by hash. */
export function buildEnvoyRingJs(
  ids: readonly string[],
  counts: readonly number[],
  murmur: boolean,
): {
  hashes: Uint32Array;
  hosts: Uint32Array;
} {
  let size = 0;
  for (const c of counts) size += c;
  const lo = new Uint32Array(size);
  const hi = new Uint32Array(size);
  const host = new Uint32Array(size);
  let k = 0;
  for (let m = 0; m < ids.length; m++) {
    const prefix = utf8(ids[m]! + '_');
    const label = new Uint8Array(prefix.length + 10);
    label.set(prefix);
    for (let i = 0; i < counts[m]!; i++) {
      const len = prefix.length + writeDecimal(label, prefix.length, i);
      if (murmur) {
        lo[k] = envoyMurmur2Pair(label, len);
        hi[k] = murmurHi();
      } else {
        lo[k] = xxh64Pair(label, 0, 0, len);
        hi[k] = xxh64Hi();
      }
      host[k] = m;
      k++;
    }
  }
  const order = Array.from({ length: size }, (_, i) => i);
  order.sort((a, b) => hi[a]! - hi[b]! || lo[a]! - lo[b]! || a - b);
  const hashes = new Uint32Array(size * 2);
  const hosts = new Uint32Array(size);
  for (let i = 0; i < size; i++) {
    const j = order[i]!;
    hashes[2 * i] = lo[j]!;
    hashes[2 * i + 1] = hi[j]!;
    hosts[i] = host[j]!;
  }
  return { hashes, hosts };
}

/** Index of the first entry >= (hi, lo), wrapping to 0 (TS twin of assembly/ring-hash.ts envoyRingIndex). */
function ringIndex(t: Table, hi: number, lo: number): number {
  const hashes = t.hashes;
  const k = hi >>> (32 - t.bits);
  let a = t.buckets[k]!;
  let b = t.buckets[k + 1]!;
  while (a < b) {
    const m = (a + b) >>> 1;
    const mh = hashes[2 * m + 1]!;
    if (mh < hi || (mh === hi && hashes[2 * m]! < lo)) a = m + 1;
    else b = m;
  }
  return a === t.size ? 0 : a;
}

/**
 * Envoy's ring_hash table. Immutable, as in Envoy (which rebuilds it on every host-set change): not mutable.
 * `members` are in the order given (the build order Envoy uses).
 */
export class EnvoyRingHash extends FixedRouter<Table> implements OrderedKeyRouter {
  readonly minimumRingSize: number;
  readonly maximumRingSize: number;
  readonly hashFunction: EnvoyRingHashFunction;
  private readonly counts: number[];

  constructor(members: Iterable<EnvoyMemberInput> = [], options: EnvoyRingHashOptions = {}) {
    checkOptions(options, ['minimumRingSize', 'maximumRingSize', 'hashFunction', 'backend']);
    const min =
      options.minimumRingSize === undefined
        ? ENVOY_MIN_RING_SIZE
        : intInRange('minimumRingSize', options.minimumRingSize, 1, ENVOY_MAX_RING_SIZE);
    const max =
      options.maximumRingSize === undefined
        ? ENVOY_MAX_RING_SIZE
        : intInRange('maximumRingSize', options.maximumRingSize, 1, ENVOY_MAX_RING_SIZE);
    if (min > max) throw rangeError('minimumRingSize', `<= maximumRingSize (${max})`, min);
    const hf = options.hashFunction === undefined ? 'XX_HASH' : str('hashFunction', options.hashFunction);
    if (hf !== 'XX_HASH' && hf !== 'MURMUR_HASH_2')
      throw rangeError('hashFunction', "'XX_HASH' or 'MURMUR_HASH_2'", hf);
    super(options, HASH_WASM);
    this.minimumRingSize = min;
    this.maximumRingSize = max;
    this.hashFunction = hf;
    const { ids, weights } = parseEnvoyMembers(members);
    this.setHosts(ids, weights);
    this.counts = this.wasm === null ? envoyRingCounts(weights, min, max) : [];
    if (ids.length > 0) this.t = this.wasm === null ? this.buildJs() : this.buildWasm(this.wasm);
  }

  /** Same as `members`: the order given, Envoy's host-set order. */
  get hosts(): readonly string[] {
    return this.members;
  }

  /** Ring entries. */
  get points(): number {
    return this.t === null ? 0 : this.t.size;
  }

  /** The member that owns `key` (xxHash64 seed 0 of its bytes), or undefined with no members. */
  get(key: Key): string | undefined {
    const i = this.getIndex(key);
    return i < 0 ? undefined : this.ids[i];
  }

  /** Index into `members` of the owner of `key`, or -1 with no members. */
  getIndex(key: Key): number {
    const w = this.wasm;
    if (w !== null) {
      // WASM-built ring: hash (native u64) and binary search in one call, measured faster than TS
      // checked here, not only in putKey: V8 (Node 20.20) segfaulted deoptimizing the inlined throw when
      // a hot get() first met a bad key on a new ring (test 'bad input', after the property tests)
      if (typeof key !== 'string' && !(key instanceof Uint8Array)) throw keyError(key);
      const p = putKey(w, key);
      const t = this.t;
      if (t === null) return -1;
      const x = w.exports as unknown as RingExports;
      return x.envoyRingGet(t.ptr, t.ptr + t.size * 8, t.size, t.ptr + t.size * 12, t.bits, p, putKeyLength());
    }
    const lo = keyHashLo(key);
    const t = this.t;
    if (t === null) return -1;
    return t.hosts[ringIndex(t, xxh64Hi(), lo)]!;
  }

  /** Owners of many keys (getMany, group); on a WASM-built ring hashed and searched in batched WASM calls. */
  protected override indexMany(keys: readonly Key[]): Uint32Array {
    const w = this.wasm;
    const t = this.t;
    if (w === null || t === null) return super.indexMany(keys);
    checkKeys(keys);
    const x = w.exports as unknown as RingExports;
    const idx = new Uint32Array(keys.length);
    batchKeys(w, keys, idx, (b, o, c, r) =>
      x.envoyRingLookupManyBytes(t.ptr, t.ptr + t.size * 8, t.size, t.ptr + t.size * 12, t.bits, b, o, c, r),
    );
    return idx;
  }

  /**
   * The member for a 64-bit request hash. `attempt` > 0 is Envoy's retry with a host predicate: the entry
   * `attempt` places after the owner's, wrapping.
   */
  getByHash(hash: bigint | number, attempt = 0): string | undefined {
    const lo = u64Lo(hash);
    const hi = u64Hi();
    intInRange('attempt', attempt, 0, 0xffffffff);
    const t = this.table();
    if (t === null) return undefined;
    const i = ringIndex(t, hi, lo);
    return this.ids[t.hosts[attempt === 0 ? i : (i + attempt) % t.size]!];
  }

  /** Up to n distinct members in ring order starting at the key's owner: replicas and failover order. */
  preference(key: Key, n: number): string[] {
    const lo = keyHash(this.wasm, key);
    const hi = u64Hi();
    intInRange('n', n, 0, Number.MAX_SAFE_INTEGER);
    const t = this.table();
    return t === null ? [] : distinctFrom(t.hosts, ringIndex(t, hi, lo), this.ids, n);
  }

  /** Ring entries as (hash, member), in ring order: what Envoy's trace log prints. */
  entries(): { hash: bigint; member: string }[] {
    const t = this.table();
    if (t === null) return [];
    const out = new Array<{ hash: bigint; member: string }>(t.size);
    for (let i = 0; i < t.size; i++) {
      const hash = (BigInt(t.hashes[2 * i + 1]!) << 32n) | BigInt(t.hashes[2 * i]!);
      out[i] = { hash, member: this.ids[t.hosts[i]!]! };
    }
    return out;
  }

  stats(): EnvoyRingStats {
    const members = this.ids.map((id, i) => ({ id, weight: this.weightList[i]!, points: 0, share: 0 }));
    const t = this.table();
    if (t !== null) {
      const at = (i: number) => t.hashes[2 * i + 1]! * 4294967296 + t.hashes[2 * i]!;
      for (let i = 0; i < t.size; i++) {
        const arc = i === 0 ? at(0) + 2 ** 64 - at(t.size - 1) : at(i) - at(i - 1);
        const m = members[t.hosts[i]!]!;
        m.points++;
        m.share += arc / 2 ** 64;
      }
    }
    const pts = members.map((m) => m.points);
    return {
      backend: this.kind,
      hashFunction: this.hashFunction,
      points: t === null ? 0 : t.size,
      minPointsPerMember: pts.length === 0 ? 0 : pts.reduce((a, b) => Math.min(a, b)),
      maxPointsPerMember: pts.length === 0 ? 0 : pts.reduce((a, b) => Math.max(a, b)),
      bytes: t === null ? 0 : t.size * 12 + ((1 << t.bits) + 1) * 4,
      members,
    };
  }

  /** The table with views current for the memory's buffer. */
  private table(): Table | null {
    const t = this.t;
    if (t === null || t.ptr === 0) return t;
    const mem = this.wasm!.mem;
    if (detached(t.hashes)) {
      t.hashes = new Uint32Array(mem.memory.buffer, t.ptr, t.size * 2);
      t.hosts = new Uint32Array(mem.memory.buffer, t.ptr + t.size * 8, t.size);
      t.buckets = new Uint32Array(mem.memory.buffer, t.ptr + t.size * 12, (1 << t.bits) + 1);
    }
    return t;
  }

  private buildJs(): Table {
    const { hashes, hosts } = buildEnvoyRingJs(this.ids, this.counts, this.hashFunction === 'MURMUR_HASH_2');
    const size = hosts.length;
    const bits = bucketBits(size);
    const buckets = new Uint32Array((1 << bits) + 1);
    fillBuckets(hashes, size, buckets, bits);
    return { size, hashes, hosts, buckets, bits, ptr: 0 };
  }

  private buildWasm(w: WasmHandle): Table | null {
    const x = w.exports as unknown as RingExports;
    const n = this.ids.length;
    const encoded = this.ids.map((id) => utf8(id));
    let keyBytes = 0;
    let maxKey = 0;
    for (const e of encoded) {
      keyBytes += e.length;
      maxKey = Math.max(maxKey, e.length);
    }
    // counts first (small region), then the ring and the build scratch sized from them
    const offKeys = 0;
    const offOffsets = align16(keyBytes);
    const offWeights = offOffsets + align16((n + 1) * 4);
    const offCounts = offWeights + align16(n * 4);
    const offLabel = offCounts + align16(n * 4);
    const head = offLabel + align16(maxKey + 24);
    const tmp = w.mem.alloc(head);
    let u32 = w.mem.u32;
    for (let m = 0; m < n; m++) u32[((tmp + offWeights) >>> 2) + m] = this.weightList[m]!;
    const size = x.envoyRingCounts(tmp + offWeights, n, this.minimumRingSize, this.maximumRingSize, tmp + offCounts);
    for (let m = 0; m < n; m++) this.counts.push(w.mem.u32[((tmp + offCounts) >>> 2) + m]!);
    if (size === 0) {
      w.mem.release(tmp);
      return null;
    }
    const scratchBytes = x.envoyRingScratchBytes(size);
    const bits = bucketBits(size);
    let out = 0;
    let scratch: number;
    try {
      out = w.mem.alloc(size * 12 + ((1 << bits) + 1) * 4);
      scratch = w.mem.alloc(scratchBytes);
    } catch (e) {
      // memory could not grow: a failed build holds nothing
      w.mem.release(out);
      w.mem.release(tmp);
      throw e;
    }
    const u8 = w.mem.u8;
    u32 = w.mem.u32;
    let o = 0;
    for (let m = 0; m < n; m++) {
      u8.set(encoded[m]!, tmp + offKeys + o);
      u32[((tmp + offOffsets) >>> 2) + m] = o;
      o += encoded[m]!.length;
    }
    u32[((tmp + offOffsets) >>> 2) + n] = o;
    x.envoyRingBuild(
      tmp + offKeys,
      tmp + offOffsets,
      tmp + offCounts,
      n,
      this.hashFunction === 'MURMUR_HASH_2' ? 1 : 0,
      tmp + offLabel,
      scratch,
      out,
      out + size * 8,
    );
    w.mem.release(scratch);
    w.mem.release(tmp);
    this.region.replace(w.mem, out);
    const buf = w.mem.memory.buffer;
    const t = {
      size,
      hashes: new Uint32Array(buf, out, size * 2),
      hosts: new Uint32Array(buf, out + size * 8, size),
      buckets: new Uint32Array(buf, out + size * 12, (1 << bits) + 1),
      bits,
      ptr: out,
    };
    fillBuckets(t.hashes, size, t.buckets, bits);
    return t;
  }
}

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
// the pure-TS twin. `get(key)` on a WASM-built ring hashes and binary-searches in one WASM call (xxh64 on
// emulated 32-bit halves in TS is ~4x slower than copying the key in); `getByHash` and the pure-TS backend
// search in TS over 32-bit views of the table.
import { getCore, wasmHandle } from '../../core/backend.js';
import type { Backend } from '../../core/core.js';
import type { WasmHandle } from '../../core/core-wasm.js';
import { utf8, utf8Scratch } from '../../core/utf8.js';
import { intInRange, rangeError, typeError } from '../../util/validate.js';
import { xxh64Hi, xxh64Pair } from '../../core/xxhash.js';

export type Key = string | Uint8Array;
export type EnvoyMemberInput = string | { id: string; weight?: number };
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

export interface EnvoyRingMemberStats {
  id: string;
  weight: number;
  /** Ring entries of this member. */
  points: number;
  /** Fraction of the 64-bit hash space that maps to this member. */
  share: number;
}

export interface EnvoyRingStats {
  backend: Backend;
  hashFunction: EnvoyRingHashFunction;
  points: number;
  minPointsPerMember: number;
  maxPointsPerMember: number;
  /** Bytes of entry hashes and member indices. */
  bytes: number;
  members: EnvoyRingMemberStats[];
}

export const ENVOY_MIN_RING_SIZE = 1024;
export const ENVOY_MAX_RING_SIZE = 8388608;
const MAX_WEIGHT_SUM = 0xffffffff;

interface RingExports {
  envoyRingLookupManyBytes(
    hashes: number,
    hosts: number,
    size: number,
    bytes: number,
    offsets: number,
    count: number,
    out: number,
  ): void;
  envoyRingGet(hashes: number, hosts: number, size: number, key: number, len: number): number;
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

// ---- shared by the Envoy-compatible tables (this file and maglev.ts) ----

/** Parses members into ids and integer weights (Envoy's load_balancing_weight: >= 1, sum < 2^32). */
export function parseEnvoyMembers(members: unknown): { ids: string[]; weights: number[] } {
  if (
    members === null ||
    typeof members !== 'object' ||
    typeof (members as Iterable<unknown>)[Symbol.iterator] !== 'function'
  ) {
    throw typeError('members', "an iterable of 'host:port' ids or { id, weight }", members);
  }
  const ids: string[] = [];
  const weights: number[] = [];
  const seen = new Set<string>();
  let sum = 0;
  let i = 0;
  for (const m of members as Iterable<unknown>) {
    const field = `members[${i}]`;
    let id: unknown;
    let weight: unknown = 1;
    if (typeof m === 'string') id = m;
    else if (m !== null && typeof m === 'object') {
      id = (m as { id?: unknown }).id;
      weight = (m as { weight?: unknown }).weight ?? 1;
      if (typeof id !== 'string') throw typeError(`${field}.id`, 'a string', id);
    } else throw typeError(field, "a 'host:port' id or { id, weight }", m);
    if ((id as string).length === 0)
      throw rangeError(typeof m === 'string' ? field : `${field}.id`, 'a non-empty id', id);
    if (seen.has(id as string)) throw rangeError(typeof m === 'string' ? field : `${field}.id`, 'unique', id);
    const w = intInRange(`${field}.weight`, weight, 1, MAX_WEIGHT_SUM);
    sum += w;
    if (sum > MAX_WEIGHT_SUM) throw rangeError('sum of members weights', `at most ${MAX_WEIGHT_SUM}`, sum);
    seen.add(id as string);
    ids.push(id as string);
    weights.push(w);
    i++;
  }
  return { ids, weights };
}

export function parseBackend(options: { backend?: unknown }): Backend {
  if (options.backend !== undefined && options.backend !== 'wasm' && options.backend !== 'js') {
    throw rangeError('backend', "'wasm' or 'js'", options.backend);
  }
  return getCore(options.backend as Backend | undefined).kind;
}

/** xxHash64 (seed 0) of a key: returns the low 32 bits, the high 32 bits in `keyHashHi()` afterwards. */
export function keyHashLo(key: Key): number {
  if (typeof key === 'string') return xxh64Pair(utf8Scratch(key), 0, 0);
  if (key instanceof Uint8Array) return xxh64Pair(key, 0, 0);
  throw typeError('key', 'a string or a Uint8Array', key);
}

export const keyHashHi = xxh64Hi;

let HI = 0;

let KEY_LEN = 0;

/**
 * Copies a key into the WASM io region (ASCII straight from charCodeAt, else its UTF-8 encoding), with 8
 * aligned bytes after it for a u64 result at `keyOutPtr(ptr)`. Returns the pointer; the length is `KEY_LEN`.
 */
export function putKey(w: WasmHandle, key: Key): number {
  if (typeof key === 'string') {
    const n = key.length;
    const p = w.io(n * 3 + 16);
    const u8 = w.mem.u8;
    let i = 0;
    for (; i < n; i++) {
      const c = key.charCodeAt(i);
      if (c > 127) break;
      u8[p + i] = c;
    }
    if (i === n) {
      KEY_LEN = n;
      return p;
    }
    const b = utf8Scratch(key);
    u8.set(b, p);
    KEY_LEN = b.length;
    return p;
  }
  if (key instanceof Uint8Array) {
    const p = w.io(key.length + 16);
    w.mem.u8.set(key, p);
    KEY_LEN = key.length;
    return p;
  }
  throw typeError('key', 'a string or a Uint8Array', key);
}

export function keyLen(): number {
  return KEY_LEN;
}

const MANY_CHUNK = 4096;

/**
 * Batch lookups in WASM: packs keys (UTF-8 / bytes back to back, u32 offsets) into the io region in chunks
 * and lets `call(bytes, offsets, count, out)` write one u32 member index per key. Validates every key.
 */
export function lookupManyWasm(
  w: WasmHandle,
  keys: readonly Key[],
  call: (bytes: number, offsets: number, count: number, out: number) => void,
): Uint32Array {
  const result = new Uint32Array(keys.length);
  for (let start = 0; start < keys.length; start += MANY_CHUNK) {
    const count = Math.min(MANY_CHUNK, keys.length - start);
    let bound = 0;
    for (let i = start; i < start + count; i++) {
      const k = keys[i];
      if (typeof k === 'string') bound += k.length * 3;
      else if (k instanceof Uint8Array) bound += k.length;
      else throw typeError(`keys[${i}]`, 'a string or a Uint8Array', k);
    }
    const offBytes = (bound + 15) & ~15;
    const outBytes = ((count + 1) * 4 + 15) & ~15;
    const p = w.io(offBytes + outBytes + count * 4);
    const u8 = w.mem.u8;
    const u32 = w.mem.u32;
    const offs = (p + offBytes) >>> 2;
    let o = 0;
    for (let i = 0; i < count; i++) {
      u32[offs + i] = o;
      const k = keys[start + i]!;
      if (typeof k === 'string') {
        const n = k.length;
        let j = 0;
        for (; j < n; j++) {
          const c = k.charCodeAt(j);
          if (c > 127) break;
          u8[p + o + j] = c;
        }
        if (j === n) o += n;
        else {
          const b = utf8Scratch(k);
          u8.set(b, p + o);
          o += b.length;
        }
      } else {
        u8.set(k, p + o);
        o += k.length;
      }
    }
    u32[offs + count] = o;
    const out = p + offBytes + outBytes;
    call(p, p + offBytes, count, out);
    result.set(w.mem.u32.subarray(out >>> 2, (out >>> 2) + count), start);
  }
  return result;
}

function keyOutPtr(p: number): number {
  return (p + KEY_LEN + 7) & ~7;
}

/**
 * xxHash64 (seed 0) of a key, in WASM when a handle is given (native u64: ~4x the TS emulation), else in
 * TS. Returns the low half, the high half in `u64Hi()`.
 */
export function keyHash(w: WasmHandle | null, key: Key): number {
  if (w === null) {
    const lo = keyHashLo(key);
    HI = xxh64Hi();
    return lo;
  }
  if (typeof key !== 'string' && !(key instanceof Uint8Array)) throw typeError('key', 'a string or a Uint8Array', key);
  const p = putKey(w, key);
  const out = keyOutPtr(p);
  (w.exports as unknown as { envoyKeyHash(p: number, len: number, out: number): void }).envoyKeyHash(p, KEY_LEN, out);
  const u32 = w.mem.u32;
  HI = u32[(out >>> 2) + 1]!;
  return u32[out >>> 2]!;
}

/** A u64 hash (bigint in [0, 2^64), or a non-negative safe integer): returns the low half, high in u64Hi(). */
export function u64Lo(hash: unknown, field = 'hash'): number {
  if (typeof hash === 'bigint') {
    if (hash < 0n || hash > 0xffffffffffffffffn) throw rangeError(field, 'a bigint in [0, 2^64 - 1]', hash);
    HI = Number(hash >> 32n);
    return Number(hash & 0xffffffffn);
  }
  if (typeof hash === 'number') {
    if (!Number.isSafeInteger(hash) || hash < 0)
      throw rangeError(field, 'a non-negative safe integer or a bigint in [0, 2^64 - 1]', hash);
    HI = Math.floor(hash / 4294967296);
    return hash >>> 0;
  }
  throw typeError(field, 'a bigint or a non-negative safe integer', hash);
}

export function u64Hi(): number {
  return HI;
}

// ---- MurmurHash2, libstdc++ 64-bit `_Hash_bytes`, on 32-bit halves (twin of envoyMurmur2) ----

const MUL_H = 0xc6a4a793;
const MUL_L = 0x5bd1e995;
let MH = 0;

/** (ah, al) × (bh, bl) mod 2^64: returns the low word, high in MH. */
function mul64(ah: number, al: number, bh: number, bl: number): number {
  const a0 = al & 0xffff;
  const a1 = al >>> 16;
  const b0 = bl & 0xffff;
  const b1 = bl >>> 16;
  const p00 = a0 * b0;
  const p01 = a0 * b1;
  const p10 = a1 * b0;
  const mid = (p00 >>> 16) + (p01 & 0xffff) + (p10 & 0xffff);
  const hi = a1 * b1 + (p01 >>> 16) + (p10 >>> 16) + (mid >>> 16);
  MH = (hi + Math.imul(ah, bl) + Math.imul(al, bh)) >>> 0;
  return ((mid << 16) | (p00 & 0xffff)) >>> 0;
}

function le32(b: Uint8Array, p: number): number {
  return (b[p]! | (b[p + 1]! << 8) | (b[p + 2]! << 16) | (b[p + 3]! << 24)) >>> 0;
}

/** Envoy's MurmurHash::murmurHash2 (seed 0xc70f6907 by default): returns the low word, high in murmurHi(). */
export function envoyMurmur2Pair(b: Uint8Array, len = b.length, seedHi = 0, seedLo = 0xc70f6907): number {
  let l = mul64(0, len, MUL_H, MUL_L);
  let h = (seedHi ^ MH) >>> 0;
  l = (seedLo ^ l) >>> 0;
  const aligned = len & ~7;
  for (let p = 0; p < aligned; p += 8) {
    let dl = mul64(le32(b, p + 4), le32(b, p), MUL_H, MUL_L);
    let dh = MH;
    dl = (dl ^ (dh >>> 15)) >>> 0;
    dl = mul64(dh, dl, MUL_H, MUL_L);
    dh = MH;
    l = mul64((h ^ dh) >>> 0, (l ^ dl) >>> 0, MUL_H, MUL_L);
    h = MH;
  }
  const rest = len & 7;
  if (rest !== 0) {
    let dl = 0;
    let dh = 0;
    for (let i = 0; i < rest; i++) {
      const v = b[aligned + i]!;
      if (i < 4) dl = (dl | (v << (8 * i))) >>> 0;
      else dh = (dh | (v << (8 * (i - 4)))) >>> 0;
    }
    l = mul64((h ^ dh) >>> 0, (l ^ dl) >>> 0, MUL_H, MUL_L);
    h = MH;
  }
  l = (l ^ (h >>> 15)) >>> 0;
  l = mul64(h, l, MUL_H, MUL_L);
  h = MH;
  l = (l ^ (h >>> 15)) >>> 0;
  MH = h;
  return l;
}

export function murmurHi(): number {
  return MH;
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

/** A built ring: hashes as [lo, hi] u32 pairs (little-endian u64s), host index per entry. */
interface Table {
  size: number;
  hashes: Uint32Array;
  hosts: Uint32Array;
  /** WASM region (0 for the TS build) and the memory generation the views were made for. */
  ptr: number;
  gen: number;
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
      let len = prefix.length;
      const digits = String(i);
      for (let d = 0; d < digits.length; d++) label[len++] = digits.charCodeAt(d);
      if (murmur) {
        lo[k] = envoyMurmur2Pair(label, len);
        hi[k] = MH;
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

/** Index of the first entry >= (hi, lo), wrapping to 0; size > 0. */
function lowerBound(hashes: Uint32Array, size: number, hi: number, lo: number): number {
  let a = 0;
  let b = size;
  while (a < b) {
    const m = (a + b) >>> 1;
    const mh = hashes[2 * m + 1]!;
    if (mh < hi || (mh === hi && hashes[2 * m]! < lo)) a = m + 1;
    else b = m;
  }
  return a === size ? 0 : a;
}

const registry = new FinalizationRegistry<{ w: WasmHandle; ptr: number }>(({ w, ptr }) => w.mem.release(ptr));

export class EnvoyRingHash {
  readonly minimumRingSize: number;
  readonly maximumRingSize: number;
  readonly hashFunction: EnvoyRingHashFunction;
  private readonly kind: Backend;
  private readonly wasm: WasmHandle | null;
  private readonly ids: string[];
  private readonly weightList: number[];
  private readonly index = new Map<string, number>();
  private readonly counts: number[];
  private t: Table | null = null;
  private readonly token = {};

  constructor(members: Iterable<EnvoyMemberInput> = [], options: EnvoyRingHashOptions = {}) {
    if (options === null || typeof options !== 'object') throw typeError('options', 'an object', options);
    this.minimumRingSize =
      options.minimumRingSize === undefined
        ? ENVOY_MIN_RING_SIZE
        : intInRange('minimumRingSize', options.minimumRingSize, 1, ENVOY_MAX_RING_SIZE);
    this.maximumRingSize =
      options.maximumRingSize === undefined
        ? ENVOY_MAX_RING_SIZE
        : intInRange('maximumRingSize', options.maximumRingSize, 1, ENVOY_MAX_RING_SIZE);
    if (this.minimumRingSize > this.maximumRingSize)
      throw rangeError('minimumRingSize', `<= maximumRingSize (${this.maximumRingSize})`, this.minimumRingSize);
    const hf = options.hashFunction ?? 'XX_HASH';
    if (hf !== 'XX_HASH' && hf !== 'MURMUR_HASH_2')
      throw rangeError('hashFunction', "'XX_HASH' or 'MURMUR_HASH_2'", hf);
    this.hashFunction = hf;
    this.kind = parseBackend(options);
    this.wasm = this.kind === 'wasm' ? wasmHandle() : null;
    const { ids, weights } = parseEnvoyMembers(members);
    this.ids = ids;
    this.weightList = weights;
    ids.forEach((id, i) => this.index.set(id, i));
    this.counts = this.wasm === null ? envoyRingCounts(weights, this.minimumRingSize, this.maximumRingSize) : [];
    if (ids.length > 0) this.t = this.wasm === null ? this.buildJs() : this.buildWasm(this.wasm);
  }

  /** Member ids in the order given (the build order Envoy uses). */
  get members(): readonly string[] {
    return this.ids;
  }

  /** Same as `members`: the order given, Envoy's host-set order. */
  get hosts(): readonly string[] {
    return this.ids;
  }

  get size(): number {
    return this.ids.length;
  }

  get backend(): Backend {
    return this.kind;
  }

  /** Ring entries. */
  get points(): number {
    return this.t === null ? 0 : this.t.size;
  }

  weight(id: string): number | undefined {
    const i = this.index.get(id);
    return i === undefined ? undefined : this.weightList[i];
  }

  /** The member that owns `key` (xxHash64 seed 0 of its bytes), or undefined with no members. */
  get(key: Key): string | undefined {
    const w = this.wasm;
    if (w !== null) {
      // WASM-built ring: hash (native u64) and binary search in one call, measured faster than TS
      // checked here, not only in putKey: V8 (Node 20.20) segfaulted deoptimizing the inlined throw when
      // a hot get() first met a bad key on a new ring (test 'bad input', after the property tests)
      if (typeof key !== 'string' && !(key instanceof Uint8Array))
        throw typeError('key', 'a string or a Uint8Array', key);
      const p = putKey(w, key);
      const t = this.t;
      if (t === null) return undefined;
      const x = w.exports as unknown as RingExports;
      return this.ids[x.envoyRingGet(t.ptr, t.ptr + t.size * 8, t.size, p, KEY_LEN)];
    }
    const lo = keyHashLo(key);
    const t = this.t;
    if (t === null) return undefined;
    return this.ids[t.hosts[lowerBound(t.hashes, t.size, xxh64Hi(), lo)]!];
  }

  /** Owners of many keys; on a WASM-built ring hashed and searched in batched WASM calls. */
  getMany(keys: readonly Key[]): (string | undefined)[] {
    if (!Array.isArray(keys)) throw typeError('keys', 'an array of strings or Uint8Arrays', keys);
    const out = new Array<string | undefined>(keys.length);
    const w = this.wasm;
    const t = this.t;
    if (w !== null) {
      const x = w.exports as unknown as RingExports;
      const idx = lookupManyWasm(w, keys, (b, o, c, r) => {
        if (t !== null) x.envoyRingLookupManyBytes(t.ptr, t.ptr + t.size * 8, t.size, b, o, c, r);
      });
      for (let i = 0; i < keys.length; i++) out[i] = t === null ? undefined : this.ids[idx[i]!];
      return out;
    }
    for (let i = 0; i < keys.length; i++) out[i] = this.get(keys[i]!);
    return out;
  }

  /**
   * The member for a 64-bit request hash. `attempt` > 0 is Envoy's retry with a host predicate: the entry
   * `attempt` places after the owner's, wrapping.
   */
  getByHash(hash: bigint | number, attempt = 0): string | undefined {
    const lo = u64Lo(hash);
    const hi = HI;
    intInRange('attempt', attempt, 0, 0xffffffff);
    const t = this.table();
    if (t === null) return undefined;
    const i = lowerBound(t.hashes, t.size, hi, lo);
    return this.ids[t.hosts[attempt === 0 ? i : (i + attempt) % t.size]!];
  }

  /** Up to n distinct members in ring order starting at the key's owner: replicas and failover order. */
  preference(key: Key, n: number): string[] {
    const lo = keyHash(this.wasm, key);
    const hi = HI;
    intInRange('n', n, 0, Number.MAX_SAFE_INTEGER);
    const t = this.table();
    const out: string[] = [];
    const want = Math.min(n, this.ids.length);
    if (t === null || want === 0) return out;
    const seen = new Uint8Array(this.ids.length);
    let i = lowerBound(t.hashes, t.size, hi, lo);
    for (let step = 0; step < t.size && out.length < want; step++) {
      const m = t.hosts[i]!;
      if (seen[m] === 0) {
        seen[m] = 1;
        out.push(this.ids[m]!);
      }
      if (++i === t.size) i = 0;
    }
    return out;
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
      bytes: t === null ? 0 : t.size * 12,
      members,
    };
  }

  /** Frees the WASM table now (otherwise when the ring is collected). Lookups then return undefined. */
  dispose(): void {
    if (this.t !== null && this.wasm !== null) {
      registry.unregister(this.token);
      this.wasm.mem.release(this.t.ptr);
    }
    this.t = null;
  }

  /** The table with views current for the memory's buffer. */
  private table(): Table | null {
    const t = this.t;
    if (t === null || t.ptr === 0) return t;
    const mem = this.wasm!.mem;
    if (t.gen !== mem.gen) {
      t.hashes = new Uint32Array(mem.memory.buffer, t.ptr, t.size * 2);
      t.hosts = new Uint32Array(mem.memory.buffer, t.ptr + t.size * 8, t.size);
      t.gen = mem.gen;
    }
    return t;
  }

  private buildJs(): Table {
    const { hashes, hosts } = buildEnvoyRingJs(this.ids, this.counts, this.hashFunction === 'MURMUR_HASH_2');
    return { size: hosts.length, hashes, hosts, ptr: 0, gen: 0 };
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
    const out = w.mem.alloc(size * 12);
    const scratch = w.mem.alloc(scratchBytes);
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
    registry.register(this, { w, ptr: out }, this.token);
    const buf = w.mem.memory.buffer;
    return {
      size,
      hashes: new Uint32Array(buf, out, size * 2),
      hosts: new Uint32Array(buf, out + size * 8, size),
      ptr: out,
      gen: w.mem.gen,
    };
  }
}

function align16(n: number): number {
  return Math.ceil(n / 16) * 16;
}

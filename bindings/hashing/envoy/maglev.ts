// Maglev: Google's consistent hashing lookup table (Eisenbud et al., "Maglev: A Fast and Reliable Software
// Network Load Balancer", NSDI 2016) as Envoy builds it (envoyproxy/envoy,
// source/extensions/load_balancing_policies/maglev/maglev_lb.cc), slot for slot.
//
// Hosts are sorted by id (UTF-8 bytes, as Envoy sorts its host keys). Host i: offset = xxHash64(id, seed 0)
// % M, skip = xxHash64(id, seed 1) % (M - 1) + 1; its preference list is (offset + skip × j) % M. Weights
// (Envoy's integer load_balancing_weight) are normalized to w / sum; in iteration t = 1, 2, ... a host takes
// a turn only when t × weight >= its target, then adds the largest normalized weight to its target and
// claims the next free slot of its preference list. M (`tableSize`) must be prime (default 65537).
// A key maps to table[xxHash64(key, seed 0) % M].
//
//   const m = new Maglev(['10.0.0.1:80', { id: '10.0.0.2:80', weight: 2 }]);
//   m.get('user:42'); // one of the two
//
// `preference(key, n)` (replicas, failover, bounded loads) is a switchyard order, not Envoy's: distinct
// members of successive table slots from the key's slot, wrapping. Envoy's own retry rule is
// `getByHash(hash, attempt)`.
//
// Paths (bench/envoy.bench.ts): the table is built by the WASM core (native u64 hashing; 65537 slots × 100
// hosts in ~2.5 ms on a quiet core) or the pure-TS twin. `get(key)` on a WASM-built table hashes and looks up
// in one WASM call (xxh64 on emulated 32-bit halves in TS is ~4x slower than the copy plus call);
// `getByHash` and the pure-TS backend look up in TS, the u64 modulo computed on 32-bit halves.
import type { Backend } from '../../core/core.js';
import { batchKeys, putKey, putKeyLength, type WasmHandle } from '../../core/core-wasm.js';
import { HASH_WASM } from '../../core/families.js';
import { align16, detached } from '../../core/memory.js';
import { utf8 } from '../../core/utf8.js';
import { intInRange, rangeError, str } from '../../util/validate.js';
import { xxh64Hi, xxh64Pair } from '../../core/xxhash.js';
import { type Key, keyError, type RouterMemberStats, type OrderedKeyRouter, type RouterStats } from '../key-router.js';
import { checkOptions, FixedRouter } from '../base.js';
import { checkKeys, distinctFrom } from '../shared.js';
import { type EnvoyMemberInput, keyHash, keyHashHi, keyHashLo, parseEnvoyMembers, u64Hi, u64Lo } from './common.js';

export const MAGLEV_DEFAULT_TABLE_SIZE = 65537;
/** Envoy's limit on `table_size`. */
export const MAGLEV_MAX_TABLE_SIZE = 5000011;

export interface MaglevOptions {
  /** Prime table size M (default 65537, at most 5000011). */
  tableSize?: number;
  /** Build with this backend; by default the active one (`backend()`). */
  backend?: Backend;
}

export interface MaglevMemberStats extends RouterMemberStats {
  weight: number;
  /** Table slots of this member. */
  slots: number;
  /** slots / M: the fraction of keys it receives. */
  share: number;
}

export interface MaglevStats extends RouterStats {
  tableSize: number;
  minSlotsPerMember: number;
  maxSlotsPerMember: number;
  /** Bytes of the table. */
  bytes: number;
  members: MaglevMemberStats[];
}

interface MaglevExports {
  maglevLookupManyBytes(
    table: number,
    tableSize: number,
    bytes: number,
    offsets: number,
    count: number,
    out: number,
  ): void;
  maglevGet(table: number, tableSize: number, key: number, len: number): number;
  maglevScratchBytes(n: number): number;
  maglevBuild(
    keys: number,
    keyOffsets: number,
    weights: number,
    n: number,
    tableSize: number,
    scratch: number,
    table: number,
    counts: number,
  ): void;
}

export function isPrime(n: number): boolean {
  if (n < 2) return false;
  if (n % 2 === 0) return n === 2;
  for (let d = 3; d * d <= n; d += 2) if (n % d === 0) return false;
  return true;
}

/** (hi × 2^32 + lo) mod m, exact for m < 2^26 (products stay below 2^53). */
function mod64(hi: number, lo: number, m: number, pow32ModM: number): number {
  return ((hi % m) * pow32ModM + (lo % m)) % m;
}

/** Compares UTF-8 byte strings as unsigned bytes (std::string's order). */
function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return a.length - b.length;
}

function offsetOf(key: Uint8Array, M: number, p32: number): number {
  const lo = xxh64Pair(key, 0, 0);
  return mod64(xxh64Hi(), lo, M, p32);
}

function skipOf(key: Uint8Array, M: number, p32m1: number): number {
  const lo = xxh64Pair(key, 0, 1);
  return mod64(xxh64Hi(), lo, M - 1, p32m1) + 1;
}

/** A host's Maglev permutation parameters: offset = xxh64(id, 0) % M, skip = xxh64(id, 1) % (M - 1) + 1. */
export function maglevOffsetSkip(id: string, tableSize: number): { offset: number; skip: number } {
  str('id', id);
  const M = intInRange('tableSize', tableSize, 2, MAGLEV_MAX_TABLE_SIZE);
  const key = utf8(id);
  return { offset: offsetOf(key, M, 4294967296 % M), skip: skipOf(key, M, 4294967296 % (M - 1)) };
}

/**
 * Pure-TS build (twin of maglevBuild): keys sorted, weights as given. Returns the table (host index per slot)
 * and the slots per host.
 */
export function buildMaglevJs(
  keys: readonly Uint8Array[],
  weights: readonly number[],
  tableSize: number,
): { table: Uint32Array; counts: Uint32Array } {
  const n = keys.length;
  const M = tableSize;
  const table = new Uint32Array(M);
  const counts = new Uint32Array(n);
  if (n === 0) return { table, counts };
  const p32 = 4294967296 % M;
  const p32m1 = 4294967296 % (M - 1);
  let sum = 0;
  for (const w of weights) sum += w;
  const pos = new Float64Array(n);
  const skip = new Float64Array(n);
  const weight = new Float64Array(n);
  const target = new Float64Array(n);
  let maxWeight = 0;
  for (let i = 0; i < n; i++) {
    pos[i] = offsetOf(keys[i]!, M, p32);
    skip[i] = skipOf(keys[i]!, M, p32m1);
    weight[i] = weights[i]! / sum;
    maxWeight = Math.max(maxWeight, weight[i]!);
  }
  table.fill(0xffffffff);
  let filled = 0;
  for (let iteration = 1; filled < M; iteration++) {
    for (let i = 0; i < n && filled < M; i++) {
      if (iteration * weight[i]! < target[i]!) continue;
      target[i] = target[i]! + maxWeight;
      const s = skip[i]!;
      let p = pos[i]!;
      while (table[p] !== 0xffffffff) {
        p += s;
        if (p >= M) p -= M;
      }
      table[p] = i;
      p += s;
      if (p >= M) p -= M;
      pos[i] = p;
      counts[i] = counts[i]! + 1;
      filled++;
    }
  }
  return { table, counts };
}

interface Table {
  table: Uint32Array;
  counts: Uint32Array;
  ptr: number;
}

/**
 * Envoy's Maglev table. Immutable, as in Envoy (which rebuilds it on every host-set change): not mutable.
 * `members` are in table index order (sorted by UTF-8 bytes, as Envoy orders them).
 */
export class Maglev extends FixedRouter<Table> implements OrderedKeyRouter {
  readonly tableSize: number;
  private given: readonly string[];
  private readonly pow32: number;

  constructor(members: Iterable<EnvoyMemberInput> = [], options: MaglevOptions = {}) {
    checkOptions(options, ['tableSize', 'backend']);
    const M =
      options.tableSize === undefined
        ? MAGLEV_DEFAULT_TABLE_SIZE
        : intInRange('tableSize', options.tableSize, 2, MAGLEV_MAX_TABLE_SIZE);
    if (!isPrime(M)) throw rangeError('tableSize', 'a prime number (e.g. 65537, 131071, 5000011)', M);
    super(options, HASH_WASM);
    this.tableSize = M;
    this.pow32 = 4294967296 % M;
    const parsed = parseEnvoyMembers(members);
    // Envoy sorts hosts by key bytes before filling the table
    const encoded = parsed.ids.map((id, i) => ({ id, key: utf8(id), weight: parsed.weights[i]! }));
    encoded.sort((a, b) => compareBytes(a.key, b.key));
    this.given = Object.freeze(parsed.ids);
    this.setHosts(
      encoded.map((e) => e.id),
      encoded.map((e) => e.weight),
    );
    if (encoded.length === 0) return;
    const keys = encoded.map((e) => e.key);
    if (this.wasm === null) {
      const { table, counts } = buildMaglevJs(keys, this.weightList, M);
      this.t = { table, counts, ptr: 0 };
    } else this.t = this.buildWasm(this.wasm, keys);
  }

  /** Member ids in the order given: Envoy's host-set order (what its bounded-load probe shuffles). */
  get hosts(): readonly string[] {
    return this.given;
  }

  /** The member that owns `key` (table[xxHash64(key, 0) % M]), or undefined with no members. */
  get(key: Key): string | undefined {
    const i = this.getIndex(key);
    return i < 0 ? undefined : this.ids[i];
  }

  /** Index into `members` of the owner of `key`, or -1 with no members. */
  getIndex(key: Key): number {
    const w = this.wasm;
    if (w !== null) {
      // WASM-built table: hash (native u64) and modulo in one call, measured faster than xxh64 in TS
      // checked here, not only in putKey: V8 (Node 20) crashed deoptimizing the inlined throw (see tests)
      if (typeof key !== 'string' && !(key instanceof Uint8Array)) throw keyError(key);
      const p = putKey(w, key);
      const t = this.t;
      if (t === null) return -1;
      return (w.exports as unknown as MaglevExports).maglevGet(t.ptr, this.tableSize, p, putKeyLength());
    }
    const lo = keyHashLo(key);
    const t = this.t;
    if (t === null) return -1;
    return t.table[mod64(keyHashHi(), lo, this.tableSize, this.pow32)]!;
  }

  /** Owners of many keys (getMany, group); on a WASM-built table hashed and looked up in batched WASM calls. */
  protected override indexMany(keys: readonly Key[]): Uint32Array {
    const w = this.wasm;
    const t = this.t;
    if (w === null || t === null) return super.indexMany(keys);
    checkKeys(keys);
    const x = w.exports as unknown as MaglevExports;
    const idx = new Uint32Array(keys.length);
    batchKeys(w, keys, idx, (b, o, c, r) => x.maglevLookupManyBytes(t.ptr, this.tableSize, b, o, c, r));
    return idx;
  }

  /**
   * The member for a 64-bit request hash. `attempt` > 0 is Envoy's retry with a host predicate:
   * hash ^= 2^64 - attempt before the lookup.
   */
  getByHash(hash: bigint | number, attempt = 0): string | undefined {
    let lo = u64Lo(hash);
    let hi = u64Hi();
    intInRange('attempt', attempt, 0, 0xffffffff);
    const t = this.table();
    if (t === null) return undefined;
    if (attempt > 0) {
      hi = (hi ^ 0xffffffff) >>> 0;
      lo = (lo ^ (4294967296 - attempt)) >>> 0;
    }
    return this.ids[t.table[mod64(hi, lo, this.tableSize, this.pow32)]!];
  }

  /** Table slot of `key`: xxHash64(key, 0) % M. */
  slotOf(key: Key): number {
    const lo = keyHash(this.wasm, key);
    return mod64(u64Hi(), lo, this.tableSize, this.pow32);
  }

  /** Member index of a table slot (index into `members`), or -1 with no members. */
  slot(i: number): number {
    intInRange('slot', i, 0, this.tableSize - 1);
    const t = this.table();
    return t === null ? -1 : t.table[i]!;
  }

  /**
   * Up to n distinct members: the key's owner, then the owners of the following table slots (wrapping),
   * each once. Members with no slot (more members than slots) never appear.
   */
  preference(key: Key, n: number): string[] {
    const start = this.slotOf(key);
    intInRange('n', n, 0, Number.MAX_SAFE_INTEGER);
    const t = this.table();
    return t === null ? [] : distinctFrom(t.table, start, this.ids, n);
  }

  /** The table as member indices (a copy): slot i is owned by members[table[i]]. */
  tableIndices(): Uint32Array {
    const t = this.table();
    return t === null ? new Uint32Array(0) : t.table.slice();
  }

  stats(): MaglevStats {
    const t = this.table();
    const members = this.ids.map((id, i) => {
      const slots = t === null ? 0 : t.counts[i]!;
      return { id, weight: this.weightList[i]!, slots, share: slots / this.tableSize };
    });
    const slots = members.map((m) => m.slots);
    return {
      backend: this.kind,
      tableSize: this.tableSize,
      minSlotsPerMember: slots.length === 0 ? 0 : slots.reduce((a, b) => Math.min(a, b)),
      maxSlotsPerMember: slots.length === 0 ? 0 : slots.reduce((a, b) => Math.max(a, b)),
      bytes: t === null ? 0 : this.tableSize * 4,
      members,
    };
  }

  override dispose(): void {
    super.dispose();
    this.given = Object.freeze([]);
  }

  private table(): Table | null {
    const t = this.t;
    if (t === null || t.ptr === 0) return t;
    const mem = this.wasm!.mem;
    if (detached(t.table)) t.table = new Uint32Array(mem.memory.buffer, t.ptr, this.tableSize);
    return t;
  }

  private buildWasm(w: WasmHandle, keys: Uint8Array[]): Table {
    const x = w.exports as unknown as MaglevExports;
    const n = keys.length;
    let keyBytes = 0;
    for (const k of keys) keyBytes += k.length;
    const offOffsets = align16(keyBytes);
    const offWeights = offOffsets + align16((n + 1) * 4);
    const offCounts = offWeights + align16(n * 4);
    const offScratch = offCounts + align16(n * 4);
    const tmp = w.mem.alloc(offScratch + x.maglevScratchBytes(n));
    const out = w.mem.alloc(this.tableSize * 4, tmp); // frees tmp if memory cannot grow
    const { u8, u32 } = w.mem;
    let o = 0;
    for (let m = 0; m < n; m++) {
      u8.set(keys[m]!, tmp + o);
      u32[((tmp + offOffsets) >>> 2) + m] = o;
      u32[((tmp + offWeights) >>> 2) + m] = this.weightList[m]!;
      o += keys[m]!.length;
    }
    u32[((tmp + offOffsets) >>> 2) + n] = o;
    x.maglevBuild(tmp, tmp + offOffsets, tmp + offWeights, n, this.tableSize, tmp + offScratch, out, tmp + offCounts);
    const counts = w.mem.u32.slice((tmp + offCounts) >>> 2, ((tmp + offCounts) >>> 2) + n);
    w.mem.release(tmp);
    this.region.replace(w.mem, out);
    return { table: new Uint32Array(w.mem.memory.buffer, out, this.tableSize), counts, ptr: out };
  }
}

// HashRing: a consistent-hash ring with virtual nodes (Karger et al. 1997; the vnode scheme of ketama and
// Envoy's ring_hash), built by the core into a sorted point array plus a bucket table.
//
// Scheme (reproducible by any implementation): member `id` with weight w gets round(w × vnodes) points;
// point i is hash(UTF-8 `${id}-${i}`), i from 0, where hash is xxh32(seed) or the upper 32 bits of
// xxh64(seed). Points are sorted ascending; equal points are ordered by id (plain `<`). A key maps to the
// member of the first point >= hash(key), wrapping to the first point. Weights lie in [1e-9, 1e9] and ids are
// well-formed UTF-16 (membership.ts); round(w × vnodes) must be >= 1 and sum to at most 2^24.
//
//   const ring = new HashRing(['a', { id: 'b', weight: 2 }]);
//   ring.get('user:42'); // 'a' or 'b'
import { registerJsFallback, ringCore } from '../core/backend.js';
import { RING_WASM } from '../core/families.js';
import {
  type Backend,
  type Core,
  type RingBatch,
  type RingHash,
  type RingTable,
  setTableCompaction,
} from '../core/core.js';
import { seedI64, type WasmHandle } from '../core/core-wasm.js';
import { createWasmBatch, useRingBatchXxh64 } from '../core/ring-batch.js';
import { seed64, WASM_MIN_BYTES } from './hash.js';
import { utf8Scratch } from '../core/utf8.js';
import type { Key, MemberInput, OrderedKeyRouter, RouterMemberStats, RouterStats } from './key-router.js';
import { keyError, NO_MEMBER } from './key-router.js';
import { checkOptions, MutableRouter } from './base.js';
import { MEMBER_RULES, type Weights } from './membership.js';
import { addArcs, checkKeys, checkOffsets, distinctFrom, checkOut, ringOwner, ringPoint } from './shared.js';
import { intInRange, needs, rangeError, str, typeError } from '../util/validate.js';
import { xxh32Bytes, xxh32StringI32 } from '../core/xxhash.js';

/** Re-exported for existing imports; the type is key-router.ts's. */
export type { MemberInput };

export interface HashRingOptions {
  /** Points for a member of weight 1 (default 160). */
  vnodes?: number;
  /** Label and key hash (default 'xxh32'). */
  hash?: RingHash;
  /** Hash seed (default 0): an integer < 2^32 for xxh32, a bigint or safe integer for xxh64. */
  seed?: number | bigint;
  /** Force a backend for this ring; by default the active one (`backend()`). */
  backend?: Backend;
}

export interface RingMemberStats extends RouterMemberStats {
  weight: number;
  points: number;
  /** Fraction of the 32-bit hash space that maps to this member. */
  share: number;
}

export interface RingStats extends RouterStats {
  hash: RingHash;
  vnodes: number;
  points: number;
  /** Bytes of points, member indices and bucket table. */
  bytes: number;
  members: RingMemberStats[];
}

export const DEFAULT_VNODES = 160;
export const MAX_VNODES = 65536;
/** Member indices are 16-bit in the table. */
export const MAX_MEMBERS = 65536;
export const MAX_POINTS = 1 << 24;

const OPTIONS = ['vnodes', 'hash', 'seed', 'backend'];

/**
 * What `registerRingExtras()` adds to HashRings: `preference`, `stats`, the WebAssembly batch paths (core.ts
 * `RingBatch`), compact lookup tables for rings past 2^16 points (core.ts compactTable, 1.05-1.2 × faster
 * single lookups at 1000 members) and `hash: 'xxh64'` on WebAssembly (xxh64 is in the ring-batch module:
 * core/ring-batch.ts). switchyard's HashRing registers it itself; a switchyard/lite page that needs them calls it.
 */
interface RingExtras {
  batch: (h: WasmHandle) => RingBatch;
  preference: typeof ringPreference;
  stats: typeof ringStats;
}

let extras: RingExtras | null = null;
const batches = new WeakMap<WasmHandle, RingBatch>();

/**
 * Lets HashRings hash with xxh64 on WebAssembly (`hash: 'xxh64'`), answer `preference` and `stats`, and batch in
 * WebAssembly: `group` and `getMany` in one pass over the keys, `getManyByHash` and `getManyBytes` in one call
 * (without it these four loop single lookups, with the same answers). switchyard's HashRing always has them; in
 * switchyard/lite a page calls this first.
 */
export function registerRingExtras(): void {
  extras = { batch: createWasmBatch, preference: ringPreference, stats: ringStats };
  setTableCompaction();
  useRingBatchXxh64();
}

/** The registered `method`, or a TypeError naming it and the registration. */
function need<M extends 'preference' | 'stats'>(method: M): RingExtras[M] {
  if (extras === null) throw needs(`${method}()`, 'registerRingExtras()');
  return extras[method];
}

/** The WASM batch lookups over `h`, or null (not registered, or the pure-TS core). */
function batchOf(h: WasmHandle | null): RingBatch | null {
  if (h === null || extras === null) return null;
  let b = batches.get(h);
  if (b === undefined) batches.set(h, (b = extras.batch(h)));
  return b;
}

function ringPreference(t: RingTable | null, shift: number, ids: readonly string[], h: number, n: unknown): string[] {
  const want = intInRange('n', n, 0, Number.MAX_SAFE_INTEGER);
  if (t === null) return [];
  const start = ringPoint(t, shift, h); // syncs t's views: read t.members after it
  return distinctFrom(t.members, start, ids, want);
}

function ringStats(
  t: RingTable | null,
  ids: readonly string[],
  weights: Weights,
  backend: Backend,
  hash: RingHash,
  vnodes: number,
): RingStats {
  const members: RingMemberStats[] = ids.map((id) => ({ id, weight: weights.get(id)!, points: 0, share: 0 }));
  if (t !== null) {
    t.sync();
    addArcs(t.points, t.members, members);
  }
  return {
    backend,
    hash,
    vnodes,
    points: t === null ? 0 : t.total,
    bytes: t === null ? 0 : t.byteLength,
    members,
  };
}

/**
 * A consistent-hash ring; `members` is in ring index order (ascending `<`), which getManyByHash indexes.
 * switchyard/lite's HashRing: on the 'js' backend it needs `registerJsFallback()` (core/backend.ts `ringCore`),
 * for `preference`, `stats` and `hash: 'xxh64'` on WebAssembly `registerRingExtras()` (a TypeError before).
 */
export class HashRingCore extends MutableRouter<Weights, MemberInput> implements OrderedKeyRouter {
  declare readonly vnodes: number;
  declare readonly hash: RingHash;
  declare readonly seed: number | bigint;
  declare private readonly core: Core;
  declare private readonly seedHi: number;
  declare private readonly seedLo: number;
  declare private readonly is64: boolean;
  declare private t: RingTable | null;
  declare private shift: number;

  constructor(members: Iterable<MemberInput> = [], options: HashRingOptions = {}) {
    checkOptions(options, OPTIONS);
    const vnodes = options.vnodes === undefined ? DEFAULT_VNODES : intInRange('vnodes', options.vnodes, 1, MAX_VNODES);
    const hash = options.hash === undefined ? 'xxh32' : str('hash', options.hash);
    if (hash !== 'xxh32' && hash !== 'xxh64') throw rangeError('hash', "'xxh32' or 'xxh64'", hash);
    const seed = options.seed === undefined ? 0 : options.seed;
    const is64 = hash === 'xxh64';
    const s = is64 ? seed64(seed) : BigInt(intInRange('seed', seed, 0, 0xffffffff));
    super(options, RING_WASM, MEMBER_RULES, members);
    // the ring module has no xxh64 (the ring-batch module has): refused here, not at the first lookup
    if (is64 && this.kind === 'wasm' && extras === null) throw needs("hash 'xxh64'", 'registerRingExtras()');
    this.vnodes = vnodes;
    this.hash = hash;
    this.is64 = is64;
    this.seedHi = Number(s >> 32n);
    this.seedLo = Number(s & 0xffffffffn);
    this.seed = seed;
    this.core = ringCore(this.kind);
    this.rebuild();
  }

  /** The 32-bit hash this ring uses for a key. */
  hashOf(key: Key): number {
    if (typeof key === 'string') {
      if (!this.is64) return xxh32StringI32(key, this.seedLo) >>> 0;
      const b = utf8Scratch(key);
      return this.core.xxh64Hi(b, this.seedHi, this.seedLo);
    }
    if (key instanceof Uint8Array) {
      if (this.is64) return this.core.xxh64Hi(key, this.seedHi, this.seedLo);
      return key.length < WASM_MIN_BYTES ? xxh32Bytes(key, this.seedLo) : this.core.xxh32(key, this.seedLo);
    }
    throw keyError(key);
  }

  /** The member that owns `key`, or undefined if the ring is empty. */
  get(key: Key): string | undefined {
    const h = this.hashOf(key);
    const t = this.t;
    return t === null ? undefined : this.ids[ringOwner(t, this.shift, h)];
  }

  /** Index into `members` of the owner of `key`, or -1 if the ring is empty. */
  getIndex(key: Key): number {
    const h = this.hashOf(key);
    const t = this.t;
    return t === null ? -1 : ringOwner(t, this.shift, h);
  }

  /**
   * Owners of a batch: with the extras registered (`registerRingExtras`), one WASM call per chunk hashes and
   * looks up keys copied into linear memory (ASCII strings by one native encode); otherwise a loop of `getIndex`.
   */
  protected override indexMany(keys: readonly Key[]): Uint32Array {
    const t = this.t;
    const b = batchOf(this.wasm);
    if (b === null || t === null) return super.indexMany(keys);
    checkKeys(keys);
    const out = new Uint32Array(keys.length);
    b.lookupKeys(t, this.is64 ? 1 : 0, seedI64(this.seedHi, this.seedLo), keys, out);
    return out;
  }

  /** The member whose point is the first >= hash (an unsigned 32-bit integer). */
  getByHash(hash: number): string | undefined {
    const h = intInRange('hash', hash, 0, 0xffffffff);
    const t = this.t;
    return t === null ? undefined : this.ids[ringOwner(t, this.shift, h)];
  }

  /**
   * Member indices for many hashes (NO_MEMBER on an empty ring), in one core call where registered. Once a ring
   * has looked up a quarter of its direct table's entries this way, it builds that table (4-32 entries per point,
   * at most 2 MiB; core/ring-batch.ts `directBits`) and answers most hashes with one read.
   */
  getManyByHash(hashes: Uint32Array, out: Uint32Array = new Uint32Array(hashes.length)): Uint32Array {
    if (!(hashes instanceof Uint32Array)) throw typeError('hashes', 'a Uint32Array', hashes);
    checkOut(out, hashes.length);
    const t = this.t;
    const b = batchOf(this.wasm);
    if (t === null) out.fill(NO_MEMBER, 0, hashes.length);
    else if (b !== null) b.lookupMany(t, this.ids.length, hashes, out);
    else for (let i = 0; i < hashes.length; i++) out[i] = ringOwner(t, this.shift, hashes[i]!);
    return out;
  }

  /**
   * Member indices for keys given as UTF-8/binary bytes back to back: key i is
   * bytes[offsets[i] .. offsets[i + 1]). Hashing and lookup run in one core call where registered.
   */
  getManyBytes(bytes: Uint8Array, offsets: Uint32Array): Uint32Array {
    checkOffsets(bytes, offsets);
    const count = Math.max(0, offsets.length - 1);
    const out = new Uint32Array(count);
    const t = this.t;
    const b = batchOf(this.wasm);
    if (t !== null && b !== null)
      b.lookupManyBytes(t, this.is64 ? 1 : 0, seedI64(this.seedHi, this.seedLo), bytes, offsets, out);
    else for (let i = 0; i < count; i++) out[i] = this.getIndex(bytes.subarray(offsets[i], offsets[i + 1])); // -1: NO_MEMBER
    return out;
  }

  /** Up to n distinct members in ring order starting at the key's owner: replicas and failover order. */
  preference(key: Key, n: number): string[] {
    return need('preference')(this.t, this.shift, this.ids, this.hashOf(key), n);
  }

  stats(): RingStats {
    return need('stats')(this.t, this.ids, this.membership, this.kind, this.hash, this.vnodes);
  }

  protected rebuild(): void {
    const ids = [...this.membership.keys()].sort(); // by UTF-16 code units: the order of `<` on strings
    intInRange('members.length', ids.length, 0, MAX_MEMBERS);
    let total = 0;
    const counts = ids.map((id) => {
      const w = this.membership.get(id)!;
      const c = Math.round(w * this.vnodes);
      if (c < 1) throw rangeError(`member ${JSON.stringify(id)} weight`, 'at least 0.5 / vnodes (one point)', w);
      total += c;
      return c;
    });
    intInRange('total points (weight × vnodes, summed over the members)', total, 0, MAX_POINTS);
    const { hash, seedHi, seedLo } = this;
    const t = ids.length === 0 ? null : this.core.buildRing({ ids, counts, hash, seedHi, seedLo });
    if (this.t != null && this.wasm !== null) batches.get(this.wasm)?.release(this.t);
    this.region.replace(t === null ? null : t.mem, t === null ? 0 : t.ptr);
    this.setIds(ids);
    this.t = t;
    this.shift = t === null ? 31 : 32 - t.bits;
  }
}

/**
 * switchyard's HashRing: HashRingCore with the extras and the pure-TS core (for where WebAssembly is unavailable)
 * registered.
 */
export class HashRing extends HashRingCore {
  constructor(members: Iterable<MemberInput> = [], options: HashRingOptions = {}) {
    registerJsFallback();
    registerRingExtras();
    super(members, options);
  }
}

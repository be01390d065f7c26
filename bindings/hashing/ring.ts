// HashRing: a consistent-hash ring with virtual nodes (Karger et al. 1997; the vnode scheme of ketama and
// Envoy's ring_hash), built by the core into a sorted point array plus a bucket table.
//
// Scheme (reproducible by any implementation): member `id` with weight w gets round(w × vnodes) points;
// point i is hash(UTF-8 `${id}-${i}`), i from 0, where hash is xxh32(seed) or the upper 32 bits of
// xxh64(seed). Points are sorted ascending; equal points are ordered by id (plain `<`). A key maps to the
// member of the first point >= hash(key), wrapping to the first point.
//
//   const ring = new HashRing(['a', { id: 'b', weight: 2 }]);
//   ring.get('user:42'); // 'a' or 'b'
import { getCore } from '../core/backend.js';
import { type Backend, type Core, type RingHash, type RingSpec, RingTable, ringIndex } from '../core/core.js';
import { seed64, WASM_MIN_BYTES } from './hash.js';
import { utf8Scratch } from '../core/utf8.js';
import { parseMembership, parseWeightedMember, sameWeights, withAdded, withRemoved, withWeight } from './membership.js';
import { intInRange, positive, rangeError, typeError } from '../util/validate.js';
import { xxh32Bytes, xxh32String, xxh64Hi, xxh64Pair } from '../core/xxhash.js';

export type MemberInput = string | { id: string; weight?: number };
export type Key = string | Uint8Array;

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

export interface RingMemberStats {
  id: string;
  weight: number;
  points: number;
  /** Fraction of the 32-bit hash space that maps to this member. */
  share: number;
}

export interface RingStats {
  backend: Backend;
  hash: RingHash;
  vnodes: number;
  points: number;
  /** Bytes of points, member indices and bucket table. */
  bytes: number;
  members: RingMemberStats[];
}

/** Returned in index arrays for keys looked up on an empty ring. */
export const NO_MEMBER = 0xffffffff;
export const DEFAULT_VNODES = 160;
export const MAX_VNODES = 65536;
/** Member indices are 16-bit in the table. */
export const MAX_MEMBERS = 65536;
export const MAX_POINTS = 1 << 24;

interface Holder {
  core: Core;
  table: RingTable | null;
}

const registry = new FinalizationRegistry<Holder>((h) => {
  if (h.table !== null) h.core.freeRing(h.table);
});

export class HashRing {
  readonly vnodes: number;
  readonly hash: RingHash;
  readonly seed: number | bigint;
  private readonly core: Core;
  private readonly seedHi: number;
  private readonly seedLo: number;
  private readonly is64: boolean;
  private readonly weights = new Map<string, number>();
  private ids: string[] = [];
  private t: RingTable | null = null;
  private shift = 31;
  private readonly holder: Holder;

  constructor(members: Iterable<MemberInput> = [], options: HashRingOptions = {}) {
    if (options === null || typeof options !== 'object') throw typeError('options', 'an object', options);
    this.vnodes = options.vnodes === undefined ? DEFAULT_VNODES : intInRange('vnodes', options.vnodes, 1, MAX_VNODES);
    const hash = options.hash ?? 'xxh32';
    if (hash !== 'xxh32' && hash !== 'xxh64') throw rangeError('hash', "'xxh32' or 'xxh64'", hash);
    this.hash = hash;
    this.is64 = hash === 'xxh64';
    const seed = options.seed ?? 0;
    if (this.is64) {
      const s = seed64(seed);
      this.seedHi = Number(s >> 32n);
      this.seedLo = Number(s & 0xffffffffn);
    } else {
      if (typeof seed !== 'number') throw typeError('seed', 'an integer in [0, 4294967295] for xxh32', seed);
      this.seedLo = intInRange('seed', seed, 0, 0xffffffff);
      this.seedHi = 0;
    }
    this.seed = seed;
    if (options.backend !== undefined && options.backend !== 'wasm' && options.backend !== 'js') {
      throw rangeError('backend', "'wasm' or 'js'", options.backend);
    }
    this.core = getCore(options.backend);
    this.holder = { core: this.core, table: null };
    registry.register(this, this.holder, this.holder);
    for (const [id, w] of parseMembership(members, parseWeightedMember)) this.weights.set(id, w);
    this.rebuild();
  }

  /** Member ids in ring index order (ascending `<`); indices from getManyByHash index this. */
  get members(): readonly string[] {
    return this.ids;
  }

  get size(): number {
    return this.ids.length;
  }

  get backend(): Backend {
    return this.core.kind;
  }

  weight(id: string): number | undefined {
    return this.weights.get(id);
  }

  /** The 32-bit hash this ring uses for a key. */
  hashOf(key: Key): number {
    if (typeof key === 'string') {
      if (!this.is64) return xxh32String(key, this.seedLo);
      const b = utf8Scratch(key);
      return this.core.kind === 'wasm'
        ? this.core.xxh64Hi(b, this.seedHi, this.seedLo)
        : hi64(b, this.seedHi, this.seedLo);
    }
    if (key instanceof Uint8Array) {
      if (this.is64)
        return this.core.kind === 'wasm'
          ? this.core.xxh64Hi(key, this.seedHi, this.seedLo)
          : hi64(key, this.seedHi, this.seedLo);
      return key.length < WASM_MIN_BYTES ? xxh32Bytes(key, this.seedLo) : this.core.xxh32(key, this.seedLo);
    }
    throw typeError('key', 'a string or a Uint8Array', key);
  }

  /** The member that owns `key`, or undefined if the ring is empty. */
  get(key: Key): string | undefined {
    const h = this.hashOf(key);
    const t = this.t;
    if (t === null) return undefined;
    t.sync();
    return this.ids[t.members[ringIndex(t.points, t.table, this.shift, t.total, h)]!];
  }

  /** Index into `members` of the owner of `key`, or -1 if the ring is empty. */
  getIndex(key: Key): number {
    const h = this.hashOf(key);
    const t = this.t;
    if (t === null) return -1;
    t.sync();
    return t.members[ringIndex(t.points, t.table, this.shift, t.total, h)]!;
  }

  getMany(keys: readonly Key[]): (string | undefined)[] {
    if (!Array.isArray(keys)) throw typeError('keys', 'an array of strings or Uint8Arrays', keys);
    const out = new Array<string | undefined>(keys.length);
    for (let i = 0; i < keys.length; i++) out[i] = this.get(keys[i]!);
    return out;
  }

  /** The member whose point is the first >= hash (an unsigned 32-bit integer). */
  getByHash(hash: number): string | undefined {
    const h = intInRange('hash', hash, 0, 0xffffffff);
    const t = this.t;
    if (t === null) return undefined;
    t.sync();
    return this.ids[t.members[ringIndex(t.points, t.table, this.shift, t.total, h)]!];
  }

  /** Member indices for many hashes (NO_MEMBER on an empty ring), computed in one core call. */
  getManyByHash(hashes: Uint32Array, out: Uint32Array = new Uint32Array(hashes.length)): Uint32Array {
    if (!(hashes instanceof Uint32Array)) throw typeError('hashes', 'a Uint32Array', hashes);
    if (!(out instanceof Uint32Array) || out.length < hashes.length)
      throw rangeError('out', `a Uint32Array of length >= ${hashes.length}`, out);
    const t = this.t;
    if (t === null) out.fill(NO_MEMBER, 0, hashes.length);
    else this.core.lookupMany(t, hashes, out);
    return out;
  }

  /**
   * Member indices for keys given as UTF-8/binary bytes back to back: key i is
   * bytes[offsets[i] .. offsets[i + 1]). Hashing and lookup run in one core call.
   */
  getManyBytes(bytes: Uint8Array, offsets: Uint32Array): Uint32Array {
    if (!(bytes instanceof Uint8Array)) throw typeError('bytes', 'a Uint8Array', bytes);
    if (!(offsets instanceof Uint32Array)) throw typeError('offsets', 'a Uint32Array', offsets);
    for (let i = 0; i < offsets.length; i++) {
      const o = offsets[i]!;
      if (o > bytes.length || (i > 0 && o < offsets[i - 1]!))
        throw rangeError(`offsets[${i}]`, `non-decreasing and <= ${bytes.length}`, o);
    }
    const count = Math.max(0, offsets.length - 1);
    const out = new Uint32Array(count);
    const t = this.t;
    if (t === null) out.fill(NO_MEMBER);
    else if (count > 0) this.core.lookupManyBytes(t, this.spec(), bytes, offsets, out);
    return out;
  }

  /** Up to n distinct members in ring order starting at the key's owner: replicas and failover order. */
  preference(key: Key, n: number): string[] {
    const h = this.hashOf(key);
    intInRange('n', n, 0, Number.MAX_SAFE_INTEGER);
    const t = this.t;
    const want = Math.min(n, this.ids.length);
    const out: string[] = [];
    if (t === null || want === 0) return out;
    t.sync();
    const seen = new Uint8Array(this.ids.length);
    let i = ringIndex(t.points, t.table, this.shift, t.total, h);
    for (let step = 0; step < t.total && out.length < want; step++) {
      const m = t.members[i]!;
      if (seen[m] === 0) {
        seen[m] = 1;
        out.push(this.ids[m]!);
      }
      if (++i === t.total) i = 0;
    }
    return out;
  }

  /** Adds members; true if the ring changed. An existing id with the same weight is a no-op. */
  add(members: MemberInput | readonly MemberInput[]): boolean {
    const next = withAdded(this.weights, members, parseWeightedMember);
    return next !== null && this.commit(next);
  }

  /** Removes members by id; true if any was present. */
  remove(ids: string | readonly string[]): boolean {
    const next = withRemoved(this.weights, ids);
    return next !== null && this.commit(next);
  }

  /** Sets a member's weight; true if it changed. */
  setWeight(id: string, weight: number): boolean {
    const next = withWeight(this.weights, id, weight, (w) => positive('weight', w), 'a member of the ring');
    return next !== null && this.commit(next);
  }

  /** Replaces the membership; true if it changed (nothing is rebuilt otherwise). */
  reset(members: Iterable<MemberInput>): boolean {
    const next = parseMembership(members, parseWeightedMember);
    return !sameWeights(next, this.weights) && this.commit(next);
  }

  stats(): RingStats {
    const members: RingMemberStats[] = this.ids.map((id) => ({
      id,
      weight: this.weights.get(id)!,
      points: 0,
      share: 0,
    }));
    const t = this.t;
    if (t !== null) {
      t.sync();
      const { points, members: idx, total } = t;
      for (let i = 0; i < total; i++) {
        const arc = i === 0 ? points[0]! + 2 ** 32 - points[total - 1]! : points[i]! - points[i - 1]!;
        const m = members[idx[i]!]!;
        m.points++;
        m.share += arc / 2 ** 32;
      }
    }
    return {
      backend: this.core.kind,
      hash: this.hash,
      vnodes: this.vnodes,
      points: t === null ? 0 : t.total,
      bytes: t === null ? 0 : t.byteLength,
      members,
    };
  }

  /** Frees the ring's WebAssembly memory now (otherwise freed when the ring is collected). */
  dispose(): void {
    registry.unregister(this.holder);
    if (this.t !== null) this.core.freeRing(this.t);
    this.t = null;
    this.holder.table = null;
    this.ids = [];
    this.weights.clear();
  }

  private commit(next: Map<string, number>): boolean {
    const prev = new Map(this.weights);
    this.weights.clear();
    for (const [id, w] of next) this.weights.set(id, w);
    try {
      this.rebuild();
    } catch (err) {
      this.weights.clear();
      for (const [id, w] of prev) this.weights.set(id, w);
      throw err;
    }
    return true;
  }

  private spec(): RingSpec {
    return {
      ids: this.ids,
      counts: this.ids.map((id) => this.count(id)),
      hash: this.hash,
      seedHi: this.seedHi,
      seedLo: this.seedLo,
    };
  }

  private count(id: string): number {
    return Math.round(this.weights.get(id)! * this.vnodes);
  }

  private rebuild(): void {
    const ids = [...this.weights.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    if (ids.length > MAX_MEMBERS) throw rangeError('members.length', `at most ${MAX_MEMBERS}`, ids.length);
    let total = 0;
    for (const id of ids) {
      const c = this.count(id);
      if (c < 1)
        throw rangeError(
          `member ${JSON.stringify(id)} weight`,
          `large enough for at least one point (weight × vnodes >= 0.5)`,
          this.weights.get(id),
        );
      total += c;
    }
    if (total > MAX_POINTS)
      throw rangeError('total points (sum of round(weight × vnodes))', `at most ${MAX_POINTS}`, total);
    const old = this.t;
    this.ids = ids;
    this.t = ids.length === 0 ? null : this.core.buildRing(this.spec());
    this.shift = this.t === null ? 31 : 32 - this.t.bits;
    this.holder.table = this.t;
    if (old !== null) this.core.freeRing(old);
  }
}

function hi64(b: Uint8Array, hi: number, lo: number): number {
  xxh64Pair(b, hi, lo);
  return xxh64Hi();
}

// Jump consistent hash (John Lamping and Eric Veach, "A Fast, Minimal Memory, Consistent Hash Algorithm",
// 2014, arXiv:1406.2294): a 64-bit key to a bucket in [0, n) with no table at all. Growing from n to n + 1
// buckets moves exactly the keys that land on the new bucket (about 1/(n + 1)), and only to it.
//
// Buckets have no names: `JumpHash` maps bucket i to the i-th member id, in the order given or appended.
// It is a `BucketKeyRouter` (key-router.ts): members are appended and only the last buckets can be removed
// (removing bucket i < n - 1 would renumber every later bucket and move their keys); to take a middle member
// out of service, keep its bucket and route around it. It is not an `OrderedKeyRouter`: Jump defines no
// failover order (use Rendezvous where replicas or failover are needed).
// String and byte keys are hashed with xxh64, seed 0, to the u64 key (as `switchyard route --algo jump`).
//
//   jumpHash(0xdeadbeefn, 10); // 5
//   new JumpHash(['a', 'b', 'c']).get('user:42'); // 'a', 'b' or 'c'
//
// Paths, by measurement (bench/jump-nginx.bench.ts, 2-core EPYC, Node 20): everything runs in WASM when
// it is available. A single u64 lookup is one call with two i32 halves (`jumpHashPair`, no BigInt): as fast
// as the TS twin at 10 buckets and 1.5x faster at 100-1000 (the f64/i64 loop is cheaper natively); a single
// string key is copied in and hashed there (xxh64 on 32-bit halves in TS is 2.5-4x slower); batches
// (getMany, getManyByHash, getManyBytes) are one call per 65536 keys, u64 keys jumped four at a time
// (assembly/jump.ts `jump4`). `jumpPair` is the pure-TS twin; the 'js' backend uses it throughout.
import { HASH_WASM } from '../core/families.js';
import { defaultBackend, loadFamily } from '../core/loader.js';
import type { Backend } from '../core/core.js';
import { BATCH, batchBytes } from '../core/core-wasm.js';
import { BACKEND_ONLY, checkOptions, RouterBase } from './base.js';
import { type BucketKeyRouter, type Key, type RouterMemberStats, NO_MEMBER, type RouterStats } from './key-router.js';
import { checkOffsets, keyBytes, checkOut, packKeys } from './shared.js';
import { intInRange, rangeError, str, typeError } from '../util/validate.js';
import { xxh64Hi, xxh64Pair } from '../core/xxhash.js';

/** A u64 key: a bigint, or its [high, low] unsigned 32-bit halves. */
export type U64 = bigint | readonly [number, number];

/** Largest bucket count (the reference takes an int32). */
export const JUMP_MAX_BUCKETS = 0x7fffffff;
/** @deprecated the one sentinel is `NO_MEMBER` (key-router.ts). */
export const JUMP_NO_MEMBER = NO_MEMBER;

const M_HI = 0x27bb2ee6; // 2862933555777941757 = 0x27bb2ee6_87b0b0fd
const M_LO0 = 0xb0fd;
const M_LO1 = 0x87b0;
const M_LO = 0x87b0b0fd;

/** Pure-TS jump on the key's 32-bit halves; the twin of assembly/jump.ts, bit for bit. buckets >= 1. */
export function jumpPair(hi: number, lo: number, buckets: number): number {
  let b = -1;
  let j = 0;
  while (j < buckets) {
    b = j;
    // (hi, lo) = (hi, lo) * M + 1 mod 2^64, with 16-bit partial products so every step is exact
    const a0 = lo & 0xffff;
    const a1 = lo >>> 16;
    const p00 = a0 * M_LO0;
    const p01 = a0 * M_LO1;
    const p10 = a1 * M_LO0;
    const mid = (p00 >>> 16) + (p01 & 0xffff) + (p10 & 0xffff);
    const carry = a1 * M_LO1 + (p01 >>> 16) + (p10 >>> 16) + (mid >>> 16);
    hi = (carry + Math.imul(hi, M_LO) + Math.imul(lo, M_HI)) >>> 0;
    lo = ((mid << 16) | (p00 & 0xffff)) >>> 0;
    if (lo === 0xffffffff) {
      lo = 0;
      hi = (hi + 1) >>> 0;
    } else lo++;
    j = Math.floor((b + 1) * (2147483648 / ((hi >>> 1) + 1)));
  }
  return b;
}

function buckets32(buckets: unknown): number {
  return intInRange('buckets', buckets, 1, JUMP_MAX_BUCKETS);
}

/** [high, low] halves of a u64 key, validated. */
export function u64Halves(key: unknown, field = 'key'): [number, number] {
  if (typeof key === 'bigint') {
    if (key < 0n || key > 0xffffffffffffffffn) throw rangeError(field, 'a bigint in [0, 2^64 - 1]', key);
    return [Number(key >> 32n), Number(key & 0xffffffffn)];
  }
  if (Array.isArray(key) && key.length === 2) {
    return [
      intInRange(`${field}[0] (high half)`, key[0], 0, 0xffffffff),
      intInRange(`${field}[1] (low half)`, key[1], 0, 0xffffffff),
    ];
  }
  throw typeError(field, 'a bigint or [high, low] unsigned 32-bit halves', key);
}

/** Bucket in [0, buckets) of a u64 key (Lamping & Veach). `buckets` must be an integer in [1, 2^31 - 1]. */
export function jumpHash(key: U64, buckets: number): number {
  const n = buckets32(buckets);
  const [hi, lo] = u64Halves(key);
  const w = defaultBackend(HASH_WASM) === 'wasm' ? loadFamily(HASH_WASM) : null;
  return w === null ? jumpPair(hi, lo, n) : (w.exports as unknown as JumpExports).jumpHashPair(hi, lo, n);
}

/** xxh64 (seed 0) halves of a string (UTF-8) or bytes key. */
export function keyHalves(key: unknown): [number, number] {
  const lo = xxh64Pair(keyBytes(key), 0, 0);
  return [xxh64Hi(), lo];
}

interface JumpExports {
  jumpHashPair(hi: number, lo: number, buckets: number): number;
  jumpHashBytes(ptr: number, len: number, buckets: number): number;
  jumpMany(keys: number, count: number, buckets: number, out: number): void;
  jumpManyPairs(keys: number, count: number, buckets: number, out: number): void;
  jumpManyBytes(bytes: number, offsets: number, count: number, buckets: number, out: number): void;
}

export interface JumpHashOptions {
  /** Force a backend for this instance; by default the active one (`backend()`). */
  backend?: Backend;
}

export interface JumpMemberStats extends RouterMemberStats {
  bucket: number;
  /** Expected fraction of keys: exactly 1/n for Jump. */
  share: number;
}

export interface JumpStats extends RouterStats {
  buckets: number;
  /** Always 0: Jump has no table. */
  bytes: number;
  members: JumpMemberStats[];
}

/** Jump consistent hash over named members: bucket i is `members[i]` (`members` is in bucket order). */
export class JumpHash extends RouterBase implements BucketKeyRouter {
  private readonly index = new Map<string, number>();

  constructor(members: Iterable<string> = [], options: JumpHashOptions = {}) {
    super(checkOptions(options, BACKEND_ONLY), HASH_WASM);
    if (
      members === null ||
      typeof members === 'string' ||
      typeof (members as Iterable<string>)[Symbol.iterator] !== 'function'
    ) {
      throw typeError('members', 'an iterable of member ids', members);
    }
    const ids: string[] = [];
    let i = 0;
    for (const id of members) {
      checkId(id, `members[${i}]`);
      if (this.index.has(id)) throw rangeError(`members[${i}]`, 'unique', id);
      this.push(ids, id);
      i++;
    }
    this.setIds(ids);
  }

  /** Bucket of `key` (a string or bytes, hashed with xxh64 seed 0), or -1 with no members. */
  getIndex(key: Key): number {
    const b = keyBytes(key);
    const n = this.ids.length;
    if (n === 0) return -1;
    const w = this.wasm;
    if (w === null) {
      const lo = xxh64Pair(b, 0, 0);
      return jumpPair(xxh64Hi(), lo, n);
    }
    const p = w.io(b.length);
    w.mem.u8.set(b, p);
    return (w.exports as unknown as JumpExports).jumpHashBytes(p, b.length, n);
  }

  /** The member that owns `key`, or undefined with no members. */
  get(key: Key): string | undefined {
    return this.ids[this.getIndex(key)];
  }

  /** The member for a u64 key given directly (a bigint or [high, low] halves). */
  getByHash(hash: U64): string | undefined {
    const [hi, lo] = u64Halves(hash, 'hash');
    const n = this.ids.length;
    if (n === 0) return undefined;
    const w = this.wasm;
    return this.ids[w === null ? jumpPair(hi, lo, n) : (w.exports as unknown as JumpExports).jumpHashPair(hi, lo, n)];
  }

  protected override indexMany(keys: readonly Key[]): Uint32Array {
    const { bytes, offsets } = packKeys(keys);
    return this.getManyBytes(bytes, offsets);
  }

  /**
   * Buckets for many u64 keys: a BigUint64Array, or a Uint32Array of [high, low] pairs (key i is
   * hashes[2i], hashes[2i + 1]). NO_MEMBER with no members.
   */
  getManyByHash(hashes: BigUint64Array | Uint32Array, out?: Uint32Array): Uint32Array {
    const pairs = hashes instanceof Uint32Array;
    if (!pairs && !(hashes instanceof BigUint64Array))
      throw typeError('hashes', 'a BigUint64Array or a Uint32Array of [high, low] pairs', hashes);
    if (pairs && hashes.length % 2 !== 0) throw rangeError('hashes.length', 'even ([high, low] pairs)', hashes.length);
    const count = pairs ? hashes.length / 2 : hashes.length;
    if (out === undefined) out = new Uint32Array(count); // null is checkOut's TypeError
    checkOut(out, count);
    const n = this.ids.length;
    if (n === 0) return out.fill(NO_MEMBER, 0, count);
    const w = this.wasm;
    if (w === null) {
      if (pairs) for (let i = 0; i < count; i++) out[i] = jumpPair(hashes[2 * i]!, hashes[2 * i + 1]!, n);
      else
        for (let i = 0; i < count; i++)
          out[i] = jumpPair(Number(hashes[i]! >> 32n), Number(hashes[i]! & 0xffffffffn), n);
      return out;
    }
    const x = w.exports as unknown as JumpExports;
    for (let k = 0; k < count; k += BATCH) {
      const c = Math.min(BATCH, count - k);
      const p = w.io(c * 12);
      const u32 = w.mem.u32;
      if (pairs) u32.set((hashes as Uint32Array).subarray(2 * k, 2 * (k + c)), p >>> 2);
      else new BigUint64Array(w.mem.memory.buffer, p, c).set((hashes as BigUint64Array).subarray(k, k + c));
      if (pairs) x.jumpManyPairs(p, c, n, p + c * 8);
      else x.jumpMany(p, c, n, p + c * 8);
      out.set(w.mem.u32.subarray((p + c * 8) >>> 2, ((p + c * 8) >>> 2) + c), k);
    }
    return out;
  }

  /** Buckets for keys given as bytes back to back: key i is bytes[offsets[i] .. offsets[i + 1]). */
  getManyBytes(bytes: Uint8Array, offsets: Uint32Array): Uint32Array {
    checkOffsets(bytes, offsets);
    const count = Math.max(0, offsets.length - 1);
    const out = new Uint32Array(count);
    const n = this.ids.length;
    if (n === 0) return out.fill(NO_MEMBER);
    const w = this.wasm;
    if (w === null) {
      for (let i = 0; i < count; i++) {
        const lo = xxh64Pair(bytes.subarray(offsets[i]!, offsets[i + 1]!), 0, 0);
        out[i] = jumpPair(xxh64Hi(), lo, n);
      }
      return out;
    }
    const x = w.exports as unknown as JumpExports;
    batchBytes(w, bytes, offsets, out, (b, o, c, r) => x.jumpManyBytes(b, o, c, n, r));
    return out;
  }

  /** Appends members as new last buckets, in order; true if any was new. Existing ids are left in place. */
  append(ids: string | readonly string[]): boolean {
    const list = typeof ids === 'string' ? [ids] : ids;
    if (!Array.isArray(list)) throw typeError('ids', 'a member id or an array of ids', ids);
    list.forEach((id, i) => checkId(id, typeof ids === 'string' ? 'id' : `ids[${i}]`));
    const fresh = list.filter((id, i) => !this.index.has(id) && list.indexOf(id) === i);
    if (fresh.length === 0) return false;
    const next = [...this.ids];
    for (const id of fresh) this.push(next, id);
    this.setIds(next);
    return true;
  }

  /** @deprecated use `append` (the same: members join as new last buckets). */
  add(ids: string | readonly string[]): boolean {
    return this.append(ids);
  }

  /** Removes the last `count` buckets (default 1, at most `size`); returns their ids, last bucket last. */
  removeLast(count = 1): string[] {
    const c = intInRange('count', count, 0, this.ids.length);
    const end = this.ids.length - c;
    const gone = this.ids.slice(end);
    for (const id of gone) this.index.delete(id);
    if (c > 0) this.setIds(this.ids.slice(0, end));
    return gone;
  }

  /**
   * @deprecated use `removeLast`. Removes members by id, each of which must be the last bucket when its turn
   * comes; true if any was present. Throws a RangeError, changing nothing, for any other member.
   */
  remove(ids: string | readonly string[]): boolean {
    const list = typeof ids === 'string' ? [ids] : ids;
    if (!Array.isArray(list)) throw typeError('ids', 'a member id or an array of ids', ids);
    let end = this.ids.length;
    const present = new Set<string>();
    for (const given of list) {
      const id = str('id', given);
      const i = this.index.get(id);
      if (i === undefined || present.has(id)) continue;
      if (i !== end - 1) {
        throw rangeError(
          `id ${JSON.stringify(id)} (bucket ${i} of ${this.ids.length})`,
          `the last bucket: Jump consistent hash can only remove bucket n - 1 (currently ${JSON.stringify(this.ids[end - 1])}); removing another would renumber later buckets and move their keys`,
          id,
        );
      }
      present.add(id);
      end--;
    }
    if (present.size === 0) return false;
    for (const id of this.ids.slice(end)) this.index.delete(id);
    this.setIds(this.ids.slice(0, end));
    return true;
  }

  stats(): JumpStats {
    const n = this.ids.length;
    return {
      backend: this.kind,
      buckets: n,
      bytes: 0,
      members: this.ids.map((id, bucket) => ({ id, bucket, share: 1 / n })),
    };
  }

  /** Jump holds no table: empties the membership. */
  dispose(): void {
    this.setIds([]);
    this.index.clear();
  }

  /** Appends `id` to `ids`, the next member list (set by `setIds` once complete), and indexes it. */
  private push(ids: string[], id: string): void {
    if (ids.length >= JUMP_MAX_BUCKETS)
      throw rangeError('members.length', `at most ${JUMP_MAX_BUCKETS}`, ids.length + 1);
    this.index.set(id, ids.length);
    ids.push(id);
  }
}

function checkId(id: unknown, field: string): asserts id is string {
  if (str(field, id).length === 0) throw rangeError(field, 'a non-empty id', id);
}

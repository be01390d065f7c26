// nginx `hash $key consistent` (ngx_http_upstream_hash_module.c; the point scheme is
// Cache::Memcached::Fast's), reproduced exactly so that a client places keys on the server nginx picks.
//
// Ring: for each server, in the order of the upstream block, 160 × weight points. The server name is the
// string written after `server` (e.g. "127.0.0.1:8080"); a "unix:" prefix is dropped, otherwise a trailing
// run of digits after the last ':' is the port. base = crc32 state over HOST, one zero byte, PORT; point j
// = crc32 of base followed by the 4 little-endian bytes of point j - 1 (0 before the first). Points are
// sorted and equal points collapse to the first in declaration order (nginx's qsort is glibc's merge
// sort, which is stable; on a libc with an unstable qsort nginx could keep another of the equal points).
// Lookup: crc32 of the key as nginx evaluated it (for `$arg_k`: the raw, still percent-encoded query
// argument), then the first point >= it, wrapping to the first point.
//
// Not modelled: failures. With every server up nginx's choice is the point above; when the chosen server
// is down or failed (max_fails/fail_timeout) or already tried, nginx walks to the next point (hp->hash++)
// for up to `points` steps; `preference(key, n)` gives that walk's order of distinct servers. When a
// server name resolves to several addresses they share its points and nginx rotates among them by weight.
// Servers marked `down` keep their points (nginx skips them at pick time): keep them here and take the
// first of `preference(key, n)` that is up. An empty key is not hashed at all: nginx falls back to its
// weighted round robin (seen live with nginx 1.22.1), while get('') answers the owner of crc32('') = 0.
//
//   const h = new NginxConsistentHash(['10.0.0.1:80', { id: '10.0.0.2:80', weight: 2 }]);
//   h.get('user:42'); // '10.0.0.1:80' or '10.0.0.2:80'
//
// Paths (bench/jump-nginx.bench.ts): single keys in TS (crc32 from charCodeAt, then the bucket table over the
// points that our ring uses, core/radix.ts bucketTable + core.ts ringIndex, instead of nginx's binary search:
// the same point, get 2.0-2.5x faster at 10-1000 servers; the points stay in linear memory under the WASM
// backend); builds and batches in WASM (batches keep the binary search).
import { batchBytes, batchU32, type WasmHandle } from '../core/core-wasm.js';
import { HASH_WASM } from '../core/families.js';
import { align16, detached } from '../core/memory.js';
import { bucketTable, lookupBits, radixSortPairs } from '../core/radix.js';
import { ringIndex, type Backend } from '../core/core.js';
import { crc32Byte, crc32Bytes, crc32String, crc32Update } from './ketama/crc32.js';
import { utf8 } from '../core/utf8.js';
import type { Key, MemberInput, OrderedKeyRouter, RouterMemberStats, RouterStats } from './key-router.js';
import { keyError, NO_MEMBER } from './key-router.js';
import { BACKEND_ONLY, checkOptions, MutableRouter } from './base.js';
import { MEMBER_KEYS, type Names, sameInOrder, weightRules, type Weights, wellFormedId } from './membership.js';
import { addArcs, checkOffsets, distinctFrom, checkOut, packKeys } from './shared.js';
import { checkKeys, intInRange, rangeError, str, typeError } from '../util/validate.js';

/** A server name (weight 1) or `{ id, weight }` with an integer weight in [1, NGINX_MAX_WEIGHT]. */
export type NginxServerInput = MemberInput;

/** Points per unit of weight, as nginx. */
export const NGINX_POINTS_PER_WEIGHT = 160;
/** @deprecated the one sentinel is `NO_MEMBER` (key-router.ts). */
export const NGINX_NO_MEMBER = NO_MEMBER;
export const NGINX_MAX_POINTS = 1 << 24;
/** Largest weight: 160 × weight points must fit in NGINX_MAX_POINTS. */
export const NGINX_MAX_WEIGHT = Math.floor(NGINX_MAX_POINTS / NGINX_POINTS_PER_WEIGHT);

export interface NginxConsistentHashOptions {
  /** Force a backend for this instance; by default the active one (`backend()`). */
  backend?: Backend;
}

export interface NginxMemberStats extends RouterMemberStats {
  weight: number;
  /** Distinct points this server keeps after duplicates were dropped. */
  points: number;
  /** Fraction of the 32-bit crc32 space that maps to this server. */
  share: number;
}

export interface NginxStats extends RouterStats {
  points: number;
  bytes: number;
  members: NginxMemberStats[];
}

interface NginxExports {
  nginxChashScratchBytes(total: number): number;
  nginxChashBuild(
    names: number,
    offsets: number,
    weights: number,
    n: number,
    scratch: number,
    points: number,
    servers: number,
  ): number;
  nginxChashLookupManyBytes(
    points: number,
    servers: number,
    n: number,
    bytes: number,
    offsets: number,
    count: number,
    out: number,
  ): void;
  nginxChashLookupMany(points: number, servers: number, n: number, hashes: number, count: number, out: number): void;
}

/** Where HOST and PORT lie in a server name (nginx's split). */
export function splitServerName(
  name: Uint8Array,
): [hostStart: number, hostEnd: number, portStart: number, portEnd: number] {
  const len = name.length;
  if (
    len >= 5 &&
    (name[0]! | 0x20) === 0x75 &&
    (name[1]! | 0x20) === 0x6e &&
    (name[2]! | 0x20) === 0x69 &&
    (name[3]! | 0x20) === 0x78 &&
    name[4] === 0x3a
  ) {
    return [5, len, 0, 0];
  }
  for (let j = 0; j < len; j++) {
    const c = name[len - j - 1]!;
    if (c === 0x3a) return [0, len - j - 1, len - j, len];
    if (c < 0x30 || c > 0x39) break;
  }
  return [0, len, 0, 0];
}

/** The pure-TS build, twin of nginxChashBuild: distinct sorted points and their server indices. */
export function buildNginxRing(
  names: readonly Uint8Array[],
  weights: readonly number[],
): { points: Uint32Array; servers: Uint32Array } {
  let total = 0;
  for (const w of weights) total += w * NGINX_POINTS_PER_WEIGHT;
  let keys: Uint32Array = new Uint32Array(total);
  let vals = new Uint32Array(total);
  let k = 0;
  for (let m = 0; m < names.length; m++) {
    const name = names[m]!;
    const [hs, he, ps, pe] = splitServerName(name);
    let base = crc32Update(-1, name, hs, he);
    base = crc32Byte(base, 0);
    base = crc32Update(base, name, ps, pe);
    const count = weights[m]! * NGINX_POINTS_PER_WEIGHT;
    let prev = 0;
    for (let j = 0; j < count; j++) {
      let h = crc32Byte(base, prev & 0xff);
      h = crc32Byte(h, (prev >>> 8) & 0xff);
      h = crc32Byte(h, (prev >>> 16) & 0xff);
      h = ~crc32Byte(h, prev >>> 24) >>> 0;
      keys[k] = h;
      vals[k] = m;
      prev = h;
      k++;
    }
  }
  [keys, vals] = radixSortPairs(keys, vals);
  let w = 0;
  for (let i = 0; i < total; i++) {
    const p = keys[i]!;
    if (w > 0 && keys[w - 1] === p) continue;
    keys[w] = p;
    vals[w] = vals[i]!;
    w++;
  }
  return { points: keys.slice(0, w), servers: vals.slice(0, w) };
}

/** Index of the first point >= h, wrapping to 0 (nginx's binary search then `% number`); n > 0. */
export function findChashPoint(points: Uint32Array, n: number, h: number): number {
  let i = 0;
  let j = n;
  while (i < j) {
    const k = (i + j) >>> 1;
    const p = points[k]!;
    if (h > p) i = k + 1;
    else if (h < p) j = k;
    else return k;
  }
  return i === n ? 0 : i;
}

interface Table {
  total: number;
  ptr: number; // 0 for the TS backend
  points: Uint32Array;
  servers: Uint32Array;
  /** Bucket table over the points' top bits (core/radix.ts bucketTable, in JS memory), and 32 - its bits. */
  buckets: Uint32Array;
  shift: number;
}

/** A built table (points and servers) with its bucket table at lookupBits (core/radix.ts). */
function withBuckets(t: Omit<Table, 'buckets' | 'shift'>): Table {
  const bits = lookupBits(t.total);
  return { ...t, buckets: bucketTable(t.points, bits), shift: 32 - bits };
}

/** Index of the first point >= h, wrapping to 0: nginx's answer, through the bucket table (core.ts ringIndex). */
const pointOf = (t: Table, h: number): number => ringIndex(t.points, t.buckets, t.shift, t.total, h);

/**
 * nginx's `hash $key consistent` upstream. `members` are the server names in declaration order (which
 * getManyBytes indexes); `add` appends servers as new lines at the end of the upstream block, `setWeight`
 * keeps a server's place in the block, and `reset` to the same servers in another order is a change.
 */
export class NginxConsistentHash extends MutableRouter<Weights, NginxServerInput> implements OrderedKeyRouter {
  private t: Table | null = null;

  constructor(servers: Iterable<NginxServerInput> = [], options: NginxConsistentHashOptions = {}) {
    super(checkOptions(options, BACKEND_ONLY), HASH_WASM, RULES, servers);
    this.rebuild();
  }

  /** crc32 of the key (UTF-8 for strings), as nginx hashes the evaluated `hash` expression. */
  hashOf(key: Key): number {
    if (typeof key === 'string') return crc32String(key);
    if (key instanceof Uint8Array) return crc32Bytes(key);
    throw keyError(key);
  }

  get(key: Key): string | undefined {
    const h = this.hashOf(key);
    const t = this.table();
    return t === null ? undefined : this.ids[t.servers[pointOf(t, h)]!];
  }

  /** Index into `members` of the owner of `key`, or -1 with no servers. */
  getIndex(key: Key): number {
    const h = this.hashOf(key);
    const t = this.table();
    return t === null ? -1 : t.servers[pointOf(t, h)]!;
  }

  /** The server whose point is the first >= hash (an unsigned 32-bit crc32 value). */
  getByHash(hash: number): string | undefined {
    const h = intInRange('hash', hash, 0, 0xffffffff);
    const t = this.table();
    return t === null ? undefined : this.ids[t.servers[pointOf(t, h)]!];
  }

  protected override indexMany(keys: readonly Key[]): Uint32Array {
    const { bytes, offsets } = packKeys(keys);
    return this.getManyBytes(bytes, offsets);
  }

  /** Server indices for many crc32 hashes (NO_MEMBER with no servers). */
  getManyByHash(hashes: Uint32Array, out: Uint32Array = new Uint32Array(hashes.length)): Uint32Array {
    if (!(hashes instanceof Uint32Array)) throw typeError('hashes', 'a Uint32Array', hashes);
    checkOut(out, hashes.length);
    const t = this.table();
    const count = hashes.length;
    if (t === null) return out.fill(NO_MEMBER, 0, count);
    const w = this.wasm;
    if (w === null) {
      for (let i = 0; i < count; i++) out[i] = t.servers[pointOf(t, hashes[i]!)]!;
      return out;
    }
    const x = w.exports as unknown as NginxExports;
    batchU32(w, hashes, out, (p, c, o) => x.nginxChashLookupMany(t.ptr, t.ptr + t.total * 4, t.total, p, c, o));
    return out;
  }

  /** Server indices for keys as bytes back to back: key i is bytes[offsets[i] .. offsets[i + 1]). */
  getManyBytes(bytes: Uint8Array, offsets: Uint32Array): Uint32Array {
    checkOffsets(bytes, offsets);
    const count = Math.max(0, offsets.length - 1);
    const out = new Uint32Array(count);
    const t = this.table();
    if (t === null) return out.fill(NO_MEMBER);
    const w = this.wasm;
    if (w === null) {
      for (let i = 0; i < count; i++) out[i] = t.servers[pointOf(t, crc32Bytes(bytes, offsets[i]!, offsets[i + 1]!))]!;
      return out;
    }
    const x = w.exports as unknown as NginxExports;
    batchBytes(w, bytes, offsets, out, (b, o, c, r) =>
      x.nginxChashLookupManyBytes(t.ptr, t.ptr + t.total * 4, t.total, b, o, c, r),
    );
    return out;
  }

  /**
   * Up to n distinct servers in the order nginx tries them when earlier ones are down or failed: the
   * owner, then the servers of the following points.
   */
  preference(key: Key, n: number): string[] {
    const h = this.hashOf(key);
    intInRange('n', n, 0, Number.MAX_SAFE_INTEGER);
    const t = this.table();
    return t === null ? [] : distinctFrom(t.servers, pointOf(t, h), this.ids, n);
  }

  stats(): NginxStats {
    const members: NginxMemberStats[] = this.ids.map((id) => ({
      id,
      weight: this.membership.get(id)!,
      points: 0,
      share: 0,
    }));
    const t = this.table();
    if (t !== null) addArcs(t.points, t.servers, members);
    const bytes = t === null ? 0 : t.total * 8 + t.buckets.length * 4;
    return { backend: this.kind, points: t === null ? 0 : t.total, bytes, members };
  }

  /** The current table with views valid for the current memory buffer. */
  private table(): Table | null {
    const t = this.t;
    if (t === null || t.ptr === 0) return t;
    const mem = this.wasm!.mem;
    if (detached(t.points)) {
      t.points = new Uint32Array(mem.memory.buffer, t.ptr, t.total);
      t.servers = new Uint32Array(mem.memory.buffer, t.ptr + t.total * 4, t.total);
    }
    return t;
  }

  protected rebuild(): void {
    const ids = [...this.membership.keys()];
    const weights = ids.map((id) => this.membership.get(id)!);
    const total = weights.reduce((s, w) => s + w * NGINX_POINTS_PER_WEIGHT, 0);
    if (total > NGINX_MAX_POINTS)
      throw rangeError('total points (160 × sum of weights)', `at most ${NGINX_MAX_POINTS}`, total);
    const names = ids.map((id) => utf8(id));
    let t: Table | null = null;
    if (ids.length > 0) {
      if (this.wasm === null) {
        const { points, servers } = buildNginxRing(names, weights);
        t = withBuckets({ total: points.length, ptr: 0, points, servers });
      } else t = withBuckets(this.buildWasm(this.wasm, names, weights, total));
    }
    this.region.replace(this.wasm === null ? null : this.wasm.mem, t === null ? 0 : t.ptr);
    this.setIds(ids);
    this.t = t;
  }

  private buildWasm(
    w: WasmHandle,
    names: Uint8Array[],
    weights: number[],
    total: number,
  ): Omit<Table, 'buckets' | 'shift'> {
    const x = w.exports as unknown as NginxExports;
    const n = names.length;
    const nameBytes = names.reduce((s, b) => s + b.length, 0);
    const offAt = align16(nameBytes);
    const wAt = offAt + align16((n + 1) * 4);
    const scratchAt = wAt + align16(n * 4);
    const tmp = w.mem.alloc(scratchAt + x.nginxChashScratchBytes(total));
    const out = w.mem.alloc(total * 8, tmp); // frees tmp if memory cannot grow
    const { u8, u32 } = w.mem;
    let o = 0;
    for (let m = 0; m < n; m++) {
      u8.set(names[m]!, tmp + o);
      u32[((tmp + offAt) >>> 2) + m] = o;
      o += names[m]!.length;
      u32[((tmp + wAt) >>> 2) + m] = weights[m]!;
    }
    u32[((tmp + offAt) >>> 2) + n] = o;
    const count = x.nginxChashBuild(tmp, tmp + offAt, tmp + wAt, n, tmp + scratchAt, out, out + total * 4);
    // compact: servers were written after `total` points; move them right after `count` points
    w.mem.u32.copyWithin((out >>> 2) + count, (out >>> 2) + total, (out >>> 2) + total + count);
    w.mem.release(tmp);
    const buf = w.mem.memory.buffer;
    return {
      total: count,
      ptr: out,
      points: new Uint32Array(buf, out, count),
      servers: new Uint32Array(buf, out + count * 4, count),
    };
  }
}

const SERVERS: Names = { list: 'servers', one: 'server', expected: 'an iterable of server names or { id, weight }' };

function parseServer(s: unknown, field: string): [string, number] {
  if (typeof s === 'string') {
    if (s.length === 0) throw rangeError(field, 'a non-empty server name', s);
    return [wellFormedId(field, s), 1];
  }
  if (s === null || typeof s !== 'object') throw typeError(field, 'a server name or { id, weight }', s);
  checkKeys(field, s, MEMBER_KEYS);
  const { id: given, weight } = s as { id: unknown; weight?: unknown };
  const [id] = parseServer(str(`${field}.id`, given), `${field}.id`);
  return [id, weight === undefined ? 1 : intInRange(`${field}.weight`, weight, 1, NGINX_MAX_WEIGHT)];
}

const RULES = {
  ...weightRules(
    parseServer,
    SERVERS,
    (w) => intInRange('weight', w, 1, NGINX_MAX_WEIGHT),
    'a server of this upstream',
  ),
  // declaration order decides which of equal points a server keeps: a reorder is a change
  same: sameInOrder,
};

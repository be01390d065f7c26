// KetamaRing: the ketama consistent-hash continuum (libketama, Richard Jones / last.fm 2007) with named
// compatibility presets, so that a key lands on the same server as in the client or proxy a fleet already
// runs. One implementation; presets differ only in the point labels, the points per server and the key hash.
//
// | compat         | label of digest i                              | digests per server                                  | pts/digest | key hash |
// |----------------|------------------------------------------------|-----------------------------------------------------|-----------|----------|
// | `libketama`    | `<id>-i` (id as given, e.g. `10.0.1.1:11211`)   | floorf(float32(w/W) × 40.0 × n) (double product)     | 4 | md5 |
// | `libmemcached` | `<host>-i`, or `<host>:<port>-i` if port ≠ 11211 | floor(f32(f32(f32(pct×160)/4)×n) + 1e-10f)          | 4 | md5 |
// | `spymemcached` | `/<host>:<port>-i` (libmemcached KETAMA_SPY)    | as libmemcached                                      | 4 | md5 |
// | `twemproxy`    | `<name>-i`; name = node name, else host if port 11211, else host:port | floorf((float)(f32(f32(pct×160)/4)×n) + 1e-10) | 4 | `hash` option |
// | `hashring`     | `<id>-i`, or `<host>-i` if port = `defaultPort` | floor(w/W × vnodeCount × n) in float64, or the server's own `vnodes` | `replicas` | md5 |
//
// w = server weight, W = total weight, n = servers, pct = f32(f32(w)/f32(W)); md5 = digest bytes 0..3
// little-endian. Sources: RJ/ketama libketama/ketama.c; awesomized/libmemcached src/libmemcached/hosts.cc
// (update_continuum); twitter/twemproxy src/hashkit/nc_ketama.c and src/nc_conf.c (conf_add_server);
// 3rd-Eden/node-hashring index.js with connection-parse. Lookup: the first point >= hash(key), wrapping
// to the first point. Equal points keep server order (servers in the order given; `add` appends).
// The float32 rounding is reproduced on purpose: with n = 100 (or 1001) equal libmemcached/twemproxy servers,
// f32(1/n) × 40 × n rounds to 39.999998, so each server gets 156 points, not 160 (checked live against
// twemproxy), and going from 100 to 101 servers moves ~3.7% of keys rather than the ideal 1%.
// Servers whose weight share rounds to zero digests get no points (as upstream); `stats()` shows them.
// twemproxy keys: `hashTag` (nutcracker.yml `hash_tag`) hashes only the text between the first tag[0] and
// the next tag[1] when it is non-empty; an empty key hashes to 0 (server_pool_hash); the other key hashes
// are computed as an x86 build does (signed `char`, see ketama-hash.ts), checked live against nutcracker.
//
// Servers are spelled as upstream spells them (also in docs/compatibility.md); `get` returns the id as given:
//   libketama     '10.0.1.1:11211' or { id: '10.0.1.1:11211', weight: 600 }      (weight = memory)
//   libmemcached  '10.0.1.1' | '10.0.1.1:11212' | '[::1]:11211', { id, weight } (integer weights)
//   twemproxy     '127.0.0.1:11211:1 server1' (a nutcracker.yml `servers:` line), '127.0.0.1:11211',
//                 or { id: '127.0.0.1:11211', weight: 2, name: 'server1' }
//   hashring      '10.0.0.1:11211' | { id, weight, vnodes } (weights may be fractional, in [1e-9, 1e9])
// Two servers of one label would hash the same points (the later owning no key): a RangeError, as in nutcracker.
//
//   const ring = new KetamaRing(['10.0.1.1:11211', '10.0.1.2:11211'], { compat: 'libmemcached' });
//   ring.get('user:42'); // '10.0.1.1:11211' or '10.0.1.2:11211'
import { type Backend, type RingTable } from '../../core/core.js';
import { batchKeys, putKey, putKeyLength } from '../../core/core-wasm.js';
import { HASH_WASM } from '../../core/families.js';
import { buildKetamaJs, buildKetamaWasm, type KetamaSpec } from './build.js';
import { KETAMA_KEY_HASHES, type KetamaKeyHash, keyHashKind, ketamaHashBytes, ketamaHashString } from './key-hash.js';
import { md5Word0String } from './md5.js';
import { utf8 } from '../../core/utf8.js';
import { intInRange, rangeError, str } from '../../util/validate.js';
import type { Key, OrderedKeyRouter, RouterMemberStats, RouterStats } from '../key-router.js';
import { keyError, NO_MEMBER } from '../key-router.js';
import { checkOptions, MutableRouter } from '../base.js';
import { addArcs, checkKeys, distinctFrom, ringOwner, ringPoint } from '../shared.js';
import {
  KETAMA_COMPATS,
  type KetamaCompat,
  type KetamaServer,
  type KetamaServerSpec,
  MEMCACHED_DEFAULT_PORT,
  serverDigests,
  serverRules,
} from './presets.js';

export {
  KETAMA_COMPATS,
  KETAMA_KEY_HASHES,
  MEMCACHED_DEFAULT_PORT,
  type KetamaCompat,
  type KetamaKeyHash,
  type KetamaServer,
};
/** @deprecated the one key type is `Key` (key-router.ts). */
export type KetamaKey = Key;

export interface KetamaOptions {
  /** Whose continuum to reproduce (default 'libketama'). */
  compat?: KetamaCompat;
  /** Key hash, twemproxy only (nutcracker.yml `hash:`, default 'md5'); every other preset hashes keys with md5. */
  hash?: KetamaKeyHash;
  /** twemproxy: its `hash_tag` option, two printable ASCII characters such as '{}' (default none). */
  hashTag?: string;
  /** hashring: its `vnode count` option (default 40). */
  vnodeCount?: number;
  /** hashring: points per digest, its `replicas` option (default 4; python hash_ring compatibility is 3). */
  replicas?: number;
  /** hashring: its `default port` option: a server on this port is labelled by host only (default none). */
  defaultPort?: number | null;
  /** Force a backend for the build; by default the active one. */
  backend?: Backend;
}

export interface KetamaMemberStats extends RouterMemberStats {
  weight: number;
  /** The label the digests are taken of, without the `-i` suffix. */
  label: string;
  points: number;
  /** Fraction of the 32-bit hash space that maps to this member. */
  share: number;
}

export interface KetamaStats extends RouterStats {
  compat: KetamaCompat;
  hash: KetamaKeyHash;
  points: number;
  bytes: number;
  members: KetamaMemberStats[];
}

export interface KetamaLocation {
  /** The key's 32-bit hash. */
  hash: number;
  /** Index of the continuum point the key maps to. */
  index: number;
  /** That point's value. */
  point: number;
  member: string;
}

/** Member indices are 16-bit in the continuum. */
export const KETAMA_MAX_MEMBERS = 65536;
export const KETAMA_MAX_POINTS = 1 << 24;

/**
 * The ketama continuum of a preset; `members` are the server ids in the order given (`add` appends). `add`
 * takes a server already present, spelled as before, as a no-op; `setWeight` keeps a server's place. Servers
 * are spelled per `compat` (docs/compatibility.md, "Server spellings per compat"); no two share a label.
 */
export class KetamaRing extends MutableRouter<KetamaServerSpec[], KetamaServer> implements OrderedKeyRouter {
  readonly compat: KetamaCompat;
  readonly hash: KetamaKeyHash;
  readonly vnodeCount: number;
  readonly replicas: number;
  readonly defaultPort: number | null;
  readonly hashTag: string | null;
  /** keyHashKind(hash). */
  private readonly hashKind: number;
  private readonly md5Wasm: ((ptr: number, len: number) => number) | null;
  private t: RingTable | null = null;
  private shift = 31;

  constructor(servers: Iterable<KetamaServer> = [], options: KetamaOptions = {}) {
    const o = settings(checkOptions(options, OPTIONS));
    super(options, HASH_WASM, serverRules(o.compat, o.defaultPort), servers);
    this.compat = o.compat;
    this.hash = o.hash;
    this.hashKind = keyHashKind(o.hash);
    this.hashTag = o.hashTag;
    this.vnodeCount = o.vnodeCount;
    this.replicas = o.replicas;
    this.defaultPort = o.defaultPort;
    this.md5Wasm = this.wasm === null ? null : (this.wasm.exports.md5Word0 as (ptr: number, len: number) => number);
    this.rebuild();
  }

  /** The key's 32-bit hash (md5 word 0, or the twemproxy `hash`). */
  hashOf(key: Key): number {
    if (typeof key !== 'string' && !(key instanceof Uint8Array)) throw keyError(key);
    if (this.compat !== 'twemproxy') return this.rawHash(key);
    const k = this.tagged(key);
    return k.length === 0 ? 0 : this.rawHash(k); // twemproxy server_pool_hash: an empty key hashes to 0
  }

  /** twemproxy `hash_tag`: the part between the first tag[0] and the next tag[1], if non-empty. */
  private tagged(key: Key): Key {
    const tag = this.hashTag;
    if (tag === null || (typeof key !== 'string' && !(key instanceof Uint8Array))) return key;
    const a = typeof key === 'string' ? key.indexOf(tag[0]!) : key.indexOf(tag.charCodeAt(0));
    if (a < 0) return key;
    const b = typeof key === 'string' ? key.indexOf(tag[1]!, a + 1) : key.indexOf(tag.charCodeAt(1), a + 1);
    return b - a > 1 ? (typeof key === 'string' ? key.slice(a + 1, b) : key.subarray(a + 1, b)) : key;
  }

  private rawHash(key: Key): number {
    const w = this.wasm;
    if (typeof key === 'string') {
      if (this.hashKind !== 0) return ketamaHashString(this.hashKind, key);
      // md5: copying the key into WASM memory and hashing there measured ~15% faster than TS md5 even for
      // short keys (bench/ketama.bench.ts); the cheap twemproxy hashes stay in TS (the copy would dominate)
      if (w === null) return md5Word0String(key);
      const p = putKey(w, key);
      return this.md5Wasm!(p, putKeyLength()) >>> 0;
    }
    if (key instanceof Uint8Array) {
      if (this.hashKind !== 0 || w === null || key.length < 16) return ketamaHashBytes(this.hashKind, key, key.length);
      return this.md5Wasm!(putKey(w, key), key.length) >>> 0;
    }
    throw keyError(key);
  }

  /** The member that owns `key`, or undefined if the ring has no points. */
  get(key: Key): string | undefined {
    const h = this.hashOf(key);
    const t = this.t;
    return t === null ? undefined : this.ids[ringOwner(t, this.shift, h)];
  }

  /** Index into `members` of the owner of `key`, or -1. */
  getIndex(key: Key): number {
    const h = this.hashOf(key);
    const t = this.t;
    return t === null ? -1 : ringOwner(t, this.shift, h);
  }

  protected override indexMany(keys: readonly Key[]): Uint32Array {
    return this.getManyIndex(keys);
  }

  /**
   * Member indices for many keys (NO_MEMBER when the ring has no points). With the WASM backend, keys are
   * copied into linear memory and hashed + looked up in one core call per chunk (bench/ketama.bench.ts).
   */
  getManyIndex(keys: readonly Key[]): Uint32Array {
    checkKeys(keys);
    const out = new Uint32Array(keys.length);
    const t = this.t;
    if (t === null) return out.fill(NO_MEMBER);
    const handle = t.mem !== null ? this.wasm : null;
    if (handle === null) {
      for (let i = 0; i < keys.length; i++) out[i] = ringOwner(t, this.shift, this.hashOf(keys[i]!));
      return out;
    }
    const lookup = handle.exports.ketamaLookupManyBytes as (...a: number[]) => void;
    const twem = this.compat === 'twemproxy';
    const kind = twem ? this.hashKind | 256 : this.hashKind;
    batchKeys(handle, twem ? keys.map((k) => this.tagged(k)) : keys, out, (b, o, c, r) =>
      lookup(t.pointsPtr, t.membersPtr, t.tablePtr, t.total, t.bits, kind, b, o, c, r),
    );
    return out;
  }

  /** The member of the first point >= hash (an unsigned 32-bit integer), wrapping to the first point. */
  getByHash(hash: number): string | undefined {
    const h = intInRange('hash', hash, 0, 0xffffffff);
    const t = this.t;
    return t === null ? undefined : this.ids[ringOwner(t, this.shift, h)];
  }

  /** Hash, continuum point and member for a key (what libketama's test output and libmemcached's fixtures list). */
  locate(key: Key): KetamaLocation | undefined {
    const h = this.hashOf(key);
    const t = this.t;
    if (t === null) return undefined;
    const index = ringPoint(t, this.shift, h);
    return { hash: h, index, point: t.points[index]!, member: this.ids[t.members[index]!]! };
  }

  /** Up to n distinct members in continuum order from the key's owner: replicas and failover order. */
  preference(key: Key, n: number): string[] {
    const h = this.hashOf(key);
    intInRange('n', n, 0, Number.MAX_SAFE_INTEGER);
    const t = this.t;
    if (t === null) return [];
    const start = ringPoint(t, this.shift, h); // syncs t's views: read t.members after it
    return distinctFrom(t.members, start, this.ids, n);
  }

  stats(): KetamaStats {
    const members: KetamaMemberStats[] = this.membership.map((s) => ({
      id: s.id,
      weight: s.weight,
      label: s.label,
      points: 0,
      share: 0,
    }));
    const t = this.t;
    if (t !== null) {
      t.sync();
      addArcs(t.points, t.members, members);
    }
    return {
      backend: this.kind,
      compat: this.compat,
      hash: this.hash,
      points: t === null ? 0 : t.total,
      bytes: t === null ? 0 : t.byteLength,
      members,
    };
  }

  /** The sorted continuum: point values and the member index of each (copies). */
  continuum(): { points: Uint32Array; members: Uint16Array } {
    const t = this.t;
    if (t === null) return { points: new Uint32Array(0), members: new Uint16Array(0) };
    t.sync();
    return { points: t.points.slice(), members: t.members.slice() };
  }

  protected rebuild(): void {
    const list = this.membership;
    if (list.length > KETAMA_MAX_MEMBERS)
      throw rangeError('servers.length', `at most ${KETAMA_MAX_MEMBERS}`, list.length);
    const digests = serverDigests(list, this.compat, this.vnodeCount);
    const perDigest = this.compat === 'hashring' ? this.replicas : 4;
    let total = 0;
    for (const d of digests) total += d * perDigest;
    if (total > KETAMA_MAX_POINTS) throw rangeError('total points', `at most ${KETAMA_MAX_POINTS}`, total);
    let t: RingTable | null = null;
    if (total > 0) {
      const spec: KetamaSpec = { prefixes: list.map((s) => utf8(`${s.label}-`)), digests, perDigest };
      t = this.wasm === null ? buildKetamaJs(spec) : buildKetamaWasm(this.wasm, spec);
    }
    this.region.replace(t === null ? null : t.mem, t === null ? 0 : t.ptr);
    this.t = t;
    this.shift = t === null ? 31 : 32 - t.bits;
    this.setIds(list.map((s) => s.id));
  }
}

const OPTIONS = ['compat', 'hash', 'hashTag', 'vnodeCount', 'replicas', 'defaultPort', 'backend'];

/** The options of a KetamaRing, validated (each preset takes only its own). */
function settings(options: KetamaOptions) {
  const compat = options.compat === undefined ? 'libketama' : str('compat', options.compat);
  if (!(KETAMA_COMPATS as readonly string[]).includes(compat))
    throw rangeError('compat', KETAMA_COMPATS.map((c) => `'${c}'`).join(', '), compat);
  const hash = options.hash === undefined ? 'md5' : str('hash', options.hash);
  if (!(KETAMA_KEY_HASHES as readonly string[]).includes(hash))
    throw rangeError('hash', KETAMA_KEY_HASHES.map((c) => `'${c}'`).join(', '), hash);
  if (hash !== 'md5' && compat !== 'twemproxy')
    throw rangeError('hash', `'md5' for compat '${compat}' (only twemproxy selects a key hash)`, hash);
  if (options.hashTag !== undefined && compat !== 'twemproxy')
    throw rangeError('options.hashTag', `unset for compat '${compat}' (a twemproxy option)`, options.hashTag);
  if (options.hashTag !== undefined && (str('hashTag', options.hashTag).length !== 2 || /[^ -~]/.test(options.hashTag)))
    throw rangeError('hashTag', "two printable ASCII characters, e.g. '{}'", options.hashTag);
  if (compat !== 'hashring') {
    for (const k of ['vnodeCount', 'replicas', 'defaultPort'] as const) {
      if (options[k] !== undefined)
        throw rangeError(`options.${k}`, `unset for compat '${compat}' (a hashring option)`, options[k]);
    }
  }
  return {
    compat: compat as KetamaCompat,
    hash: hash as KetamaKeyHash,
    hashTag: options.hashTag ?? null,
    vnodeCount: options.vnodeCount === undefined ? 40 : intInRange('vnodeCount', options.vnodeCount, 1, 1 << 20),
    replicas: options.replicas === undefined ? 4 : intInRange('replicas', options.replicas, 1, 4),
    defaultPort:
      options.defaultPort === undefined || options.defaultPort === null
        ? null
        : intInRange('defaultPort', options.defaultPort, 0, 65535),
  };
}

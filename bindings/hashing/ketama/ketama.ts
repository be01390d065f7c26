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
// Servers are spelled as upstream spells them; `get` returns the id exactly as given:
//   libketama     '10.0.1.1:11211' or { id: '10.0.1.1:11211', weight: 600 }      (weight = memory)
//   libmemcached  '10.0.1.1' | '10.0.1.1:11212' | '[::1]:11211', { id, weight } (integer weights)
//   twemproxy     '127.0.0.1:11211:1 server1' (a nutcracker.yml `servers:` line), '127.0.0.1:11211',
//                 or { id: '127.0.0.1:11211', weight: 2, name: 'server1' }
//   hashring      '10.0.0.1:11211' | { id, weight, vnodes } (weights may be fractional)
//
//   const ring = new KetamaRing(['10.0.1.1:11211', '10.0.1.2:11211'], { compat: 'libmemcached' });
//   ring.get('user:42'); // '10.0.1.1:11211' or '10.0.1.2:11211'
import { getCore, wasmHandle } from '../../core/backend.js';
import { type Backend, type RingTable, align16, ringIndex } from '../../core/core.js';
import type { WasmHandle } from '../../core/core-wasm.js';
import { buildKetamaJs, buildKetamaWasm, type KetamaSpec } from './build.js';
import { KETAMA_KEY_HASHES, type KetamaKeyHash, keyHashKind, ketamaHashBytes, ketamaHashString } from './key-hash.js';
import { md5Word0String } from './md5.js';
import { utf8 } from '../../core/utf8.js';
import { intInRange, positive, rangeError, typeError } from '../../util/validate.js';

export { KETAMA_KEY_HASHES, type KetamaKeyHash };

export const KETAMA_COMPATS = ['libketama', 'libmemcached', 'spymemcached', 'twemproxy', 'hashring'] as const;
export type KetamaCompat = (typeof KETAMA_COMPATS)[number];

export type KetamaServer = string | { id: string; weight?: number; name?: string; vnodes?: number };
export type KetamaKey = string | Uint8Array;

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

export interface KetamaMemberStats {
  id: string;
  weight: number;
  /** The label the digests are taken of, without the `-i` suffix. */
  label: string;
  points: number;
  /** Fraction of the 32-bit hash space that maps to this member. */
  share: number;
}

export interface KetamaStats {
  backend: Backend;
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

/** libmemcached and twemproxy leave the port out of labels when it is memcached's default. */
export const MEMCACHED_DEFAULT_PORT = 11211;
/** Member indices are 16-bit in the continuum. */
export const KETAMA_MAX_MEMBERS = 65536;
export const KETAMA_MAX_POINTS = 1 << 24;
const MAX_INT_WEIGHT = 0x7fffffff;
/** Returned in index arrays for keys looked up on a ring without points. */
export const NO_MEMBER = 0xffffffff;
/** Keys per WASM call in getManyIndex: bounds the I/O scratch. */
const BATCH_KEYS = 4096;
const encoder = new TextEncoder();

interface Server {
  id: string;
  weight: number;
  label: string;
  /** hashring per-server vnodes, 0 if unset. */
  vnodes: number;
}

const registry = new FinalizationRegistry<{ free: () => void }>((h) => h.free());

export class KetamaRing {
  readonly compat: KetamaCompat;
  readonly hash: KetamaKeyHash;
  readonly vnodeCount: number;
  readonly replicas: number;
  readonly defaultPort: number | null;
  readonly hashTag: string | null;
  private readonly kind: number;
  private readonly useWasm: boolean;
  private readonly wasm: WasmHandle | null;
  private readonly md5Wasm: ((ptr: number, len: number) => number) | null;
  private servers: Server[] = [];
  private ids: string[] = [];
  private t: RingTable | null = null;
  private shift = 31;
  private readonly holder = { free: () => {} };

  constructor(servers: Iterable<KetamaServer> = [], options: KetamaOptions = {}) {
    if (options === null || typeof options !== 'object') throw typeError('options', 'an object', options);
    const compat = options.compat ?? 'libketama';
    if (!(KETAMA_COMPATS as readonly string[]).includes(compat))
      throw rangeError('compat', KETAMA_COMPATS.map((c) => `'${c}'`).join(', '), compat);
    this.compat = compat;
    const hash = options.hash ?? 'md5';
    if (!(KETAMA_KEY_HASHES as readonly string[]).includes(hash))
      throw rangeError('hash', KETAMA_KEY_HASHES.map((c) => `'${c}'`).join(', '), hash);
    if (hash !== 'md5' && compat !== 'twemproxy')
      throw rangeError('hash', `'md5' for compat '${compat}' (only twemproxy selects a key hash)`, hash);
    this.hash = hash;
    this.kind = keyHashKind(hash);
    if (options.hashTag !== undefined && compat !== 'twemproxy')
      throw rangeError('options.hashTag', `unset for compat '${compat}' (a twemproxy option)`, options.hashTag);
    if (
      options.hashTag !== undefined &&
      (typeof options.hashTag !== 'string' || options.hashTag.length !== 2 || /[^ -~]/.test(options.hashTag))
    ) {
      throw rangeError('hashTag', "two printable ASCII characters, e.g. '{}'", options.hashTag);
    }
    this.hashTag = options.hashTag ?? null;
    if (compat !== 'hashring') {
      for (const k of ['vnodeCount', 'replicas', 'defaultPort'] as const) {
        if (options[k] !== undefined)
          throw rangeError(`options.${k}`, `unset for compat '${compat}' (a hashring option)`, options[k]);
      }
    }
    this.vnodeCount = options.vnodeCount === undefined ? 40 : intInRange('vnodeCount', options.vnodeCount, 1, 1 << 20);
    this.replicas = options.replicas === undefined ? 4 : intInRange('replicas', options.replicas, 1, 4);
    this.defaultPort =
      options.defaultPort === undefined || options.defaultPort === null
        ? null
        : intInRange('defaultPort', options.defaultPort, 0, 65535);
    if (options.backend !== undefined && options.backend !== 'wasm' && options.backend !== 'js') {
      throw rangeError('backend', "'wasm' or 'js'", options.backend);
    }
    this.useWasm = getCore(options.backend).kind === 'wasm';
    this.wasm = this.useWasm ? wasmHandle() : null;
    this.md5Wasm = this.wasm === null ? null : (this.wasm.exports.md5Word0 as (ptr: number, len: number) => number);
    registry.register(this, this.holder, this.holder);
    if (
      servers === null ||
      typeof servers === 'string' ||
      typeof (servers as Iterable<KetamaServer>)[Symbol.iterator] !== 'function'
    ) {
      throw typeError('servers', 'an iterable of server strings or { id, weight }', servers);
    }
    const list: Server[] = [];
    let i = 0;
    for (const s of servers) list.push(this.parse(s, `servers[${i++}]`));
    this.commit(list);
  }

  /** Member ids in server order (the order given; `add` appends). */
  get members(): readonly string[] {
    return this.ids;
  }

  get size(): number {
    return this.ids.length;
  }

  get backend(): Backend {
    return this.useWasm ? 'wasm' : 'js';
  }

  weight(id: string): number | undefined {
    return this.servers.find((s) => s.id === id)?.weight;
  }

  /** The key's 32-bit hash (md5 word 0, or the twemproxy `hash`). */
  hashOf(key: KetamaKey): number {
    if (typeof key !== 'string' && !(key instanceof Uint8Array))
      throw typeError('key', 'a string or a Uint8Array', key);
    if (this.compat !== 'twemproxy') return this.rawHash(key);
    const k = this.tagged(key);
    return k.length === 0 ? 0 : this.rawHash(k); // twemproxy server_pool_hash: an empty key hashes to 0
  }

  /** twemproxy `hash_tag`: the part between the first tag[0] and the next tag[1], if non-empty. */
  private tagged(key: KetamaKey): KetamaKey {
    const tag = this.hashTag;
    if (tag === null || (typeof key !== 'string' && !(key instanceof Uint8Array))) return key;
    const a = typeof key === 'string' ? key.indexOf(tag[0]!) : key.indexOf(tag.charCodeAt(0));
    if (a < 0) return key;
    const b = typeof key === 'string' ? key.indexOf(tag[1]!, a + 1) : key.indexOf(tag.charCodeAt(1), a + 1);
    return b - a > 1 ? (typeof key === 'string' ? key.slice(a + 1, b) : key.subarray(a + 1, b)) : key;
  }

  private rawHash(key: KetamaKey): number {
    const w = this.wasm;
    if (typeof key === 'string') {
      if (this.kind !== 0) return ketamaHashString(this.kind, key);
      // md5: copying the key into WASM memory and hashing there measured ~15% faster than TS md5 even for
      // short keys (bench/ketama.bench.ts); the cheap twemproxy hashes stay in TS (the copy would dominate)
      if (w === null) return md5Word0String(key);
      const n = key.length;
      const p = w.io(n * 3);
      const u8 = w.mem.u8;
      let i = 0;
      for (; i < n; i++) {
        const c = key.charCodeAt(i);
        if (c > 127) break;
        u8[p + i] = c;
      }
      if (i < n) i += encoder.encodeInto(key.slice(i), u8.subarray(p + i, p + n * 3)).written;
      return this.md5Wasm!(p, i) >>> 0;
    }
    if (key instanceof Uint8Array) {
      if (this.kind !== 0 || w === null || key.length < 16) return ketamaHashBytes(this.kind, key, key.length);
      const p = w.io(key.length);
      w.mem.u8.set(key, p);
      return this.md5Wasm!(p, key.length) >>> 0;
    }
    throw typeError('key', 'a string or a Uint8Array', key);
  }

  /** The member that owns `key`, or undefined if the ring has no points. */
  get(key: KetamaKey): string | undefined {
    const h = this.hashOf(key);
    const t = this.t;
    if (t === null) return undefined;
    t.sync();
    return this.ids[t.members[ringIndex(t.points, t.table, this.shift, t.total, h)]!];
  }

  /** Index into `members` of the owner of `key`, or -1. */
  getIndex(key: KetamaKey): number {
    const h = this.hashOf(key);
    const t = this.t;
    if (t === null) return -1;
    t.sync();
    return t.members[ringIndex(t.points, t.table, this.shift, t.total, h)]!;
  }

  getMany(keys: readonly KetamaKey[]): (string | undefined)[] {
    const idx = this.getManyIndex(keys);
    const out = new Array<string | undefined>(keys.length);
    for (let i = 0; i < keys.length; i++) out[i] = idx[i] === NO_MEMBER ? undefined : this.ids[idx[i]!];
    return out;
  }

  /**
   * Member indices for many keys (NO_MEMBER when the ring has no points). With the WASM backend, keys are
   * copied into linear memory and hashed + looked up in one core call per chunk (bench/ketama.bench.ts).
   */
  getManyIndex(keys: readonly KetamaKey[]): Uint32Array {
    if (!Array.isArray(keys)) throw typeError('keys', 'an array of strings or Uint8Arrays', keys);
    const out = new Uint32Array(keys.length);
    const t = this.t;
    if (t === null) return out.fill(NO_MEMBER);
    const handle = this.useWasm && t.mem !== null ? wasmHandle() : null;
    if (handle === null) {
      t.sync();
      for (let i = 0; i < keys.length; i++)
        out[i] = t.members[ringIndex(t.points, t.table, this.shift, t.total, this.hashOf(keys[i]!))]!;
      return out;
    }
    const lookup = handle.exports.ketamaLookupManyBytes as (...a: number[]) => void;
    const twem = this.compat === 'twemproxy';
    const kind = twem ? this.kind | 256 : this.kind;
    for (let start = 0; start < keys.length; start += BATCH_KEYS) {
      const end = Math.min(keys.length, start + BATCH_KEYS);
      const count = end - start;
      let maxBytes = 0;
      for (let i = start; i < end; i++) {
        const k = keys[i];
        if (typeof k === 'string') maxBytes += k.length * 3;
        else if (k instanceof Uint8Array) maxBytes += k.length;
        else throw typeError(`keys[${i}]`, 'a string or a Uint8Array', k);
      }
      const offPtr = align16(maxBytes);
      const outPtr = offPtr + align16((count + 1) * 4);
      const p = handle.io(outPtr + count * 4);
      const { u8, u32 } = handle.mem; // current after io()
      let o = 0;
      for (let i = 0; i < count; i++) {
        u32[((p + offPtr) >>> 2) + i] = o;
        const k = twem ? this.tagged(keys[start + i]!) : keys[start + i]!;
        if (typeof k === 'string') {
          const n = k.length;
          let j = 0;
          for (; j < n; j++) {
            const c = k.charCodeAt(j);
            if (c > 127) break;
            u8[p + o + j] = c;
          }
          o += j === n ? n : j + encoder.encodeInto(k.slice(j), u8.subarray(p + o + j, p + offPtr)).written;
        } else {
          u8.set(k, p + o);
          o += k.length;
        }
      }
      u32[((p + offPtr) >>> 2) + count] = o;
      lookup(t.pointsPtr, t.membersPtr, t.tablePtr, t.total, t.bits, kind, p, p + offPtr, count, p + outPtr);
      out.set(handle.mem.u32.subarray((p + outPtr) >>> 2, ((p + outPtr) >>> 2) + count), start);
    }
    return out;
  }

  /** The member of the first point >= hash (an unsigned 32-bit integer), wrapping to the first point. */
  getByHash(hash: number): string | undefined {
    const h = intInRange('hash', hash, 0, 0xffffffff);
    const t = this.t;
    if (t === null) return undefined;
    t.sync();
    return this.ids[t.members[ringIndex(t.points, t.table, this.shift, t.total, h)]!];
  }

  /** Hash, continuum point and member for a key (what libketama's test output and libmemcached's fixtures list). */
  locate(key: KetamaKey): KetamaLocation | undefined {
    const h = this.hashOf(key);
    const t = this.t;
    if (t === null) return undefined;
    t.sync();
    const index = ringIndex(t.points, t.table, this.shift, t.total, h);
    return { hash: h, index, point: t.points[index]!, member: this.ids[t.members[index]!]! };
  }

  /** Up to n distinct members in continuum order from the key's owner: replicas and failover order. */
  preference(key: KetamaKey, n: number): string[] {
    const h = this.hashOf(key);
    intInRange('n', n, 0, Number.MAX_SAFE_INTEGER);
    const t = this.t;
    const out: string[] = [];
    if (t === null) return out;
    t.sync();
    const want = Math.min(n, this.ids.length);
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

  /** Appends servers; true if the ring changed. An id already present with the same spelling is a no-op. */
  add(servers: KetamaServer | readonly KetamaServer[]): boolean {
    const list = Array.isArray(servers) ? servers : [servers as KetamaServer];
    const next = [...this.servers];
    let changed = false;
    list.forEach((s, i) => {
      const p = this.parse(s, Array.isArray(servers) ? `servers[${i}]` : 'server');
      const old = next.find((o) => o.id === p.id);
      if (old !== undefined) {
        if (old.weight === p.weight && old.label === p.label && old.vnodes === p.vnodes) return;
        throw rangeError(
          `server ${JSON.stringify(p.id)}`,
          'absent, or given as before (remove it first to change it)',
          s,
        );
      }
      next.push(p);
      changed = true;
    });
    if (changed) this.commit(next);
    return changed;
  }

  /** Removes servers by id; true if any was present. */
  remove(ids: string | readonly string[]): boolean {
    const list = typeof ids === 'string' ? [ids] : ids;
    for (const id of list) if (typeof id !== 'string') throw typeError('id', 'a string', id);
    const next = this.servers.filter((s) => !list.includes(s.id));
    if (next.length === this.servers.length) return false;
    this.commit(next);
    return true;
  }

  stats(): KetamaStats {
    const members: KetamaMemberStats[] = this.servers.map((s) => ({
      id: s.id,
      weight: s.weight,
      label: s.label,
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
      backend: this.backend,
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

  /** Frees the continuum's WebAssembly memory now (otherwise when the ring is collected). */
  dispose(): void {
    registry.unregister(this.holder);
    this.holder.free();
    this.holder.free = () => {};
    this.t = null;
    this.servers = [];
    this.ids = [];
  }

  /** Digests per server for the preset (the float rounding of each upstream, reproduced step by step). */
  private digests(list: readonly Server[]): number[] {
    const n = list.length;
    let total = 0;
    for (const s of list) total += s.weight;
    const f = Math.fround;
    switch (this.compat) {
      case 'libketama':
        // float pct = (float)mem / (float)total; floorf(pct * 40.0 * (float)n): double product, float argument
        return list.map((s) => Math.floor(f(f(f(s.weight) / f(total)) * 40.0 * n)));
      case 'libmemcached':
      case 'spymemcached':
        // floor((float)(pct * 160 / 4 * (float)n + 0.0000000001F)) * 4, all in float
        return list.map((s) => {
          const pct = f(f(s.weight) / f(total));
          return Math.floor(f(f(f(f(pct * 160) / 4) * n) + f(1e-10)));
        });
      case 'twemproxy':
        // floorf((float)(pct * 160 / 4 * (float)n + 0.0000000001)): float product, double sum, float cast
        return list.map((s) => {
          const pct = f(f(s.weight) / f(total));
          return Math.floor(f(f(f(f(pct * 160) / 4) * n) + 1e-10));
        });
      case 'hashring':
        return list.map((s) => {
          const vnodes = s.vnodes || this.vnodeCount;
          return vnodes !== this.vnodeCount ? vnodes : Math.floor((s.weight / total) * this.vnodeCount * n);
        });
    }
  }

  private commit(list: Server[]): void {
    if (list.length > KETAMA_MAX_MEMBERS)
      throw rangeError('servers.length', `at most ${KETAMA_MAX_MEMBERS}`, list.length);
    const seen = new Set<string>();
    for (const s of list) {
      if (seen.has(s.id)) throw rangeError('server id', 'unique', s.id);
      seen.add(s.id);
    }
    const digests = this.digests(list);
    const perDigest = this.compat === 'hashring' ? this.replicas : 4;
    let total = 0;
    for (const d of digests) total += d * perDigest;
    if (total > KETAMA_MAX_POINTS) throw rangeError('total points', `at most ${KETAMA_MAX_POINTS}`, total);
    let t: RingTable | null = null;
    let free = () => {};
    if (total > 0) {
      const spec: KetamaSpec = { prefixes: list.map((s) => utf8(`${s.label}-`)), digests, perDigest };
      const handle = this.useWasm ? wasmHandle() : null;
      if (handle !== null) {
        const built = buildKetamaWasm(handle, spec);
        t = built;
        free = () => handle.mem.release(built.ptr);
      } else t = buildKetamaJs(spec);
    }
    this.holder.free();
    this.holder.free = free;
    this.t = t;
    this.shift = t === null ? 31 : 32 - t.bits;
    this.servers = list;
    this.ids = list.map((s) => s.id);
  }

  private parse(s: unknown, field: string): Server {
    let id: string;
    let weight: number | undefined;
    let name: string | undefined;
    let vnodes = 0;
    if (typeof s === 'string') id = s;
    else if (s !== null && typeof s === 'object') {
      const o = s as { id?: unknown; weight?: unknown; name?: unknown; vnodes?: unknown };
      if (typeof o.id !== 'string') throw typeError(`${field}.id`, 'a string', o.id);
      id = o.id;
      if (o.weight !== undefined) {
        if (this.compat === 'hashring') weight = positive(`${field}.weight`, o.weight);
        else weight = intInRange(`${field}.weight`, o.weight, 1, MAX_INT_WEIGHT);
      }
      if (o.name !== undefined) {
        if (this.compat !== 'twemproxy')
          throw rangeError(`${field}.name`, `unset for compat '${this.compat}' (a twemproxy node name)`, o.name);
        if (typeof o.name !== 'string' || o.name.length === 0 || /\s/.test(o.name))
          throw typeError(`${field}.name`, 'a non-empty string without spaces', o.name);
        name = o.name;
      }
      if (o.vnodes !== undefined) {
        if (this.compat !== 'hashring')
          throw rangeError(`${field}.vnodes`, `unset for compat '${this.compat}' (a hashring option)`, o.vnodes);
        vnodes = intInRange(`${field}.vnodes`, o.vnodes, 1, 1 << 20);
      }
    } else throw typeError(field, 'a server string or { id, weight }', s);
    const idField = typeof s === 'string' ? field : `${field}.id`;
    if (id.length === 0) throw rangeError(idField, 'a non-empty server id', id);
    switch (this.compat) {
      case 'libketama':
        if (/\s/.test(id)) throw rangeError(idField, "an address without whitespace, e.g. '10.0.1.1:11211'", id);
        return { id, weight: weight ?? 1, label: id, vnodes };
      case 'libmemcached':
      case 'spymemcached': {
        const [host, port] = hostPort(id, idField, MEMCACHED_DEFAULT_PORT);
        const label =
          this.compat === 'spymemcached'
            ? `/${host}:${port}`
            : port === MEMCACHED_DEFAULT_PORT
              ? host
              : `${host}:${port}`;
        return { id, weight: weight ?? 1, label, vnodes };
      }
      case 'twemproxy': {
        // a nutcracker.yml servers line: "host:port:weight [name]"
        const line = /^(\S+):(\d+):(\d+)(?: (\S+))?$/.exec(id);
        let host: string;
        let port: number;
        if (line !== null) {
          if (weight !== undefined)
            throw rangeError(`${field}.weight`, 'unset when the id carries a weight (host:port:weight)', weight);
          if (name !== undefined && line[4] !== undefined)
            throw rangeError(`${field}.name`, 'unset when the id carries a name', name);
          host = line[1]!;
          port = intInRange(`${idField} port`, Number(line[2]), 1, 65535);
          weight = intInRange(`${idField} weight`, Number(line[3]), 1, MAX_INT_WEIGHT);
          name ??= line[4];
        } else {
          [host, port] = hostPort(id, idField, null);
        }
        return {
          id,
          weight: weight ?? 1,
          label: name ?? (port === MEMCACHED_DEFAULT_PORT ? host : `${host}:${port}`),
          vnodes,
        };
      }
      case 'hashring': {
        // connection-parse: host = text before the first ':', port = +(text after it)
        const parts = id.split(':');
        const port = Number(parts[1]);
        const label = this.defaultPort !== null && port === this.defaultPort ? parts[0]! : id;
        return { id, weight: weight ?? 1, label, vnodes };
      }
    }
  }
}

/** 'host', 'host:port' or '[v6]:port' -> [host, port]; port falls back to `dflt` (an error if null). */
function hostPort(id: string, field: string, dflt: number | null): [string, number] {
  let host: string;
  let portText: string | undefined;
  const v6 = /^\[([^\]]+)\](?::(.*))?$/.exec(id);
  if (v6 !== null) {
    host = v6[1]!;
    portText = v6[2];
  } else {
    const i = id.lastIndexOf(':');
    if (i >= 0 && id.indexOf(':') !== i) throw rangeError(field, "'host', 'host:port' or '[ipv6]:port'", id);
    host = i < 0 ? id : id.slice(0, i);
    portText = i < 0 ? undefined : id.slice(i + 1);
  }
  if (host.length === 0 || /\s/.test(host))
    throw rangeError(field, "'host', 'host:port' or '[ipv6]:port' with a non-empty host", id);
  if (portText === undefined) {
    if (dflt === null) throw rangeError(field, "'host:port' or 'host:port:weight [name]'", id);
    return [host, dflt];
  }
  if (!/^\d{1,5}$/.test(portText) || Number(portText) < 1 || Number(portText) > 65535)
    throw rangeError(`${field} port`, 'an integer in [1, 65535]', portText);
  return [host, Number(portText)];
}

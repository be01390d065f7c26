// Rendezvous hashing, or highest random weight (David Thaler and Chinya Ravishankar, "Using name-based
// mappings to increase hit rates", IEEE/ACM Transactions on Networking 6(1), 1998): every member scores
// the key and the highest score wins, so removing a member moves only its keys and adding one takes only
// the keys it now wins (about w/(W + w) of them). Weights use the logarithmic method (Christian
// Schindelhauer and Gunnar Schomaker, "Weighted distributed hash tables", SPAA 2005): score = -w / ln(u)
// with u uniform in (0, 1), which gives each member a share of keys exactly proportional to its weight.
// Weights lie in [1e-9, 1e9] (membership.ts): far outside, -w / ln(u) overflows to Infinity or underflows
// to 0 for many keys, whose scores then tie and go to the smaller id.
//
// The per-(key, member) hash, exactly (assembly/rendezvous.ts is the WASM twin, bit for bit):
//   k = xxh64(UTF-8 key, seed 0); s_i = xxh64(UTF-8 id_i, seed 0)
//   h = avalanche(k ^ s_i), xxh64's final avalanche: h ^= h >> 33; h *= P2; h ^= h >> 29; h *= P3; h ^= h >> 32
//   x = h >> 12 (top 52 bits); u = (2x + 1) / 2^53, strictly inside (0, 1)
//   score_i = -w_i / ln(u), ln from fdlibm's log polynomial with only + - * / (identical in JS and WASM);
//   when all weights are equal, score_i = x (the same order, without a logarithm).
// Highest score wins; equal scores go to the smaller id. Members are kept in ascending id order.
//
//   const r = new Rendezvous(['a', { id: 'b', weight: 2 }]);
//   r.get('user:42'); r.preference('user:42', 2); // owner, then the failover
//
// Paths (bench/jump-nginx.bench.ts): with the WASM backend a lookup copies the key into linear memory and
// hashes and scores there (native i64 beats 32-bit-half emulation from 10 members up); the TS backend
// does the same on 32-bit halves.
import type { Backend } from '../core/core.js';
import { batchBytes } from '../core/core-wasm.js';
import { HASH_WASM } from '../core/families.js';
import { align16 } from '../core/memory.js';
import { utf8 } from '../core/utf8.js';
import type { Key, MemberInput, OrderedKeyRouter, RouterMemberStats, RouterStats } from './key-router.js';
import { NO_MEMBER } from './key-router.js';
import { BACKEND_ONLY, checkOptions, MutableRouter } from './base.js';
import { MEMBER_RULES, type Weights } from './membership.js';
import { checkOffsets, keyBytes, packKeys } from './shared.js';
import { intInRange, rangeError } from '../util/validate.js';
import { mul64, xxh64Hi, xxh64Pair } from '../core/xxhash.js';

/** @deprecated the one sentinel is `NO_MEMBER` (key-router.ts). */
export const RENDEZVOUS_NO_MEMBER = NO_MEMBER;
export const RENDEZVOUS_MAX_MEMBERS = 1 << 20;

export interface RendezvousOptions {
  /** Force a backend for this instance; by default the active one (`backend()`). */
  backend?: Backend;
}

export interface RendezvousMemberStats extends RouterMemberStats {
  weight: number;
  /** Expected fraction of keys: weight / total weight. */
  share: number;
}

export interface RendezvousStats extends RouterStats {
  uniform: boolean;
  bytes: number;
  members: RendezvousMemberStats[];
}

interface RendezvousExports {
  rendezvousPickBytes(ptr: number, len: number, seeds: number, weights: number, n: number, uniform: number): number;
  rendezvousPickManyBytes(
    bytes: number,
    offsets: number,
    count: number,
    seeds: number,
    weights: number,
    n: number,
    uniform: number,
    out: number,
  ): void;
  rendezvousScoresBytes(
    ptr: number,
    len: number,
    seeds: number,
    weights: number,
    n: number,
    uniform: number,
    out: number,
  ): void;
}

// ---- the pure-TS twin ----

const P2H = 0xc2b2ae3d;
const P2L = 0x27d4eb4f;
const P3H = 0x165667b1;
const P3L = 0x9e3779f9;
const LN2_HI = 6.9314718036912381649e-1;
const LN2_LO = 1.90821492927058770002e-10;
const SQRT2 = 1.4142135623730951;
const LG1 = 6.66666666666673513e-1;
const LG2 = 3.999999999940941908e-1;
const LG3 = 2.857142874366239149e-1;
const LG4 = 2.222219843214978396e-1;
const LG5 = 1.818357216161805012e-1;
const LG6 = 1.531383769920937332e-1;
const LG7 = 1.479819860511658591e-1;
const POW2_NEG = Float64Array.from({ length: 64 }, (_, k) => 2 ** -k);

/** ln((2x + 1) / 2^53) for x = xHi * 2^32 + xLo < 2^52; twin of lnUnit in assembly/rendezvous.ts. */
export function lnUnit(xHi: number, xLo: number): number {
  const y = (xHi * 4294967296 + xLo) * 2 + 1;
  const yHigh = xHi * 2 + (xLo >>> 31);
  let k = yHigh !== 0 ? 63 - Math.clz32(yHigh) : 31 - Math.clz32(((xLo << 1) | 1) >>> 0);
  let m = y * POW2_NEG[k]!;
  if (m > SQRT2) {
    m *= 0.5;
    k++;
  }
  const f = m - 1.0;
  const s = f / (2.0 + f);
  const z = s * s;
  const w = z * z;
  const t1 = w * (LG2 + w * (LG4 + w * LG6));
  const t2 = z * (LG1 + w * (LG3 + w * (LG5 + w * LG7)));
  const r = t2 + t1;
  const hfsq = 0.5 * f * f;
  const dk = k - 53;
  return dk * LN2_HI - (hfsq - (s * (hfsq + r) + dk * LN2_LO) - f);
}

/** Score of a member (seed halves) for a key hash (halves). */
export function rendezvousScore(
  kHi: number,
  kLo: number,
  sHi: number,
  sLo: number,
  weight: number,
  uniform: boolean,
): number {
  let hi = (kHi ^ sHi) >>> 0;
  let lo = (kLo ^ sLo) >>> 0;
  lo = (lo ^ (hi >>> 1)) >>> 0;
  lo = mul64(hi, lo, P2H, P2L);
  hi = xxh64Hi();
  lo = (lo ^ ((lo >>> 29) | (hi << 3))) >>> 0;
  hi = (hi ^ (hi >>> 29)) >>> 0;
  lo = mul64(hi, lo, P3H, P3L);
  hi = xxh64Hi();
  lo = (lo ^ hi) >>> 0;
  const xHi = hi >>> 12;
  const xLo = (((hi & 0xfff) << 20) | (lo >>> 12)) >>> 0;
  return uniform ? xHi * 4294967296 + xLo : -weight / lnUnit(xHi, xLo);
}

function pickJs(
  kHi: number,
  kLo: number,
  seeds: Uint32Array,
  weights: Float64Array,
  n: number,
  uniform: boolean,
): number {
  let best = 0;
  let top = rendezvousScore(kHi, kLo, seeds[1]!, seeds[0]!, weights[0]!, uniform);
  for (let i = 1; i < n; i++) {
    const sc = rendezvousScore(kHi, kLo, seeds[2 * i + 1]!, seeds[2 * i]!, weights[i]!, uniform);
    if (sc > top) {
      top = sc;
      best = i;
    }
  }
  return best;
}

interface State {
  n: number;
  uniform: boolean;
  /** [lo, hi] per member, little-endian u64 as WASM reads them. */
  seeds: Uint32Array;
  weights: Float64Array;
  ptr: number; // WASM region: seeds (8n bytes) then weights (8n bytes); 0 for TS
}

/** Rendezvous hashing; `members` is in ascending `<` order, which getManyBytes indexes. */
export class Rendezvous extends MutableRouter<Weights, MemberInput> implements OrderedKeyRouter {
  private s: State = { n: 0, uniform: true, seeds: new Uint32Array(0), weights: new Float64Array(0), ptr: 0 };

  constructor(members: Iterable<MemberInput> = [], options: RendezvousOptions = {}) {
    super(checkOptions(options, BACKEND_ONLY), HASH_WASM, MEMBER_RULES, members);
    this.rebuild();
  }

  /** Index into `members` of the winner for `key`, or -1 with no members. */
  getIndex(key: Key): number {
    const b = keyBytes(key);
    const s = this.s;
    if (s.n === 0) return -1;
    const w = this.wasm;
    if (w === null) {
      const lo = xxh64Pair(b, 0, 0);
      return pickJs(xxh64Hi(), lo, s.seeds, s.weights, s.n, s.uniform);
    }
    const p = w.io(b.length);
    w.mem.u8.set(b, p);
    return (w.exports as unknown as RendezvousExports).rendezvousPickBytes(
      p,
      b.length,
      s.ptr,
      s.ptr + s.n * 8,
      s.n,
      s.uniform ? 1 : 0,
    );
  }

  /** The member with the highest score for `key`, or undefined with no members. */
  get(key: Key): string | undefined {
    const i = this.getIndex(key);
    return i < 0 ? undefined : this.ids[i];
  }

  protected override indexMany(keys: readonly Key[]): Uint32Array {
    const { bytes, offsets } = packKeys(keys);
    return this.getManyBytes(bytes, offsets);
  }

  /** Winner indices for keys as bytes back to back: key i is bytes[offsets[i] .. offsets[i + 1]). */
  getManyBytes(bytes: Uint8Array, offsets: Uint32Array): Uint32Array {
    checkOffsets(bytes, offsets);
    const count = Math.max(0, offsets.length - 1);
    const out = new Uint32Array(count);
    const s = this.s;
    if (s.n === 0) return out.fill(NO_MEMBER);
    const w = this.wasm;
    if (w === null) {
      for (let i = 0; i < count; i++) {
        const lo = xxh64Pair(bytes.subarray(offsets[i]!, offsets[i + 1]!), 0, 0);
        out[i] = pickJs(xxh64Hi(), lo, s.seeds, s.weights, s.n, s.uniform);
      }
      return out;
    }
    const x = w.exports as unknown as RendezvousExports;
    const uniform = s.uniform ? 1 : 0;
    batchBytes(w, bytes, offsets, out, (b, o, c, r) =>
      x.rendezvousPickManyBytes(b, o, c, s.ptr, s.ptr + s.n * 8, s.n, uniform, r),
    );
    return out;
  }

  /** Every member's score for `key`, in `members` order (higher wins). */
  scores(key: Key): Float64Array {
    const b = keyBytes(key);
    const s = this.s;
    const out = new Float64Array(s.n);
    if (s.n === 0) return out;
    const w = this.wasm;
    if (w === null) {
      const kLo = xxh64Pair(b, 0, 0);
      const kHi = xxh64Hi();
      for (let i = 0; i < s.n; i++)
        out[i] = rendezvousScore(kHi, kLo, s.seeds[2 * i + 1]!, s.seeds[2 * i]!, s.weights[i]!, s.uniform);
      return out;
    }
    const at = align16(b.length);
    const p = w.io(at + s.n * 8);
    w.mem.u8.set(b, p);
    (w.exports as unknown as RendezvousExports).rendezvousScoresBytes(
      p,
      b.length,
      s.ptr,
      s.ptr + s.n * 8,
      s.n,
      s.uniform ? 1 : 0,
      p + at,
    );
    out.set(new Float64Array(w.mem.memory.buffer, p + at, s.n));
    return out;
  }

  /** Up to n members by descending score (equal scores: smaller id first): owner, then failover order. */
  preference(key: Key, n: number): string[] {
    const sc = this.scores(key);
    intInRange('n', n, 0, Number.MAX_SAFE_INTEGER);
    const want = Math.min(n, sc.length);
    if (want === 0) return [];
    if (want === 1) {
      let best = 0;
      for (let i = 1; i < sc.length; i++) if (sc[i]! > sc[best]!) best = i;
      return [this.ids[best]!];
    }
    const order = Array.from({ length: sc.length }, (_, i) => i).sort((a, b) => sc[b]! - sc[a]! || a - b);
    return order.slice(0, want).map((i) => this.ids[i]!);
  }

  stats(): RendezvousStats {
    let total = 0;
    for (const w of this.membership.values()) total += w;
    return {
      backend: this.kind,
      uniform: this.s.uniform,
      bytes: this.s.n * 16,
      members: this.ids.map((id) => ({
        id,
        weight: this.membership.get(id)!,
        share: this.membership.get(id)! / total,
      })),
    };
  }

  protected rebuild(): void {
    const ids = [...this.membership.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    if (ids.length > RENDEZVOUS_MAX_MEMBERS)
      throw rangeError('members.length', `at most ${RENDEZVOUS_MAX_MEMBERS}`, ids.length);
    const n = ids.length;
    const seeds = new Uint32Array(2 * n);
    const weights = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      seeds[2 * i] = xxh64Pair(utf8(ids[i]!), 0, 0);
      seeds[2 * i + 1] = xxh64Hi();
      weights[i] = this.membership.get(ids[i]!)!;
    }
    const uniform = weights.every((w) => w === weights[0]);
    let ptr = 0;
    const w = this.wasm;
    if (w !== null && n > 0) {
      ptr = w.mem.alloc(16 * n);
      w.mem.u32.set(seeds, ptr >>> 2);
      new Float64Array(w.mem.memory.buffer, ptr + 8 * n, n).set(weights);
    }
    this.region.replace(w === null ? null : w.mem, ptr);
    this.setIds(ids);
    this.s = { n, uniform, seeds, weights, ptr };
  }
}

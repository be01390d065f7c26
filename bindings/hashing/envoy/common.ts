// What the Envoy-compatible tables (ring-hash.ts, maglev.ts) share: Envoy's host list with integer
// `load_balancing_weight`s, and the request hash, xxHash64 (seed 0) of the key's bytes as Envoy's hash
// policies compute it (HashUtil::xxHash64), in WASM (assembly/ring-hash.ts `envoyKeyHash`, native u64) or on
// 32-bit halves in TS. u64 results come back as a low half returned and a high half read right after
// (`keyHashHi`, `u64Hi`), so no BigInt or array is allocated per lookup.
import { putKey, putKeyLength, type WasmHandle } from '../../core/core-wasm.js';
import { checkKeys, intInRange, rangeError, str, typeError } from '../../util/validate.js';
import { xxh64Hi, xxh64Pair, xxh64String } from '../../core/xxhash.js';
import { type Key, keyError, type MemberInput } from '../key-router.js';
import { keyBytes } from '../shared.js';
import { MEMBER_KEYS, wellFormedId } from '../membership.js';

/** A 'host:port' id (weight 1) or `{ id, weight }`, the weight Envoy's integer load_balancing_weight. */
export type EnvoyMemberInput = MemberInput;

const MAX_WEIGHT_SUM = 0xffffffff;

/**
 * Parses members into ids (well-formed UTF-16: membership.ts `wellFormedId`) and integer weights (Envoy's
 * load_balancing_weight: >= 1, sum < 2^32).
 */
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
      checkKeys(field, m, MEMBER_KEYS);
      id = str(`${field}.id`, (m as { id?: unknown }).id);
      const given = (m as { weight?: unknown }).weight;
      if (given !== undefined) weight = given;
    } else throw typeError(field, "a 'host:port' id or { id, weight }", m);
    const idField = typeof m === 'string' ? field : `${field}.id`;
    if ((id as string).length === 0) throw rangeError(idField, 'a non-empty id', id);
    wellFormedId(idField, id as string);
    if (seen.has(id as string)) throw rangeError(idField, 'unique', id);
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

/** xxHash64 (seed 0) of a key: returns the low 32 bits, the high 32 bits in `keyHashHi()` afterwards. */
export function keyHashLo(key: Key): number {
  return typeof key === 'string' ? xxh64String(key, 0, 0) : xxh64Pair(keyBytes(key), 0, 0);
}

export const keyHashHi = xxh64Hi;

let HI = 0;

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
  if (typeof key !== 'string' && !(key instanceof Uint8Array)) throw keyError(key);
  const p = putKey(w, key, 16); // 8 aligned bytes after the key for the u64 result
  const len = putKeyLength();
  const out = (p + len + 7) & ~7;
  (w.exports as unknown as { envoyKeyHash(p: number, len: number, out: number): void }).envoyKeyHash(p, len, out);
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

// The parts every router in hashing/ shares, written once: key validation and packing for batch calls, the point
// lookup, failover walk and arc shares of ring-like tables, and member positions for decorators. Elsewhere, once:
// all-or-nothing membership changes (base.ts `MutableRouter`), the backend option (core/backend.ts `parseBackend`),
// the WASM table holder (core/memory.ts `TableRegion`), WASM batch staging (core/core-wasm.ts).
import { type RingTable, ringIndex } from '../core/core.js';
import { utf8, utf8Scratch } from '../core/utf8.js';
import { rangeError, typeError } from '../util/validate.js';
import { type Key, keyError } from './key-router.js';

/**
 * `err` renamed for a caller that knows the member list by another name: a TypeError or RangeError whose field
 * is a router's own list (`members`, `servers`: `members[2].weight must be …`, `servers.length …`) becomes the
 * same class of error with that field as `name(i)` (`name()` for the list itself), `err` as its cause. Any
 * other error is returned as it is. Renamed here, not named at the source: the hash policy's names change with
 * every build (`endpoints[rows[k]]`), and passing them down the routers' parsing costs the lite bundle bytes.
 */
export function renameMembers(err: unknown, name: (i?: number) => string): unknown {
  if (!(err instanceof TypeError || err instanceof RangeError)) return err;
  const m = /^(?:members|servers)(?:\[(\d+)\])?(?=[\s.[])/.exec(err.message);
  if (m === null) return err;
  const field = name(m[1] === undefined ? undefined : Number(m[1]));
  const Class = err instanceof TypeError ? TypeError : RangeError;
  return new Class(field + err.message.slice(m[0].length), { cause: err });
}

/** The bytes of a key: UTF-8 for a string (shared scratch, valid until the next call), the bytes given. */
export function keyBytes(key: unknown): Uint8Array {
  if (typeof key === 'string') return utf8Scratch(key);
  if (key instanceof Uint8Array) return key;
  throw keyError(key);
}

/** Validates a batch of keys: an array of strings and Uint8Arrays (errors name `keys` or `keys[i]`). */
export function checkKeys(keys: unknown): asserts keys is readonly Key[] {
  if (!Array.isArray(keys)) throw typeError('keys', 'an array of strings or Uint8Arrays', keys);
  for (let i = 0; i < keys.length; i++) {
    const k: unknown = keys[i];
    if (typeof k !== 'string' && !(k instanceof Uint8Array))
      throw typeError(`keys[${i}]`, 'a string or a Uint8Array', k);
  }
}

/** Keys as UTF-8/bytes back to back with offsets[count + 1], for the batch WASM calls. Validates each key. */
export function packKeys(keys: readonly Key[]): { bytes: Uint8Array; offsets: Uint32Array } {
  if (!Array.isArray(keys)) throw typeError('keys', 'an array of strings or Uint8Arrays', keys);
  const offsets = new Uint32Array(keys.length + 1);
  // all strings, all ASCII: one native encode of the joined keys, offsets from the lengths
  let chars = 0;
  let n = 0;
  for (; n < keys.length; n++) {
    const k = keys[n];
    if (typeof k !== 'string') break;
    chars += k.length;
    offsets[n + 1] = chars;
  }
  if (n === keys.length) {
    const bytes = utf8(keys.join(''));
    if (bytes.length === chars) return { bytes, offsets };
  }
  let bytes = new Uint8Array(Math.max(256, keys.length * 16));
  let o = 0;
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i];
    let b: Uint8Array;
    if (typeof k === 'string') b = utf8Scratch(k);
    else if (k instanceof Uint8Array) b = k;
    else throw typeError(`keys[${i}]`, 'a string or a Uint8Array', k);
    if (o + b.length > bytes.length) {
      const next = new Uint8Array(Math.max(bytes.length * 2, o + b.length));
      next.set(bytes.subarray(0, o));
      bytes = next;
    }
    bytes.set(b, o);
    o += b.length;
    offsets[i + 1] = o;
  }
  return { bytes: bytes.subarray(0, o), offsets };
}

/** Validates a (bytes, offsets) batch: offsets non-decreasing and within bytes. */
export function checkOffsets(bytes: unknown, offsets: unknown): void {
  if (!(bytes instanceof Uint8Array)) throw typeError('bytes', 'a Uint8Array', bytes);
  if (!(offsets instanceof Uint32Array)) throw typeError('offsets', 'a Uint32Array', offsets);
  for (let i = 0; i < offsets.length; i++) {
    const o = offsets[i]!;
    if (o > bytes.length || (i > 0 && o < offsets[i - 1]!))
      throw rangeError(`offsets[${i}]`, `non-decreasing and <= ${bytes.length}`, o);
  }
}

/** A batch's `out` for `count` results: a Uint32Array (TypeError), at least `count` long (RangeError). */
export function checkOut(out: unknown, count: number): asserts out is Uint32Array {
  if (!(out instanceof Uint32Array)) throw typeError('out', 'a Uint32Array', out);
  if (out.length < count) throw rangeError('out.length', `>= ${count}`, out.length);
}

/** Member ids of an index array (NO_MEMBER gives undefined). */
export function idsOf(idx: Uint32Array, ids: readonly string[]): (string | undefined)[] {
  const out = new Array<string | undefined>(idx.length);
  for (let i = 0; i < idx.length; i++) out[i] = ids[idx[i]!];
  return out;
}

/**
 * Index of the point of a ring table (HashRing, KetamaRing) that owns the 32-bit hash `h`. Syncs the table's
 * views first: read `t.members` (or any array of `t`) only after this call, never in the same expression.
 */
export function ringPoint(t: RingTable, shift: number, h: number): number {
  t.sync();
  return ringIndex(t.points, t.table, shift, t.total, h);
}

/** Member index of the point that owns `h` (views synced first). */
export function ringOwner(t: RingTable, shift: number, h: number): number {
  t.sync();
  return t.members[ringIndex(t.points, t.table, shift, t.total, h)]!;
}

/**
 * Up to `n` distinct ids of owners[start], owners[start + 1], ... (wrapping): the failover order of a ring
 * (owner of each point) or a table (owner of each slot). Members that own nothing never appear.
 */
export function distinctFrom(
  owners: Uint16Array | Uint32Array,
  start: number,
  ids: readonly string[],
  n: number,
): string[] {
  const want = Math.min(n, ids.length);
  const out: string[] = [];
  if (want === 0) return out;
  const seen = new Uint8Array(ids.length);
  const total = owners.length;
  let i = start;
  for (let step = 0; step < total && out.length < want; step++) {
    const m = owners[i]!;
    if (seen[m] === 0) {
      seen[m] = 1;
      out.push(ids[m]!);
    }
    if (++i === total) i = 0;
  }
  return out;
}

/**
 * Points and hash-space share per member of a 32-bit ring: each point owns the arc from the previous point
 * (the first one wraps around from the last), and `owners[i]` is the member index of point i.
 */
export function addArcs(
  points: Uint32Array,
  owners: Uint16Array | Uint32Array,
  members: { points: number; share: number }[],
): void {
  const total = points.length;
  for (let i = 0; i < total; i++) {
    const arc = i === 0 ? points[0]! + 2 ** 32 - points[total - 1]! : points[i]! - points[i - 1]!;
    const m = members[owners[i]!]!;
    m.points++;
    m.share += arc / 2 ** 32;
  }
}

/** Index of an id in a members array, cached per array (tables replace the array on every rebuild). */
export class MemberPositions {
  private for: readonly string[] | null = null;
  private map = new Map<string, number>();

  of(members: readonly string[], id: string | undefined): number {
    if (id === undefined) return -1;
    if (this.for !== members) {
      this.map = new Map(members.map((m, i) => [m, i]));
      this.for = members;
    }
    return this.map.get(id) ?? -1;
  }
}

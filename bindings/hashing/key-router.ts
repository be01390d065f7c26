// The hashing contract, written once: every consistent-hash table in hashing/ (HashRing, KetamaRing,
// EnvoyRingHash, Maglev, JumpHash, NginxConsistentHash, Rendezvous) is a `KeyRouter`, and what each can do
// beyond lookups is stated by the interfaces it implements, not by comments:
//
// | router               | OrderedKeyRouter (preference) | mutation                                 |
// |----------------------|-------------------------------|------------------------------------------|
// | HashRing             | yes (ring order)              | MutableKeyRouter                         |
// | KetamaRing           | yes (continuum order)         | MutableKeyRouter                         |
// | NginxConsistentHash  | yes (nginx's retry walk)      | MutableKeyRouter                         |
// | Rendezvous           | yes (descending score)        | MutableKeyRouter                         |
// | EnvoyRingHash        | yes (ring order)              | none: rebuilt, as Envoy rebuilds it      |
// | Maglev               | yes (successive slots)        | none: rebuilt, as Envoy rebuilds it      |
// | JumpHash             | no (Jump defines no order)    | BucketKeyRouter: append / remove the last |
//
// The bounded-load decorators (bounded-load.ts) are `KeyLookup`s: they answer lookups over a table they do
// not own, so its memory (stats, dispose) stays with the table.
import type { Backend } from '../core/core.js';
import { typeError } from '../util/validate.js';

/** A lookup key: a string (hashed as its UTF-8 bytes) or bytes. */
export type Key = string | Uint8Array;

/** An id (weight 1) or `{ id, weight }`; each router states which weights it accepts. */
export type MemberInput = string | { id: string; weight?: number };

/** The member index in index arrays (getManyBytes, getManyByHash, ...) for a key when there is no member. */
export const NO_MEMBER = 0xffffffff;

/** What every router's `stats().members[i]` says at least. */
export interface RouterMemberStats {
  id: string;
  /** Fraction of keys this member receives (exact for tables, expected for Jump and Rendezvous). */
  share: number;
}

/** What every router's `stats()` says at least; each algorithm's stats extend this. */
export interface RouterStats {
  backend: Backend;
  /** Bytes of the lookup table (WASM linear memory or JS typed arrays); 0 when empty or disposed. */
  bytes: number;
  members: RouterMemberStats[];
}

/** Lookups: anything that maps a key to one of its members. */
export interface KeyLookup {
  /**
   * Member ids in the router's index order: `getIndex` and index arrays index this. Frozen: a membership change
   * replaces the array, so one handed out stays as it was.
   */
  readonly members: readonly string[];
  readonly size: number;
  /** The member that owns `key`, or undefined with no members. */
  get(key: Key): string | undefined;
  /** Index into `members` of the owner of `key`, or -1 with no members. */
  getIndex(key: Key): number;
  /** `keys.map(get)`, batched where the backend has a faster path. */
  getMany(keys: readonly Key[]): (string | undefined)[];
}

/** A consistent-hash table built by a backend: lookups, stats, and its memory freed by `dispose`. */
export interface KeyRouter extends KeyLookup {
  readonly backend: Backend;
  /**
   * Keys grouped by owner, the shape a multi-get (memcached `get k1 k2 ...`, a Redis pipeline per shard)
   * needs: member id -> its keys, in input order (duplicates kept). Entries are in `members` order and only
   * for members that own at least one key. Hashing and lookup run in one pass (one WASM call per chunk
   * where the backend has a batch path). No keys: an empty Map. Keys but no members: a RangeError naming
   * `members` (a key never goes missing silently). Bad keys: a TypeError naming `keys[i]`.
   */
  group<K extends Key>(keys: readonly K[]): Map<string, K[]>;
  stats(): RouterStats;
  /** Frees the table now (otherwise when collected); the router is then empty. */
  dispose(): void;
}

/** A router whose algorithm defines a failover order: replicas, retries, bounded loads. */
export interface OrderedKeyRouter extends KeyRouter {
  /** Up to n distinct members, `get(key)` first, then the order the algorithm fails over in. */
  preference(key: Key, n: number): string[];
}

/** A router that takes membership diffs; each returns true if the table changed (false: nothing rebuilt). */
export interface MutableKeyRouter<M = MemberInput> extends KeyRouter {
  /** One member, or a list of them (any iterable: an array, a Set). */
  add(members: M | Iterable<M>): boolean;
  remove(ids: string | readonly string[]): boolean;
  setWeight(id: string, weight: number): boolean;
  /** Replaces the membership. */
  reset(members: Iterable<M>): boolean;
}

/** Buckets numbered by position (Jump): members join as new last buckets and leave only from the end. */
export interface BucketKeyRouter extends KeyRouter {
  /** Appends ids as new last buckets, in order; true if any was new. */
  append(ids: string | readonly string[]): boolean;
  /** Removes the last `count` buckets (default 1); returns their ids, last bucket last. */
  removeLast(count?: number): string[];
}

/** The RangeError `group` throws for keys on a router with no members. */
export function noMemberError(keys: number): RangeError {
  return new RangeError(`members must be non-empty to group keys, got 0 members for ${keys} key(s)`);
}

/** The TypeError for a key that is neither a string nor a Uint8Array. */
export function keyError(key: unknown): TypeError {
  return typeError('key', 'a string or a Uint8Array', key);
}

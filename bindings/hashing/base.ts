// The class surface every router in hashing/ shares, written once (key-router.ts states the contract):
// - RouterBase: the backend (`kind`, its WASM handle) and the member ids behind `members`, `size`, `backend`;
// - MutableRouter: a membership S (an id → weight map, or ketama's server list) changed through its
//   MembershipRules (membership.ts): every mutator is one diff, then `change` rebuilds the table or puts the
//   old membership back;
// - FixedRouter: hosts and integer weights fixed at construction, a table in a WASM region (Envoy's tables,
//   which Envoy rebuilds rather than changes).
// `getMany(keys)` and `group(keys)` are written once here over `indexMany(keys)` (owner indices for a batch),
// which each class with a faster batch path overrides (WASM calls per chunk, an inlined TS loop).
// Lookups (`get`, `getIndex`) stay in each class: one class behind each hot call site keeps them
// monomorphic and allocation-free (bench/ring.bench.ts, docs/performance.md). Constructors check `options` first
// (`checkOptions`), validate their own options, then pass `options` to super, which parses the backend:
// the order in which errors are raised is the one each class always had.
import type { WasmFamily } from '../core/families.js';
import { familyHandle, parseBackendFor } from '../core/loader.js';
import type { Backend } from '../core/core.js';
import type { WasmHandle } from '../core/core-wasm.js';
import { checkKeys as checkOptionKeys, typeError } from '../util/validate.js';
import { type Key, type KeyRouter, type MutableKeyRouter, noMemberError, type RouterStats } from './key-router.js';
import type { MembershipRules } from './membership.js';
import { TableRegion } from '../core/memory.js';
import { checkKeys, idsOf } from './shared.js';

/**
 * A constructor's `options`, returned as given: an object, not an array (a TypeError naming `options`), with no
 * key outside `known` (a RangeError naming `options.<key>`, as createHasher's).
 */
export function checkOptions<T>(options: T, known: readonly string[]): T {
  if (options === null || typeof options !== 'object' || Array.isArray(options))
    throw typeError('options', 'an object', options);
  checkOptionKeys('options', options, known);
  return options;
}

/** The options of a router that takes only `backend`. */
export const BACKEND_ONLY: readonly string[] = ['backend'];

/** Backend and member ids: `members`, `size` and `backend` of every router; lookups are each class's own. */
export abstract class RouterBase implements KeyRouter {
  declare protected readonly kind: Backend;
  /** The WASM handle for the 'wasm' backend, null for 'js'. */
  declare protected readonly wasm: WasmHandle | null;
  /** Member ids in index order, for lookups; replaced (`setIds`, which every constructor calls), never changed. */
  protected ids: readonly string[] = [];
  /** `ids` frozen, as `members` hands it out: a copy, since V8 reads frozen arrays slower (get() reads `ids`). */
  private list: readonly string[] = [];

  /** `options` passed `checkOptions`; its `backend` is parsed here; `family` is the WASM module it runs on. */
  protected constructor(options: { backend?: unknown }, family: WasmFamily) {
    this.kind = parseBackendFor(options, family);
    this.wasm = familyHandle(this.kind, family);
  }

  /** Member ids in the router's index order (a frozen array): `getIndex` and index arrays index this. */
  get members(): readonly string[] {
    return this.list;
  }

  get size(): number {
    return this.ids.length;
  }

  /** Sets the member ids, in index order: `ids`, and the frozen copy `members` hands out. */
  protected setIds(ids: readonly string[]): void {
    this.ids = ids;
    this.list = Object.freeze(ids.slice());
  }

  get backend(): Backend {
    return this.kind;
  }

  /** `keys.map(get)` through the batch path (`indexMany`). */
  getMany(keys: readonly Key[]): (string | undefined)[] {
    return idsOf(this.indexMany(keys), this.ids); // validates, then reads `ids` (arguments run in order)
  }

  /** Keys grouped by owner, in input order within each member (key-router.ts states the contract). */
  group<K extends Key>(keys: readonly K[]): Map<string, K[]> {
    return groupByIndex(keys, this.indexMany(keys), this.ids); // validates, then reads `ids`
  }

  /**
   * Owner index of each key (NO_MEMBER with no members), validating the batch (errors name `keys`/`keys[i]`).
   * This default loops `getIndex`; classes with a batch path override it.
   */
  protected indexMany(keys: readonly Key[]): Uint32Array {
    checkKeys(keys);
    const out = new Uint32Array(keys.length);
    for (let i = 0; i < keys.length; i++) out[i] = this.getIndex(keys[i]!); // -1 is stored as NO_MEMBER
    return out;
  }

  abstract get(key: Key): string | undefined;
  abstract getIndex(key: Key): number;
  abstract stats(): RouterStats;
  abstract dispose(): void;
}

/**
 * `keys` grouped by `idx[i]`, an index into `ids`: one list per member in input order, Map entries in `ids`
 * order. NO_MEMBER (an empty router) is a RangeError: no key is dropped without a word.
 */
export function groupByIndex<K>(keys: readonly K[], idx: Uint32Array, ids: readonly string[]): Map<string, K[]> {
  const out = new Map<string, K[]>();
  const n = ids.length;
  if (n > 4 * idx.length) {
    // few keys over many members: lists by index in a Map, then the owners in index order
    const lists = new Map<number, K[]>();
    for (let i = 0; i < idx.length; i++) {
      const m = idx[i]!;
      if (m >= n) throw noMemberError(keys.length);
      const l = lists.get(m);
      if (l === undefined) lists.set(m, [keys[i]!]);
      else l.push(keys[i]!);
    }
    for (const m of Uint32Array.from(lists.keys()).sort()) out.set(ids[m]!, lists.get(m)!);
    return out;
  }
  const lists = new Array<K[] | undefined>(n);
  for (let i = 0; i < idx.length; i++) {
    const m = idx[i]!;
    if (m >= n) throw noMemberError(keys.length);
    const l = lists[m];
    if (l === undefined) lists[m] = [keys[i]!];
    else l.push(keys[i]!);
  }
  for (let m = 0; m < n; m++) {
    const l = lists[m];
    if (l !== undefined) out.set(ids[m]!, l);
  }
  return out;
}

/**
 * A router that takes membership diffs. Subclasses set their own fields, then call `rebuild()` once;
 * `rebuild` builds the table from `membership`, sets `ids`, and replaces the old table only once the new one
 * is built (so a failed change leaves the router answering as before).
 */
export abstract class MutableRouter<S, M> extends RouterBase implements MutableKeyRouter<M> {
  protected readonly region = new TableRegion(this);
  /** What the table is built from. */
  declare protected membership: S;
  declare private readonly rules: MembershipRules<S>;

  protected constructor(
    options: { backend?: unknown },
    family: WasmFamily,
    rules: MembershipRules<S>,
    members: unknown,
  ) {
    super(options, family);
    this.rules = rules;
    this.membership = rules.parse(members);
  }

  protected abstract rebuild(): void;

  /** A member's weight, or undefined for an id that is not a member. */
  weight(id: string): number | undefined {
    return this.rules.weight(this.membership, id);
  }

  /** Adds one member or an iterable of them; true if the table changed. An id present as given before is a no-op. */
  add(members: M | Iterable<M>): boolean {
    return this.change(this.rules.add(this.membership, members));
  }

  /** Removes members by id; true if any was present. */
  remove(ids: string | readonly string[]): boolean {
    return this.change(this.rules.remove(this.membership, ids));
  }

  /** Sets a member's weight, keeping its place; true if it changed. */
  setWeight(id: string, weight: number): boolean {
    return this.change(this.rules.setWeight(this.membership, id, weight));
  }

  /** Replaces the membership; true if it changed (nothing is rebuilt otherwise). */
  reset(members: Iterable<M>): boolean {
    const next = this.rules.parse(members);
    return this.change(this.rules.same(next, this.membership) ? null : next);
  }

  /** Frees the table's WebAssembly memory now (otherwise when the router is collected); then empty. */
  dispose(): void {
    this.reset([]); // an empty membership has no table already
  }

  /**
   * One membership change, all or nothing: installs `next`, then rebuilds; if the rebuild throws, the previous
   * membership is put back before the error propagates (the table is replaced only once the new one is built).
   */
  private change(next: S | null): boolean {
    if (next === null) return false;
    const prev = this.membership;
    this.membership = next;
    try {
      this.rebuild();
    } catch (err) {
      this.membership = prev;
      throw err;
    }
    return true;
  }
}

/** A router over hosts fixed at construction, with integer weights, and a table T (WASM region or JS arrays). */
export abstract class FixedRouter<T> extends RouterBase {
  protected readonly region = new TableRegion(this);
  protected t: T | null = null;
  /** Weights in `ids` order. */
  protected weightList: readonly number[] = [];
  private readonly index = new Map<string, number>();

  /** Sets the hosts, in index order, and their weights. */
  protected setHosts(ids: string[], weights: readonly number[]): void {
    this.setIds(ids);
    this.weightList = weights;
    this.index.clear();
    ids.forEach((id, i) => this.index.set(id, i));
  }

  /** A host's weight, or undefined for an id that is not a host. */
  weight(id: string): number | undefined {
    const i = this.index.get(id);
    return i === undefined ? undefined : this.weightList[i];
  }

  /** Frees the table's WebAssembly memory now (otherwise when the router is collected); then empty. */
  dispose(): void {
    this.region.free();
    this.t = null;
    this.setHosts([], []);
  }
}

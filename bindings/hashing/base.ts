// The class surface every router in hashing/ shares, written once (key-router.ts states the contract):
// - RouterBase: the backend (`kind`, its WASM handle) and the member ids behind `members`, `size`, `backend`;
// - MutableRouter: a membership S (an id → weight map, or ketama's server list) changed through its
//   MembershipRules (membership.ts): every mutator is one diff, then `commit` (shared.ts) rebuilds the table
//   or puts the old membership back;
// - FixedRouter: hosts and integer weights fixed at construction, a table in a WASM region (Envoy's tables,
//   which Envoy rebuilds rather than changes).
// Lookups (`get`, `getIndex`) stay in each class: one class behind each hot call site keeps them
// monomorphic and allocation-free (bench/ring.bench.ts, docs/performance.md). Constructors check `options` first
// (`checkOptions`), validate their own options, then pass `options` to super, which parses the backend:
// the order in which errors are raised is the one each class always had.
import { handleFor, parseBackend } from '../core/backend.js';
import type { Backend } from '../core/core.js';
import type { WasmHandle } from '../core/core-wasm.js';
import { typeError } from '../util/validate.js';
import type { Key, KeyRouter, MutableKeyRouter, RouterStats } from './key-router.js';
import type { MembershipRules } from './membership.js';
import { TableRegion } from '../core/memory.js';
import { commit } from './shared.js';

/** A constructor's `options`: an object (TypeError naming `options` otherwise), returned as given. */
export function checkOptions<T>(options: T): T {
  if (options === null || typeof options !== 'object') throw typeError('options', 'an object', options);
  return options;
}

/** Backend and member ids: `members`, `size` and `backend` of every router; lookups are each class's own. */
export abstract class RouterBase implements KeyRouter {
  protected readonly kind: Backend;
  /** The WASM handle for the 'wasm' backend, null for 'js'. */
  protected readonly wasm: WasmHandle | null;
  /** Member ids in index order. `members` hands this array out: replace it, never change one handed out. */
  protected ids: string[] = [];

  /** `options` passed `checkOptions`; its `backend` is parsed here. */
  protected constructor(options: { backend?: unknown }) {
    this.kind = parseBackend(options);
    this.wasm = handleFor(this.kind);
  }

  /** Member ids in the router's index order: `getIndex` and index arrays index this. */
  get members(): readonly string[] {
    return this.ids;
  }

  get size(): number {
    return this.ids.length;
  }

  get backend(): Backend {
    return this.kind;
  }

  abstract get(key: Key): string | undefined;
  abstract getIndex(key: Key): number;
  abstract getMany(keys: readonly Key[]): (string | undefined)[];
  abstract stats(): RouterStats;
  abstract dispose(): void;
}

/**
 * A router that takes membership diffs. Subclasses set their own fields, then call `rebuild()` once;
 * `rebuild` builds the table from `membership`, sets `ids`, and replaces the old table only once the new one
 * is built (so a failed change leaves the router answering as before).
 */
export abstract class MutableRouter<S, M> extends RouterBase implements MutableKeyRouter<M> {
  protected readonly region = new TableRegion(this);
  /** What the table is built from. */
  protected membership: S;
  private readonly rules: MembershipRules<S>;

  protected constructor(options: { backend?: unknown }, rules: MembershipRules<S>, members: unknown) {
    super(options);
    this.rules = rules;
    this.membership = rules.parse(members);
  }

  protected abstract rebuild(): void;

  /** A member's weight, or undefined for an id that is not a member. */
  weight(id: string): number | undefined {
    return this.rules.weight(this.membership, id);
  }

  /** Adds members; true if the table changed. An id already present as given before is a no-op. */
  add(members: M | readonly M[]): boolean {
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
    this.membership = this.rules.parse([]);
    this.rebuild();
  }

  private change(next: S | null): boolean {
    return (
      next !== null &&
      commit(
        this.membership,
        next,
        (s) => (this.membership = s),
        () => this.rebuild(),
      )
    );
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
    this.ids = ids;
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

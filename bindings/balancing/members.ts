// The Balancer's membership and per-member state: the members in order, id → row, availability, and the
// StateTable (policies' numbers, one row per member; in WASM memory under the 'wasm' backend).
//
// Availability: a member is available unless `unavailable` holds it; an unavailable member may also be
// `pending` (health checking has not produced its first result). Pending members are Envoy's "excluded" hosts:
// they do not count in the panic ratio, and while no member is available and some are pending the set is
// "warming" (Envoy cluster warming): nothing is picked and waiting picks wait, instead of entering panic.
//
// A membership change is a diff by id with util/endpoint.ts's equality (every field, metadata by value):
// members that stay keep their state (their rows are copied into a new table, renumbered to the new order),
// added members start with zeroed rows, and a member whose fields changed is reported as updated. The
// table's WASM region is held by core/memory.ts's TableRegion (from the memory's `holder`, so that a lite
// bundle with JS tables only does not carry it): freed when replaced, by `free()`, or when
// the Members (its Balancer) is collected.
import type { WasmHandle } from '../core/core-wasm.js';
import type { TableRegion } from '../core/memory.js';
import { type Endpoint, sameEndpoint } from '../util/endpoint.js';
import { rangeError } from '../util/validate.js';
import { COL_ADDED_AT, COL_BASE_WEIGHT, COL_DYN, COL_WEIGHT, StateTable } from './picker.js';

export interface MembershipChange {
  added: string[];
  removed: string[];
  updated: string[];
}

export class Members {
  /** The members in order; row r of `table` is list[r]. Replaced on change, never mutated. */
  list: Endpoint[] = [];
  /** Member id → row. */
  index = new Map<string, number>();
  /** Member id of each row. */
  ids: string[] = [];
  /** Unavailable member ids, with the reason given. */
  readonly unavailable = new Map<string, string | undefined>();
  /** Unavailable members awaiting their first health result (a subset of `unavailable`). */
  readonly pending = new Set<string>();
  declare table: StateTable;
  /** Bumped whenever rows are renumbered (a new table). */
  gen = 0;
  /** The `gen` each row's member joined in (kept while it stays): a handle from before it joined is not its. */
  born = new Int32Array(0);
  /** Holds the table's WASM region (none under the JS table). */
  declare private readonly region: TableRegion | undefined;

  declare private readonly wasm: WasmHandle | null;

  constructor(wasm: WasmHandle | null) {
    this.wasm = wasm;
    this.region = wasm?.mem.holder(this);
    this.table = this.#hold(new StateTable(0, wasm));
  }

  /** Makes `t` the held table, freeing the previous one. */
  #hold(t: StateTable): StateTable {
    if (t.ptr >= 0) this.region!.replace(this.wasm!.mem, t.ptr);
    else this.region?.free();
    return t;
  }

  /**
   * What replacing the members with `next` changes; all lists empty when nothing does. A RangeError naming
   * `endpoints` when their weights' sum is not finite (nginx's scheduler and others sum them).
   */
  diff(next: readonly Endpoint[]): MembershipChange {
    const added: string[] = [];
    const updated: string[] = [];
    const nextIds = new Set<string>();
    let sum = 0;
    for (const m of next) {
      sum += m.weight;
      nextIds.add(m.id);
      const at = this.index.get(m.id);
      if (at === undefined) added.push(m.id);
      else if (!sameEndpoint(this.list[at]!, m)) updated.push(m.id);
    }
    if (!(sum < Infinity)) throw rangeError('endpoints', 'weights whose sum is finite', sum);
    const removed = this.list.filter((m) => !nextIds.has(m.id)).map((m) => m.id);
    return { added, removed, updated };
  }

  /**
   * Replaces the members. Rows of members that stay are copied by id; added rows get COL_ADDED_AT = `now`
   * (-Infinity for the first membership, which starts warm) and a dynamic factor of 1; every row's base and
   * current weight become its endpoint's weight. Returns the added rows.
   */
  replace(next: Endpoint[], removed: readonly string[], now: number): number[] {
    const old = this.table;
    const oldIndex = this.index;
    const first = this.list.length === 0;
    const t = new StateTable(next.length, this.wasm);
    const addedRows: number[] = [];
    const index = new Map<string, number>();
    const born = new Int32Array(next.length);
    next.forEach((m, r) => {
      index.set(m.id, r);
      const o = oldIndex.get(m.id);
      born[r] = o !== undefined ? this.born[o]! : this.gen + 1;
      if (o !== undefined) t.copyRow(old, o, r);
      else {
        addedRows.push(r);
        t.set(COL_ADDED_AT, r, first ? -Infinity : now);
        t.set(COL_DYN, r, 1);
      }
      t.set(COL_BASE_WEIGHT, r, m.weight);
      t.set(COL_WEIGHT, r, m.weight);
    });
    this.table = this.#hold(t);
    this.gen++;
    this.born = born;
    this.list = next;
    this.index = index;
    this.ids = next.map((m) => m.id);
    for (const id of removed) {
      this.unavailable.delete(id);
      this.pending.delete(id);
    }
    return addedRows;
  }

  /**
   * The rows a single-level picker may use, in member order, whether the balancer is in panic and whether it is
   * warming. Panic as Envoy decides it for one priority level: never while the level's health,
   * min(100, ⌊overprovisioningFactor × 100 × available / counted⌋), is 100; otherwise when available / counted
   * < thresholdPercent (pending members are not counted, as Envoy's excluded hosts). In panic, mode 'all' picks
   * over every member, 'fail' over none. Warming: no member is available and some are pending; nothing is
   * picked (no panic) until a first health result arrives.
   */
  eligible(
    thresholdPercent: number,
    mode: 'all' | 'fail',
    overprovisioningFactor: number,
  ): { rows: Int32Array; panic: boolean; warming: boolean } {
    const list = this.list;
    const n = list.length;
    const available = n - this.unavailable.size;
    const pending = this.pending.size;
    const warming = n > 0 && available === 0 && pending > 0;
    const counted = n - pending;
    const panic =
      !warming &&
      n > 0 &&
      Math.floor((overprovisioningFactor * 100 * available) / counted) < 100 &&
      available * 100 < thresholdPercent * counted;
    const all = panic && mode === 'all';
    // panic 'fail': no row (stats().eligible and the picker event say 0, as picks find none)
    const rows = new Int32Array(all ? n : panic ? 0 : available);
    if (all) for (let r = 0; r < n; r++) rows[r] = r;
    else if (!panic) {
      let k = 0;
      for (let r = 0; r < n; r++) if (!this.unavailable.has(list[r]!.id)) rows[k++] = r;
    }
    return { rows, panic, warming };
  }

  /** Whether `row` is available (not excluded by health checking or ejection). */
  isAvailableRow(row: number): boolean {
    return !this.unavailable.has(this.ids[row]!);
  }

  /** Frees the table now (it is also freed when this is garbage collected) and empties the membership. */
  free(): void {
    this.table = this.#hold(new StateTable(0, null));
    this.list = [];
    this.ids = [];
    this.index = new Map();
    this.unavailable.clear();
    this.pending.clear();
  }
}

/** Appends `ep`, or replaces the entry with its id (the last one wins, like a resolver listing an address twice). */
export function upsert(list: Endpoint[], pos: Map<string, number>, ep: Endpoint): void {
  const at = pos.get(ep.id);
  if (at === undefined) {
    pos.set(ep.id, list.length);
    list.push(ep);
  } else list[at] = ep;
}

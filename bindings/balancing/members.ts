// The Balancer's membership and per-member state: the members in order, id → row, availability, and the
// StateTable (policies' numbers, one row per member; in WASM memory under the 'wasm' backend).
//
// A membership change is a diff by id with util/endpoint.ts's equality (every field, metadata by value):
// members that stay keep their state (their rows are copied into a new table, renumbered to the new order),
// added members start with zeroed rows, and a member whose fields changed is reported as updated. The
// table's WASM region is held by core/memory.ts's TableRegion: freed when replaced, by `free()`, or when
// the Members (its Balancer) is collected.
import type { WasmHandle } from '../core/core-wasm.js';
import { TableRegion } from '../core/memory.js';
import { type Endpoint, sameEndpoint } from '../util/endpoint.js';
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
  table: StateTable;
  /** Bumped whenever rows are renumbered (a new table). */
  gen = 0;
  private readonly region = new TableRegion(this);

  constructor(private readonly wasm: WasmHandle | null) {
    this.table = this.hold(new StateTable(0, wasm));
  }

  /** Makes `t` the held table, freeing the previous one. */
  private hold(t: StateTable): StateTable {
    if (t.ptr >= 0) this.region.replace(this.wasm!.mem, t.ptr);
    else this.region.free();
    return t;
  }

  /** What replacing the members with `next` changes; all lists empty when nothing does. */
  diff(next: readonly Endpoint[]): MembershipChange {
    const added: string[] = [];
    const updated: string[] = [];
    const nextIds = new Set<string>();
    for (const m of next) {
      nextIds.add(m.id);
      const at = this.index.get(m.id);
      if (at === undefined) added.push(m.id);
      else if (!sameEndpoint(this.list[at]!, m)) updated.push(m.id);
    }
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
    next.forEach((m, r) => {
      index.set(m.id, r);
      const o = oldIndex.get(m.id);
      if (o !== undefined) t.copyRow(old, o, r);
      else {
        addedRows.push(r);
        t.set(COL_ADDED_AT, r, first ? -Infinity : now);
        t.set(COL_DYN, r, 1);
      }
      t.set(COL_BASE_WEIGHT, r, m.weight);
      t.set(COL_WEIGHT, r, m.weight);
    });
    this.table = this.hold(t);
    this.gen++;
    this.list = next;
    this.index = index;
    this.ids = next.map((m) => m.id);
    for (const id of removed) this.unavailable.delete(id);
    return addedRows;
  }

  /**
   * The rows to pick from, in member order, and whether the balancer is in panic (Envoy: available members
   * below `thresholdPercent` of all): in panic, mode 'all' picks over every member, 'fail' over none.
   */
  eligible(thresholdPercent: number, mode: 'all' | 'fail'): { rows: Int32Array; panic: boolean } {
    const list = this.list;
    const n = list.length;
    let available = 0;
    for (const m of list) if (!this.unavailable.has(m.id)) available++;
    const panic = n > 0 && available * 100 < thresholdPercent * n;
    const all = panic && mode === 'all';
    const rows = new Int32Array(all ? n : available);
    let k = 0;
    for (let r = 0; r < n; r++) if (all || !this.unavailable.has(list[r]!.id)) rows[k++] = r;
    return { rows, panic };
  }

  /** Frees the table now (it is also freed when this is garbage collected) and empties the membership. */
  free(): void {
    this.table = this.hold(new StateTable(0, null));
    this.list = [];
    this.ids = [];
    this.index = new Map();
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

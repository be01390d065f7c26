// Pickers and the per-member state they read.
//
// A `Picker` is the immutable snapshot of one membership/availability version (grpc-js: "a proxy object
// representing the momentary state of a load balancer"): the rows it may pick from, in member order. It is
// rebuilt by the Balancer on every membership, availability or weight change and swapped in whole.
//
// The numbers a policy learns from (current weights, in-flight counts, RTT estimates, timestamps) are not
// part of the snapshot: they live in a `StateTable` owned by the Balancer, one row per member, column-major
// f64. Where WebAssembly is available the table is a region of the balancing module's linear memory
// (allocated with `wasmHandle(BALANCING_WASM).mem`, core/backend.ts), so WASM policy functions read and write
// the same numbers the TS twin does; otherwise it is a plain Float64Array. Picking never allocates.
import type { WasmHandle } from '../core/core-wasm.js';
import type { Weighting } from './dynamic-weights.js';
import type { Random } from '../util/random.js';
import type { Clock } from '../util/clock.js';
import type { Endpoint } from '../util/endpoint.js';

/** Columns of the state table (f64 each). */
export const COL_WEIGHT = 0; // the weight policies use (configured × slow start × dynamic factor)
export const COL_CW = 1; // nginx current_weight
export const COL_EW = 2; // nginx effective_weight
export const COL_ACTIVE = 3; // requests in flight
export const COL_EST = 4; // Peak-EWMA RTT estimate, ms
export const COL_STAMP = 5; // time of the last estimate update, ms
export const COL_FAILS = 6; // nginx fails
export const COL_CHECKED = 7; // nginx checked, ms
export const COL_ACCESSED = 8; // nginx accessed, ms
export const COL_AVG_RTT = 9; // latency_aware / dynamic weights: smoothed RTT, ms
export const COL_SAMPLES = 10; // completed requests with an RTT
export const COL_ADDED_AT = 11; // when the member was added or became available again (slow start), ms
export const COL_DYN = 12; // dynamic weight factor in [0.1, 1]
export const COL_PICKS = 13; // picks handed out
export const COL_FAILURES = 14; // completions with ok: false
export const COL_BASE_WEIGHT = 15; // the endpoint's configured weight
export const COL_LOAD_WEIGHT = 16; // weight from load reports (gRPC A58), 0 = none yet
export const COL_LOAD_AT = 17; // time of the last load report, ms
export const COL_LOAD_SINCE = 18; // start of the current run of non-expired reports (blackout), ms
export const COLS = 24;

export interface PickContext {
  /** Request key for hash-based policies (and keyed priority and locality choice): a string or its bytes. */
  key?: string | Uint8Array;
  /** Member ids not to pick (retry on a different member). */
  exclude?: ReadonlySet<string>;
}

/**
 * One membership version. `pick` returns a row of the state table, or -1 when nothing is eligible. `now` is the
 * clock reading the Balancer took for this pick, or NaN when it took none (reading the clock costs more than a
 * whole round-robin pick): a picker that needs the time then calls `env.now()`.
 */
export interface Picker {
  /** Rows eligible for picking, in member order. */
  readonly rows: Int32Array;
  pick(ctx: PickContext | undefined, now: number): number;
}

/** Per-member numbers, column-major: column c of row r is `f[c * cap + r]`. */
export class StateTable {
  declare readonly cap: number;
  /** Byte offset in WASM memory, or -1 for a JS-heap table. */
  declare readonly ptr: number;
  declare private arr: Float64Array;

  declare readonly n: number;
  declare private readonly wasm: WasmHandle | null;

  constructor(n: number, wasm: WasmHandle | null) {
    this.n = n;
    this.wasm = wasm;
    this.cap = Math.max(n, 1);
    if (wasm !== null) {
      this.ptr = wasm.mem.alloc(this.cap * COLS * 8);
      this.arr = new Float64Array(wasm.mem.memory.buffer, this.ptr, this.cap * COLS);
      this.arr.fill(0);
    } else {
      this.ptr = -1;
      this.arr = new Float64Array(this.cap * COLS);
    }
  }

  /**
   * The current view, re-created after the WASM memory grew (a grow empties the views of the old buffer, as
   * core/memory.ts `detached` tells; only a WASM table's view can empty). Re-read after any allocation.
   */
  get f(): Float64Array {
    if (this.arr.length === 0) this.arr = new Float64Array(this.wasm!.mem.memory.buffer, this.ptr, this.cap * COLS);
    return this.arr;
  }

  get(col: number, row: number): number {
    return this.f[col * this.cap + row]!;
  }

  set(col: number, row: number, v: number): void {
    this.f[col * this.cap + row] = v;
  }

  /** Copies every column of `row` in `from` to `toRow` here. */
  copyRow(from: StateTable, row: number, toRow: number): void {
    const a = from.f;
    const b = this.f;
    for (let c = 0; c < COLS; c++) b[c * this.cap + toRow] = a[c * from.cap + row]!;
  }

  free(): void {
    if (this.wasm !== null && this.ptr >= 0) this.wasm.mem.release(this.ptr);
  }
}

/** Rows of `rows` not in `exclude`, written to `scratch`; returns how many. */
export function filterExcluded(
  rows: Int32Array,
  ids: readonly string[],
  exclude: ReadonlySet<string>,
  scratch: Int32Array,
): number {
  let m = 0;
  for (let k = 0; k < rows.length; k++) {
    const r = rows[k]!;
    if (!exclude.has(ids[r]!)) scratch[m++] = r;
  }
  return m;
}

/** What a policy sees of its Balancer. `table` and `ids` are replaced (never mutated) on membership changes. */
export interface PolicyEnv {
  readonly table: StateTable;
  /** Member id of each row. */
  readonly ids: readonly string[];
  /** The member of each row (policies that talk to members, such as prequal's probes, need the address). */
  readonly members: readonly Endpoint[];
  /** The injected clock, for policies with timers of their own (prequal's probe timeouts). */
  readonly clock: Clock;
  readonly random: Random;
  /** The injected clock, ms. */
  now(): number;
  /** Set when the policy should run its WASM functions (backend 'wasm'); null for the pure-TS twin. */
  readonly wasm: WasmHandle | null;
}

/**
 * What a publication that built no picker passes to `releaseSlots` (priority routing with no member to pick, e.g.
 * panicMode 'fail' and none healthy): empty like the set of close() and setPolicy, but the policy stays installed.
 */
export const NONE_BUILT: ReadonlySet<string> = new Set();

/**
 * A balancing policy: builds pickers and learns from completions. The Balancer keeps COL_ACTIVE, COL_PICKS,
 * COL_FAILURES, COL_WEIGHT and COL_BASE_WEIGHT; a policy owns the other columns it uses.
 */
export interface Policy {
  readonly name: string;
  /** The policy learns from RTTs: the Balancer then times every pick (otherwise only when someone listens). */
  readonly usesRtt?: boolean;
  /** Run-time weights (slow start, dynamic weights, load reports), applied by the Balancer to COL_WEIGHT. */
  readonly weighting?: Weighting;
  /**
   * Builds the picker over `rows`. With priority levels or localities the Balancer builds one picker per
   * subset, all alive at once: `slot` names the subset ('' or absent for the whole set; stable across
   * rebuilds), and a picker built for a slot replaces only the previous picker of that slot.
   */
  build(rows: Int32Array, env: PolicyEnv, slot?: string): Picker;
  /**
   * After a publication: the slots built in it (`NONE_BUILT` when it built none); state kept for any other slot
   * may be freed. Any other empty set: the Balancer is done with the policy (close(), or setPolicy replaced it)
   * until it installs the policy again.
   */
  releaseSlots?(keep: ReadonlySet<string>): void;
  /**
   * The membership changed: `env.table` is new, surviving rows were copied by id, `added` rows are zeroed.
   * Also called when the policy is installed by `setPolicy`, with every row added (its columns zeroed).
   */
  onMembership?(env: PolicyEnv, added: readonly number[], now: number): void;
  /** A pick was handed out (after COL_ACTIVE was incremented). */
  onStart?(env: PolicyEnv, row: number, now: number): void;
  /**
   * A pick of this install of the policy completed (after COL_ACTIVE was decremented); a pick issued before
   * the last `setPolicy` feeds no policy, not even this object installed again. `rttMs` is NaN when not measured; `now` is the clock
   * reading at the completion, NaN when the Balancer did not read it (the caller gave `rttMs` and no listener
   * reads times): a policy that needs the time then calls `env.now()`; `status`
   * is the response status, undefined when there was none (a connection-level failure when `ok` is false).
   */
  onDone?(env: PolicyEnv, row: number, ok: boolean, rttMs: number, now: number, status?: number): void;
  /** Extra per-member fields for `stats()`. */
  stats?(env: PolicyEnv, row: number, now: number): Record<string, number>;
  /** True if the weights the policy picks with changed since the last build (slow start, dynamic weights). */
  weightsChanged?(env: PolicyEnv, now: number): boolean;
}

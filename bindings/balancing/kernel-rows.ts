// The eligible rows as a policy's WASM kernel reads them (latency_aware's latencyAwareScan in
// assembly/latency-aware.ts, weighted_round_robin's swrrStep in assembly/weighted-round-robin.ts). Under the
// 'wasm' backend a picker whose set has at least the kernel's measured crossover of members copies its rows
// once into the core's linear memory and runs the kernel over the state table in place; smaller sets (where the
// JS→WASM call costs more than it saves) and the 'js' backend run the TS twin. Excluded members (ctx.exclude)
// reach either as a byte mask over rows, staged in the core's io area for each WASM call. The copied rows are
// freed by `release()` (the policy calls it when it replaces the picker) or, failing that, when the picker is
// collected (core/memory.ts TableRegion).
import type { WasmHandle } from '../core/core-wasm.js';
import { TableRegion } from '../core/memory.js';
import type { PolicyEnv } from './picker.js';

export class KernelRows {
  /** The core the kernel runs in (rows copied), or null: run the TS twin (also after `release()`). */
  wasm: WasmHandle | null = null;
  /** Byte offset of the rows (i32 each) in WASM memory; -1 without `wasm`. */
  ptr = -1;
  private readonly region: TableRegion | null = null;
  private readonly excluded: Uint8Array;

  constructor(
    readonly rows: Int32Array,
    private readonly env: PolicyEnv,
    wasmMinMembers: number,
  ) {
    this.excluded = new Uint8Array(env.table.cap);
    const w = env.wasm;
    if (w !== null && rows.length >= wasmMinMembers) {
      this.wasm = w;
      this.ptr = w.mem.alloc(rows.length * 4);
      new Int32Array(w.mem.memory.buffer, this.ptr, rows.length).set(rows);
      this.region = new TableRegion(this);
      this.region.replace(w.mem, this.ptr);
    }
  }

  /** 1 at each row whose member is in `exclude`, or null when nothing is (one reused array). */
  mask(exclude: ReadonlySet<string> | undefined): Uint8Array | null {
    if (exclude === undefined || exclude.size === 0) return null;
    const m = this.excluded;
    const rows = this.rows;
    const ids = this.env.ids;
    m.fill(0);
    for (let k = 0; k < rows.length; k++) if (exclude.has(ids[rows[k]!]!)) m[rows[k]!] = 1;
    return m;
  }

  /** `mask` copied into the io area of `wasm` for one kernel call: its offset, 0 for none. */
  stage(mask: Uint8Array | null): number {
    if (mask === null) return 0;
    const w = this.wasm!;
    const p = w.io(mask.length);
    w.mem.u8.set(mask, p);
    return p;
  }

  /** Frees the rows copied into WASM memory now; later picks run the TS twin. */
  release(): void {
    this.region?.free();
    this.wasm = null;
    this.ptr = -1;
  }
}

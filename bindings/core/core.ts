// The seam between the API and an implementation of the algorithms: `Core` is implemented twice, by the
// WebAssembly module (core-wasm.ts) and by pure TypeScript (core-js.ts), with identical outputs. The ring
// layout (`RingTable`) and its lookup (`ringIndex`, twin of assembly/ring.ts `lookupIndex`) live here because
// HashRing and the ketama continuum share them; the sort and bucket table are in radix.ts.
import { align16, detached, type WasmMemory } from './memory.js';
import { lookupBits, tableBits } from './radix.js';

export type Backend = 'wasm' | 'js';
export type RingHash = 'xxh32' | 'xxh64';

/** What a ring is built from: ids in ascending `<` order, points per id, the label hash and its seed. */
export interface RingSpec {
  ids: readonly string[];
  counts: readonly number[];
  hash: RingHash;
  seedHi: number;
  seedLo: number;
}

/**
 * A built ring table: sorted points, the member index of each point, and the bucket table indexed by the
 * top `bits` bits of a hash. For the WASM core the arrays are views of linear memory: call `sync()`
 * (cheap) before reading them, since a memory grow replaces the buffer. The region at `ptr` (0 and `mem`
 * null for the TS core) belongs to the router that built the table, which frees it (core/memory.ts TableRegion).
 */
export class RingTable {
  declare readonly total: number;
  /** Bits of the bucket table: tableBits when built, lookupBits once compacted (compactTable). */
  declare bits: number;
  /** Bytes of the region (or arrays) holding the table. */
  declare readonly byteLength: number;
  declare readonly mem: WasmMemory | null;
  declare readonly ptr: number;
  declare points: Uint32Array;
  declare members: Uint16Array;
  declare table: Uint32Array;

  constructor(
    total: number,
    bits: number,
    mem: WasmMemory | null,
    ptr: number,
    points: Uint32Array,
    members: Uint16Array,
    table: Uint32Array,
  ) {
    this.total = total;
    this.bits = bits;
    this.byteLength = total * 6 + ((1 << bits) + 1) * 4;
    this.mem = mem;
    this.ptr = ptr;
    this.points = points;
    this.members = members;
    this.table = table;
  }

  /**
   * A region for `total` points allocated in `mem`, for a WASM build to fill at `pointsPtr`, `membersPtr` and
   * `tablePtr`; its views are made by the first `sync()` (call it once the build is done).
   */
  static allocate(mem: WasmMemory, total: number): RingTable {
    const bits = tableBits(total);
    const ptr = mem.alloc(align16(total * 6) + ((1 << bits) + 1) * 4);
    return new RingTable(total, bits, mem, ptr, new Uint32Array(0), new Uint16Array(0), new Uint32Array(0));
  }

  get pointsPtr(): number {
    return this.ptr;
  }
  get membersPtr(): number {
    return this.ptr + this.total * 4;
  }
  get tablePtr(): number {
    return align16(this.ptr + this.total * 6);
  }

  /** Makes the views, or re-creates them after a grow (memory.ts `detached`; total > 0, unsynced views are empty). */
  sync(): void {
    const mem = this.mem;
    if (mem === null || !detached(this.points)) return;
    const buf = mem.memory.buffer;
    this.points = new Uint32Array(buf, this.pointsPtr, this.total);
    this.members = new Uint16Array(buf, this.membersPtr, this.total);
    this.table = new Uint32Array(buf, this.tablePtr, (1 << this.bits) + 1);
  }
}

/**
 * A built table at tableBits becomes the lookup table at lookupBits, in place: entry t of the smaller table is
 * entry t << d of the larger (the first point of the same hash), entry 2^to becomes entry 2^bits (total). Run on
 * every table built (`built`) once HashRing's extras are registered (switchyard's HashRing always has them):
 * a switchyard/lite page without them keeps the larger table, with the same answers.
 */
function compactTable(t: RingTable): void {
  const to = lookupBits(t.total);
  const d = t.bits - to;
  if (d > 0) {
    const table = t.table;
    for (let i = 0; i <= 1 << to; i++) table[i] = table[i << d]!;
    t.bits = to;
    t.table = table.subarray(0, (1 << to) + 1);
  }
}

let onBuilt: ((t: RingTable) => void) | undefined;

/** Makes every table built afterwards compact (compactTable). */
export function setTableCompaction(): void {
  onBuilt = compactTable;
}

/** `t` once built and synced, compacted when that is registered. */
export function built(t: RingTable): RingTable {
  onBuilt?.(t);
  return t;
}

/** Index of the first point >= h (wrapping to 0); total must be > 0. Shared by every lookup in TS. */
export function ringIndex(points: Uint32Array, table: Uint32Array, shift: number, total: number, h: number): number {
  const t = h >>> shift;
  let i = table[t]!;
  const end = table[t + 1]!;
  while (i < end && points[i]! < h) i++;
  return i === total ? 0 : i;
}

/**
 * The ring family's algorithms. The WASM core's xxh64 (`xxh64`, `xxh64Hi`, rings with hash 'xxh64') is in the
 * ring-batch module: a TypeError until core-wasm.ts `setXxh64` gives it (registerRingExtras(), xxh64()).
 */
export interface Core {
  readonly kind: Backend;
  xxh32(bytes: Uint8Array, seed: number): number;
  xxh64(bytes: Uint8Array, seed: bigint): bigint;
  /** Upper 32 bits of xxh64. */
  xxh64Hi(bytes: Uint8Array, seedHi: number, seedLo: number): number;
  buildRing(spec: RingSpec): RingTable;
}

/**
 * HashRing's batch lookups in WebAssembly (getManyByHash, getManyBytes, and the one pass of getMany and group),
 * registered by hashing/ring.ts `registerRingExtras` so that a switchyard/lite page that does not need them does
 * not carry them; without them, and on the pure-TS core, HashRing loops its single lookup in TS.
 */
export interface RingBatch {
  /** out[i] = member index for hashes[i]; t.total > 0, over `members` members. */
  lookupMany(t: RingTable, members: number, hashes: Uint32Array, out: Uint32Array): void;
  // The key hash is `kind` (0 xxh32, 1 xxh64) with the seed as an i64 (core-wasm.ts `seedI64`).
  /** Keys as bytes back to back, offsets of length count + 1; out[i] = member index of key i. */
  lookupManyBytes(
    t: RingTable,
    kind: number,
    seed: bigint,
    bytes: Uint8Array,
    offsets: Uint32Array,
    out: Uint32Array,
  ): void;
  /** out[i] = member index of keys[i] (validated by the caller). */
  lookupKeys(t: RingTable, kind: number, seed: bigint, keys: readonly (string | Uint8Array)[], out: Uint32Array): void;
  /** Frees what the batch built for `t` (its direct table): `t` was replaced. */
  release(t: RingTable): void;
}

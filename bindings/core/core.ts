// The seam between the API and an implementation of the algorithms: `Core` is implemented twice, by the
// WebAssembly module (core-wasm.ts) and by pure TypeScript (core-js.ts), with identical outputs.
import type { WasmMemory } from './memory.js';

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
 * (cheap) before reading them, since a memory grow replaces the buffer.
 */
export class RingTable {
  points: Uint32Array;
  members: Uint16Array;
  table: Uint32Array;
  gen: number;

  constructor(
    readonly total: number,
    readonly bits: number,
    readonly mem: WasmMemory | null,
    readonly ptr: number,
    points: Uint32Array,
    members: Uint16Array,
    table: Uint32Array,
  ) {
    this.points = points;
    this.members = members;
    this.table = table;
    this.gen = mem === null ? 0 : mem.gen;
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

  /** Re-creates the views if the memory was grown since they were made. */
  sync(): void {
    const mem = this.mem;
    if (mem === null || this.gen === mem.gen) return;
    const buf = mem.memory.buffer;
    this.points = new Uint32Array(buf, this.pointsPtr, this.total);
    this.members = new Uint16Array(buf, this.membersPtr, this.total);
    this.table = new Uint32Array(buf, this.tablePtr, (1 << this.bits) + 1);
    this.gen = mem.gen;
  }

  /** Bytes held by the points, member indices and bucket table. */
  get byteLength(): number {
    return this.total * 6 + ((1 << this.bits) + 1) * 4;
  }
}

export function align16(n: number): number {
  return Math.ceil(n / 16) * 16;
}

/** Table bits for `total` points: the largest power of two not above the point count (at least 2). */
export function tableBits(total: number): number {
  return Math.max(1, Math.floor(Math.log2(Math.max(total, 1))));
}

/**
 * Stable LSD radix sort of (key, value) pairs on the unsigned 32-bit key, 11 + 11 + 10 bits: the pure-TS twin
 * of the sorts in assembly/ (equal keys keep their input order). Returns the sorted arrays (which may be the
 * given ones or new ones).
 */
export function radixSortPairs<V extends Uint16Array | Uint32Array>(keys: Uint32Array, vals: V): [Uint32Array, V] {
  const total = keys.length;
  let k1: Uint32Array = keys;
  let v1 = vals;
  let k2: Uint32Array = new Uint32Array(total);
  let v2 = (vals instanceof Uint16Array ? new Uint16Array(total) : new Uint32Array(total)) as V;
  const hist = new Uint32Array(3 * 2048);
  for (let i = 0; i < total; i++) {
    const v = k1[i]!;
    hist[v & 2047]!++;
    hist[2048 + ((v >>> 11) & 2047)]!++;
    hist[4096 + (v >>> 22)]!++;
  }
  for (let pass = 0; pass < 3; pass++) {
    const base = pass * 2048;
    let sum = 0;
    for (let d = 0; d < 2048; d++) {
      const c = hist[base + d]!;
      hist[base + d] = sum;
      sum += c;
    }
    const shift = pass * 11;
    for (let i = 0; i < total; i++) {
      const v = k1[i]!;
      const pos = hist[base + ((v >>> shift) & 2047)]!++;
      k2[pos] = v;
      v2[pos] = v1[i]!;
    }
    [k1, k2] = [k2, k1];
    [v1, v2] = [v2, v1];
  }
  return [k1, v1];
}

/** The bucket table over sorted points: entry t is the index of the first point >= t << (32 - bits). */
export function bucketTable(points: Uint32Array, bits: number): Uint32Array {
  const total = points.length;
  const size = 2 ** bits;
  const table = new Uint32Array(size + 1);
  const step = 2 ** (32 - bits);
  let j = 0;
  for (let t = 0; t < size; t++) {
    const bound = t * step;
    while (j < total && points[j]! < bound) j++;
    table[t] = j;
  }
  table[size] = total;
  return table;
}

/** Writes `x` in decimal ASCII into `buf` at `at` (the vnode index of a label); returns the digits written. */
export function writeDecimal(buf: Uint8Array, at: number, x: number): number {
  let nd = 1;
  for (let y = x; y >= 10; y = Math.floor(y / 10)) nd++;
  for (let d = nd; d > 0; d--, x = Math.floor(x / 10)) buf[at + d - 1] = 0x30 + (x % 10);
  return nd;
}

/** Index of the first point >= h (wrapping to 0); total must be > 0. Shared by every lookup in TS. */
export function ringIndex(points: Uint32Array, table: Uint32Array, shift: number, total: number, h: number): number {
  const t = h >>> shift;
  let i = table[t]!;
  const end = table[t + 1]!;
  while (i < end && points[i]! < h) i++;
  return i === total ? 0 : i;
}

export interface Core {
  readonly kind: Backend;
  xxh32(bytes: Uint8Array, seed: number): number;
  xxh64(bytes: Uint8Array, seed: bigint): bigint;
  /** Upper 32 bits of xxh64. */
  xxh64Hi(bytes: Uint8Array, seedHi: number, seedLo: number): number;
  buildRing(spec: RingSpec): RingTable;
  freeRing(t: RingTable): void;
  /** out[i] = member index for hashes[i]; t.total > 0. */
  lookupMany(t: RingTable, hashes: Uint32Array, out: Uint32Array): void;
  /** Keys as bytes back to back, offsets of length count + 1; out[i] = member index of key i. */
  lookupManyBytes(t: RingTable, spec: RingSpec, bytes: Uint8Array, offsets: Uint32Array, out: Uint32Array): void;
}

// The WebAssembly core: `createWasmCore(instance)` turns an instance of build/switchyard.wasm into a
// `Core`. It knows nothing of how the instance was obtained (inlined bytes, a URL, a caller's module).
import { type Core, type RingSpec, RingTable, align16, tableBits } from './core.js';
import { WasmMemory } from './memory.js';
import { utf8 } from './utf8.js';

interface Exports {
  memory: WebAssembly.Memory;
  heapBase(): number;
  xxh32(ptr: number, len: number, seed: number): number;
  xxh64(ptr: number, len: number, seed: bigint): bigint;
  xxh64Hi(ptr: number, len: number, seedLo: number, seedHi: number): number;
  ringScratchBytes(total: number): number;
  ringBuild(
    ids: number,
    idOffsets: number,
    counts: number,
    n: number,
    kind: number,
    seed: bigint,
    label: number,
    scratch: number,
    points: number,
    members: number,
    table: number,
    bits: number,
  ): number;
  ringLookupMany(
    points: number,
    members: number,
    table: number,
    n: number,
    bits: number,
    hashes: number,
    count: number,
    out: number,
  ): void;
  ringLookupManyBytes(
    points: number,
    members: number,
    table: number,
    n: number,
    bits: number,
    kind: number,
    seed: bigint,
    bytes: number,
    offsets: number,
    count: number,
    out: number,
  ): void;
}

/** Lookups per WASM call in batch paths: bounds the I/O scratch (8 bytes per key). */
const BATCH = 65536;

/**
 * Raw access for feature modules that add their own exports to the core (one per algorithm file):
 * the instance's exports, the memory owner, and `io(bytes)`, a reusable region for call inputs/outputs
 * (valid until the next `io` call; re-read `mem.u8`/`mem.u32` after calling it, it may grow memory).
 */
export interface WasmHandle {
  readonly exports: Record<string, unknown>;
  readonly mem: WasmMemory;
  io(bytes: number): number;
}

export function createWasmHandle(instance: WebAssembly.Instance): WasmHandle {
  const exports = instance.exports as Record<string, unknown>;
  const mem = new WasmMemory(exports.memory as WebAssembly.Memory, (exports.heapBase as () => number)());
  let ioPtr = 0;
  let ioBytes = 0;
  return {
    exports,
    mem,
    io(bytes: number): number {
      if (bytes > ioBytes) {
        if (ioPtr !== 0) mem.release(ioPtr);
        ioBytes = Math.max(bytes, 4096, ioBytes * 2);
        ioPtr = mem.alloc(ioBytes);
      }
      return ioPtr;
    },
  };
}

export function createWasmCore(handle: WasmHandle): Core {
  const x = handle.exports as unknown as Exports;
  const { mem, io } = handle;
  const put = (b: Uint8Array): number => {
    const p = io(b.length);
    mem.u8.set(b, p);
    return p;
  };
  const seed64 = (hi: number, lo: number): bigint => (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0);

  function buildRing(spec: RingSpec): RingTable {
    const n = spec.ids.length;
    const encoded = spec.ids.map((id) => utf8(id));
    let idBytes = 0;
    let maxId = 0;
    let total = 0;
    for (let m = 0; m < n; m++) {
      idBytes += encoded[m]!.length;
      maxId = Math.max(maxId, encoded[m]!.length);
      total += spec.counts[m]!;
    }
    const bits = tableBits(total);
    const outBytes = align16(total * 6) + ((1 << bits) + 1) * 4;
    const out = mem.alloc(outBytes);
    const tmpIds = align16(idBytes);
    const tmpOffs = align16((n + 1) * 4);
    const tmpCounts = align16(n * 4);
    const tmpLabel = align16(maxId + 11);
    const tmp = mem.alloc(tmpIds + tmpOffs + tmpCounts + tmpLabel + x.ringScratchBytes(total));
    const { u8, u32 } = mem; // views are current after the last alloc
    let o = 0;
    const offs = (tmp + tmpIds) >>> 2;
    for (let m = 0; m < n; m++) {
      u8.set(encoded[m]!, tmp + o);
      u32[offs + m] = o;
      o += encoded[m]!.length;
      u32[((tmp + tmpIds + tmpOffs) >>> 2) + m] = spec.counts[m]!;
    }
    u32[offs + n] = o;
    const pointsPtr = out;
    const membersPtr = out + total * 4;
    const tablePtr = align16(out + total * 6);
    x.ringBuild(
      tmp,
      tmp + tmpIds,
      tmp + tmpIds + tmpOffs,
      n,
      spec.hash === 'xxh64' ? 1 : 0,
      seed64(spec.seedHi, spec.seedLo),
      tmp + tmpIds + tmpOffs + tmpCounts,
      tmp + tmpIds + tmpOffs + tmpCounts + tmpLabel,
      pointsPtr,
      membersPtr,
      tablePtr,
      bits,
    );
    mem.release(tmp);
    const buf = mem.memory.buffer;
    return new RingTable(
      total,
      bits,
      mem,
      out,
      new Uint32Array(buf, pointsPtr, total),
      new Uint16Array(buf, membersPtr, total),
      new Uint32Array(buf, tablePtr, (1 << bits) + 1),
    );
  }

  return {
    kind: 'wasm',
    xxh32: (b, seed) => x.xxh32(put(b), b.length, seed) >>> 0,
    xxh64: (b, seed) => BigInt.asUintN(64, x.xxh64(put(b), b.length, BigInt.asIntN(64, seed))),
    // upper half only, seed as two u32: no BigInt on the ring's per-key path
    xxh64Hi: (b, hi, lo) => x.xxh64Hi(put(b), b.length, lo, hi) >>> 0,
    buildRing,
    freeRing: (t) => mem.release(t.ptr),
    lookupMany(t, hashes, out) {
      const count = hashes.length;
      for (let k = 0; k < count; k += BATCH) {
        const c = Math.min(BATCH, count - k);
        const p = io(c * 8);
        mem.u32.set(hashes.subarray(k, k + c), p >>> 2);
        x.ringLookupMany(t.pointsPtr, t.membersPtr, t.tablePtr, t.total, t.bits, p, c, p + c * 4);
        out.set(mem.u32.subarray((p >>> 2) + c, (p >>> 2) + 2 * c), k);
      }
    },
    lookupManyBytes(t, spec, bytes, offsets, out) {
      const count = offsets.length - 1;
      const need = align16(bytes.length) + align16(offsets.length * 4) + count * 4;
      const p = io(need);
      const offPtr = p + align16(bytes.length);
      const outPtr = offPtr + align16(offsets.length * 4);
      mem.u8.set(bytes, p);
      mem.u32.set(offsets, offPtr >>> 2);
      x.ringLookupManyBytes(
        t.pointsPtr,
        t.membersPtr,
        t.tablePtr,
        t.total,
        t.bits,
        spec.hash === 'xxh64' ? 1 : 0,
        BigInt.asIntN(64, seed64(spec.seedHi, spec.seedLo)),
        p,
        offPtr,
        count,
        outPtr,
      );
      out.set(mem.u32.subarray(outPtr >>> 2, (outPtr >>> 2) + count));
    },
  };
}

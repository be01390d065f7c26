// The binding of assembly/ring-batch.ts: HashRing's batch lookups in WebAssembly (core.ts `RingBatch`), registered
// by hashing/ring.ts `registerRingExtras`, and the ring family's xxh64 (core-wasm.ts `Xxh64Exports`: xxh64, the
// points of xxh64 rings), which registerRingExtras() and xxh64() give the WASM core (`useRingBatchXxh64`).
// ring-batch.wasm is instantiated once per ring instance, over its memory (its own memory is imported), or a
// caller's module that holds every family (`init(source)`) serves them itself. Batches by hash go through a direct
// table once a ring has looked up a quarter of the table's entries by batch (building it then costs less than it
// saves), freed with the ring's table (`release`) or when that is collected; batches by key hash the keys first
// (xxh32 in the ring module, xxh64 here), then look those hashes up.
import type { RingBatch, RingTable } from './core.js';
import {
  batchBytes,
  batchKeys,
  batchU32,
  type RingExports,
  setXxh64,
  type WasmHandle,
  type Xxh64Exports,
} from './core-wasm.js';
import { decodeHex } from './hex.js';
import type { WasmMemory } from './memory.js';
import { RING_BATCH_WASM_HEX } from './wasm-ring-batch.generated.js';

/** The exports of ring-batch.wasm (assembly/entries/ring-batch.ts). */
interface BatchExports extends Xxh64Exports {
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
  ringDirectBuild(points: number, members: number, n: number, direct: number, dbits: number, wide: boolean): void;
  ringLookupDirect(
    points: number,
    members: number,
    table: number,
    n: number,
    bits: number,
    direct: number,
    dbits: number,
    wide: boolean,
    list: number,
    hashes: number,
    count: number,
    out: number,
  ): void;
}

/** The most bytes a ring's direct table may take (assembly/ring-batch.ts). */
export const DIRECT_MAX_BYTES = 2 * 1024 * 1024;
const LIST_BYTES = 1024; // ringLookupDirect's list of 256 u32, ahead of the table

/** A ring's direct table: 2^bits entries (u16 if wide, else u8), at ptr once built; `seen`: hashes looked up. */
interface Direct {
  readonly bits: number;
  readonly wide: boolean;
  ptr: number;
  seen: number;
}

/**
 * The entry bits of the direct table of a ring of `total` points over `members` members: 16-32 entries per
 * point, at least 4 (about 80 % of entries direct) under the byte cap, else 0 (none: over 2^18 points at u16,
 * as for 1700 members of 160).
 */
export function directBits(total: number, members: number): number {
  const lg = Math.ceil(Math.log2(total));
  const bits = Math.min(lg + 4, Math.log2(DIRECT_MAX_BYTES) - (members > 255 ? 1 : 0));
  return bits >= lg + 2 && members < 65536 ? bits : 0;
}

const directs = new FinalizationRegistry<{ mem: WasmMemory; ptr: number }>((r) => r.mem.release(r.ptr));
const instances = new WeakMap<WasmHandle, BatchExports>();

/** The ring-batch module's exports over the ring instance `handle` (module header), instantiated once. */
export function ringBatchExports(handle: WasmHandle): BatchExports {
  let x = instances.get(handle);
  if (x === undefined) {
    x = (typeof handle.exports.ringLookupDirect === 'function'
      ? handle.exports
      : new WebAssembly.Instance(new WebAssembly.Module(decodeHex(RING_BATCH_WASM_HEX)), {
          env: { memory: handle.mem.memory },
        }).exports) as unknown as BatchExports;
    instances.set(handle, x);
  }
  return x;
}

/** Gives the WASM core its xxh64 (core-wasm.ts `setXxh64`), from the ring-batch module. */
export function useRingBatchXxh64(): void {
  setXxh64(ringBatchExports);
}

/** HashRing's batch lookups over the ring instance `handle` (module header). */
export function createWasmBatch(handle: WasmHandle): RingBatch {
  const { mem } = handle;
  const x = ringBatchExports(handle);
  const ring = handle.exports as unknown as RingExports;
  const tables = new WeakMap<RingTable, Direct | null>();
  // keys hashed into `out`, then looked up there
  const bytesCall =
    (t: RingTable, kind: number, seed: bigint) =>
    (b: number, o: number, c: number, r: number): void => {
      (kind === 1 ? x.xxh64HiKeys : ring.xxh32Keys)(seed, b, o, c, r);
      x.ringLookupMany(t.pointsPtr, t.membersPtr, t.tablePtr, t.total, t.bits, r, c, r);
    };

  function directOf(t: RingTable, members: number, count: number): Direct | null {
    let d = tables.get(t);
    if (d === undefined) {
      const bits = directBits(t.total, members);
      tables.set(t, (d = bits === 0 ? null : { bits, wide: members > 255, ptr: 0, seen: 0 }));
    }
    if (d === null || d.ptr !== 0 || (d.seen += count) < 2 ** (d.bits - 2)) return d;
    const ptr = mem.alloc(LIST_BYTES + (d.wide ? 2 : 1) * 2 ** d.bits);
    x.ringDirectBuild(t.pointsPtr, t.membersPtr, t.total, ptr + LIST_BYTES, d.bits, d.wide);
    d.ptr = ptr;
    directs.register(t, { mem, ptr }, d);
    return d;
  }

  return {
    lookupMany(t, members, hashes, out) {
      const d = directOf(t, members, hashes.length);
      batchU32(handle, hashes, out, (p, c, o) => {
        if (d === null || d.ptr === 0)
          x.ringLookupMany(t.pointsPtr, t.membersPtr, t.tablePtr, t.total, t.bits, p, c, o);
        else {
          const { ptr, bits, wide } = d;
          x.ringLookupDirect(
            t.pointsPtr,
            t.membersPtr,
            t.tablePtr,
            t.total,
            t.bits,
            ptr + LIST_BYTES,
            bits,
            wide,
            ptr,
            p,
            c,
            o,
          );
        }
      });
    },
    lookupManyBytes(t, kind, seed, bytes, offsets, out) {
      batchBytes(handle, bytes, offsets, out, bytesCall(t, kind, seed));
    },
    lookupKeys(t, kind, seed, keys, out) {
      batchKeys(handle, keys, out, bytesCall(t, kind, seed));
    },
    release(t) {
      const d = tables.get(t);
      tables.delete(t);
      if (d == null || d.ptr === 0) return;
      directs.unregister(d);
      mem.release(d.ptr);
    },
  };
}

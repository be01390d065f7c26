// The WebAssembly core: `createWasmCore(instance)` turns an instance of build/switchyard.wasm into a
// `Core`. It knows nothing of how the instance was obtained (inlined bytes, a URL, a caller's module).
import { type Core, type RingBatch, type RingSpec, RingTable } from './core.js';
import { WasmMemory, align16 } from './memory.js';
import { encoder, utf8Into } from './utf8.js';
import { decodeHex } from './hex.js';
import { RING_BATCH_WASM_HEX } from './wasm-ring-batch.generated.js';

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

/** Keys per WASM call in batch paths: bounds the I/O region. */
export const BATCH = 65536;

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

/**
 * One WASM batch over u32 inputs (hashes): copies up to BATCH of them at a time into the io region and lets
 * `call(input, count, out)` write one u32 per input; the results land in `out` from index 0.
 */
export function batchU32(
  h: WasmHandle,
  input: Uint32Array,
  out: Uint32Array,
  call: (input: number, count: number, out: number) => void,
): void {
  for (let k = 0; k < input.length; k += BATCH) {
    const c = Math.min(BATCH, input.length - k);
    const p = h.io(c * 8);
    h.mem.u32.set(input.subarray(k, k + c), p >>> 2);
    call(p, c, p + c * 4);
    out.set(h.mem.u32.subarray((p >>> 2) + c, (p >>> 2) + 2 * c), k);
  }
}

/**
 * One WASM batch over keys given as bytes back to back (key i is bytes[offsets[i] .. offsets[i + 1])): copies
 * up to BATCH keys at a time, offsets rebased to the chunk, and lets `call(bytes, offsets, count, out)` write
 * one u32 per key into `out`.
 */
export function batchBytes(
  h: WasmHandle,
  bytes: Uint8Array,
  offsets: Uint32Array,
  out: Uint32Array,
  call: (bytes: number, offsets: number, count: number, out: number) => void,
): void {
  const count = Math.max(0, offsets.length - 1);
  for (let k = 0; k < count; k += BATCH) {
    const c = Math.min(BATCH, count - k);
    const start = offsets[k]!;
    const end = offsets[k + c]!;
    const offAt = align16(end - start);
    const outAt = offAt + align16((c + 1) * 4);
    const p = h.io(outAt + c * 4);
    h.mem.u8.set(bytes.subarray(start, end), p);
    const u32 = h.mem.u32;
    const o = (p + offAt) >>> 2;
    for (let i = 0; i <= c; i++) u32[o + i] = offsets[k + i]! - start;
    call(p, p + offAt, c, p + outAt);
    out.set(h.mem.u32.subarray((p + outAt) >>> 2, ((p + outAt) >>> 2) + c), k);
  }
}

let putLength = 0;

/**
 * Copies one key (a string as UTF-8, or bytes; validated by the caller) into the io region with `pad` spare
 * bytes after it. Returns its pointer; its length is `putKeyLength()` until the next call.
 */
export function putKey(h: WasmHandle, key: string | Uint8Array, pad = 0): number {
  if (typeof key !== 'string') {
    const p = h.io(key.length + pad);
    h.mem.u8.set(key, p);
    putLength = key.length;
    return p;
  }
  const p = h.io(key.length * 3 + pad);
  putLength = utf8Into(h.mem.u8, p, key);
  return p;
}

export function putKeyLength(): number {
  return putLength;
}

const KEYS_PER_CALL = 4096;

/**
 * One WASM batch over keys (strings or bytes; validated by the caller), packed back to back with u32 offsets
 * into the io region KEYS_PER_CALL at a time; `call(bytes, offsets, count, out)` writes one u32 per key into `out`.
 * A chunk of strings is joined and encoded by one `encodeInto` (native, vectorized): when it is all ASCII
 * the offsets are the string lengths, which costs about half of encoding key by key (bench/ring.bench.ts,
 * 'group' suite); otherwise the chunk is written key by key.
 */
export function batchKeys(
  h: WasmHandle,
  keys: readonly (string | Uint8Array)[],
  out: Uint32Array,
  call: (bytes: number, offsets: number, count: number, out: number) => void,
): void {
  for (let start = 0; start < keys.length; start += KEYS_PER_CALL) {
    const count = Math.min(KEYS_PER_CALL, keys.length - start);
    let bound = 0;
    let chars = 0;
    for (let i = start; i < start + count; i++) {
      const k = keys[i]!;
      if (typeof k === 'string') chars += k.length;
      else bound += k.length;
    }
    const strings = bound === 0 && chars > 0 && allStrings(keys, start, count);
    bound += chars * 3;
    const offAt = align16(bound);
    const outAt = offAt + align16((count + 1) * 4);
    const p = h.io(outAt + count * 4);
    const { u8, u32 } = h.mem; // current after io()
    const offs = (p + offAt) >>> 2;
    let o = 0;
    if (strings && asciiInto(u8, p, keys as readonly string[], start, count, chars)) {
      for (let i = 0; i < count; i++) {
        u32[offs + i] = o;
        o += (keys[start + i] as string).length;
      }
    } else {
      for (let i = 0; i < count; i++) {
        u32[offs + i] = o;
        const k = keys[start + i]!;
        if (typeof k === 'string') o += utf8Into(u8, p + o, k);
        else {
          u8.set(k, p + o);
          o += k.length;
        }
      }
    }
    u32[offs + count] = o;
    call(p, p + offAt, count, p + outAt);
    out.set(h.mem.u32.subarray((p + outAt) >>> 2, ((p + outAt) >>> 2) + count), start);
  }
}

function allStrings(keys: readonly (string | Uint8Array)[], start: number, count: number): boolean {
  for (let i = start; i < start + count; i++) if (typeof keys[i] !== 'string') return false;
  return true;
}

/** Encodes keys[start .. start + count) joined at `at`; true if they were all ASCII (one byte per code unit). */
function asciiInto(u8: Uint8Array, at: number, keys: readonly string[], start: number, count: number, chars: number) {
  // `+=` builds a rope that encodeInto flattens once: measured ~25% faster than join('') on Node 20
  let s = '';
  for (let i = start; i < start + count; i++) s += keys[i]!;
  return encoder.encodeInto(s, u8.subarray(at, at + chars * 3)).written === chars;
}

/** Where `stageBuildInputs` put a table build's inputs, all inside one region at `ptr` (release it after the build). */
export interface BuildInputs {
  ptr: number;
  /** The items back to back: strings as UTF-8, bytes as given. */
  items: number;
  /** u32[n + 1]: where item i starts, relative to `items`, then the end. */
  offsets: number;
  /** u32[n]: one number per item (a point or digest count). */
  perItem: number;
  /** Room for the longest item plus 11 bytes (a separator and a decimal u32), where labels are written. */
  label: number;
  /** The build's own scratch. */
  scratch: number;
}

/**
 * Stages the inputs of a WASM table build (HashRing's and ketama's) in one region of `mem`: ids or label
 * prefixes written straight into linear memory, strings by `utf8Into` (no encoded copy per item).
 */
export function stageBuildInputs(
  mem: WasmMemory,
  items: readonly (string | Uint8Array)[],
  perItem: readonly number[],
  scratchBytes: number,
): BuildInputs {
  const n = items.length;
  let bound = 0;
  let longest = 0;
  for (const it of items) {
    const b = typeof it === 'string' ? it.length * 3 : it.length; // UTF-8: at most 3 bytes per code unit
    bound += b;
    longest = Math.max(longest, b);
  }
  const szItems = align16(bound);
  const szOffs = align16((n + 1) * 4);
  const szPer = align16(n * 4);
  const ptr = mem.alloc(szItems + szOffs + szPer + align16(longest + 11) + scratchBytes);
  const { u8, u32 } = mem; // views are current after the alloc
  const offs = (ptr + szItems) >>> 2;
  const per = (ptr + szItems + szOffs) >>> 2;
  let o = 0;
  for (let m = 0; m < n; m++) {
    const it = items[m]!;
    u32[offs + m] = o;
    if (typeof it === 'string') o += utf8Into(u8, ptr + o, it);
    else {
      u8.set(it, ptr + o);
      o += it.length;
    }
    u32[per + m] = perItem[m]!;
  }
  u32[offs + n] = o;
  const label = ptr + szItems + szOffs + szPer;
  return {
    ptr,
    items: ptr,
    offsets: ptr + szItems,
    perItem: ptr + szItems + szOffs,
    label,
    scratch: label + align16(longest + 11),
  };
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

  function buildRing(spec: RingSpec): RingTable {
    let total = 0;
    for (const c of spec.counts) total += c;
    const t = RingTable.allocate(mem, total);
    const s = stageBuildInputs(mem, spec.ids, spec.counts, x.ringScratchBytes(total));
    x.ringBuild(
      s.items,
      s.offsets,
      s.perItem,
      spec.ids.length,
      spec.hash === 'xxh64' ? 1 : 0,
      seedI64(spec.seedHi, spec.seedLo),
      s.label,
      s.scratch,
      t.pointsPtr,
      t.membersPtr,
      t.tablePtr,
      t.bits,
    );
    mem.release(s.ptr);
    t.sync();
    return t;
  }

  return {
    kind: 'wasm',
    xxh32: (b, seed) => x.xxh32(put(b), b.length, seed) >>> 0,
    xxh64: (b, seed) => BigInt.asUintN(64, x.xxh64(put(b), b.length, BigInt.asIntN(64, seed))),
    // upper half only, seed as two u32: no BigInt on the ring's per-key path
    xxh64Hi: (b, hi, lo) => x.xxh64Hi(put(b), b.length, lo, hi) >>> 0,
    buildRing,
  };
}

/** The exports of ring-batch.wasm (assembly/ring-batch.ts). */
interface BatchExports {
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

/**
 * HashRing's batch lookups (core.ts `RingBatch`): ring-batch.wasm instantiated over the ring instance's memory,
 * or the exports of a caller's module that holds every family (`init(source)`). By hash, a ring gets its direct
 * table (assembly/ring-batch.ts) once it has looked up a quarter of the table's entry count in batches, so that
 * building it costs less than it saves; it is freed with the ring's table (`release`), or when that is collected.
 */
export function createWasmBatch(handle: WasmHandle): RingBatch {
  const { mem } = handle;
  const x = (typeof handle.exports.ringLookupDirect === 'function'
    ? handle.exports
    : new WebAssembly.Instance(new WebAssembly.Module(decodeHex(RING_BATCH_WASM_HEX)), { env: { memory: mem.memory } })
        .exports) as unknown as BatchExports;
  const ring = handle.exports as unknown as Exports;
  const tables = new WeakMap<RingTable, Direct | null>();
  const bytesCall =
    (t: RingTable, kind: number, seed: bigint) =>
    (b: number, o: number, c: number, r: number): void =>
      ring.ringLookupManyBytes(t.pointsPtr, t.membersPtr, t.tablePtr, t.total, t.bits, kind, seed, b, o, c, r);

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

/** A seed given as two u32 halves, as the i64 a WASM export takes. */
export function seedI64(hi: number, lo: number): bigint {
  return BigInt.asIntN(64, (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0));
}

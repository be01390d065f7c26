// The WebAssembly core: `createWasmCore(handle)` turns an instance of the ring module (or of build/switchyard.wasm,
// every family) into a `Core`. It knows nothing of how the instance was obtained (inlined bytes, a URL, a
// caller's module). Its xxh64 is in the ring-batch module, reached through `setXxh64` (core/ring-batch.ts).
import { built, type Core, type RingSpec, RingTable } from './core.js';
import { WasmMemory, align16 } from './memory.js';
import { encoder, utf8Into } from './utf8.js';
import { needs } from '../util/validate.js';

/** The ring module's exports (assembly/entries/ring.ts): xxh32 and the build of xxh32 rings. */
export interface RingExports {
  memory: WebAssembly.Memory;
  heapBase(): number;
  xxh32(ptr: number, len: number, seed: number): number;
  ringScratchBytes(total: number): number;
  ringBuild(
    ids: number,
    idOffsets: number,
    counts: number,
    n: number,
    seed: bigint,
    label: number,
    scratch: number,
    points: number,
    members: number,
    table: number,
    bits: number,
  ): number;
  /** Sorts the points `ringPoints64` made in `scratch` into a ring table. */
  ringTable(scratch: number, total: number, points: number, members: number, table: number, bits: number): void;
  /** out[i] = xxh32 of key i (keys back to back, u32 offsets[count + 1]): a batch by key bytes' first pass. */
  xxh32Keys(seed: bigint, bytes: number, offsets: number, count: number, out: number): void;
}

/**
 * The ring family's xxh64, in the ring-batch module (assembly/entries/ring-batch.ts) so that a page whose rings
 * hash with xxh32 does not carry it: xxh64 itself, the points of an xxh64 ring (sorted by `ringTable`) and the
 * first pass of a batch by key bytes.
 */
export interface Xxh64Exports {
  xxh64(ptr: number, len: number, seed: bigint): bigint;
  xxh64Hi(ptr: number, len: number, seedLo: number, seedHi: number): number;
  ringPoints64(
    ids: number,
    idOffsets: number,
    counts: number,
    n: number,
    seed: bigint,
    label: number,
    scratch: number,
  ): number;
  xxh64HiKeys(seed: bigint, bytes: number, offsets: number, count: number, out: number): void;
}

let xxh64Of: ((h: WasmHandle) => Xxh64Exports) | null = null;

/**
 * Gives WASM cores their xxh64 (`Xxh64Exports` over a ring instance's memory: core/ring-batch.ts
 * `ringBatchExports`). registerRingExtras() and xxh64() set it; until then a WASM core's xxh64, xxh64Hi and
 * xxh64 ring builds throw.
 */
export function setXxh64(of: (h: WasmHandle) => Xxh64Exports): void {
  xxh64Of = of;
}

function noXxh64(): never {
  throw needs('xxh64', 'registerRingExtras()');
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
 * prefixes written straight into linear memory, strings by `utf8Into` (no encoded copy per item). `held` is the
 * build's table region, allocated first: freed if memory cannot grow for the inputs (memory.ts `alloc`).
 */
export function stageBuildInputs(
  mem: WasmMemory,
  items: readonly (string | Uint8Array)[],
  perItem: readonly number[],
  scratchBytes: number,
  held: number,
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
  const ptr = mem.alloc(szItems + szOffs + szPer + align16(longest + 11) + scratchBytes, held);
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
        const n = Math.max(bytes, 4096, ioBytes * 2);
        mem.release(ioPtr); // none yet: ioPtr 0, where no region starts
        // none held while allocating: after a failed grow the next call allocates again, never writing to the
        // region just freed (which another table may hold by then)
        ioPtr = ioBytes = 0;
        ioPtr = mem.alloc(n);
        ioBytes = n;
      }
      return ioPtr;
    },
  };
}

export function createWasmCore(handle: WasmHandle): Core {
  const x = handle.exports as unknown as RingExports;
  const { mem, io } = handle;
  const put = (b: Uint8Array): number => {
    const p = io(b.length);
    mem.u8.set(b, p);
    return p;
  };
  let x64: Xxh64Exports | undefined;
  const wide = (): Xxh64Exports => (x64 ??= (xxh64Of ?? noXxh64)(handle));

  function buildRing(spec: RingSpec): RingTable {
    const w = spec.hash === 'xxh64' ? wide() : null; // before allocating: it may throw
    let total = 0;
    for (const c of spec.counts) total += c;
    const t = RingTable.allocate(mem, total);
    const s = stageBuildInputs(mem, spec.ids, spec.counts, x.ringScratchBytes(total), t.ptr);
    const { items, offsets, perItem, label, scratch } = s;
    const seed = seedI64(spec.seedHi, spec.seedLo);
    if (w === null)
      x.ringBuild(
        items,
        offsets,
        perItem,
        spec.ids.length,
        seed,
        label,
        scratch,
        t.pointsPtr,
        t.membersPtr,
        t.tablePtr,
        t.bits,
      );
    else {
      w.ringPoints64(items, offsets, perItem, spec.ids.length, seed, label, scratch);
      x.ringTable(scratch, total, t.pointsPtr, t.membersPtr, t.tablePtr, t.bits);
    }
    mem.release(s.ptr);
    t.sync();
    return built(t);
  }

  return {
    kind: 'wasm',
    xxh32: (b, seed) => x.xxh32(put(b), b.length, seed) >>> 0,
    // the callee is read before its arguments: wide() runs before put()
    xxh64: (b, seed) => BigInt.asUintN(64, wide().xxh64(put(b), b.length, BigInt.asIntN(64, seed))),
    // upper half only, seed as two u32: no BigInt on the ring's per-key path
    xxh64Hi: (b, hi, lo) => wide().xxh64Hi(put(b), b.length, lo, hi) >>> 0,
    buildRing,
  };
}

/** A seed given as two u32 halves, as the i64 a WASM export takes. */
export function seedI64(hi: number, lo: number): bigint {
  return BigInt.asIntN(64, (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0));
}

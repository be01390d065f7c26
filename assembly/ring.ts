// Consistent-hash ring (Karger et al. 1997) with virtual nodes, in caller-sized linear-memory regions.
//
// Build: member m (members given in ascending id order) gets counts[m] points, point i being
// hash(`${id}-${i}`) (xxh32, or the upper 32 bits of xxh64; xxh32 of 10 labels that differ in their last digit
// shares every step but the last, `ringGenerate`). The ring module holds no xxh64, so that a page whose rings
// hash with xxh32 does not carry it: `ringBuild` builds xxh32 rings; an xxh64 ring's points are made by
// ring-batch.ts `ringPoints64` (in the ring-batch module, over the same memory), then sorted here by `ringTable`.
// Pairs (point, m) are sorted on the
// point (a counting sort on the table's top `bits` bits, then insertion sort per bucket; stable), so equal
// points stay in ascending id order. A table indexed by the top `bits` bits of a hash holds, for bucket t,
// the index of the first point >= t << (32 - bits).
// Lookup: first point >= hash, wrapping to point 0, scanning the bucket 4 points at a time with WASM SIMD
// (enabled for this module in asconfig.json): `get` runs its TS twin (bindings/core/core.ts `ringIndex`), batches
// run in the ring-batch module (ring-batch.ts), a batch by key bytes hashing its keys here first (`xxh32Keys`).
// No allocation: TS owns and sizes every region.
import { writeDecimal } from './label';
import { BUCKET_HIST_BYTES, BUCKET_SCRATCH_BYTES, bucketCount, bucketSortAndTable } from './radix';
import { xxh32, xxh32Last, xxh32Save, xxh64 } from './xxhash';

export const HASH_XXH32: u32 = 0;
export const HASH_XXH64: u32 = 1;

/** The label or key hash `kind` of bytes; `kind` is a constant wherever this is inlined, so a module carries only its hash. */
// @ts-ignore: decorator
@inline export function hashBytes(kind: u32, ptr: usize, len: usize, seed: u64): u32 {
  return kind == HASH_XXH64 ? <u32>(xxh64(ptr, len, seed) >> 32) : xxh32(ptr, len, <u32>seed);
}

/** Bytes of scratch that ringBuild needs for `total` points. */
export function ringScratchBytes(total: u32): usize {
  return (<usize>total << 4) + BUCKET_SCRATCH_BYTES;
}

/**
 * Writes the (point << 32 | member) values of ringBuild's inputs at `a` in member order, counted in `hist`.
 * Labels 10q .. 10q + 9 of a member differ only in their last byte, which xxh32 reads in its last step: the
 * steps before it run once per 10 labels (`xxh32Save`), and each label only that step, on its last word or
 * byte given in a register (`xxh32Last`), unless it is a stripe's (a length multiple of 16; then, as for
 * xxh64, the whole label is hashed).
 */
// @ts-ignore: decorator
@inline function ringGenerate(
  ids: usize,
  idOffsets: usize,
  counts: usize,
  n: u32,
  kind: u32,
  seed: u64,
  label: usize,
  a: usize,
  hist: usize,
): void {
  let k: u32 = 0;
  memory.fill(hist, 0, BUCKET_HIST_BYTES);
  for (let m: u32 = 0; m < n; m++) {
    const start = load<u32>(idOffsets + (<usize>m << 2));
    const pre: usize = load<u32>(idOffsets + (<usize>(m + 1) << 2)) - start + 1;
    memory.copy(label, ids + start, pre - 1);
    store<u8>(label + pre - 1, 0x2d); // '-'
    const count = load<u32>(counts + (<usize>m << 2));
    let end = label; // the label's end
    let last: u32 = 0; // the label's last 4 bytes, with the last digit 0 (10q); read, unused, if it is shorter
    let fast = false;
    for (let i: u32 = 0, j: u32 = 0; i < count; i++, j = j < 9 ? j + 1 : 0) {
      if (j == 0) {
        end = label + pre + writeDecimal(label + pre, i);
        last = load<u32>(end - 4);
        fast = kind != HASH_XXH64 && xxh32Save(label, end - label, <u32>seed);
      }
      let h: u32;
      if (fast) h = xxh32Last(end - label, last + (j << 24), 0x30 + j);
      else {
        store<u8>(end - 1, 0x30 + j);
        h = hashBytes(kind, label, end - label, seed);
      }
      store<u64>(a + (<usize>k << 3), (<u64>h << 32) | m);
      bucketCount(hist, h);
      k++;
    }
  }
}

/**
 * A build's first half: the (point << 32 | member) pairs in member order, and their bucket counts, in `scratch`
 * (ringScratchBytes); returns their count. ids: UTF-8 ids back to back, idOffsets: u32[n + 1], counts: u32[n];
 * label: a buffer of at least (longest id + 11) bytes. `kind` is a constant at each use (`ringBuild`,
 * ring-batch.ts `ringPoints64`), so a module carries only the hash it builds with.
 */
// @ts-ignore: decorator
@inline export function ringPoints(
  ids: usize,
  idOffsets: usize,
  counts: usize,
  n: u32,
  kind: u32,
  seed: u64,
  label: usize,
  scratch: usize,
): u32 {
  let total: u32 = 0;
  for (let m: u32 = 0; m < n; m++) total += load<u32>(counts + (<usize>m << 2));
  ringGenerate(ids, idOffsets, counts, n, kind, seed, label, scratch, scratch + (<usize>total << 4));
  return total;
}

/**
 * A build's second half: the `total` pairs `ringPoints` left in `scratch` sorted on the point (stable: equal
 * points stay in member = id order), split into points: u32[total] and members: u16[total], and the bucket
 * table: u32[(1 << bits) + 1].
 */
export function ringTable(scratch: usize, total: u32, points: usize, members: usize, table: usize, bits: u32): void {
  const pairs = <usize>total << 3;
  bucketSortAndTable(scratch, scratch + pairs, scratch + (pairs << 1), total, points, members, table, bits);
}

/** Builds an xxh32 ring (the seed's low 32 bits; `ringPoints`, then `ringTable`); returns its point count. */
export function ringBuild(
  ids: usize,
  idOffsets: usize,
  counts: usize,
  n: u32,
  seed: u64,
  label: usize,
  scratch: usize,
  points: usize,
  members: usize,
  table: usize,
  bits: u32,
): u32 {
  const total = ringPoints(ids, idOffsets, counts, n, HASH_XXH32, seed, label, scratch);
  ringTable(scratch, total, points, members, table, bits);
  return total;
}

/**
 * Keys as bytes back to back with u32 offsets[count + 1]: out[i] = the hash `kind` of key i (the first pass of a
 * batch by key bytes; ring-batch.ts `ringLookupMany` is the second). `kind` is a constant at each use.
 */
// @ts-ignore: decorator
@inline export function hashKeys(kind: u32, seed: u64, bytes: usize, offsets: usize, count: u32, out: usize): void {
  for (let k: u32 = 0; k < count; k++) {
    const s = load<u32>(offsets + (<usize>k << 2));
    const e = load<u32>(offsets + (<usize>k << 2), 4);
    store<u32>(out + (<usize>k << 2), hashBytes(kind, bytes + s, e - s, seed));
  }
}

/** `hashKeys` with xxh32 (the seed's low 32 bits). */
export function xxh32Keys(seed: u64, bytes: usize, offsets: usize, count: u32, out: usize): void {
  hashKeys(HASH_XXH32, seed, bytes, offsets, count, out);
}

/** Index of the first point >= h, wrapping to 0. */
// @ts-ignore: decorator
@inline export function lookupIndex(points: usize, table: usize, n: u32, shift: u32, h: u32): u32 {
  const t = h >> shift;
  let i = load<u32>(table + (<usize>t << 2));
  const end = load<u32>(table + (<usize>t << 2), 4);
  // branch-free scan, 4 points per step: the points < h are a prefix of the bucket, so their count (lanes
  // before `end` only) is how far to move; a bucket rarely holds 4. Reads up to 12 bytes past the points,
  // inside the table's region (members and bucket table follow).
  const hv = i32x4.splat(h);
  for (;;) {
    const lim = end - i;
    const below = i32x4.bitmask(i32x4.lt_u(v128.load(points + (<usize>i << 2)), hv));
    const c = <u32>popcnt<u32>(below & (lim >= 4 ? 15 : (<u32>1 << lim) - 1));
    i += c;
    if (c < 4) break;
  }
  return select<u32>(0, i, i == n);
}

// @ts-ignore: decorator
@inline export function ownerAt(members: usize, i: u32): u32 {
  return load<u16>(members + (<usize>i << 1));
}

// What HashRing needs beyond the build of xxh32 rings and `get` (ring.ts): batch lookups by hash (a batch by key
// bytes hashes its keys first: ring.ts `xxh32Keys`, `xxh64HiKeys` here), and xxh64 (the points of xxh64 rings,
// `ringPoints64`, the key hash of their batches; entries/ring-batch.ts exports xxh64 itself beside them). A
// module of its own (asconfig.json target "ringbatch", memory imported from the ring module's instance), so that
// a page whose rings hash with xxh32 and that only calls `get` does not carry it.
//
// Direct table (by hash): entry b of 2^dbits holds the owner of every hash in [b << (32 - dbits), (b + 1) <<
// (32 - dbits)) when one member owns them all (no point in the range, or every point in it and the first one
// after it belonging to one member), else all ones: u8 entries up to 255 members, u16 up to 65 535. With 4-32
// entries per point, 78-97 % of entries are direct. A batch first reads every hash's entry without a branch,
// listing the marked ones, then resolves that list by the bucket scan: no mispredicted branch per hash. No
// allocation.
import { HASH_XXH64, hashKeys, lookupIndex, ownerAt, ringPoints } from './ring';

/** The first half of an xxh64 ring's build (ring.ts `ringPoints`, the upper 32 bits of xxh64); ring.ts `ringTable` is the second. */
export function ringPoints64(
  ids: usize,
  idOffsets: usize,
  counts: usize,
  n: u32,
  seed: u64,
  label: usize,
  scratch: usize,
): u32 {
  return ringPoints(ids, idOffsets, counts, n, HASH_XXH64, seed, label, scratch);
}

/** ring.ts `hashKeys` with xxh64 (its upper 32 bits): the first pass of a batch by key bytes of an xxh64 ring. */
export function xxh64HiKeys(seed: u64, bytes: usize, offsets: usize, count: u32, out: usize): void {
  hashKeys(HASH_XXH64, seed, bytes, offsets, count, out);
}

/** out[i] = member index for hashes[i] (u32 each); n must be > 0. */
export function ringLookupMany(
  points: usize,
  members: usize,
  table: usize,
  n: u32,
  bits: u32,
  hashes: usize,
  count: u32,
  out: usize,
): void {
  const shift = 32 - bits;
  // in chunks of 256: the point index of every hash first, then the owners, so that the owner loads leave the
  // scan's dependency chain (1.13-1.16x at 160 000 points, where lookups miss cache; 0.95-1.0x when all fits L2)
  for (let c: u32 = 0; c < count; c += 256) {
    const e = min(c + 256, count);
    for (let k = c; k < e; k++)
      store<u32>(out + (<usize>k << 2), lookupIndex(points, table, n, shift, load<u32>(hashes + (<usize>k << 2))));
    for (let k = c; k < e; k++)
      store<u32>(out + (<usize>k << 2), ownerAt(members, load<u32>(out + (<usize>k << 2))));
  }
}

// @ts-ignore: decorator
@inline function directBuild<T>(points: usize, members: usize, n: u32, direct: usize, dbits: u32): void {
  const shift: u64 = 32 - dbits;
  const size: u32 = 1 << dbits;
  let i: u32 = 0; // the first point >= the entry's first hash
  for (let b: u32 = 0; b < size; b++) {
    while (i < n && <u64>load<u32>(points + (<usize>i << 2)) < <u64>b << shift) i++;
    const o = ownerAt(members, select<u32>(0, i, i == n));
    const next = <u64>(b + 1) << shift;
    let v = <T>o;
    for (let j = i; j < n && <u64>load<u32>(points + (<usize>j << 2)) < next; ) {
      j++;
      if (ownerAt(members, select<u32>(0, j, j == n)) != o) {
        v = <T>-1;
        break;
      }
    }
    store<T>(direct + (<usize>b << alignof<T>()), v);
  }
}

/** Fills the direct table (module header) of 2^dbits entries at `direct`: u16 if `wide`, else u8. */
export function ringDirectBuild(points: usize, members: usize, n: u32, direct: usize, dbits: u32, wide: bool): void {
  if (wide) directBuild<u16>(points, members, n, direct, dbits);
  else directBuild<u8>(points, members, n, direct, dbits);
}

// @ts-ignore: decorator
@inline function lookupDirect<T>(
  points: usize,
  members: usize,
  table: usize,
  n: u32,
  bits: u32,
  direct: usize,
  dbits: u32,
  list: usize,
  hashes: usize,
  count: u32,
  out: usize,
): void {
  const shift = 32 - bits;
  const dshift = 32 - dbits;
  const mark = <u32>(<T>-1);
  for (let c: u32 = 0; c < count; c += 256) {
    const e = min(c + 256, count);
    // 1. every hash's entry, without a branch; the marked ones listed
    let m: u32 = 0;
    for (let k = c; k < e; k++) {
      const o = <u32>load<T>(direct + (<usize>(load<u32>(hashes + (<usize>k << 2)) >> dshift) << alignof<T>()));
      store<u32>(out + (<usize>k << 2), o);
      store<u32>(list + (<usize>m << 2), k);
      m += <u32>(o == mark);
    }
    // 2. the listed ones by the bucket scan
    for (let j: u32 = 0; j < m; j++) {
      const k = load<u32>(list + (<usize>j << 2));
      const i = lookupIndex(points, table, n, shift, load<u32>(hashes + (<usize>k << 2)));
      store<u32>(out + (<usize>k << 2), ownerAt(members, i));
    }
  }
}

/** ringLookupMany through the direct table of ringDirectBuild; `list`: scratch of 256 u32. */
export function ringLookupDirect(
  points: usize,
  members: usize,
  table: usize,
  n: u32,
  bits: u32,
  direct: usize,
  dbits: u32,
  wide: bool,
  list: usize,
  hashes: usize,
  count: u32,
  out: usize,
): void {
  if (wide) lookupDirect<u16>(points, members, table, n, bits, direct, dbits, list, hashes, count, out);
  else lookupDirect<u8>(points, members, table, n, bits, direct, dbits, list, hashes, count, out);
}

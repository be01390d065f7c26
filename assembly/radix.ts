// Shared by the ring builders: a stable LSD radix sort of packed (point << 32 | payload) u64 values on the
// point (11 + 11 + 10 bits), and the split into points + 16-bit member indices + bucket table that
// bindings/core/core.ts describes (TS twin: bindings/core/radix.ts radixSortPairs, bucketTable). Ring builds use
// `bucketSortAndTable` instead: an MSD counting sort on the table's bits, whose counts are the table itself,
// then an insertion pass (about 1 to 2 points per bucket): the same output as the radix sort + split + table,
// with fewer passes over memory, each in cache. No allocation.

/** Bytes of histogram `sortHigh32` needs (besides a second array of 8 × total bytes). */
export const SORT_HIST_BYTES: usize = 3 * 2048 * 4;

/**
 * Sorts `total` u64 values at `a` by their upper 32 bits, stable, using `b` (8 × total bytes) and `hist`
 * (SORT_HIST_BYTES). Returns the address holding the sorted values (`b`: an odd number of passes).
 */
export function sortHigh32(a: usize, b: usize, hist: usize, total: u32): usize {
  memory.fill(hist, 0, SORT_HIST_BYTES);
  for (let i: u32 = 0; i < total; i++) {
    const v = <u32>(load<u64>(a + (<usize>i << 3)) >> 32);
    const h0 = hist + (<usize>(v & 2047) << 2);
    const h1 = hist + 8192 + (<usize>((v >> 11) & 2047) << 2);
    const h2 = hist + 16384 + (<usize>(v >> 22) << 2);
    store<u32>(h0, load<u32>(h0) + 1);
    store<u32>(h1, load<u32>(h1) + 1);
    store<u32>(h2, load<u32>(h2) + 1);
  }
  for (let pass: u32 = 0; pass < 3; pass++) {
    const hp = hist + <usize>pass * 8192;
    let sum: u32 = 0;
    for (let d: u32 = 0; d < 2048; d++) {
      const c = load<u32>(hp + (<usize>d << 2));
      store<u32>(hp + (<usize>d << 2), sum);
      sum += c;
    }
    const shift = 32 + pass * 11;
    for (let i: u32 = 0; i < total; i++) {
      const v = load<u64>(a + (<usize>i << 3));
      const slot = hp + (<usize>(<u32>(v >> shift) & 2047) << 2);
      const pos = load<u32>(slot);
      store<u32>(slot, pos + 1);
      store<u64>(b + (<usize>pos << 3), v);
    }
    const t = a;
    a = b;
    b = t;
  }
  return a;
}

/**
 * Splits sorted (point << 32 | member) values into points (u32) and members (u16), then fills the bucket
 * table: entry t = index of the first point >= t << (32 - bits); entry 2^bits = total.
 */
export function splitAndTable(sorted: usize, total: u32, points: usize, members: usize, table: usize, bits: u32): void {
  for (let i: u32 = 0; i < total; i++) {
    const v = load<u64>(sorted + (<usize>i << 3));
    store<u32>(points + (<usize>i << 2), <u32>(v >> 32));
    store<u16>(members + (<usize>i << 1), <u16>v);
  }
  const size: u32 = 1 << bits;
  const shift: u64 = 32 - bits;
  let j: u32 = 0;
  for (let t: u32 = 0; t < size; t++) {
    const bound: u64 = <u64>t << shift;
    while (j < total && <u64>load<u32>(points + (<usize>j << 2)) < bound) j++;
    store<u32>(table + (<usize>t << 2), j);
  }
  store<u32>(table + (<usize>size << 2), total);
}

/** Bytes of the top-8-bit counts at the start of `hist`, which the caller zeroes before `bucketCount`. */
export const BUCKET_HIST_BYTES: usize = 256 * 4;

/** Scratch `bucketSortAndTable` needs at `hist`. */
export const BUCKET_SCRATCH_BYTES: usize = BUCKET_HIST_BYTES;

/** Counts point `p` in `hist` (BUCKET_HIST_BYTES, zeroed by the caller) for `bucketSortAndTable`. */
// @ts-ignore: decorator
@inline export function bucketCount(hist: usize, p: u32): void {
  const slot = hist + (<usize>(p >> 24) << 2);
  store<u32>(slot, load<u32>(slot) + 1);
}

/**
 * The same output as `sortHigh32` then `splitAndTable`, for `total` (point << 32 | member) values at `a` in
 * ascending member order (so sorting whole values is the stable sort), each counted in `hist` by
 * `bucketCount`, with `b` (8 × total bytes) as the second buffer. Cache-conscious MSD counting sort: one
 * stable scatter on the top `top` bits of the point (top <= 8, so that a range holds about 512 values; none
 * below 2^13 values, where that pass costs more than it saves, measured at 1600 to 8000); then per range,
 * while it sits in cache, a count on the table's remaining bits into that range's slice of the bucket
 * table (its prefix sums are the table), a scatter into buckets, one insertion pass (only values of one
 * bucket, about 1 to 2, can be out of order) and the split into points and members, in order.
 */
export function bucketSortAndTable(
  a: usize,
  b: usize,
  hist: usize,
  total: u32,
  points: usize,
  members: usize,
  table: usize,
  bits: u32,
): void {
  const lg: u32 = total > 1 ? 31 - <u32>clz(total) : 0;
  const top: u32 = lg > 17 ? 8 : lg > 12 ? lg - 9 : 0;
  // 1. cursors of the top ranges (hist holds counts of the top 8 bits: fold them when top < 8)
  let sum: u32 = 0;
  for (let d: u32 = 0; d < 256; d++) {
    const c = load<u32>(hist + (<usize>d << 2));
    store<u32>(hist + (<usize>d << 2), sum);
    sum += c;
  }
  const ranges: u32 = 1 << top;
  for (let d: u32 = 0; d < ranges; d++) store<u32>(hist + (<usize>d << 2), load<u32>(hist + (<usize>(d << (8 - top)) << 2)));
  if (top == 0) memory.copy(b, a, <usize>total << 3);
  else {
    const topShift: u64 = 64 - <u64>top;
    for (let i: u32 = 0; i < total; i++) {
      const v = load<u64>(a + (<usize>i << 3));
      const slot = hist + (<usize>(v >> topShift) << 2);
      const pos = load<u32>(slot);
      store<u32>(slot, pos + 1);
      store<u64>(b + (<usize>pos << 3), v);
    }
  }
  const sub: u32 = bits - top;
  const subSize: u32 = 1 << sub;
  const subShift: u64 = 64 - <u64>bits;
  const subMask: u64 = <u64>subSize - 1;
  const size: u32 = 1 << bits;
  let lo: u32 = 0;
  for (let d: u32 = 0; d < ranges; d++) {
    const hi = d + 1 == ranges ? total : load<u32>(hist + (<usize>d << 2));
    const slice = table + (<usize>(d << sub) << 2);
    memory.fill(slice, 0, <usize>subSize << 2);
    for (let i = lo; i < hi; i++) {
      const slot = slice + (<usize>((load<u64>(b + (<usize>i << 3)) >> subShift) & subMask) << 2);
      store<u32>(slot, load<u32>(slot) + 1);
    }
    // inclusive prefix sums (each bucket's end), then a reverse scatter that counts them down: stable, and
    // leaves every entry at its bucket's start with no pass to shift the table back
    let at = lo;
    for (let t: u32 = 0; t < subSize; t++) {
      at += load<u32>(slice + (<usize>t << 2));
      store<u32>(slice + (<usize>t << 2), at);
    }
    for (let i = hi; i > lo; ) {
      i--;
      const v = load<u64>(b + (<usize>i << 3));
      const slot = slice + (<usize>((v >> subShift) & subMask) << 2);
      const pos = load<u32>(slot) - 1;
      store<u32>(slot, pos);
      store<u64>(a + (<usize>pos << 3), v);
    }
    // one insertion pass: only values of one bucket (about 1 to 2) can be out of order. Points made to crowd
    // one bucket would make it quadratic, so past 8 moves per value the range is heap sorted instead: whole
    // values are distinct unless equal, so an unstable sort gives the same order, in O(n log n) whatever the ids.
    let budget: u32 = (hi - lo) << 3;
    for (let i = lo + 1; i < hi; i++) {
      const v = load<u64>(a + (<usize>i << 3));
      let j = i;
      while (j > lo && load<u64>(a + (<usize>(j - 1) << 3)) > v) {
        store<u64>(a + (<usize>j << 3), load<u64>(a + (<usize>(j - 1) << 3)));
        j--;
      }
      store<u64>(a + (<usize>j << 3), v);
      if (i - j > budget) {
        heapSort64(a + (<usize>lo << 3), hi - lo);
        break;
      }
      budget -= i - j;
    }
    for (let i = lo; i < hi; i++) {
      const v = load<u64>(a + (<usize>i << 3));
      store<u32>(points + (<usize>i << 2), <u32>(v >> 32));
      store<u16>(members + (<usize>i << 1), <u16>v);
    }
    lo = hi;
  }
  store<u32>(table + (<usize>size << 2), total);
}

/** Sorts `n` u64 values at `p` ascending, in place (heapsort: O(n log n), not stable). */
function heapSort64(p: usize, n: u32): void {
  // one siftDown64 call (so that it is not inlined twice): heapify while i > 0, then pop the top to the end
  let i = n >> 1;
  for (let end = n; end > 1; siftDown64(p, i, end)) {
    if (i > 0) i--;
    else {
      end--;
      const top = load<u64>(p);
      store<u64>(p, load<u64>(p + (<usize>end << 3)));
      store<u64>(p + (<usize>end << 3), top);
    }
  }
}

// @ts-ignore: decorator
@inline function siftDown64(p: usize, i: u32, n: u32): void {
  const v = load<u64>(p + (<usize>i << 3));
  for (;;) {
    let c: u32 = 2 * i + 1;
    if (c >= n) break;
    if (c + 1 < n && load<u64>(p + (<usize>(c + 1) << 3)) > load<u64>(p + (<usize>c << 3))) c++;
    const cv = load<u64>(p + (<usize>c << 3));
    if (cv <= v) break;
    store<u64>(p + (<usize>i << 3), cv);
    i = c;
  }
  store<u64>(p + (<usize>i << 3), v);
}

// Shared by the ring builders: a stable LSD radix sort of packed (point << 32 | payload) u64 values on the
// point (11 + 11 + 10 bits), and the split into points + 16-bit member indices + bucket table that
// bindings/core/core.ts describes (TS twin: bindings/core/radix.ts radixSortPairs, bucketTable). Ring builds use
// `bucketSortAndTable` instead: one counting pass on the table's bits, which yields the table itself, one
// scatter, then insertion sort inside each bucket (about 1 to 2 points each): the same output as the radix
// sort + split + table, in two passes instead of five. No allocation.

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

/** Scratch `bucketSortAndTable` needs at `hist`: the top counts, then one digit histogram. */
export const BUCKET_SCRATCH_BYTES: usize = 2 * 256 * 4;

/** Counts point `p` in `hist` (BUCKET_HIST_BYTES, zeroed by the caller) for `bucketSortAndTable`. */
// @ts-ignore: decorator
@inline export function bucketCount(hist: usize, p: u32): void {
  const slot = hist + (<usize>(p >> 24) << 2);
  store<u32>(slot, load<u32>(slot) + 1);
}

/**
 * The same output as `sortHigh32` then `splitAndTable`, for `total` (point << 32 | member) values at `a` in
 * ascending member order, each counted in `hist` by `bucketCount`, with `b` (8 × total bytes) as the second
 * buffer. Cache-conscious: one stable scatter on the top `top` bits of the point (top <= 8, chosen so that a
 * range holds about 512 values), then inside each range an LSD radix sort on the remaining bits, 8 at a
 * time, while it sits in L1; the sorted range is split into points and members and counted into the bucket
 * table in the same sequential pass, and the table's prefix sums finish it. Branch-free but for the loops.
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
  const top: u32 = lg > 17 ? 8 : lg > 9 ? lg - 9 : 0;
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
  // hist[d] now holds the end of range d. 2. per range, LSD radix on the bits below the top ones
  const digits = hist + BUCKET_HIST_BYTES; // 256 u32 more
  const tableShift: u32 = 32 - bits;
  const size: u32 = 1 << bits;
  memory.fill(table, 0, (<usize>size + 1) << 2);
  let lo: u32 = 0;
  for (let d: u32 = 0; d < ranges; d++) {
    const hi = d + 1 == ranges ? total : load<u32>(hist + (<usize>d << 2));
    let src = b;
    let dst = a;
    for (let shift: u32 = 0; shift < 32 - top; shift += 8) {
      memory.fill(digits, 0, 1024);
      const s64: u64 = 32 + <u64>shift;
      for (let i = lo; i < hi; i++) {
        const slot = digits + (<usize>(<u32>(load<u64>(src + (<usize>i << 3)) >> s64) & 255) << 2);
        store<u32>(slot, load<u32>(slot) + 1);
      }
      let at = lo;
      for (let k: u32 = 0; k < 256; k++) {
        const c = load<u32>(digits + (<usize>k << 2));
        store<u32>(digits + (<usize>k << 2), at);
        at += c;
      }
      for (let i = lo; i < hi; i++) {
        const v = load<u64>(src + (<usize>i << 3));
        const slot = digits + (<usize>(<u32>(v >> s64) & 255) << 2);
        const pos = load<u32>(slot);
        store<u32>(slot, pos + 1);
        store<u64>(dst + (<usize>pos << 3), v);
      }
      const t = src;
      src = dst;
      dst = t;
    }
    // 3. split and count into the table, in order
    for (let i = lo; i < hi; i++) {
      const v = load<u64>(src + (<usize>i << 3));
      const p = <u32>(v >> 32);
      store<u32>(points + (<usize>i << 2), p);
      store<u16>(members + (<usize>i << 1), <u16>v);
      const slot = table + ((<usize>(p >> tableShift) + 1) << 2);
      store<u32>(slot, load<u32>(slot) + 1);
    }
    lo = hi;
  }
  sum = 0;
  for (let t: u32 = 1; t <= size; t++) {
    sum += load<u32>(table + (<usize>t << 2));
    store<u32>(table + (<usize>t << 2), sum);
  }
}

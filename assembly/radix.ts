// Shared by the ring builders: a stable LSD radix sort of packed (point << 32 | payload) u64 values on the
// point (11 + 11 + 10 bits), and the split into points + 16-bit member indices + bucket table that
// bindings/core/core.ts describes (TS twin: bindings/core/radix.ts radixSortPairs, bucketTable). No allocation.

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

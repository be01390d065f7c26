// The pure-TS twin of assembly/radix.ts, shared by the ring builders (HashRing, ketama, nginx): a stable LSD
// radix sort of (point, payload) pairs on the unsigned 32-bit point, 11 + 11 + 10 bits, and the bucket table
// that turns a lookup into a short scan (the top `bits` bits of a hash index the first candidate point).

/**
 * Table bits for `total` points. Rings up to 2^16 points get 8 buckets per point, capped at 2^16 buckets
 * (256 KiB), so a lookup rarely scans more than one point; larger rings get the largest power of two not
 * above the point count (1 to 2 points per bucket, 8 to 10 bytes per point with the table). At 100 members
 * × 160 points this is 22 bytes per point instead of 8, for lookups 1.6 times faster (bench/ring.bench.ts).
 */
export function tableBits(total: number): number {
  const floor = Math.max(1, Math.floor(Math.log2(Math.max(total, 1))));
  return Math.max(floor, Math.min(16, floor + 3));
}

/**
 * Bits of the table lookups use: tableBits up to 2^16 buckets (256 KiB); past it 2^15 (128 KiB, which stays
 * in a core's L2 cache), and no fewer than 1/64 of the points (a scan of 64 points at most on average).
 * Measured at 1000 members × 160 points (a one-off script, not kept): 2^14-2^15 buckets looked up 1.05-1.08 × faster
 * than 2^17, whose 512 KiB table misses cache; at 100 members 2^14-2^16 were alike. Both cores build the table
 * at tableBits (the WASM build sorts with its buckets) and then compact it (RingTable.compact).
 */
export function lookupBits(total: number): number {
  const bits = tableBits(total);
  return bits <= 16 ? bits : Math.max(15, bits - 6);
}

/**
 * Stable LSD radix sort of (key, value) pairs on the unsigned 32-bit key (equal keys keep their input
 * order), as assembly/radix.ts `sortHigh32`. Returns the sorted arrays (which may be the given ones or new ones).
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

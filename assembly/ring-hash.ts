// Envoy's ring_hash load balancer (envoyproxy/envoy, source/extensions/load_balancing_policies/ring_hash/
// ring_hash_lb.cc, `RingHashLoadBalancer::Ring`), in caller-sized linear-memory regions. No allocation.
//
// Weights are normalized (w / sum). scale = min(ceil(minNormalized × minRingSize) / minNormalized,
// maxRingSize). Hosts, in the order given, append entries while the running count of entries is below the
// running target (target += scale × normalized weight); entry i of a host hashes `${key}_${i}` with
// xxHash64 (seed 0) or libstdc++'s 64-bit std::hash (MurmurHash2-based `_Hash_bytes`, seed 0xc70f6907).
// Entries are sorted by hash (stable LSD radix sort, so equal hashes keep build order).
// Lookup: the first entry with hash >= h, wrapping to entry 0 (Envoy's ketama-style binary search).
import { writeDecimal } from './label';
import { envoyMurmur2 } from './murmur2';
import { xxh64 } from './xxhash';

export const ENVOY_XX_HASH: u32 = 0;
export const ENVOY_MURMUR_HASH_2: u32 = 1;

const STD_HASH_SEED: u64 = 0xc70f6907;
const RADIX_BITS: u32 = 11;
const RADIX: u32 = 1 << RADIX_BITS;
const PASSES: u32 = 6; // 6 × 11 bits >= 64

/**
 * Entries per host (counts: u32[n]) from integer weights (u32[n], each >= 1, sum < 2^32), as Envoy's
 * running sums assign them. Returns the ring size.
 */
export function envoyRingCounts(weights: usize, n: u32, minRingSize: f64, maxRingSize: f64, counts: usize): u32 {
  if (n == 0) return 0;
  let sum: u64 = 0;
  for (let i: u32 = 0; i < n; i++) sum += <u64>load<u32>(weights + (<usize>i << 2));
  const total = <f64>sum;
  let minWeight: f64 = 1.0;
  for (let i: u32 = 0; i < n; i++) minWeight = min(minWeight, <f64>load<u32>(weights + (<usize>i << 2)) / total);
  const scale = min(Math.ceil(minWeight * minRingSize) / minWeight, maxRingSize);
  let current: f64 = 0;
  let target: f64 = 0;
  let size: u32 = 0;
  for (let i: u32 = 0; i < n; i++) {
    target += scale * (<f64>load<u32>(weights + (<usize>i << 2)) / total);
    let c: u32 = 0;
    while (current < target) {
      current += 1;
      c++;
    }
    store<u32>(counts + (<usize>i << 2), c);
    size += c;
  }
  return size;
}

/** Scratch bytes envoyRingBuild needs for a ring of `size` entries. */
export function envoyRingScratchBytes(size: u32): usize {
  return (<usize>size << 3) + (<usize>size << 2) + <usize>PASSES * RADIX * 4;
}

/**
 * keys: host keys (UTF-8) back to back, keyOffsets: u32[n + 1], counts: u32[n] from envoyRingCounts;
 * label: >= longest key + 21 bytes. Out: hashes u64[size] sorted, hosts u32[size] (host index per entry).
 */
export function envoyRingBuild(
  keys: usize,
  keyOffsets: usize,
  counts: usize,
  n: u32,
  hashKind: u32,
  label: usize,
  scratch: usize,
  hashes: usize,
  hosts: usize,
): u32 {
  // 1. entries in build order: hashes/hosts hold them, scratch is the second buffer of the sort
  let k: u32 = 0;
  for (let m: u32 = 0; m < n; m++) {
    const start = load<u32>(keyOffsets + (<usize>m << 2));
    const keyLen = load<u32>(keyOffsets + (<usize>(m + 1) << 2)) - start;
    memory.copy(label, keys + start, keyLen);
    store<u8>(label + keyLen, 0x5f); // '_'
    const digits0 = label + keyLen + 1;
    const count = load<u32>(counts + (<usize>m << 2));
    for (let i: u32 = 0; i < count; i++) {
      const nd = writeDecimal(digits0, i);
      const len = keyLen + 1 + nd;
      const h = hashKind == ENVOY_MURMUR_HASH_2 ? envoyMurmur2(label, len, STD_HASH_SEED) : xxh64(label, len, 0);
      store<u64>(hashes + (<usize>k << 3), h);
      store<u32>(hosts + (<usize>k << 2), m);
      k++;
    }
  }
  const size = k;
  // 2. stable LSD radix sort of (hash, host) on the hash, 6 passes of 11 bits; an even pass count
  // leaves the result back in hashes/hosts
  const hashesB = scratch;
  const hostsB = scratch + (<usize>size << 3);
  const hist = hostsB + (<usize>size << 2);
  memory.fill(hist, 0, <usize>PASSES * RADIX * 4);
  for (let i: u32 = 0; i < size; i++) {
    const v = load<u64>(hashes + (<usize>i << 3));
    for (let p: u32 = 0; p < PASSES; p++) {
      const slot = hist + ((<usize>p * RADIX + <usize>(<u32>(v >> (p * RADIX_BITS)) & (RADIX - 1))) << 2);
      store<u32>(slot, load<u32>(slot) + 1);
    }
  }
  let srcH = hashes;
  let srcM = hosts;
  let dstH = hashesB;
  let dstM = hostsB;
  for (let p: u32 = 0; p < PASSES; p++) {
    const hp = hist + <usize>p * RADIX * 4;
    let sum: u32 = 0;
    for (let d: u32 = 0; d < RADIX; d++) {
      const c = load<u32>(hp + (<usize>d << 2));
      store<u32>(hp + (<usize>d << 2), sum);
      sum += c;
    }
    const shift = <u64>(p * RADIX_BITS);
    for (let i: u32 = 0; i < size; i++) {
      const v = load<u64>(srcH + (<usize>i << 3));
      const slot = hp + (<usize>(<u32>(v >> shift) & (RADIX - 1)) << 2);
      const pos = load<u32>(slot);
      store<u32>(slot, pos + 1);
      store<u64>(dstH + (<usize>pos << 3), v);
      store<u32>(dstM + (<usize>pos << 2), load<u32>(srcM + (<usize>i << 2)));
    }
    const th = srcH;
    srcH = dstH;
    dstH = th;
    const tm = srcM;
    srcM = dstM;
    dstM = tm;
  }
  return size;
}

/**
 * Index of the first entry with hash >= h, wrapping to 0 (size must be > 0): a binary search within the range
 * of h's bucket in `table` (u32[2^bits + 1]: entry t is the first entry >= t << (64 - bits), the last is size;
 * bindings/hashing/envoy/ring-hash.ts fillBuckets), about one entry per bucket.
 */
// @ts-ignore: decorator
@inline export function envoyRingIndex(hashes: usize, size: u32, table: usize, bits: u32, h: u64): u32 {
  const t = <usize>(h >> (64 - <u64>bits)) << 2;
  let lo = load<u32>(table + t);
  let hi = load<u32>(table + t, 4);
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (load<u64>(hashes + (<usize>mid << 3)) < h) lo = mid + 1;
    else hi = mid;
  }
  return lo == size ? 0 : lo;
}

/** Keys as bytes back to back with u32 offsets[count + 1]: out[i] = host index of xxh64(key i, 0). */
export function envoyRingLookupManyBytes(
  hashes: usize,
  hosts: usize,
  size: u32,
  table: usize,
  bits: u32,
  bytes: usize,
  offsets: usize,
  count: u32,
  out: usize,
): void {
  for (let k: u32 = 0; k < count; k++) {
    const s = load<u32>(offsets + (<usize>k << 2));
    const e = load<u32>(offsets + (<usize>k << 2), 4);
    const i = envoyRingIndex(hashes, size, table, bits, xxh64(bytes + s, e - s, 0));
    store<u32>(out + (<usize>k << 2), load<u32>(hosts + (<usize>i << 2)));
  }
}

/** Host index of one key (xxh64(key, 0)); size must be > 0. */
export function envoyRingGet(hashes: usize, hosts: usize, size: u32, table: usize, bits: u32, ptr: usize, len: usize): u32 {
  return load<u32>(hosts + (<usize>envoyRingIndex(hashes, size, table, bits, xxh64(ptr, len, 0)) << 2));
}

/** Stores xxh64(key, seed 0), the request hash Envoy's hash policies compute, at out (u64). */
export function envoyKeyHash(ptr: usize, len: usize, out: usize): void {
  store<u64>(out, xxh64(ptr, len, 0));
}

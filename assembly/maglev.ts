// Maglev consistent hashing (Eisenbud et al., "Maglev: A Fast and Reliable Software Network Load
// Balancer", NSDI 2016, pseudocode listing 1) with Envoy's weighted fill (envoyproxy/envoy,
// source/extensions/load_balancing_policies/maglev/maglev_lb.cc), in caller-sized regions. No allocation.
//
// Hosts arrive sorted by key (UTF-8 bytes, as Envoy sorts them). Host i: offset = xxh64(key, 0) % M,
// skip = xxh64(key, 1) % (M - 1) + 1; its permutation visits (offset + skip × next) % M. Weights are
// normalized (w / sum); in iteration t = 1, 2, ... host i takes a turn only if t × weight_i >= target_i,
// and then target_i += max normalized weight and it claims the next free slot of its permutation.
// Lookup: table[hash % M].
import { xxh64 } from './xxhash';

const EMPTY: u32 = 0xffffffff;

/** Scratch bytes maglevBuild needs for n hosts. */
export function maglevScratchBytes(n: u32): usize {
  return <usize>n * 32;
}

/**
 * keys: host keys (UTF-8, sorted) back to back, keyOffsets: u32[n + 1], weights: u32[n] (>= 1, sum < 2^32),
 * M: prime table size. Out: table u32[M] (host index per slot), counts u32[n] (slots per host).
 */
export function maglevBuild(
  keys: usize,
  keyOffsets: usize,
  weights: usize,
  n: u32,
  tableSize: u32,
  scratch: usize,
  table: usize,
  counts: usize,
): void {
  if (n == 0) return;
  const M = <u64>tableSize;
  // scratch per host: pos u64 (the current permutation slot), skip u64, weight f64, target f64
  let sum: u64 = 0;
  for (let i: u32 = 0; i < n; i++) sum += <u64>load<u32>(weights + (<usize>i << 2));
  const total = <f64>sum;
  let maxWeight: f64 = 0;
  for (let i: u32 = 0; i < n; i++) {
    const s = load<u32>(keyOffsets + (<usize>i << 2));
    const len = load<u32>(keyOffsets + (<usize>i << 2), 4) - s;
    const e = scratch + (<usize>i << 5);
    const w = <f64>load<u32>(weights + (<usize>i << 2)) / total;
    store<u64>(e, xxh64(keys + s, len, 0) % M);
    store<u64>(e, (xxh64(keys + s, len, 1) % (M - 1)) + 1, 8);
    store<f64>(e, w, 16);
    store<f64>(e, 0, 24);
    store<u32>(counts + (<usize>i << 2), 0);
    maxWeight = max(maxWeight, w);
  }
  memory.fill(table, 0xff, <usize>tableSize << 2);
  let filled: u32 = 0;
  for (let iteration: u32 = 1; filled < tableSize; iteration++) {
    for (let i: u32 = 0; i < n && filled < tableSize; i++) {
      const e = scratch + (<usize>i << 5);
      const target = load<f64>(e, 24);
      if (<f64>iteration * load<f64>(e, 16) < target) continue;
      store<f64>(e, target + maxWeight, 24);
      const skip = load<u64>(e, 8);
      let pos = load<u64>(e);
      while (load<u32>(table + (<usize>pos << 2)) != EMPTY) {
        pos += skip;
        if (pos >= M) pos -= M;
      }
      store<u32>(table + (<usize>pos << 2), i);
      pos += skip;
      if (pos >= M) pos -= M;
      store<u64>(e, pos);
      const c = counts + (<usize>i << 2);
      store<u32>(c, load<u32>(c) + 1);
      filled++;
    }
  }
}

/** Keys as bytes back to back with u32 offsets[count + 1]: out[i] = table[xxh64(key i, 0) % M]. */
export function maglevLookupManyBytes(
  table: usize,
  tableSize: u32,
  bytes: usize,
  offsets: usize,
  count: u32,
  out: usize,
): void {
  const M = <u64>tableSize;
  for (let k: u32 = 0; k < count; k++) {
    const s = load<u32>(offsets + (<usize>k << 2));
    const e = load<u32>(offsets + (<usize>k << 2), 4);
    const slot = xxh64(bytes + s, e - s, 0) % M;
    store<u32>(out + (<usize>k << 2), load<u32>(table + (<usize>slot << 2)));
  }
}

/** table[xxh64(key, 0) % M] for one key. */
export function maglevGet(table: usize, tableSize: u32, ptr: usize, len: usize): u32 {
  return load<u32>(table + (<usize>(xxh64(ptr, len, 0) % <u64>tableSize) << 2));
}

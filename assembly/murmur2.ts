// MurmurHash2 as libstdc++'s 64-bit `std::_Hash_bytes` (libstdc++-v3/libsupc++/hash_bytes.cc), which is
// what Envoy's MurmurHash::murmurHash2 computes for ring_hash's MURMUR_HASH_2 entries (seed 0xc70f6907).
// TS twin: bindings/hashing/envoy/murmur2.ts. No allocation.

const MURMUR_MUL: u64 = 0xc6a4a7935bd1e995;

// @ts-ignore: decorator
@inline function shiftMix(v: u64): u64 {
  return v ^ (v >> 47);
}

/** libstdc++ `_Hash_bytes` for 64-bit size_t (Envoy's MurmurHash::murmurHash2). */
export function envoyMurmur2(ptr: usize, len: usize, seed: u64): u64 {
  const aligned = len & ~(<usize>7);
  let h: u64 = seed ^ (<u64>len * MURMUR_MUL);
  for (let p: usize = 0; p < aligned; p += 8) {
    h ^= shiftMix(load<u64>(ptr + p) * MURMUR_MUL) * MURMUR_MUL;
    h *= MURMUR_MUL;
  }
  const rest = len & 7;
  if (rest != 0) {
    let d: u64 = 0;
    for (let i = <isize>rest - 1; i >= 0; i--) d = (d << 8) | <u64>load<u8>(ptr + aligned + <usize>i);
    h ^= d;
    h *= MURMUR_MUL;
  }
  h = shiftMix(h) * MURMUR_MUL;
  return shiftMix(h);
}

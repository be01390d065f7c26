// Ketama continuum (libketama, RJ/last.fm 2007; the same scheme in libmemcached, twemproxy and the npm
// `hashring`): server m contributes digests[m] MD5 digests of `<prefix_m><i>` (i = 0, 1, ... in decimal),
// each giving `perDigest` points (digest bytes 4h..4h+3 as little-endian u32, h < perDigest). Points are
// LSD radix sorted (stable, so equal points stay in server, digest, word order) and split into the
// layout of assembly/ring.ts: points u32[total], members u16[total], table u32[(1 << bits) + 1].
// Key hashes: MD5 word 0 and the other twemproxy hashkit functions (src/hashkit/nc_*.c), including their
// x86 `char` sign extension. No allocation: TS owns and sizes every region.
import { writeDecimal } from './label';
import { md5, md5PairSecond, md5Word0, md5Word0Pair } from './md5';
import { sortHigh32, splitAndTable } from './radix';

export const KEY_MD5: u32 = 0;
export const KEY_ONE_AT_A_TIME: u32 = 1;
export const KEY_FNV1_64: u32 = 2;
export const KEY_FNV1A_64: u32 = 3;
export const KEY_FNV1_32: u32 = 4;
export const KEY_FNV1A_32: u32 = 5;
export const KEY_CRC32: u32 = 6;
export const KEY_CRC32A: u32 = 7;
export const KEY_MURMUR: u32 = 8;

/** Bytes of scratch ketamaBuild needs for `total` points. */
export function ketamaScratchBytes(total: u32): usize {
  return (<usize>total << 4) + 3 * 2048 * 4 + 16;
}

/**
 * prefixes: UTF-8 label prefixes back to back, prefixOffsets: u32[n + 1], digests: u32[n]; label: at least
 * (longest prefix + 11) bytes; points: u32[total], members: u16[total], table: u32[(1 << bits) + 1].
 * Returns the number of points.
 */
export function ketamaBuild(
  prefixes: usize,
  prefixOffsets: usize,
  digests: usize,
  n: u32,
  perDigest: u32,
  label: usize,
  scratch: usize,
  points: usize,
  members: usize,
  table: usize,
  bits: u32,
): u32 {
  const a = scratch;
  let k: u32 = 0;
  let total: u32 = 0;
  for (let m: u32 = 0; m < n; m++) total += load<u32>(digests + (<usize>m << 2)) * perDigest;
  const digest = scratch + (<usize>total << 4) + 3 * 2048 * 4;
  for (let m: u32 = 0; m < n; m++) {
    const start = load<u32>(prefixOffsets + (<usize>m << 2));
    const plen = load<u32>(prefixOffsets + (<usize>(m + 1) << 2)) - start;
    memory.copy(label, prefixes + start, plen);
    const digits0 = label + plen;
    const count = load<u32>(digests + (<usize>m << 2));
    for (let i: u32 = 0; i < count; i++) {
      const nd = writeDecimal(digits0, i);
      md5(label, plen + nd, digest);
      for (let h: u32 = 0; h < perDigest; h++) {
        const p = load<u32>(digest + (<usize>h << 2));
        store<u64>(a + (<usize>k << 3), (<u64>p << 32) | m);
        k++;
      }
    }
  }
  // stable sort on the point, split, bucket table (assembly/radix.ts)
  const sorted = sortHigh32(a, scratch + (<usize>total << 3), scratch + (<usize>total << 4), total);
  splitAndTable(sorted, total, points, members, table, bits);
  return total;
}

// @ts-ignore: decorator
@inline function schar(p: usize): u32 {
  return <u32>load<i8>(p); // C `char` on x86: bytes >= 0x80 sign-extend
}

/** A twemproxy key hash (`hash:` in nutcracker.yml) of bytes [ptr, ptr + len). */
export function ketamaHash(kind: u32, ptr: usize, len: usize): u32 {
  const end = ptr + len;
  if (kind == KEY_MD5) return md5Word0(ptr, len);
  if (kind == KEY_ONE_AT_A_TIME) {
    let v: u32 = 0;
    for (let p = ptr; p < end; p++) {
      v += schar(p);
      v += v << 10;
      v ^= v >> 6;
    }
    v += v << 3;
    v ^= v >> 11;
    v += v << 15;
    return v;
  }
  if (kind == KEY_FNV1_64 || kind == KEY_FNV1_32) {
    // fnv1_64 keeps only the low 32 bits, which depend only on the low halves of init and prime
    let h: u32 = kind == KEY_FNV1_64 ? 0x84222325 : 2166136261;
    const prime: u32 = kind == KEY_FNV1_64 ? 0x1b3 : 16777619;
    for (let p = ptr; p < end; p++) h = (h * prime) ^ schar(p);
    return h;
  }
  if (kind == KEY_FNV1A_64 || kind == KEY_FNV1A_32) {
    let h: u32 = kind == KEY_FNV1A_64 ? 0x84222325 : 2166136261;
    const prime: u32 = kind == KEY_FNV1A_64 ? 0x1b3 : 16777619;
    for (let p = ptr; p < end; p++) h = (h ^ schar(p)) * prime;
    return h;
  }
  if (kind == KEY_CRC32 || kind == KEY_CRC32A) {
    let crc: u32 = 0xffffffff;
    for (let p = ptr; p < end; p++) {
      crc ^= <u32>load<u8>(p);
      for (let i = 0; i < 8; i++) crc = (crc >> 1) ^ (0xedb88320 & (0 - (crc & 1)));
    }
    // twemproxy's `crc32` is libmemcached's: the top 15 bits of the CRC
    return kind == KEY_CRC32 ? ((~crc) >> 16) & 0x7fff : ~crc;
  }
  if (kind == KEY_MURMUR) {
    const m: u32 = 0x5bd1e995;
    let h: u32 = (0xdeadbeef * <u32>len) ^ <u32>len;
    let p = ptr;
    let rest = len;
    while (rest >= 4) {
      let k = load<u32>(p);
      k *= m;
      k ^= k >> 24;
      k *= m;
      h *= m;
      h ^= k;
      p += 4;
      rest -= 4;
    }
    if (rest == 3) h ^= <u32>load<u8>(p, 2) << 16;
    if (rest >= 2) h ^= <u32>load<u8>(p, 1) << 8;
    if (rest >= 1) {
      h ^= <u32>load<u8>(p);
      h *= m;
    }
    h ^= h >> 13;
    h *= m;
    h ^= h >> 15;
    return h;
  }
  return 0;
}

// @ts-ignore: decorator
@inline function memberOf(points: usize, members: usize, table: usize, n: u32, shift: u32, h: u32): u32 {
  const b = h >> shift;
  let i = load<u32>(table + (<usize>b << 2));
  const end = load<u32>(table + (<usize>b << 2), 4);
  while (i < end && load<u32>(points + (<usize>i << 2)) < h) i++;
  if (i == n) i = 0;
  return load<u16>(members + (<usize>i << 1));
}

/**
 * Keys as bytes back to back with u32 offsets[count + 1]: out[i] = member index of key i, hashed with
 * `kind` (plus 256: an empty key hashes to 0, as in twemproxy) and looked up in a continuum of n > 0
 * points (first point >= hash, wrapping to 0). With md5,
 * consecutive keys of at most 55 bytes are hashed two at a time (md5Word0Pair).
 */
export function ketamaLookupManyBytes(
  points: usize,
  members: usize,
  table: usize,
  n: u32,
  bits: u32,
  kind: u32,
  bytes: usize,
  offsets: usize,
  count: u32,
  out: usize,
): void {
  const shift = 32 - bits;
  const emptyZero = kind >= 256; // twemproxy: an empty key hashes to 0 (server_pool_hash)
  kind &= 255;
  let k: u32 = 0;
  while (k < count) {
    const o = offsets + (<usize>k << 2);
    const s = load<u32>(o);
    const e = load<u32>(o, 4);
    const f = k + 1 < count ? load<u32>(o, 8) : e;
    if (kind == KEY_MD5 && k + 1 < count && e - s <= 55 && f - e <= 55 && (!emptyZero || (e > s && f > e))) {
      const h1 = md5Word0Pair(bytes + s, e - s, bytes + e, f - e);
      const h2 = md5PairSecond();
      store<u32>(out + (<usize>k << 2), memberOf(points, members, table, n, shift, h1));
      store<u32>(out + (<usize>k << 2), memberOf(points, members, table, n, shift, h2), 4);
      k += 2;
    } else {
      const h = emptyZero && e == s ? 0 : ketamaHash(kind, bytes + s, e - s);
      store<u32>(out + (<usize>k << 2), memberOf(points, members, table, n, shift, h));
      k++;
    }
  }
}

// nginx `hash $key consistent` (ngx_http_upstream_hash_module.c, ngx_http_upstream_init_chash and
// ngx_http_upstream_find_chash_point; the point scheme is Cache::Memcached::Fast's):
// - server name as written in the upstream block: "unix:" prefix stripped (no port); otherwise a trailing
//   run of digits after the last ':' is the port; base = crc32 state over HOST, one 0 byte, PORT;
// - 160 × weight points per server: point_j = crc32_final(base + 4 little-endian bytes of point_{j-1}),
//   point_{-1} = 0;
// - all points sorted ascending, equal points collapsed to the first (servers in declaration order: a
//   stable sort, which glibc's merge-sort qsort gives nginx on Linux);
// - a key goes to the first point >= crc32(key), index taken modulo the point count (wraps to 0).
// No allocation: TS sizes every region.
import { crc32Byte, crc32Update } from './crc32';
import { sortHigh32 } from './radix';

/** Bytes of scratch nginxChashBuild needs for `total` generated points. */
export function nginxChashScratchBytes(total: u32): usize {
  return (<usize>total << 4) + 3 * 2048 * 4;
}

/** "unix:", case-insensitive, at ptr (ngx_strncasecmp). */
// @ts-ignore: decorator
@inline function isUnixPrefix(ptr: usize): bool {
  return (
    (load<u8>(ptr) | 0x20) == 0x75 &&
    (load<u8>(ptr, 1) | 0x20) == 0x6e &&
    (load<u8>(ptr, 2) | 0x20) == 0x69 &&
    (load<u8>(ptr, 3) | 0x20) == 0x78 &&
    load<u8>(ptr, 4) == 0x3a
  );
}

/**
 * names: UTF-8 server names back to back, nameOffsets: u32[n + 1], weights: u32[n];
 * writes the distinct sorted points (u32) and their server indices (u32); returns how many.
 */
export function nginxChashBuild(
  names: usize,
  nameOffsets: usize,
  weights: usize,
  n: u32,
  scratch: usize,
  points: usize,
  servers: usize,
): u32 {
  const a = scratch;
  let k: u32 = 0;
  for (let m: u32 = 0; m < n; m++) {
    const start = names + load<u32>(nameOffsets + (<usize>m << 2));
    const len = <usize>(load<u32>(nameOffsets + (<usize>(m + 1) << 2)) - load<u32>(nameOffsets + (<usize>m << 2)));
    let host = start;
    let hostLen = len;
    let port: usize = 0;
    let portLen: usize = 0;
    if (len >= 5 && isUnixPrefix(start)) {
      host = start + 5;
      hostLen = len - 5;
    } else {
      for (let j: usize = 0; j < len; j++) {
        const c = load<u8>(start + len - j - 1);
        if (c == 0x3a) {
          hostLen = len - j - 1;
          port = start + len - j;
          portLen = j;
          break;
        }
        if (c < 0x30 || c > 0x39) break;
      }
    }
    let base = crc32Update(0xffffffff, host, hostLen);
    base = crc32Byte(base, 0);
    base = crc32Update(base, port, portLen);
    const count = load<u32>(weights + (<usize>m << 2)) * 160;
    let prev: u32 = 0;
    for (let j: u32 = 0; j < count; j++) {
      let h = crc32Byte(base, prev & 0xff);
      h = crc32Byte(h, (prev >> 8) & 0xff);
      h = crc32Byte(h, (prev >> 16) & 0xff);
      h = ~crc32Byte(h, prev >> 24);
      store<u64>(a + (<usize>k << 3), (<u64>h << 32) | <u64>m);
      prev = h;
      k++;
    }
  }
  const total = k;
  // stable sort on the point (assembly/radix.ts)
  const sorted = sortHigh32(a, scratch + (<usize>total << 3), scratch + (<usize>total << 4), total);
  // collapse equal points to the first, split into points / servers
  let w: u32 = 0;
  for (let i: u32 = 0; i < total; i++) {
    const v = load<u64>(sorted + (<usize>i << 3));
    const p = <u32>(v >> 32);
    if (w > 0 && load<u32>(points + (<usize>(w - 1) << 2)) == p) continue;
    store<u32>(points + (<usize>w << 2), p);
    store<u32>(servers + (<usize>w << 2), <u32>v);
    w++;
  }
  return w;
}

/** Index of the first point >= h, modulo n (nginx's binary search; n > 0). */
// @ts-ignore: decorator
@inline function findPoint(points: usize, n: u32, h: u32): u32 {
  let i: u32 = 0;
  let j = n;
  while (i < j) {
    const k = (i + j) >> 1;
    const p = load<u32>(points + (<usize>k << 2));
    if (h > p) i = k + 1;
    else if (h < p) j = k;
    else return k;
  }
  return i == n ? 0 : i;
}

/** Server index for a key hash. */
export function nginxChashLookup(points: usize, servers: usize, n: u32, h: u32): u32 {
  return load<u32>(servers + (<usize>findPoint(points, n, h) << 2));
}

/** Keys as bytes back to back with u32 offsets[count + 1]; out[i] = server index of crc32(key i). */
export function nginxChashLookupManyBytes(
  points: usize,
  servers: usize,
  n: u32,
  bytes: usize,
  offsets: usize,
  count: u32,
  out: usize,
): void {
  for (let k: u32 = 0; k < count; k++) {
    const s = load<u32>(offsets + (<usize>k << 2));
    const e = load<u32>(offsets + (<usize>k << 2), 4);
    const h = ~crc32Update(0xffffffff, bytes + s, e - s);
    store<u32>(out + (<usize>k << 2), load<u32>(servers + (<usize>findPoint(points, n, h) << 2)));
  }
}

/** out[i] = server index for key hash hashes[i] (u32 each). */
export function nginxChashLookupMany(points: usize, servers: usize, n: u32, hashes: usize, count: u32, out: usize): void {
  for (let k: u32 = 0; k < count; k++) {
    const h = load<u32>(hashes + (<usize>k << 2));
    store<u32>(out + (<usize>k << 2), load<u32>(servers + (<usize>findPoint(points, n, h) << 2)));
  }
}

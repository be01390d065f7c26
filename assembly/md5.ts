// MD5 (RFC 1321, Rivest 1992) over bytes already in linear memory. No allocation: the padded tail is
// built in a 128-byte static buffer. Ketama (libketama, libmemcached, twemproxy, hashring) takes its ring
// points and key hashes from MD5 digests: `md5Word0` is the first four digest bytes read little-endian.

const TAIL: usize = memory.data(128);

let h0: u32 = 0;
let h1: u32 = 0;
let h2: u32 = 0;
let h3: u32 = 0;

// @ts-ignore: decorator
@inline function ff(a: u32, b: u32, c: u32, d: u32, x: u32, s: u32, k: u32): u32 {
  return rotl<u32>(a + (d ^ (b & (c ^ d))) + x + k, s) + b;
}
// @ts-ignore: decorator
@inline function gg(a: u32, b: u32, c: u32, d: u32, x: u32, s: u32, k: u32): u32 {
  return rotl<u32>(a + (c ^ (d & (b ^ c))) + x + k, s) + b;
}
// @ts-ignore: decorator
@inline function hh(a: u32, b: u32, c: u32, d: u32, x: u32, s: u32, k: u32): u32 {
  return rotl<u32>(a + (b ^ c ^ d) + x + k, s) + b;
}
// @ts-ignore: decorator
@inline function ii(a: u32, b: u32, c: u32, d: u32, x: u32, s: u32, k: u32): u32 {
  return rotl<u32>(a + (c ^ (b | ~d)) + x + k, s) + b;
}

/** One 64-byte block at p into the state h0..h3. */
function block(p: usize): void {
  const x0 = load<u32>(p, 0);
  const x1 = load<u32>(p, 4);
  const x2 = load<u32>(p, 8);
  const x3 = load<u32>(p, 12);
  const x4 = load<u32>(p, 16);
  const x5 = load<u32>(p, 20);
  const x6 = load<u32>(p, 24);
  const x7 = load<u32>(p, 28);
  const x8 = load<u32>(p, 32);
  const x9 = load<u32>(p, 36);
  const x10 = load<u32>(p, 40);
  const x11 = load<u32>(p, 44);
  const x12 = load<u32>(p, 48);
  const x13 = load<u32>(p, 52);
  const x14 = load<u32>(p, 56);
  const x15 = load<u32>(p, 60);
  let a = h0;
  let b = h1;
  let c = h2;
  let d = h3;
  a = ff(a, b, c, d, x0, 7, 0xd76aa478);
  d = ff(d, a, b, c, x1, 12, 0xe8c7b756);
  c = ff(c, d, a, b, x2, 17, 0x242070db);
  b = ff(b, c, d, a, x3, 22, 0xc1bdceee);
  a = ff(a, b, c, d, x4, 7, 0xf57c0faf);
  d = ff(d, a, b, c, x5, 12, 0x4787c62a);
  c = ff(c, d, a, b, x6, 17, 0xa8304613);
  b = ff(b, c, d, a, x7, 22, 0xfd469501);
  a = ff(a, b, c, d, x8, 7, 0x698098d8);
  d = ff(d, a, b, c, x9, 12, 0x8b44f7af);
  c = ff(c, d, a, b, x10, 17, 0xffff5bb1);
  b = ff(b, c, d, a, x11, 22, 0x895cd7be);
  a = ff(a, b, c, d, x12, 7, 0x6b901122);
  d = ff(d, a, b, c, x13, 12, 0xfd987193);
  c = ff(c, d, a, b, x14, 17, 0xa679438e);
  b = ff(b, c, d, a, x15, 22, 0x49b40821);
  a = gg(a, b, c, d, x1, 5, 0xf61e2562);
  d = gg(d, a, b, c, x6, 9, 0xc040b340);
  c = gg(c, d, a, b, x11, 14, 0x265e5a51);
  b = gg(b, c, d, a, x0, 20, 0xe9b6c7aa);
  a = gg(a, b, c, d, x5, 5, 0xd62f105d);
  d = gg(d, a, b, c, x10, 9, 0x02441453);
  c = gg(c, d, a, b, x15, 14, 0xd8a1e681);
  b = gg(b, c, d, a, x4, 20, 0xe7d3fbc8);
  a = gg(a, b, c, d, x9, 5, 0x21e1cde6);
  d = gg(d, a, b, c, x14, 9, 0xc33707d6);
  c = gg(c, d, a, b, x3, 14, 0xf4d50d87);
  b = gg(b, c, d, a, x8, 20, 0x455a14ed);
  a = gg(a, b, c, d, x13, 5, 0xa9e3e905);
  d = gg(d, a, b, c, x2, 9, 0xfcefa3f8);
  c = gg(c, d, a, b, x7, 14, 0x676f02d9);
  b = gg(b, c, d, a, x12, 20, 0x8d2a4c8a);
  a = hh(a, b, c, d, x5, 4, 0xfffa3942);
  d = hh(d, a, b, c, x8, 11, 0x8771f681);
  c = hh(c, d, a, b, x11, 16, 0x6d9d6122);
  b = hh(b, c, d, a, x14, 23, 0xfde5380c);
  a = hh(a, b, c, d, x1, 4, 0xa4beea44);
  d = hh(d, a, b, c, x4, 11, 0x4bdecfa9);
  c = hh(c, d, a, b, x7, 16, 0xf6bb4b60);
  b = hh(b, c, d, a, x10, 23, 0xbebfbc70);
  a = hh(a, b, c, d, x13, 4, 0x289b7ec6);
  d = hh(d, a, b, c, x0, 11, 0xeaa127fa);
  c = hh(c, d, a, b, x3, 16, 0xd4ef3085);
  b = hh(b, c, d, a, x6, 23, 0x04881d05);
  a = hh(a, b, c, d, x9, 4, 0xd9d4d039);
  d = hh(d, a, b, c, x12, 11, 0xe6db99e5);
  c = hh(c, d, a, b, x15, 16, 0x1fa27cf8);
  b = hh(b, c, d, a, x2, 23, 0xc4ac5665);
  a = ii(a, b, c, d, x0, 6, 0xf4292244);
  d = ii(d, a, b, c, x7, 10, 0x432aff97);
  c = ii(c, d, a, b, x14, 15, 0xab9423a7);
  b = ii(b, c, d, a, x5, 21, 0xfc93a039);
  a = ii(a, b, c, d, x12, 6, 0x655b59c3);
  d = ii(d, a, b, c, x3, 10, 0x8f0ccc92);
  c = ii(c, d, a, b, x10, 15, 0xffeff47d);
  b = ii(b, c, d, a, x1, 21, 0x85845dd1);
  a = ii(a, b, c, d, x8, 6, 0x6fa87e4f);
  d = ii(d, a, b, c, x15, 10, 0xfe2ce6e0);
  c = ii(c, d, a, b, x6, 15, 0xa3014314);
  b = ii(b, c, d, a, x13, 21, 0x4e0811a1);
  a = ii(a, b, c, d, x4, 6, 0xf7537e82);
  d = ii(d, a, b, c, x11, 10, 0xbd3af235);
  c = ii(c, d, a, b, x2, 15, 0x2ad7d2bb);
  b = ii(b, c, d, a, x9, 21, 0xeb86d391);
  h0 += a;
  h1 += b;
  h2 += c;
  h3 += d;
}

function run(ptr: usize, len: usize): void {
  h0 = 0x67452301;
  h1 = 0xefcdab89;
  h2 = 0x98badcfe;
  h3 = 0x10325476;
  let p = ptr;
  const end = ptr + len;
  while (end - p >= 64) {
    block(p);
    p += 64;
  }
  const rem = end - p;
  memory.copy(TAIL, p, rem);
  store<u8>(TAIL + rem, 0x80);
  const blocks: usize = rem < 56 ? 1 : 2;
  memory.fill(TAIL + rem + 1, 0, (blocks << 6) - 8 - rem - 1);
  store<u64>(TAIL + (blocks << 6) - 8, <u64>len << 3);
  block(TAIL);
  if (blocks == 2) block(TAIL + 64);
}

/** Writes the 16-byte MD5 digest of bytes [ptr, ptr + len) to out. */
export function md5(ptr: usize, len: usize, out: usize): void {
  run(ptr, len);
  store<u32>(out, h0);
  store<u32>(out, h1, 4);
  store<u32>(out, h2, 8);
  store<u32>(out, h3, 12);
}

/** Digest bytes 0..3 as a little-endian u32: the ketama key hash (libketama `ketama_hashi`). */
export function md5Word0(ptr: usize, len: usize): u32 {
  run(ptr, len);
  return h0;
}

const PAIR: usize = memory.data(128);
let pairSecond: u32 = 0;

// @ts-ignore: decorator
@inline function pad(dst: usize, src: usize, len: usize): void {
  memory.fill(dst, 0, 64);
  memory.copy(dst, src, len);
  store<u8>(dst + len, 0x80);
  store<u32>(dst, <u32>len << 3, 56);
}

/**
 * md5Word0 of two inputs of at most 55 bytes each (one block each), computed interleaved: MD5 is bound by
 * the latency of its 64 dependent steps, so two independent chains take little longer than one. Returns
 * the first; the second is read with md5PairSecond(). Steps 62..64 only touch words 1..3 and are skipped.
 */
export function md5Word0Pair(p1: usize, n1: usize, p2: usize, n2: usize): u32 {
  pad(PAIR, p1, n1);
  pad(PAIR + 64, p2, n2);
  const p = PAIR;
  const q = PAIR + 64;
  let a: u32 = 0x67452301;
  let b: u32 = 0xefcdab89;
  let c: u32 = 0x98badcfe;
  let d: u32 = 0x10325476;
  let a2 = a;
  let b2 = b;
  let c2 = c;
  let d2 = d;
  a = rotl<u32>(a + (d ^ (b & (c ^ d))) + load<u32>(p, 0) + 0xd76aa478, 7) + b;
  a2 = rotl<u32>(a2 + (d2 ^ (b2 & (c2 ^ d2))) + load<u32>(q, 0) + 0xd76aa478, 7) + b2;
  d = rotl<u32>(d + (c ^ (a & (b ^ c))) + load<u32>(p, 4) + 0xe8c7b756, 12) + a;
  d2 = rotl<u32>(d2 + (c2 ^ (a2 & (b2 ^ c2))) + load<u32>(q, 4) + 0xe8c7b756, 12) + a2;
  c = rotl<u32>(c + (b ^ (d & (a ^ b))) + load<u32>(p, 8) + 0x242070db, 17) + d;
  c2 = rotl<u32>(c2 + (b2 ^ (d2 & (a2 ^ b2))) + load<u32>(q, 8) + 0x242070db, 17) + d2;
  b = rotl<u32>(b + (a ^ (c & (d ^ a))) + load<u32>(p, 12) + 0xc1bdceee, 22) + c;
  b2 = rotl<u32>(b2 + (a2 ^ (c2 & (d2 ^ a2))) + load<u32>(q, 12) + 0xc1bdceee, 22) + c2;
  a = rotl<u32>(a + (d ^ (b & (c ^ d))) + load<u32>(p, 16) + 0xf57c0faf, 7) + b;
  a2 = rotl<u32>(a2 + (d2 ^ (b2 & (c2 ^ d2))) + load<u32>(q, 16) + 0xf57c0faf, 7) + b2;
  d = rotl<u32>(d + (c ^ (a & (b ^ c))) + load<u32>(p, 20) + 0x4787c62a, 12) + a;
  d2 = rotl<u32>(d2 + (c2 ^ (a2 & (b2 ^ c2))) + load<u32>(q, 20) + 0x4787c62a, 12) + a2;
  c = rotl<u32>(c + (b ^ (d & (a ^ b))) + load<u32>(p, 24) + 0xa8304613, 17) + d;
  c2 = rotl<u32>(c2 + (b2 ^ (d2 & (a2 ^ b2))) + load<u32>(q, 24) + 0xa8304613, 17) + d2;
  b = rotl<u32>(b + (a ^ (c & (d ^ a))) + load<u32>(p, 28) + 0xfd469501, 22) + c;
  b2 = rotl<u32>(b2 + (a2 ^ (c2 & (d2 ^ a2))) + load<u32>(q, 28) + 0xfd469501, 22) + c2;
  a = rotl<u32>(a + (d ^ (b & (c ^ d))) + load<u32>(p, 32) + 0x698098d8, 7) + b;
  a2 = rotl<u32>(a2 + (d2 ^ (b2 & (c2 ^ d2))) + load<u32>(q, 32) + 0x698098d8, 7) + b2;
  d = rotl<u32>(d + (c ^ (a & (b ^ c))) + load<u32>(p, 36) + 0x8b44f7af, 12) + a;
  d2 = rotl<u32>(d2 + (c2 ^ (a2 & (b2 ^ c2))) + load<u32>(q, 36) + 0x8b44f7af, 12) + a2;
  c = rotl<u32>(c + (b ^ (d & (a ^ b))) + load<u32>(p, 40) + 0xffff5bb1, 17) + d;
  c2 = rotl<u32>(c2 + (b2 ^ (d2 & (a2 ^ b2))) + load<u32>(q, 40) + 0xffff5bb1, 17) + d2;
  b = rotl<u32>(b + (a ^ (c & (d ^ a))) + load<u32>(p, 44) + 0x895cd7be, 22) + c;
  b2 = rotl<u32>(b2 + (a2 ^ (c2 & (d2 ^ a2))) + load<u32>(q, 44) + 0x895cd7be, 22) + c2;
  a = rotl<u32>(a + (d ^ (b & (c ^ d))) + load<u32>(p, 48) + 0x6b901122, 7) + b;
  a2 = rotl<u32>(a2 + (d2 ^ (b2 & (c2 ^ d2))) + load<u32>(q, 48) + 0x6b901122, 7) + b2;
  d = rotl<u32>(d + (c ^ (a & (b ^ c))) + load<u32>(p, 52) + 0xfd987193, 12) + a;
  d2 = rotl<u32>(d2 + (c2 ^ (a2 & (b2 ^ c2))) + load<u32>(q, 52) + 0xfd987193, 12) + a2;
  c = rotl<u32>(c + (b ^ (d & (a ^ b))) + load<u32>(p, 56) + 0xa679438e, 17) + d;
  c2 = rotl<u32>(c2 + (b2 ^ (d2 & (a2 ^ b2))) + load<u32>(q, 56) + 0xa679438e, 17) + d2;
  b = rotl<u32>(b + (a ^ (c & (d ^ a))) + load<u32>(p, 60) + 0x49b40821, 22) + c;
  b2 = rotl<u32>(b2 + (a2 ^ (c2 & (d2 ^ a2))) + load<u32>(q, 60) + 0x49b40821, 22) + c2;
  a = rotl<u32>(a + (c ^ (d & (b ^ c))) + load<u32>(p, 4) + 0xf61e2562, 5) + b;
  a2 = rotl<u32>(a2 + (c2 ^ (d2 & (b2 ^ c2))) + load<u32>(q, 4) + 0xf61e2562, 5) + b2;
  d = rotl<u32>(d + (b ^ (c & (a ^ b))) + load<u32>(p, 24) + 0xc040b340, 9) + a;
  d2 = rotl<u32>(d2 + (b2 ^ (c2 & (a2 ^ b2))) + load<u32>(q, 24) + 0xc040b340, 9) + a2;
  c = rotl<u32>(c + (a ^ (b & (d ^ a))) + load<u32>(p, 44) + 0x265e5a51, 14) + d;
  c2 = rotl<u32>(c2 + (a2 ^ (b2 & (d2 ^ a2))) + load<u32>(q, 44) + 0x265e5a51, 14) + d2;
  b = rotl<u32>(b + (d ^ (a & (c ^ d))) + load<u32>(p, 0) + 0xe9b6c7aa, 20) + c;
  b2 = rotl<u32>(b2 + (d2 ^ (a2 & (c2 ^ d2))) + load<u32>(q, 0) + 0xe9b6c7aa, 20) + c2;
  a = rotl<u32>(a + (c ^ (d & (b ^ c))) + load<u32>(p, 20) + 0xd62f105d, 5) + b;
  a2 = rotl<u32>(a2 + (c2 ^ (d2 & (b2 ^ c2))) + load<u32>(q, 20) + 0xd62f105d, 5) + b2;
  d = rotl<u32>(d + (b ^ (c & (a ^ b))) + load<u32>(p, 40) + 0x02441453, 9) + a;
  d2 = rotl<u32>(d2 + (b2 ^ (c2 & (a2 ^ b2))) + load<u32>(q, 40) + 0x02441453, 9) + a2;
  c = rotl<u32>(c + (a ^ (b & (d ^ a))) + load<u32>(p, 60) + 0xd8a1e681, 14) + d;
  c2 = rotl<u32>(c2 + (a2 ^ (b2 & (d2 ^ a2))) + load<u32>(q, 60) + 0xd8a1e681, 14) + d2;
  b = rotl<u32>(b + (d ^ (a & (c ^ d))) + load<u32>(p, 16) + 0xe7d3fbc8, 20) + c;
  b2 = rotl<u32>(b2 + (d2 ^ (a2 & (c2 ^ d2))) + load<u32>(q, 16) + 0xe7d3fbc8, 20) + c2;
  a = rotl<u32>(a + (c ^ (d & (b ^ c))) + load<u32>(p, 36) + 0x21e1cde6, 5) + b;
  a2 = rotl<u32>(a2 + (c2 ^ (d2 & (b2 ^ c2))) + load<u32>(q, 36) + 0x21e1cde6, 5) + b2;
  d = rotl<u32>(d + (b ^ (c & (a ^ b))) + load<u32>(p, 56) + 0xc33707d6, 9) + a;
  d2 = rotl<u32>(d2 + (b2 ^ (c2 & (a2 ^ b2))) + load<u32>(q, 56) + 0xc33707d6, 9) + a2;
  c = rotl<u32>(c + (a ^ (b & (d ^ a))) + load<u32>(p, 12) + 0xf4d50d87, 14) + d;
  c2 = rotl<u32>(c2 + (a2 ^ (b2 & (d2 ^ a2))) + load<u32>(q, 12) + 0xf4d50d87, 14) + d2;
  b = rotl<u32>(b + (d ^ (a & (c ^ d))) + load<u32>(p, 32) + 0x455a14ed, 20) + c;
  b2 = rotl<u32>(b2 + (d2 ^ (a2 & (c2 ^ d2))) + load<u32>(q, 32) + 0x455a14ed, 20) + c2;
  a = rotl<u32>(a + (c ^ (d & (b ^ c))) + load<u32>(p, 52) + 0xa9e3e905, 5) + b;
  a2 = rotl<u32>(a2 + (c2 ^ (d2 & (b2 ^ c2))) + load<u32>(q, 52) + 0xa9e3e905, 5) + b2;
  d = rotl<u32>(d + (b ^ (c & (a ^ b))) + load<u32>(p, 8) + 0xfcefa3f8, 9) + a;
  d2 = rotl<u32>(d2 + (b2 ^ (c2 & (a2 ^ b2))) + load<u32>(q, 8) + 0xfcefa3f8, 9) + a2;
  c = rotl<u32>(c + (a ^ (b & (d ^ a))) + load<u32>(p, 28) + 0x676f02d9, 14) + d;
  c2 = rotl<u32>(c2 + (a2 ^ (b2 & (d2 ^ a2))) + load<u32>(q, 28) + 0x676f02d9, 14) + d2;
  b = rotl<u32>(b + (d ^ (a & (c ^ d))) + load<u32>(p, 48) + 0x8d2a4c8a, 20) + c;
  b2 = rotl<u32>(b2 + (d2 ^ (a2 & (c2 ^ d2))) + load<u32>(q, 48) + 0x8d2a4c8a, 20) + c2;
  a = rotl<u32>(a + (b ^ c ^ d) + load<u32>(p, 20) + 0xfffa3942, 4) + b;
  a2 = rotl<u32>(a2 + (b2 ^ c2 ^ d2) + load<u32>(q, 20) + 0xfffa3942, 4) + b2;
  d = rotl<u32>(d + (a ^ b ^ c) + load<u32>(p, 32) + 0x8771f681, 11) + a;
  d2 = rotl<u32>(d2 + (a2 ^ b2 ^ c2) + load<u32>(q, 32) + 0x8771f681, 11) + a2;
  c = rotl<u32>(c + (d ^ a ^ b) + load<u32>(p, 44) + 0x6d9d6122, 16) + d;
  c2 = rotl<u32>(c2 + (d2 ^ a2 ^ b2) + load<u32>(q, 44) + 0x6d9d6122, 16) + d2;
  b = rotl<u32>(b + (c ^ d ^ a) + load<u32>(p, 56) + 0xfde5380c, 23) + c;
  b2 = rotl<u32>(b2 + (c2 ^ d2 ^ a2) + load<u32>(q, 56) + 0xfde5380c, 23) + c2;
  a = rotl<u32>(a + (b ^ c ^ d) + load<u32>(p, 4) + 0xa4beea44, 4) + b;
  a2 = rotl<u32>(a2 + (b2 ^ c2 ^ d2) + load<u32>(q, 4) + 0xa4beea44, 4) + b2;
  d = rotl<u32>(d + (a ^ b ^ c) + load<u32>(p, 16) + 0x4bdecfa9, 11) + a;
  d2 = rotl<u32>(d2 + (a2 ^ b2 ^ c2) + load<u32>(q, 16) + 0x4bdecfa9, 11) + a2;
  c = rotl<u32>(c + (d ^ a ^ b) + load<u32>(p, 28) + 0xf6bb4b60, 16) + d;
  c2 = rotl<u32>(c2 + (d2 ^ a2 ^ b2) + load<u32>(q, 28) + 0xf6bb4b60, 16) + d2;
  b = rotl<u32>(b + (c ^ d ^ a) + load<u32>(p, 40) + 0xbebfbc70, 23) + c;
  b2 = rotl<u32>(b2 + (c2 ^ d2 ^ a2) + load<u32>(q, 40) + 0xbebfbc70, 23) + c2;
  a = rotl<u32>(a + (b ^ c ^ d) + load<u32>(p, 52) + 0x289b7ec6, 4) + b;
  a2 = rotl<u32>(a2 + (b2 ^ c2 ^ d2) + load<u32>(q, 52) + 0x289b7ec6, 4) + b2;
  d = rotl<u32>(d + (a ^ b ^ c) + load<u32>(p, 0) + 0xeaa127fa, 11) + a;
  d2 = rotl<u32>(d2 + (a2 ^ b2 ^ c2) + load<u32>(q, 0) + 0xeaa127fa, 11) + a2;
  c = rotl<u32>(c + (d ^ a ^ b) + load<u32>(p, 12) + 0xd4ef3085, 16) + d;
  c2 = rotl<u32>(c2 + (d2 ^ a2 ^ b2) + load<u32>(q, 12) + 0xd4ef3085, 16) + d2;
  b = rotl<u32>(b + (c ^ d ^ a) + load<u32>(p, 24) + 0x04881d05, 23) + c;
  b2 = rotl<u32>(b2 + (c2 ^ d2 ^ a2) + load<u32>(q, 24) + 0x04881d05, 23) + c2;
  a = rotl<u32>(a + (b ^ c ^ d) + load<u32>(p, 36) + 0xd9d4d039, 4) + b;
  a2 = rotl<u32>(a2 + (b2 ^ c2 ^ d2) + load<u32>(q, 36) + 0xd9d4d039, 4) + b2;
  d = rotl<u32>(d + (a ^ b ^ c) + load<u32>(p, 48) + 0xe6db99e5, 11) + a;
  d2 = rotl<u32>(d2 + (a2 ^ b2 ^ c2) + load<u32>(q, 48) + 0xe6db99e5, 11) + a2;
  c = rotl<u32>(c + (d ^ a ^ b) + load<u32>(p, 60) + 0x1fa27cf8, 16) + d;
  c2 = rotl<u32>(c2 + (d2 ^ a2 ^ b2) + load<u32>(q, 60) + 0x1fa27cf8, 16) + d2;
  b = rotl<u32>(b + (c ^ d ^ a) + load<u32>(p, 8) + 0xc4ac5665, 23) + c;
  b2 = rotl<u32>(b2 + (c2 ^ d2 ^ a2) + load<u32>(q, 8) + 0xc4ac5665, 23) + c2;
  a = rotl<u32>(a + (c ^ (b | ~d)) + load<u32>(p, 0) + 0xf4292244, 6) + b;
  a2 = rotl<u32>(a2 + (c2 ^ (b2 | ~d2)) + load<u32>(q, 0) + 0xf4292244, 6) + b2;
  d = rotl<u32>(d + (b ^ (a | ~c)) + load<u32>(p, 28) + 0x432aff97, 10) + a;
  d2 = rotl<u32>(d2 + (b2 ^ (a2 | ~c2)) + load<u32>(q, 28) + 0x432aff97, 10) + a2;
  c = rotl<u32>(c + (a ^ (d | ~b)) + load<u32>(p, 56) + 0xab9423a7, 15) + d;
  c2 = rotl<u32>(c2 + (a2 ^ (d2 | ~b2)) + load<u32>(q, 56) + 0xab9423a7, 15) + d2;
  b = rotl<u32>(b + (d ^ (c | ~a)) + load<u32>(p, 20) + 0xfc93a039, 21) + c;
  b2 = rotl<u32>(b2 + (d2 ^ (c2 | ~a2)) + load<u32>(q, 20) + 0xfc93a039, 21) + c2;
  a = rotl<u32>(a + (c ^ (b | ~d)) + load<u32>(p, 48) + 0x655b59c3, 6) + b;
  a2 = rotl<u32>(a2 + (c2 ^ (b2 | ~d2)) + load<u32>(q, 48) + 0x655b59c3, 6) + b2;
  d = rotl<u32>(d + (b ^ (a | ~c)) + load<u32>(p, 12) + 0x8f0ccc92, 10) + a;
  d2 = rotl<u32>(d2 + (b2 ^ (a2 | ~c2)) + load<u32>(q, 12) + 0x8f0ccc92, 10) + a2;
  c = rotl<u32>(c + (a ^ (d | ~b)) + load<u32>(p, 40) + 0xffeff47d, 15) + d;
  c2 = rotl<u32>(c2 + (a2 ^ (d2 | ~b2)) + load<u32>(q, 40) + 0xffeff47d, 15) + d2;
  b = rotl<u32>(b + (d ^ (c | ~a)) + load<u32>(p, 4) + 0x85845dd1, 21) + c;
  b2 = rotl<u32>(b2 + (d2 ^ (c2 | ~a2)) + load<u32>(q, 4) + 0x85845dd1, 21) + c2;
  a = rotl<u32>(a + (c ^ (b | ~d)) + load<u32>(p, 32) + 0x6fa87e4f, 6) + b;
  a2 = rotl<u32>(a2 + (c2 ^ (b2 | ~d2)) + load<u32>(q, 32) + 0x6fa87e4f, 6) + b2;
  d = rotl<u32>(d + (b ^ (a | ~c)) + load<u32>(p, 60) + 0xfe2ce6e0, 10) + a;
  d2 = rotl<u32>(d2 + (b2 ^ (a2 | ~c2)) + load<u32>(q, 60) + 0xfe2ce6e0, 10) + a2;
  c = rotl<u32>(c + (a ^ (d | ~b)) + load<u32>(p, 24) + 0xa3014314, 15) + d;
  c2 = rotl<u32>(c2 + (a2 ^ (d2 | ~b2)) + load<u32>(q, 24) + 0xa3014314, 15) + d2;
  b = rotl<u32>(b + (d ^ (c | ~a)) + load<u32>(p, 52) + 0x4e0811a1, 21) + c;
  b2 = rotl<u32>(b2 + (d2 ^ (c2 | ~a2)) + load<u32>(q, 52) + 0x4e0811a1, 21) + c2;
  a = rotl<u32>(a + (c ^ (b | ~d)) + load<u32>(p, 16) + 0xf7537e82, 6) + b;
  a2 = rotl<u32>(a2 + (c2 ^ (b2 | ~d2)) + load<u32>(q, 16) + 0xf7537e82, 6) + b2;
  pairSecond = 0x67452301 + a2;
  return 0x67452301 + a;
}

export function md5PairSecond(): u32 {
  return pairSecond;
}

// CRC-32 (IEEE 802.3: reflected polynomial 0xEDB88320, initial value and final xor 0xFFFFFFFF), one table
// lookup per byte, as zlib's crc32() and nginx's ngx_crc32_long()/ngx_crc32_update() compute it.
// The 1 KiB table is static data filled on first use: nothing is allocated.

const TABLE: usize = memory.data(1024, 16);
let ready = false;

function fillTable(): void {
  for (let i: u32 = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = (c & 1) != 0 ? 0xedb88320 ^ (c >> 1) : c >> 1;
    store<u32>(TABLE + (<usize>i << 2), c);
  }
  ready = true;
}

/** One byte into a raw CRC state (no initial value or final xor applied). */
// @ts-ignore: decorator
@inline export function crc32Byte(crc: u32, b: u32): u32 {
  return load<u32>(TABLE + (<usize>((crc ^ b) & 0xff) << 2)) ^ (crc >> 8);
}

/** Bytes [ptr, ptr + len) into a raw CRC state: ngx_crc32_update. Start from 0xFFFFFFFF, finish with ~. */
export function crc32Update(crc: u32, ptr: usize, len: usize): u32 {
  if (!ready) fillTable();
  const end = ptr + len;
  for (let p = ptr; p < end; p++) crc = crc32Byte(crc, load<u8>(p));
  return crc;
}

/** CRC-32 of bytes [ptr, ptr + len). */
export function crc32(ptr: usize, len: usize): u32 {
  return ~crc32Update(0xffffffff, ptr, len);
}

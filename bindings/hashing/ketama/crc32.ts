// Pure-TS CRC-32 (IEEE 802.3, reflected polynomial 0xEDB88320, init/final xor 0xFFFFFFFF), one table
// lookup per byte: the twin of assembly/crc32.ts and of nginx's ngx_crc32_long / ngx_crc32_update.
// Strings are hashed as their UTF-8 bytes; ASCII is read straight from charCodeAt.
import { utf8Scratch } from '../../core/utf8.js';

const TABLE = new Int32Array(256);
for (let i = 0; i < 256; i++) {
  let c = i;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  TABLE[i] = c;
}

/** One byte into a raw CRC state (signed 32-bit; no initial value or final xor). */
export function crc32Byte(crc: number, b: number): number {
  return TABLE[(crc ^ b) & 0xff]! ^ (crc >>> 8);
}

/** Bytes [start, end) into a raw CRC state: start from 0xFFFFFFFF (or -1), finish with `~`. */
export function crc32Update(crc: number, b: Uint8Array, start = 0, end = b.length): number {
  for (let p = start; p < end; p++) crc = TABLE[(crc ^ b[p]!) & 0xff]! ^ (crc >>> 8);
  return crc;
}

/** CRC-32 of bytes, unsigned. */
export function crc32Bytes(b: Uint8Array, start = 0, end = b.length): number {
  return ~crc32Update(-1, b, start, end) >>> 0;
}

/** CRC-32 of the UTF-8 encoding of `s`, unsigned. */
export function crc32String(s: string): number {
  let crc = -1;
  const len = s.length;
  for (let i = 0; i < len; i++) {
    const c = s.charCodeAt(i);
    if (c > 127) return crc32Bytes(utf8Scratch(s));
    crc = TABLE[(crc ^ c) & 0xff]! ^ (crc >>> 8);
  }
  return ~crc >>> 0;
}

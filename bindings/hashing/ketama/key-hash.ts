// Key hashes for ketama rings, pure TS: the twin of `ketamaHash` in assembly/ketama.ts. MD5 word 0 is what
// libketama, libmemcached and hashring use; the rest are twemproxy's hashkit functions (`hash:` in
// nutcracker.yml, src/hashkit/nc_*.c) exactly as an x86 build computes them: `char` is signed, so bytes
// >= 0x80 are sign-extended before mixing (one_at_a_time, fnv*), and fnv1_64/fnv1a_64 return only the low
// 32 bits, which depend only on the low halves of the 64-bit init and prime.
import { md5Word0, md5Word0String } from './md5.js';
import { utf8Scratch } from '../../core/utf8.js';

export const KETAMA_KEY_HASHES = [
  'md5',
  'one_at_a_time',
  'fnv1_64',
  'fnv1a_64',
  'fnv1_32',
  'fnv1a_32',
  'crc32',
  'crc32a',
  'murmur',
] as const;
export type KetamaKeyHash = (typeof KETAMA_KEY_HASHES)[number];

/** Index of each hash in KETAMA_KEY_HASHES: the `kind` argument of the WASM `ketamaHash`. */
export function keyHashKind(h: KetamaKeyHash): number {
  return KETAMA_KEY_HASHES.indexOf(h);
}

const CRC_TABLE = (() => {
  const t = new Int32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c;
  }
  return t;
})();

const sx = (b: number): number => (b << 24) >> 24; // C `char` on x86

/** Hash of bytes[0, len) with key hash `kind` (index into KETAMA_KEY_HASHES), as an unsigned 32-bit integer. */
export function ketamaHashBytes(kind: number, b: Uint8Array, len: number = b.length): number {
  switch (kind) {
    case 0:
      return md5Word0(b, len);
    case 1: {
      let v = 0;
      for (let i = 0; i < len; i++) {
        v = (v + sx(b[i]!)) | 0;
        v = (v + (v << 10)) | 0;
        v ^= v >>> 6;
      }
      v = (v + (v << 3)) | 0;
      v ^= v >>> 11;
      v = (v + (v << 15)) | 0;
      return v >>> 0;
    }
    case 2:
    case 4: {
      let h = kind === 2 ? 0x84222325 | 0 : 0x811c9dc5 | 0;
      const prime = kind === 2 ? 0x1b3 : 16777619;
      for (let i = 0; i < len; i++) h = Math.imul(h, prime) ^ sx(b[i]!);
      return h >>> 0;
    }
    case 3:
    case 5: {
      let h = kind === 3 ? 0x84222325 | 0 : 0x811c9dc5 | 0;
      const prime = kind === 3 ? 0x1b3 : 16777619;
      for (let i = 0; i < len; i++) h = Math.imul(h ^ sx(b[i]!), prime);
      return h >>> 0;
    }
    case 6:
    case 7: {
      let crc = -1;
      for (let i = 0; i < len; i++) crc = CRC_TABLE[(crc ^ b[i]!) & 0xff]! ^ (crc >>> 8);
      return kind === 6 ? (~crc >>> 16) & 0x7fff : ~crc >>> 0;
    }
    case 8: {
      const m = 0x5bd1e995;
      let h = Math.imul(0xdeadbeef | 0, len) ^ len;
      let i = 0;
      for (; len - i >= 4; i += 4) {
        let k = b[i]! | (b[i + 1]! << 8) | (b[i + 2]! << 16) | (b[i + 3]! << 24);
        k = Math.imul(k, m);
        k ^= k >>> 24;
        k = Math.imul(k, m);
        h = Math.imul(h, m) ^ k;
      }
      const rest = len - i;
      if (rest === 3) h ^= b[i + 2]! << 16;
      if (rest >= 2) h ^= b[i + 1]! << 8;
      if (rest >= 1) h = Math.imul(h ^ b[i]!, m);
      h ^= h >>> 13;
      h = Math.imul(h, m);
      h ^= h >>> 15;
      return h >>> 0;
    }
    default:
      throw new RangeError(`unknown key hash kind ${kind}`);
  }
}

/** Hash of a string key (its UTF-8 bytes). */
export function ketamaHashString(kind: number, s: string): number {
  if (kind === 0) return md5Word0String(s);
  const b = utf8Scratch(s);
  return ketamaHashBytes(kind, b, b.length);
}

// UTF-8 encoding into a reused scratch buffer, exactly as TextEncoder encodes (lone surrogates become
// U+FFFD). Keys are encoded once per call; the scratch grows to the largest key seen.

const encoder = new TextEncoder();
let scratch = new Uint8Array(256);

/** Encodes `s`; the result is a view of shared scratch, valid until the next call. */
export function utf8Scratch(s: string): Uint8Array {
  const max = s.length * 3;
  if (max > scratch.length) scratch = new Uint8Array(Math.max(max, scratch.length * 2));
  return scratch.subarray(0, utf8Into(scratch, 0, s));
}

/**
 * Writes the UTF-8 of `s` at `at` (room for 3 bytes per code unit needed) and returns its length: ASCII straight
 * from charCodeAt, from the first other code unit on by `TextEncoder.encodeInto`.
 */
export function utf8Into(u8: Uint8Array, at: number, s: string): number {
  const n = s.length;
  let i = 0;
  for (; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c > 127) break;
    u8[at + i] = c;
  }
  return i === n ? n : i + encoder.encodeInto(s.slice(i), u8.subarray(at + i, at + n * 3)).written;
}

export function utf8(s: string): Uint8Array {
  return encoder.encode(s);
}

/** The one TextEncoder (batch paths encode joined keys with it). */
export { encoder };

// UTF-8 encoding into a reused scratch buffer, exactly as TextEncoder encodes (lone surrogates become
// U+FFFD). Keys are encoded once per call; the scratch grows to the largest key seen.

const encoder = new TextEncoder();
let scratch = new Uint8Array(256);

/** Encodes `s`; the result is a view of shared scratch, valid until the next call. */
export function utf8Scratch(s: string): Uint8Array {
  const max = s.length * 3;
  if (max > scratch.length) scratch = new Uint8Array(Math.max(max, scratch.length * 2));
  // ASCII fast path: one pass, bail out at the first non-ASCII code unit
  const len = s.length;
  let i = 0;
  for (; i < len; i++) {
    const c = s.charCodeAt(i);
    if (c > 127) break;
    scratch[i] = c;
  }
  if (i === len) return scratch.subarray(0, len);
  const { written } = encoder.encodeInto(s.slice(i), scratch.subarray(i));
  return scratch.subarray(0, i + written);
}

export function utf8(s: string): Uint8Array {
  return encoder.encode(s);
}

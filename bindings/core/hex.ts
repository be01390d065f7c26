// Hex decoding without Buffer, so the inlined modules load in any JS runtime.

/** Bytes of a hex string (even length, digits 0-9a-f). */
export function decodeHex(s: string): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(s.length >>> 1);
  for (let i = 0; i < out.length; i++) out[i] = (digit(s.charCodeAt(2 * i)) << 4) | digit(s.charCodeAt(2 * i + 1));
  return out;
}

function digit(c: number): number {
  return c < 58 ? c - 48 : c - 87;
}

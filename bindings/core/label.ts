// Vnode labels, the pure-TS twin of assembly/label.ts: the decimal index written after a member's prefix
// (`${id}-${i}` for HashRing and ketama, `${id}_${i}` for Envoy's ring_hash). No allocation.

/** Writes `x` in decimal ASCII into `buf` at `at`; returns the digits written. */
export function writeDecimal(buf: Uint8Array, at: number, x: number): number {
  let nd = 1;
  for (let y = x; y >= 10; y = Math.floor(y / 10)) nd++;
  for (let d = nd; d > 0; d--, x = Math.floor(x / 10)) buf[at + d - 1] = 0x30 + (x % 10);
  return nd;
}

// Vnode labels: the decimal index written after a member's prefix (`${id}-${i}`, `host_i`, ...). No allocation.

/** Writes `x` in decimal ASCII at `ptr`; returns the number of digits written. */
// @ts-ignore: decorator
@inline export function writeDecimal(ptr: usize, x: u32): u32 {
  let nd: u32 = 1;
  for (let y = x; y >= 10; y /= 10) nd++;
  for (let d = nd; d > 0; d--) {
    store<u8>(ptr + d - 1, 0x30 + (x % 10));
    x /= 10;
  }
  return nd;
}

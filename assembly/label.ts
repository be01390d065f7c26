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

/** Adds one to the `nd`-digit decimal ASCII number at `ptr` in place; returns its new digit count. */
// @ts-ignore: decorator
@inline export function incrementDecimal(ptr: usize, nd: u32): u32 {
  let d = nd;
  while (d > 0) {
    const c = load<u8>(ptr + d - 1);
    if (c != 0x39) {
      store<u8>(ptr + d - 1, c + 1);
      return nd;
    }
    store<u8>(ptr + d - 1, 0x30);
    d--;
  }
  // all nines: 10...0, one digit longer
  store<u8>(ptr, 0x31);
  store<u8>(ptr + nd, 0x30);
  return nd + 1;
}

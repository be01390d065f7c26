// The Balancer's per-member state table as the policy kernels read it (twin: bindings/balancing/picker.ts): one
// f64 column-major table per balancer, column c of row r at base + (c * cap + r) * 8; `rows` arguments are i32
// lists of eligible rows. Column numbers must match the TS side's.

export const COL_WEIGHT: usize = 0;
export const COL_CW: usize = 1;
export const COL_EW: usize = 2;
export const COL_ACTIVE: usize = 3;
export const COL_EST: usize = 4;
export const COL_STAMP: usize = 5;
export const COL_FAILS: usize = 6;
export const COL_CHECKED: usize = 7;
export const COL_AVG_RTT: usize = 9;

// @ts-ignore: decorator
@inline export function cell(base: usize, cap: usize, col: usize, row: usize): usize {
  return base + ((col * cap + row) << 3);
}

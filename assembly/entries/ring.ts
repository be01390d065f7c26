// The ring family: what HashRing and xxh32 need (bindings/core/core-wasm.ts `Core`). xxh64 (the points of
// xxh64 rings, their batch by key bytes, and xxh64 itself) and the batches by hash are in the ring-batch module
// (entries/ring-batch.ts), over this module's memory: `ringTable` sorts the points it makes.
export { xxh32 } from '../xxhash';
export { ringScratchBytes, ringBuild, ringTable, xxh32Keys } from '../ring';

/** First byte the bindings may allocate. */
export function heapBase(): usize {
  return __heap_base;
}

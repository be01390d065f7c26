// The ring family: what HashRing and the xxh32/xxh64 functions need (bindings/core/core-wasm.ts `Core`).
export { xxh32, xxh64, xxh64Hi } from '../xxhash';
export { ringScratchBytes, ringBuild, ringLookupManyBytes } from '../ring';

/** First byte the bindings may allocate. */
export function heapBase(): usize {
  return __heap_base;
}

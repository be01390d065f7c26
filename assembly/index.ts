// switchyard core: the exports the TypeScript bindings call. Pointers are offsets into this module's
// memory, handed out by the bindings' allocator (bindings/memory.ts) from heapBase() upwards.
export { xxh32, xxh64 } from './xxhash';
export { ringScratchBytes, ringBuild, ringLookup, ringLookupMany, ringLookupManyBytes } from './ring';

/** First byte the bindings may allocate. */
export function heapBase(): usize {
  return __heap_base;
}

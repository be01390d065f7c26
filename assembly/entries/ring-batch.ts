// The ring family's second module (ring-batch.ts): HashRing's batch lookups by hash, and xxh64 (the points of
// xxh64 rings and their batch by key bytes, and xxh64 itself). Built with its memory imported (asconfig.json
// target "ringbatch"), instantiated over the ring module's memory by `registerRingExtras()` and by `xxh64()`.
export { xxh64, xxh64Hi } from '../xxhash';
export { ringPoints64, xxh64HiKeys, ringLookupMany, ringDirectBuild, ringLookupDirect } from '../ring-batch';

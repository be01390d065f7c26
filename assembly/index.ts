// switchyard core: the exports the TypeScript bindings call. Pointers are offsets into this module's
// memory, handed out by the bindings' allocator (bindings/core/memory.ts) from heapBase() upwards.
export { xxh32, xxh64, xxh64Hi } from './xxhash';
export { ringScratchBytes, ringBuild, ringTable, xxh32Keys } from './ring';
export { ringPoints64, xxh64HiKeys, ringLookupMany, ringDirectBuild, ringLookupDirect } from './ring-batch';
export { md5, md5Word0, md5Word0Pair, md5PairSecond } from './md5';
export { ketamaScratchBytes, ketamaBuild, ketamaHash, ketamaLookupManyBytes } from './ketama';
export { crc32, crc32Update } from './crc32';
export { jumpHash, jumpHashPair, jumpHashBytes, jumpMany, jumpManyPairs, jumpManyBytes } from './jump';
export { nginxChashScratchBytes, nginxChashBuild, nginxChashLookup, nginxChashLookupMany, nginxChashLookupManyBytes } from './nginx-hash';
export { swrrStep, swrrPlainStep } from './weighted-round-robin';
export { latencyAwareScan } from './latency-aware';
export { peakEwmaCost, peakEwmaObserve, expNeg } from './peak-ewma';
export { lnUnit, rendezvousPick, rendezvousPickBytes, rendezvousPickManyBytes, rendezvousScoresBytes } from './rendezvous';
export { envoyMurmur2 } from './murmur2';
export { envoyRingCounts, envoyRingScratchBytes, envoyRingBuild, envoyRingLookupManyBytes, envoyRingGet, envoyKeyHash } from './ring-hash';
export { maglevScratchBytes, maglevBuild, maglevLookupManyBytes, maglevGet } from './maglev';

/** First byte the bindings may allocate. */
export function heapBase(): usize {
  return __heap_base;
}

// The hashing family: every other hasher (jump, nginx, rendezvous, ketama, Envoy ring hash and Maglev), with
// the ring family's exports beside them.
export { xxh32, xxh64, xxh64Hi } from '../xxhash';
export { ringScratchBytes, ringBuild, ringTable, xxh32Keys } from '../ring';
export { md5, md5Word0, md5Word0Pair, md5PairSecond } from '../md5';
export { ketamaScratchBytes, ketamaBuild, ketamaHash, ketamaLookupManyBytes } from '../ketama';
export { crc32, crc32Update } from '../crc32';
export { jumpHash, jumpHashPair, jumpHashBytes, jumpMany, jumpManyPairs, jumpManyBytes } from '../jump';
export { nginxChashScratchBytes, nginxChashBuild, nginxChashLookup, nginxChashLookupMany, nginxChashLookupManyBytes } from '../nginx-hash';
export { lnUnit, rendezvousPick, rendezvousPickBytes, rendezvousPickManyBytes, rendezvousScoresBytes } from '../rendezvous';
export { envoyMurmur2 } from '../murmur2';
export { envoyRingCounts, envoyRingScratchBytes, envoyRingBuild, envoyRingLookupManyBytes, envoyRingGet, envoyKeyHash } from '../ring-hash';
export { maglevScratchBytes, maglevBuild, maglevLookupManyBytes, maglevGet } from '../maglev';

/** First byte the bindings may allocate. */
export function heapBase(): usize {
  return __heap_base;
}

// The ring's batch lookups (ring-batch.ts), a module of their own: built with its memory imported (asconfig.json
// target "ringbatch"), instantiated over the ring module's memory by `registerRingExtras()`.
export { ringLookupMany, ringDirectBuild, ringLookupDirect } from '../ring-batch';

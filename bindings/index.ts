// switchyard: exact, fast traffic routing with a WebAssembly core and a pure-TS twin.
export { init, initSync, backend, backendError, setBackend, type WasmSource } from './backend.js';
export type { Backend, RingHash } from './core.js';
export { xxh32, xxh64, type HashInput } from './hash.js';
export {
  HashRing,
  NO_MEMBER,
  DEFAULT_VNODES,
  MAX_VNODES,
  MAX_MEMBERS,
  MAX_POINTS,
  type HashRingOptions,
  type MemberInput,
  type Key,
  type RingStats,
  type RingMemberStats,
} from './ring.js';
export { planChange, type Plan, type PlanMember } from './plan.js';

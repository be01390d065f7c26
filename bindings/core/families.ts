// The WebAssembly modules, one per family of algorithms, each inlined as hex by `npm run build:wasm`
// (scripts/gen-wasm.mjs). A family is only bundled where code names it, so a page that uses HashRing ships
// the ring module alone (docs/browsers.md, bundle sizes):
//   RING_WASM       xxh32 and HashRing's xxh32 rings: the `Core` (core.ts) and xxh32 in hashing/hash.ts
//   HASH_WASM       jump, nginx, rendezvous, ketama, Envoy ring hash and Maglev (a superset of RING_WASM)
//   BALANCING_WASM  the Balancer's state table and the policy kernels (weighted round robin, latency-aware, Peak-EWMA)
// and, not a family of its own, ring-batch.wasm: HashRing's batch lookups, and the ring family's xxh64 (xxh64
// rings, xxh64 in hashing/hash.ts), instantiated over the ring module's memory by ring-batch.ts
// `ringBatchExports` (registerRingExtras, xxh64).
// build/switchyard.wasm holds every family in one module: `init(source)` with it serves them all.
import { BALANCING_WASM_HEX } from './wasm-balancing.generated.js';
import { HASH_WASM_HEX } from './wasm-hash.generated.js';
import { RING_WASM_HEX } from './wasm-ring.generated.js';

/** One inlined module; objects of a family allocate in, and call, that module's instance. */
export interface WasmFamily {
  readonly name: 'ring' | 'hash' | 'balancing';
  readonly hex: string;
}

export const RING_WASM: WasmFamily = { name: 'ring', hex: RING_WASM_HEX };
export const HASH_WASM: WasmFamily = { name: 'hash', hex: HASH_WASM_HEX };
export const BALANCING_WASM: WasmFamily = { name: 'balancing', hex: BALANCING_WASM_HEX };

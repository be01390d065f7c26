// Where a Balancer's state table and policy kernels live: the balancing WebAssembly module (core/families.ts),
// or JS. The complete Balancer always uses BALANCING_TABLE; `switchyard/lite` only once a built-in policy (each
// factory names it as `wasm`) or `registerBalancingWasm()` registered it, so a round-robin bundle carries
// neither the module nor its loader (docs/browsers.md).
import { BALANCING_WASM } from '../core/families.js';
import { familyHandle, parseBackendFor } from '../core/loader.js';
import type { WasmHandle } from '../core/core-wasm.js';

/** Resolves the `backend` option of a Balancer to a backend and, for 'wasm', the module's handle. */
export interface WasmTable {
  resolve(options: { backend?: unknown }): { backend: 'wasm' | 'js'; wasm: WasmHandle | null };
}

/** The balancing module: 'wasm' when it loads (or when asked; throws where it cannot), else 'js'. */
export const BALANCING_TABLE: WasmTable = {
  resolve(options) {
    const backend = parseBackendFor(options, BALANCING_WASM);
    return { backend, wasm: familyHandle(backend, BALANCING_WASM) };
  },
};

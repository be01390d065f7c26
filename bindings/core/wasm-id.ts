// The build id of switchyard/wasm (build/switchyard.wasm): scripts/gen-wasm.mjs appends to the module a custom
// section WASM_ID_SECTION holding the first 8 bytes of the sha256 of asc's output as 16 hex digits (which
// changes nothing the module does), and writes the same id into wasm-id.generated.ts. `init(source)` and
// `initSync(source)` (backend.ts) adopt a caller's module only if it holds exactly that id, so neither another
// module (a per-family one, some other wasm) nor a stale switchyard/wasm (a cache after an upgrade) runs under
// this version's JS.
import { WASM_BUILD_ID, WASM_ID_SECTION } from './wasm-id.generated.js';

/** `mod` if it is this version's switchyard/wasm (by its build id); throws an Error naming both ids otherwise. */
export function ownBuild(mod: WebAssembly.Module): WebAssembly.Module {
  const found =
    WebAssembly.Module.customSections(mod, WASM_ID_SECTION)
      .map((b) => String.fromCharCode(...new Uint8Array(b)))
      .join() || 'none';
  if (found !== WASM_BUILD_ID)
    throw new Error(
      `the module is not this version's switchyard/wasm (build ${found}, expected ${WASM_BUILD_ID}): serve the installed switchyard/wasm file (a cache may hold an older one)`,
    );
  return mod;
}

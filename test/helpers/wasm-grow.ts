// Each lookup answers the same before and after the WASM memory grows under it (a grow replaces the buffer,
// so typed-array views made before it would read a detached or stale buffer).
import type { ExecutionContext } from 'ava';
import type { WasmHandle } from '../../bindings/core/core-wasm.js';

export function assertLookupsSurviveGrow(
  t: ExecutionContext,
  handle: WasmHandle,
  lookups: readonly [string, (key: string) => unknown][],
  key = 'user:42',
): void {
  for (const [name, look] of lookups) {
    const want = look(key);
    const gen = handle.mem.gen;
    const p = handle.mem.alloc(handle.mem.byteLength); // larger than any free block: forces memory.grow
    t.true(handle.mem.gen > gen);
    t.deepEqual(look(key), want, name);
    handle.mem.release(p);
  }
}

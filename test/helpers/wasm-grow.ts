// Each lookup answers the same before and after the WASM memory grows under it, twice (a grow replaces the
// buffer, so typed-array views made before it would read a detached buffer). Every answer is taken before the
// first grow, so that one lookup's grow cannot hide another's stale view.
import type { ExecutionContext } from 'ava';
import type { WasmHandle } from '../../bindings/core/core-wasm.js';

export function assertLookupsSurviveGrow(
  t: ExecutionContext,
  handle: WasmHandle,
  lookups: readonly [string, (key: string) => unknown][],
  key = 'user:42',
): void {
  const want = lookups.map(([, look]) => look(key));
  for (const round of [1, 2]) {
    const old = handle.mem.memory.buffer;
    const p = handle.mem.alloc(handle.mem.byteLength); // larger than any free block: forces memory.grow
    t.is(old.byteLength, 0, `grow ${round}: the old buffer is detached`);
    lookups.forEach(([name, look], i) => t.deepEqual(look(key), want[i], `${name}, after grow ${round}`));
    handle.mem.release(p);
  }
}

// The default core and loading (loader.ts keeps the instances, one per family: families.ts). Nothing is
// compiled at import time. The first API call that needs the core compiles the ring family's inlined bytes
// synchronously (`initSync`); where WebAssembly is missing or blocked (a CSP without 'wasm-unsafe-eval') the
// pure-TS core is used instead, `backend()` reports 'js' and `backendError()` why (null while WebAssembly is
// the default). `init(source)` is the async, memoized way for pages that want to fetch the .wasm file
// (`switchyard/wasm`, every family in one module) or compile off the main thread. HashRing reaches the
// pure-TS core (core-js.ts) only through `ringCore`, once registered by `registerJsFallback()`: switchyard's
// HashRing registers it, a switchyard/lite page does when it needs it, so a lite bundle that does not carries
// no pure-TS core (docs/browsers.md). A caller's module is adopted only if it carries this version's build id
// (wasm-id.ts).
import type { Backend, Core } from './core.js';
import { jsCore } from './core-js.js';
import { createWasmCore, createWasmHandle, type WasmHandle } from './core-wasm.js';
import { RING_WASM, type WasmFamily } from './families.js';
import { decodeHex } from './hex.js';
import { ownBuild } from './wasm-id.js';
import { rangeError, typeError } from '../util/validate.js';
import {
  adoptFamily,
  adoptShared,
  compileSync,
  failOver,
  familyHandle,
  getMode,
  instantiateSync,
  lastWasmError,
  loadFamily,
  parseBackendFor,
  requireFamily,
  setMode,
  wasmLoaded,
} from './loader.js';

export type WasmSource = WebAssembly.Module | BufferSource | URL | Response | PromiseLike<Response>;

let pending: Promise<Backend> | null = null;
/** The sources `pending` tries in turn: the first call's, then those of the calls made meanwhile. */
let queued: (WasmSource | undefined)[] = [];
const cores = new WeakMap<WasmHandle, Core>();

/** The WASM core over the ring family's instance (or the shared one). */
function wasmCore(h: WasmHandle): Core {
  let c = cores.get(h);
  if (c === undefined) cores.set(h, (c = createWasmCore(h)));
  return c;
}

function ringLoad(): Backend {
  if (loadFamily(RING_WASM) === null) {
    failOver(lastWasmError());
    return 'js';
  }
  setMode('wasm');
  return 'wasm';
}

/**
 * Compiles and instantiates the core synchronously (Node, workers); falls back to 'js' if it cannot. A
 * `source` (build/switchyard.wasm, every family) then serves every family; without one, the inlined bytes. A
 * module that is not this version's switchyard/wasm (by the build id in it) is refused like one that fails to
 * compile: 'js', and `backendError()` names the build found and the one expected.
 */
export function initSync(source?: WebAssembly.Module | BufferSource): Backend {
  if (wasmLoaded()) {
    setMode('wasm');
    return 'wasm';
  }
  if (source === undefined) return ringLoad();
  try {
    adoptShared(instantiateSync(ownBuild(compileSync(source))));
    return 'wasm';
  } catch (err) {
    failOver(err);
    return 'js';
  }
}

/** Loads `source` (the inlined ring family without one); throws where it cannot. */
async function load(source: WasmSource | undefined): Promise<void> {
  if (typeof WebAssembly !== 'object') throw new Error('WebAssembly is not available');
  if (source === undefined) {
    const mod = await WebAssembly.compile(decodeHex(RING_WASM.hex));
    const handle = createWasmHandle(await WebAssembly.instantiate(mod, {}));
    if (!wasmLoaded()) adoptFamily(RING_WASM, handle);
    return;
  }
  let mod: WebAssembly.Module;
  if (source instanceof WebAssembly.Module) mod = source;
  else if (ArrayBuffer.isView(source) || source instanceof ArrayBuffer) mod = await WebAssembly.compile(source);
  else {
    const res = source instanceof URL ? await fetch(source) : await source;
    if (res.ok === false) throw new Error(`WebAssembly source: HTTP ${res.status} from ${res.url || 'a Response'}`);
    mod = await WebAssembly.compile(await res.arrayBuffer());
  }
  const handle = createWasmHandle(await WebAssembly.instantiate(ownBuild(mod), {}));
  // loaded another way meanwhile: that one stays, with any setBackend('js') chosen since
  if (!wasmLoaded()) adoptShared(handle);
}

/**
 * Async, memoized: accepts a compiled module, bytes, a URL or a Response (e.g. `fetch(wasmUrl)`) of this
 * version's switchyard/wasm; anything else (another module, a stale copy) falls back to 'js' as `initSync` does,
 * unless WebAssembly was loaded meanwhile. Calls made while a load is pending share it; if it fails, their own
 * sources are tried in turn before falling back, and every call resolves to the backend then in effect. Called
 * once WebAssembly is loaded, it resolves to 'wasm' without using `source`.
 */
export function init(source?: WasmSource): Promise<Backend> {
  // a wrong argument is the caller's error (a TypeError), not a reason to fall back to 'js'
  const s = source as { arrayBuffer?: unknown; then?: unknown } | null | undefined;
  if (
    s !== undefined &&
    (s === null ||
      typeof s !== 'object' ||
      (typeof s.arrayBuffer !== 'function' &&
        typeof s.then !== 'function' &&
        !(s instanceof URL) &&
        !ArrayBuffer.isView(s) &&
        !(s instanceof ArrayBuffer) &&
        !(typeof WebAssembly === 'object' && s instanceof WebAssembly.Module)))
  )
    // rejected, not thrown: `init(x).catch(...)` sees it
    return Promise.reject(typeError('source', 'a WebAssembly.Module, bytes, a URL or a Response', source));
  // a source's rejection (a failed fetch) is never left unhandled: not used now (WASM loaded, a load pending),
  // or not awaited (no WebAssembly); where it is awaited the load still sees it
  Promise.resolve(source).catch(() => {});
  if (wasmLoaded()) {
    setMode('wasm');
    return Promise.resolve('wasm');
  }
  // a source already queued is not tried twice (a Response's body reads once)
  if (pending !== null) {
    if (!queued.includes(source)) queued.push(source);
    return pending;
  }
  queued = [source];
  // failures are not memoized: `pending` is cleared once every queued source failed (after an await, so after
  // it was assigned, even for a synchronous throw such as a refused build id). A failure falls back to 'js'
  // only if no WASM was loaded meanwhile (the inlined bytes, by initSync or a first object); the last error is
  // the one reported
  pending = (async (): Promise<Backend> => {
    let err: unknown;
    for (let i = 0; i < queued.length && !wasmLoaded(); i++)
      try {
        await load(queued[i]);
        break;
      } catch (e) {
        err = e;
      }
    pending = null;
    if (!wasmLoaded()) failOver(err);
    return backend();
  })();
  return pending;
}

/** The backend the API uses by default: 'wasm' or 'js'. Initializes synchronously if needed. */
export function backend(): Backend {
  return defaultWasmCore() === null ? 'js' : 'wasm';
}

/**
 * Why the default backend is not WebAssembly: the error of the failed load that made it 'js'. null before any
 * load, while WebAssembly is the default, and once a later load succeeded.
 */
export function backendError(): Error | null {
  const e = getMode() === 'wasm' ? null : lastWasmError();
  return e === undefined || e === null || e instanceof Error ? (e ?? null) : new Error(String(e));
}

/**
 * Forces the default backend: 'js' always works; 'wasm' initializes synchronously and throws if
 * WebAssembly cannot be used here.
 */
export function setBackend(kind: Backend): void {
  if (kind !== 'wasm' && kind !== 'js') throw rangeError('backend', "'wasm' or 'js'", kind);
  if (kind === 'wasm') requireFamily(RING_WASM);
  setMode(kind === 'js' ? 'js' : 'wasm');
}

/** The WASM core when the default backend is 'wasm' (initializing on first use), else null. */
export function defaultWasmCore(): Core | null {
  const mode = getMode() ?? initSync();
  const h = mode === 'wasm' ? loadFamily(RING_WASM) : null;
  return h === null ? null : wasmCore(h);
}

let jsFallback: Core | null = null;

/**
 * Lets HashRings run on the pure-TS core where WebAssembly is unavailable or `backend: 'js'` is asked for.
 * switchyard's HashRing does it itself; in switchyard/lite a page that may lack WebAssembly calls it.
 */
export function registerJsFallback(): void {
  jsFallback = jsCore;
}

/**
 * The core a HashRing on backend `kind` builds with. 'js' needs `registerJsFallback()`: a TypeError naming it
 * (and why WebAssembly is not in use) otherwise, never a silent different answer.
 */
export function ringCore(kind: Backend): Core {
  if (kind === 'wasm') return wasmCore(requireFamily(RING_WASM));
  if (jsFallback !== null) return jsFallback;
  const why = lastWasmError();
  throw new TypeError(
    `backend must be 'wasm' without the pure-TypeScript fallback (registerJsFallback() from switchyard/lite), got "js"${why === null ? '' : `: WebAssembly is unavailable (${String(why)})`}`,
  );
}

/**
 * The WASM instance's raw handle of a family (default the ring family, the core's) for feature modules and
 * tests, or null where WebAssembly is unavailable.
 */
export function wasmHandle(family: WasmFamily = RING_WASM): WasmHandle | null {
  if (getMode() === 'js' && !wasmLoaded() && lastWasmError() !== null) return null;
  return loadFamily(family);
}

/**
 * The backend a ring-family object builds with, from its options (loader.ts `parseBackendFor`; other
 * families pass theirs).
 */
export function parseBackend(options: { backend?: unknown }, family: WasmFamily = RING_WASM): Backend {
  return parseBackendFor(options, family);
}

/** The instance's handle of `family` for the 'wasm' backend, null for 'js'. */
export function handleFor(kind: Backend, family: WasmFamily = RING_WASM): WasmHandle | null {
  return familyHandle(kind, family);
}

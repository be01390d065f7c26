// Instances, per family (families.ts). Nothing is compiled at import time: the first object of a family that
// runs on the 'wasm' backend compiles that family's inlined bytes synchronously. Where WebAssembly is missing
// or blocked (a CSP without 'wasm-unsafe-eval') the pure-TS twins are used and the backend is 'js'. A module
// given to `init(source)`/`initSync(source)` (backend.ts; build/switchyard.wasm, every family in one) serves
// every family instead. The default backend (`mode`) is global: 'js' after `setBackend('js')` or a failed load.
import type { Backend } from './core.js';
import { createWasmHandle, type WasmHandle } from './core-wasm.js';
import { decodeHex } from './hex.js';
import type { WasmFamily } from './families.js';
import { rangeError } from '../util/validate.js';

/** The default backend: null until the first load decides it. */
let mode: Backend | null = null;
/** The instance of a caller's module (init/initSync with a source): every family uses it. */
let shared: WasmHandle | null = null;
const handles = new Map<WasmFamily, WasmHandle>();
let lastError: unknown = null;

/** `source` as a compiled module; throws where WebAssembly cannot be used. */
export function compileSync(source: WebAssembly.Module | BufferSource): WebAssembly.Module {
  if (typeof WebAssembly !== 'object') throw new Error('WebAssembly is not available');
  return source instanceof WebAssembly.Module ? source : new WebAssembly.Module(source);
}

/** Instantiates a module synchronously; throws where WebAssembly cannot be used. */
export function instantiateSync(source: WebAssembly.Module | BufferSource): WasmHandle {
  return createWasmHandle(new WebAssembly.Instance(compileSync(source), {}));
}

/** The handle of `family` (compiled from its inlined bytes on first use), or null where that fails. */
export function loadFamily(family: WasmFamily): WasmHandle | null {
  if (shared !== null) return shared;
  let h = handles.get(family);
  if (h !== undefined) return h;
  try {
    h = instantiateSync(decodeHex(family.hex));
  } catch (err) {
    lastError = err;
    return null;
  }
  handles.set(family, h);
  return h;
}

/** Makes `handle` the instance of `family` (compiled asynchronously by `init()`). */
export function adoptFamily(family: WasmFamily, handle: WasmHandle): void {
  handles.set(family, handle);
  setMode('wasm');
}

/** Whether some WASM instance is in use (a family's or a caller's module). */
export function wasmLoaded(): boolean {
  return shared !== null || handles.size > 0;
}

/** Makes `handle` (of a caller's module holding every family) the instance of every family. */
export function adoptShared(handle: WasmHandle): void {
  shared = handle;
  setMode('wasm');
}

/** Records why WebAssembly is not in use and makes 'js' the default. */
export function failOver(err: unknown): void {
  lastError = err;
  mode = 'js';
}

export function getMode(): Backend | null {
  return mode;
}

/** Sets the default backend; 'wasm' clears the error of an earlier failed load (backendError). */
export function setMode(kind: Backend): void {
  mode = kind;
  if (kind === 'wasm') lastError = null;
}

export function lastWasmError(): unknown {
  return lastError;
}

/** The default backend for an object of `family`: 'wasm' when its module loads, unless 'js' was chosen. */
export function defaultBackend(family: WasmFamily): Backend {
  if (mode === 'js') return 'js';
  if (loadFamily(family) === null) {
    mode ??= 'js';
    return 'js';
  }
  mode = 'wasm';
  return 'wasm';
}

/** The handle of `family`; throws where WebAssembly cannot be used. */
export function requireFamily(family: WasmFamily): WasmHandle {
  const h = loadFamily(family);
  if (h === null) throw new Error(`switchyard: WebAssembly backend unavailable: ${String(lastError)}`);
  return h;
}

/**
 * The backend an object of `family` builds with, from its options: `backend` 'wasm' (throws where WebAssembly
 * cannot be used) or 'js', else the default. A RangeError names `backend` for anything else.
 */
export function parseBackendFor(options: { backend?: unknown }, family: WasmFamily): Backend {
  const b = options.backend;
  if (b === undefined) return defaultBackend(family);
  if (b !== 'wasm' && b !== 'js') throw rangeError('backend', "'wasm' or 'js'", b);
  if (b === 'wasm') requireFamily(family);
  return b;
}

/** The handle of `family` for the 'wasm' backend, null for 'js'. */
export function familyHandle(kind: Backend, family: WasmFamily): WasmHandle | null {
  return kind === 'wasm' ? loadFamily(family) : null;
}

// Loading. Nothing is compiled at import time. The first API call that needs the core compiles the inlined
// bytes synchronously (`initSync`); where WebAssembly is missing or blocked (a CSP without
// 'wasm-unsafe-eval') the pure-TS core is used instead and `backend()` reports 'js'. `init(source)` is the
// async, memoized way for pages that want to fetch the .wasm file or compile off the main thread.
import type { Backend, Core } from './core.js';
import { jsCore } from './core-js.js';
import { createWasmCore, createWasmHandle, type WasmHandle } from './core-wasm.js';
import { decodeBase64 } from './base64.js';
import { WASM_BASE64 } from './wasm-bytes.generated.js';
import { rangeError } from '../util/validate.js';

export type WasmSource = WebAssembly.Module | BufferSource | URL | Response | PromiseLike<Response>;

let active: Core | null = null;
let wasm: Core | null = null;
let handle: WasmHandle | null = null;
let pending: Promise<Backend> | null = null;
let wasmError: unknown = null;

function inlineBytes(): Uint8Array<ArrayBuffer> {
  return decodeBase64(WASM_BASE64);
}

function adopt(instance: WebAssembly.Instance): Backend {
  handle = createWasmHandle(instance);
  wasm = createWasmCore(handle);
  active = wasm;
  return 'wasm';
}

function fallback(err: unknown): Backend {
  wasmError = err;
  active = jsCore;
  return 'js';
}

/** Compiles and instantiates the core synchronously (Node, workers); falls back to 'js' if it cannot. */
export function initSync(source?: WebAssembly.Module | BufferSource): Backend {
  if (wasm !== null) return (active = wasm).kind;
  try {
    if (typeof WebAssembly !== 'object') throw new Error('WebAssembly is not available');
    const mod = source instanceof WebAssembly.Module ? source : new WebAssembly.Module(source ?? inlineBytes());
    return adopt(new WebAssembly.Instance(mod, {}));
  } catch (err) {
    return fallback(err);
  }
}

/** Async, memoized: accepts a compiled module, bytes, a URL or a Response (e.g. `fetch(wasmUrl)`). */
export function init(source?: WasmSource): Promise<Backend> {
  if (wasm !== null) return Promise.resolve((active = wasm).kind);
  pending ??= (async () => {
    try {
      if (typeof WebAssembly !== 'object') throw new Error('WebAssembly is not available');
      let mod: WebAssembly.Module;
      if (source instanceof WebAssembly.Module) mod = source;
      else if (source === undefined) mod = await WebAssembly.compile(inlineBytes());
      else if (source instanceof URL) mod = await WebAssembly.compile(await (await fetch(source)).arrayBuffer());
      else if (ArrayBuffer.isView(source) || source instanceof ArrayBuffer) mod = await WebAssembly.compile(source);
      else mod = await WebAssembly.compile(await (await source).arrayBuffer());
      return adopt(await WebAssembly.instantiate(mod, {}));
    } catch (err) {
      pending = null;
      return fallback(err);
    }
  })();
  return pending;
}

/** The backend the API uses by default: 'wasm' or 'js'. Initializes synchronously if needed. */
export function backend(): Backend {
  return getCore().kind;
}

/** Why WebAssembly is not in use, if it was tried and failed. */
export function backendError(): unknown {
  return wasmError;
}

/**
 * Forces the default backend: 'js' always works; 'wasm' initializes synchronously and throws if
 * WebAssembly cannot be used here.
 */
export function setBackend(kind: Backend): void {
  active = kind === 'js' ? jsCore : requireWasm();
}

/** The default core, initializing on first use. */
export function getCore(kind?: Backend): Core {
  if (kind === 'js') return jsCore;
  if (kind === 'wasm') return requireWasm();
  if (active === null) initSync();
  return active!;
}

/** The WASM instance's raw handle for feature modules, or null where WebAssembly is unavailable. */
export function wasmHandle(): WasmHandle | null {
  if (wasm === null && wasmError === null) initSync();
  return handle;
}

function requireWasm(): Core {
  if (wasm === null) initSync();
  if (wasm === null) throw new Error(`switchyard: WebAssembly backend unavailable: ${String(wasmError)}`);
  return wasm;
}

/**
 * The backend an object builds with, from its options: `backend` 'wasm' (throws where WebAssembly cannot be
 * used) or 'js', else the active one. A RangeError names `backend` for anything else.
 */
export function parseBackend(options: { backend?: unknown }): Backend {
  const b = options.backend;
  if (b !== undefined && b !== 'wasm' && b !== 'js') throw rangeError('backend', "'wasm' or 'js'", b);
  return getCore(b).kind;
}

/** The WASM instance's handle for the 'wasm' backend, null for 'js'. */
export function handleFor(kind: Backend): WasmHandle | null {
  return kind === 'wasm' ? wasmHandle() : null;
}

// The client side of Prequal's probes over HTTP (bindings/balancing/policies/prequal.ts, the server side in
// prequal-handler.ts): `GET <scheme>://<member><path>`, the body read up to MAX_ANSWER_CHARS + 1 bytes and
// handed to the policy as text, which parses and validates it (an oversized, malformed or hostile answer is
// ignored and counted there). A status other than 200 or a network error rejects (counted as a failed probe).
//
//   const lb = new Balancer({ policy: { name: 'prequal', probe: createHttpProber() }, endpoints });
import type { Endpoint } from '../util/endpoint.js';
import { typeError } from '../util/validate.js';
import { MAX_ANSWER_CHARS, type PrequalProbe } from '../balancing/policies/prequal.js';
import { DEFAULT_PREQUAL_PATH } from './prequal-handler.js';
import { memberUrl, originOf } from './url-guard.js';

export interface HttpProberOptions {
  /** Probe path (default /prequal). */
  path?: string;
  /** Default 'http'. */
  scheme?: 'http' | 'https';
  /** The fetch to use (default globalThis.fetch). */
  fetch?: typeof fetch;
  /** Extra request headers (e.g. authorization). */
  headers?: Record<string, string>;
}

/** A prober for the `prequal` policy's `probe` option. */
export function createHttpProber(o: HttpProberOptions = {}): PrequalProbe {
  if (o === null || typeof o !== 'object') throw typeError('options', 'an object', o);
  const path = o.path ?? DEFAULT_PREQUAL_PATH;
  if (typeof path !== 'string' || !path.startsWith('/')) throw typeError('path', 'a path starting with /', path);
  const scheme = o.scheme ?? 'http';
  if (scheme !== 'http' && scheme !== 'https') throw typeError('scheme', "'http' or 'https'", scheme);
  const f = o.fetch ?? globalThis.fetch;
  if (typeof f !== 'function') throw typeError('fetch', 'a fetch function', f);
  const headers = { accept: 'application/json', ...o.headers };
  return async (member: Endpoint, signal: AbortSignal): Promise<unknown> => {
    const url = memberUrl(originOf(scheme, member.host, member.port), path);
    const res = await f(url, { method: 'GET', headers, signal, redirect: 'manual' });
    if (res.status !== 200) {
      await res.body?.cancel().catch(() => {});
      throw new Error(`prequal probe ${url}: status ${res.status}`);
    }
    return readLimited(res, MAX_ANSWER_CHARS + 1);
  };
}

/** The body as text, stopping after `limit` bytes (the rest is cancelled). */
async function readLimited(res: Response, limit: number): Promise<string> {
  if (res.body === null) return '';
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let n = 0;
  for (;;) {
    const r = await reader.read();
    if (r.done) break;
    chunks.push(r.value);
    n += r.value.length;
    if (n >= limit) {
      await reader.cancel().catch(() => {});
      break;
    }
  }
  const all = new Uint8Array(Math.min(n, limit));
  let o = 0;
  for (const c of chunks) {
    const take = Math.min(c.length, all.length - o);
    all.set(c.subarray(0, take), o);
    o += take;
    if (o >= all.length) break;
  }
  return new TextDecoder().decode(all);
}

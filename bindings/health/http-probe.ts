// HTTP(S) GET health probe for HealthChecker: healthy when the response status is expected (default
// 200-299, Envoy's `http_health_check.expected_statuses` default). Uses only `fetch` and `AbortSignal`, so it
// runs in Node >= 18 and in browsers (the backend must then send CORS headers). The response body is
// discarded unread. An unexpected status rejects with "HTTP <status>", a network error with its message and
// what its cause says, as resolver errors do (`fetch failed (ECONNREFUSED 127.0.0.1:8004)`: Node's fetch says
// only "fetch failed", the connect error is its cause); the checker turns both into failed probes with that
// reason. Options are checked when the probe is made (`headers`: a plain object of valid header names to
// string values), so a bad one is a TypeError naming it (under `field` when given, e.g. `healthCheck.path`),
// not a probe that fails every member.
//
//   new HealthChecker({ probe: httpProbe({ path: '/healthz', expectedStatuses: [200, [300, 399]] }) });
import type { HealthMember, HealthProbe } from './checker.js';
import { fieldNamer } from './options.js';
import { describeFailure } from '../util/failure.js';
import { checkKeys, intInRange, rangeError, typeError } from '../util/validate.js';

export type StatusRange = number | readonly [number, number];

export interface HttpProbeOptions<M extends HealthMember = HealthMember> {
  /** Request path (default '/'). */
  path?: string;
  /** 'http' (default) or 'https'. */
  scheme?: 'http' | 'https';
  /** Statuses or inclusive [lo, hi] ranges counted as healthy (default [[200, 299]]). */
  expectedStatuses?: readonly StatusRange[];
  /** Extra request headers. */
  headers?: Record<string, string>;
  /** Full URL per member instead of scheme://host:port/path. */
  url?: (member: M) => string;
  /** The fetch to use (default globalThis.fetch). */
  fetch?: typeof fetch;
}

function parseRanges(field: string, v: readonly StatusRange[]): Array<[number, number]> {
  if (!Array.isArray(v) || v.length === 0) throw typeError(field, 'a non-empty array', v);
  return v.map((r: StatusRange, i): [number, number] => {
    if (typeof r === 'number') {
      intInRange(`${field}[${i}]`, r, 100, 599);
      return [r, r];
    }
    if (!Array.isArray(r) || r.length !== 2) throw typeError(`${field}[${i}]`, 'a status or [lo, hi]', r);
    const lo = intInRange(`${field}[${i}][0]`, r[0], 100, 599);
    const hi = intInRange(`${field}[${i}][1]`, r[1], 100, 599);
    if (hi < lo) throw rangeError(`${field}[${i}][1]`, `>= ${lo}`, hi);
    return [lo, hi];
  });
}

/** RFC 9110 `token` (a header name). */
const HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/** Extra request headers: a plain object of header names to string values (no CR, LF or NUL); copied. */
function parseHeaders(field: string, v: unknown): Record<string, string> {
  if (v === undefined) return {};
  if (v === null || typeof v !== 'object' || Array.isArray(v))
    throw typeError(field, 'an object of header names to string values', v);
  const out: Record<string, string> = {};
  for (const [k, val] of Object.entries(v)) {
    if (!HEADER_NAME.test(k)) throw typeError(field, 'an object of valid HTTP header names', k);
    if (typeof val !== 'string' || /[\r\n\0]/.test(val))
      throw typeError(`${field}[${JSON.stringify(k)}]`, 'a header value string (no CR, LF or NUL)', val);
    out[k] = val;
  }
  return out;
}

/** `host:port` as a URL authority: IPv6 literals in brackets. */
export function authority(host: string, port: number): string {
  return host.includes(':') && !host.startsWith('[') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** The keys of HttpProbeOptions: a misspelt one is refused. */
export const PROBE_KEYS = [
  'path',
  'scheme',
  'expectedStatuses',
  'headers',
  'url',
  'fetch',
] satisfies (keyof HttpProbeOptions)[];

/**
 * An HTTP GET probe. `field`: how errors name the options object (`healthCheck`: `healthCheck.path must be ...`);
 * default: the options by their bare names.
 */
export function httpProbe<M extends HealthMember = HealthMember>(
  options: HttpProbeOptions<M> = {},
  field?: string,
): HealthProbe<M> {
  const n = fieldNamer(field);
  if (typeof options !== 'object' || options === null) throw typeError(field ?? 'options', 'an object', options);
  checkKeys(field ?? 'options', options, PROBE_KEYS);
  const path = options.path ?? '/';
  if (typeof path !== 'string' || !path.startsWith('/')) throw typeError(n('path'), "a string starting with '/'", path);
  const scheme = options.scheme ?? 'http';
  if (scheme !== 'http' && scheme !== 'https') throw rangeError(n('scheme'), "'http' or 'https'", scheme);
  const ranges = parseRanges(n('expectedStatuses'), options.expectedStatuses ?? [[200, 299]]);
  const f = options.fetch ?? globalThis.fetch;
  if (typeof f !== 'function') throw typeError(n('fetch'), 'a function (no global fetch here)', f);
  if (options.url !== undefined && typeof options.url !== 'function')
    throw typeError(n('url'), 'a function', options.url);
  const headers = parseHeaders(n('headers'), options.headers);
  const urlOf = options.url ?? ((m: M) => `${scheme}://${authority(m.host, m.port)}${path}`);
  return async (member, signal) => {
    let res: Response;
    try {
      res = await f(urlOf(member), { method: 'GET', headers, signal, cache: 'no-store', redirect: 'manual' });
    } catch (e) {
      // Node's fetch rejects with a bare "fetch failed" whose cause says what happened; an abort (the
      // checker's timeout, cancellation) keeps its own reason
      if (signal.aborted || !(e instanceof Error)) throw e;
      const reason = describeFailure(e);
      throw reason === e.message ? e : new Error(reason, { cause: e });
    }
    // Release the connection without reading the body.
    res.body?.cancel().catch(() => undefined);
    const s = res.status;
    for (const [lo, hi] of ranges) if (s >= lo && s <= hi) return true;
    throw new Error(`HTTP ${s}`);
  };
}

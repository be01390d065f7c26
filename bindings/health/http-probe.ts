// HTTP(S) GET health probe for HealthChecker: healthy when the response status is expected (default
// 200-299, Envoy's `http_health_check.expected_statuses` default). Uses only `fetch` and `AbortSignal`, so it
// runs in Node >= 18 and in browsers (the backend must then send CORS headers). The response body is
// discarded unread. An unexpected status rejects with "HTTP <status>", a network error with its message; the
// checker turns both into failed probes with that reason. Options are checked when the probe is made
// (`headers`: a plain object of valid header names to string values), so a bad one is a TypeError naming
// it, not a probe that fails every member.
//
//   new HealthChecker({ probe: httpProbe({ path: '/healthz', expectedStatuses: [200, [300, 399]] }) });
import type { HealthMember, HealthProbe } from './checker.js';
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

function parseRanges(v: readonly StatusRange[]): Array<[number, number]> {
  if (!Array.isArray(v) || v.length === 0) throw typeError('expectedStatuses', 'a non-empty array', v);
  return v.map((r: StatusRange, i): [number, number] => {
    if (typeof r === 'number') {
      intInRange(`expectedStatuses[${i}]`, r, 100, 599);
      return [r, r];
    }
    if (!Array.isArray(r) || r.length !== 2) throw typeError(`expectedStatuses[${i}]`, 'a status or [lo, hi]', r);
    const lo = intInRange(`expectedStatuses[${i}][0]`, r[0], 100, 599);
    const hi = intInRange(`expectedStatuses[${i}][1]`, r[1], 100, 599);
    if (hi < lo) throw rangeError(`expectedStatuses[${i}][1]`, `>= ${lo}`, hi);
    return [lo, hi];
  });
}

/** RFC 9110 `token` (a header name). */
const HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/** Extra request headers: a plain object of header names to string values (no CR, LF or NUL); copied. */
function parseHeaders(v: unknown): Record<string, string> {
  if (v === undefined) return {};
  if (v === null || typeof v !== 'object' || Array.isArray(v))
    throw typeError('headers', 'an object of header names to string values', v);
  const out: Record<string, string> = {};
  for (const [k, val] of Object.entries(v)) {
    if (!HEADER_NAME.test(k)) throw typeError('headers', 'an object of valid HTTP header names', k);
    if (typeof val !== 'string' || /[\r\n\0]/.test(val))
      throw typeError(`headers[${JSON.stringify(k)}]`, 'a header value string (no CR, LF or NUL)', val);
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

export function httpProbe<M extends HealthMember = HealthMember>(options: HttpProbeOptions<M> = {}): HealthProbe<M> {
  if (typeof options !== 'object' || options === null) throw typeError('options', 'an object', options);
  checkKeys('options', options, PROBE_KEYS);
  const path = options.path ?? '/';
  if (typeof path !== 'string' || !path.startsWith('/')) throw typeError('path', "a string starting with '/'", path);
  const scheme = options.scheme ?? 'http';
  if (scheme !== 'http' && scheme !== 'https') throw rangeError('scheme', "'http' or 'https'", scheme);
  const ranges = parseRanges(options.expectedStatuses ?? [[200, 299]]);
  const f = options.fetch ?? globalThis.fetch;
  if (typeof f !== 'function') throw typeError('fetch', 'a function (no global fetch here)', f);
  if (options.url !== undefined && typeof options.url !== 'function') throw typeError('url', 'a function', options.url);
  const headers = parseHeaders(options.headers);
  const urlOf = options.url ?? ((m: M) => `${scheme}://${authority(m.host, m.port)}${path}`);
  return async (member, signal) => {
    const res = await f(urlOf(member), { method: 'GET', headers, signal, cache: 'no-store', redirect: 'manual' });
    // Release the connection without reading the body.
    res.body?.cancel().catch(() => undefined);
    const s = res.status;
    for (const [lo, hi] of ranges) if (s >= lo && s <= hi) return true;
    throw new Error(`HTTP ${s}`);
  };
}

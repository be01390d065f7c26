// DNS-over-HTTPS with the JSON API (`application/dns-json`, as served by Cloudflare's and Google's
// resolvers: GET ?name=<n>&type=<A|AAAA|SRV|TXT>, answer `{ Status, Answer: [{ name, type, TTL, data }] }`,
// Status 3 = NXDOMAIN, SRV data = "priority weight port target.", TXT data = its strings, each quoted
// (`"a" "b"`; Google's resolver leaves a single string unquoted)). A `DnsLookup` for the DNS resolver
// (dns.ts) where node:dns does not exist: browsers, workers, edge runtimes. `fetch` only. A query that has not
// answered (headers and body) within `queryTimeoutMs` is aborted and fails with code ETIMEOUT, as a node:dns
// query does, so a resolver never waits on a stalled DoH server. A server that cannot be reached fails the
// query with the underlying code (`doh: fetch failed (ECONNREFUSED 127.0.0.1:8053) for A api.example`), a
// body that is not JSON with EBADRESP. An SRV record of target "." (RFC 2782: service not available) keeps
// the name ".". `fetch` and `headers` (names and values as `fetch` accepts them) are checked when the lookup
// is made: a TypeError naming the field, not a failed query.
//
//   createResolver({ target: 'doh:///api.example.com:443', dohUrl: 'https://cloudflare-dns.com/dns-query' }, l);
import type { AddressRecord, DnsLookup, SrvRecord } from './dns.js';
import type { FetchLike } from './resolver.js';
import { fetchOption, msOption } from './base.js';
import { type Clock, systemClock, validateClock } from '../util/clock.js';
import { abortAfter } from '../util/abort-after.js';
import { typeError } from '../util/validate.js';
import { describeFailure } from '../util/failure.js';

export interface DohOptions {
  /** The JSON endpoint, e.g. https://cloudflare-dns.com/dns-query. */
  url: string;
  fetch?: FetchLike;
  headers?: Record<string, string>;
  /** Time for one query's answer, headers and body (default 5 000 ms); then it fails with code ETIMEOUT. */
  queryTimeoutMs?: number;
  clock?: Clock;
}

export const DEFAULT_DOH_QUERY_TIMEOUT_MS = 5_000;

/** RFC 9110 `token` (a header name). */
const HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/** Extra request headers: a plain object of header names to string values (no CR, LF or NUL). */
function checkHeaders(v: unknown): Record<string, string> {
  if (v === undefined) return {};
  if (v === null || typeof v !== 'object' || Array.isArray(v))
    throw typeError('headers', 'an object of header names to string values', v);
  for (const [k, val] of Object.entries(v)) {
    if (!HEADER_NAME.test(k)) throw typeError('headers', 'an object of valid HTTP header names', k);
    if (typeof val !== 'string' || /[\r\n\0]/.test(val))
      throw typeError(`headers[${JSON.stringify(k)}]`, 'a header value string (no CR, LF or NUL)', val);
  }
  return v as Record<string, string>;
}

const TYPE_A = 1;
const TYPE_AAAA = 28;
const TYPE_SRV = 33;
const TYPE_TXT = 16;
const RCODE_NAMES: Record<number, string> = { 1: 'EFORMERR', 2: 'ESERVFAIL', 3: 'ENOTFOUND', 5: 'EREFUSED' };

interface DohAnswer {
  name?: unknown;
  type?: unknown;
  TTL?: unknown;
  data?: unknown;
}

function dnsError(code: string, msg: string, cause?: unknown): Error {
  const e = new Error(msg, cause === undefined ? undefined : { cause });
  (e as Error & { code: string }).code = code;
  return e;
}

/**
 * A DoH server that could not be reached (fetch rejected): a DnsLookup error with the underlying code
 * (fetch's TypeError keeps it at `cause.code`: ECONNREFUSED, ENOTFOUND for the DoH host...), else
 * ECONNREFUSED, node:dns's "could not contact DNS servers"; the message names the query and the failure.
 */
function unreachable(e: unknown, type: string, name: string): Error {
  const inner = e instanceof Error ? (e.cause as { code?: unknown } | undefined) : undefined;
  const own = (e as { code?: unknown } | null)?.code ?? inner?.code;
  const code = typeof own === 'string' ? own : 'ECONNREFUSED';
  return dnsError(code, `doh: ${describeFailure(e)} for ${type} ${name}`, e);
}

/**
 * The strings of a TXT answer's `data`: quoted strings (RFC 1035 zone-file form: `\"` and `\\` escape
 * a character, `\DDD` a byte), or the whole text when it is not quoted.
 */
export function parseTxtData(data: string): string[] {
  const s = data.trim();
  if (!s.startsWith('"')) return [data];
  const out: string[] = [];
  let i = 0;
  while (i < s.length) {
    while (s[i] === ' ' || s[i] === '\t') i++;
    if (i >= s.length) break;
    if (s[i] !== '"') return [data];
    let cur = '';
    i++;
    while (i < s.length && s[i] !== '"') {
      if (s[i] === '\\' && i + 1 < s.length) {
        const dec = /^\d{3}/.exec(s.slice(i + 1, i + 4));
        if (dec !== null) {
          cur += String.fromCharCode(Number(dec[0]));
          i += 4;
        } else {
          cur += s[i + 1];
          i += 2;
        }
      } else cur += s[i++];
    }
    if (i >= s.length) return [data];
    i++;
    out.push(cur);
  }
  return out;
}

export function dohLookup(opts: DohOptions): DnsLookup {
  if (opts === null || typeof opts !== 'object') throw typeError('options', 'an object { url, ... }', opts);
  if (typeof opts.url !== 'string') throw typeError('dohUrl', 'an http(s) URL', opts.url);
  let base: URL;
  try {
    base = new URL(opts.url);
  } catch {
    throw typeError('dohUrl', 'an http(s) URL', opts.url);
  }
  if (base.protocol !== 'https:' && base.protocol !== 'http:') throw typeError('dohUrl', 'an http(s) URL', opts.url);
  const doFetch: FetchLike = fetchOption('fetch', opts.fetch);
  const headers = { accept: 'application/dns-json', ...checkHeaders(opts.headers) };
  const timeoutMs = msOption('queryTimeoutMs', opts.queryTimeoutMs, DEFAULT_DOH_QUERY_TIMEOUT_MS);
  const clock = opts.clock === undefined ? systemClock : validateClock('clock', opts.clock);
  const controllers = new Set<AbortController>();

  function query(name: string, type: string, want: number): Promise<DohAnswer[]> {
    const u = new URL(base.href);
    u.searchParams.set('name', name);
    u.searchParams.set('type', type);
    return abortAfter(
      clock,
      timeoutMs,
      async (signal) => {
        let res: Response;
        try {
          res = await doFetch(u.href, { headers, signal });
        } catch (e) {
          throw signal.aborted ? e : unreachable(e, type, name);
        }
        if (!res.ok) throw dnsError('ESERVFAIL', `doh: HTTP ${res.status} for ${type} ${name}`);
        let body: { Status?: unknown; Answer?: unknown };
        try {
          body = (await res.json()) as typeof body;
        } catch (e) {
          if (signal.aborted) throw e;
          // Not JSON, or the connection broke while the body came.
          throw e instanceof SyntaxError
            ? dnsError('EBADRESP', `doh: the answer for ${type} ${name} is not JSON`, e)
            : unreachable(e, type, name);
        }
        if (typeof body !== 'object' || body === null || typeof body.Status !== 'number')
          throw dnsError('EBADRESP', `doh: malformed answer for ${type} ${name}`);
        if (body.Status !== 0) {
          const code = RCODE_NAMES[body.Status] ?? 'ESERVFAIL';
          throw dnsError(code, `doh: ${code} (rcode ${body.Status}) for ${type} ${name}`);
        }
        const answers = (Array.isArray(body.Answer) ? body.Answer : []) as DohAnswer[];
        // CNAME chains come back in the same Answer section; keep the records of the asked type.
        const out = answers.filter((a) => a !== null && typeof a === 'object' && a.type === want);
        if (out.length === 0) throw dnsError('ENODATA', `doh: no ${type} records for ${name}`);
        return out;
      },
      {
        live: controllers,
        aborted: (e, timedOut) =>
          timedOut ? dnsError('ETIMEOUT', `doh: no answer within ${timeoutMs} ms for ${type} ${name}`) : e,
      },
    );
  }

  const addresses = async (name: string, type: string, want: number): Promise<AddressRecord[]> =>
    (await query(name, type, want))
      .filter((a) => typeof a.data === 'string')
      .map((a) => ({ address: a.data as string, ttlS: typeof a.TTL === 'number' ? a.TTL : 0 }));

  return {
    a: (name) => addresses(name, 'A', TYPE_A),
    aaaa: (name) => addresses(name, 'AAAA', TYPE_AAAA),
    async srv(name): Promise<SrvRecord[]> {
      const out: SrvRecord[] = [];
      for (const a of await query(name, 'SRV', TYPE_SRV)) {
        const m = typeof a.data === 'string' ? /^(\d+)\s+(\d+)\s+(\d+)\s+(\S+?)\.?$/.exec(a.data) : null;
        if (m === null) continue;
        out.push({
          priority: Number(m[1]),
          weight: Number(m[2]),
          port: Number(m[3]),
          name: m[4]!,
          ttlS: typeof a.TTL === 'number' ? a.TTL : 0,
        });
      }
      if (out.length === 0) throw dnsError('ENODATA', `doh: no valid SRV records for ${name}`);
      return out;
    },
    async txt(name): Promise<string[][]> {
      return (await query(name, 'TXT', TYPE_TXT))
        .filter((a) => typeof a.data === 'string')
        .map((a) => parseTxtData(a.data as string));
    },
    cancel() {
      for (const ac of controllers) ac.abort();
      controllers.clear();
    },
  };
}

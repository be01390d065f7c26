// A minimal etcd v3 client over etcd's JSON gateway (grpc-gateway; "gRPC gateway" in the etcd v3 API docs),
// with `fetch` only so the same code runs in Node, browsers and workers. Used by the resolver (resolver.ts)
// and the registration (registration.ts).
//
// Protocol: POST /v3/<service>/<method> with a JSON body; keys and values are base64; int64 fields
// (revisions, lease ids, TTLs) are decimal strings. Streaming calls (/v3/watch) answer one JSON object per
// line. Errors come back as `{error, message, code}` (code: the gRPC status). Auth: POST
// /v3/auth/authenticate {name, password} → token, sent as the `Authorization` header; a token the server
// no longer accepts is dropped and fetched again on the next call.
//
// Members: one is current; `call` talks to it, `failover()` moves to the next, `callAny` tries each member
// once from the current one. Every non-streaming request is aborted after `requestTimeoutMs`. Options are
// checked at construction: `endpoints` URLs that parse, `auth` { username, password }, `fetch` a function.
//
//   const c = new EtcdClient({ endpoints: ['http://10.0.0.1:2379', 'http://10.0.0.2:2379'] });
//   const r = await c.callAny('/v3/kv/range', { key: encodeKey('services/api/') });
import { decodeBase64 } from '../../core/base64.js';
import { systemClock, validateClock, type Clock } from '../../util/clock.js';
import { abortAfter } from '../../util/abort-after.js';
import { str, typeError } from '../../util/validate.js';
import type { FetchLike } from '../resolver.js';
import { fetchOption, msOption } from '../base.js';
import { describeFailure } from '../../util/failure.js';

export interface EtcdAuth {
  username: string;
  password: string;
}

export interface EtcdClientOptions {
  /** Client URLs of the members, e.g. ['http://127.0.0.1:2379', ...]; tried in order, failing over. */
  endpoints: string[];
  auth?: EtcdAuth;
  fetch?: FetchLike;
  /** Time and timers (default `systemClock`); request timeouts are background timers. */
  clock?: Clock;
  /** Timeout of each non-streaming request (default 5 s). */
  requestTimeoutMs?: number;
}

export const DEFAULT_ETCD_REQUEST_TIMEOUT_MS = 5_000;

const enc = new TextEncoder();
const dec = new TextDecoder();

function b64(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i < bytes.length; i++) s += String.fromCharCode(bytes[i]!);
  return btoa(s);
}

export function encodeKey(s: string): string {
  return b64(enc.encode(s));
}

export function decodeText(b: unknown): string {
  return typeof b === 'string' ? dec.decode(decodeBase64(b)) : '';
}

/** The smallest key greater than every key with this prefix (etcd's `GetPrefixRangeEnd`). */
export function prefixRangeEnd(prefix: string): string {
  const bytes = enc.encode(prefix);
  for (let i = bytes.length - 1; i >= 0; i--) {
    if (bytes[i]! < 0xff) {
      const end = bytes.slice(0, i + 1);
      end[i]!++;
      return b64(end);
    }
  }
  return b64(new Uint8Array([0])); // all 0xff: to the end of the keyspace
}

/**
 * An error from etcd (`{error, message, code}`), with its gRPC status code, or a member that could not be
 * reached (no code; the fetch error as `cause`, whose own cause holds the code, e.g. ECONNREFUSED).
 */
export class EtcdError extends Error {
  constructor(
    message: string,
    readonly code: number | undefined,
    readonly endpoint: string,
    options?: { cause?: unknown },
  ) {
    super(`etcd ${endpoint}: ${message}`, options);
    this.name = 'EtcdError';
  }
}

/**
 * A request to `endpoint` that failed below etcd (connection refused, reset, a malformed stream line), as an
 * EtcdError naming the member and the request, the underlying code in its message: `etcd http://10.0.0.1:2379:
 * /v3/kv/range: fetch failed (ECONNREFUSED 10.0.0.1:2379)`. EtcdErrors pass unchanged.
 */
function memberFailure(e: unknown, path: string, endpoint: string): unknown {
  return e instanceof EtcdError
    ? e
    : new EtcdError(`${path}: ${describeFailure(e)}`, undefined, endpoint, { cause: e });
}

export interface Header {
  revision?: string;
}

export interface Kv {
  key?: string;
  value?: string;
  mod_revision?: string;
  lease?: string;
}

/** int64-as-string (or number) to a number; -1 when absent. */
export function int64(v: unknown): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'string' && /^-?\d+$/.test(v)) return Number(v);
  return -1;
}

/** `endpoints` as the client takes them: a non-empty array of http(s) URLs (TypeErrors naming `endpoints[i]`). */
export function checkEndpoints(v: unknown): string[] {
  if (!Array.isArray(v) || v.length === 0) throw typeError('endpoints', 'a non-empty array of etcd URLs', v);
  return v.map((u, i) => {
    let ok = typeof u === 'string' && /^https?:\/\/[^/\s]+/.test(u);
    try {
      if (ok) new URL(u as string);
    } catch {
      ok = false;
    }
    if (!ok) throw typeError(`endpoints[${i}]`, 'an http(s) URL', u);
    return (u as string).replace(/\/+$/, '');
  });
}

/** One line of a streaming answer; a line that is not JSON is an EtcdError naming the member. */
function parseLine(line: string, path: string, endpoint: string): unknown {
  try {
    return JSON.parse(line) as unknown;
  } catch {
    throw new EtcdError(`${path}: a stream line is not JSON: ${line.slice(0, 80)}`, undefined, endpoint);
  }
}

/** A minimal etcd v3 JSON-gateway client: one current member, explicit failover, token auth. */
export class EtcdClient {
  readonly endpoints: string[];
  private readonly auth: EtcdAuth | undefined;
  private readonly fetch: FetchLike;
  private readonly clock: Clock;
  private readonly requestTimeoutMs: number;
  private readonly tokens = new Map<string, string>();
  private readonly controllers = new Set<AbortController>();
  private index = 0;
  /** abortAll() calls so far. */
  private aborts = 0;

  constructor(o: EtcdClientOptions) {
    this.endpoints = checkEndpoints(o.endpoints);
    if (o.auth !== undefined) {
      if (o.auth === null || typeof o.auth !== 'object')
        throw typeError('auth', 'an object { username, password }', o.auth);
      str('auth.username', o.auth.username);
      str('auth.password', o.auth.password);
    }
    this.auth = o.auth;
    this.fetch = fetchOption('fetch', o.fetch);
    this.clock = o.clock === undefined ? systemClock : validateClock('clock', o.clock);
    this.requestTimeoutMs = msOption('requestTimeoutMs', o.requestTimeoutMs, DEFAULT_ETCD_REQUEST_TIMEOUT_MS);
  }

  get current(): string {
    return this.endpoints[this.index]!;
  }

  /** Moves to the next member. */
  failover(): void {
    this.index = (this.index + 1) % this.endpoints.length;
  }

  /** Aborts every request and stream in flight (a `callAny` in progress tries no further member). */
  abortAll(): void {
    this.aborts++;
    for (const c of this.controllers) c.abort();
    this.controllers.clear();
  }

  private async token(endpoint: string): Promise<string | undefined> {
    if (this.auth === undefined) return undefined;
    const have = this.tokens.get(endpoint);
    if (have !== undefined) return have;
    const r = (await this.raw(endpoint, '/v3/auth/authenticate', {
      name: this.auth.username,
      password: this.auth.password,
    })) as { token?: unknown };
    if (typeof r.token !== 'string') throw new EtcdError('authenticate returned no token', undefined, endpoint);
    this.tokens.set(endpoint, r.token);
    return r.token;
  }

  private async open(
    endpoint: string,
    path: string,
    body: unknown,
    signal: AbortSignal,
    extra?: Record<string, string>,
  ) {
    const headers: Record<string, string> = { 'content-type': 'application/json', ...extra };
    const token = path === '/v3/auth/authenticate' ? undefined : await this.token(endpoint);
    if (token !== undefined) headers.authorization = token;
    return this.fetch(endpoint + path, { method: 'POST', headers, body: JSON.stringify(body), signal });
  }

  private raw(endpoint: string, path: string, body: unknown): Promise<unknown> {
    const ms = this.requestTimeoutMs;
    return abortAfter(
      this.clock,
      ms,
      async (signal) => {
        let res: Response;
        let text: string;
        try {
          res = await this.open(endpoint, path, body, signal);
          text = await res.text();
        } catch (e) {
          // An abort is told apart by abortAfter (a timeout: code 4; close(): code 1).
          throw signal.aborted ? e : memberFailure(e, path, endpoint);
        }
        let json: { error?: unknown; message?: unknown; code?: unknown };
        try {
          json = JSON.parse(text) as typeof json;
        } catch {
          throw new EtcdError(`HTTP ${res.status}, not JSON: ${text.slice(0, 80)}`, undefined, endpoint);
        }
        if (!res.ok || json.error !== undefined) {
          const msg = String(json.message ?? json.error ?? `HTTP ${res.status}`);
          if (/auth token|token is invalid/i.test(msg)) this.tokens.delete(endpoint);
          throw new EtcdError(msg, typeof json.code === 'number' ? json.code : undefined, endpoint);
        }
        return json;
      },
      {
        live: this.controllers,
        // gRPC codes, as etcd's own errors: 4 DEADLINE_EXCEEDED, 1 CANCELLED
        aborted: (e, timedOut) =>
          e instanceof EtcdError
            ? e
            : timedOut
              ? new EtcdError(`${path}: no answer within ${ms} ms`, 4, endpoint)
              : new EtcdError(`${path} aborted`, 1, endpoint),
      },
    );
  }

  /** One request to the current member (no failover). */
  call(path: string, body: unknown): Promise<unknown> {
    return this.raw(this.current, path, body);
  }

  /**
   * One request, trying each member once from the current one; the member that answered becomes current.
   * A request cut off by `abortAll()` ends it: no other member is tried.
   */
  async callAny(path: string, body: unknown): Promise<unknown> {
    const aborts = this.aborts;
    let last: unknown;
    for (let i = 0; i < this.endpoints.length; i++) {
      try {
        return await this.call(path, body);
      } catch (e) {
        if (this.aborts !== aborts) throw e;
        last = e;
        this.failover();
      }
    }
    throw last;
  }

  /** Opens a streaming request on the current member; yields one parsed JSON object per line. */
  async *stream(
    path: string,
    body: unknown,
    extraHeaders?: Record<string, string>,
    onOpen?: (abort: () => void) => void,
  ): AsyncGenerator<unknown> {
    const endpoint = this.current;
    const ac = new AbortController();
    this.controllers.add(ac);
    onOpen?.(() => ac.abort());
    try {
      let res: Response;
      try {
        res = await this.open(endpoint, path, body, ac.signal, extraHeaders);
      } catch (e) {
        throw ac.signal.aborted ? e : memberFailure(e, path, endpoint);
      }
      if (!res.ok || res.body === null) {
        const text = await res.text().catch(() => '');
        if (/auth token/i.test(text)) this.tokens.delete(endpoint);
        throw new EtcdError(`HTTP ${res.status} ${text.slice(0, 120)}`, undefined, endpoint);
      }
      const reader = res.body.getReader();
      const td = new TextDecoder();
      let buf = '';
      try {
        for (;;) {
          let chunk: ReadableStreamReadResult<Uint8Array>;
          try {
            chunk = await reader.read();
          } catch (e) {
            // The connection broke mid-stream (undici's "terminated"): name the member.
            throw ac.signal.aborted ? e : memberFailure(e, path, endpoint);
          }
          const { done, value } = chunk;
          if (done) break;
          buf += td.decode(value, { stream: true });
          let nl: number;
          while ((nl = buf.indexOf('\n')) >= 0) {
            const line = buf.slice(0, nl).trim();
            buf = buf.slice(nl + 1);
            if (line.length > 0) yield parseLine(line, path, endpoint);
          }
        }
        const rest = (buf + td.decode()).trim();
        if (rest.length > 0) yield parseLine(rest, path, endpoint);
      } finally {
        reader.cancel().catch(() => {});
      }
    } finally {
      ac.abort();
      this.controllers.delete(ac);
    }
  }
}

// The etcd v3 resolver, over etcd's JSON gateway (grpc-gateway; "gRPC gateway" in the etcd v3 API docs),
// with `fetch` only so the same code runs in Node, browsers and workers.
//
// Protocol: POST /v3/kv/range {key, range_end} lists the prefix and returns `header.revision`; POST
// /v3/watch {create_request: {key, range_end, start_revision: revision + 1}} then streams one JSON object
// per line, `{"result": {header, created | canceled | events}}`. Keys and values are base64; int64 fields
// (revisions, lease ids, TTLs) are decimal strings. etcd 3.4 quirks handled here: a PUT event has no
// `type` field (only DELETE is spelled out, proto3 omits the zero enum); a watch cancelled for compaction
// (`canceled: true, compact_revision`) leaves the HTTP stream open, so we abort it and list afresh.
// Auth: POST /v3/auth/authenticate {name, password} → token, sent as the `Authorization` header.
//
// Values follow etcd's naming convention (go.etcd.io/etcd/client/v3/naming/endpoints):
// `{"Op":0,"Addr":"host:port","Metadata":{...}}` under `<prefix>/<addr>`; a plain `host:port` value is
// accepted too. `Metadata.weight` / `Metadata.priority` become the endpoint's weight and priority.
// Values that are neither are skipped with an error event.
//
// Failover: with several endpoints, a watch that breaks (member killed, connection reset) resumes on the
// next member from the last applied revision + 1, and events at or below it are ignored, so no update is
// missed and none is applied twice. Rounds over all members that all fail back off exponentially.
//
//   const r = new EtcdResolver({ endpoints: ['http://10.0.0.1:2379'], prefix: 'services/api' }, listener);
//   const reg = registerEtcd({ endpoints, prefix: 'services/api', addr: '10.0.0.7:8080', ttlS: 10 });
import type { Endpoint } from '../../util/endpoint.js';
import { decodeBase64 } from '../../core/base64.js';
import {
  commonOptions,
  Delivery,
  msOption,
  parseHostPort,
  RefreshLimiter,
  systemTimers,
  toEndpoint,
  type CommonResolverOptions,
  type FetchLike,
  type Resolver,
  type ResolverListener,
  type Timers,
} from '../resolver.js';
import { intInRange, typeError } from '../../util/validate.js';

export interface EtcdAuth {
  username: string;
  password: string;
}

export interface EtcdClientOptions {
  /** Client URLs of the members, e.g. ['http://127.0.0.1:2379', ...]; tried in order, failing over. */
  endpoints: string[];
  auth?: EtcdAuth;
  fetch?: FetchLike;
  timers?: Timers;
  /** Timeout of each non-streaming request (default 5 s). */
  requestTimeoutMs?: number;
}

export interface EtcdResolverOptions extends CommonResolverOptions, EtcdClientOptions {
  /** Key prefix; a trailing '/' is added when missing (`services/api` watches `services/api/`). */
  prefix: string;
  /** First retry delay after every member failed (default 100 ms), doubled up to `maxBackoffMs` (5 s). */
  backoffMs?: number;
  maxBackoffMs?: number;
  /**
   * Sends `Grpc-Metadata-hasleader: true` so a member that lost its leader cancels the watch (and we fail
   * over). Off by default: the custom header fails etcd 3.4's CORS preflight in browsers.
   */
  requireLeader?: boolean;
  /**
   * While a watch is open, the member carrying it is probed this often with a linearizable one-key
   * range (default 10 s; 0 disables). A probe that fails or times out (`requestTimeoutMs`) aborts the
   * watch and fails over: a hung member (SIGSTOP, a partition) never closes its TCP connection.
   */
  probeIntervalMs?: number;
}

export const DEFAULT_ETCD_REQUEST_TIMEOUT_MS = 5_000;
export const DEFAULT_ETCD_BACKOFF_MS = 100;
export const DEFAULT_ETCD_MAX_BACKOFF_MS = 5_000;
export const DEFAULT_ETCD_PROBE_INTERVAL_MS = 10_000;

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

/** An error from etcd (`{error, message, code}`), with its gRPC status code. */
export class EtcdError extends Error {
  constructor(
    message: string,
    readonly code: number | undefined,
    readonly endpoint: string,
  ) {
    super(`etcd ${endpoint}: ${message}`);
    this.name = 'EtcdError';
  }
}

class Compacted extends Error {
  constructor(readonly compactRevision: number) {
    super(`etcd: watch revision compacted (compact_revision ${compactRevision}); listing afresh`);
  }
}

interface Header {
  revision?: string;
}

interface Kv {
  key?: string;
  value?: string;
  mod_revision?: string;
  lease?: string;
}

/** int64-as-string (or number) to a number; -1 when absent. */
function int64(v: unknown): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'string' && /^-?\d+$/.test(v)) return Number(v);
  return -1;
}

function checkEndpoints(v: unknown): string[] {
  if (!Array.isArray(v) || v.length === 0) throw typeError('endpoints', 'a non-empty array of etcd URLs', v);
  return v.map((u, i) => {
    if (typeof u !== 'string' || !/^https?:\/\/[^/]+/.test(u)) throw typeError(`endpoints[${i}]`, 'an http(s) URL', u);
    return u.replace(/\/+$/, '');
  });
}

/** A minimal etcd v3 JSON-gateway client: one current member, explicit failover, token auth. */
export class EtcdClient {
  readonly endpoints: string[];
  private readonly auth: EtcdAuth | undefined;
  private readonly fetch: FetchLike;
  private readonly timers: Timers;
  private readonly requestTimeoutMs: number;
  private readonly tokens = new Map<string, string>();
  private readonly controllers = new Set<AbortController>();
  private index = 0;

  constructor(o: EtcdClientOptions) {
    this.endpoints = checkEndpoints(o.endpoints);
    if (o.auth !== undefined) {
      if (typeof o.auth?.username !== 'string') throw typeError('auth.username', 'a string', o.auth?.username);
      if (typeof o.auth.password !== 'string') throw typeError('auth.password', 'a string', o.auth.password);
    }
    this.auth = o.auth;
    this.fetch = o.fetch ?? ((u, i) => fetch(u, i));
    this.timers = o.timers ?? systemTimers;
    this.requestTimeoutMs = msOption('requestTimeoutMs', o.requestTimeoutMs, DEFAULT_ETCD_REQUEST_TIMEOUT_MS);
  }

  get current(): string {
    return this.endpoints[this.index]!;
  }

  /** Moves to the next member. */
  failover(): void {
    this.index = (this.index + 1) % this.endpoints.length;
  }

  /** Aborts every request and stream in flight. */
  abortAll(): void {
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
    ac: AbortController,
    extra?: Record<string, string>,
  ) {
    const headers: Record<string, string> = { 'content-type': 'application/json', ...extra };
    const token = path === '/v3/auth/authenticate' ? undefined : await this.token(endpoint);
    if (token !== undefined) headers.authorization = token;
    return this.fetch(endpoint + path, { method: 'POST', headers, body: JSON.stringify(body), signal: ac.signal });
  }

  private async raw(endpoint: string, path: string, body: unknown): Promise<unknown> {
    const ac = new AbortController();
    this.controllers.add(ac);
    const t = this.timers.setTimeout(() => ac.abort(), this.requestTimeoutMs);
    try {
      const res = await this.open(endpoint, path, body, ac);
      const text = await res.text();
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
    } catch (e) {
      if (ac.signal.aborted && !(e instanceof EtcdError))
        throw new EtcdError(`${path} timed out or aborted`, 4, endpoint);
      throw e;
    } finally {
      this.timers.clearTimeout(t);
      this.controllers.delete(ac);
    }
  }

  /** One request to the current member (no failover). */
  call(path: string, body: unknown): Promise<unknown> {
    return this.raw(this.current, path, body);
  }

  /** One request, trying each member once from the current one; the member that answered becomes current. */
  async callAny(path: string, body: unknown): Promise<unknown> {
    let last: unknown;
    for (let i = 0; i < this.endpoints.length; i++) {
      try {
        return await this.call(path, body);
      } catch (e) {
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
      const res = await this.open(endpoint, path, body, ac, extraHeaders);
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
          const { done, value } = await reader.read();
          if (done) break;
          buf += td.decode(value, { stream: true });
          let nl: number;
          while ((nl = buf.indexOf('\n')) >= 0) {
            const line = buf.slice(0, nl).trim();
            buf = buf.slice(nl + 1);
            if (line.length > 0) yield JSON.parse(line) as unknown;
          }
        }
        const rest = (buf + td.decode()).trim();
        if (rest.length > 0) yield JSON.parse(rest) as unknown;
      } finally {
        reader.cancel().catch(() => {});
      }
    } finally {
      ac.abort();
      this.controllers.delete(ac);
    }
  }
}

/** Parses one value; returns the endpoint, `null` for a naming-convention Delete op, or throws a TypeError. */
export function parseEtcdValue(key: string, value: string): Endpoint | null {
  const field = `etcd value of ${JSON.stringify(key)}`;
  const v = value.trim();
  if (v.startsWith('{')) {
    let obj: unknown;
    try {
      obj = JSON.parse(v);
    } catch {
      throw typeError(field, 'JSON {"Op":0,"Addr":"host:port"} or "host:port"', value);
    }
    const o = obj as { Op?: unknown; Addr?: unknown; Metadata?: unknown };
    if (o.Op === 1) return null;
    if (o.Op !== undefined && o.Op !== 0) throw typeError(`${field}.Op`, '0 (Add) or 1 (Delete)', o.Op);
    if (typeof o.Addr !== 'string') throw typeError(`${field}.Addr`, 'a "host:port" string', o.Addr);
    const { host, port } = parseHostPort(`${field}.Addr`, o.Addr);
    const md = o.Metadata !== null && typeof o.Metadata === 'object' ? (o.Metadata as Record<string, unknown>) : {};
    return toEndpoint(field, {
      id: o.Addr.startsWith('[') || !host.includes(':') ? o.Addr : `[${host}]:${port}`,
      host,
      port,
      weight: typeof md.weight === 'number' ? md.weight : 1,
      priority: typeof md.priority === 'number' ? md.priority : 0,
      metadata: { ...md, key },
    });
  }
  const { host, port } = parseHostPort(field, v);
  return toEndpoint(field, { host, port, metadata: { key } });
}

/**
 * The members under the prefix, kept incrementally so one event costs O(1) map work plus one array copy
 * (10 000 members at 100 updates/s): `list` holds the reported endpoints in order; an address claimed by
 * two keys is reported once (the first key), the other key is skipped with an error and takes over when
 * the first goes away.
 */
class Membership {
  /** key → parsed endpoint (null: a bad value or a Delete op). */
  private readonly byKey = new Map<string, Endpoint | null>();
  /** endpoint id → the key whose endpoint is reported. */
  private readonly owner = new Map<string, string>();
  readonly list: Endpoint[] = [];

  constructor(private readonly onError: (e: Error) => void) {}

  /** Returns whether the reported list changed. */
  set(key: string, ep: Endpoint | null): boolean {
    const old = this.byKey.get(key);
    this.byKey.set(key, ep);
    if (old !== undefined && old !== null && this.owner.get(old.id) === key) {
      const i = this.list.indexOf(old);
      if (ep !== null && (ep.id === old.id || !this.owner.has(ep.id))) {
        this.list[i] = ep;
        if (ep.id !== old.id) {
          this.owner.delete(old.id);
          this.owner.set(ep.id, key);
          this.promote(old.id);
        }
        return true;
      }
      this.list.splice(i, 1);
      this.owner.delete(old.id);
      this.promote(old.id);
      if (ep !== null) this.claim(key, ep);
      return true;
    }
    return ep !== null && this.claim(key, ep);
  }

  delete(key: string): boolean {
    const old = this.byKey.get(key);
    if (old === undefined) return false;
    this.byKey.delete(key);
    if (old === null || this.owner.get(old.id) !== key) return false;
    this.list.splice(this.list.indexOf(old), 1);
    this.owner.delete(old.id);
    this.promote(old.id);
    return true;
  }

  private claim(key: string, ep: Endpoint): boolean {
    const holder = this.owner.get(ep.id);
    if (holder !== undefined && holder !== key) {
      this.onError(typeError(`etcd key ${JSON.stringify(key)} Addr`, 'unique (duplicate endpoint skipped)', ep.id));
      return false;
    }
    this.owner.set(ep.id, key);
    this.list.push(ep);
    return true;
  }

  /** After `id` lost its key: the next key holding the same address (rare; a scan) is reported instead. */
  private promote(id: string): void {
    for (const [key, ep] of this.byKey) {
      if (ep !== null && ep.id === id && !this.owner.has(id)) {
        this.owner.set(id, key);
        this.list.push(ep);
        return;
      }
    }
  }
}

export interface EtcdResolverStats {
  /** The last revision applied (from the list or from an event). */
  revision: number;
  /** Watch events applied (each exactly once). */
  eventsApplied: number;
  /** Events ignored because their revision was already applied (after a reconnect). */
  eventsSkipped: number;
  lists: number;
  watchesOpened: number;
  endpoint: string;
}

export class EtcdResolver implements Resolver {
  private readonly out: Delivery;
  private readonly client: EtcdClient;
  private readonly timers: Timers;
  private readonly limiter: RefreshLimiter;
  private readonly prefix: string;
  private readonly keyB64: string;
  private readonly endB64: string;
  private readonly backoffMs: number;
  private readonly maxBackoffMs: number;
  private readonly requireLeader: boolean;
  private readonly probeIntervalMs: number;
  private members: Membership;
  private revision = -1;
  private closed = false;
  private sleepTimer: unknown;
  private wake: (() => void) | undefined;
  private readonly counters = { eventsApplied: 0, eventsSkipped: 0, lists: 0, watchesOpened: 0 };

  constructor(opts: EtcdResolverOptions, listener: ResolverListener) {
    if (opts === null || typeof opts !== 'object') throw typeError('options', 'an object', opts);
    const c = commonOptions(opts);
    this.timers = c.timers;
    if (typeof opts.prefix !== 'string' || opts.prefix.replace(/\/+$/, '').length === 0)
      throw typeError('prefix', 'a non-empty key prefix', opts.prefix);
    this.prefix = opts.prefix.endsWith('/') ? opts.prefix : `${opts.prefix}/`;
    this.keyB64 = encodeKey(this.prefix);
    this.endB64 = prefixRangeEnd(this.prefix);
    this.backoffMs = msOption('backoffMs', opts.backoffMs, DEFAULT_ETCD_BACKOFF_MS);
    this.maxBackoffMs = msOption('maxBackoffMs', opts.maxBackoffMs, DEFAULT_ETCD_MAX_BACKOFF_MS);
    this.requireLeader = opts.requireLeader === true;
    this.probeIntervalMs = msOption('probeIntervalMs', opts.probeIntervalMs, DEFAULT_ETCD_PROBE_INTERVAL_MS);
    this.client = new EtcdClient({ ...opts, timers: c.timers });
    this.out = new Delivery(listener);
    this.members = new Membership((e) => this.out.error(e));
    this.limiter = new RefreshLimiter(c.minRefreshIntervalMs, c.clock, c.timers, () => this.wake?.());
    queueMicrotask(() => void this.run());
  }

  /** Wakes a resolver waiting out its backoff (rate-limited); a live watch needs no refresh. */
  refresh(): void {
    this.limiter.request();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.out.close();
    this.limiter.close();
    this.client.abortAll();
    this.wake?.();
  }

  stats(): EtcdResolverStats {
    return { revision: this.revision, ...this.counters, endpoint: this.client.current };
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        if (this.sleepTimer !== undefined) this.timers.clearTimeout(this.sleepTimer);
        this.sleepTimer = undefined;
        this.wake = undefined;
        resolve();
      };
      this.wake = done;
      this.sleepTimer = this.timers.setTimeout(done, ms);
    });
  }

  private async run(): Promise<void> {
    let needList = true;
    let failures = 0;
    let backoff = this.backoffMs;
    while (!this.closed) {
      try {
        if (needList) {
          await this.list();
          needList = false;
        }
        await this.watch(() => {
          failures = 0;
          backoff = this.backoffMs;
        });
        // The server ended the stream: treat it as a failure of this member and resume elsewhere.
        if (!this.closed) throw new EtcdError('watch stream ended', undefined, this.client.current);
      } catch (e) {
        if (this.closed) return;
        if (e instanceof Compacted) {
          this.out.error(e);
          needList = true;
          continue;
        }
        this.out.error(e instanceof Error ? e : new Error(String(e)));
        this.client.failover();
        if (++failures >= this.client.endpoints.length) {
          failures = 0;
          await this.sleep(backoff);
          backoff = Math.min(backoff * 2, this.maxBackoffMs);
        }
      }
    }
  }

  private async list(): Promise<void> {
    const r = (await this.client.call('/v3/kv/range', { key: this.keyB64, range_end: this.endB64 })) as {
      header?: Header;
      kvs?: Kv[];
    };
    if (this.closed) return;
    const rev = int64(r.header?.revision);
    if (rev < 0) throw new EtcdError('range answer without header.revision', undefined, this.client.current);
    const next = new Membership((e) => this.out.error(e));
    for (const kv of r.kvs ?? []) this.put(next, decodeText(kv.key), decodeText(kv.value));
    this.members = next;
    this.revision = rev;
    this.counters.lists++;
    this.publish();
  }

  private put(members: Membership, key: string, value: string): boolean {
    let ep: Endpoint | null;
    try {
      ep = parseEtcdValue(key, value);
    } catch (e) {
      this.out.error(e as Error);
      ep = null;
    }
    return members.set(key, ep);
  }

  private async watch(onCreated: () => void): Promise<void> {
    const body = {
      create_request: { key: this.keyB64, range_end: this.endB64, start_revision: String(this.revision + 1) },
    };
    const headers = this.requireLeader ? { 'grpc-metadata-hasleader': 'true' } : undefined;
    let probeTimer: unknown;
    let probeError: Error | undefined;
    const stopProbe = () => {
      if (probeTimer !== undefined) this.timers.clearTimeout(probeTimer);
      probeTimer = undefined;
    };
    const startProbe = (abort: () => void) => {
      if (this.probeIntervalMs <= 0) return;
      const tick = () => {
        probeTimer = undefined;
        this.client.call('/v3/kv/range', { key: this.keyB64, limit: '1', keys_only: true }).then(
          () => {
            if (!this.closed && probeError === undefined)
              probeTimer = this.timers.setTimeout(tick, this.probeIntervalMs);
          },
          (e: unknown) => {
            probeError = e instanceof Error ? e : new Error(String(e));
            abort();
          },
        );
      };
      probeTimer = this.timers.setTimeout(tick, this.probeIntervalMs);
    };
    try {
      for await (const msg of this.client.stream('/v3/watch', body, headers, startProbe)) {
        this.onWatchMessage(msg, onCreated);
        if (this.closed) return;
      }
    } catch (e) {
      if (probeError !== undefined && !this.closed) {
        throw new EtcdError(
          `liveness probe failed (${probeError.message}); watch abandoned`,
          undefined,
          this.client.current,
        );
      }
      throw e;
    } finally {
      stopProbe();
    }
  }

  private onWatchMessage(msg: unknown, onCreated: () => void): void {
    if (this.closed) return;
    const m = msg as { result?: Record<string, unknown>; error?: { message?: string; code?: number } };
    if (m.error !== undefined) {
      throw new EtcdError(String(m.error.message ?? JSON.stringify(m.error)), m.error.code, this.client.current);
    }
    const res = m.result;
    if (res === undefined) return;
    if (res.created === true) {
      this.counters.watchesOpened++;
      onCreated();
    }
    if (res.canceled === true) {
      const compact = int64(res.compact_revision);
      // etcd 3.4 keeps the HTTP stream open after a cancel: leaving the loop aborts it.
      if (compact > 0) throw new Compacted(compact);
      throw new EtcdError(`watch cancelled: ${String(res.cancel_reason ?? '')}`, undefined, this.client.current);
    }
    const events = res.events as Array<{ type?: string; kv?: Kv }> | undefined;
    if (events !== undefined && events.length > 0) this.apply(events);
  }

  private apply(events: Array<{ type?: string; kv?: Kv }>): void {
    const before = this.revision;
    let top = before;
    let changed = false;
    for (const ev of events) {
      const rev = int64(ev.kv?.mod_revision);
      // Already applied (a resumed watch replays from revision + 1; this guards any overlap).
      if (rev <= before) {
        this.counters.eventsSkipped++;
        continue;
      }
      top = Math.max(top, rev);
      const key = decodeText(ev.kv?.key);
      this.counters.eventsApplied++;
      if (ev.type === 'DELETE') changed = this.members.delete(key) || changed;
      else changed = this.put(this.members, key, decodeText(ev.kv?.value)) || changed;
    }
    this.revision = top;
    if (changed) this.publish();
  }

  private publish(): void {
    this.out.endpoints(this.members.list.slice());
  }
}

export interface EtcdRegistrationOptions extends EtcdClientOptions {
  /** The prefix the resolver watches; the key is `<prefix>/<addr>`. */
  prefix: string;
  /** This member's `host:port`. */
  addr: string;
  metadata?: Record<string, unknown>;
  /** Lease TTL in seconds (default 10); kept alive every ttlS / 3. */
  ttlS?: number;
  onError?: (e: Error) => void;
}

/**
 * Registers one member under a lease and keeps the lease alive (POST /v3/lease/grant, /v3/kv/put with
 * `lease`, /v3/lease/keepalive every ttl/3; a keep-alive answer without TTL means the lease expired: grant
 * and put again). If the process dies, the lease expires and the key disappears; `close()` revokes it.
 */
export class EtcdRegistration {
  readonly key: string;
  /** Resolves once the key is first written. */
  readonly ready: Promise<void>;
  private readonly client: EtcdClient;
  private readonly timers: Timers;
  private readonly value: string;
  private readonly ttlS: number;
  private readonly onError: (e: Error) => void;
  private leaseId: string | undefined;
  private timer: unknown;
  private closed = false;
  private markReady!: () => void;

  constructor(o: EtcdRegistrationOptions) {
    if (o === null || typeof o !== 'object') throw typeError('options', 'an object', o);
    this.client = new EtcdClient(o);
    this.timers = o.timers ?? systemTimers;
    if (typeof o.prefix !== 'string' || o.prefix.length === 0)
      throw typeError('prefix', 'a non-empty string', o.prefix);
    parseHostPort('addr', o.addr);
    this.ttlS = o.ttlS === undefined ? 10 : intInRange('ttlS', o.ttlS, 1, 86_400);
    this.key = `${o.prefix.replace(/\/+$/, '')}/${o.addr}`;
    this.value = JSON.stringify({ Op: 0, Addr: o.addr, Metadata: o.metadata ?? {} });
    this.onError = o.onError ?? (() => {});
    this.ready = new Promise((r) => (this.markReady = r));
    void this.tick();
  }

  get lease(): string | undefined {
    return this.leaseId;
  }

  private schedule(ms: number): void {
    if (this.closed) return;
    this.timer = this.timers.setTimeout(() => void this.tick(), ms);
  }

  private async tick(): Promise<void> {
    if (this.closed) return;
    try {
      if (this.leaseId !== undefined) {
        const r = (await this.client.callAny('/v3/lease/keepalive', { ID: this.leaseId })) as {
          result?: { TTL?: unknown };
        };
        if (int64(r.result?.TTL) <= 0) this.leaseId = undefined; // expired: register again
      }
      if (this.leaseId === undefined && !this.closed) {
        const g = (await this.client.callAny('/v3/lease/grant', { TTL: String(this.ttlS) })) as { ID?: unknown };
        if (typeof g.ID !== 'string') throw new EtcdError('lease grant without ID', undefined, this.client.current);
        this.leaseId = g.ID;
        await this.client.callAny('/v3/kv/put', {
          key: encodeKey(this.key),
          value: encodeKey(this.value),
          lease: g.ID,
        });
        this.markReady();
      }
      this.schedule((this.ttlS * 1000) / 3);
    } catch (e) {
      if (this.closed) return;
      this.onError(e as Error);
      this.schedule(Math.min(1000, (this.ttlS * 1000) / 3));
    }
  }

  /** Stops the keep-alive; revokes the lease (deleting the key) unless `revoke: false`. */
  async close(opts: { revoke?: boolean } = {}): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.timer !== undefined) this.timers.clearTimeout(this.timer);
    this.client.abortAll();
    if (opts.revoke !== false && this.leaseId !== undefined) {
      await this.client.callAny('/v3/lease/revoke', { ID: this.leaseId }).catch((e: Error) => this.onError(e));
    }
  }
}

export function registerEtcd(o: EtcdRegistrationOptions): EtcdRegistration {
  return new EtcdRegistration(o);
}

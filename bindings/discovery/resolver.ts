// Resolvers: where the Balancer learns its members. A resolver watches one target and reports full
// endpoint lists (or errors) to a listener; the Balancer diffs each list into add/remove (`reset`).
//
// The contract follows @grpc/grpc-js's `Resolver` (packages/grpc-js/src/resolver.ts):
//  - listener calls are asynchronous, never made from the constructor (nor from `refresh()`/`close()`);
//  - `onEndpoints` always carries the complete list, never a delta; an identical list (`sameEndpoints`:
//    every field, metadata by value) is not re-reported;
//  - on a failure the last good list is kept (nothing is reported empty because a server is down) and
//    `onError` is called; bad entries (malformed values, ports out of range, duplicates) are skipped, each
//    reported through `onError` as a TypeError/RangeError naming the field and the value. Entries go through
//    the one endpoint parser (bindings/util/endpoint.ts) with `address: 'required'`: resolvers report
//    dialable addresses, so a port in [1, 65535] is required;
//  - `refresh()` asks for a re-resolution (after connection failures, say); it is rate-limited;
//  - `close()` stops everything: open streams, pending requests, timers. No listener call follows it.
//
// Targets are URIs, `scheme://authority/path?query`:
//   static:///a:80,b:80                        a fixed list (StaticResolver.set() replaces it)
//   dns:///svc.example:8080                    A + AAAA, TTL-driven (dns://1.1.1.1:53/... picks the server)
//   dns+srv:///_http._tcp.svc.example          SRV: priority + weight, targets resolved to addresses
//   doh:///svc.example:8080?url=https://...    DNS-over-HTTPS JSON (browsers); also doh+srv:///
//   etcd:///prefix/service-name                etcd v3 prefix `prefix/service-name/` (endpoints in options)
//   consul:///service-name?passing=true&tag=x  Consul health API (consul://host:8500/name picks the agent)
//
//   const r = createResolver('dns:///api.internal:8080', { onEndpoints: (l) => balancer.reset(l), onError });
//   r.close();
import { sameEndpoints, type Endpoint, type EndpointInput } from '../util/endpoint.js';
import { systemClock, validateClock, type Clock } from '../util/clock.js';
import { rangeError, typeError } from '../util/validate.js';
import { StaticResolver } from './static.js';
import { DnsResolver, type DnsResolverOptions } from './dns.js';
import { dohLookup, type DohOptions } from './doh.js';
import { EtcdResolver, type EtcdResolverOptions } from './etcd/resolver.js';
import { ConsulResolver, type ConsulResolverOptions } from './consul.js';

export interface ResolverListener {
  /** The complete current list. Called asynchronously, never from the constructor. */
  onEndpoints(endpoints: Endpoint[]): void;
  /** A failure or a skipped entry. The last good list stays in force. */
  onError(error: Error): void;
}

export interface Resolver {
  /** Re-resolve soon (rate-limited: at most once per `minRefreshIntervalMs`). */
  refresh(): void;
  /** Stop streams, requests and timers; no listener call follows. Idempotent. */
  close(): void;
}

export type FetchLike = (url: string, init?: RequestInit) => Promise<Response>;

/** Options shared by every resolver. */
export interface CommonResolverOptions {
  /**
   * Time and timers (default `systemClock`). Resolver timers (polls, re-watches, back-off between
   * reconnects) are background timers: they never keep a Node process alive on their own.
   */
  clock?: Clock;
  /** Minimum time between two resolutions triggered by `refresh()` (grpc-js: 30 s). */
  minRefreshIntervalMs?: number;
}

/** `createResolver` options: a target URI plus the options of the scheme it names. */
export type ResolverOptions = { target: string } & CommonResolverOptions &
  ResolverRetryOptions &
  Partial<Omit<DnsResolverOptions, 'target' | keyof CommonResolverOptions | keyof ResolverRetryOptions>> &
  Partial<Omit<DohOptions, 'url' | keyof CommonResolverOptions | keyof ResolverRetryOptions>> & {
    dohUrl?: string;
  } & Partial<Omit<EtcdResolverOptions, 'prefix' | keyof CommonResolverOptions | keyof ResolverRetryOptions>> &
  Partial<Omit<ConsulResolverOptions, 'service' | keyof CommonResolverOptions | keyof ResolverRetryOptions>> & {
    endpointsStatic?: EndpointInput[];
  };

/** Retry delays that several schemes take, declared once for `createResolver`. */
export interface ResolverRetryOptions {
  /** etcd, consul: first retry delay after a failure, doubled on each failure up to `maxBackoffMs`. */
  backoffMs?: number;
  /** etcd, consul: the cap of the retry delay. */
  maxBackoffMs?: number;
}

export const DEFAULT_MIN_REFRESH_INTERVAL_MS = 30_000;

export interface ParsedTarget {
  scheme: string;
  authority: string;
  /** The path without its leading '/'. */
  path: string;
  query: URLSearchParams;
}

const SCHEME_RE = /^([a-z][a-z0-9+.-]*):\/\/([^/?#]*)\/([^?#]*)(?:\?([^#]*))?$/i;

/** Splits `scheme://authority/path?query`; a TypeError naming `target` when it is not of that form. */
export function parseTarget(target: string): ParsedTarget {
  if (typeof target !== 'string') throw typeError('target', 'a string URI', target);
  const m = SCHEME_RE.exec(target);
  if (m === null) throw typeError('target', 'a URI of the form scheme://[authority]/path', target);
  let path: string;
  try {
    path = decodeURIComponent(m[3]!);
  } catch {
    throw typeError('target', 'a URI with valid percent-encoding', target);
  }
  return { scheme: m[1]!.toLowerCase(), authority: m[2]!, path, query: new URLSearchParams(m[4] ?? '') };
}

/**
 * Listener delivery shared by all resolvers: asynchronous (a microtask), in order, nothing after close(),
 * identical consecutive lists reported once (unless an error came between them).
 */
export class Delivery {
  private last: Endpoint[] | undefined;
  private errorSinceLast = false;
  private closed = false;
  private readonly queue: Array<() => void> = [];
  private scheduled = false;

  constructor(private readonly listener: ResolverListener) {
    if (listener === null || typeof listener !== 'object') throw typeError('listener', 'a ResolverListener', listener);
    if (typeof listener.onEndpoints !== 'function')
      throw typeError('listener.onEndpoints', 'a function', listener.onEndpoints);
    if (typeof listener.onError !== 'function') throw typeError('listener.onError', 'a function', listener.onError);
  }

  /** The last list reported (or queued), if any. */
  get current(): readonly Endpoint[] | undefined {
    return this.last;
  }

  endpoints(list: Endpoint[]): void {
    if (this.closed) return;
    if (this.last !== undefined && !this.errorSinceLast && sameEndpoints(this.last, list)) return;
    this.last = list;
    this.errorSinceLast = false;
    const copy = list.slice();
    const listener = this.listener;
    this.push(function onEndpoints(this: void) {
      listener.onEndpoints(copy);
    });
  }

  error(e: Error): void {
    if (this.closed) return;
    this.errorSinceLast = true;
    const listener = this.listener;
    this.push(function onError() {
      listener.onError(e);
    });
  }

  close(): void {
    this.closed = true;
    this.queue.length = 0;
  }

  private push(fn: () => void): void {
    this.queue.push(fn);
    if (this.scheduled) return;
    this.scheduled = true;
    queueMicrotask(() => {
      this.scheduled = false;
      // A throwing listener must not stop the resolver or drop later calls: an exception from
      // onEndpoints is handed to onError; one from onError is dropped.
      while (this.queue.length > 0 && !this.closed) {
        const f = this.queue.shift()!;
        try {
          f();
        } catch (err) {
          if (f.name === 'onError') continue;
          try {
            this.listener.onError(err instanceof Error ? err : new Error(String(err)));
          } catch {
            // dropped
          }
        }
      }
    });
  }
}

/** A rate limit for `refresh()`: runs `fn` now, or once when the interval since the last run has passed. */
export class RefreshLimiter {
  private lastRunMs = -Infinity;
  private pending: unknown;
  private closed = false;
  constructor(
    private readonly minIntervalMs: number,
    private readonly clock: Clock,
    private readonly fn: () => void,
  ) {}
  /** Records that a resolution just started (for resolutions not triggered by `request`). */
  ran(): void {
    this.lastRunMs = this.clock.now();
  }
  request(): void {
    if (this.closed || this.pending !== undefined) return;
    const waitMs = this.lastRunMs + this.minIntervalMs - this.clock.now();
    if (waitMs <= 0) {
      this.lastRunMs = this.clock.now();
      this.fn();
      return;
    }
    this.pending = this.clock.setTimeout(
      () => {
        this.pending = undefined;
        if (this.closed) return;
        this.lastRunMs = this.clock.now();
        this.fn();
      },
      waitMs,
      { background: true },
    );
  }
  close(): void {
    this.closed = true;
    if (this.pending !== undefined) this.clock.clearTimeout(this.pending);
    this.pending = undefined;
  }
}

/** A non-negative finite number option, or its default. */
export function msOption(field: string, v: unknown, dflt: number): number {
  if (v === undefined) return dflt;
  if (typeof v !== 'number') throw typeError(field, 'a finite number >= 0', v);
  if (!Number.isFinite(v) || v < 0) throw rangeError(field, 'a finite number >= 0', v);
  return v;
}

export function commonOptions(o: CommonResolverOptions): { clock: Clock; minRefreshIntervalMs: number } {
  return {
    clock: o.clock === undefined ? systemClock : validateClock('clock', o.clock),
    minRefreshIntervalMs: msOption('minRefreshIntervalMs', o.minRefreshIntervalMs, DEFAULT_MIN_REFRESH_INTERVAL_MS),
  };
}

function boolParam(field: string, v: string | null): boolean | undefined {
  if (v === null) return undefined;
  if (v === '' || v === 'true' || v === '1') return true;
  if (v === 'false' || v === '0') return false;
  throw typeError(field, '"true" or "false"', v);
}

/**
 * Creates the resolver a target URI names. Throws a TypeError/RangeError for a malformed target or
 * options; failures after that go to `listener.onError`.
 */
export function createResolver(target: string | ResolverOptions, listener: ResolverListener): Resolver {
  const opts: ResolverOptions = typeof target === 'string' ? { target } : target;
  if (opts === null || typeof opts !== 'object') throw typeError('target', 'a URI string or options', target);
  const t = parseTarget(opts.target);
  switch (t.scheme) {
    case 'static': {
      const list = t.path.length === 0 ? [] : t.path.split(',');
      return new StaticResolver([...list, ...(opts.endpointsStatic ?? [])], listener);
    }
    case 'dns':
    case 'dns+srv':
    case 'doh':
    case 'doh+srv': {
      const srv = t.scheme.endsWith('+srv');
      const servers = t.authority.length > 0 ? t.authority.split(',') : opts.servers;
      let lookup = opts.lookup;
      if (t.scheme.startsWith('doh')) {
        const url = t.query.get('url') ?? opts.dohUrl;
        if (typeof url !== 'string') throw typeError('dohUrl', 'a DNS-over-HTTPS JSON URL', url);
        lookup = dohLookup({ ...opts, url });
      }
      return new DnsResolver({ ...opts, target: t.path, srv, servers, lookup }, listener);
    }
    case 'etcd': {
      const endpoints = t.authority.length > 0 ? t.authority.split(',').map((a) => `http://${a}`) : opts.endpoints;
      if (endpoints === undefined) throw typeError('endpoints', 'a list of etcd client URLs', endpoints);
      return new EtcdResolver({ ...opts, endpoints, prefix: t.path }, listener);
    }
    case 'consul': {
      const address = t.authority.length > 0 ? `http://${t.authority}` : opts.address;
      const passing = boolParam('passing', t.query.get('passing')) ?? opts.passing;
      const tags = t.query.getAll('tag');
      const dc = t.query.get('dc') ?? opts.dc;
      return new ConsulResolver(
        { ...opts, address, service: t.path, passing, tags: tags.length > 0 ? tags : opts.tags, dc },
        listener,
      );
    }
    default:
      throw typeError('target scheme', 'one of static, dns, dns+srv, doh, doh+srv, etcd, consul', t.scheme);
  }
}

// Resolvers: where the Balancer learns its members. A resolver watches one target and reports full
// endpoint lists (or errors) to a listener; the Balancer diffs each list into add/remove (`reset`).
//
// The contract follows @grpc/grpc-js's `Resolver` (packages/grpc-js/src/resolver.ts):
//  - listener calls are asynchronous, never made from the constructor (nor from `refresh()`/`close()`);
//  - `onEndpoints` always carries the complete list, never a delta; an identical list (`sameEndpoints`:
//    every field, metadata by value) is not re-reported;
//  - on a failure the last good list is kept (nothing is reported empty because a server is down) and
//    `onError` is called with a `ResolverError` naming the target (errors.ts); bad entries (malformed values, ports out of range, duplicates) are skipped, each
//    reported through `onError` as a TypeError/RangeError naming the field and the value. Entries go through
//    the one endpoint parser (bindings/util/endpoint.ts) with `address: 'required'`: resolvers report
//    dialable addresses, so a port in [1, 65535] is required;
//  - a service config for the target (gRFC A2: DNS TXT `grpc_config=`, or an etcd key; service-config.ts)
//    goes to `onServiceConfig` when it changes, before the list it came with (DNS: unless its TXT answer came
//    later than the query timeout, when it follows that list);
//  - `refresh()` asks for a re-resolution (after connection failures, say); it is rate-limited;
//  - `close()` stops everything: open streams, pending requests, timers; no request or timer starts after it,
//    even when a listener closes the resolver from the list just delivered. No listener call follows it (nor
//    an onError for a listener that closed the resolver and then threw); `refresh()` after it is a no-op.
// The contract is implemented once, in base.ts (Delivery, RefreshLimiter, ResolverBase).
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
//
// Schemes resolve through `createResolverWith(schemes)`: `createResolver` passes every built-in scheme
// (BUILTIN_SCHEMES); `switchyard/lite` passes `static` and the schemes `registerResolver` added, so a bundle
// carries only the resolvers it names (docs/browsers.md): `registerResolver('dns', dnsScheme)`.
import type { Endpoint, EndpointInput } from '../util/endpoint.js';
import type { Clock } from '../util/clock.js';
import type { BackoffOptions } from '../util/backoff.js';
import { bool, rangeError, typeError } from '../util/validate.js';
import { isUrl } from './base.js';
import { StaticResolver } from './static.js';
import { DnsResolver, type DnsResolverOptions } from './dns.js';
import { dohLookup, type DohOptions } from './doh.js';
import { EtcdResolver, type EtcdResolverOptions } from './etcd/resolver.js';
import { ConsulResolver, type ConsulResolverOptions } from './consul.js';
import type { ServiceConfigResolverOptions } from './service-config.js';

export interface ResolverListener {
  /** The complete current list. Called asynchronously, never from the constructor. */
  onEndpoints(endpoints: Endpoint[]): void;
  /**
   * A failure (a `ResolverError`, errors.ts) or a skipped entry (TypeError/RangeError) or a bad service
   * config. The last good list stays in force.
   */
  onError(error: Error): void;
  /**
   * The target's gRPC service config (`{"loadBalancingConfig": [...]}`), chosen per gRFC A2
   * (service-config.ts), when it changes; delivered before the list resolved with it. Optional.
   */
  onServiceConfig?(config: Record<string, unknown>): void;
}

export interface Resolver {
  /** Re-resolve soon (rate-limited: at most once per `minRefreshIntervalMs`). A no-op after `close()`. */
  refresh(): void;
  /** Stop streams, requests and timers; none starts after it, and no listener call follows. Idempotent. */
  close(): void;
}

export type FetchLike = (url: string, init?: RequestInit) => Promise<Response>;

/**
 * Options shared by the polling resolvers (dns, etcd, consul). Back-off after failures takes the fetch
 * retry's options (http/retry.ts), without jitter: the n-th consecutive failure waits
 * min(initialBackoffMs × backoffMultiplier^(n−1), maxBackoffMs); each resolver states its defaults.
 */
export interface CommonResolverOptions extends BackoffOptions {
  /**
   * Time and timers (default `systemClock`). Resolver timers (polls, re-watches, back-off between
   * reconnects) are background timers: they never keep a Node process alive on their own.
   */
  clock?: Clock;
  /** Minimum time between two resolutions triggered by `refresh()` (grpc-js: 30 s). */
  minRefreshIntervalMs?: number;
  /** The target URI named in `ResolverError`s (createResolver sets it; default: built from the options). */
  uri?: string;
}

/** `createResolver` options: a target URI plus the options of the scheme it names. */
export type ResolverOptions = { target: string } & CommonResolverOptions &
  Partial<ServiceConfigResolverOptions> &
  Partial<Omit<DnsResolverOptions, 'target' | keyof CommonResolverOptions | keyof ServiceConfigResolverOptions>> &
  Partial<Omit<DohOptions, 'url' | 'queryTimeoutMs' | keyof CommonResolverOptions>> & {
    dohUrl?: string;
  } & Partial<Omit<EtcdResolverOptions, 'prefix' | keyof CommonResolverOptions | keyof ServiceConfigResolverOptions>> &
  Partial<Omit<ConsulResolverOptions, 'service' | keyof CommonResolverOptions>> & {
    endpointsStatic?: EndpointInput[];
  };

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

function boolParam(field: string, v: string | null): boolean | undefined {
  if (v === null) return undefined;
  if (v === '' || v === 'true' || v === '1') return true;
  if (v === 'false' || v === '0') return false;
  throw typeError(field, '"true" or "false"', v);
}

/** Builds the resolver of a parsed target (`uri`: the target URI named in errors). */
export type ResolverScheme = (
  target: ParsedTarget,
  options: ResolverOptions,
  uri: string,
  listener: ResolverListener,
) => Resolver;

/** Which schemes resolve, and to what. */
export interface SchemeLookup {
  get(scheme: string): ResolverScheme | undefined;
  names(): string[];
}

/** `static:///a:80,b:80` (plus `endpointsStatic`). */
export const staticScheme: ResolverScheme = (t, opts, uri, listener) => {
  // `static://a:80,b:80/` would list nothing (its members are the authority): three slashes
  if (t.authority.length > 0) throw rangeError('target', 'static:///host:port,... (members in the path)', uri);
  const list: EndpointInput[] = t.path.length === 0 ? [] : t.path.split(',');
  const extra = opts.endpointsStatic;
  if (extra !== undefined && !Array.isArray(extra)) throw typeError('endpointsStatic', 'an array', extra);
  return new StaticResolver(list.concat(extra ?? []), listener);
};

/** The scheme says whether SRV records are asked for; an `srv` option, if given, must agree with it. */
function srvOfScheme(t: ParsedTarget, opts: ResolverOptions): boolean {
  const srv = t.scheme.endsWith('+srv');
  if (opts.srv !== undefined && bool('srv', opts.srv) !== srv)
    throw rangeError('srv', `unset or ${srv} for a ${t.scheme}: target (the scheme chooses SRV)`, opts.srv);
  return srv;
}

/** `dns:///` and `dns+srv:///` (node:dns, or `lookup`). */
export const dnsScheme: ResolverScheme = (t, opts, uri, listener) => {
  const servers = t.authority.length > 0 ? t.authority.split(',') : opts.servers;
  const srv = srvOfScheme(t, opts);
  return new DnsResolver({ ...opts, uri, target: t.path, srv, servers, lookup: opts.lookup }, listener);
};

/** `doh:///name:port?url=...` and `doh+srv:///` (DNS-over-HTTPS JSON, for browsers). */
export const dohScheme: ResolverScheme = (t, opts, uri, listener) => {
  const url = t.query.get('url') ?? opts.dohUrl;
  if (typeof url !== 'string') throw typeError('dohUrl', 'a DNS-over-HTTPS JSON URL', url);
  const servers = t.authority.length > 0 ? t.authority.split(',') : opts.servers;
  const srv = srvOfScheme(t, opts);
  return new DnsResolver({ ...opts, uri, target: t.path, srv, servers, lookup: dohLookup({ ...opts, url }) }, listener);
};

/** `etcd://host:2379/prefix/name` (or `endpoints` in options). */
export const etcdScheme: ResolverScheme = (t, opts, uri, listener) => {
  const endpoints =
    t.authority.length > 0
      ? t.authority.split(',').map((a) => {
          // Each member an http URL authority, `host[:port]`, checked here so the error names the target.
          if (!/^[^\s/?#@]+$/.test(a) || !isUrl(`http://${a}`))
            throw typeError('target', 'etcd://host[:port][,host[:port]...]/prefix', uri);
          return `http://${a}`;
        })
      : opts.endpoints;
  if (endpoints === undefined) throw typeError('endpoints', 'a list of etcd client URLs', endpoints);
  return new EtcdResolver({ ...opts, uri, endpoints, prefix: t.path }, listener);
};

/** `consul://host:8500/name?passing=true&tag=x&dc=y` (or `address` in options). */
export const consulScheme: ResolverScheme = (t, opts, uri, listener) => {
  const address = t.authority.length > 0 ? `http://${t.authority}` : opts.address;
  const passing = boolParam('passing', t.query.get('passing')) ?? opts.passing;
  const tags = t.query.getAll('tag');
  const dc = t.query.get('dc') ?? opts.dc;
  return new ConsulResolver(
    { ...opts, uri, address, service: t.path, passing, tags: tags.length > 0 ? tags : opts.tags, dc },
    listener,
  );
};

/** The built-in schemes. */
export const BUILTIN_SCHEMES: Readonly<Record<string, ResolverScheme>> = {
  static: staticScheme,
  dns: dnsScheme,
  'dns+srv': dnsScheme,
  doh: dohScheme,
  'doh+srv': dohScheme,
  etcd: etcdScheme,
  consul: consulScheme,
};

const registry = new Map<string, ResolverScheme>([['static', staticScheme]]);

/**
 * Registers the resolver of a scheme (lower case; replacing any, built-ins included) for createResolver,
 * connectResolver and createFetch in both entries.
 */
export function registerResolver(scheme: string, factory: ResolverScheme): void {
  if (typeof scheme !== 'string' || !/^[a-z][a-z0-9+.-]*$/.test(scheme))
    throw typeError('scheme', 'a lower-case URI scheme', scheme);
  if (typeof factory !== 'function') throw typeError('factory', 'a function', factory);
  registry.set(scheme, factory);
}

/** `static` and the registered schemes. */
export const registeredSchemes: SchemeLookup = {
  get: (scheme) => registry.get(scheme),
  names: () => [...registry.keys()],
};

/** The registered schemes, then the built-ins. */
export const allSchemes: SchemeLookup = {
  get: (scheme) =>
    registry.get(scheme) ?? (Object.hasOwn(BUILTIN_SCHEMES, scheme) ? BUILTIN_SCHEMES[scheme] : undefined),
  names: () => [...new Set([...Object.keys(BUILTIN_SCHEMES), ...registry.keys()])],
};

/**
 * Creates the resolver a target URI names, its scheme resolved by `schemes`. Throws a TypeError/RangeError
 * for a malformed target or options; failures after that go to `listener.onError`.
 */
export function createResolverWith(
  schemes: SchemeLookup,
  target: string | ResolverOptions,
  listener: ResolverListener,
): Resolver {
  const opts: ResolverOptions = typeof target === 'string' ? { target } : target;
  if (opts === null || typeof opts !== 'object') throw typeError('target', 'a URI string or options', target);
  return resolveWith(schemes, opts, listener);
}

/** createResolverWith of an options object (connect.ts, which builds one, calls it directly). */
export function resolveWith(schemes: SchemeLookup, opts: ResolverOptions, listener: ResolverListener): Resolver {
  const t = parseTarget(opts.target);
  const create = schemes.get(t.scheme);
  if (create === undefined)
    throw typeError('target scheme', `one of ${schemes.names().join(', ')} (registerResolver() adds others)`, t.scheme);
  return create(t, opts, opts.uri ?? opts.target, listener);
}

/**
 * Creates the resolver a target URI names (every built-in scheme, and the registered ones). Throws a
 * TypeError/RangeError for a malformed target or options; failures after that go to `listener.onError`.
 */
export function createResolver(target: string | ResolverOptions, listener: ResolverListener): Resolver {
  return createResolverWith(allSchemes, target, listener);
}

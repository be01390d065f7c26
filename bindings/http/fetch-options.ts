// createFetch options (fetch.ts): the public option, event and instrumentation types, their validation into a
// resolved config (TypeError/RangeError naming the field and the value), and, when no Balancer is given, the
// stack built from the options: a Balancer fed by a resolver target or static endpoints, with active HTTP
// health checks and passive outlier detection wired in (connectHealth). One injected `clock` (and `random`,
// when given) reaches every part of that stack, so a test drives it all with one VirtualClock.
//
//   const cfg = parseFetchOptions({ target: 'dns:///api.internal:8080', healthCheck: { path: '/healthz' } });
//   cfg.close(); // stops the resolver, the health checks and the Balancer
import { Balancer, BalancerCore } from '../balancing/balancer.js';
import type { BalancerOptions } from '../balancing/options.js';
import { parseEndpoint, type EndpointInput } from '../util/endpoint.js';
import { systemClock, validateClock, type Clock } from '../util/clock.js';
import { HealthChecker, type HealthCheckerOptions } from '../health/checker.js';
import { validateRandom } from '../util/random.js';
import { httpProbe, type HttpProbeOptions, PROBE_KEYS } from '../health/http-probe.js';
import { HEALTH_TIMING_KEYS, OUTLIER_KEYS } from '../health/options.js';
import { connectHealth } from '../health/connect.js';
import { OutlierDetector, type OutlierDetectorOptions } from '../health/outlier.js';
import type { ResolverOptions } from '../discovery/resolver.js';
import { allSchemes, registeredSchemes } from '../discovery/resolver.js';
import { wireResolver, type ConnectedResolver, type ConnectOptions } from '../discovery/connect.js';
import { Backoff, type BackoffOptions } from '../util/backoff.js';
import { RetryThrottle, type ThrottleOptions } from './retry.js';
import { createHttpProber } from './prequal-probe.js';
import type { Call } from './fetch.js';
import { hedged } from './hedge.js';
import type { PrequalProbe } from '../balancing/policies/prequal.js';
import {
  asObject,
  checkKeys,
  intInRange,
  nonNegativeMs,
  positive,
  rangeError,
  typeError,
  unregistered,
} from '../util/validate.js';

export interface FetchOutcome {
  ok: boolean;
  rttMs?: number;
  status?: number;
  error?: unknown;
}

export interface FetchMember {
  id: string;
  host: string;
  port: number;
}

/**
 * A pick. `startedAt`: when the PickSource reads the fetch's own clock (its `clock` is the fetch's), its reading
 * at the pick, which times the try; NaN when it read none because nothing uses the RTT (then none is reported).
 */
export type FetchPick =
  | {
      type: 'pick';
      member: FetchMember;
      /** `cancel`: a pick whose request was never sent (a Balancer's; without it, done({ ok: true }) ends such a pick). */
      handle: { done(o: FetchOutcome): void; cancel?(): void };
      startedAt?: number;
    }
  | { type: 'none'; reason: string };

/** Options of a waiting pick (Balancer.pickAsync). */
export interface PickWaitOptions {
  timeoutMs?: number;
  signal?: AbortSignal;
}

/**
 * What createFetch needs from a Balancer: `pick()`, and optionally `pickAsync()`, which waits for a member
 * when none can be picked now (first resolution, members re-added, first health results) and rejects with the
 * resolver's error, an UnavailableError at its timeout, or the signal's reason (the Balancer's contract).
 */
export interface PickSource {
  pick(ctx?: { key?: string; exclude?: ReadonlySet<string> }): FetchPick;
  pickAsync?(
    ctx?: { key?: string; exclude?: ReadonlySet<string> },
    opts?: PickWaitOptions,
  ): Promise<Extract<FetchPick, { type: 'pick' }>>;
}

export interface RetryOptions extends BackoffOptions {
  /** Tries in all, the first included (default 3, at most 10). */
  maxAttempts?: number;
  /** Statuses that are retried (default 502, 503, 504). */
  retryOn?: readonly number[];
}

export interface HedgeOptions {
  delayMs: number;
  /** Concurrent tries at most, the first included (default 2). */
  maxAttempts?: number;
}

/**
 * One step of a request. 'try': a try is sent; 'retry': a retry is scheduled after `delayMs`; 'hedge': a
 * hedged try starts; 'throttled': the retry budget refused a retry or hedge (at most once per request);
 * 'give-up': the request fails with `error`; 'request-end': the request is over (exactly one per request,
 * passThrough URLs aside), `ok` when a response with a status below 500 was returned, `status` when any
 * response was, `tries` the tries sent.
 */
export interface FetchEvent {
  type: 'try' | 'retry' | 'hedge' | 'throttled' | 'give-up' | 'request-end';
  /** Sequence number of the request (from 1), to correlate the events of one request. */
  request: number;
  member?: string;
  /**
   * The try concerned, from 1: the one starting ('try', 'retry', 'hedge'), the one refused ('throttled'), the
   * last one made ('give-up', 'request-end'; 0 when none was).
   */
  attempt: number;
  status?: number;
  error?: unknown;
  delayMs?: number;
  /** 'request-end' only. */
  ok?: boolean;
  /** 'request-end' only. */
  tries?: number;
}

/** What a request is, when it starts (FetchInstrumentation.request). */
export interface FetchRequestInfo {
  /** Upper-case method. */
  method: string;
  /** The request target as the caller named it (a path or a URL on the service origin). */
  url: string;
  /** The checked path, query and fragment sent to the member. */
  path: string;
  /** The logical service: `service`'s origin, else the resolver target, else ''. */
  service: string;
  /** The Balancer's current policy name ('' when unknown). */
  policy: string;
}

export interface FetchTryInfo {
  member: FetchMember;
  /** 1 for the first try. */
  attempt: number;
  /** Whether this try was started by hedging (not the first try, not a retry). */
  hedge: boolean;
  /** The request headers of this try; set headers here (e.g. W3C traceparent). */
  headers: Headers;
}

export interface FetchRequestResult {
  /** The status of the response returned, if one was. */
  status?: number;
  /** What the request threw, if it did. */
  error?: unknown;
  /** Tries sent (retries and hedges included). */
  tries: number;
  /** Retries scheduled (hedges not included). */
  retries: number;
}

export interface FetchTryResult {
  status?: number;
  error?: unknown;
  rttMs: number;
}

/** Observes requests and their tries (tracing, metrics). Nothing is called, nor allocated, without one. */
export interface FetchInstrumentation {
  /** Called once per request before its first pick; the scope, if any, hears the request's tries and end. */
  request(info: FetchRequestInfo): RequestScope | undefined;
}

export interface RequestScope {
  /** Called before each try is sent; may set request headers (e.g. W3C traceparent). */
  try(info: FetchTryInfo): TryScope | undefined;
  end(result: FetchRequestResult): void;
}

export interface TryScope {
  end(result: FetchTryResult): void;
}

export interface CreateFetchOptions {
  /** Your own Balancer (or anything with pick()); otherwise one is built from the options below. */
  balancer?: PickSource;
  /** Resolver target feeding the built Balancer: 'dns:///svc:80', 'etcd://10.0.0.1:2379/services/api', 'static:///a:80,b:80', ... */
  target?: string | ResolverOptions;
  /** Static members for the built Balancer. */
  endpoints?: readonly EndpointInput[];
  /** Policy of the built Balancer (default 'round_robin'): a name, `{ name, ...options }` or service config. */
  policy?: string | object;
  /** Active HTTP health checks on the built Balancer (probe options plus checker options). */
  healthCheck?: HttpProbeOptions & Omit<HealthCheckerOptions, 'probe'>;
  /** Passive outlier detection on the built Balancer (Envoy defaults); false to disable. */
  outlierDetection?: OutlierDetectorOptions | false;
  /** Logical origin requests may name, e.g. 'http://api'; paths ('/x') always work. */
  service?: string;
  scheme?: 'http' | 'https';
  /** Routing key for hash policies, e.g. (req) => req.headers.get('x-user'). */
  key?: (request: Request) => string | undefined;
  /** Bound of each try, until its response headers (a try cut off is retried as a network error is). */
  perTryTimeoutMs?: number;
  /**
   * Bound of the request until its response: every try, the back-off between them and the waits for a member
   * (DeadlineExceededError). Reading the body is not bounded by it (the caller reads at its own pace): bound it
   * with the `signal` (e.g. `AbortSignal.timeout(ms)`), whose abort reaches the body read as with fetch.
   */
  deadlineMs?: number;
  retry?: RetryOptions | false;
  retryThrottling?: ThrottleOptions | false;
  hedge?: HedgeOptions;
  /** URLs the caller explicitly allows to bypass balancing (sent as given, never retried). */
  passThrough?: (url: URL) => boolean;
  fetch?: typeof globalThis.fetch;
  /** Uniform in [0, 1): retry back-off jitter, and the built stack's picks and probe jitter (default Math.random). */
  random?: () => number;
  /**
   * Time and timers (default `systemClock`): deadlines, per-try timeouts, back-off and hedging delays (timers
   * a request awaits, so they keep the process alive), and the clock of the built stack.
   */
  clock?: Clock;
  onEvent?: (ev: FetchEvent) => void;
  /**
   * How long a request waits for a member when none can be picked (the first resolution, members re-added,
   * first health results), within its deadline. Default: `deadlineMs`, else 10 000. Needs a PickSource with
   * `pickAsync()` (the Balancer has it); also the built Balancer's `readyTimeoutMs`.
   */
  readyTimeoutMs?: number;
  /** Tracing or metrics hooks (see FetchInstrumentation); several are called in order. */
  instrumentation?: FetchInstrumentation | readonly FetchInstrumentation[];
}

export interface FetchStats {
  requests: number;
  tries: number;
  retries: number;
  hedges: number;
  failures: number;
}

/** The validated options, every default applied, with the Balancer requests are routed by. */
export interface FetchConfig {
  balancer: PickSource;
  /**
   * Stops what was built (resolver, health checks, outlier detection, Balancer); idempotent. Whether a Balancer
   * was built (false with a caller's, which goes on).
   */
  close(): boolean;
  scheme: 'http' | 'https';
  serviceOrigin: string | undefined;
  perTryTimeoutMs: number | undefined;
  /** Infinity when unset. */
  deadlineMs: number;
  maxAttempts: number;
  retryOn: ReadonlySet<number>;
  backoff: Backoff;
  throttle: RetryThrottle | null;
  /** With the runner its stack registered (hedge.ts). */
  hedge: HedgeConfig | undefined;
  passThrough: ((url: URL) => boolean) | undefined;
  key: ((request: Request) => string | undefined) | undefined;
  baseFetch: typeof globalThis.fetch;
  clock: Clock;
  onEvent: ((ev: FetchEvent) => void) | undefined;
  /** Bound of a wait for a member (PickSource.pickAsync). */
  readyTimeoutMs: number;
  /** The instrumentations (parseInstrumentation), undefined when none. */
  instrumentation: Instrumenter | undefined;
  /** Whether a failed try's error is undici refusing the request before sending it (StackParts.unsent). */
  unsent: ((err: TypeError) => boolean) | undefined;
  /** `service` origin, else the resolver target, else '' (FetchRequestInfo.service). */
  serviceName: string;
  /** What the built stack holds (absent with a caller's Balancer). */
  resolver?: ConnectedResolver | undefined;
  checker?: HealthChecker | undefined;
  detector?: OutlierDetector | undefined;
}

/** The default bound of a wait for a member when there is no deadline (gRPC waits for the deadline). */
export const DEFAULT_READY_TIMEOUT_MS = 10_000;

const DEFAULT_RETRY_ON = [502, 503, 504];

/** The keys of CreateFetchOptions, RetryOptions and ThrottleOptions: a misspelt one is refused (checkOptions). */
const OPTIONS = [
  'balancer',
  'target',
  'endpoints',
  'policy',
  'healthCheck',
  'outlierDetection',
  'service',
  'scheme',
  'key',
  'perTryTimeoutMs',
  'deadlineMs',
  'retry',
  'retryThrottling',
  'hedge',
  'passThrough',
  'fetch',
  'random',
  'clock',
  'onEvent',
  'readyTimeoutMs',
  'instrumentation',
];
/** What builds a Balancer: a source of members (the first two) and the built Balancer's policy and health. */
const BUILD_OPTIONS = ['endpoints', 'target', 'policy', 'healthCheck', 'outlierDetection'] as const;
const RETRY_OPTIONS = ['maxAttempts', 'retryOn', 'initialBackoffMs', 'maxBackoffMs', 'backoffMultiplier'];
const THROTTLE_OPTIONS = ['maxTokens', 'tokenRatio'];

/**
 * Refuses a misspelt key of the options, of `retry` and of `retryThrottling` (a RangeError naming it and listing
 * the keys), and options that conflict (`endpoints` with `target`; either, `policy` or health with `balancer`):
 * COMPLETE_STACK's, so that switchyard/lite does not carry the lists. `healthCheck` and
 * `outlierDetection` are the health module's to check.
 */
function checkOptions(o: CreateFetchOptions): void {
  checkKeys('options', o, OPTIONS);
  // one source of members (a TypeError naming the second); a given Balancer has its own policy and health
  const source = o.balancer !== undefined ? 'balancer' : o.endpoints !== undefined ? 'endpoints' : 'target';
  const built = source === 'balancer' ? BUILD_OPTIONS : BUILD_OPTIONS.slice(0, 2);
  for (const k of built)
    if (k !== source && o[k] !== undefined && o[k] !== false) throw typeError(k, `absent with ${source}`, o[k]);
  if (o.retry !== false) checkKeys('retry', asObject('retry', o.retry), RETRY_OPTIONS);
  if (o.retryThrottling !== false)
    checkKeys('retryThrottling', asObject('retryThrottling', o.retryThrottling), THROTTLE_OPTIONS);
}

/** An observer's exception must not break a request: it is rethrown on its own (an uncaught error). */
export function report(err: unknown): void {
  queueMicrotask(() => {
    throw err;
  });
}

/** Runs a hook; its exception is reported (report), not thrown. */
function guard<T>(fn: () => T): T | undefined {
  try {
    return fn();
  } catch (err) {
    report(err);
    return undefined;
  }
}

/**
 * A request as the instrumentations see it (parseInstrumentation): the headers its tries send (a copy of the
 * caller's, which scopes may write), its tries' scopes and its end; no hook's exception comes out of it.
 */
export interface Traced {
  headers: Headers;
  /** A try's scope, with the init to send (its own copy of the headers for a hedge: hedges run concurrently). */
  try(init: RequestInit, member: FetchMember, attempt: number, hedge: boolean): [RequestInit, TryScope | undefined];
  end(result: FetchRequestResult): void;
}

/**
 * The `instrumentation` option as Call uses it (parseInstrumentation): the request's method, URL and checked path,
 * and `cfg` for its service and policy. The FetchRequestInfo is built here, not in Call, so that switchyard/lite
 * bundles leave it out until registerInstrumentation().
 */
export type Instrumenter = (
  method: string,
  url: string,
  path: string,
  headers: HeadersInit | undefined,
  cfg: FetchConfig,
) => Traced;

/**
 * The `instrumentation` option: one instrumentation, or several called in order (one's exception does not keep
 * the others from their scopes); each scope returned is checked to have `try` and `end` (a TypeError naming
 * `instrumentation.request()` otherwise, reported as a hook's exception is).
 */
export function parseInstrumentation(v: unknown): Instrumenter | undefined {
  if (v === undefined) return undefined;
  const list = Array.isArray(v) ? (v as unknown[]) : [v];
  list.forEach((x, i) => {
    if (x === null || typeof x !== 'object' || typeof (x as FetchInstrumentation).request !== 'function')
      throw typeError(Array.isArray(v) ? `instrumentation[${i}]` : 'instrumentation', 'an object with request()', x);
  });
  if (list.length === 0) return undefined;
  return (method, url, path, given, cfg) => {
    const policy = (cfg.balancer as { policy?: { name?: unknown } }).policy?.name;
    const info = { method, url, path, service: cfg.serviceName, policy: typeof policy === 'string' ? policy : '' };
    const scope = fanOut(list.map((x) => guard(() => checked((x as FetchInstrumentation).request(info)))));
    const headers = new Headers(given);
    return {
      headers,
      try(init, member, attempt, hedge) {
        if (scope === undefined) return [init, undefined];
        const h = hedge ? new Headers(headers) : headers;
        return [hedge ? { ...init, headers: h } : init, scope.try({ member, attempt, hedge, headers: h })];
      },
      end: (r) => scope?.end(r),
    };
  };
}

const isScope = (s: unknown, request: boolean): s is RequestScope =>
  s !== null &&
  typeof s === 'object' &&
  typeof (s as RequestScope).end === 'function' &&
  (!request || typeof (s as RequestScope).try === 'function');

/** A scope `request()` returned, checked, as one whose hooks never throw (parseInstrumentation). */
function checked(scope: RequestScope | undefined): RequestScope | undefined {
  const hook = 'instrumentation.request()';
  if (scope === undefined) return undefined;
  if (!isScope(scope, true)) throw typeError(`${hook} result`, 'undefined or a scope { try(), end() }', scope);
  return {
    try: (t) =>
      guard(() => {
        const s = scope.try(t);
        if (s === undefined) return undefined;
        if (!isScope(s, false)) throw typeError(`${hook}.try() result`, 'undefined or a scope { end() }', s);
        return { end: (r) => void guard(() => s.end(r)) };
      }),
    end: (r) => void guard(() => scope.end(r)),
  };
}

/** One RequestScope over several (instrumentations in order; absent scopes skipped). */
function fanOut(scopes: (RequestScope | undefined)[]): RequestScope | undefined {
  const live = scopes.filter((s): s is RequestScope => s !== undefined);
  if (live.length <= 1) return live[0];
  return {
    try(info) {
      const tries = live.map((s) => s.try(info)).filter((t): t is TryScope => t !== undefined);
      return tries.length === 0 ? undefined : { end: (r) => tries.forEach((t) => t.end(r)) };
    },
    end: (r) => live.forEach((s) => s.end(r)),
  };
}

function isFunction<T>(field: string, v: T): T {
  if (typeof v !== 'function') throw typeError(field, 'a function', v);
  return v;
}

/** The validated options, and the stack built from them with every built-in (COMPLETE_STACK). */
export function parseFetchOptions(options: CreateFetchOptions): FetchConfig {
  return parseFetchOptionsWith(COMPLETE_STACK, options);
}

/** The validated options, and the stack built from them with `parts`. */
export function parseFetchOptionsWith(parts: StackParts, options: CreateFetchOptions): FetchConfig {
  if (options === null || typeof options !== 'object') throw typeError('options', 'an object', options);
  const was = (options as { now?: unknown }).now;
  if (was !== undefined) throw typeError('now', 'unset: it was replaced by clock (a Clock)', was);
  parts.check?.(options);
  const scheme = options.scheme ?? 'http';
  if (scheme !== 'http' && scheme !== 'https') throw rangeError('scheme', "'http' or 'https'", scheme);
  let serviceOrigin: string | undefined;
  const service: unknown = options.service;
  if (service !== undefined) {
    if (typeof service !== 'string') throw typeError('service', "an origin such as 'http://api'", service);
    try {
      const u = new URL(service.includes('://') ? service : `${scheme}://${service}`);
      // an http(s) origin only (other schemes' origin is "null", which opaque request URLs would match), with
      // nothing an origin drops (user info, path, query, fragment)
      if ((u.protocol === 'http:' || u.protocol === 'https:') && u.href === `${u.origin}/`) serviceOrigin = u.origin;
    } catch {
      // refused below
    }
    if (serviceOrigin === undefined) throw rangeError('service', "an http(s) origin such as 'http://api'", service);
  }
  const retry = options.retry === false ? { maxAttempts: 1 } : asObject<RetryOptions>('retry', options.retry);
  const retryOnList: unknown = retry.retryOn ?? DEFAULT_RETRY_ON;
  if (!Array.isArray(retryOnList)) throw typeError('retry.retryOn', 'an array of statuses', retryOnList);
  const retryOn = new Set<number>(retryOnList);
  for (const s of retryOn) intInRange('retry.retryOn[]', s, 100, 599);
  /** `options[k]` checked by `check` (errors name `k`), or `dflt` when left out. */
  const opt = <K extends keyof CreateFetchOptions, T, D = undefined>(
    k: K,
    check: (field: string, v: NonNullable<CreateFetchOptions[K]>) => T,
    dflt?: D,
  ): T | D => (options[k] === undefined ? (dflt as D) : check(k, options[k]!));
  const random = opt('random', validateRandom, Math.random);
  const clock = opt('clock', validateClock, systemClock);
  const hedge = options.hedge;
  let hedgeCfg: FetchConfig['hedge'];
  if (hedge !== undefined) {
    if (parts.hedge === undefined) throw unregistered('hedge', 'registerHedging()', hedge);
    hedgeCfg = parts.hedge.options(hedge);
  }
  const instrument = parts.instrumentation;
  if (options.instrumentation !== undefined && instrument === undefined)
    throw unregistered('instrumentation', 'registerInstrumentation()', options.instrumentation);
  const deadlineMs = opt('deadlineMs', positive, Infinity);
  const readyTimeoutMs = opt(
    'readyTimeoutMs',
    nonNegativeMs,
    Number.isFinite(deadlineMs) ? deadlineMs : DEFAULT_READY_TIMEOUT_MS,
  );
  const target = options.target;
  const targetName = typeof target === 'string' ? target : typeof target?.target === 'string' ? target.target : '';
  const cfg: Omit<FetchConfig, 'balancer' | 'close' | 'resolver' | 'checker' | 'detector'> = {
    scheme,
    serviceOrigin,
    perTryTimeoutMs: opt('perTryTimeoutMs', positive),
    deadlineMs,
    maxAttempts: retry.maxAttempts === undefined ? 3 : intInRange('retry.maxAttempts', retry.maxAttempts, 1, 10),
    retryOn,
    backoff: new Backoff(retry, random),
    throttle:
      options.retryThrottling === false
        ? null
        : new RetryThrottle(asObject<ThrottleOptions>('retryThrottling', options.retryThrottling)),
    hedge: hedgeCfg,
    passThrough: opt('passThrough', isFunction),
    key: opt('key', isFunction),
    baseFetch: opt('fetch', isFunction) ?? globalThis.fetch.bind(globalThis),
    clock,
    onEvent: opt('onEvent', isFunction),
    readyTimeoutMs,
    instrumentation: instrument?.(options.instrumentation),
    unsent: parts.unsent,
    serviceName: serviceOrigin ?? targetName,
  };
  if (options.balancer !== undefined) {
    const balancer = options.balancer;
    if (balancer === null || typeof balancer !== 'object' || typeof balancer.pick !== 'function')
      throw typeError('balancer', 'an object with pick()', balancer);
    if (balancer.pickAsync !== undefined && typeof balancer.pickAsync !== 'function')
      throw typeError('balancer.pickAsync', 'a function', balancer.pickAsync);
    return { ...cfg, balancer, close: () => false };
  }
  // Built last, once every option is known to be valid: nothing is started and then leaked by a throw.
  return { ...cfg, ...buildStack(parts, options, clock, options.random, readyTimeoutMs, targetName) };
}

/**
 * What the stack of createFetch is built from, when no `balancer` is given. The `switchyard` entry's createFetch
 * uses COMPLETE_STACK (every policy and scheme by name, health checks, outlier detection by default, the prequal
 * HTTP prober); `switchyard/lite` uses LITE_STACK (round_robin, static and what was registered; no health
 * checks nor outlier detection), so that a bundle carries only what it names (docs/browsers.md).
 */
export interface StackParts {
  /** The Balancer, names resolved as the entry resolves them. */
  balancer(options: BalancerOptions): BalancerCore;
  /** Connects a resolver target, its scheme resolved as the entry resolves them. */
  connect(target: string | ResolverOptions, balancer: BalancerCore, options: ConnectOptions): ConnectedResolver;
  /** Health checks and outlier detection; absent: `healthCheck` and `outlierDetection` are refused. */
  health?: typeof buildHealth;
  /** Gives policies that probe members (prequal) and have no prober an HTTP one; absent: they keep none. */
  probers?: typeof wireProbers;
  /** Hedged tries (hedge.ts: the runner, with `options` checking the option); absent: the `hedge` option is refused. */
  hedge?: HedgeConfig['run'] & { options(h: unknown): HedgeConfig };
  /** The `instrumentation` option (parseInstrumentation); absent: it is refused. */
  instrumentation?: typeof parseInstrumentation;
  /** Refuses misspelt option keys (checkOptions); absent (switchyard/lite): they are ignored. */
  check?: typeof checkOptions;
  /**
   * Tells undici's refusals to send a request (an unsupported or invalid header such as expect, upgrade or
   * transfer-encoding) from a member's failure (unsentByUndici); absent (switchyard/lite, whose browser fetch
   * has none): only what the Request constructor refuses is the caller's.
   */
  unsent?: (err: TypeError) => boolean;
}

/** undici's codes for a request it refuses to send: nothing reached the member. */
const UNSENT = /^UND_ERR_(NOT_SUPPORTED|INVALID_ARG)$/;
const unsentByUndici = (err: TypeError) => UNSENT.test(String((err.cause as { code?: unknown } | undefined)?.code));

/** The `hedge` option, validated, and what runs it. */
export interface HedgeConfig {
  delayMs: number;
  maxAttempts: number;
  run(call: Call, h: HedgeConfig): Promise<Response>;
}

export const COMPLETE_STACK: StackParts = {
  balancer: (o) => new Balancer(o),
  connect: (target, balancer, o) => wireResolver(allSchemes, target, balancer, o),
  health: buildHealth,
  probers: wireProbers,
  hedge: hedged,
  instrumentation: parseInstrumentation,
  check: checkOptions,
  unsent: unsentByUndici,
};

export const LITE_STACK: StackParts = {
  balancer: (o) => new BalancerCore(o),
  connect: (target, balancer, o) => wireResolver(registeredSchemes, target, balancer, o),
};

/**
 * Gives prequal (and any policy that probes members) an HTTP prober unless it was given one, now and whenever
 * the policy changes later (setPolicy, a resolver's service config); returns the function that stops it.
 */
function wireProbers(built: BalancerCore, options: CreateFetchOptions): () => void {
  const prober = (): void => {
    const p = built.policy as { setProbe?: (fn: PrequalProbe) => void; hasProbe?: boolean };
    if (typeof p.setProbe === 'function' && p.hasProbe === false)
      p.setProbe(
        createHttpProber({ scheme: options.scheme ?? 'http', ...(options.fetch && { fetch: options.fetch }) }),
      );
  };
  prober();
  return built.on('picker', prober);
}

/** Health checks (when `healthCheck` is given) and outlier detection (unless false) wired to `built`. */
function buildHealth(
  options: CreateFetchOptions,
  built: BalancerCore,
  shared: { clock: Clock; random?: () => number },
): { checker: HealthChecker | undefined; detector: OutlierDetector | undefined; close: () => void } {
  const hc =
    options.healthCheck === undefined
      ? undefined
      : asObject<NonNullable<CreateFetchOptions['healthCheck']>>('healthCheck', options.healthCheck);
  if (hc !== undefined && 'probe' in hc)
    throw typeError(
      'healthCheck.probe',
      'absent: members are probed over HTTP (or give a balancer wired by connectHealth)',
      (hc as { probe: unknown }).probe,
    );
  let checker: HealthChecker | undefined;
  if (hc !== undefined) {
    checkKeys('healthCheck', hc, [...HEALTH_TIMING_KEYS, ...PROBE_KEYS]);
    // probes go as the requests do (scheme, fetch) unless healthCheck says otherwise
    const probe: Record<string, unknown> = { scheme: options.scheme, fetch: options.fetch };
    const timing: Record<string, unknown> = { ...shared };
    for (const [k, v] of Object.entries(hc)) ((PROBE_KEYS as string[]).includes(k) ? probe : timing)[k] = v;
    checker = new HealthChecker(
      { ...timing, probe: httpProbe(probe, 'healthCheck') } as HealthCheckerOptions,
      'healthCheck',
    );
  }
  let detector: OutlierDetector | undefined;
  if (options.outlierDetection !== false) {
    const od = asObject<OutlierDetectorOptions>('outlierDetection', options.outlierDetection);
    checkKeys('outlierDetection', od, OUTLIER_KEYS);
    detector = new OutlierDetector({ ...shared, ...od }, 'outlierDetection');
  }
  if (checker === undefined && detector === undefined) return { checker, detector, close: () => {} };
  const wiring = connectHealth(built as unknown as Parameters<typeof connectHealth>[0], {
    clock: shared.clock,
    ...(checker && { checker }),
    ...(detector && { detector }),
  });
  return { checker, detector, close: () => wiring.close() };
}

/** A Balancer from `target`/`endpoints`/`policy`, with health checks and outlier detection wired in. */
function buildStack(
  parts: StackParts,
  options: CreateFetchOptions,
  clock: Clock,
  random: (() => number) | undefined,
  readyTimeoutMs: number,
  targetName: string,
): Pick<FetchConfig, 'balancer' | 'close' | 'resolver' | 'checker' | 'detector'> {
  if (options.target === undefined && options.endpoints === undefined)
    throw typeError('options', 'a balancer, a target or endpoints', undefined);
  const health = parts.health;
  if (health === undefined) {
    const lite = "absent from switchyard/lite (use switchyard's createFetch, or a balancer wired by connectHealth)";
    if (options.healthCheck !== undefined) throw typeError('healthCheck', lite, options.healthCheck);
    if (options.outlierDetection !== undefined && options.outlierDetection !== false)
      throw typeError('outlierDetection', lite, options.outlierDetection);
  }
  const shared = { clock, ...(random !== undefined && { random }) };
  let built: BalancerCore | undefined;
  let unwireProbers: (() => void) | undefined;
  let wired: ReturnType<typeof buildHealth> | undefined;
  let resolver: ConnectedResolver | undefined;
  let closed = false;
  // the Balancer first: requests waiting for a member fail at once (UnavailableError), where stopping the health
  // wiring first put members awaiting their first check back into rotation and sent those requests to them;
  // then what fed it (health checks, resolver) and its probes
  const close = () => {
    if (!closed) {
      closed = true;
      built?.close();
      wired?.close();
      resolver?.close();
      unwireProbers?.();
      (built?.policy as { abortProbes?: () => void } | undefined)?.abortProbes?.();
    }
    return true;
  };
  try {
    built = parts.balancer({
      ...shared,
      readyTimeoutMs,
      ...(targetName !== '' && { target: targetName }),
      ...(options.policy !== undefined && { policy: options.policy }),
      ...(options.endpoints !== undefined && { endpoints: options.endpoints }),
    });
    // a Balancer takes a bare name as a member; an HTTP member needs a port, as a static:/// target's does
    options.endpoints?.forEach((x, i) => parseEndpoint(x, `endpoints[${i}]`, { address: 'required' }));
    unwireProbers = parts.probers?.(built, options);
    wired = health?.(options, built, shared);
    if (options.target !== undefined) resolver = parts.connect(options.target, built, { clock });
    return {
      balancer: built as unknown as PickSource,
      close,
      resolver,
      checker: wired?.checker,
      detector: wired?.detector,
    };
  } catch (e) {
    close();
    throw e;
  }
}

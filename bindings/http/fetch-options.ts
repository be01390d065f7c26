// createFetch options (fetch.ts): the public option and event types, their validation into a resolved
// config (TypeError/RangeError naming the field and the value), and, when no Balancer is given, the stack
// built from the options: a Balancer fed by a resolver target or static endpoints, with active HTTP health
// checks and passive outlier detection wired in (connectHealth). One injected `clock` (and `random`, when
// given) reaches every part of that stack, so a test drives it all with one VirtualClock.
//
//   const cfg = parseFetchOptions({ target: 'dns:///api.internal:8080', healthCheck: { path: '/healthz' } });
//   cfg.close(); // stops the resolver, the health checks and the Balancer
import { Balancer } from '../balancing/balancer.js';
import type { EndpointInput } from '../util/endpoint.js';
import { systemClock, validateClock, type Clock } from '../util/clock.js';
import { HealthChecker, type HealthCheckerOptions } from '../health/checker.js';
import { validateRandom } from '../util/random.js';
import { httpProbe, type HttpProbeOptions } from '../health/http-probe.js';
import { connectHealth } from '../health/connect.js';
import { OutlierDetector, type OutlierDetectorOptions } from '../health/outlier.js';
import type { ResolverOptions } from '../discovery/resolver.js';
import { connectResolver } from '../discovery/connect.js';
import { Backoff, type BackoffOptions } from '../util/backoff.js';
import { RetryThrottle, type ThrottleOptions } from './retry.js';
import { intInRange, positive, rangeError, typeError } from '../util/validate.js';

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

export type FetchPick =
  { type: 'pick'; member: FetchMember; handle: { done(o: FetchOutcome): void } } | { type: 'none'; reason: string };

/** What createFetch needs from a Balancer. */
export interface PickSource {
  pick(ctx?: { key?: string; exclude?: ReadonlySet<string> }): FetchPick;
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

export interface FetchEvent {
  type: 'try' | 'retry' | 'hedge' | 'give-up';
  /** Sequence number of the request (from 1), to correlate the events of one request. */
  request: number;
  member?: string;
  attempt: number;
  status?: number;
  error?: unknown;
  delayMs?: number;
}

export interface CreateFetchOptions {
  /** Your own Balancer (or anything with pick()); otherwise one is built from the options below. */
  balancer?: PickSource;
  /** Resolver target feeding the built Balancer: 'etcd:///services/api', 'dns:///svc:80', 'static:///a:80,b:80', ... */
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
  perTryTimeoutMs?: number;
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
  /** Stops what was built (resolver, health checks, outlier detection, Balancer); idempotent. */
  close(): void;
  scheme: 'http' | 'https';
  serviceOrigin: string | undefined;
  perTryTimeoutMs: number | undefined;
  /** Infinity when unset. */
  deadlineMs: number;
  maxAttempts: number;
  retryOn: ReadonlySet<number>;
  backoff: Backoff;
  throttle: RetryThrottle | null;
  hedge: { delayMs: number; maxAttempts: number } | undefined;
  passThrough: ((url: URL) => boolean) | undefined;
  key: ((request: Request) => string | undefined) | undefined;
  baseFetch: typeof globalThis.fetch;
  clock: Clock;
  onEvent: (ev: FetchEvent) => void;
}

const DEFAULT_RETRY_ON = [502, 503, 504];

function optionalFunction<T>(field: string, v: T | undefined): T | undefined {
  if (v !== undefined && typeof v !== 'function') throw typeError(field, 'a function', v);
  return v;
}

export function parseFetchOptions(options: CreateFetchOptions): FetchConfig {
  if (options === null || typeof options !== 'object') throw typeError('options', 'an object', options);
  const scheme = options.scheme ?? 'http';
  if (scheme !== 'http' && scheme !== 'https') throw rangeError('scheme', "'http' or 'https'", scheme);
  let serviceOrigin: string | undefined;
  if (options.service !== undefined) {
    const s = options.service.includes('://') ? options.service : `${scheme}://${options.service}`;
    try {
      serviceOrigin = new URL(s).origin;
    } catch {
      throw rangeError('service', "an origin such as 'http://api'", options.service);
    }
  }
  const retry = options.retry === false ? { maxAttempts: 1 } : (options.retry ?? {});
  const retryOn = new Set(retry.retryOn ?? DEFAULT_RETRY_ON);
  for (const s of retryOn) intInRange('retry.retryOn[]', s, 100, 599);
  const random = options.random === undefined ? Math.random : validateRandom('random', options.random);
  const was = (options as { now?: unknown }).now;
  if (was !== undefined) throw typeError('now', 'unset: it was replaced by clock (a Clock)', was);
  const clock = options.clock === undefined ? systemClock : validateClock('clock', options.clock);
  const hedge = options.hedge;
  let hedgeCfg: FetchConfig['hedge'];
  if (hedge !== undefined) {
    if (hedge === null || typeof hedge !== 'object') throw typeError('hedge', 'an object { delayMs }', hedge);
    hedgeCfg = {
      delayMs: positive('hedge.delayMs', hedge.delayMs),
      maxAttempts: hedge.maxAttempts === undefined ? 2 : intInRange('hedge.maxAttempts', hedge.maxAttempts, 1, 10),
    };
  }
  const cfg: Omit<FetchConfig, 'balancer' | 'close'> = {
    scheme,
    serviceOrigin,
    perTryTimeoutMs:
      options.perTryTimeoutMs === undefined ? undefined : positive('perTryTimeoutMs', options.perTryTimeoutMs),
    deadlineMs: options.deadlineMs === undefined ? Infinity : positive('deadlineMs', options.deadlineMs),
    maxAttempts: retry.maxAttempts === undefined ? 3 : intInRange('retry.maxAttempts', retry.maxAttempts, 1, 10),
    retryOn,
    backoff: new Backoff(retry, random),
    throttle: options.retryThrottling === false ? null : new RetryThrottle(options.retryThrottling),
    hedge: hedgeCfg,
    passThrough: optionalFunction('passThrough', options.passThrough),
    key: optionalFunction('key', options.key),
    baseFetch: optionalFunction('fetch', options.fetch) ?? globalThis.fetch.bind(globalThis),
    clock,
    onEvent: optionalFunction('onEvent', options.onEvent) ?? (() => {}),
  };
  if (options.balancer !== undefined) {
    const balancer = options.balancer;
    if (balancer === null || typeof balancer !== 'object' || typeof balancer.pick !== 'function')
      throw typeError('balancer', 'an object with pick()', balancer);
    return { ...cfg, balancer, close: () => {} };
  }
  // Built last, once every option is known to be valid: nothing is started and then leaked by a throw.
  return { ...cfg, ...buildStack(options, clock, options.random) };
}

/** A Balancer from `target`/`endpoints`/`policy`, with health checks and outlier detection wired in. */
function buildStack(
  options: CreateFetchOptions,
  clock: Clock,
  random: (() => number) | undefined,
): { balancer: PickSource; close(): void } {
  if (options.target === undefined && options.endpoints === undefined)
    throw typeError('options', 'a balancer, a target or endpoints', undefined);
  const shared = { clock, ...(random !== undefined && { random }) };
  const closers: (() => void)[] = [];
  const close = () => {
    for (const c of closers.splice(0)) c();
  };
  try {
    const built = new Balancer({
      ...shared,
      ...(options.policy !== undefined && { policy: options.policy }),
      ...(options.endpoints !== undefined && { endpoints: options.endpoints }),
    });
    closers.push(() => built.close());
    const checker =
      options.healthCheck === undefined
        ? undefined
        : new HealthChecker({ ...shared, ...options.healthCheck, probe: httpProbe(options.healthCheck) });
    const detector =
      options.outlierDetection === false
        ? undefined
        : new OutlierDetector({ ...shared, ...(options.outlierDetection ?? {}) });
    if (options.target !== undefined) {
      const resolver = connectResolver(options.target, built, { clock });
      closers.unshift(() => resolver.close());
    }
    if (checker !== undefined || detector !== undefined) {
      const wiring = connectHealth(built as unknown as Parameters<typeof connectHealth>[0], {
        clock,
        ...(checker && { checker }),
        ...(detector && { detector }),
      });
      closers.unshift(() => wiring.close());
    }
    return { balancer: built as unknown as PickSource, close };
  } catch (e) {
    close();
    throw e;
  }
}

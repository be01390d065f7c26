// createFetch: a function with the WHATWG `fetch` signature that routes each request to a member picked by
// a Balancer, rewriting only the origin, and learns from every try (the pick handle's `done()` carries
// outcome and latency to Peak-EWMA, least-request and outlier detection).
//
// Retries follow gRPC A6: only idempotent methods (GET, HEAD, OPTIONS, PUT, DELETE, TRACE) unless the caller
// says `idempotent: true`; on network errors, per-try timeouts and `retryOn` statuses (502, 503, 504); each
// try on a member not tried yet; exponential back-off with full jitter; a token-bucket retry budget; and
// `Retry-After`. A non-idempotent request is retried only when the connection was refused (nothing was sent).
// Bodies that are streams are sent once and never retried; buffer them to make them retryable.
// Hedging (optional, idempotent requests): a second try starts after `delayMs` on another member; the first
// acceptable answer wins and the others are aborted.
// Redirects are never followed (`redirect: 'manual'`): following one could leave the member set.
//
//   const fetch = createFetch({ balancer, service: 'http://api', perTryTimeoutMs: 2000 });
//   const res = await fetch('/users/42');
import { Balancer } from '../balancing/balancer.js';
import type { EndpointInput } from '../util/endpoint.js';
import { HealthChecker, type HealthCheckerOptions } from '../health/checker.js';
import { httpProbe, type HttpProbeOptions } from '../health/http-probe.js';
import { connectHealth } from '../health/connect.js';
import { OutlierDetector, type OutlierDetectorOptions } from '../health/outlier.js';
import type { ResolverOptions } from '../discovery/resolver.js';
import { connectResolver } from '../discovery/connect.js';
import { Backoff, RetryThrottle, retryAfterMs, type BackoffOptions, type ThrottleOptions } from './retry.js';
import { memberUrl, originOf, targetPath, UnsafeTargetError } from './url-guard.js';
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
  random?: () => number;
  now?: () => number;
  onEvent?: (ev: FetchEvent) => void;
}

export interface SwitchyardRequestInit extends RequestInit {
  /** Treat this request as idempotent (retryable) whatever its method. */
  idempotent?: boolean;
  /** Routing key for this request (overrides options.key). */
  key?: string;
}

export interface FetchStats {
  requests: number;
  tries: number;
  retries: number;
  hedges: number;
  failures: number;
}

export type BalancedFetch = ((input: string | URL | Request, init?: SwitchyardRequestInit) => Promise<Response>) & {
  stats(): FetchStats;
  /** The Balancer requests are routed by. */
  readonly balancer: PickSource;
  /** Stops what createFetch started (resolver, health checks, outlier detection). */
  close(): void;
};

export class NoMemberError extends Error {
  override name = 'NoMemberError';
}

export class DeadlineExceededError extends Error {
  override name = 'DeadlineExceededError';
}

class TryTimeoutError extends Error {
  override name = 'TimeoutError';
}

const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE', 'TRACE']);
const DEFAULT_RETRY_ON = [502, 503, 504];

type TryResult = { res: Response; member: string } | { err: unknown; member: string };

export function createFetch(options: CreateFetchOptions): BalancedFetch {
  if (options === null || typeof options !== 'object') throw typeError('options', 'an object', options);
  const closers: (() => void)[] = [];
  let balancer: PickSource;
  if (options.balancer !== undefined) {
    balancer = options.balancer;
    if (balancer === null || typeof balancer !== 'object' || typeof balancer.pick !== 'function') {
      throw typeError('balancer', 'an object with pick()', balancer);
    }
  } else {
    if (options.target === undefined && options.endpoints === undefined) {
      throw typeError('options', 'a balancer, a target or endpoints', undefined);
    }
    const built = new Balancer({
      ...(options.policy !== undefined && { policy: options.policy }),
      ...(options.endpoints !== undefined && { endpoints: options.endpoints }),
    });
    balancer = built as unknown as PickSource;
    closers.push(() => built.close());
    if (options.target !== undefined) {
      const resolver = connectResolver(options.target, built);
      closers.unshift(() => resolver.close());
    }
    const checker =
      options.healthCheck === undefined
        ? undefined
        : new HealthChecker({ ...options.healthCheck, probe: httpProbe(options.healthCheck) });
    const detector =
      options.outlierDetection === false ? undefined : new OutlierDetector(options.outlierDetection ?? {});
    if (checker !== undefined || detector !== undefined) {
      const wiring = connectHealth(built as unknown as Parameters<typeof connectHealth>[0], {
        ...(checker && { checker }),
        ...(detector && { detector }),
      });
      closers.unshift(() => wiring.close());
    }
  }
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
  const perTryTimeoutMs =
    options.perTryTimeoutMs === undefined ? undefined : positive('perTryTimeoutMs', options.perTryTimeoutMs);
  const deadlineMs = options.deadlineMs === undefined ? undefined : positive('deadlineMs', options.deadlineMs);
  const retry = options.retry === false ? { maxAttempts: 1 } : (options.retry ?? {});
  const maxAttempts = retry.maxAttempts === undefined ? 3 : intInRange('retry.maxAttempts', retry.maxAttempts, 1, 10);
  const retryOn = new Set(retry.retryOn ?? DEFAULT_RETRY_ON);
  for (const s of retryOn) intInRange('retry.retryOn[]', s, 100, 599);
  const random = options.random ?? Math.random;
  const now = options.now ?? (() => performance.now());
  const backoff = new Backoff(retry, random);
  const throttle = options.retryThrottling === false ? null : new RetryThrottle(options.retryThrottling);
  const hedge = options.hedge;
  if (hedge !== undefined) {
    positive('hedge.delayMs', hedge.delayMs);
    if (hedge.maxAttempts !== undefined) intInRange('hedge.maxAttempts', hedge.maxAttempts, 1, 10);
  }
  const baseFetch = options.fetch ?? globalThis.fetch.bind(globalThis);
  const emitEvent = options.onEvent ?? (() => {});
  const stats: FetchStats = { requests: 0, tries: 0, retries: 0, hedges: 0, failures: 0 };
  const origins = new Map<string, string>(); // host:port → checked origin

  async function balancedFetch(input: string | URL | Request, init: SwitchyardRequestInit = {}): Promise<Response> {
    const request = ++stats.requests;
    const emit = (e: Omit<FetchEvent, 'request'>) => emitEvent({ ...e, request });
    let rawUrl: string;
    let method = init.method;
    let headers = new Headers(init.headers);
    let body: BodyInit | null | undefined = init.body;
    let signal = init.signal ?? undefined;
    if (input instanceof Request) {
      rawUrl = input.url;
      method ??= input.method;
      if (init.headers === undefined) headers = new Headers(input.headers);
      if (body === undefined && input.body !== null) body = await input.arrayBuffer(); // buffered: retryable
      signal ??= input.signal;
    } else if (input instanceof URL) rawUrl = input.href;
    else if (typeof input === 'string') rawUrl = input;
    else throw typeError('input', 'a string, URL or Request', input);
    method = (method ?? 'GET').toUpperCase();
    if (init.redirect !== undefined && init.redirect !== 'manual' && init.redirect !== 'error') {
      throw new UnsafeTargetError(
        `redirect: ${JSON.stringify(init.redirect)} could leave the member set; use 'manual' or 'error'`,
      );
    }
    if (options.passThrough !== undefined && !rawUrl.startsWith('/')) {
      let abs: URL | undefined;
      try {
        abs = new URL(rawUrl);
      } catch {
        abs = undefined;
      }
      if (abs !== undefined && abs.origin !== serviceOrigin && options.passThrough(abs)) return baseFetch(input, init);
    }
    const path = targetPath(rawUrl, serviceOrigin);
    const replayable =
      body === undefined ||
      body === null ||
      typeof body === 'string' ||
      body instanceof ArrayBuffer ||
      ArrayBuffer.isView(body) ||
      body instanceof URLSearchParams ||
      (typeof Blob !== 'undefined' && body instanceof Blob) ||
      (typeof FormData !== 'undefined' && body instanceof FormData);
    const idempotent = init.idempotent ?? IDEMPOTENT.has(method);
    let key = init.key;
    if (key === undefined && options.key !== undefined) {
      key =
        options.key(new Request(new URL(path, serviceOrigin ?? 'http://switchyard.invalid'), { method, headers })) ??
        undefined;
    }
    const start = now();
    const deadlineAt = deadlineMs === undefined ? Infinity : start + deadlineMs;
    const tried = new Set<string>();
    const requestInit: RequestInit = { ...init, method, headers, redirect: init.redirect ?? 'manual' };
    if (body !== undefined) requestInit.body = body;
    if (!replayable) (requestInit as { duplex?: string }).duplex = 'half';
    delete (requestInit as SwitchyardRequestInit).idempotent;
    delete (requestInit as SwitchyardRequestInit).key;

    const pickMember = () => {
      let p = balancer.pick(key === undefined ? { exclude: tried } : { key, exclude: tried });
      if (p.type === 'none' && tried.size > 0) p = balancer.pick(key === undefined ? {} : { key });
      return p;
    };

    /** One try: never throws; ends its pick handle. */
    const tryOnce = async (attempt: number, abortOthers?: AbortSignal): Promise<TryResult> => {
      const p = pickMember();
      if (p.type === 'none') return { err: new NoMemberError(`no member available (${p.reason})`), member: '' };
      const { member, handle } = p;
      tried.add(member.id);
      stats.tries++;
      emit({ type: 'try', member: member.id, attempt });
      const budget = Math.min(perTryTimeoutMs ?? Infinity, deadlineAt - now());
      // An AbortController only when something can abort this try: passing a signal costs undici ~20 µs.
      const ctl =
        signal !== undefined || abortOthers !== undefined || Number.isFinite(budget) ? new AbortController() : null;
      const onCaller = () => ctl!.abort(signal!.reason);
      signal?.addEventListener('abort', onCaller, { once: true });
      const onOther = () => ctl!.abort(new DOMException('hedge lost', 'AbortError'));
      abortOthers?.addEventListener('abort', onOther, { once: true });
      const timer = Number.isFinite(budget)
        ? setTimeout(
            () => ctl!.abort(new TryTimeoutError(`try timed out after ${Math.round(budget)} ms`)),
            Math.max(0, budget),
          )
        : undefined;
      const t0 = now();
      try {
        const hostPort = `${member.host}:${member.port}`;
        let origin = origins.get(hostPort);
        if (origin === undefined) origins.set(hostPort, (origin = originOf(scheme, member.host, member.port)));
        const url = memberUrl(origin, path);
        const res = await baseFetch(url, ctl === null ? requestInit : { ...requestInit, signal: ctl.signal });
        handle.done({ ok: res.status < 500, rttMs: now() - t0, status: res.status });
        return { res, member: member.id };
      } catch (err) {
        const reason = ctl?.signal.aborted ? ctl.signal.reason : err;
        handle.done({ ok: false, rttMs: now() - t0, error: reason });
        return { err: reason, member: member.id };
      } finally {
        if (timer !== undefined) clearTimeout(timer);
        signal?.removeEventListener('abort', onCaller);
        abortOthers?.removeEventListener('abort', onOther);
      }
    };

    const connectionRefused = (err: unknown) => {
      const cause = (err as { cause?: { code?: string } } | null)?.cause;
      return cause?.code === 'ECONNREFUSED';
    };
    const retryableError = (err: unknown) =>
      !(err instanceof NoMemberError) &&
      !(err instanceof UnsafeTargetError) &&
      (idempotent ? true : connectionRefused(err)) &&
      replayable;
    const fail = (err: unknown): never => {
      stats.failures++;
      emit({ type: 'give-up', attempt: 0, error: err });
      throw err;
    };

    if (hedge !== undefined && idempotent && replayable) return hedged();

    let last: TryResult | undefined;
    for (let attempt = 1; ; attempt++) {
      if (signal?.aborted) return fail(signal.reason);
      if (now() >= deadlineAt)
        return fail(new DeadlineExceededError(`deadline of ${deadlineMs} ms exceeded after ${attempt - 1} tries`));
      last = await tryOnce(attempt);
      if (signal?.aborted) {
        if ('res' in last) await last.res.body?.cancel().catch(() => {});
        return fail(signal.reason);
      }
      let wait: number | undefined;
      if ('res' in last) {
        const { res } = last;
        if (!retryOn.has(res.status)) {
          throttle?.onSuccess();
          return res;
        }
        throttle?.onFailure();
        if (!idempotent || !replayable) return res;
        wait = Math.max(backoff.delayMs(attempt), retryAfterMs(res.headers.get('retry-after'), Date.now()) ?? 0);
        if (attempt >= maxAttempts || !(throttle?.allowRetry() ?? true) || now() + wait >= deadlineAt) return res;
        await res.body?.cancel().catch(() => {});
      } else {
        if (!(last.err instanceof NoMemberError)) throttle?.onFailure();
        if (now() >= deadlineAt && !(signal?.aborted ?? false)) {
          return fail(new DeadlineExceededError(`deadline of ${deadlineMs} ms exceeded after ${attempt} tries`));
        }
        if (!retryableError(last.err) || attempt >= maxAttempts || !(throttle?.allowRetry() ?? true))
          return fail(last.err);
        wait = backoff.delayMs(attempt);
        if (now() + wait >= deadlineAt)
          return fail(new DeadlineExceededError(`deadline of ${deadlineMs} ms would pass before the next try`));
      }
      stats.retries++;
      emit({
        type: 'retry',
        member: last.member,
        attempt: attempt + 1,
        delayMs: wait,
        ...('res' in last ? { status: last.res.status } : { error: last.err }),
      });
      try {
        await sleep(wait, signal);
      } catch {
        return fail(signal!.reason);
      }
    }

    async function hedged(): Promise<Response> {
      const n = hedge!.maxAttempts ?? 2;
      const losers = new AbortController();
      const running = new Set<Promise<TryResult>>();
      let started = 0;
      let lastResult: TryResult | undefined;
      const launch = () => {
        started++;
        if (started > 1) {
          stats.hedges++;
          emit({ type: 'hedge', attempt: started });
        }
        const p = tryOnce(started, losers.signal);
        running.add(p);
        void p.then(() => running.delete(p));
        return p;
      };
      launch();
      while (running.size > 0) {
        const canHedge = started < n && (throttle?.allowRetry() ?? true) && now() < deadlineAt;
        const delay = canHedge
          ? sleep(hedge!.delayMs, signal).then(
              () => 'hedge' as const,
              () => 'aborted' as const,
            )
          : new Promise<never>(() => {});
        const winner = await Promise.race([...running, delay]);
        if (winner === 'aborted') {
          losers.abort();
          return fail(signal!.reason);
        }
        if (winner === 'hedge') {
          launch();
          continue;
        }
        lastResult = winner;
        const acceptable = 'res' in winner && !retryOn.has(winner.res.status);
        if (acceptable) {
          throttle?.onSuccess();
          losers.abort();
          return winner.res;
        }
        if (!('err' in winner && winner.err instanceof NoMemberError)) throttle?.onFailure();
        if (signal?.aborted) {
          losers.abort();
          return fail(signal.reason);
        }
        if ('res' in winner && running.size > 0) await winner.res.body?.cancel().catch(() => {});
        if (running.size === 0 && started < n && (throttle?.allowRetry() ?? true) && now() < deadlineAt) launch();
      }
      if (lastResult !== undefined && 'res' in lastResult) return lastResult.res;
      return fail(lastResult === undefined ? new NoMemberError('no try was made') : lastResult.err);
    }
  }

  return Object.assign(balancedFetch, {
    stats: () => ({ ...stats }),
    balancer,
    close: () => {
      for (const c of closers.splice(0)) c();
    },
  });
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(signal!.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

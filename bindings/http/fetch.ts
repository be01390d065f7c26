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
// Deadlines, per-try timeouts, back-off and hedging delays run on the injected `clock` (util/clock.ts) as
// ordinary (not background) timers: the caller awaits them. Options, their validation and the Balancer built
// from them when none is given: fetch-options.ts.
//
//   const fetch = createFetch({ balancer, service: 'http://api', perTryTimeoutMs: 2000 });
//   const res = await fetch('/users/42');
import { typeError } from '../util/validate.js';
import {
  parseFetchOptions,
  type CreateFetchOptions,
  type FetchEvent,
  type FetchStats,
  type PickSource,
} from './fetch-options.js';
import { retryAfterMs, sleepMs } from './retry.js';
import { memberUrl, originOf, targetPath, UnsafeTargetError } from './url-guard.js';

export type {
  CreateFetchOptions,
  FetchEvent,
  FetchMember,
  FetchOutcome,
  FetchPick,
  FetchStats,
  HedgeOptions,
  PickSource,
  RetryOptions,
} from './fetch-options.js';

export interface SwitchyardRequestInit extends RequestInit {
  /** Treat this request as idempotent (retryable) whatever its method. */
  idempotent?: boolean;
  /** Routing key for this request (overrides options.key). */
  key?: string;
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

type TryResult = { res: Response; member: string } | { err: unknown; member: string };

export function createFetch(options: CreateFetchOptions): BalancedFetch {
  const cfg = parseFetchOptions(options);
  const { balancer, scheme, serviceOrigin, perTryTimeoutMs, deadlineMs, maxAttempts, retryOn } = cfg;
  const { backoff, throttle, hedge, baseFetch, clock } = cfg;
  const stats: FetchStats = { requests: 0, tries: 0, retries: 0, hedges: 0, failures: 0 };
  const origins = new Map<string, string>(); // host:port → checked origin

  async function balancedFetch(input: string | URL | Request, init: SwitchyardRequestInit = {}): Promise<Response> {
    const request = ++stats.requests;
    const emit = (e: Omit<FetchEvent, 'request'>) => cfg.onEvent({ ...e, request });
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
    if (cfg.passThrough !== undefined && !rawUrl.startsWith('/')) {
      let abs: URL | undefined;
      try {
        abs = new URL(rawUrl);
      } catch {
        abs = undefined;
      }
      if (abs !== undefined && abs.origin !== serviceOrigin && cfg.passThrough(abs)) return baseFetch(input, init);
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
    if (key === undefined && cfg.key !== undefined) {
      key =
        cfg.key(new Request(new URL(path, serviceOrigin ?? 'http://switchyard.invalid'), { method, headers })) ??
        undefined;
    }
    const deadlineAt = clock.now() + deadlineMs;
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
      const budget = Math.min(perTryTimeoutMs ?? Infinity, deadlineAt - clock.now());
      // An AbortController only when something can abort this try: passing a signal costs undici ~20 µs.
      const ctl =
        signal !== undefined || abortOthers !== undefined || Number.isFinite(budget) ? new AbortController() : null;
      const onCaller = () => ctl!.abort(signal!.reason);
      signal?.addEventListener('abort', onCaller, { once: true });
      const onOther = () => ctl!.abort(new DOMException('hedge lost', 'AbortError'));
      abortOthers?.addEventListener('abort', onOther, { once: true });
      const timer = Number.isFinite(budget)
        ? clock.setTimeout(
            () => ctl!.abort(new TryTimeoutError(`try timed out after ${Math.round(budget)} ms`)),
            Math.max(0, budget),
          )
        : undefined;
      const t0 = clock.now();
      try {
        const hostPort = `${member.host}:${member.port}`;
        let origin = origins.get(hostPort);
        if (origin === undefined) origins.set(hostPort, (origin = originOf(scheme, member.host, member.port)));
        const url = memberUrl(origin, path);
        const res = await baseFetch(url, ctl === null ? requestInit : { ...requestInit, signal: ctl.signal });
        handle.done({ ok: res.status < 500, rttMs: clock.now() - t0, status: res.status });
        return { res, member: member.id };
      } catch (err) {
        const reason = ctl?.signal.aborted ? ctl.signal.reason : err;
        handle.done({ ok: false, rttMs: clock.now() - t0, error: reason });
        return { err: reason, member: member.id };
      } finally {
        if (timer !== undefined) clock.clearTimeout(timer);
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

    if (hedge !== undefined && idempotent && replayable) return hedged(hedge);

    let last: TryResult | undefined;
    for (let attempt = 1; ; attempt++) {
      if (signal?.aborted) return fail(signal.reason);
      if (clock.now() >= deadlineAt)
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
        // Retry-After may be an HTTP date: compared with the wall clock, not the monotonic one.
        wait = Math.max(backoff.delayMs(attempt), retryAfterMs(res.headers.get('retry-after'), Date.now()) ?? 0);
        if (attempt >= maxAttempts || !(throttle?.allowRetry() ?? true) || clock.now() + wait >= deadlineAt) return res;
        await res.body?.cancel().catch(() => {});
      } else {
        if (!(last.err instanceof NoMemberError)) throttle?.onFailure();
        if (clock.now() >= deadlineAt && !(signal?.aborted ?? false)) {
          return fail(new DeadlineExceededError(`deadline of ${deadlineMs} ms exceeded after ${attempt} tries`));
        }
        if (!retryableError(last.err) || attempt >= maxAttempts || !(throttle?.allowRetry() ?? true))
          return fail(last.err);
        wait = backoff.delayMs(attempt);
        if (clock.now() + wait >= deadlineAt)
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
        await sleepMs(clock, wait, signal);
      } catch {
        return fail(signal!.reason);
      }
    }

    async function hedged(h: { delayMs: number; maxAttempts: number }): Promise<Response> {
      const n = h.maxAttempts;
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
        const canHedge = started < n && (throttle?.allowRetry() ?? true) && clock.now() < deadlineAt;
        const delay = canHedge
          ? sleepMs(clock, h.delayMs, signal).then(
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
        if (running.size === 0 && started < n && (throttle?.allowRetry() ?? true) && clock.now() < deadlineAt) launch();
      }
      if (lastResult !== undefined && 'res' in lastResult) return lastResult.res;
      return fail(lastResult === undefined ? new NoMemberError('no try was made') : lastResult.err);
    }
  }

  return Object.assign(balancedFetch, {
    stats: () => ({ ...stats }),
    balancer,
    close: () => cfg.close(),
  });
}

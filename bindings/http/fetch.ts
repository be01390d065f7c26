// createFetch: a function with the WHATWG `fetch` signature that routes each request to a member picked by
// a Balancer, rewriting only the origin, and learns from every try (the pick handle's `done()` carries
// outcome and latency to Peak-EWMA, least-request and outlier detection).
//
// No request fails because discovery has not answered yet: when no member can be picked and the Balancer
// has `pickAsync()`, the try waits for one (the first resolution, members re-added, first health results)
// within the request's deadline, its signal and `readyTimeoutMs`, as grpc-js queues picks until the first
// resolution; a resolver failure before any list fails the request at once with the resolver's error.
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
// Observers: `onEvent` / `on('event')` (FetchEvent) and `instrumentation` (per-request and per-try scopes, for
// tracing). The hot path allocates nothing for them when there are none: one object per request (Call) holds
// the request's state, and its methods are shared, so no closure is made per request.
//
//   const fetch = createFetch({ balancer, service: 'http://api', perTryTimeoutMs: 2000 });
//   const res = await fetch('/users/42');
import type { HealthChecker } from '../health/checker.js';
import type { OutlierDetector } from '../health/outlier.js';
import { rangeError, typeError } from '../util/validate.js';
import type { ConnectedResolver } from '../discovery/connect.js';
import {
  COMPLETE_STACK,
  parseFetchOptionsWith,
  type StackParts,
  type CreateFetchOptions,
  type FetchConfig,
  type FetchEvent,
  type FetchMember,
  type FetchPick,
  type FetchStats,
  type PickSource,
  type RequestScope,
  type TryScope,
} from './fetch-options.js';
import { IDEMPOTENT_METHODS, retryAfterMs, sleepMs } from './retry.js';
import { originOf, targetPath, UnsafeTargetError } from './url-guard.js';

export type {
  CreateFetchOptions,
  FetchEvent,
  FetchInstrumentation,
  FetchMember,
  FetchOutcome,
  FetchPick,
  FetchRequestInfo,
  FetchRequestResult,
  FetchStats,
  FetchTryInfo,
  FetchTryResult,
  HedgeOptions,
  PickSource,
  PickWaitOptions,
  RequestScope,
  RetryOptions,
  TryScope,
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
  /** The connected resolver createFetch built from `target` (undefined otherwise). */
  readonly resolver?: ConnectedResolver;
  /** The health checker createFetch built from `healthCheck` (undefined otherwise). */
  readonly checker?: HealthChecker;
  /** The outlier detector createFetch built (undefined with `outlierDetection: false` or a given balancer). */
  readonly detector?: OutlierDetector;
  /** Adds an event listener (the same events as `onEvent`); returns the function that removes it. */
  on(event: 'event', fn: (e: FetchEvent) => void): () => void;
  /** Stops what createFetch started (resolver, health checks, outlier detection). */
  close(): void;
};

/** No member could be picked and the PickSource cannot wait for one (it has no `pickAsync`). */
export class NoMemberError extends Error {
  override name = 'NoMemberError';
}

export class DeadlineExceededError extends Error {
  override name = 'DeadlineExceededError';
}

class TryTimeoutError extends Error {
  override name = 'TimeoutError';
}

/** Transparent retries (refused connections) per request, on top of maxAttempts. */
const MAX_TRANSPARENT_RETRIES = 10;

/** The connection was refused: nothing was sent. */
function refused(err: unknown): boolean {
  return (err as { cause?: { code?: string } } | null)?.cause?.code === 'ECONNREFUSED';
}

type Picked = Extract<FetchPick, { type: 'pick' }>;
/** A try's result; `noMember`: no member was found (nothing was sent, not retried). */
type TryResult =
  { res: Response; status: number; member: string } | { err: unknown; member: string; noMember?: boolean };

/** An observer's exception must not break a request: it is rethrown on its own (an uncaught error). */
function report(err: unknown): void {
  queueMicrotask(() => {
    throw err;
  });
}

/** What every request of one createFetch shares. */
class Shared {
  readonly stats: FetchStats = { requests: 0, tries: 0, retries: 0, hedges: 0, failures: 0 };
  readonly listeners: ((e: FetchEvent) => void)[] = [];
  /** Whether anyone hears events (onEvent or a listener): events are not even built otherwise. */
  declare observed: boolean;
  private readonly byMember = new WeakMap<FetchMember, string>();
  private readonly byHostPort = new Map<string, string>();

  declare readonly cfg: FetchConfig;
  /** The Balancer reads our clock: a pick's `startedAt` is the try's start. */
  declare readonly pickClock: boolean;

  constructor(cfg: FetchConfig) {
    this.cfg = cfg;
    this.observed = cfg.onEvent !== undefined;
    this.pickClock = (cfg.balancer as { clock?: unknown }).clock === cfg.clock;
  }

  emit(e: FetchEvent): void {
    const on = this.cfg.onEvent;
    if (on !== undefined) {
      try {
        on(e);
      } catch (err) {
        report(err);
      }
    }
    const ls = this.listeners;
    if (ls.length === 0) return;
    for (const fn of ls.length === 1 ? ls : ls.slice()) {
      try {
        fn(e);
      } catch (err) {
        report(err);
      }
    }
  }

  on(event: 'event', fn: (e: FetchEvent) => void): () => void {
    if (event !== 'event') throw rangeError('event', "'event'", event);
    if (typeof fn !== 'function') throw typeError('listener', 'a function', fn);
    this.listeners.push(fn);
    this.observed = true;
    return () => {
      const i = this.listeners.indexOf(fn);
      if (i >= 0) this.listeners.splice(i, 1);
      this.observed = this.cfg.onEvent !== undefined || this.listeners.length > 0;
    };
  }

  /** The checked origin of a member (cached by member object, then by host:port). */
  originOf(m: FetchMember): string {
    let o = this.byMember.get(m);
    if (o !== undefined) return o;
    const hostPort = `${m.host}:${m.port}`;
    o = this.byHostPort.get(hostPort);
    if (o === undefined) this.byHostPort.set(hostPort, (o = originOf(this.cfg.scheme, m.host, m.port)));
    this.byMember.set(m, o);
    return o;
  }
}

/** One request: its parsed input and its state across tries. */
class Call {
  declare readonly request: number;
  declare readonly rawUrl: string;
  declare readonly method: string;
  /** The init sent on each try (signal added per try when something can abort it). */
  declare readonly init: RequestInit;
  readonly path: string = '';
  declare readonly signal: AbortSignal | undefined;
  readonly idempotent: boolean = false;
  readonly replayable: boolean = true;
  declare readonly key: string | undefined;
  readonly deadlineAt: number = Infinity;
  /** A Request input whose body is buffered before the first try. */
  readonly bodyOf: Request | undefined;
  /** The caller's input, sent as given (passThrough). */
  readonly passInput: string | URL | Request | undefined;
  readonly passInit: SwitchyardRequestInit | undefined;
  /** The headers sent, when instrumentation may set some (one per request; hedges copy them). */
  readonly headers: Headers | undefined;
  scope: RequestScope | undefined;
  /** Ids of the members tried, once a second try is made (the first is `first`). */
  tried: Set<string> | undefined;
  first = '';
  tries = 0;
  retries = 0;
  throttled = false;
  /** Tries refused at connect time and retried transparently (gRFC A6). */
  transparent = 0;

  declare readonly sh: Shared;

  constructor(sh: Shared, input: string | URL | Request, init: SwitchyardRequestInit | undefined) {
    this.sh = sh;
    const cfg = sh.cfg;
    this.request = ++sh.stats.requests;
    let rawUrl: string;
    let method = init?.method;
    let headers: HeadersInit | undefined = init?.headers;
    const body: BodyInit | null | undefined = init?.body;
    let signal = init?.signal ?? undefined;
    if (typeof input === 'string') rawUrl = input;
    else if (input instanceof URL) rawUrl = input.href;
    else if (input instanceof Request) {
      rawUrl = input.url;
      method ??= input.method;
      headers ??= input.headers;
      if (body === undefined && input.body !== null) this.bodyOf = input; // buffered: retryable
      signal ??= input.signal;
    } else throw typeError('input', 'a string, URL or Request', input);
    this.rawUrl = rawUrl;
    this.method = method = method === undefined ? 'GET' : method.toUpperCase();
    this.signal = signal;
    const redirect = init?.redirect;
    if (redirect !== undefined && redirect !== 'manual' && redirect !== 'error') {
      throw new UnsafeTargetError(
        `redirect: ${JSON.stringify(redirect)} could leave the member set; use 'manual' or 'error'`,
      );
    }
    if (cfg.passThrough !== undefined && !rawUrl.startsWith('/')) {
      let abs: URL | undefined;
      try {
        abs = new URL(rawUrl);
      } catch {
        abs = undefined;
      }
      if (abs !== undefined && abs.origin !== cfg.serviceOrigin && cfg.passThrough(abs)) {
        this.passInput = input;
        this.passInit = init;
        this.init = {};
        return;
      }
    }
    this.path = targetPath(rawUrl, cfg.serviceOrigin);
    this.replayable =
      body === undefined ||
      body === null ||
      typeof body === 'string' ||
      body instanceof ArrayBuffer ||
      ArrayBuffer.isView(body) ||
      body instanceof URLSearchParams ||
      (typeof Blob !== 'undefined' && body instanceof Blob) ||
      (typeof FormData !== 'undefined' && body instanceof FormData);
    this.idempotent = init?.idempotent ?? IDEMPOTENT_METHODS.has(method);
    let key = init?.key;
    if (key === undefined && cfg.key !== undefined) {
      const url = new URL(this.path, cfg.serviceOrigin ?? 'http://switchyard.invalid');
      key = cfg.key(new Request(url, headers === undefined ? { method } : { method, headers })) ?? undefined;
    }
    this.key = key;
    if (cfg.deadlineMs !== Infinity) this.deadlineAt = cfg.clock.now() + cfg.deadlineMs;
    const instrumentation = cfg.instrumentation;
    if (instrumentation !== undefined) this.headers = headers = new Headers(headers);
    if (init === undefined && headers === undefined && this.bodyOf === undefined) {
      // the common case: a plain GET by URL or path
      this.init = { redirect: 'manual' };
      if (method !== 'GET') this.init.method = method;
    } else {
      // eslint-disable-next-line @typescript-eslint/no-unused-vars
      const { idempotent, key: _key, ...rest } = init ?? {};
      const out: RequestInit = rest;
      out.method = method;
      out.redirect = redirect ?? 'manual';
      if (headers !== undefined) out.headers = headers;
      if (body !== undefined) out.body = body;
      if (!this.replayable) (out as { duplex?: string }).duplex = 'half';
      this.init = out;
    }
    if (instrumentation !== undefined) {
      try {
        const policy = (cfg.balancer as { policy?: { name?: unknown } }).policy?.name;
        this.scope =
          instrumentation.request({
            method,
            url: rawUrl,
            path: this.path,
            service: cfg.serviceName,
            policy: typeof policy === 'string' ? policy : '',
          }) ?? undefined;
      } catch (err) {
        report(err);
      }
    }
  }

  /** One try: picks (waiting for a member when none can be picked now), sends, ends its pick handle. Never throws. */
  tryOnce(attempt: number, hedge: boolean, losers: AbortSignal | undefined): Promise<TryResult> {
    const balancer = this.sh.cfg.balancer;
    const key = this.key;
    const ctx = key === undefined ? undefined : { key };
    let p: FetchPick;
    if (this.tries === 0) p = balancer.pick(ctx);
    else {
      const exclude = (this.tried ??= new Set([this.first]));
      p = balancer.pick(key === undefined ? { exclude } : { key, exclude });
      if (p.type === 'none') p = balancer.pick(ctx);
    }
    return p.type === 'pick' ? this.send(p, attempt, hedge, losers) : this.waitAndSend(p, attempt, hedge, losers);
  }

  /** No member now: waits for one with the Balancer's pickAsync (NoMemberError without it), then sends. */
  private async waitAndSend(
    none: Extract<FetchPick, { type: 'none' }>,
    attempt: number,
    hedge: boolean,
    losers: AbortSignal | undefined,
  ): Promise<TryResult> {
    const { balancer, clock, readyTimeoutMs } = this.sh.cfg;
    if (balancer.pickAsync === undefined)
      return { err: new NoMemberError(`no member available (${none.reason})`), member: '', noMember: true };
    const left = this.deadlineAt === Infinity ? Infinity : Math.max(0, this.deadlineAt - clock.now());
    // a hedge's wait also ends when another try wins (losers is aborted by the caller's signal too)
    const signal = losers ?? this.signal;
    let p: Picked;
    try {
      p = await balancer.pickAsync(this.key === undefined ? undefined : { key: this.key }, {
        timeoutMs: Math.min(readyTimeoutMs, left),
        ...(signal !== undefined && { signal }),
      });
    } catch (err) {
      return { err, member: '', noMember: true };
    }
    if (signal?.aborted === true) {
      // served in the same tick as the abort: nothing is sent, the member is not blamed
      p.handle.done({ ok: true });
      return { err: signal.reason, member: p.member.id, noMember: true };
    }
    return this.send(p, attempt, hedge, losers);
  }

  private async send(p: Picked, attempt: number, hedge: boolean, losers: AbortSignal | undefined): Promise<TryResult> {
    const sh = this.sh;
    const cfg = sh.cfg;
    const clock = cfg.clock;
    const { member, handle } = p;
    if (this.tries === 0) this.first = member.id;
    else (this.tried ??= new Set([this.first])).add(member.id);
    this.tries++;
    sh.stats.tries++;
    if (sh.observed) sh.emit({ type: 'try', request: this.request, member: member.id, attempt });
    let init = this.init;
    let tryScope: TryScope | undefined;
    if (this.scope !== undefined) {
      // concurrent hedges each get their own copy of the headers
      const headers = hedge ? new Headers(this.headers) : this.headers!;
      if (hedge) init = { ...init, headers };
      try {
        tryScope = this.scope.try({ member, attempt, hedge, headers }) ?? undefined;
      } catch (err) {
        report(err);
      }
    }
    const signal = this.signal;
    const perTry = cfg.perTryTimeoutMs;
    const budget =
      this.deadlineAt === Infinity ? (perTry ?? Infinity) : Math.min(perTry ?? Infinity, this.deadlineAt - clock.now());
    // An AbortController only when something can abort this try: passing a signal costs undici ~20 µs.
    let ctl: AbortController | undefined;
    let onCaller: (() => void) | undefined;
    let onOther: (() => void) | undefined;
    let timer: unknown;
    if (signal !== undefined || losers !== undefined || budget !== Infinity) {
      const c = (ctl = new AbortController());
      init = { ...init, signal: c.signal };
      if (signal !== undefined) {
        onCaller = () => c.abort(signal.reason);
        signal.addEventListener('abort', onCaller, { once: true });
      }
      if (losers !== undefined) {
        onOther = () => c.abort(new DOMException('hedge lost', 'AbortError'));
        losers.addEventListener('abort', onOther, { once: true });
      }
      if (budget !== Infinity) {
        timer = clock.setTimeout(
          () => c.abort(new TryTimeoutError(`try timed out after ${Math.round(budget)} ms`)),
          Math.max(0, budget),
        );
      }
    }
    // the pick's clock reading, saving one; NaN (no RTT measured) when the Balancer needs none and no scope does
    const at = sh.pickClock ? p.startedAt : undefined;
    const t0 = at !== undefined && (at === at || tryScope === undefined) ? at : clock.now();
    try {
      // a targetPath result joined to an origin stays on it (url-guard.ts)
      const res = await cfg.baseFetch(sh.originOf(member) + this.path, init);
      const status = res.status;
      const rttMs = t0 === t0 ? clock.now() - t0 : undefined;
      handle.done({ ok: status < 500, rttMs, status });
      if (tryScope !== undefined) endTry(tryScope, status, undefined, rttMs!);
      return { res, status, member: member.id };
    } catch (err) {
      const reason = ctl?.signal.aborted === true ? ctl.signal.reason : err;
      const rttMs = t0 === t0 ? clock.now() - t0 : undefined;
      handle.done({ ok: false, rttMs, error: reason });
      if (tryScope !== undefined) endTry(tryScope, undefined, reason, rttMs!);
      return { err: reason, member: member.id };
    } finally {
      if (ctl !== undefined) {
        if (timer !== undefined) clock.clearTimeout(timer);
        if (onCaller !== undefined) signal!.removeEventListener('abort', onCaller);
        if (onOther !== undefined) losers!.removeEventListener('abort', onOther);
      }
    }
  }

  /** Whether the retry budget allows one more try; the first refusal is a 'throttled' event. */
  private budgetAllows(): boolean {
    const throttle = this.sh.cfg.throttle;
    if (throttle === null || throttle.allowRetry()) return true;
    if (!this.throttled) {
      this.throttled = true;
      if (this.sh.observed) this.sh.emit({ type: 'throttled', request: this.request, attempt: this.tries + 1 });
    }
    return false;
  }

  private retryableError(err: unknown): boolean {
    if (err instanceof UnsafeTargetError || !this.replayable) return false;
    return this.idempotent || refused(err);
  }

  /** The request returns `res` (a try's result: its status read once, undici's getter costs). */
  private ok({ res, status }: { res: Response; status: number }): Response {
    if (this.scope !== undefined) endRequest(this.scope, status, undefined, this.tries, this.retries);
    if (this.sh.observed) {
      this.sh.emit({
        type: 'request-end',
        request: this.request,
        attempt: this.tries,
        ok: status < 500,
        status,
        tries: this.tries,
      });
    }
    return res;
  }

  /** The request fails with `err`. */
  private fail(err: unknown): never {
    const sh = this.sh;
    sh.stats.failures++;
    if (this.scope !== undefined) endRequest(this.scope, undefined, err, this.tries, this.retries);
    if (sh.observed) {
      sh.emit({ type: 'give-up', request: this.request, attempt: 0, error: err });
      sh.emit({
        type: 'request-end',
        request: this.request,
        attempt: this.tries,
        ok: false,
        error: err,
        tries: this.tries,
      });
    }
    throw err;
  }

  async run(): Promise<Response> {
    const sh = this.sh;
    const cfg = sh.cfg;
    if (this.passInput !== undefined) return cfg.baseFetch(this.passInput, this.passInit);
    if (this.bodyOf !== undefined) {
      try {
        this.init.body = await this.bodyOf.arrayBuffer();
      } catch (err) {
        return this.fail(err);
      }
    }
    if (cfg.hedge !== undefined && this.idempotent && this.replayable) return this.hedged(cfg.hedge);
    const { clock, retryOn, backoff, throttle, maxAttempts, deadlineMs } = cfg;
    const signal = this.signal;
    const deadlineAt = this.deadlineAt;
    for (let attempt = 1; ; attempt++) {
      if (signal?.aborted) return this.fail(signal.reason);
      if (deadlineAt !== Infinity && clock.now() >= deadlineAt)
        return this.fail(new DeadlineExceededError(`deadline of ${deadlineMs} ms exceeded after ${attempt - 1} tries`));
      const last = await this.tryOnce(attempt, false, undefined);
      if (signal?.aborted) {
        if ('res' in last) await last.res.body?.cancel().catch(() => {});
        return this.fail(signal.reason);
      }
      let wait: number;
      if ('res' in last) {
        const { res } = last;
        if (!retryOn.has(last.status)) {
          throttle?.onSuccess();
          return this.ok(last);
        }
        throttle?.onFailure();
        if (!this.idempotent || !this.replayable) return this.ok(last);
        // Retry-After may be an HTTP date: compared with the wall clock, not the monotonic one.
        const counted = attempt - this.transparent; // transparent retries are not among the maxAttempts
        wait = Math.max(backoff.delayMs(counted), retryAfterMs(res.headers.get('retry-after'), Date.now()) ?? 0);
        if (counted >= maxAttempts || !this.budgetAllows() || clock.now() + wait >= deadlineAt) return this.ok(last);
        await res.body?.cancel().catch(() => {});
      } else {
        const noMember = last.noMember === true;
        // gRFC A6 transparent retry: a refused connection never reached the server, so it is neither a failure
        // for the retry budget nor one of the maxAttempts. Once per member (a member refusing again is counted:
        // no hammering a dead one), at most MAX_TRANSPARENT_RETRIES, within the deadline.
        const firstOnMember = (this.tried?.size ?? 1) === this.tries;
        const transparent =
          !noMember &&
          firstOnMember &&
          this.replayable &&
          this.transparent < MAX_TRANSPARENT_RETRIES &&
          refused(last.err);
        if (!noMember && !transparent) throttle?.onFailure();
        if (deadlineAt !== Infinity && clock.now() >= deadlineAt) {
          return this.fail(
            new DeadlineExceededError(
              `deadline of ${deadlineMs} ms exceeded after ${this.tries} tries`,
              noMember ? { cause: last.err } : undefined,
            ),
          );
        }
        if (transparent) {
          this.transparent++; // the next try has a number of its own but is not counted against maxAttempts
          wait = 0;
        } else {
          const counted = attempt - this.transparent;
          if (noMember || !this.retryableError(last.err) || counted >= maxAttempts || !this.budgetAllows())
            return this.fail(last.err);
          wait = backoff.delayMs(counted);
        }
        if (clock.now() + wait >= deadlineAt)
          return this.fail(new DeadlineExceededError(`deadline of ${deadlineMs} ms would pass before the next try`));
      }
      this.retries++;
      sh.stats.retries++;
      if (sh.observed) {
        sh.emit({
          type: 'retry',
          request: this.request,
          member: last.member,
          attempt: attempt + 1,
          delayMs: wait,
          ...('res' in last ? { status: last.status } : { error: last.err }),
        });
      }
      try {
        await sleepMs(clock, wait, signal);
      } catch {
        return this.fail(signal!.reason);
      }
    }
  }

  private async hedged(h: { delayMs: number; maxAttempts: number }): Promise<Response> {
    const sh = this.sh;
    const { clock, throttle, retryOn } = sh.cfg;
    const signal = this.signal;
    const n = h.maxAttempts;
    const losers = new AbortController();
    // the caller's abort also ends tries still waiting for a member
    const onCaller = () => losers.abort(signal!.reason);
    signal?.addEventListener('abort', onCaller, { once: true });
    const running = new Set<Promise<TryResult>>();
    let started = 0;
    let lastResult: TryResult | undefined;
    const launch = () => {
      started++;
      if (started > 1) {
        sh.stats.hedges++;
        if (sh.observed) sh.emit({ type: 'hedge', request: this.request, attempt: started });
      }
      const p = this.tryOnce(started, started > 1, losers.signal);
      running.add(p);
      void p.then(() => running.delete(p));
      return p;
    };
    try {
      launch();
      while (running.size > 0) {
        const canHedge = started < n && this.budgetAllows() && clock.now() < this.deadlineAt;
        const delay = canHedge
          ? sleepMs(clock, h.delayMs, signal).then(
              () => 'hedge' as const,
              () => 'aborted' as const,
            )
          : new Promise<never>(() => {});
        const winner = await Promise.race([...running, delay]);
        if (winner === 'aborted') {
          losers.abort();
          return this.fail(signal!.reason);
        }
        if (winner === 'hedge') {
          launch();
          continue;
        }
        lastResult = winner;
        const acceptable = 'res' in winner && !retryOn.has(winner.status);
        if (acceptable) {
          throttle?.onSuccess();
          losers.abort();
          return this.ok(winner);
        }
        if (!('err' in winner && winner.noMember === true)) throttle?.onFailure();
        if (signal?.aborted) {
          losers.abort();
          return this.fail(signal.reason);
        }
        if ('res' in winner && running.size > 0) await winner.res.body?.cancel().catch(() => {});
        if (running.size === 0 && started < n && this.budgetAllows() && clock.now() < this.deadlineAt) launch();
      }
      if (lastResult !== undefined && 'res' in lastResult) return this.ok(lastResult);
      return this.fail(lastResult === undefined ? new NoMemberError('no try was made') : lastResult.err);
    } finally {
      signal?.removeEventListener('abort', onCaller);
    }
  }
}

function endTry(scope: TryScope, status: number | undefined, error: unknown, rttMs: number): void {
  try {
    scope.end(status === undefined ? { error, rttMs } : { status, rttMs });
  } catch (err) {
    report(err);
  }
}

function endRequest(
  scope: RequestScope,
  status: number | undefined,
  error: unknown,
  tries: number,
  retries: number,
): void {
  try {
    scope.end(status === undefined ? { error, tries, retries } : { status, tries, retries });
  } catch (err) {
    report(err);
  }
}

/** A balanced fetch; its stack (when no `balancer` is given) knows every built-in policy and scheme. */
export function createFetch(options: CreateFetchOptions): BalancedFetch {
  return createFetchWith(COMPLETE_STACK, options);
}

/** createFetch with its stack built from `parts` (fetch-options.ts: COMPLETE_STACK, or LITE_STACK for switchyard/lite). */
export function createFetchWith(parts: StackParts, options: CreateFetchOptions): BalancedFetch {
  const cfg = parseFetchOptionsWith(parts, options);
  const sh = new Shared(cfg);

  function balancedFetch(input: string | URL | Request, init?: SwitchyardRequestInit): Promise<Response> {
    let call: Call;
    try {
      call = new Call(sh, input, init);
    } catch (err) {
      // refused before any pick (bad input, unsafe target, a throwing `key`): no try, not a failure
      if (sh.observed)
        sh.emit({ type: 'request-end', request: sh.stats.requests, attempt: 0, ok: false, error: err, tries: 0 });
      return Promise.reject(err);
    }
    return call.run();
  }

  return Object.assign(balancedFetch, {
    stats: (): FetchStats => ({ ...sh.stats }),
    balancer: cfg.balancer,
    resolver: cfg.resolver,
    checker: cfg.checker,
    detector: cfg.detector,
    on: (event: 'event', fn: (e: FetchEvent) => void) => sh.on(event, fn),
    close: () => cfg.close(),
  });
}

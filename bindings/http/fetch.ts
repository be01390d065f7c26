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
// ordinary (not background) timers: the caller awaits them. They bound the request up to its response headers;
// the caller's `signal` goes on to the body, as fetch's does (an abort errors the body read with its reason).
// A try the caller's abort ends blames no member (its pick is cancelled); a hedge that lost, which createFetch
// aborts itself, and a per-try timeout are the member's failures.
// Options, their validation and the Balancer built from them when none is given: fetch-options.ts.
// Observers: `onEvent` / `on('event')` (FetchEvent) and `instrumentation` (per-request and per-try scopes, for
// tracing); nothing is built for them when there are none.
// Cost: in place, fetch's own work evicts the wrapper's code and data between requests, so each function, object
// and async layer on the path costs far more than its body (docs/http.md). A lean request (a string, no
// init; no key, hedge, timeout, deadline, passThrough, observer or instrumentation) makes its first try inside
// balancedFetch: one async function, the pick, the fetch and `done`, no per-request object or closure. Any other
// request, and a lean one that needs a retry or a wait for a member, runs as a Call (one object per request
// holding its state, methods shared, no closure per request).
//
//   const fetch = createFetch({ balancer, service: 'http://api', perTryTimeoutMs: 2000 });
//   const res = await fetch('/users/42');
import type { HealthChecker } from '../health/checker.js';
import type { OutlierDetector } from '../health/outlier.js';
import { asObject, rangeError, str, typeError } from '../util/validate.js';
import type { ConnectedResolver } from '../discovery/connect.js';
import {
  COMPLETE_STACK,
  parseFetchOptionsWith,
  report,
  type StackParts,
  type CreateFetchOptions,
  type FetchConfig,
  type FetchEvent,
  type FetchMember,
  type FetchPick,
  type FetchStats,
  type PickSource,
  type Traced,
  type TryScope,
} from './fetch-options.js';
import { IDEMPOTENT_METHODS, MAX_RETRY_AFTER_MS, retryAfterMs, Sleepers, sleepMs } from './retry.js';
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
  /**
   * Stops what createFetch started (resolver, health checks, outlier detection, the Balancer it built). Requests
   * waiting out a retry back-off go on at once, and, when it built the Balancer, so do the retries of tries still
   * in flight: the closed Balancer fails them (UnavailableError); hedged requests then start no more hedges.
   */
  close(): void;
};

/** No member could be picked and the PickSource cannot wait for one (it has no `pickAsync`). */
export class NoMemberError extends Error {
  override name = 'NoMemberError';
}

export class DeadlineExceededError extends Error {
  override name = 'DeadlineExceededError';
}

/**
 * The runtime's fetch refused the request itself (its method, headers, body or mode; `cause` says why): the
 * caller's error, which no member is blamed for and no retry repeats.
 */
export class InvalidRequestError extends TypeError {
  override name = 'InvalidRequestError';
}

/** Transparent retries (refused connections, gRFC A6) per request, on top of maxAttempts (createDispatcher too). */
export const MAX_TRANSPARENT_RETRIES = 10;

/** The connection was refused: nothing was sent. */
function refused(err: unknown): boolean {
  return (err as { cause?: { code?: string } } | null)?.cause?.code === 'ECONNREFUSED';
}

/** A try's result; `unsent`: nothing reached a member (none was found, or the request was refused): not retried. */
export type TryResult =
  | { res: Response; status: number; member: string }
  // late: a wait for a member that the deadline ended
  | { err: unknown; member: string; unsent?: boolean; late?: boolean };

/** What every request of one createFetch shares. */
export class Shared {
  readonly stats: FetchStats = { requests: 0, tries: 0, retries: 0, hedges: 0, failures: 0 };
  /** `onEvent` first, then the listeners in the order added. */
  readonly #listeners: ((e: FetchEvent) => void)[];
  /**
   * Retries waiting out their back-off: close() wakes them (the next pick fails on a closed Balancer), and, when
   * it stopped the Balancer createFetch built, closes them: a back-off that starts later (a try in flight at
   * close() failing) is not waited out. Not with a caller's Balancer, which goes on: later retries back off.
   */
  readonly sleepers = new Sleepers();
  /** Whether anyone hears events (onEvent or a listener): events are not even built otherwise. */
  declare observed: boolean;
  readonly #byMember = new WeakMap<FetchMember, string>();

  declare readonly cfg: FetchConfig;
  /** The Balancer reads our clock: a pick's `startedAt` is the try's start. */
  declare readonly pickClock: boolean;

  constructor(cfg: FetchConfig) {
    this.cfg = cfg;
    this.#listeners = cfg.onEvent === undefined ? [] : [cfg.onEvent];
    this.observed = this.#listeners.length > 0;
    this.pickClock = (cfg.balancer as { clock?: unknown }).clock === cfg.clock;
  }

  emit(e: FetchEvent): void {
    for (const fn of this.#listeners.slice()) {
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
    this.#listeners.push(fn);
    this.observed = true;
    return () => {
      const i = this.#listeners.indexOf(fn);
      if (i >= 0) this.#listeners.splice(i, 1);
      this.observed = this.#listeners.length > 0;
    };
  }

  /** The checked origin of a member (cached by member object). */
  originOf(m: FetchMember): string {
    let o = this.#byMember.get(m);
    if (o === undefined) this.#byMember.set(m, (o = originOf(this.cfg.scheme, m.host, m.port)));
    return o;
  }
}

/**
 * One request: its parsed input and its state across tries (exported for hedge.ts, which drives its hedged tries;
 * `#` members are its own: esbuild shortens their names in bundles).
 */
export class Call {
  declare readonly request: number;
  /** The init sent on each try (signal added per try when something can abort it). */
  readonly #init: RequestInit;
  // path, idempotent, replayable: unset for a passThrough request (sent as given, never retried)
  readonly #path!: string;
  declare readonly signal: AbortSignal | undefined;
  readonly #idempotent!: boolean;
  readonly #replayable!: boolean;
  readonly #key: string | undefined;
  readonly deadlineAt: number = Infinity;
  /** A Request input whose body is buffered before the first try. */
  readonly #bodyOf: Request | undefined;
  /** The caller's input, sent as given (passThrough; unset otherwise). */
  readonly #passInput: string | URL | Request | undefined;
  readonly #passInit: SwitchyardRequestInit | undefined;
  /** The instrumentations' hold on the request (its headers, scopes), when there are any. */
  readonly #traced: Traced | undefined;
  /** Ids of the members tried, once a second try is made (the first is `first`). */
  #tried: Set<string> | undefined;
  #first = '';
  #tries = 0;
  #retries = 0;
  #throttled = false;
  /** Tries refused at connect time and retried transparently (gRFC A6). */
  #transparent = 0;

  declare readonly sh: Shared;

  constructor(
    sh: Shared,
    input: string | URL | Request,
    init: SwitchyardRequestInit | undefined,
    request = ++sh.stats.requests,
  ) {
    this.sh = sh;
    const cfg = sh.cfg;
    this.request = request;
    asObject('init', init);
    let rawUrl: string;
    let method = init?.method;
    let headers: HeadersInit | undefined = init?.headers;
    const body: BodyInit | null | undefined = init?.body;
    let signal = init?.signal ?? undefined;
    if (typeof input === 'string') rawUrl = input;
    else if (input instanceof URL) rawUrl = input.href;
    // a Request of this runtime or of another fetch implementation (undici's own class)
    else if (typeof (input as Request | null)?.url === 'string' && typeof input.arrayBuffer === 'function') {
      rawUrl = input.url;
      method ??= input.method;
      headers ??= input.headers;
      // init.body null keeps the Request's body, as fetch does (only a non-null init.body replaces it)
      if (body == null && input.body !== null) this.#bodyOf = input; // buffered: retryable
      signal ??= input.signal;
    } else throw typeError('input', 'a string, URL or Request', input);
    method = method === undefined ? 'GET' : str('init.method', method).toUpperCase();
    if (signal !== undefined && typeof signal.addEventListener !== 'function')
      throw typeError('init.signal', 'an AbortSignal', signal);
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
        // not a URL: targetPath refuses it below
      }
      if (abs !== undefined && abs.origin !== cfg.serviceOrigin && cfg.passThrough(abs)) {
        this.#passInput = input;
        this.#passInit = init;
        this.#init = {};
        return;
      }
    }
    this.#path = targetPath(rawUrl, cfg.serviceOrigin);
    this.#replayable =
      body === undefined ||
      body === null ||
      typeof body === 'string' ||
      body instanceof ArrayBuffer ||
      ArrayBuffer.isView(body) ||
      body instanceof URLSearchParams ||
      body instanceof Blob || // Blob and FormData are globals in Node >= 18 (engines), browsers and workers
      body instanceof FormData;
    this.#idempotent = init?.idempotent ?? IDEMPOTENT_METHODS.has(method);
    let key = init?.key;
    if (key === undefined && cfg.key !== undefined) {
      const url = new URL(this.#path, cfg.serviceOrigin ?? 'http://switchyard.invalid');
      key = cfg.key(new Request(url, headers === undefined ? { method } : { method, headers })) ?? undefined;
    }
    this.#key = key;
    if (cfg.deadlineMs !== Infinity) this.deadlineAt = cfg.clock.now() + cfg.deadlineMs;
    const instrumentation = cfg.instrumentation;
    if (instrumentation !== undefined)
      headers = (this.#traced = instrumentation(method, rawUrl, this.#path, headers, cfg)).headers;
    // eslint-disable-next-line @typescript-eslint/no-unused-vars
    const { idempotent, key: _key, ...rest } = init ?? {};
    const out: RequestInit = rest;
    out.method = method;
    out.redirect = redirect ?? 'manual';
    if (headers !== undefined) out.headers = headers;
    if (signal !== undefined) out.signal = signal;
    if (body !== undefined) out.body = body;
    if (!this.#replayable) (out as { duplex?: string }).duplex = 'half';
    this.#init = out;
  }

  /**
   * One try: picks (a member not tried yet if there is one), waits for one with the Balancer's pickAsync when none
   * can be picked now (NoMemberError without it), sends, ends its pick handle. Rejects only when the pick
   * source's handle throws.
   */
  async send(attempt: number, hedge: boolean, losers: AbortSignal | undefined): Promise<TryResult> {
    const sh = this.sh;
    const cfg = sh.cfg;
    const clock = cfg.clock;
    const balancer = cfg.balancer;
    const key = this.#key;
    const ctx = key === undefined ? undefined : { key };
    let p: FetchPick;
    try {
      if (this.#tries === 0) p = balancer.pick(ctx);
      else {
        const exclude = (this.#tried ??= new Set([this.#first]));
        p = balancer.pick(key === undefined ? { exclude } : { key, exclude });
        if (p.type === 'none') p = balancer.pick(ctx);
      }
      if (p?.type !== 'pick' && p?.type !== 'none') throw typeError('balancer.pick()', "{ type: 'pick' | 'none' }", p);
    } catch (err) {
      return { err, member: '', unsent: true }; // the pick source refused the request (e.g. a bad key)
    }
    if (p.type === 'none') {
      if (balancer.pickAsync === undefined)
        return { err: new NoMemberError(`no member available (${p.reason})`), member: '', unsent: true };
      const left = this.deadlineAt === Infinity ? Infinity : Math.max(0, this.deadlineAt - clock.now());
      // a hedge's wait also ends when another try wins (losers is aborted by the caller's signal too)
      const until = losers ?? this.signal;
      try {
        p = await balancer.pickAsync(ctx, {
          timeoutMs: Math.min(cfg.readyTimeoutMs, left),
          ...(until !== undefined && { signal: until }),
        });
      } catch (err) {
        // the deadline, not readyTimeoutMs, ended the wait: Node's timers may fire up to 1 ms before the clock
        // reads their time
        return { err, member: '', unsent: true, late: left < cfg.readyTimeoutMs && clock.now() >= this.deadlineAt - 1 };
      }
      if (until?.aborted === true) {
        // served in the same tick as the abort: nothing is sent, the member is not blamed
        cancelPick(p.handle);
        return { err: until.reason, member: p.member.id, unsent: true };
      }
    }
    const { member, handle } = p;
    if (this.#tries === 0) this.#first = member.id;
    else (this.#tried ??= new Set([this.#first])).add(member.id);
    this.#tries++;
    sh.stats.tries++;
    if (sh.observed) sh.emit({ type: 'try', request: this.request, member: member.id, attempt });
    let init = this.#init;
    let tryScope: TryScope | undefined;
    if (this.#traced !== undefined) [init, tryScope] = this.#traced.try(init, member, attempt, hedge);
    const signal = this.signal;
    const perTry = cfg.perTryTimeoutMs;
    const budget =
      this.deadlineAt === Infinity ? (perTry ?? Infinity) : Math.min(perTry ?? Infinity, this.deadlineAt - clock.now());
    // An AbortController of ours only when a timeout or a lost hedge can abort this try (passing a signal costs
    // undici ~20 µs); else the caller's signal, if any, is passed as is (#init) and reaches the body as fetch's.
    let ctl: AbortController | undefined;
    /** Removes the caller's abort listener (set while the try has one). */
    let offCaller: (() => void) | undefined;
    let onOther: (() => void) | undefined;
    let timer: unknown;
    // the deadline left this try under half of it (the wait for a member, back-offs and earlier tries took the
    // rest): its timeout is the request's, not the member's (no blame, as an abort's)
    let cut = false;
    if (losers !== undefined || budget !== Infinity) {
      const c = (ctl = new AbortController());
      init = { ...init, signal: c.signal };
      if (signal !== undefined) {
        const onCaller = () => c.abort(signal.reason);
        signal.addEventListener('abort', onCaller); // removed by offCaller, whatever happens
        offCaller = () => signal.removeEventListener('abort', onCaller);
      }
      if (losers !== undefined) {
        onOther = () => c.abort(new DOMException('hedge lost', 'AbortError'));
        losers.addEventListener('abort', onOther);
      }
      if (budget !== Infinity) {
        timer = clock.setTimeout(
          // a TimeoutError as AbortSignal.timeout's
          () => {
            // (not when a lost hedge's abort came first: that is the member's)
            cut = !c.signal.aborted && budget < (perTry ?? Infinity) && budget < cfg.deadlineMs / 2;
            c.abort(new DOMException(`try timed out after ${Math.round(budget)} ms`, 'TimeoutError'));
          },
          Math.max(0, budget),
        );
      }
    }
    // the pick's clock reading, saving one; NaN (no RTT measured) when the Balancer needs none and no scope does
    const at = sh.pickClock ? p.startedAt : undefined;
    const t0 = at !== undefined && (at === at || tryScope === undefined) ? at : clock.now();
    let url: string | undefined;
    try {
      // a targetPath result joined to an origin stays on it (url-guard.ts)
      url = sh.originOf(member) + this.#path;
      let res = await cfg.baseFetch(url, init);
      const status = res.status;
      const rttMs = t0 === t0 ? clock.now() - t0 : undefined;
      handle.done({ ok: status < 500, rttMs, status });
      tryScope?.end({ status, rttMs: rttMs! });
      if (offCaller !== undefined && res.body !== null && status < 600) {
        // The caller's abort goes on reaching the body (its read errors with the reason, as with fetch's own
        // signal) until the body ends, fails or is cancelled: then the pipe settles and the listener goes, so a
        // long-lived signal gathers none per request (a body neither read nor cancelled keeps it, and its
        // connection).
        const { readable, writable } = new TransformStream<Uint8Array, Uint8Array>();
        res.body.pipeTo(writable).then(offCaller, offCaller);
        const { url, redirected, type } = res;
        res = Object.defineProperties(new Response(readable, res), {
          url: { value: url },
          redirected: { value: redirected },
          type: { value: type },
        });
        offCaller = undefined;
      }
      return { res, status, member: member.id };
    } catch (err) {
      let reason = ctl?.signal.aborted === true ? ctl.signal.reason : err;
      const rttMs = t0 === t0 ? clock.now() - t0 : undefined;
      // the runtime refused the request itself (its Request constructor does too, or undici refuses a header such
      // as expect, upgrade or transfer-encoding before sending): nothing was sent
      const refused =
        reason === err &&
        url !== undefined &&
        err instanceof TypeError &&
        (sh.cfg.unsent?.(err) === true || this.#refused(url, init));
      if (refused) reason = new InvalidRequestError(err.message, { cause: err });
      // nothing sent, the caller's abort, or the deadline's (`cut`): no blame (a hedge that lost, aborted by us, is
      // the member's failure)
      if (refused || signal?.aborted || cut) cancelPick(handle);
      else handle.done({ ok: false, rttMs, error: reason });
      tryScope?.end({ error: reason, rttMs: rttMs! });
      return { err: reason, member: member.id, unsent: refused };
    } finally {
      if (ctl !== undefined) {
        if (timer !== undefined) clock.clearTimeout(timer);
        offCaller?.();
        if (onOther !== undefined) losers!.removeEventListener('abort', onOther);
      }
    }
  }

  /** Whether the runtime's Request constructor refuses `init` for `url` (a stream body is left out: it was read). */
  #refused(url: string, init: RequestInit): boolean {
    try {
      new Request(url, this.#replayable ? init : { ...init, body: null });
      return false;
    } catch {
      return true;
    }
  }

  /** Whether the retry budget allows one more try; the first refusal is a 'throttled' event. */
  budgetAllows(): boolean {
    const throttle = this.sh.cfg.throttle;
    if (throttle === null || throttle.allowRetry()) return true;
    if (!this.#throttled) {
      this.#throttled = true;
      if (this.sh.observed) this.sh.emit({ type: 'throttled', request: this.request, attempt: this.#tries + 1 });
    }
    return false;
  }

  /** The request returns `res` (a try's result: its status read once, undici's getter costs). */
  ok({ res, status }: { res: Response; status: number }): Response {
    this.#traced?.end({ status, tries: this.#tries, retries: this.#retries });
    if (this.sh.observed) {
      this.sh.emit({
        type: 'request-end',
        request: this.request,
        attempt: this.#tries,
        ok: status < 500,
        status,
        tries: this.#tries,
      });
    }
    return res;
  }

  /** The request fails with `err`; 'give-up' tells the last try made, as 'request-end' (0 when none was). */
  fail(err: unknown): never {
    const sh = this.sh;
    sh.stats.failures++;
    this.#traced?.end({ error: err, tries: this.#tries, retries: this.#retries });
    if (sh.observed) {
      sh.emit({ type: 'give-up', request: this.request, attempt: this.#tries, error: err });
      sh.emit({
        type: 'request-end',
        request: this.request,
        attempt: this.#tries,
        ok: false,
        error: err,
        tries: this.#tries,
      });
    }
    throw err;
  }

  /** Runs the request; `first`: the result of a first try already made (createFetchWith's lean path). */
  async run(first?: TryResult): Promise<Response> {
    const sh = this.sh;
    const cfg = sh.cfg;
    if (this.#passInput !== undefined) return cfg.baseFetch(this.#passInput, this.#passInit);
    if (this.#bodyOf !== undefined) {
      try {
        this.#init.body = await this.#bodyOf.arrayBuffer();
      } catch (err) {
        return this.fail(err);
      }
    }
    if (cfg.hedge !== undefined && this.#idempotent && this.#replayable) return cfg.hedge.run(this, cfg.hedge);
    const { clock, retryOn, backoff, throttle, maxAttempts, deadlineMs } = cfg;
    const signal = this.signal;
    const deadlineAt = this.deadlineAt;
    for (let attempt = 1; ; attempt++) {
      if (signal?.aborted) return this.fail(signal.reason);
      if (deadlineAt !== Infinity && clock.now() >= deadlineAt)
        return this.fail(new DeadlineExceededError(`deadline of ${deadlineMs} ms exceeded after ${attempt - 1} tries`));
      const last = first ?? (await this.send(attempt, false, undefined));
      if (first !== undefined) {
        this.#tries = 1;
        this.#first = first.member;
        first = undefined;
      }
      if (signal?.aborted) {
        if ('res' in last) await last.res.body?.cancel().catch(() => {});
        return this.fail(signal.reason);
      }
      let wait: number;
      if ('res' in last) {
        if (!retryOn.has(last.status)) {
          throttle?.onSuccess();
          return this.ok(last);
        }
        throttle?.onFailure();
        if (!this.#idempotent || !this.#replayable) return this.ok(last);
        const counted = attempt - this.#transparent; // transparent retries are not among the maxAttempts
        // Retry-After may be an HTTP date: compared with the wall clock, not the monotonic one
        const after = retryAfterMs(last.res.headers.get('retry-after'));
        wait = Math.max(backoff.delayMs(counted), after);
        // a Retry-After beyond MAX_RETRY_AFTER_MS: the member asks not to come back soon, the response is the answer
        if (
          after > MAX_RETRY_AFTER_MS ||
          counted >= maxAttempts ||
          !this.budgetAllows() ||
          clock.now() + wait >= deadlineAt
        )
          return this.ok(last);
        await last.res.body?.cancel().catch(() => {});
      } else {
        const unsent = last.unsent === true;
        // gRFC A6 transparent retry: a refused connection never reached the server, so it is neither a failure
        // for the retry budget nor one of the maxAttempts. Once per member (a member refusing again is counted:
        // no hammering a dead one), at most MAX_TRANSPARENT_RETRIES, within the deadline.
        const firstOnMember = (this.#tried?.size ?? 1) === this.#tries;
        const transparent =
          !unsent &&
          firstOnMember &&
          this.#replayable &&
          this.#transparent < MAX_TRANSPARENT_RETRIES &&
          refused(last.err);
        if (!unsent && !transparent) throttle?.onFailure();
        if (last.late === true || (deadlineAt !== Infinity && clock.now() >= deadlineAt)) {
          return this.fail(
            new DeadlineExceededError(
              `deadline of ${deadlineMs} ms exceeded after ${this.#tries} tries`,
              unsent ? { cause: last.err } : undefined,
            ),
          );
        }
        if (transparent) {
          this.#transparent++; // the next try has a number of its own but is not counted against maxAttempts
          wait = 0;
        } else {
          const counted = attempt - this.#transparent;
          // an error is retried when the body can be sent again, the method allows it or nothing was sent
          const retryable =
            !(last.err instanceof UnsafeTargetError) && this.#replayable && (this.#idempotent || refused(last.err));
          if (unsent || !retryable || counted >= maxAttempts || !this.budgetAllows()) return this.fail(last.err);
          wait = backoff.delayMs(counted);
        }
        if (clock.now() + wait >= deadlineAt)
          return this.fail(new DeadlineExceededError(`deadline of ${deadlineMs} ms would pass before the next try`));
      }
      this.#retries++;
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
        await sleepMs(clock, wait, signal, sh.sleepers);
      } catch {
        return this.fail(signal!.reason);
      }
    }
  }
}

/**
 * Ends a pick whose request never reached its member (the fetch wrapper's and the dispatcher's): `cancel()`
 * where the pick source has it (a Balancer's handle: the in-flight count only), else `done({ ok: true })`, the
 * outcome that blames nobody.
 */
export function cancelPick(h: { done(o: { ok: boolean }): void; cancel?(): void }): void {
  if (h.cancel) h.cancel();
  else h.done({ ok: true });
}

/** A balanced fetch; its stack (when no `balancer` is given) knows every built-in policy and scheme. */
export function createFetch(options: CreateFetchOptions): BalancedFetch {
  return createFetchWith(COMPLETE_STACK, options);
}

/** createFetch with its stack built from `parts` (fetch-options.ts: COMPLETE_STACK, or LITE_STACK for switchyard/lite). */
export function createFetchWith(parts: StackParts, options: CreateFetchOptions): BalancedFetch {
  const cfg = parseFetchOptionsWith(parts, options);
  const sh = new Shared(cfg);

  const { balancer, clock, retryOn } = cfg;
  // Nothing to key, hedge, time out, trace or pass through (each is a function, an object or a positive number):
  // a string request without init and unobserved is lean, and its first try runs in balancedFetch itself (the
  // module header); a retry, or a wait for a member, continues as a Call from that first try.
  const lean =
    !(cfg.key || cfg.hedge || cfg.perTryTimeoutMs || cfg.instrumentation || cfg.passThrough) &&
    cfg.deadlineMs === Infinity;

  async function balancedFetch(input: string | URL | Request, init?: SwitchyardRequestInit): Promise<Response> {
    let request: number | undefined;
    let first: TryResult | undefined;
    if (lean && init === undefined && typeof input === 'string' && !sh.observed) {
      request = ++sh.stats.requests;
      const path = targetPath(input, cfg.serviceOrigin);
      const p = balancer.pick();
      if (p.type === 'pick') {
        const { member, handle } = p;
        sh.stats.tries++;
        // as in Call.send: the pick's clock reading, NaN (untimed) when nothing uses the RTT
        const t0 = (sh.pickClock ? p.startedAt : undefined) ?? clock.now();
        let res: Response | undefined;
        let err: unknown;
        try {
          res = await cfg.baseFetch(sh.originOf(member) + path, { redirect: 'manual' });
        } catch (e) {
          err = e;
        }
        const status = res?.status;
        handle.done({ ok: status! < 500, rttMs: t0 === t0 ? clock.now() - t0 : undefined, status, error: err });
        if (res === undefined) first = { err, member: member.id };
        else if (retryOn.has(status!)) first = { res, status: status!, member: member.id };
        else {
          cfg.throttle?.onSuccess();
          return res;
        }
      }
    }
    let call: Call;
    try {
      call = new Call(sh, input, init, request);
    } catch (err) {
      // refused before any pick (bad input, unsafe target, a throwing `key`): no try, not a failure
      if (sh.observed)
        sh.emit({ type: 'request-end', request: sh.stats.requests, attempt: 0, ok: false, error: err, tries: 0 });
      throw err;
    }
    return await call.run(first);
  }

  return Object.assign(balancedFetch, {
    stats: (): FetchStats => ({ ...sh.stats }),
    balancer: cfg.balancer,
    resolver: cfg.resolver,
    checker: cfg.checker,
    detector: cfg.detector,
    on: (event: 'event', fn: (e: FetchEvent) => void) => sh.on(event, fn),
    close: () => sh.sleepers.wake(cfg.close()),
  });
}

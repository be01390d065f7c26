// The per-request side of createDispatcher (dispatcher.ts): the observer each try is sent with, which ends the
// pick with the try's outcome (`finish`) and, for callers on the legacy handler API, retries the request itself
// (LegacyCall); callers on undici 7's handler API get a thin observer per try (ModernCall) under undici's
// RetryHandler. Both reach the dispatcher's routing, clock and retry budget through `BalancedDispatcher`.
// A request the member's Pool refuses before sending it (undici's invalid-argument error: a bad method, header
// or option) is the caller's error: its pick is cancelled (no failure, nothing for outlier detection) and it
// is not retried. A `Retry-After` past MAX_RETRY_AFTER_MS ends the retries. A connection refused by a member not
// tried yet is retried at once on another, free (gRFC A6 transparent retry, createFetch's rule: see transparent).
import { errors as undiciErrors, type Dispatcher } from 'undici';
import type { BalancedDispatcher, MemberPick } from './dispatcher.js';
import { MAX_RETRY_AFTER_MS, retryAfterMs } from './retry.js';
import { cancelPick, MAX_TRANSPARENT_RETRIES } from './fetch.js';

type DispatchOptions = Dispatcher.DispatchOptions;
type DispatchHandler = Dispatcher.DispatchHandler;
type DispatchController = Dispatcher.DispatchController;

/** Errors after which a try is retried (undici's RetryHandler defaults plus its connect/headers timeouts). */
export const RETRYABLE_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ENOTFOUND',
  'ENETDOWN',
  'ENETUNREACH',
  'EHOSTDOWN',
  'EHOSTUNREACH',
  'EPIPE',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
]);

/** undici's code for an invalid argument: the Pool refused the caller's request (or options) before sending it. */
const INVALID_ARG = 'UND_ERR_INVALID_ARG';

/** An error that is the caller's (or the configuration's), not the member's: its pick is cancelled, not failed. */
export const refusedByPool = (err: unknown) => (err as { code?: unknown } | null)?.code === INVALID_ARG;

export interface RetryConfig {
  maxAttempts: number;
  retryOn: ReadonlySet<number>;
  /** `retryOn` as a table by status (1: retried), read per response instead of the Set. */
  retryOnStatus: Uint8Array;
  backoff: { delayMs(attempt: number): number };
}

/** Whether `status` is one of the retried statuses. */
export const retriedStatus = (r: RetryConfig, status: number) => status < 600 && r.retryOnStatus[status] === 1;

/** A request body that can be sent again (streams and iterables are sent once). */
export const replayable = (body: unknown) => body == null || typeof body === 'string' || body instanceof Uint8Array;

/**
 * undici's error for a refused connect: the socket's error (ECONNREFUSED; an AggregateError carries the code of
 * its first when several addresses were tried), or one wrapping it as `cause`. undici writes a request only on a
 * connected socket, and fails at a connect error only the requests not yet written: nothing was sent.
 */
export function connectRefused(err: unknown): boolean {
  const e = err as { code?: unknown; cause?: unknown } | null;
  return e?.code === 'ECONNREFUSED' || (e?.cause as { code?: unknown } | null | undefined)?.code === 'ECONNREFUSED';
}

/**
 * Whether a try that failed with `err` before the caller's handler saw anything of it is retried at once and
 * for free (gRFC A6 transparent retry, as createFetch), when a member not tried yet can be picked now (else
 * the usual rules apply): its connection was refused, every try so far was on a
 * member of its own (a member refusing again is counted: no hammering a dead one), fewer than
 * MAX_TRANSPARENT_RETRIES were free, the dispatcher is open, and the body can be sent again or was never read
 * (every earlier try was refused too). `n`: tries so far, `members`: members tried, `free`: transparent retries.
 */
function transparent(
  d: BalancedDispatcher,
  n: number,
  members: number,
  free: number,
  err: unknown,
  body: unknown,
): boolean {
  return (
    free < MAX_TRANSPARENT_RETRIES &&
    members === n &&
    d['state'] === 'open' &&
    connectRefused(err) &&
    (free === n - 1 || replayable(body))
  );
}

/**
 * Sends a transparent retry of `call` to `next`: the refused try ends as its member's failure without charging
 * the retry budget, and counts in `retries` (not against maxAttempts: the caller counts it in its `free`).
 */
function retryElsewhere(
  d: BalancedDispatcher,
  pick: MemberPick,
  t0: number,
  err: unknown,
  next: MemberPick,
  call: Routed,
) {
  finish(d, pick, t0, 0, -1, err, false);
  d['counters'].retries++;
  d['send'](next, call);
}

/** How many members `t` holds. */
const triedCount = (t: Tried) => t.set?.size ?? (t.first === undefined ? 0 : 1);

/** The members one request has tried (what `route` needs of it). */
interface TryLog {
  readonly key: string | undefined;
  add(id: string): void;
  /** The members to exclude from the next pick (undefined before the first try). */
  exclude(): ReadonlySet<string> | undefined;
}

/** The members one request has tried: the first, and a Set only from the second try on. */
interface Tried {
  first: string | undefined;
  set: Set<string> | undefined;
}

function addTried(t: Tried, id: string): void {
  if (t.first === undefined) t.first = id;
  else (t.set ??= new Set([t.first])).add(id);
}

function excludedBy(t: Tried): ReadonlySet<string> | undefined {
  return t.set ?? (t.first === undefined ? undefined : new Set([t.first]));
}

/** The members one request has tried (`exclude` for its retries), with its tries and transparent retries. */
export class Tries implements TryLog, Tried {
  first: string | undefined = undefined;
  set: Set<string> | undefined = undefined;
  n = 0;
  free = 0;
  constructor(readonly key: string | undefined) {}
  add(id: string): void {
    this.n++;
    addTried(this, id);
  }
  exclude(): ReadonlySet<string> | undefined {
    return excludedBy(this);
  }
}

/** One request on its way to a member: what `route` needs to pick, send and report a failure. */
export interface Routed {
  readonly tries: TryLog;
  readonly opts: DispatchOptions;
  /** Sends the try to `pool` (the pick's member). */
  start(p: MemberPick, pool: Dispatcher): void;
  /** Ends the request with an error raised before a try was sent. */
  fail(err: Error): void;
}

/**
 * Ends a try's pick: ok when it answered below 500, RTT to the response headers, and feeds the retry budget
 * (unless `charge` is false: a transparent retry's refusal is the member's failure, not the budget's).
 */
function finish(
  d: BalancedDispatcher,
  pick: MemberPick,
  t0: number,
  status: number,
  rttMs: number,
  error: unknown,
  charge = true,
): boolean {
  // t0 NaN: the Balancer read no clock at the pick, so nothing uses an RTT and none is measured
  const rtt = t0 !== t0 ? undefined : Math.max(0, rttMs >= 0 ? rttMs : d.clock.now() - t0);
  const ok = error === undefined && status < 500;
  if (error !== undefined) pick.handle.done({ ok: false, rttMs: rtt, error });
  else {
    const o = d['outcome'];
    if (o === null) pick.handle.done(status > 0 ? { ok, rttMs: rtt, status } : { ok, rttMs: rtt });
    else {
      // our Balancer copies the outcome's fields before it calls anything: one object serves every request
      o.ok = ok;
      o.rttMs = rtt;
      o.status = status > 0 ? status : undefined;
      pick.handle.done(o);
    }
  }
  const th = d['throttle'];
  if (th !== null && charge) {
    if (ok) th.onSuccess();
    else th.onFailure();
  }
  return ok;
}

/**
 * A request from a caller speaking the legacy handler API (onConnect/onHeaders/onData/onComplete/onError),
 * which is what undici's `request()`/`stream()` and Node's `fetch` use and what undici's Client calls: this one
 * object is the handler of every try, so nothing is converted. It forwards everything, except the response
 * of a try it retries (swallowed: its body read and dropped, keeping the connection) and the error of a try
 * it retries. A retried try never reached the caller: retries stop once the caller has seen headers.
 */
export class LegacyCall implements Routed, TryLog, Tried {
  // `declare` and one assignment each in the constructor: no field initializer nor super() call per request
  /** The call is its own TryLog (as Tries): one object per request. */
  declare readonly tries: TryLog;
  declare readonly key: string | undefined;
  declare first: string | undefined;
  declare set: Set<string> | undefined;
  declare private attempt: number;
  /** Transparent retries so far (tries not counted against maxAttempts). */
  declare private free: number;
  /** The caller's handler saw this try's onConnect. */
  declare private connected: boolean;
  declare private pick: MemberPick | undefined;
  declare private t0: number;
  declare private status: number;
  declare private rttMs: number;
  declare private ended: boolean;
  declare private swallow: boolean;
  declare private forwarded: boolean;
  declare private retryAfterMs: number;
  /** The current try's abort (its Pool's), and the one handed to the caller for every try (see onConnect). */
  declare private abortTry: ((err?: Error) => void) | undefined;
  declare private abortCall: ((err?: Error) => void) | undefined;
  /** Aborted by the caller's abort while the call sleeps in a retry back-off. */
  declare private backoff: AbortController | undefined;
  /** The caller's abort reason, once it aborted. */
  declare private aborted: Error | undefined;
  declare private readonly d: BalancedDispatcher;
  declare readonly opts: DispatchOptions;
  declare private readonly h: DispatchHandler;
  /** Idempotent, with a body that can be sent again, and retries enabled. */
  declare private readonly retryable: boolean;

  constructor(
    d: BalancedDispatcher,
    opts: DispatchOptions,
    h: DispatchHandler,
    key: string | undefined,
    retryable: boolean,
  ) {
    this.tries = this;
    this.key = key;
    this.first = undefined;
    this.set = undefined;
    this.attempt = 0;
    this.free = 0;
    this.connected = false;
    this.pick = undefined;
    this.t0 = 0;
    this.status = 0;
    this.rttMs = -1;
    this.ended = true;
    this.swallow = false;
    this.forwarded = false;
    this.retryAfterMs = 0;
    this.abortTry = undefined;
    this.abortCall = undefined;
    this.backoff = undefined;
    this.aborted = undefined;
    this.d = d;
    this.opts = opts;
    this.h = h;
    this.retryable = retryable;
  }

  add(id: string): void {
    addTried(this, id);
  }

  exclude(): ReadonlySet<string> | undefined {
    return excludedBy(this);
  }

  start(p: MemberPick, pool: Dispatcher): void {
    this.attempt++;
    this.pick = p;
    this.t0 = this.d['startOf'](p);
    this.status = 0;
    this.rttMs = -1;
    this.ended = false;
    this.swallow = false;
    this.connected = false;
    pool.dispatch(this.opts, this as DispatchHandler);
  }

  fail(err: Error): void {
    if (typeof this.h.onError !== 'function') throw err;
    this.h.onError(err);
  }

  private end(error: unknown): void {
    if (this.ended) return;
    this.ended = true;
    finish(this.d, this.pick!, this.t0, this.status, this.rttMs, error);
  }

  /** Retries left, the budget allows one and the dispatcher is open. */
  private mayRetry(): boolean {
    const d = this.d;
    return (
      this.retryable &&
      !this.forwarded &&
      this.attempt - this.free < d['retry']!.maxAttempts &&
      d['state'] === 'open' &&
      (d['throttle']?.allowRetry() ?? true)
    );
  }

  private again(): void {
    // the caller aborted the try being retried (e.g. while its response was dropped): no retry
    if (this.aborted !== undefined) return this.fail(this.aborted);
    const d = this.d;
    const wait = Math.max(d['retry']!.backoff.delayMs(this.attempt - this.free), this.retryAfterMs);
    d['counters'].retries++;
    // close()/destroy() or the caller's abort during the wait end the request at once (BalancedDispatcher.sleep)
    const backoff = (this.backoff = new AbortController());
    d['sleep'](
      wait,
      () => {
        this.backoff = undefined;
        d['route'](this);
      },
      (err) => {
        this.backoff = undefined;
        this.fail(err);
      },
      backoff.signal,
    );
  }

  /**
   * The caller keeps the abort of the last onConnect, which would be a finished try's while the call sleeps
   * in back-off: a retryable call hands it one of its own, which aborts the try in flight or ends the back-off.
   */
  onConnect(abort: (err?: Error) => void, context?: unknown) {
    this.connected = true;
    let a = abort;
    if (this.retryable) {
      this.abortTry = abort;
      a = this.abortCall ??= (err) => {
        const reason = (this.aborted ??= err ?? new undiciErrors.RequestAbortedError());
        if (this.backoff !== undefined) this.backoff.abort(reason);
        else this.abortTry!(reason);
      };
    }
    return (this.h.onConnect as (a: typeof abort, c: unknown) => void)(a, context);
  }
  onResponseStarted() {
    return this.h.onResponseStarted?.();
  }
  onHeaders(statusCode: number, headers: Buffer[], resume: () => void, statusText: string) {
    if (statusCode >= 200 && this.rttMs < 0) {
      this.status = statusCode;
      this.rttMs = this.d['since'](this.t0);
      // settle the throttle first so mayRetry sees this failure, as in the error path
      if (this.retryable && retriedStatus(this.d['retry']!, statusCode)) {
        this.end(undefined);
        // a Retry-After past the cap: the response goes to the caller as is
        const after = this.mayRetry() ? retryAfter(headers) : Infinity;
        if (after <= MAX_RETRY_AFTER_MS) {
          this.swallow = true;
          this.retryAfterMs = after;
          return true;
        }
      }
      this.forwarded = true;
    }
    return this.h.onHeaders?.(statusCode, headers, resume, statusText);
  }
  onData(chunk: Buffer) {
    return this.swallow ? true : this.h.onData?.(chunk);
  }
  onComplete(trailers: string[] | null) {
    this.end(undefined);
    if (this.swallow) return this.again();
    return this.h.onComplete?.(trailers);
  }
  onError(err: Error & { code?: string }) {
    // the Pool refused the request itself (bad method, header, timeout option...): the caller's error, not retried
    if (!this.ended && this.rttMs < 0 && refusedByPool(err)) {
      this.ended = true;
      cancelPick(this.pick!.handle);
      return this.fail(err);
    }
    // refused before the caller saw this try: at once to a member not tried yet, not one of the maxAttempts
    if (
      !this.ended &&
      this.rttMs < 0 &&
      !this.connected &&
      this.aborted === undefined &&
      transparent(this.d, this.attempt, triedCount(this), this.free, err, this.opts.body)
    ) {
      const next = this.d['pickUntried'](this);
      if (next !== undefined) {
        this.ended = true;
        this.free++;
        return retryElsewhere(this.d, this.pick!, this.t0, err, next, this);
      }
    }
    this.end(err);
    // a response being dropped for a retry that breaks off: the retry was decided already
    if (this.swallow) return this.again();
    if (err.code !== undefined && RETRYABLE_CODES.has(err.code) && this.mayRetry()) {
      this.retryAfterMs = 0;
      return this.again();
    }
    return this.fail(err);
  }
  onUpgrade(statusCode: number, headers: Buffer[] | string[] | null, socket: import('node:stream').Duplex) {
    this.status = statusCode;
    this.rttMs = this.d['since'](this.t0);
    this.forwarded = true;
    this.end(undefined);
    return this.h.onUpgrade?.(statusCode, headers, socket);
  }
  onBodySent(chunkSize: number, totalBytesSent: number) {
    return this.h.onBodySent?.(chunkSize, totalBytesSent);
  }
  onRequestSent() {
    return (this.h as { onRequestSent?: () => void }).onRequestSent?.();
  }
}

/** `Retry-After` in a raw header list, in ms (0 when absent or invalid). */
function retryAfter(raw: Buffer[]): number {
  for (let i = 0; i + 1 < raw.length; i += 2)
    if (String(raw[i]).toLowerCase() === 'retry-after') return retryAfterMs(String(raw[i + 1]));
  return 0;
}

/**
 * A try for a caller speaking undici 7's handler API (onRequestStart/onResponseStart/...). Retries for these
 * callers are undici's RetryHandler (which speaks that API), with `decide` as its retry hook.
 */
export class ModernCall implements Routed {
  private pick: MemberPick | undefined = undefined;
  private t0 = 0;
  private status = 0;
  private rttMs = -1;
  private ended = true;
  /** The handler saw this try's onRequestStart. */
  private connected = false;
  constructor(
    private readonly d: BalancedDispatcher,
    readonly tries: Tries,
    readonly opts: DispatchOptions,
    private readonly h: DispatchHandler,
  ) {}
  start(p: MemberPick, pool: Dispatcher): void {
    this.pick = p;
    this.t0 = this.d['startOf'](p);
    this.status = 0;
    this.rttMs = -1;
    this.ended = false;
    this.connected = false;
    pool.dispatch(this.opts, this as DispatchHandler);
  }
  fail(err: Error): void {
    this.h.onResponseError?.(failedController(err), err);
  }
  private end(error: unknown): void {
    if (this.ended) return;
    this.ended = true;
    finish(this.d, this.pick!, this.t0, this.status, this.rttMs, error);
  }
  private headers(statusCode: number): void {
    if (statusCode >= 200 && this.rttMs < 0) {
      this.status = statusCode;
      this.rttMs = this.d['since'](this.t0);
    }
  }
  onRequestStart(c: DispatchController, context: unknown) {
    this.connected = true;
    this.h.onRequestStart?.(c, context);
  }
  onRequestUpgrade(
    c: DispatchController,
    statusCode: number,
    headers: Record<string, string | string[] | undefined>,
    socket: import('node:stream').Duplex,
  ) {
    this.headers(statusCode);
    this.end(undefined);
    this.h.onRequestUpgrade?.(c, statusCode, headers, socket);
  }
  onResponseStart(
    c: DispatchController,
    statusCode: number,
    headers: Record<string, string | string[] | undefined>,
    statusMessage?: string,
  ) {
    this.headers(statusCode);
    this.h.onResponseStart?.(c, statusCode, headers, statusMessage);
  }
  onResponseData(c: DispatchController, chunk: Buffer) {
    this.h.onResponseData?.(c, chunk);
  }
  onResponseEnd(c: DispatchController, trailers: Record<string, string | string[] | undefined>) {
    this.end(undefined);
    this.h.onResponseEnd?.(c, trailers);
  }
  onResponseError(c: DispatchController, err: Error) {
    // refused by the Pool before it was sent: the caller's error (RetryHandler does not retry its code)
    if (!this.ended && this.rttMs < 0 && refusedByPool(err)) {
      this.ended = true;
      cancelPick(this.pick!.handle);
    } else {
      // refused before the handler (RetryHandler or the caller's) saw this try: at once to another member, free
      const t = this.tries;
      const next =
        !this.ended &&
        this.rttMs < 0 &&
        !this.connected &&
        transparent(this.d, t.n, triedCount(t), t.free, err, this.opts.body)
          ? this.d['pickUntried'](this)
          : undefined;
      if (next !== undefined) {
        this.ended = true;
        t.free++;
        return retryElsewhere(this.d, this.pick!, this.t0, err, next, this);
      }
      this.end(err);
    }
    this.h.onResponseError?.(c, err);
  }
}

/** The controller handed to a new-API handler for an error raised before any member was tried. */
function failedController(reason: Error): DispatchController {
  return {
    aborted: true,
    paused: false,
    reason,
    abort() {},
    pause() {},
    resume() {},
  };
}

/** Reports `err` to a handler of either API (undici's own rule: the new API when onRequestStart exists). */
export function fail(handler: DispatchHandler, err: Error): void {
  if (typeof handler.onRequestStart === 'function') handler.onResponseError?.(failedController(err), err);
  else if (typeof handler.onError === 'function') handler.onError(err);
  else throw err;
}

// createDispatcher: an undici `Dispatcher` that spreads one logical origin over the members of a Balancer, so
// `fetch(url, { dispatcher })`, `request(url, { dispatcher })`, `setGlobalDispatcher(...)` and every library
// built on undici are balanced without wrapping. Entry point `switchyard/undici`; undici (7.x) is an optional
// peer dependency that only this entry point loads.
//
// Shape (after undici's BalancedPool, lib/dispatcher/balanced-pool.js, with its weighted round robin replaced by
// the Balancer's policies): one undici `Pool` per member, opened at the member's first request and closed when
// the member leaves the Balancer (`Pool.close()` lets its in-flight requests finish). Each `dispatch(opts,
// handler)` picks a member, wraps the handler in a thin observer (dispatcher-calls.ts; for the legacy
// onConnect/onHeaders/... API or the newer onRequestStart/onResponseStart/... one, whichever the caller speaks,
// so no conversion layer is added) and hands the request to that member's Pool (found by the pick's row, checked against the member
// object); the Pool's own origin replaces the logical one. The observer ends the pick with
// `done({ ok: status < 500, rttMs: time to response headers, status })`, which feeds Peak-EWMA,
// least-request and outlier detection (timed from the pick's own clock reading when the
// Balancer reads our clock, and not timed when it read none: a clock read costs about as much as a
// round-robin pick). When no member can be picked yet (discovery has not answered, health checks not yet
// passed) the request waits in `balancer.pickAsync` (bounded by `readyTimeoutMs`) instead of failing, where the
// Balancer has it.
//
// Transparent retries (gRPC A6, as createFetch): a try whose connection was refused (it reached no server) before
// the caller's handler saw it, on a member not tried yet in that request, goes at once to another member not
// tried yet when one can be picked, whatever the method and with maxAttempts 1 or `retry: false` too; the
// refusal is that member's failure but costs no retry budget and is not one of the maxAttempts; at most 10 per
// request; a stream body only while no earlier try of it got further than a refusal (nothing of it was read).
//
// Retries (gRPC A6, as createFetch): idempotent methods only, on network errors and `retry.retryOn` statuses,
// up to `retry.maxAttempts` tries, each on a member not tried yet, full-jitter back-off on the injected clock,
// `Retry-After`, and a token-bucket retry budget; stream bodies are sent once, and nothing is retried once the
// caller has seen headers. For callers on undici 7's handler API the mechanics are undici's own `RetryHandler`
// with our decision and timer as its `retry` hook. Callers on the legacy API (undici's request()/stream(), both
// fetches) are retried by the observer itself: RetryHandler would convert each response's headers twice for
// them (raw → object → raw): about 14 µs per request in one in-process loopback measurement. A `Retry-After`
// longer than MAX_RETRY_AFTER_MS (30 s) ends the retries: the response goes to the caller as is. A request the
// member's Pool refuses (undici's InvalidArgumentError: a bad method, header or timeout in the dispatch options)
// is the caller's error: passed on, not retried, and its pick cancelled (the member is not blamed).
//
// close() and destroy() follow undici's DispatcherBase (lib/dispatcher/dispatcher-base.js): `closed` once close()
// was called, `destroyed` once destroy() was or close() has completed; close() on a destroyed dispatcher rejects
// with ClientDestroyedError, a second destroy() joins the first, callbacks get (err, null), a bad callback is
// refused before anything ends. close() lets requests sent to a member finish; destroy() aborts them with its
// error (undici's ClientDestroyedError without one) and settles a pending close() once done, even when a
// member Pool's own close() would not (undici's PoolBase never settles it if destroyed with requests queued).
// Both end at once a request sleeping in retry back-off or waiting for a first member (ClientClosedError, or
// destroy's error / ClientDestroyedError; close() then destroy(err) in one tick: destroy's, as undici's Client
// ends the requests it still has queued), so that neither resolves with a request still to come; so does the
// caller's abort (for the legacy API, through the abort LegacyCall hands to the caller's onConnect).
//
// Options are checked at creation (a TypeError/RangeError naming the field): a misspelt key, a createFetch
// option the dispatcher has no use for (fetch, hedge, perTryTimeoutMs, deadlineMs, passThrough, onEvent,
// instrumentation) and undici Pool options undici would refuse at a member's first request.
//
//   import { createDispatcher } from 'switchyard/undici';
//   const api = createDispatcher({ target: 'dns:///api.internal:8080', service: 'http://api', policy: 'peak_ewma' });
//   const res = await fetch('http://api/users/42', { dispatcher: api });
import { Client, Dispatcher, Pool, RetryHandler, errors as undiciErrors } from 'undici';
import type { Clock } from '../util/clock.js';
import { checkKeys, intInRange, rangeError, typeError } from '../util/validate.js';
import {
  parseFetchOptions,
  report,
  type CreateFetchOptions,
  type FetchMember,
  type PickSource,
  type PickWaitOptions,
} from './fetch-options.js';
import { cancelPick, NoMemberError } from './fetch.js';
import { BalancerCore } from '../balancing/balancer.js';
import { IDEMPOTENT_METHODS, MAX_RETRY_AFTER_MS, retryAfterMs, Sleepers, sleepMs } from './retry.js';
import {
  fail,
  LegacyCall,
  ModernCall,
  retriedStatus,
  RETRYABLE_CODES,
  Tries,
  type RetryConfig,
  refusedByPool,
  replayable,
  type Routed,
} from './dispatcher-calls.js';
import { originOf, UnsafeTargetError } from './url-guard.js';

export { MAX_RETRY_AFTER_MS };

type DispatchOptions = Dispatcher.DispatchOptions;
type DispatchHandler = Dispatcher.DispatchHandler;

/** A pick as the dispatcher uses it (a Balancer's `Picked`). */
export interface MemberPick {
  type: 'pick';
  member: FetchMember;
  handle: {
    done(o: { ok: boolean; rttMs?: number; status?: number; error?: unknown }): void;
    /** Ends a pick whose request never reached the member (a Balancer's PickHandle has it; else done ok). */
    cancel?(): void;
  };
  /** The Balancer's clock reading at the pick (NaN when it read none): the try's start, saving a clock read. */
  startedAt?: number;
  /** The member's row in the Balancer (a Balancer's `Picked.index`): finds its Pool without a Map lookup. */
  index?: number;
}

/** What the dispatcher needs from a Balancer; `pickAsync` and `on('membership')` are used when present. */
export interface DispatcherPickSource extends PickSource {
  pickAsync?(ctx?: { key?: string; exclude?: ReadonlySet<string> }, opts?: PickWaitOptions): Promise<MemberPick>;
  on?(event: 'membership', fn: (ev: { added: string[]; removed: string[]; updated: string[] }) => void): () => void;
}

export interface CreateDispatcherOptions extends Pick<
  CreateFetchOptions,
  'target' | 'endpoints' | 'policy' | 'healthCheck' | 'outlierDetection' | 'retry' | 'retryThrottling' | 'random'
> {
  /** Your own Balancer (or anything with pick()); otherwise one is built from target/endpoints/policy. */
  balancer?: DispatcherPickSource;
  /**
   * The logical origin this dispatcher balances, e.g. 'http://api'. Requests to other origins go to
   * `fallback`, or fail with UnsafeTargetError without one. Unset: every request is balanced, whatever its origin.
   */
  service?: string;
  /** Where requests for other origins than `service` go (e.g. `new Agent()` when set as the global dispatcher). */
  fallback?: Dispatcher;
  /** Scheme of the member origins (default 'http'). */
  scheme?: 'http' | 'https';
  /** Routing key for hash policies, from the dispatch options, e.g. (o) => o.path. */
  key?: (opts: DispatchOptions) => string | undefined;
  /**
   * How long a request waits for a first usable member (Balancer `pickAsync`; its default when unset), as
   * createFetch's: ms >= 0, 0 for no wait, Infinity for no limit.
   */
  readyTimeoutMs?: number;
  /** Connections per member Pool (undici's default: unlimited). */
  connections?: number | null;
  /** Requests pipelined per connection (undici's default: 1). */
  pipelining?: number;
  /** Other undici Pool options for every member Pool (connect, keepAliveTimeout, headersTimeout, ...). */
  pool?: Pool.Options;
  /** Builds a member's dispatcher (default `new Pool(origin, options)`), as BalancedPool's `factory`. */
  factory?: (origin: string, options: Pool.Options) => Dispatcher;
  /** Time of the retry back-off and of the built stack (default systemClock). */
  clock?: Clock;
}

export interface DispatcherStats {
  /** Requests dispatched (retries not counted). */
  requests: number;
  /** Tries sent to a member (first tries and retries). */
  tries: number;
  retries: number;
  /** Member Pools open now. */
  pools: number;
}

interface MemberPool {
  pool: Dispatcher;
  /** The member object the Pool was opened for (a Balancer keeps it until the member changes). */
  member: FetchMember;
  host: string;
  port: number;
}

/** A pick's `index` usable as a `byRow` slot (a custom pick source may carry anything there). */
const isRow = (row: number | undefined): row is number => row !== undefined && row >>> 0 === row && row < 1 << 20;

/**
 * undici's checks of a legacy handler (core/util.js assertRequestHandler, which undici's own Pool runs), as
 * TypeErrors naming the method: onConnect and onError, onBodySent if set, and onUpgrade for an upgrade (or
 * CONNECT), else onHeaders, onData and onComplete.
 */
function checkLegacyHandler(h: DispatchHandler, opts: DispatchOptions): void {
  const o = h as Record<string, unknown>;
  if (typeof o.onConnect !== 'function') throw typeError('handler.onConnect', 'a function', o.onConnect);
  if (typeof o.onError !== 'function') throw typeError('handler.onError', 'a function', o.onError);
  if (o.onBodySent !== undefined && typeof o.onBodySent !== 'function')
    throw typeError('handler.onBodySent', 'a function or unset', o.onBodySent);
  if (opts.upgrade || opts.method === 'CONNECT') {
    if (typeof o.onUpgrade !== 'function') throw typeError('handler.onUpgrade', 'a function', o.onUpgrade);
  } else if (typeof o.onHeaders !== 'function') throw typeError('handler.onHeaders', 'a function', o.onHeaders);
  else if (typeof o.onData !== 'function') throw typeError('handler.onData', 'a function', o.onData);
  else if (typeof o.onComplete !== 'function') throw typeError('handler.onComplete', 'a function', o.onComplete);
}

/** The options createDispatcher takes (a misspelt one is refused). */
const OPTIONS = [
  'target',
  'endpoints',
  'policy',
  'healthCheck',
  'outlierDetection',
  'retry',
  'retryThrottling',
  'random',
  'balancer',
  'service',
  'fallback',
  'scheme',
  'key',
  'readyTimeoutMs',
  'connections',
  'pipelining',
  'pool',
  'factory',
  'clock',
];

/** createFetch options the dispatcher has no use for: refused by name rather than ignored. */
const FETCH_ONLY = ['fetch', 'hedge', 'perTryTimeoutMs', 'deadlineMs', 'passThrough', 'onEvent', 'instrumentation'];

/**
 * Pool options undici would refuse only at a member's first request (every request then failing): tried now on a
 * Pool and a Client that never connect, undici's refusal becoming a TypeError/RangeError naming `pool.<key>`.
 * The Client sees them as given: NaN and Infinity, which a Pool would silently turn into undici's defaults
 * (JSON-cloning its options), are refused too.
 */
function checkPoolOptions(o: Pool.Options): void {
  try {
    void new Pool('http://127.0.0.1', o).destroy();
    void new Client('http://127.0.0.1', o).destroy();
  } catch (e) {
    if (!refusedByPool(e)) throw e;
    const why = (e as Error).message;
    const words = why.split(/\W+/);
    const k = Object.keys(o).find((key) => words.includes(key));
    if (k === undefined) throw typeError('pool', `undici Pool options (${why})`, o);
    const v = (o as Record<string, unknown>)[k];
    // a number out of range, or a value of another type than undici's (a function, an object, a boolean...)
    const error = typeof v === 'number' && !/function|object|boolean|string/.test(why) ? rangeError : typeError;
    throw error(`pool.${k}`, `a value undici takes (${why})`, v);
  }
}

export class BalancedDispatcher extends Dispatcher {
  /** The Balancer requests are routed by. */
  readonly balancer: DispatcherPickSource;
  readonly clock: Clock;
  private readonly pools = new Map<string, MemberPool>();
  /** `pools` by the Balancer's row of the member (picks carry it), checked against the member object. */
  private byRow: (MemberPool | undefined)[] = [];
  /** The outcome object handed to every `done()` when the pick source is our Balancer (see finish). */
  private readonly outcome: { ok: boolean; rttMs: number | undefined; status: number | undefined } | null;
  /** Pools of removed members (or of a closing dispatcher) finishing their requests, with their close(). */
  private readonly draining = new Map<Dispatcher, Promise<unknown>>();
  private readonly scheme: 'http' | 'https';
  private readonly serviceOrigin: string | undefined;
  private readonly otherOrigins = new Map<string, boolean>();
  private readonly fallback: Dispatcher | undefined;
  private readonly keyOf: ((opts: DispatchOptions) => string | undefined) | undefined;
  private readonly readyTimeoutMs: number | undefined;
  private readonly poolOptions: Pool.Options;
  private readonly factory: (origin: string, options: Pool.Options) => Dispatcher;
  private readonly retry: RetryConfig | null;
  private readonly throttle: { onSuccess(): void; onFailure(): void; allowRetry(): boolean } | null;
  private readonly retryOptions: RetryHandler.RetryOptions | undefined;
  /** The Balancer reads the same clock: a pick's `startedAt` is the try's start. */
  private readonly pickClock: boolean;
  private readonly closeStack: () => void;
  private readonly unsubscribe: (() => void) | undefined;
  private readonly counters = { requests: 0, tries: 0, retries: 0 };
  /**
   * The early ends of retry back-offs (retry.ts sleepMs, as createFetch's) and of waits for a first member
   * (route): close()/destroy() wake them and close them (a back-off that starts later ends at once).
   */
  private readonly sleepers = new Sleepers();
  /** destroy()'s error, which requests woken from back-off end with. */
  private endError: Error | null = null;
  /** 'closed' from close() until it completes, 'destroyed' from destroy() or close()'s completion on. */
  private state: 'open' | 'closed' | 'destroyed' = 'open';
  /** close() was called (undici's `closed`). */
  private closeCalled = false;
  /** Settles every close(): when it has drained, or when a destroy() is done. */
  private closing: { promise: Promise<void>; resolve: () => void } | undefined;
  /** Settles every destroy() (and a close() it interrupted). */
  private destroying: Promise<void> | undefined;

  constructor(options: CreateDispatcherOptions) {
    if (options === null || typeof options !== 'object') throw typeError('options', 'an object', options);
    const o = options;
    // Validate what parseFetchOptions does not see before it builds (and starts) a stack.
    const keyOf = o.key;
    if (keyOf !== undefined && typeof keyOf !== 'function') throw typeError('key', 'a function', keyOf);
    const fallback = o.fallback;
    if (
      fallback !== undefined &&
      (fallback === null || typeof fallback !== 'object' || typeof fallback.dispatch !== 'function')
    )
      throw typeError('fallback', 'an undici Dispatcher', fallback);
    const factory = o.factory;
    if (factory !== undefined && typeof factory !== 'function') throw typeError('factory', 'a function', factory);
    for (const k of FETCH_ONLY)
      if ((o as Record<string, unknown>)[k] !== undefined)
        throw typeError(
          k,
          'unset: a createFetch option the dispatcher does not take',
          (o as Record<string, unknown>)[k],
        );
    checkKeys('options', o, OPTIONS);
    if (o.pool !== undefined && (o.pool === null || typeof o.pool !== 'object'))
      throw typeError('pool', 'an object of undici Pool options', o.pool);
    const poolOptions: Pool.Options = { ...o.pool };
    // as the top-level options below (undici would refuse them only at the first request, blaming the member)
    if (poolOptions.connections != null) intInRange('pool.connections', poolOptions.connections, 1, 1_000_000);
    if (poolOptions.pipelining !== undefined) intInRange('pool.pipelining', poolOptions.pipelining, 0, 1000);
    for (const k of ['connections', 'pipelining'] as const)
      if (o[k] !== undefined && poolOptions[k] !== undefined)
        throw typeError(`pool.${k}`, `absent with ${k} (${String(o[k])})`, poolOptions[k]);
    if (o.connections !== undefined)
      poolOptions.connections = o.connections === null ? null : intInRange('connections', o.connections, 1, 1_000_000);
    if (o.pipelining !== undefined) poolOptions.pipelining = intInRange('pipelining', o.pipelining, 0, 1000);
    if (factory === undefined) checkPoolOptions(poolOptions);
    if (o.balancer !== undefined && (o.balancer === null || typeof o.balancer !== 'object'))
      throw typeError('balancer', 'an object with pick()', o.balancer);
    const cfg = parseFetchOptions({
      ...(o.balancer !== undefined && { balancer: o.balancer }),
      ...(o.target !== undefined && { target: o.target }),
      ...(o.endpoints !== undefined && { endpoints: o.endpoints }),
      ...(o.policy !== undefined && { policy: o.policy }),
      ...(o.healthCheck !== undefined && { healthCheck: o.healthCheck }),
      ...(o.outlierDetection !== undefined && { outlierDetection: o.outlierDetection }),
      ...(o.retry !== undefined && { retry: o.retry }),
      ...(o.retryThrottling !== undefined && { retryThrottling: o.retryThrottling }),
      ...(o.random !== undefined && { random: o.random }),
      ...(o.clock !== undefined && { clock: o.clock }),
      ...(o.service !== undefined && { service: o.service }),
      ...(o.scheme !== undefined && { scheme: o.scheme }),
      // checked as createFetch's (0: no wait, Infinity: no limit), and the built Balancer's default too
      ...(o.readyTimeoutMs !== undefined && { readyTimeoutMs: o.readyTimeoutMs }),
    });
    super();
    this.balancer = cfg.balancer as DispatcherPickSource;
    this.clock = cfg.clock;
    this.pickClock = (this.balancer as { clock?: unknown }).clock === this.clock;
    this.closeStack = cfg.close;
    this.scheme = cfg.scheme;
    this.serviceOrigin = cfg.serviceOrigin;
    this.fallback = fallback;
    this.keyOf = keyOf;
    this.readyTimeoutMs = o.readyTimeoutMs === undefined ? undefined : cfg.readyTimeoutMs;
    this.poolOptions = poolOptions;
    this.factory = factory ?? ((origin, opts) => new Pool(origin, opts));
    this.outcome = this.balancer instanceof BalancerCore ? { ok: true, rttMs: undefined, status: undefined } : null;
    const retryOnStatus = new Uint8Array(600);
    for (const s of cfg.retryOn) retryOnStatus[s] = 1;
    this.retry =
      cfg.maxAttempts > 1
        ? { maxAttempts: cfg.maxAttempts, retryOn: cfg.retryOn, retryOnStatus, backoff: cfg.backoff }
        : null;
    this.throttle = this.retry === null ? null : cfg.throttle;
    this.retryOptions =
      this.retry === null ? undefined : { retry: this.decide as RetryHandler.RetryCallback, throwOnError: false };
    const lb = this.balancer;
    if (typeof lb.on === 'function') {
      this.unsubscribe = lb.on('membership', (ev) => {
        for (const id of ev.removed) this.retire(id);
        for (const id of ev.updated) this.retire(id); // reopened at the next pick if its address changed
      });
    }
  }

  /** Counters since creation, and the member Pools open now. */
  stats(): DispatcherStats {
    return { ...this.counters, pools: this.pools.size };
  }

  /** `true` once close() has been called (as undici's dispatchers). */
  get closed(): boolean {
    return this.closeCalled;
  }

  /** `true` once destroy() has been called or close() has completed (as undici's dispatchers). */
  get destroyed(): boolean {
    return this.state === 'destroyed';
  }

  override dispatch(opts: DispatchOptions, handler: DispatchHandler): boolean {
    if (handler === null || typeof handler !== 'object') throw typeError('handler', 'an object', handler);
    try {
      if (opts === null || typeof opts !== 'object') throw typeError('opts', 'an object', opts);
      // a new request: undici's errors, never destroy()'s (which only ends the requests it finds)
      if (this.state !== 'open')
        throw this.state === 'closed' ? new undiciErrors.ClientClosedError() : new undiciErrors.ClientDestroyedError();
      if (this.serviceOrigin !== undefined && !this.isService(opts.origin)) {
        if (this.fallback !== undefined) return this.fallback.dispatch(opts, handler);
        throw new UnsafeTargetError(
          `origin ${JSON.stringify(String(opts.origin))} is not the balanced service ${this.serviceOrigin} and no fallback is set`,
        );
      }
      const legacy = typeof handler.onRequestStart !== 'function';
      if (legacy) checkLegacyHandler(handler, opts);
      this.counters.requests++;
      const key = this.keyOf?.(opts) ?? undefined;
      const retryable = this.retry !== null && IDEMPOTENT_METHODS.has(opts.method);
      if (legacy) this.route(new LegacyCall(this, opts, handler, key, retryable && replayable(opts.body)));
      else if (!retryable) this.route(new ModernCall(this, new Tries(key), opts, handler));
      else {
        const tries = new Tries(key);
        const dispatch = (o: DispatchOptions, h: DispatchHandler) => {
          // a retry after close()/destroy(): RetryHandler passes the error to the caller
          if (this.state !== 'open') throw this.endingError();
          this.route(new ModernCall(this, tries, o, h));
          return true;
        };
        dispatch(opts, new RetryHandler({ ...opts, retryOptions: this.retryOptions }, { dispatch, handler }));
      }
    } catch (err) {
      fail(handler, err as Error);
    }
    return true;
  }

  /** Picks a member (waiting for one where the Balancer can) and sends the request's next try to its Pool. */
  private route(r: Routed): void {
    const { key } = r.tries;
    const exclude = r.tries.exclude();
    const lb = this.balancer;
    let p = lb.pick(
      exclude === undefined
        ? key === undefined
          ? undefined
          : { key }
        : key === undefined
          ? { exclude }
          : { key, exclude },
    );
    if (p.type === 'none' && exclude !== undefined) p = lb.pick(key === undefined ? undefined : { key });
    if (p.type === 'pick') return this.send(p, r);
    if (typeof lb.pickAsync !== 'function') return r.fail(new NoMemberError(`no member available (${p.reason})`));
    this.wait(lb.pickAsync.bind(lb), key, r);
  }

  /** A member `r` has not tried yet that can be picked now (a transparent retry's), or undefined. */
  private pickUntried(r: Routed): MemberPick | undefined {
    const { key } = r.tries;
    const exclude = r.tries.exclude();
    try {
      const p = this.balancer.pick(key === undefined ? { exclude } : { key, exclude });
      return p.type === 'pick' ? p : undefined;
    } catch {
      return undefined; // the pick source refused: the usual rules (route) say what becomes of the request
    }
  }

  /**
   * Waits for a first member (`pickAsync`), bounded by readyTimeoutMs and the caller's signal; close()/destroy()
   * end the wait at once (their error, read when the request ends: see sleep), and the Balancer drops it.
   */
  private wait(pickAsync: NonNullable<DispatcherPickSource['pickAsync']>, key: string | undefined, r: Routed): void {
    // one signal for the Balancer: the caller's abort (its reason) or close()/destroy() (not AbortSignal.any,
    // which keeps a dependent signal per request on a long-lived caller signal)
    const stop = new AbortController();
    const signal = (r.opts as { signal?: unknown }).signal;
    const caller = signal instanceof AbortSignal ? signal : undefined;
    const onAbort = () => stop.abort(caller!.reason);
    let waiting = true;
    let woken = false;
    // `err` undefined: ended by close()/destroy(), with the error of the ending seen now (see sleep)
    const settle = (picked: MemberPick | undefined, err: Error | undefined) => {
      if (!waiting) {
        if (picked !== undefined) cancelPick(picked.handle); // never sent: not the member's failure
        return;
      }
      waiting = false;
      this.sleepers.delete(wake);
      caller?.removeEventListener('abort', onAbort);
      if (picked !== undefined && this.state === 'open') return this.send(picked, r);
      if (picked !== undefined) cancelPick(picked.handle);
      r.fail(err ?? this.endingError());
    };
    // a pick source that ignores the signal does not hold the request: it ends in a microtask all the same
    const wake = () => {
      woken = true;
      stop.abort();
      queueMicrotask(() => settle(undefined, undefined));
    };
    this.sleepers.add(wake);
    if (caller?.aborted) onAbort();
    else caller?.addEventListener('abort', onAbort, { once: true });
    const opts: PickWaitOptions = { signal: stop.signal };
    if (this.readyTimeoutMs !== undefined) opts.timeoutMs = this.readyTimeoutMs;
    let picking: Promise<MemberPick>;
    try {
      picking = pickAsync(key === undefined ? {} : { key }, opts);
    } catch (err) {
      picking = Promise.reject(err); // through settle: the sleeper and the abort listener go with it
    }
    picking.then(
      (picked) => settle(picked, undefined),
      (err: unknown) => settle(undefined, woken ? undefined : err instanceof Error ? err : new Error(String(err))),
    );
  }

  private send(p: MemberPick, r: Routed): void {
    r.tries.add(p.member.id);
    this.counters.tries++;
    let pool: Dispatcher;
    try {
      const row = p.index;
      const e = isRow(row) ? this.byRow[row] : undefined;
      pool = e !== undefined && e.member === p.member ? e.pool : this.poolOf(p.member, row);
    } catch (err) {
      // undici refusing the Pool options is the configuration's error, not the member's
      if (refusedByPool(err)) cancelPick(p.handle);
      else p.handle.done({ ok: false, rttMs: 0, error: err });
      return r.fail(err as Error);
    }
    r.start(p, pool);
  }

  /**
   * When a try starts: the pick's own clock reading when the Balancer reads our clock, NaN when it read none
   * (nothing uses the RTT then: no clock read at the start nor at the headers); else a reading of ours.
   */
  private startOf(p: MemberPick): number {
    const at = p.startedAt;
    return this.pickClock && typeof at === 'number' ? at : this.clock.now();
  }

  /** Milliseconds since `t0` (0 without a reading: see startOf). */
  private since(t0: number): number {
    return t0 === t0 ? this.clock.now() - t0 : 0;
  }

  /** The member's Pool, opened at its first request (and again when its address changed); `row`: see byRow. */
  private poolOf(member: FetchMember, row: number | undefined): Dispatcher {
    const e = this.pools.get(member.id);
    if (e !== undefined && e.host === member.host && e.port === member.port) {
      if (isRow(row)) {
        e.member = member;
        this.byRow[row] = e;
      }
      return e.pool;
    }
    if (e !== undefined) this.retire(member.id);
    if (!(member.port > 0)) throw rangeError(`member ${member.id}`, 'an endpoint with host and port', member.port);
    const pool = this.factory(originOf(this.scheme, member.host, member.port), this.poolOptions);
    // Connection events re-emitted as undici's pools do, with this dispatcher first in `targets`.
    const on = pool.on.bind(pool) as (ev: string, fn: (...a: unknown[]) => void) => unknown;
    const emit = this.emit.bind(this) as (ev: string, ...a: unknown[]) => boolean;
    for (const ev of ['connect', 'disconnect', 'connectionError'])
      on(ev, (origin, targets, err) => {
        if (this.listenerCount(ev) > 0) emit(ev, origin, [this, ...(targets as Dispatcher[])], err);
      });
    const entry = { pool, member, host: member.host, port: member.port };
    this.pools.set(member.id, entry);
    if (isRow(row)) this.byRow[row] = entry;
    return pool;
  }

  /** Closes a member's Pool once its in-flight requests are done. */
  private retire(id: string): void {
    const e = this.pools.get(id);
    if (e === undefined) return;
    this.pools.delete(id);
    this.byRow = [];
    const closing = e.pool.close().then(
      () => this.draining.delete(e.pool),
      () => this.draining.delete(e.pool),
    );
    this.draining.set(e.pool, closing);
  }

  private isService(origin: DispatchOptions['origin']): boolean {
    if (origin === this.serviceOrigin) return true;
    if (origin === undefined) return false;
    const s = typeof origin === 'string' ? origin : origin.origin;
    let same = this.otherOrigins.get(s);
    if (same === undefined) {
      try {
        same = new URL(s).origin === this.serviceOrigin;
      } catch {
        same = false;
      }
      if (this.otherOrigins.size < 1000) this.otherOrigins.set(s, same);
    }
    return same;
  }

  /** RetryHandler's `retry` hook: our decision (gRPC A6) and back-off on the injected clock. */
  private readonly decide = (
    err: Error & { statusCode?: number; code?: string; headers?: Record<string, string | string[] | undefined> },
    { state }: { state: { counter: number } },
    cb: (err?: Error | null) => void,
  ): void => {
    const r = this.retry!;
    const status = err.statusCode;
    if (status !== undefined && status < 500 && !retriedStatus(r, status)) return cb(err); // a plain answer
    const retryable =
      status !== undefined ? retriedStatus(r, status) : err.code !== undefined && RETRYABLE_CODES.has(err.code);
    if (!retryable || state.counter >= r.maxAttempts || this.state !== 'open' || !(this.throttle?.allowRetry() ?? true))
      return cb(err);
    const ra = err.headers?.['retry-after'];
    const after = retryAfterMs(typeof ra === 'string' ? ra : null);
    if (after > MAX_RETRY_AFTER_MS) return cb(err); // RetryHandler passes the response on as is
    this.counters.retries++;
    // close()/destroy() during the wait: cb(err) at once, RetryHandler ends the request (or, for a retried
    // status, passes the response it holds on to the caller)
    this.sleep(Math.max(r.backoff.delayMs(state.counter), after), () => cb(null), cb);
  };

  /**
   * Runs `next` after `ms` on the clock (a retry's back-off), or `stop` with the ending's error as soon as
   * close()/destroy() or an abort of `signal` (the caller's, LegacyCall) come first (they wake the wait).
   */
  private sleep(ms: number, next: () => void, stop: (err: Error) => void, signal?: AbortSignal): void {
    const then = (aborted: boolean) => {
      try {
        if (aborted) stop(signal!.reason as Error);
        else if (this.state === 'open') next();
        else stop(this.endingError());
      } catch (thrown) {
        report(thrown); // a caller's handler that throws: as it would from a timer
      }
    };
    // a back-off that starts after close()/destroy() (a retried response ending late) ends at once (see stopTaking)
    sleepMs(this.clock, ms, signal, this.sleepers).then(
      () => then(false),
      () => then(true),
    );
  }

  /** What a request ended by close()/destroy() fails with: ClientClosedError, or destroy()'s error. */
  private endingError(): Error {
    return this.state === 'closed'
      ? new undiciErrors.ClientClosedError()
      : (this.endError ?? new undiciErrors.ClientDestroyedError());
  }

  /**
   * Stops taking requests, lets every member Pool finish its requests, then stops the built stack; the
   * dispatcher is then destroyed. Rejects with ClientDestroyedError once destroy() was called (as undici's).
   */
  override close(): Promise<void>;
  override close(callback: () => void): void;
  override close(callback?: () => void): Promise<void> | void {
    if (callback !== undefined && typeof callback !== 'function') throw typeError('callback', 'a function', callback);
    const done =
      this.state === 'destroyed' ? Promise.reject(new undiciErrors.ClientDestroyedError()) : this.startClose();
    if (callback === undefined) return done;
    settleWith(done, callback);
  }

  /**
   * Aborts every request in flight (with `err`, else ClientDestroyedError), closes every member Pool and stops the
   * built stack. A second destroy() waits for the first (its error is not used).
   */
  override destroy(): Promise<void>;
  override destroy(err: Error | null): Promise<void>;
  override destroy(callback: () => void): void;
  override destroy(err: Error | null, callback: () => void): void;
  override destroy(a?: Error | null | (() => void), b?: () => void): Promise<void> | void {
    const err = typeof a === 'function' ? null : (a ?? null);
    const callback = typeof a === 'function' ? a : b;
    if (callback !== undefined && typeof callback !== 'function') throw typeError('callback', 'a function', callback);
    const done = this.startDestroy(err);
    if (callback === undefined) return done;
    settleWith(done, callback);
  }

  /** What close() and destroy() both do first: stop taking requests, wake the sleepers, retire the member Pools. */
  private stopTaking(how: 'closed' | 'destroyed', err: Error | null): void {
    this.state = how;
    this.unsubscribe?.();
    // requests in retry back-off or waiting for a member end now (woken, each ends in a later microtask, with
    // the error of the ending it sees then: see sleep), before close() resolves, so nothing is left to come (a
    // new-API request holding a retried response passes it on to the caller, and its Pool's close() waits for it);
    // closed, the sleepers end at once a back-off that starts later
    this.endError = err;
    this.sleepers.wake(true);
    for (const id of [...this.pools.keys()]) this.retire(id);
  }

  private startClose(): Promise<void> {
    if (this.closing !== undefined) return this.closing.promise;
    this.closeCalled = true;
    let resolve!: () => void;
    const promise = new Promise<void>((r) => (resolve = r));
    this.closing = { promise, resolve };
    this.stopTaking('closed', null);
    void Promise.all(this.draining.values()).then(() => {
      if (this.state !== 'closed') return; // destroy() came first: it settles close()
      this.state = 'destroyed'; // as undici: a completed close() destroys
      this.closeStack();
      resolve();
    });
    return promise;
  }

  private startDestroy(err: Error | null): Promise<void> {
    if (this.state === 'destroyed') return this.destroying ?? this.closing!.promise;
    this.stopTaking('destroyed', err);
    // also the pools still draining (of removed members, or of an earlier close())
    const ends = [...this.draining.keys()].map((p) => p.destroy(err).catch(() => {}));
    this.destroying = Promise.all(ends).then(() => {
      this.closeStack();
      this.closing?.resolve();
    });
    return this.destroying;
  }
}

/** Calls a close()/destroy() callback as undici's do: `(null, null)`, or `(err, null)`. */
function settleWith(done: Promise<void>, callback: () => void): void {
  const cb = callback as (err: Error | null, data: null) => void;
  void done.then(
    () => cb(null, null),
    (err: Error) => cb(err, null),
  );
}

/** `new BalancedDispatcher(options)`: an undici Dispatcher over a Balancer's members. */
export function createDispatcher(options: CreateDispatcherOptions): BalancedDispatcher {
  return new BalancedDispatcher(options);
}

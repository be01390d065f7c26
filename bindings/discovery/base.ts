// What every resolver is built from, so that the contract of resolver.ts (after @grpc/grpc-js's Resolver)
// is implemented once:
// - Delivery: listener calls asynchronous (a microtask), in order, none after close(); an identical list
//   is reported once unless an error came between;
// - RefreshLimiter: `refresh()` runs a resolution at most once per `minRefreshIntervalMs` (grpc-js: 30 s);
// - Pause: a background wait that `refresh()` and `close()` cut short (consul, etcd);
// - ResolverBase: the options every polling resolver takes (clock, minRefreshIntervalMs, uri), its
//   `refresh()`/`close()`, and `fail()`, which reports a failure as a `ResolverError` naming the target;
// - msOption: the reader of every millisecond option; fetchOption: of the `fetch` option (etcd, Consul, DoH).
// Back-off after failures is util/backoff.ts's `Backoff` (the fetch retry's options), used without jitter:
// the n-th consecutive failure waits `capMs(n)` = min(initialBackoffMs × backoffMultiplier^(n−1), maxBackoffMs).
//
//   class PollResolver extends ResolverBase {
//     private readonly pause = new Pause(this.clock);
//     protected onRefresh() { this.pause.wake(); }
//     protected onClose() { this.pause.wake(); }
//   }
import { systemClock, validateClock, type Clock, type TimerHandle } from '../util/clock.js';
import { sameEndpoints, type Endpoint } from '../util/endpoint.js';
import { rangeError, typeError } from '../util/validate.js';
import type { CommonResolverOptions, FetchLike, Resolver, ResolverListener } from './resolver.js';
import { RESOLVER_FAILURE, ResolverError } from './errors.js';

export const DEFAULT_MIN_REFRESH_INTERVAL_MS = 30_000;

/** A non-negative finite number of milliseconds, or `dflt` when undefined; TypeError/RangeError naming `field`. */
export function msOption(field: string, v: unknown, dflt: number): number {
  if (v === undefined) return dflt;
  if (typeof v !== 'number') throw typeError(field, 'a finite number >= 0', v);
  if (!Number.isFinite(v) || v < 0) throw rangeError(field, 'a finite number >= 0', v);
  return v;
}

/** Whether `s` parses as an absolute URL. */
export function isUrl(s: string): boolean {
  try {
    new URL(s);
    return true;
  } catch {
    return false;
  }
}

/** The `fetch` option: a function, or the global fetch (looked up at each call) when undefined. */
export function fetchOption(field: string, v: unknown): FetchLike {
  if (v === undefined) return (u, i) => fetch(u, i);
  if (typeof v !== 'function') throw typeError(field, 'a fetch function (url, init) => Promise<Response>', v);
  return v as FetchLike;
}

/**
 * Listener delivery shared by all resolvers: asynchronous (a microtask), in order, nothing after close(),
 * identical consecutive lists reported once (unless an error came between them).
 */
export class Delivery {
  #last: Endpoint[] | undefined;
  #errorSinceLast = false;
  #closed = false;
  readonly #queue: Array<() => void> = [];
  #scheduled = false;

  readonly #listener: ResolverListener;

  constructor(listener: ResolverListener) {
    this.#listener = listener;
    if (listener === null || typeof listener !== 'object') throw typeError('listener', 'a ResolverListener', listener);
    if (typeof listener.onEndpoints !== 'function')
      throw typeError('listener.onEndpoints', 'a function', listener.onEndpoints);
    if (typeof listener.onError !== 'function') throw typeError('listener.onError', 'a function', listener.onError);
    if (listener.onServiceConfig !== undefined && typeof listener.onServiceConfig !== 'function')
      throw typeError('listener.onServiceConfig', 'a function', listener.onServiceConfig);
  }

  /** The last list reported (or queued), if any. */
  get current(): readonly Endpoint[] | undefined {
    return this.#last;
  }

  endpoints(list: Endpoint[]): void {
    if (this.#closed) return;
    if (this.#last !== undefined && !this.#errorSinceLast && sameEndpoints(this.#last, list)) return;
    this.#last = list;
    this.#errorSinceLast = false;
    const copy = list.slice();
    const listener = this.#listener;
    this.#push(function onEndpoints(this: void) {
      listener.onEndpoints(copy);
    });
  }

  /** A service config for the listener's `onServiceConfig` (dropped when it has none). */
  serviceConfig(config: Record<string, unknown>): void {
    if (this.#closed || this.#listener.onServiceConfig === undefined) return;
    const listener = this.#listener;
    this.#push(function onServiceConfig() {
      listener.onServiceConfig!(config);
    });
  }

  error(e: Error): void {
    if (this.#closed) return;
    // a failed resolution (a ResolverError, by its brand) re-reports the next list, identical or not, which
    // clears the listener's error state; a skipped entry's TypeError/RangeError came with a list and does not
    if ((e as { [RESOLVER_FAILURE]?: true } | null)?.[RESOLVER_FAILURE] === true) this.#errorSinceLast = true;
    this.#push(() => this.#tell(e));
  }

  /** The listener's onError; what it throws is dropped (an error handler's failure has nowhere to go). */
  #tell(e: Error): void {
    try {
      this.#listener.onError(e);
    } catch {
      // dropped
    }
  }

  close(): void {
    this.#closed = true;
    this.#queue.length = 0;
  }

  #push(fn: () => void): void {
    this.#queue.push(fn);
    if (this.#scheduled) return;
    this.#scheduled = true;
    queueMicrotask(() => {
      this.#scheduled = false;
      // A throwing listener must not stop the resolver or drop later calls: an exception from
      // onEndpoints or onServiceConfig is handed to onError (unless the listener closed the resolver
      // before throwing); one from onError is dropped (#tell).
      while (this.#queue.length > 0 && !this.#closed) {
        const f = this.#queue.shift()!;
        try {
          f();
        } catch (err) {
          if (!this.#closed) this.#tell(err instanceof Error ? err : new Error(String(err)));
        }
      }
    });
  }
}

/** A rate limit for `refresh()`: runs `fn` now, or once when the interval since the last run has passed. */
export class RefreshLimiter {
  private lastRunMs = -Infinity;
  private pending: TimerHandle | undefined;
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

/** A background wait on `clock` that `wake()` ends early (a refresh, close). One wait at a time. */
export class Pause {
  private timer: TimerHandle | undefined;
  private done: (() => void) | undefined;
  constructor(private readonly clock: Clock) {}
  /** Resolves after `ms` (at once when `ms` <= 0) or at the next `wake()`. */
  sleep(ms: number): Promise<void> {
    if (ms <= 0) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
        this.timer = undefined;
        this.done = undefined;
        resolve();
      };
      this.done = done;
      this.timer = this.clock.setTimeout(done, ms, { background: true });
    });
  }
  /** Ends the current wait, if any. */
  wake(): void {
    this.done?.();
  }
}

/** Options renamed when the resolvers took the retry back-off's names; a stale name is an error, not ignored. */
const RENAMED: ReadonlyArray<[string, string]> = [
  ['backoffMs', 'initialBackoffMs'],
  ['errorBackoffMs', 'initialBackoffMs'],
  ['timers', 'clock'],
];

/**
 * A polling resolver's shared half: validates the common options and the listener, rate-limits
 * `refresh()` into `onRefresh()`, and on the first `close()` silences the listener, drops a pending
 * refresh and calls `onClose()` to stop streams, requests and timers.
 */
export abstract class ResolverBase implements Resolver {
  /** The target URI, as named in this resolver's `ResolverError`s. */
  readonly uri: string;
  protected readonly out: Delivery;
  protected readonly clock: Clock;
  protected readonly limiter: RefreshLimiter;
  protected closed = false;

  /** `defaultUri`: the target URI when `opts.uri` is not given. */
  constructor(opts: CommonResolverOptions, listener: ResolverListener, defaultUri: string) {
    if (opts === null || typeof opts !== 'object') throw typeError('options', 'an object', opts);
    if (opts.uri !== undefined && typeof opts.uri !== 'string') throw typeError('uri', 'a target URI string', opts.uri);
    this.uri = opts.uri ?? defaultUri;
    for (const [was, now] of RENAMED) {
      const v = (opts as Record<string, unknown>)[was];
      if (v !== undefined) throw typeError(was, `unset: it was renamed ${now}`, v);
    }
    this.clock = opts.clock === undefined ? systemClock : validateClock('clock', opts.clock);
    const minRefreshIntervalMs = msOption(
      'minRefreshIntervalMs',
      opts.minRefreshIntervalMs,
      DEFAULT_MIN_REFRESH_INTERVAL_MS,
    );
    this.out = new Delivery(listener);
    this.limiter = new RefreshLimiter(minRefreshIntervalMs, this.clock, () => this.onRefresh());
  }

  /** Re-resolve soon: at most once per `minRefreshIntervalMs`. */
  refresh(): void {
    this.limiter.request();
  }

  /** Stops everything; no listener call follows. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.out.close();
    this.limiter.close();
    this.onClose();
  }

  /** Reports a failure of the resolution (the last good list stays) as a ResolverError naming the target. */
  protected fail(e: unknown): void {
    this.out.error(ResolverError.wrap(this.uri, e));
  }

  /** A rate-limited refresh is due. */
  protected abstract onRefresh(): void;
  /** Stop streams, requests and timers (called once, after the listener is silenced). */
  protected abstract onClose(): void;
}

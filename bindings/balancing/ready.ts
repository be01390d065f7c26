// The Balancer's wait queue: picks (and `ready()` calls) that could not be served when they were made wait
// here until a picker publication can serve them (grpc-js's ChannelImplementation queues picks while the
// picker answers QUEUE and re-tries every queued pick on each new picker).
//
// Each waiter is re-tried, in arrival order, on every `wake()` (the Balancer calls it after each publish).
// A waiter ends exactly once: served (resolve), at its deadline (`clock.setTimeout`, an ordinary timer since
// the caller awaits it) with UnavailableError, on its AbortSignal with the signal's reason, or by `failAll`.
// Ending clears its timer and removes its abort listener, so nothing outlives the wait.
import type { Clock, TimerHandle } from '../util/clock.js';
import { nonNegativeMs, typeError } from '../util/validate.js';

export interface WaitOptions {
  /** Milliseconds to wait at most (default: the balancer's `readyTimeoutMs`). */
  timeoutMs?: number;
  /** Aborting rejects the wait with the signal's reason. */
  signal?: AbortSignal;
}

interface Waiter<T> {
  /** Returns the value when the waiter can be served now, else undefined. */
  attempt: () => T | undefined;
  resolve: (v: T) => void;
  reject: (e: unknown) => void;
  /** Set when the wait has a deadline. */
  timer?: TimerHandle;
  signal: AbortSignal | undefined;
  /** Set when the wait has a signal. */
  onAbort?: () => void;
  done: boolean;
}

/** Validates `opts` (fields named `timeoutMs`, `signal`) and returns the timeout to use. */
export function waitTimeout(opts: WaitOptions | undefined, dfltMs: number): number {
  if (opts === undefined) return dfltMs;
  if (opts === null || typeof opts !== 'object') throw typeError('options', 'an object { timeoutMs?, signal? }', opts);
  const s = opts.signal;
  if (s !== undefined && (s === null || typeof s !== 'object' || typeof s.addEventListener !== 'function'))
    throw typeError('signal', 'an AbortSignal', s);
  const ms = opts.timeoutMs;
  if (ms === undefined) return dfltMs;
  return nonNegativeMs('timeoutMs', ms);
}

export class WaitQueue {
  readonly #waiters: Waiter<unknown>[] = [];
  #waking = false;
  #again = false;

  readonly #clock: Clock;

  constructor(clock: Clock) {
    this.#clock = clock;
  }

  /** Waiters not yet ended. */
  get size(): number {
    return this.#waiters.length;
  }

  /**
   * Waits until `attempt()` returns a value (tried on each `wake()`), for at most `timeoutMs`; `onTimeout`
   * makes the deadline's error.
   */
  wait<T>(
    attempt: () => T | undefined,
    timeoutMs: number,
    signal: AbortSignal | undefined,
    onTimeout: () => Error,
  ): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      if (signal?.aborted === true) {
        reject(signal.reason);
        return;
      }
      const w: Waiter<T> = { attempt, resolve, reject, signal, done: false };
      // Infinity: no deadline (only the signal or a resolver error ends the wait)
      if (Number.isFinite(timeoutMs))
        w.timer = this.#clock.setTimeout(() => this.#end(w as Waiter<unknown>, false, onTimeout()), timeoutMs);
      if (signal !== undefined) {
        w.onAbort = () => this.#end(w as Waiter<unknown>, false, signal.reason);
        signal.addEventListener('abort', w.onAbort, { once: true });
      }
      this.#waiters.push(w as Waiter<unknown>);
    });
  }

  /** Re-tries every waiter in arrival order; re-entrant calls (a serve that publishes) loop once more. */
  wake(): void {
    if (this.#waiters.length === 0) return;
    if (this.#waking) {
      this.#again = true;
      return;
    }
    this.#waking = true;
    try {
      do {
        this.#again = false;
        for (const w of this.#waiters.slice()) {
          if (w.done) continue;
          let v: unknown;
          try {
            v = w.attempt();
          } catch (e) {
            this.#end(w, false, e);
            continue;
          }
          if (v !== undefined) this.#end(w, true, v);
        }
      } while (this.#again && this.#waiters.length > 0);
    } finally {
      this.#waking = false;
    }
  }

  /** Rejects every waiter with `error`. */
  failAll(error: unknown): void {
    for (const w of this.#waiters.slice()) this.#end(w, false, error);
  }

  #end(w: Waiter<unknown>, ok: boolean, v: unknown): void {
    if (w.done) return;
    w.done = true;
    if (w.timer !== undefined) this.#clock.clearTimeout(w.timer);
    if (w.onAbort !== undefined) w.signal!.removeEventListener('abort', w.onAbort);
    const i = this.#waiters.indexOf(w);
    if (i >= 0) this.#waiters.splice(i, 1);
    if (ok) w.resolve(v);
    else w.reject(v);
  }
}

// Retry policy pieces, after gRPC A6 (client-side retries):
// - back-off: util/backoff.ts (full jitter, shared with the resolvers' reconnects);
// - throttling: a token bucket starting full at maxTokens; each failed attempt takes 1, each success adds
//   tokenRatio; retries (and hedges) are allowed only while tokens > maxTokens / 2, so retries cannot
//   multiply load during an outage. gRPC has no defaults (a service config gives both); ours, maxTokens 100 and
//   tokenRatio 0.25, let retries flow while fewer than 20 % of tries fail (0.25 / 1.25: the budget percentage
//   of Finagle's RetryBudget and Envoy's retry budgets) and absorb a burst of 49 failures from full. A user
//   walkthrough with gRPC's example values (10, 0.1: cut at 9 % failures, after 5 in a burst) had 3-56 of 4 000
//   requests fail while one member of four answered 503 to 30 % of its requests (no outlier detection);
//   these: none, and 1.01 tries per request when every member answers 503 (scratch measurement, 50 loops);
// - `Retry-After` (seconds or an HTTP date) raises the wait; a wait past the deadline, or a Retry-After over
//   MAX_RETRY_AFTER_MS, ends the retries (the response is the answer);
// - the wait itself runs on the injected clock (`sleepMs`); close() ends it early through `Sleepers`: it wakes
//   every wait and, once closed, a wait that starts later (a try in flight at close() failing) ends at once.
import type { Clock } from '../util/clock.js';
import { intInRange, positive } from '../util/validate.js';

/** Methods retried without being told (gRPC A6 / RFC 9110 idempotent methods). */
export const IDEMPOTENT_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE', 'TRACE']);

/** The retry budget (gRPC A6 retryThrottling): retries are allowed while tokens > maxTokens / 2. */
export interface ThrottleOptions {
  /** Tokens when full, an integer in [1, 1000] (default 100); a failed try takes one. */
  maxTokens?: number;
  /** Tokens a successful try gives back (default 0.25: retries flow while under 20 % of tries fail). */
  tokenRatio?: number;
}

export class RetryThrottle {
  declare readonly maxTokens: number;
  declare readonly tokenRatio: number;
  #tokens: number;

  constructor(o: ThrottleOptions = {}) {
    this.maxTokens = o.maxTokens === undefined ? 100 : intInRange('retryThrottling.maxTokens', o.maxTokens, 1, 1000);
    this.tokenRatio = o.tokenRatio === undefined ? 0.25 : positive('retryThrottling.tokenRatio', o.tokenRatio);
    this.#tokens = this.maxTokens;
  }

  get tokenCount(): number {
    return this.#tokens;
  }

  onSuccess(): void {
    this.#tokens = Math.min(this.maxTokens, this.#tokens + this.tokenRatio);
  }

  onFailure(): void {
    this.#tokens = Math.max(0, this.#tokens - 1);
  }

  allowRetry(): boolean {
    return this.#tokens > this.maxTokens / 2;
  }
}

/** Milliseconds to wait from a `Retry-After` value (seconds, or an HTTP date: to the wall clock); 0 without one. */
export function retryAfterMs(value: string | null): number {
  if (value === null) return 0;
  const v = value.trim();
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  const at = Date.parse(v);
  return at === at ? Math.max(0, at - Date.now()) : 0;
}

/**
 * The longest `Retry-After` a retry waits for (30 s): a member asking for more gets no retry, and its response
 * goes to the caller (the fetch wrapper and the dispatcher alike).
 */
export const MAX_RETRY_AFTER_MS = 30_000;

/**
 * The waits (back-offs, and the dispatcher's waits for a member) that close() ends: each waiting one is here as
 * its early end. Shared by createFetch and createDispatcher.
 */
export class Sleepers extends Set<() => void> {
  /** A sleepMs that starts now ends at once. */
  declare closed?: boolean;

  /** Wakes every sleeper (each leaves the set); with `close`, a sleepMs that starts later ends at once too. */
  wake(close: boolean): void {
    this.closed ||= close;
    for (const wake of this) wake();
  }
}

/**
 * Waits `ms` on `clock` (an ordinary timer: the caller awaits it); rejects with the signal's reason on abort.
 * While it waits its early end is in `sleepers`; once they are closed it resolves at once.
 */
export function sleepMs(clock: Clock, ms: number, signal?: AbortSignal, sleepers?: Sleepers): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    if (sleepers?.closed) return resolve();
    const end = (fail: boolean) => {
      clock.clearTimeout(t);
      signal?.removeEventListener('abort', onAbort);
      sleepers?.delete(wake);
      if (fail) reject(signal!.reason);
      else resolve();
    };
    const wake = () => end(false);
    const onAbort = () => end(true);
    const t = clock.setTimeout(wake, ms);
    signal?.addEventListener('abort', onAbort); // removed by end
    sleepers?.add(wake);
  });
}

// One deadline for the requests the library sends on its own (DoH queries, etcd calls, Consul queries): an
// AbortController that a background timer (it keeps no process alive) aborts after `timeoutMs`, cleared when the
// request settles. A request cut off by the timer, or by a cancel of `live`, rejects with what `aborted` makes of
// its error (a typed timeout error in place of the fetch's AbortError).
//
//   await abortAfter(clock, 5_000, (signal) => fetch(url, { signal }), {
//     aborted: (e, timedOut) => (timedOut ? new Error('no answer within 5000 ms') : e),
//   });
import type { Clock } from './clock.js';

export interface AbortAfterOptions {
  /** Holds the controller while the request runs, for a close() that aborts every request in flight. */
  live?: Set<AbortController>;
  /** The error to throw when the request failed after an abort; `timedOut`: the timer aborted it. */
  aborted?: (error: unknown, timedOut: boolean) => unknown;
}

/** Runs `run` with a signal aborted after `timeoutMs` (see the module header). */
export async function abortAfter<T>(
  clock: Clock,
  timeoutMs: number,
  run: (signal: AbortSignal) => Promise<T>,
  options: AbortAfterOptions = {},
): Promise<T> {
  const ac = new AbortController();
  const { live, aborted } = options;
  live?.add(ac);
  let timedOut = false;
  const timer = clock.setTimeout(
    () => {
      timedOut = true;
      ac.abort();
    },
    timeoutMs,
    { background: true },
  );
  try {
    return await run(ac.signal);
  } catch (e) {
    throw ac.signal.aborted && aborted !== undefined ? aborted(e, timedOut) : e;
  } finally {
    clock.clearTimeout(timer);
    live?.delete(ac);
  }
}

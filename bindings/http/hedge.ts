// Hedged requests for the fetch wrapper (gRFC A6 hedging policy): the first try starts at once and, while none
// has answered acceptably, another starts every `delayMs`, up to `maxAttempts` tries in flight, each on a member
// not tried yet. The first acceptable response wins (a status outside `retryOn`) and the others are aborted (the
// body of every answer not returned is cancelled: it would hold its connection until garbage-collected); a
// retryable status or an error only lets the next hedge start at once when nothing else is running. Hedges
// draw on the same retry budget as retries and stop at the deadline. Idempotent requests with a body that can be
// sent again only (fetch.ts decides; others run as plain requests).
//
// `switchyard` registers it; `switchyard/lite` refuses the `hedge` option until `registerHedging()`, so pages
// that never hedge do not carry it (nor the option's checks: `hedged.options`).
import type { Call, TryResult } from './fetch.js';
import { DeadlineExceededError, NoMemberError } from './fetch.js';
import type { HedgeConfig } from './fetch-options.js';
import { sleepMs } from './retry.js';
import { checkKeys, intInRange, positive, typeError } from '../util/validate.js';

/** The runner of hedged requests (hedge), with `options`, which checks the `hedge` option and returns its config. */
export const hedged = /* @__PURE__ */ Object.assign(hedge, { options });

/** The `hedge` option, checked (TypeError/RangeError naming the field; a misspelt key refused). */
function options(h: unknown): HedgeConfig {
  if (h === null || typeof h !== 'object') throw typeError('hedge', 'an object { delayMs }', h);
  checkKeys('hedge', h, ['delayMs', 'maxAttempts']);
  const { delayMs, maxAttempts } = h as Record<string, unknown>;
  return {
    delayMs: positive('hedge.delayMs', delayMs),
    maxAttempts: maxAttempts === undefined ? 2 : intInRange('hedge.maxAttempts', maxAttempts, 1, 10),
    run: hedge,
  };
}

/** Runs `call` with hedged tries (module header). */
async function hedge(call: Call, h: { delayMs: number; maxAttempts: number }): Promise<Response> {
  const sh = call.sh;
  const { clock, throttle, retryOn } = sh.cfg;
  const signal = call.signal;
  // aborted before the first try: nothing is sent (its listener below would never hear that abort)
  if (signal?.aborted) return call.fail(signal.reason);
  const n = h.maxAttempts;
  // aborted when the request ends, however it ends: ends the tries that lost and the pending hedge delay; the
  // caller's abort reaches it too (the tries still waiting for a member end with it)
  const losers = new AbortController();
  const onCaller = () => losers.abort(signal!.reason);
  signal?.addEventListener('abort', onCaller, { once: true });
  const running = new Set<Promise<TryResult>>();
  /** Tries that settled and were not looked at yet (two may settle in one tick: each is judged). */
  const settled: TryResult[] = [];
  /** Every try started; the one whose response is returned is `kept`. */
  const tries: Promise<TryResult>[] = [];
  let kept: TryResult | undefined;
  let started = 0;
  let lastResult: TryResult | undefined;
  const launch = () => {
    started++;
    if (started > 1) {
      sh.stats.hedges++;
      if (sh.observed) sh.emit({ type: 'hedge', request: call.request, attempt: started });
    }
    const p = call.send(started, started > 1, losers.signal);
    running.add(p);
    tries.push(p);
    // registered before the race's own reaction, so a try that wins the race is in `settled` when it returns;
    // send rejects only when a PickSource's handle throws: the race below fails the request with it
    p.then(
      (r) => {
        running.delete(p);
        settled.push(r);
      },
      () => running.delete(p),
    );
  };
  try {
    launch();
    while (running.size > 0 || settled.length > 0) {
      if (settled.length === 0) {
        // not after close() stopped the Balancer createFetch built (its pick would fail)
        const canHedge = started < n && !sh.sleepers.closed && call.budgetAllows() && clock.now() < call.deadlineAt;
        const delay = canHedge
          ? sleepMs(clock, h.delayMs, losers.signal).then(
              () => 'hedge' as const,
              () => 'aborted' as const,
            )
          : new Promise<never>(() => {});
        const next = await Promise.race([...running, delay]);
        if (next === 'aborted') return call.fail(signal!.reason);
        if (next === 'hedge') {
          if (!sh.sleepers.closed) launch();
          continue;
        }
      }
      const winner = settled.shift()!;
      lastResult = winner;
      const acceptable = 'res' in winner && !retryOn.has(winner.status);
      if (acceptable) {
        throttle?.onSuccess();
        return call.ok((kept = winner));
      }
      if (!('err' in winner && winner.unsent === true)) throttle?.onFailure();
      if (signal?.aborted) return call.fail(signal.reason);
      const more = () => running.size > 0 || settled.length > 0;
      if ('res' in winner && more()) await winner.res.body?.cancel().catch(() => {});
      if (!more() && started < n && !sh.sleepers.closed && call.budgetAllows() && clock.now() < call.deadlineAt)
        launch();
    }
    if (lastResult !== undefined && 'res' in lastResult) return call.ok((kept = lastResult));
    if (lastResult === undefined) return call.fail(new NoMemberError('no try was made'));
    // a wait for a member that the deadline ended (send() tells)
    if (lastResult.late === true)
      return call.fail(
        new DeadlineExceededError(`deadline of ${sh.cfg.deadlineMs} ms exceeded while waiting for a member`, {
          cause: lastResult.err,
        }),
      );
    return call.fail(lastResult.err);
  } finally {
    signal?.removeEventListener('abort', onCaller);
    losers.abort();
    // the responses not returned (a retryable status a later hedge replaced, a loser answering in the winner's
    // tick, which the abort comes too late for): their bodies would hold their connections until collected
    for (const p of tries)
      p.then(
        (r) => void (r !== kept && 'res' in r && r.res.body?.cancel().catch(() => {})),
        () => {},
      );
  }
}

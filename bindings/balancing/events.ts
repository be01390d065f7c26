// What the Balancer hands out and reports: pick results and completion outcomes, the events ('picker',
// 'membership', 'availability', 'outcome') and the stats snapshot, plus the listener lists behind `on()`.
// Times are milliseconds on the Balancer's clock.
import type { Endpoint } from '../util/endpoint.js';
import type { LoadReport } from './dynamic-weights.js';
import type { PriorityLevelStats } from './priority.js';
import { rangeError, typeError } from '../util/validate.js';

export interface Outcome {
  ok: boolean;
  /** Round-trip time; when absent, measured from the pick on the balancer's clock (if it timed the pick, see measureRtt; else NaN). */
  rttMs?: number;
  /** The response status, an integer in [0, 999] (0: none, as an opaque browser response); else a RangeError. */
  status?: number;
  error?: unknown;
  /** A per-call load report (ORCA), for policies with load-report weights. */
  load?: LoadReport;
}

export interface PickHandle {
  /** Ends the request. A second call is a no-op. */
  done(outcome: Outcome): void;
  /**
   * Ends a pick whose request never reached the member (the caller's own error, an abandoned pick): its
   * in-flight count drops and nothing else is recorded (no RTT, no failure, no 'outcome' event). After done()
   * or cancel(), a no-op.
   */
  cancel(): void;
}

/**
 * Why nothing was picked: 'empty' (no members: none listed yet, or all removed), 'no-healthy' (every member
 * unavailable, or panic mode 'fail'), 'pending' (warming: no member available yet and some await their first
 * health result), 'closed' (`close()` was called).
 */
export type NoneReason = 'empty' | 'no-healthy' | 'pending' | 'closed';

export type PickResult =
  { type: 'pick'; member: Endpoint; index: number; handle: PickHandle } | { type: 'none'; reason: NoneReason };

export type Picked = Extract<PickResult, { type: 'pick' }>;

export interface OutcomeEvent {
  id: string;
  ok: boolean;
  /** NaN when not measured (no policy, option or listener needs it: see `on('outcome', fn, { rtt: false })`). */
  rttMs: number;
  status: number | undefined;
  /**
   * When the request completed (the clock reading, ms); NaN when no listener reads it (all were added with
   * `rtt: false`) and nothing else read the clock at the completion.
   */
  at: number;
  /** The `error` given to `done()` (outlier detection names it in an ejection's reason), if any. */
  error?: unknown;
}
export interface MembershipEvent {
  added: string[];
  removed: string[];
  /** Members whose weight, priority, address or metadata changed. */
  updated: string[];
}
export interface AvailabilityEvent {
  id: string;
  available: boolean;
  reason: string | undefined;
}
export interface PickerEvent {
  version: number;
  eligible: number;
  panic: boolean;
  /** No member available yet and some await their first health result (see Balancer). */
  warming: boolean;
  /** The policy that built the picker. */
  policy: string;
}

export type EventName = 'picker' | 'membership' | 'availability' | 'outcome';

export interface MemberStats {
  id: string;
  weight: number;
  available: boolean;
  active: number;
  picks: number;
  failures: number;
  /** Awaiting its first health result (unavailable, not counted for panic). */
  pending: boolean;
  /** Priority level (0 = preferred). */
  priority: number;
  [policyField: string]: unknown;
}

export interface BalancerStats {
  policy: string;
  backend: 'wasm' | 'js';
  version: number;
  eligible: number;
  panic: boolean;
  /** See PickerEvent.warming. */
  warming: boolean;
  /** Picks waiting in `pickAsync()` / `ready()`. */
  waiting: number;
  /** Per priority level (priority.ts), when members have priorities other than 0 or localities (else absent). */
  levels?: PriorityLevelStats[];
  members: MemberStats[];
}

/** Listener lists by event; `emit` calls a snapshot of the list, so listeners may unsubscribe while called. */
export class Listeners {
  readonly picker: ((ev: PickerEvent) => void)[] = [];
  readonly membership: ((ev: MembershipEvent) => void)[] = [];
  readonly availability: ((ev: AvailabilityEvent) => void)[] = [];
  readonly outcome: ((ev: OutcomeEvent) => void)[] = [];
  /** 'outcome' listeners that read `rttMs`/`at` (all but those added with `rtt: false`): picks are timed for them. */
  timedOutcomes = 0;

  /** Adds a listener; returns the function that removes it. `timed: false`: an 'outcome' listener without RTTs. */
  on(event: EventName, fn: (ev: never) => void, timed = true): () => void {
    const l = this.#list(event);
    if (typeof fn !== 'function') throw typeError('listener', 'a function', fn);
    const d = +(timed && event === 'outcome');
    l.push(fn);
    this.timedOutcomes += d;
    return () => {
      const i = l.indexOf(fn);
      if (i >= 0) {
        l.splice(i, 1);
        this.timedOutcomes -= d;
      }
    };
  }

  /** The first error a listener threw since the last `rethrow()`. */
  #thrown: { e: unknown } | undefined;

  /** Calls every listener, even after one throws (`rethrow()` then throws its error). */
  emit(event: EventName, ev: unknown): void {
    for (const fn of this.#list(event).slice())
      try {
        fn(ev as never);
      } catch (e) {
        this.#thrown ??= { e };
      }
  }

  /** Throws the first error a listener threw, if any: the caller calls it once its state is consistent. */
  rethrow(): void {
    const t = this.#thrown;
    this.#thrown = undefined;
    if (t !== undefined) throw t.e;
  }

  #list(event: EventName): ((ev: never) => void)[] {
    if (event !== 'picker' && event !== 'membership' && event !== 'availability' && event !== 'outcome')
      throw rangeError('event', "'picker', 'membership', 'availability' or 'outcome'", event);
    return this[event] as ((ev: never) => void)[];
  }
}

// Time, one shape for the whole library. Everything time-dependent (EWMA decay, fail timeouts, slow start,
// health probes, outlier back-off, resolver polls and re-watches, fetch deadlines and back-off) reads
// `clock.now()` in milliseconds and schedules with `clock.setTimeout`. Production uses `systemClock`; tests
// and simulations inject a `VirtualClock` and assert exact values (tower's paused clock, grpc-js's single
// timer abstraction).
//
//   const clock = new VirtualClock(0);
//   clock.setTimeout(() => console.log('fired at', clock.now()), 100);
//   clock.tick(100);          // synchronous: runs due timers in order, prints "fired at 100"
//   await clock.advance(50);  // asynchronous: also lets promise callbacks run between timers
import { rangeError, typeError } from './validate.js';

/** An opaque timer handle, returned by `setTimeout` and accepted by `clearTimeout`. */
export type TimerHandle = unknown;

export interface TimerOptions {
  /**
   * A background timer (health probes, resolver polls, re-watches) does not keep a Node process alive on its
   * own. Default false: a timer someone awaits (a retry back-off, a deadline) keeps the process alive.
   */
  background?: boolean;
}

export interface Clock {
  /** Milliseconds, monotonic; only differences matter. */
  now(): number;
  /**
   * Runs `fn` once after `ms` milliseconds: 0 when NaN or negative, at most MAX_TIMER_MS (setTimeout's limit,
   * ~24.8 days; a longer delay, Infinity included, fires then, where the global timer would fire at once).
   */
  setTimeout(fn: () => void, ms: number, options?: TimerOptions): TimerHandle;
  /** Cancels a timer; unknown or already-run handles are ignored. */
  clearTimeout(handle: TimerHandle): void;
}

/** The longest timer delay, 2^31 - 1 ms (~24.8 days): the global setTimeout fires at once beyond it. */
export const MAX_TIMER_MS = 0x7fffffff;

// `performance` is read once: Node's global is a lazy getter, which showed in per-request profiles
const perf = typeof performance === 'object' && typeof performance?.now === 'function' ? performance : null;
const now: () => number = perf !== null ? () => perf.now() : () => Date.now();

/** The real clock: `performance.now()` where available (else `Date.now()`) and the global timers. */
export const systemClock: Clock = Object.freeze({
  now,
  setTimeout(fn: () => void, ms: number, options?: TimerOptions): TimerHandle {
    const h = globalThis.setTimeout(fn, ms > MAX_TIMER_MS ? MAX_TIMER_MS : ms) as unknown as { unref?: () => void };
    // Node's handle has unref(); a browser's number has not
    if (options?.background === true && typeof h?.unref === 'function') h.unref();
    return h;
  },
  clearTimeout(h: TimerHandle): void {
    globalThis.clearTimeout(h as Parameters<typeof globalThis.clearTimeout>[0]);
  },
});

/** Checks that `c` is a Clock (now, setTimeout, clearTimeout); throws a TypeError naming `field`. */
export function validateClock(field: string, c: unknown): Clock {
  const o = c as Partial<Clock> | null;
  if (
    o === null ||
    typeof o !== 'object' ||
    typeof o.now !== 'function' ||
    typeof o.setTimeout !== 'function' ||
    typeof o.clearTimeout !== 'function'
  )
    throw typeError(field, 'a Clock { now(), setTimeout(fn, ms), clearTimeout(handle) }', c);
  return o as Clock;
}

interface Timer {
  due: number;
  id: number;
  fn: () => void;
}

/**
 * A clock that moves only when told to. Timers run only inside `tick(ms)` / `advance(ms)`, in due-time order
 * (ties in scheduling order), with `now()` equal to each timer's due time while it runs; timers scheduled by a
 * running timer run in the same call when they fall due within it.
 */
export class VirtualClock implements Clock {
  private t: number;
  private seq = 0;
  private readonly heap: Timer[] = [];
  private readonly live = new Set<number>();

  constructor(startMs = 0) {
    if (typeof startMs !== 'number' || !Number.isFinite(startMs))
      throw typeError('startMs', 'a finite number of milliseconds', startMs);
    this.t = startMs;
  }

  now(): number {
    return this.t;
  }

  setTimeout(fn: () => void, ms: number): number {
    const id = ++this.seq;
    const due = this.t + (ms > 0 ? (ms < MAX_TIMER_MS ? ms : MAX_TIMER_MS) : 0);
    this.live.add(id);
    this.push({ due, id, fn });
    return id;
  }

  clearTimeout(handle: TimerHandle): void {
    this.live.delete(handle as number);
  }

  /** Timers scheduled and not yet run or cleared. */
  get pending(): number {
    return this.live.size;
  }

  /** Synchronously runs every timer due within `ms` from now, then sets now += ms. Returns the new time. */
  tick(ms: number): number {
    const target = this.t + checkStep(ms);
    for (let top = this.heap[0]; top !== undefined && top.due <= target; top = this.heap[0]) {
      this.pop();
      if (!this.live.delete(top.id)) continue;
      if (top.due > this.t) this.t = top.due;
      top.fn();
    }
    this.t = target;
    return target;
  }

  /** Sets the time to `ms`, running the timers due until then (setting an earlier time runs none). */
  set(ms: number): void {
    if (ms >= this.t) this.tick(ms - this.t);
    else if (Number.isFinite(ms)) this.t = ms;
    else throw rangeError('ms', 'a finite number of milliseconds', ms);
  }

  /**
   * Like `tick`, but lets promise callbacks settle before and after each timer, so async code driven by the
   * timers (a probe that awaits, a resolver that re-schedules after a fetch) runs as it would in real time.
   */
  async advance(ms: number): Promise<void> {
    const target = this.t + checkStep(ms);
    await settle();
    for (;;) {
      let top = this.heap[0];
      if (top === undefined || top.due > target) {
        // Nothing due: settle once more, since promise callbacks of the last timer may schedule one.
        await settle();
        top = this.heap[0];
        if (top === undefined || top.due > target) break;
      }
      if (top.due > this.t) {
        await settle();
        // settling may have scheduled earlier timers; re-read the top.
        if (this.heap[0] !== top) continue;
        this.t = top.due;
      }
      this.pop();
      if (!this.live.delete(top.id)) continue;
      top.fn();
    }
    await settle();
    this.t = target;
  }

  private push(x: Timer): void {
    const h = this.heap;
    h.push(x);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!before(h[i]!, h[p]!)) break;
      [h[i], h[p]] = [h[p]!, h[i]!];
      i = p;
    }
  }

  private pop(): void {
    const h = this.heap;
    const last = h.pop()!;
    if (h.length === 0) return;
    h[0] = last;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < h.length && before(h[l]!, h[m]!)) m = l;
      if (r < h.length && before(h[r]!, h[m]!)) m = r;
      if (m === i) break;
      [h[i], h[m]] = [h[m]!, h[i]!];
      i = m;
    }
  }
}

function checkStep(ms: number): number {
  if (typeof ms !== 'number') throw typeError('ms', 'a finite number of milliseconds >= 0', ms);
  if (!Number.isFinite(ms) || ms < 0) throw rangeError('ms', 'a finite number of milliseconds >= 0', ms);
  return ms;
}

function before(a: Timer, b: Timer): boolean {
  return a.due < b.due || (a.due === b.due && a.id < b.id);
}

/** One macrotask turn: every queued promise callback has run when it resolves. */
function settle(): Promise<void> {
  const g = globalThis as { setImmediate?: (fn: () => void) => unknown };
  return new Promise((resolve) => {
    if (typeof g.setImmediate === 'function') g.setImmediate(resolve);
    else globalThis.setTimeout(resolve, 0);
  });
}

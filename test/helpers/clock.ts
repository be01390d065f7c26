// A clock whose timers fire early, as Node's do: they count whole milliseconds on their own clock, so a timer
// may run up to 1 ms before performance.now() reads its due time.
import type { Clock, VirtualClock } from '../../bindings/util/clock.js';

/** `v`'s time, with every timer run `byMs` before its due time. */
export function earlyTimers(v: VirtualClock, byMs: number): Clock {
  return {
    now: () => v.now(),
    setTimeout: (fn, ms) => v.setTimeout(fn, Math.max(0, ms - byMs)),
    clearTimeout: (h) => v.clearTimeout(h),
  };
}

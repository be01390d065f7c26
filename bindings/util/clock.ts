// Injectable clocks. Everything time-dependent (EWMA decay, fail timeouts, slow start, weight expiry) reads
// `clock.now()` in milliseconds; tests use a `ManualClock` and assert exact values.
//
//   const clock = new ManualClock(0);
//   clock.advance(100); // now() === 100

export interface Clock {
  /** Milliseconds; only differences matter. */
  now(): number;
}

/** performance.now() where available (monotonic), else Date.now(). */
export const systemClock: Clock =
  typeof performance === 'object' && typeof performance.now === 'function'
    ? { now: () => performance.now() }
    : { now: () => Date.now() };

/** A clock that moves only when told to. */
export class ManualClock implements Clock {
  constructor(private t = 0) {}
  now(): number {
    return this.t;
  }
  advance(ms: number): number {
    return (this.t += ms);
  }
  set(ms: number): void {
    this.t = ms;
  }
}

// HealthChecker: active health checking with a Healthy / Suspect / Failed state machine per member.
//
// Algorithm (Envoy's active health checking, `config.core.v3.HealthCheck`, with the Suspect buffer state of
// our design notes, ../shared/seed/load-balancing-notes.zh.md §2.5):
// - Each member is probed on its own timer: the first probe after a random delay in [0, initialJitterMs)
//   (Envoy `initial_jitter`), then every `intervalMs` plus a random [0, intervalJitterMs +
//   intervalMs × intervalJitterPercent / 100) (Envoy `interval_jitter`, `interval_jitter_percent`).
//   The next probe is scheduled only when the previous one has finished, so probes to one member never
//   overlap (Envoy does the same). While Failed the base interval is `unhealthyIntervalMs` (Envoy
//   `unhealthy_interval`, default: `intervalMs`). At most `maxConcurrentProbes` (128) run at once across
//   members; due probes beyond that wait in FIFO order (the wait is lag, not timeout), so an overloaded
//   checker falls behind instead of failing healthy members.
// - Every probe gets an `AbortSignal` aborted after `timeoutMs`; a probe still pending then is a failure
//   ("timeout after N ms") even if it ignores the signal. A probe that throws (synchronously or not), rejects,
//   or resolves to anything but `true` is a failure whose reason says why.
// - States: `pending` (added, no result yet; unavailable) → first success → `healthy`; a first failure →
//   `failed` (Envoy: a new host is unhealthy until its first successful check; after a failed first check it
//   needs `healthyThreshold` successes). `healthy` → 1 failure → `suspect` (still available, an immediate
//   re-check is scheduled after `recheckDelayMs`) → `unhealthyThreshold` consecutive failures in all →
//   `failed` (unavailable); `suspect` → success → `healthy`; `failed` → `healthyThreshold` consecutive
//   successes → `healthy`. `draining`: set by `drain()`, never probed again, unavailable.
//   With `unhealthyThreshold: 1` a healthy member fails on its first failure, skipping `suspect`.
// - Every state change is a `transition` event `{ member, from, to, reason, at }`; every probe result a
//   `probe` event. `stats()` is a cheap snapshot. Nothing polls: the owner subscribes.
// - `timeoutMs >= intervalMs` (or `>= unhealthyIntervalMs`) is a RangeError: a probe could then take longer
//   than the period it is meant to sample.
//
//   const hc = new HealthChecker({ probe: httpProbe({ path: '/healthz' }), intervalMs: 5000, timeoutMs: 1000 });
//   hc.on('transition', (e) => console.log(e.member.id, e.from, '->', e.to, e.reason));
//   hc.add({ id: 'a', host: '10.0.0.1', port: 8080 }); hc.start();
import { type Clock, systemClock } from '../util/clock.js';
import type { Endpoint } from '../util/endpoint.js';
import { describe, intInRange, positive, rangeError, typeError } from '../util/validate.js';

/** A `Clock` (bindings/clock.ts) with timers; inject `VirtualClock` in tests. All times in milliseconds. */
export interface TimerClock extends Clock {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** `systemClock` (monotonic ms) with the global timers, unref'd in Node so a checker never keeps a process alive. */
export const systemTimerClock: TimerClock = {
  now: () => systemClock.now(),
  setTimeout(fn, ms) {
    const h = globalThis.setTimeout(fn, ms) as unknown as { unref?: () => void };
    if (typeof h === 'object' && h !== null && typeof h.unref === 'function') h.unref();
    return h;
  },
  clearTimeout: (h) => globalThis.clearTimeout(h as Parameters<typeof globalThis.clearTimeout>[0]),
};

/**
 * A virtual clock for tests and simulations: timers run only inside `advance(ms)`, in due-time order (ties in
 * creation order). Before time moves past a batch of timers, pending promise callbacks are drained (one
 * macrotask turn), so probes that settle "immediately" settle at the virtual instant they started.
 */
export class VirtualClock implements TimerClock {
  private t: number;
  private seq = 0;
  private readonly heap: Array<{ due: number; id: number; fn: () => void }> = [];
  private readonly live = new Set<number>();

  constructor(startMs = 0) {
    this.t = startMs;
  }

  now(): number {
    return this.t;
  }

  setTimeout(fn: () => void, ms: number): number {
    const id = ++this.seq;
    const due = this.t + (Number.isFinite(ms) && ms > 0 ? ms : 0);
    this.live.add(id);
    this.push({ due, id, fn });
    return id;
  }

  clearTimeout(handle: unknown): void {
    this.live.delete(handle as number);
  }

  /** Timers scheduled and not yet run or cleared. */
  get pending(): number {
    return this.live.size;
  }

  /** Runs every timer due within `ms` from now (including ones those timers schedule), then sets now += ms. */
  async advance(ms: number): Promise<void> {
    const target = this.t + ms;
    await settle();
    for (;;) {
      const top = this.heap[0];
      if (top === undefined || top.due > target) break;
      if (top.due > this.t) {
        await settle();
        // settling may have scheduled earlier timers; re-read the top.
        const again = this.heap[0]!;
        if (again !== top) continue;
        this.t = top.due;
      }
      this.pop();
      if (!this.live.delete(top.id)) continue;
      top.fn();
    }
    await settle();
    this.t = target;
  }

  private push(x: { due: number; id: number; fn: () => void }): void {
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

function before(a: { due: number; id: number }, b: { due: number; id: number }): boolean {
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

/** What a health checker needs of a member; Balancer `Endpoint`s qualify. */
export type HealthMember = Pick<Endpoint, 'id' | 'host' | 'port'>;

/**
 * A probe: resolve `true` when the member is healthy. `false`, a rejection (its message becomes the reason),
 * a synchronous throw, a non-boolean result or not settling within `timeoutMs` are failures.
 * Stop work when `signal` aborts.
 */
export type HealthProbe<M extends HealthMember = HealthMember> = (member: M, signal: AbortSignal) => Promise<boolean>;

export type HealthState = 'pending' | 'healthy' | 'suspect' | 'failed' | 'draining';

export interface HealthTransition<M extends HealthMember = HealthMember> {
  member: M;
  from: HealthState;
  to: HealthState;
  reason: string;
  /** `clock.now()` at the transition. */
  at: number;
}

export interface ProbeResult<M extends HealthMember = HealthMember> {
  member: M;
  ok: boolean;
  reason: string;
  /** When the probe was due, when it started and when it finished (`at`), all `clock.now()`. */
  scheduledAt: number;
  startedAt: number;
  at: number;
  durationMs: number;
  state: HealthState;
}

export interface HealthCheckerOptions<M extends HealthMember = HealthMember> {
  /** The probe: `httpProbe(...)`, `tcpProbe(...)` (Node) or your own function. */
  probe: HealthProbe<M>;
  /** Base period between the end of one probe and the start of the next (default 10 000). */
  intervalMs?: number;
  /**
   * Abort and fail a probe after this long (default min(3000, intervalMs / 2); 3 s is from our design notes).
   * Must be less than every interval (RangeError otherwise).
   */
  timeoutMs?: number;
  /** Base period while `failed` (Envoy `unhealthy_interval`; default `intervalMs`). */
  unhealthyIntervalMs?: number;
  /** Delay of the re-check scheduled on entering `suspect` (default 0: immediately). */
  recheckDelayMs?: number;
  /** First probe after a uniform random delay in [0, initialJitterMs) (Envoy `initial_jitter`; default 0). */
  initialJitterMs?: number;
  /** Each interval gets a uniform random extra in [0, intervalJitterMs) (Envoy `interval_jitter`; default 0). */
  intervalJitterMs?: number;
  /** And a further [0, interval × percent / 100) (Envoy `interval_jitter_percent`; default 0). */
  intervalJitterPercent?: number;
  /** Consecutive failures from healthy to failed, counting the one that made it suspect (default 3). */
  unhealthyThreshold?: number;
  /** Consecutive successes from failed to healthy (default 3). */
  healthyThreshold?: number;
  /** New members are `healthy` at once instead of `pending` until their first successful probe (default false). */
  startHealthy?: boolean;
  /**
   * Probes in flight at once, across members (default 128). Further due probes wait in FIFO order and their
   * wait counts as lag, not against `timeoutMs`: an overloaded checker falls behind instead of failing
   * healthy members with timeouts.
   */
  maxConcurrentProbes?: number;
  clock?: TimerClock;
  /** Uniform in [0, 1) (default Math.random). */
  random?: () => number;
}

export interface MemberHealthStats {
  id: string;
  state: HealthState;
  /** `clock.now()` of the last transition (or of `add`). */
  since: number;
  consecutiveSuccesses: number;
  consecutiveFailures: number;
  probes: number;
  failures: number;
  transitions: number;
  inFlight: boolean;
  /** Due, waiting for a free slot (maxConcurrentProbes). */
  queued: boolean;
  /** When the next probe is due, or null (stopped, draining, or a probe in flight). */
  nextProbeAt: number | null;
  lastProbeAt: number | null;
  lastReason: string | null;
  lastDurationMs: number | null;
}

export interface HealthStats {
  running: boolean;
  members: MemberHealthStats[];
  counts: Record<HealthState, number>;
  probes: number;
  failures: number;
  transitions: number;
  inFlight: number;
  /** Due probes waiting for a slot. */
  queued: number;
  /** Exceptions thrown by event listeners (caught so they cannot break the checker). */
  listenerErrors: number;
}

export const DEFAULT_INTERVAL_MS = 10_000;
export const DEFAULT_TIMEOUT_MS = 3_000;
export const DEFAULT_UNHEALTHY_THRESHOLD = 3;
export const DEFAULT_HEALTHY_THRESHOLD = 3;
export const DEFAULT_MAX_CONCURRENT_PROBES = 128;
const MAX_THRESHOLD = 1_000_000;
/** setTimeout's limit (2^31 - 1 ms, ~24.8 days). */
const MAX_DELAY_MS = 2_147_483_647;

interface Watch<M extends HealthMember> {
  member: M;
  state: HealthState;
  since: number;
  okRun: number;
  failRun: number;
  probes: number;
  failures: number;
  transitions: number;
  timer: unknown;
  dueAt: number | null;
  inFlight: AbortController | null;
  queued: boolean;
  lastProbeAt: number | null;
  lastReason: string | null;
  lastDurationMs: number | null;
}

type Listener<T> = (e: T) => void;

interface Config<M extends HealthMember> {
  probe: HealthProbe<M>;
  intervalMs: number;
  timeoutMs: number;
  unhealthyIntervalMs: number;
  recheckDelayMs: number;
  initialJitterMs: number;
  intervalJitterMs: number;
  intervalJitterPercent: number;
  unhealthyThreshold: number;
  healthyThreshold: number;
  startHealthy: boolean;
  maxConcurrentProbes: number;
  clock: TimerClock;
  random: () => number;
}

function nonNegative(field: string, v: unknown, max = MAX_DELAY_MS): number {
  if (typeof v !== 'number') throw typeError(field, `a number in [0, ${max}]`, v);
  if (!Number.isFinite(v) || v < 0 || v > max) throw rangeError(field, `a number in [0, ${max}]`, v);
  return v;
}

function delay(field: string, v: unknown): number {
  const x = positive(field, v);
  if (x > MAX_DELAY_MS) throw rangeError(field, `a finite number > 0 and <= ${MAX_DELAY_MS}`, v);
  return x;
}

export function validateClock(field: string, c: unknown): TimerClock {
  const o = c as Partial<TimerClock> | null;
  if (
    typeof o !== 'object' ||
    o === null ||
    typeof o.now !== 'function' ||
    typeof o.setTimeout !== 'function' ||
    typeof o.clearTimeout !== 'function'
  )
    throw typeError(field, 'an object with now(), setTimeout() and clearTimeout()', c);
  return o as TimerClock;
}

export function validateRandom(field: string, r: unknown): () => number {
  if (typeof r !== 'function') throw typeError(field, 'a function returning a number in [0, 1)', r);
  return r as () => number;
}

function parseOptions<M extends HealthMember>(o: HealthCheckerOptions<M>): Config<M> {
  if (typeof o !== 'object' || o === null) throw typeError('options', 'an object', o);
  if (typeof o.probe !== 'function')
    throw typeError('probe', 'a function (member, signal) => Promise<boolean>', o.probe);
  const intervalMs = delay('intervalMs', o.intervalMs ?? DEFAULT_INTERVAL_MS);
  const unhealthyIntervalMs = delay('unhealthyIntervalMs', o.unhealthyIntervalMs ?? intervalMs);
  const timeoutMs = delay('timeoutMs', o.timeoutMs ?? Math.min(DEFAULT_TIMEOUT_MS, intervalMs / 2));
  if (timeoutMs >= intervalMs) throw rangeError('timeoutMs', `less than intervalMs (${intervalMs})`, timeoutMs);
  if (timeoutMs >= unhealthyIntervalMs)
    throw rangeError('timeoutMs', `less than unhealthyIntervalMs (${unhealthyIntervalMs})`, timeoutMs);
  const intervalJitterPercent = nonNegative('intervalJitterPercent', o.intervalJitterPercent ?? 0, 100);
  return {
    probe: o.probe,
    intervalMs,
    timeoutMs,
    unhealthyIntervalMs,
    recheckDelayMs: nonNegative('recheckDelayMs', o.recheckDelayMs ?? 0),
    initialJitterMs: nonNegative('initialJitterMs', o.initialJitterMs ?? 0),
    intervalJitterMs: nonNegative('intervalJitterMs', o.intervalJitterMs ?? 0),
    intervalJitterPercent,
    unhealthyThreshold: intInRange(
      'unhealthyThreshold',
      o.unhealthyThreshold ?? DEFAULT_UNHEALTHY_THRESHOLD,
      1,
      MAX_THRESHOLD,
    ),
    healthyThreshold: intInRange('healthyThreshold', o.healthyThreshold ?? DEFAULT_HEALTHY_THRESHOLD, 1, MAX_THRESHOLD),
    startHealthy: bool('startHealthy', o.startHealthy ?? false),
    maxConcurrentProbes: intInRange(
      'maxConcurrentProbes',
      o.maxConcurrentProbes ?? DEFAULT_MAX_CONCURRENT_PROBES,
      1,
      1_000_000,
    ),
    clock: validateClock('clock', o.clock ?? systemTimerClock),
    random: validateRandom('random', o.random ?? Math.random),
  };
}

function bool(field: string, v: unknown): boolean {
  if (typeof v !== 'boolean') throw typeError(field, 'a boolean', v);
  return v;
}

export function validateMember(field: string, m: unknown): HealthMember {
  const o = m as Partial<HealthMember> | null;
  if (typeof o !== 'object' || o === null) throw typeError(field, 'an object { id, host, port }', m);
  if (typeof o.id !== 'string' || o.id.length === 0) throw typeError(`${field}.id`, 'a non-empty string', o.id);
  if (typeof o.host !== 'string') throw typeError(`${field}.host`, 'a string', o.host);
  intInRange(`${field}.port`, o.port, 0, 65535);
  return o as HealthMember;
}

export function errorMessage(e: unknown): string {
  if (e instanceof Error) return e.message || e.name;
  return describe(e);
}

/** Active health checks for a set of members. See the module header for the state machine. */
export class HealthChecker<M extends HealthMember = HealthMember> {
  readonly intervalMs: number;
  readonly timeoutMs: number;
  readonly unhealthyIntervalMs: number;
  readonly unhealthyThreshold: number;
  readonly healthyThreshold: number;
  private readonly cfg: Config<M>;
  private readonly watches = new Map<string, Watch<M>>();
  private readonly transitionFns = new Set<Listener<HealthTransition<M>>>();
  private readonly probeFns = new Set<Listener<ProbeResult<M>>>();
  private running = false;
  private active = 0;
  /** Probes due while `maxConcurrentProbes` were in flight, FIFO (a Set iterates in insertion order). */
  private readonly queue = new Set<Watch<M>>();
  private totalProbes = 0;
  private totalFailures = 0;
  private totalTransitions = 0;
  private listenerErrors = 0;

  constructor(options: HealthCheckerOptions<M>) {
    this.cfg = parseOptions(options);
    this.intervalMs = this.cfg.intervalMs;
    this.timeoutMs = this.cfg.timeoutMs;
    this.unhealthyIntervalMs = this.cfg.unhealthyIntervalMs;
    this.unhealthyThreshold = this.cfg.unhealthyThreshold;
    this.healthyThreshold = this.cfg.healthyThreshold;
  }

  get isRunning(): boolean {
    return this.running;
  }

  /** Starts probing every member (each after its initial jitter). Idempotent. */
  start(): void {
    if (this.running) return;
    this.running = true;
    for (const w of this.watches.values()) if (w.state !== 'draining') this.schedule(w, this.initialDelay());
  }

  /** Cancels every timer and aborts in-flight probes (their results are dropped). States are kept. */
  stop(): void {
    if (!this.running) return;
    this.running = false;
    for (const w of this.watches.values()) this.cancel(w);
    this.queue.clear();
  }

  /** Watches a member; false if its id is already watched. */
  add(member: M): boolean {
    validateMember('member', member);
    if (this.watches.has(member.id)) return false;
    const w: Watch<M> = {
      member,
      state: this.cfg.startHealthy ? 'healthy' : 'pending',
      since: this.cfg.clock.now(),
      okRun: 0,
      failRun: 0,
      probes: 0,
      failures: 0,
      transitions: 0,
      timer: null,
      dueAt: null,
      inFlight: null,
      queued: false,
      lastProbeAt: null,
      lastReason: null,
      lastDurationMs: null,
    };
    this.watches.set(member.id, w);
    if (this.running) this.schedule(w, this.initialDelay());
    return true;
  }

  /**
   * Replaces a watched member's object (e.g. new weight or metadata); false if not watched. If its host or port
   * changed it is a different target: its probe is aborted and it starts over as a new member (no event).
   */
  update(member: M): boolean {
    validateMember('member', member);
    const w = this.watches.get(member.id);
    if (w === undefined) return false;
    const moved = w.member.host !== member.host || w.member.port !== member.port;
    if (!moved) {
      w.member = member;
      return true;
    }
    this.remove(member.id);
    this.add(member);
    return true;
  }

  /** Stops watching a member (aborting its probe); false if it was not watched. No event. */
  remove(id: string): boolean {
    const w = this.watches.get(id);
    if (w === undefined) return false;
    this.cancel(w);
    this.watches.delete(id);
    return true;
  }

  /** Marks a member `draining` (unavailable, no more probes) ahead of its removal; false if unknown or draining. */
  drain(id: string, reason = 'draining'): boolean {
    const w = this.watches.get(id);
    if (w === undefined || w.state === 'draining') return false;
    this.cancel(w);
    this.transition(w, 'draining', reason);
    return true;
  }

  has(id: string): boolean {
    return this.watches.has(id);
  }

  state(id: string): HealthState | undefined {
    return this.watches.get(id)?.state;
  }

  /** The reason of the member's last probe result, or null (no result yet, or unknown id). */
  lastReason(id: string): string | null {
    return this.watches.get(id)?.lastReason ?? null;
  }

  /** `healthy` or `suspect`: may receive traffic. Unknown ids are unavailable. */
  isAvailable(id: string): boolean {
    const s = this.watches.get(id)?.state;
    return s === 'healthy' || s === 'suspect';
  }

  /** Probes a member now unless a probe is in flight or it is draining; false otherwise. Needs `start()`. */
  checkNow(id: string): boolean {
    const w = this.watches.get(id);
    if (w === undefined || !this.running || w.inFlight !== null || w.queued || w.state === 'draining') return false;
    if (w.timer !== null) this.cfg.clock.clearTimeout(w.timer);
    w.timer = null;
    w.dueAt = this.cfg.clock.now();
    this.fire(w);
    return true;
  }

  on(event: 'transition', fn: Listener<HealthTransition<M>>): () => void;
  on(event: 'probe', fn: Listener<ProbeResult<M>>): () => void;
  on(event: 'transition' | 'probe', fn: Listener<never>): () => void {
    if (typeof fn !== 'function') throw typeError('listener', 'a function', fn);
    const set = (event === 'transition' ? this.transitionFns : event === 'probe' ? this.probeFns : null) as Set<
      Listener<never>
    > | null;
    if (set === null) throw rangeError('event', "'transition' or 'probe'", event);
    set.add(fn);
    return () => {
      set.delete(fn);
    };
  }

  stats(): HealthStats {
    const counts: Record<HealthState, number> = { pending: 0, healthy: 0, suspect: 0, failed: 0, draining: 0 };
    const members: MemberHealthStats[] = [];
    let inFlight = 0;
    for (const w of this.watches.values()) {
      counts[w.state]++;
      if (w.inFlight !== null) inFlight++;
      members.push({
        id: w.member.id,
        state: w.state,
        since: w.since,
        consecutiveSuccesses: w.okRun,
        consecutiveFailures: w.failRun,
        probes: w.probes,
        failures: w.failures,
        transitions: w.transitions,
        inFlight: w.inFlight !== null,
        queued: w.queued,
        nextProbeAt: w.timer !== null ? w.dueAt : null,
        lastProbeAt: w.lastProbeAt,
        lastReason: w.lastReason,
        lastDurationMs: w.lastDurationMs,
      });
    }
    return {
      running: this.running,
      members,
      counts,
      probes: this.totalProbes,
      failures: this.totalFailures,
      transitions: this.totalTransitions,
      inFlight,
      queued: this.queue.size,
      listenerErrors: this.listenerErrors,
    };
  }

  private initialDelay(): number {
    return this.cfg.initialJitterMs > 0 ? this.cfg.random() * this.cfg.initialJitterMs : 0;
  }

  private intervalDelay(state: HealthState): number {
    const base = state === 'failed' ? this.cfg.unhealthyIntervalMs : this.cfg.intervalMs;
    const span = this.cfg.intervalJitterMs + (base * this.cfg.intervalJitterPercent) / 100;
    return span > 0 ? base + this.cfg.random() * span : base;
  }

  private schedule(w: Watch<M>, ms: number): void {
    if (w.timer !== null) this.cfg.clock.clearTimeout(w.timer);
    w.dueAt = this.cfg.clock.now() + ms;
    w.timer = this.cfg.clock.setTimeout(() => {
      w.timer = null;
      this.fire(w);
    }, ms);
  }

  private cancel(w: Watch<M>): void {
    if (w.timer !== null) this.cfg.clock.clearTimeout(w.timer);
    w.timer = null;
    w.dueAt = null;
    this.queue.delete(w);
    w.queued = false;
    const ac = w.inFlight;
    w.inFlight = null;
    if (ac !== null) {
      this.active--;
      ac.abort(new Error('health check cancelled'));
      this.pump();
    }
  }

  /** Starts queued probes while below the concurrency limit. */
  private pump(): void {
    while (this.running && this.active < this.cfg.maxConcurrentProbes && this.queue.size > 0) {
      const w = this.queue.values().next().value!;
      this.queue.delete(w);
      w.queued = false;
      this.fire(w);
    }
  }

  private fire(w: Watch<M>): void {
    if (!this.running || w.inFlight !== null || w.state === 'draining' || this.watches.get(w.member.id) !== w) return;
    if (this.active >= this.cfg.maxConcurrentProbes) {
      // Wait for a slot; `dueAt` is kept, so the wait shows up as lag (startedAt - scheduledAt).
      this.queue.add(w);
      w.queued = true;
      return;
    }
    this.active++;
    const clock = this.cfg.clock;
    const startedAt = clock.now();
    const scheduledAt = w.dueAt ?? startedAt;
    const ac = new AbortController();
    w.inFlight = ac;
    let done = false;
    const finish = (ok: boolean, reason: string) => {
      if (done) return;
      done = true;
      clock.clearTimeout(timer);
      if (w.inFlight !== ac) return; // cancelled (stop, remove, drain): result dropped
      w.inFlight = null;
      this.active--;
      this.record(w, ok, reason, scheduledAt, startedAt);
      this.pump();
    };
    const timer = clock.setTimeout(() => {
      const reason = `timeout after ${this.cfg.timeoutMs} ms`;
      // finish first so the probe's own rejection on abort cannot claim a different reason.
      finish(false, reason);
      ac.abort(new Error(reason));
    }, this.cfg.timeoutMs);
    let p: unknown;
    try {
      p = this.cfg.probe(w.member, ac.signal);
    } catch (e) {
      finish(false, `probe threw: ${errorMessage(e)}`);
      return;
    }
    Promise.resolve(p).then(
      (v) => {
        if (v === true) finish(true, 'probe succeeded');
        else if (v === false) finish(false, 'probe returned false');
        else finish(false, `probe returned non-boolean ${describe(v)}`);
      },
      (e: unknown) => finish(false, errorMessage(e)),
    );
  }

  private record(w: Watch<M>, ok: boolean, reason: string, scheduledAt: number, startedAt: number): void {
    const at = this.cfg.clock.now();
    w.probes++;
    this.totalProbes++;
    w.lastProbeAt = at;
    w.lastReason = reason;
    w.lastDurationMs = at - startedAt;
    let next: number;
    if (ok) {
      w.failRun = 0;
      w.okRun++;
      if (w.state === 'pending') this.transition(w, 'healthy', 'first probe succeeded');
      else if (w.state === 'suspect') this.transition(w, 'healthy', 'probe succeeded');
      else if (w.state === 'failed' && w.okRun >= this.cfg.healthyThreshold)
        this.transition(w, 'healthy', `${w.okRun} consecutive successful probes`);
      next = this.intervalDelay(w.state);
    } else {
      w.okRun = 0;
      w.failRun++;
      w.failures++;
      this.totalFailures++;
      next = -1;
      if (w.state === 'pending') this.transition(w, 'failed', `first probe failed: ${reason}`);
      else if (w.state === 'healthy') {
        if (w.failRun >= this.cfg.unhealthyThreshold) this.transition(w, 'failed', reason);
        else {
          this.transition(w, 'suspect', reason);
          next = this.cfg.recheckDelayMs;
        }
      } else if (w.state === 'suspect' && w.failRun >= this.cfg.unhealthyThreshold)
        this.transition(w, 'failed', `${w.failRun} consecutive failed probes, last: ${reason}`);
      if (next < 0) next = this.intervalDelay(w.state);
    }
    this.emit(this.probeFns, {
      member: w.member,
      ok,
      reason,
      scheduledAt,
      startedAt,
      at,
      durationMs: at - startedAt,
      state: w.state,
    });
    // A listener may have stopped the checker, removed or drained the member.
    if (this.running && w.state !== 'draining' && this.watches.get(w.member.id) === w && w.inFlight === null)
      if (w.timer === null) this.schedule(w, next);
  }

  private transition(w: Watch<M>, to: HealthState, reason: string): void {
    const from = w.state;
    if (from === to) return;
    const at = this.cfg.clock.now();
    w.state = to;
    w.since = at;
    w.transitions++;
    this.totalTransitions++;
    this.emit(this.transitionFns, { member: w.member, from, to, reason, at });
  }

  private emit<T>(fns: Set<Listener<T>>, e: T): void {
    for (const fn of fns) {
      try {
        fn(e);
      } catch {
        this.listenerErrors++;
      }
    }
  }
}

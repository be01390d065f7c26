// HealthChecker: active health checking, one probe schedule per member, feeding the per-member
// Healthy / Suspect / Failed state machine of state.ts (Envoy's active health checking,
// `config.core.v3.HealthCheck`, with the Suspect buffer state of docs/design.md, "Health states").
//
// Scheduling (this module):
// - Each member is probed on its own timer: the first probe after a random delay in [0, initialJitterMs)
//   (Envoy `initial_jitter`), then every `intervalMs` plus a random [0, intervalJitterMs +
//   intervalMs × intervalJitterPercent / 100) (Envoy `interval_jitter`, `interval_jitter_percent`).
//   The next probe is scheduled only when the previous one has finished, so probes to one member never
//   overlap (Envoy does the same). While Failed the base interval is `unhealthyIntervalMs` (Envoy
//   `unhealthy_interval`, default: `intervalMs`); on entering Suspect a re-check follows after
//   `recheckDelayMs`. At most `maxConcurrentProbes` (128) run at once across members; due probes beyond
//   that wait in FIFO order (the wait is lag, not timeout), so an overloaded checker falls behind instead of
//   failing healthy members.
// - Every probe gets an `AbortSignal` aborted after `timeoutMs`; a probe still pending then is a failure
//   ("timeout after N ms") even if it ignores the signal. A probe that throws (synchronously or not), rejects,
//   or resolves to anything but `true` is a failure whose reason says why.
// - `random` (uniform in [0, 1), for the jitters) is not drawn at construction, so a seeded source shared with a
//   Balancer (createFetch, the gRPC bridge) keeps its sequence. Each value is checked when drawn: outside [0, 1)
//   is a RangeError naming `random` for an initial jitter, thrown by `start()`, `add()` or an `update()` that moves
//   a member, which then change nothing. An interval's jitter is drawn after a probe, with no caller to throw to:
//   that interval goes without jitter, the error is counted in `stats().jitterErrors` and the probes go on.
// - Timers come from the injected `Clock` (util/clock.ts) and are background timers: a checker never keeps
//   a Node process alive. Options and their validation: options.ts.
// - Every state change is a `transition` event `{ member, from, to, reason, at }`; every probe result a
//   `probe` event. `stats()` is a cheap snapshot. Nothing polls: the owner subscribes.
//
//   const hc = new HealthChecker({ probe: httpProbe({ path: '/healthz' }), intervalMs: 5000, timeoutMs: 1000 });
//   hc.on('transition', (e) => console.log(e.member.id, e.from, '->', e.to, e.reason));
//   hc.add({ id: 'a', host: '10.0.0.1', port: 8080 }); hc.start();
import { describe, rangeError, typeError } from '../util/validate.js';
import {
  errorMessage,
  parseHealthOptions,
  validateMember,
  type HealthCheckerOptions,
  type HealthConfig,
  type HealthMember,
} from './options.js';
import {
  isAvailableState,
  memberStats,
  newMemberHealth,
  step,
  type HealthState,
  type HealthStats,
  type HealthTransition,
  type MemberHealth,
  type MemberHealthStats,
  type ProbeResult,
} from './state.js';

export {
  DEFAULT_HEALTHY_THRESHOLD,
  DEFAULT_INTERVAL_MS,
  DEFAULT_MAX_CONCURRENT_PROBES,
  DEFAULT_TIMEOUT_MS,
  DEFAULT_UNHEALTHY_THRESHOLD,
  type HealthCheckerOptions,
  type HealthMember,
  type HealthProbe,
} from './options.js';
export type { HealthState, HealthStats, HealthTransition, MemberHealthStats, ProbeResult } from './state.js';

/** A `HealthChecker` event listener. */
export type HealthListener<T> = (e: T) => void;
type Watch<M extends HealthMember> = MemberHealth<M>;
const BACKGROUND = { background: true } as const;

/** Active health checks for a set of members: probe scheduling here, the state machine in state.ts. */
export class HealthChecker<M extends HealthMember = HealthMember> {
  readonly intervalMs: number;
  readonly timeoutMs: number;
  readonly unhealthyIntervalMs: number;
  readonly unhealthyThreshold: number;
  readonly healthyThreshold: number;
  private readonly cfg: HealthConfig<M>;
  private readonly watches = new Map<string, Watch<M>>();
  private readonly transitionFns = new Set<HealthListener<HealthTransition<M>>>();
  private readonly probeFns = new Set<HealthListener<ProbeResult<M>>>();
  private running = false;
  private active = 0;
  /** Probes due while `maxConcurrentProbes` were in flight, FIFO (a Set iterates in insertion order). */
  private readonly queue = new Set<Watch<M>>();
  private totalProbes = 0;
  private totalFailures = 0;
  private totalTransitions = 0;
  private listenerErrors = 0;
  private jitterErrors = 0;

  /**
   * `field`: how errors name the options object (`healthCheck`: `healthCheck.timeoutMs must be less than
   * healthCheck.intervalMs (1000), got 1000`); default: the options by their bare names.
   */
  constructor(options: HealthCheckerOptions<M>, field?: string) {
    this.cfg = parseHealthOptions(options, field);
    this.intervalMs = this.cfg.intervalMs;
    this.timeoutMs = this.cfg.timeoutMs;
    this.unhealthyIntervalMs = this.cfg.unhealthyIntervalMs;
    this.unhealthyThreshold = this.cfg.unhealthyThreshold;
    this.healthyThreshold = this.cfg.healthyThreshold;
  }

  get isRunning(): boolean {
    return this.running;
  }

  /**
   * Starts probing every member (each after its initial jitter). Idempotent. A `random` value outside [0, 1) is a
   * RangeError, and nothing is started.
   */
  start(): void {
    if (this.running) return;
    const due = [...this.watches.values()].filter((w) => w.state !== 'draining');
    const delays = due.map(() => this.initialDelay());
    this.running = true;
    due.forEach((w, i) => this.schedule(w, delays[i]!));
  }

  /** Cancels every timer and aborts in-flight probes (their results are dropped). States are kept. */
  stop(): void {
    if (!this.running) return;
    this.running = false;
    for (const w of this.watches.values()) this.cancel(w);
    this.queue.clear();
  }

  /**
   * Watches a member; false if its id is already watched. When running, a `random` value outside [0, 1) for its
   * initial jitter is a RangeError, and it is not watched.
   */
  add(member: M): boolean {
    validateMember('member', member);
    if (this.watches.has(member.id)) return false;
    this.watch(member, this.running ? this.initialDelay() : 0);
    return true;
  }

  /**
   * Replaces a watched member's object (e.g. new weight or metadata); false if not watched. If its host or port
   * changed it is a different target: its probe is aborted and it starts over as a new member (no event); when
   * running, a `random` value outside [0, 1) for its initial jitter is then a RangeError, and nothing changes.
   * A draining member stays draining (not probed), moved or not.
   */
  update(member: M): boolean {
    validateMember('member', member);
    const w = this.watches.get(member.id);
    if (w === undefined) return false;
    const moved = w.member.host !== member.host || w.member.port !== member.port;
    if (!moved || w.state === 'draining') {
      w.member = member;
      return true;
    }
    const delay = this.running ? this.initialDelay() : 0;
    this.remove(member.id);
    this.watch(member, delay);
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
    return isAvailableState(this.watches.get(id)?.state);
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

  on(event: 'transition', fn: HealthListener<HealthTransition<M>>): () => void;
  on(event: 'probe', fn: HealthListener<ProbeResult<M>>): () => void;
  on(event: 'transition' | 'probe', fn: HealthListener<never>): () => void {
    if (typeof fn !== 'function') throw typeError('listener', 'a function', fn);
    const set = (event === 'transition' ? this.transitionFns : event === 'probe' ? this.probeFns : null) as Set<
      HealthListener<never>
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
      members.push(memberStats(w));
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
      jitterErrors: this.jitterErrors,
    };
  }

  /** The delay of a member's first probe: callers draw it before changing anything, so a bad draw changes nothing. */
  private initialDelay(): number {
    return this.cfg.initialJitterMs > 0 ? this.cfg.random() * this.cfg.initialJitterMs : 0;
  }

  private watch(member: M, delay: number): void {
    const w = newMemberHealth(member, this.cfg.startHealthy ? 'healthy' : 'pending', this.cfg.clock.now());
    this.watches.set(member.id, w);
    if (this.running) this.schedule(w, delay);
  }

  private intervalDelay(state: HealthState): number {
    const base = state === 'failed' ? this.cfg.unhealthyIntervalMs : this.cfg.intervalMs;
    const span = this.cfg.intervalJitterMs + (base * this.cfg.intervalJitterPercent) / 100;
    if (span > 0)
      try {
        return base + this.cfg.random() * span;
      } catch {
        // Drawn after a probe (record), with no caller to throw to: this interval goes without jitter.
        this.jitterErrors++;
      }
    return base;
  }

  private schedule(w: Watch<M>, ms: number): void {
    if (w.timer !== null) this.cfg.clock.clearTimeout(w.timer);
    w.dueAt = this.cfg.clock.now() + ms;
    w.timer = this.cfg.clock.setTimeout(
      () => {
        w.timer = null;
        this.fire(w);
      },
      ms,
      BACKGROUND,
    );
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
    // Not after startedAt: dueAt is clock.now() + delay when scheduled, but the global timers count whole
    // milliseconds on their own clock, so one may fire up to ~1 ms before that reading (a negative lag).
    const scheduledAt = w.dueAt === null ? startedAt : Math.min(w.dueAt, startedAt);
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
    const timer = clock.setTimeout(
      () => {
        const reason = `timeout after ${this.cfg.timeoutMs} ms`;
        // finish first so the probe's own rejection on abort cannot claim a different reason.
        finish(false, reason);
        ac.abort(new Error(reason));
      },
      this.cfg.timeoutMs,
      BACKGROUND,
    );
    // cancelled (stop, remove, drain): no timeout timer outlives the probe's abort, even if the probe ignores it
    ac.signal.addEventListener('abort', () => clock.clearTimeout(timer));
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
    if (ok) {
      w.failRun = 0;
      w.okRun++;
    } else {
      w.okRun = 0;
      w.failRun++;
      w.failures++;
      this.totalFailures++;
    }
    const s = step(w.state, ok, reason, w.okRun, w.failRun, this.cfg);
    this.transition(w, s.to, s.reason);
    const next = s.recheck ? this.cfg.recheckDelayMs : this.intervalDelay(w.state);
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

  private emit<T>(fns: Set<HealthListener<T>>, e: T): void {
    for (const fn of fns) {
      try {
        fn(e);
      } catch {
        this.listenerErrors++;
      }
    }
  }
}

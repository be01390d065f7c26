// OutlierDetector: passive health checking from request outcomes, after Envoy's outlier detection
// (architecture overview "Outlier detection", `config.cluster.v3.OutlierDetection`; names and defaults are
// Envoy's, in camelCase with units).
//
// - Consecutive failures (`consecutive_5xx`, default 5): an outcome with `ok: false`, an `error` (any value
//   but undefined and null, which mean "no error"), or a 5xx `status` counts as a failure (errors and timeouts
//   are Envoy's "local origin errors mapped to 5xx"); any other outcome resets the count. An outcome is
//   `{ ok: boolean, status?: integer in [0, 999], error?: unknown }` (status 0: none, as an opaque browser
//   response); anything else is a TypeError/RangeError naming `outcome.ok` / `outcome.status`, never a success. Reaching the threshold ejects the member at once (inline), with
//   probability `enforcingConsecutive5xx` %. While over the ejection cap it is retried on every further
//   failure (Envoy retries only when the count is exactly the threshold).
// - Success rate (evaluated every `intervalMs`, default 10 s): over members with at least
//   `successRateRequestVolume` (100) outcomes in the interval, and only if there are at least
//   `successRateMinimumHosts` (5) of them, a member whose success rate is below
//   mean − (successRateStdevFactor / 1000) × stdev (population; factor 1900 → 1.9) is ejected with
//   probability `enforcingSuccessRate` % (default 100, as in Envoy; 0 disables).
// - Ejection: allowed if the ejected share including this one stays <= `maxEjectionPercent` (10), or if nothing
//   is ejected yet and `alwaysEjectOneHost` (default true, as our issue asks and as older Envoy always did;
//   current Envoy enforces the percentage strictly, envoy#27909, with `always_eject_one_host` as an opt-in,
//   envoy#34796). It lasts min(baseEjectionTimeMs × multiplier, maxEjectionTimeMs)
//   (30 s, 300 s); the multiplier grows by one per ejection while base × multiplier < max and shrinks by one at
//   every sweep that finds the member un-ejected for at least an interval. Ejected members come back at the
//   first sweep after their time is up (Envoy checks on the interval timer too), or at once on a successful
//   active health check when `successfulActiveHealthCheckUnejectHost` (default true).
// - Every ejection and un-ejection is an `ejection` event; `stats()` has counters per member.
// - `random` (uniform in [0, 1), for the enforcing rolls): its type is checked at construction (TypeError),
//   which draws nothing from it, so a seeded source shared with a Balancer (the gRPC bridge, createFetch) keeps
//   its sequence. Each value is checked at its roll: outside [0, 1) is a RangeError naming `random` and the
//   value, thrown by `record()` (the outcome is counted; the next failure rolls again) and by a direct `sweep()`
//   (the sweep still ends its interval). A timer sweep has no caller to throw to: its error ends that sweep's
//   rolls, is counted in `stats().sweepErrors` (as listener errors are in `listenerErrors`) and the sweeps go on.
// Options, defaults and their validation: options.ts.
//
//   const od = new OutlierDetector({ consecutive5xx: 5 });
//   od.add('a'); od.start();
//   od.record('a', { ok: false, status: 503 });
import type { Clock } from '../util/clock.js';
import type { Random } from '../util/random.js';
import { bool, intInRange, rangeError, str, typeError } from '../util/validate.js';
import { describeFailure } from '../util/failure.js';
import { parseOutlierOptions, type OutlierDetectorOptions } from './options.js';

export type { OutlierDetectorOptions } from './options.js';

export interface OutlierOutcome {
  ok: boolean;
  /** The response status, an integer in [0, 999]; undefined when there was none. */
  status?: number;
  /** Why the request failed; undefined or null: no error. */
  error?: unknown;
  rttMs?: number;
}

export type EjectionKind = 'consecutive-5xx' | 'success-rate';

export interface EjectionEvent {
  id: string;
  /** true: ejected now; false: returned to service. */
  ejected: boolean;
  /** What triggered an ejection; for an un-ejection, what had triggered it. */
  kind: EjectionKind;
  reason: string;
  at: number;
  /** For ejections: how long it lasts (before the sweep that returns it). */
  ejectionMs: number;
}

export interface MemberOutlierStats {
  id: string;
  ejected: boolean;
  ejectedKind: EjectionKind | null;
  ejectedAt: number | null;
  /** When the ejection time is up (returned at the next sweep), or null. */
  ejectedUntil: number | null;
  multiplier: number;
  timesEjected: number;
  consecutiveFailures: number;
  /** Outcomes in the current interval. */
  intervalSuccesses: number;
  intervalTotal: number;
  /** Last success rate (%) computed for it by a sweep, or null. */
  successRate: number | null;
}

export interface OutlierStats {
  running: boolean;
  members: MemberOutlierStats[];
  ejected: number;
  ejectionsTotal: number;
  ejectionsConsecutive5xx: number;
  ejectionsSuccessRate: number;
  /** Outliers not ejected because of maxEjectionPercent (Envoy `ejections_overflow`). */
  ejectionsOverflow: number;
  /** Outliers not ejected because the enforcing roll said no. */
  ejectionsNotEnforced: number;
  sweeps: number;
  /** The last success-rate threshold (%), or null when the last sweep had too few hosts. */
  successRateThreshold: number | null;
  listenerErrors: number;
  /**
   * Timer sweeps that ended in an error (such as a `random` value outside [0, 1)): that sweep's remaining rolls were
   * skipped, its interval ended, the sweeps went on. `sweep()` called directly throws the error instead.
   */
  sweepErrors: number;
}

const BACKGROUND = { background: true } as const;

interface Monitor {
  id: string;
  ejected: boolean;
  kind: EjectionKind | null;
  ejectedAt: number;
  ejectionMs: number;
  lastUnejectedAt: number | null;
  multiplier: number;
  timesEjected: number;
  failRun: number;
  ok: number;
  total: number;
  successRate: number | null;
}

/** Is this outcome a failure for outlier detection: `ok: false`, an error (not null), or a 5xx status. */
export function isFailure(o: OutlierOutcome): boolean {
  return (
    o.ok === false ||
    (o.error !== undefined && o.error !== null) ||
    (typeof o.status === 'number' && o.status >= 500 && o.status <= 599)
  );
}

/**
 * What a failed outcome says, for a consecutive-failure ejection's "last: ...": its status (0 is none) and its
 * error (an Error's name unless plain `Error`, its message and its cause's code and peer, as resolver errors
 * give them: `TimeoutError: try timed out after 2000 ms`, `TypeError: fetch failed (ECONNREFUSED 10.0.0.7:80)`),
 * else `failed` (an `ok: false` with neither).
 */
export function describeOutcome(o: OutlierOutcome): string {
  const parts: string[] = [];
  if (o.status !== undefined && o.status !== 0) parts.push(`status ${o.status}`);
  const e = o.error;
  if (e !== undefined && e !== null) {
    const text = describeFailure(e);
    const named = e instanceof Error && e.name !== 'Error' && e.message !== '' && !text.startsWith(e.name);
    parts.push(named ? `${e.name}: ${text}` : text);
  }
  return parts.length > 0 ? parts.join(', ') : 'failed';
}

/** Checks an outcome's shape; a TypeError/RangeError naming `outcome`, `outcome.ok` or `outcome.status`. */
function checkOutcome(outcome: unknown): OutlierOutcome {
  if (typeof outcome !== 'object' || outcome === null)
    throw typeError('outcome', 'an object { ok, status?, error? }', outcome);
  const o = outcome as OutlierOutcome;
  bool('outcome.ok', o.ok);
  if (o.status !== undefined) intInRange('outcome.status', o.status, 0, 999);
  return o;
}

export class OutlierDetector {
  readonly consecutive5xx: number;
  readonly intervalMs: number;
  readonly baseEjectionTimeMs: number;
  readonly maxEjectionTimeMs: number;
  readonly maxEjectionPercent: number;
  readonly successRateMinimumHosts: number;
  readonly successRateRequestVolume: number;
  readonly successRateStdevFactor: number;
  readonly successfulActiveHealthCheckUnejectHost: boolean;
  readonly alwaysEjectOneHost: boolean;
  private readonly enforcingConsecutive5xx: number;
  private readonly enforcingSuccessRate: number;
  private readonly clock: Clock;
  private readonly random: Random;
  private readonly monitors = new Map<string, Monitor>();
  private readonly fns = new Set<(e: EjectionEvent) => void>();
  private timer: unknown = null;
  private ejectedCount = 0;
  private counters = {
    total: 0,
    c5xx: 0,
    sr: 0,
    overflow: 0,
    notEnforced: 0,
    sweeps: 0,
    listenerErrors: 0,
    sweepErrors: 0,
  };
  private threshold: number | null = null;

  /**
   * `field`: how errors name the options object (`outlierDetection`: `outlierDetection.intervalMs must be ...`);
   * default: the options by their bare names.
   */
  constructor(options: OutlierDetectorOptions = {}, field?: string) {
    const c = parseOutlierOptions(options, field);
    this.consecutive5xx = c.consecutive5xx;
    this.enforcingConsecutive5xx = c.enforcingConsecutive5xx;
    this.intervalMs = c.intervalMs;
    this.baseEjectionTimeMs = c.baseEjectionTimeMs;
    this.maxEjectionTimeMs = c.maxEjectionTimeMs;
    this.maxEjectionPercent = c.maxEjectionPercent;
    this.alwaysEjectOneHost = c.alwaysEjectOneHost;
    this.enforcingSuccessRate = c.enforcingSuccessRate;
    this.successRateMinimumHosts = c.successRateMinimumHosts;
    this.successRateRequestVolume = c.successRateRequestVolume;
    this.successRateStdevFactor = c.successRateStdevFactor;
    this.successfulActiveHealthCheckUnejectHost = c.successfulActiveHealthCheckUnejectHost;
    this.clock = c.clock;
    this.random = c.random;
  }

  get isRunning(): boolean {
    return this.timer !== null;
  }

  /** Starts the sweep timer (every intervalMs). Idempotent. */
  start(): void {
    if (this.timer !== null) return;
    const tick = () => {
      this.timer = this.clock.setTimeout(tick, this.intervalMs, BACKGROUND);
      try {
        this.sweep();
      } catch {
        this.counters.sweepErrors++;
      }
    };
    this.timer = this.clock.setTimeout(tick, this.intervalMs, BACKGROUND);
  }

  stop(): void {
    if (this.timer !== null) this.clock.clearTimeout(this.timer);
    this.timer = null;
  }

  add(id: string): boolean {
    if (typeof id !== 'string' || id.length === 0) throw typeError('id', 'a non-empty string', id);
    if (this.monitors.has(id)) return false;
    this.monitors.set(id, {
      id,
      ejected: false,
      kind: null,
      ejectedAt: 0,
      ejectionMs: 0,
      lastUnejectedAt: null,
      multiplier: 0,
      timesEjected: 0,
      failRun: 0,
      ok: 0,
      total: 0,
      successRate: null,
    });
    return true;
  }

  /** Forgets a member (no event even if it was ejected). */
  remove(id: string): boolean {
    const m = this.monitors.get(id);
    if (m === undefined) return false;
    if (m.ejected) this.ejectedCount--;
    this.monitors.delete(id);
    return true;
  }

  has(id: string): boolean {
    return this.monitors.has(id);
  }

  isEjected(id: string): boolean {
    return this.monitors.get(id)?.ejected === true;
  }

  /** Watched and not ejected. */
  isAvailable(id: string): boolean {
    const m = this.monitors.get(id);
    return m !== undefined && !m.ejected;
  }

  /** Records one request outcome; false for an unknown member. May eject inline. */
  record(id: string, outcome: OutlierOutcome): boolean {
    str('id', id);
    checkOutcome(outcome);
    const m = this.monitors.get(id);
    if (m === undefined) return false;
    m.total++;
    if (!isFailure(outcome)) {
      m.ok++;
      m.failRun = 0;
      return true;
    }
    m.failRun++;
    if (!m.ejected && m.failRun >= this.consecutive5xx)
      this.tryEject(
        m,
        'consecutive-5xx',
        `${m.failRun} consecutive failures, last: ${describeOutcome(outcome)}`,
        this.enforcingConsecutive5xx,
      );
    return true;
  }

  /** A successful active health check: un-ejects when `successfulActiveHealthCheckUnejectHost`. */
  onActiveCheckSuccess(id: string): boolean {
    if (!this.successfulActiveHealthCheckUnejectHost) return false;
    const m = this.monitors.get(id);
    if (m === undefined || !m.ejected) return false;
    this.unejectMonitor(m, 'successful active health check');
    return true;
  }

  /** Returns an ejected member to service now. */
  uneject(id: string, reason = 'manual'): boolean {
    const m = this.monitors.get(id);
    if (m === undefined || !m.ejected) return false;
    this.unejectMonitor(m, reason);
    return true;
  }

  /**
   * The interval analysis (run by the timer after `start()`; callable directly). A `random` value outside
   * [0, 1) at a roll is a RangeError, thrown once the interval has ended.
   */
  sweep(): void {
    const now = this.clock.now();
    this.counters.sweeps++;
    for (const m of this.monitors.values()) {
      if (m.ejected) {
        if (now - m.ejectedAt >= m.ejectionMs) this.unejectMonitor(m, `ejection time ${m.ejectionMs} ms elapsed`);
      } else if (m.multiplier > 0 && m.lastUnejectedAt !== null && now - m.lastUnejectedAt >= this.intervalMs) {
        m.multiplier--;
      }
    }
    try {
      this.successRateSweep();
    } finally {
      for (const m of this.monitors.values()) {
        m.ok = 0;
        m.total = 0;
      }
    }
  }

  on(event: 'ejection', fn: (e: EjectionEvent) => void): () => void {
    if (event !== 'ejection') throw rangeError('event', "'ejection'", event);
    if (typeof fn !== 'function') throw typeError('listener', 'a function', fn);
    this.fns.add(fn);
    return () => {
      this.fns.delete(fn);
    };
  }

  stats(): OutlierStats {
    const members: MemberOutlierStats[] = [];
    for (const m of this.monitors.values())
      members.push({
        id: m.id,
        ejected: m.ejected,
        ejectedKind: m.ejected ? m.kind : null,
        ejectedAt: m.ejected ? m.ejectedAt : null,
        ejectedUntil: m.ejected ? m.ejectedAt + m.ejectionMs : null,
        multiplier: m.multiplier,
        timesEjected: m.timesEjected,
        consecutiveFailures: m.failRun,
        intervalSuccesses: m.ok,
        intervalTotal: m.total,
        successRate: m.successRate,
      });
    const c = this.counters;
    return {
      running: this.isRunning,
      members,
      ejected: this.ejectedCount,
      ejectionsTotal: c.total,
      ejectionsConsecutive5xx: c.c5xx,
      ejectionsSuccessRate: c.sr,
      ejectionsOverflow: c.overflow,
      ejectionsNotEnforced: c.notEnforced,
      sweeps: c.sweeps,
      successRateThreshold: this.threshold,
      listenerErrors: c.listenerErrors,
      sweepErrors: c.sweepErrors,
    };
  }

  private successRateSweep(): void {
    const rates: Array<[Monitor, number]> = [];
    for (const m of this.monitors.values()) {
      m.successRate = null;
      if (!m.ejected && m.total >= this.successRateRequestVolume) {
        m.successRate = (100 * m.ok) / m.total;
        rates.push([m, m.successRate]);
      }
    }
    if (rates.length < this.successRateMinimumHosts) {
      this.threshold = null;
      return;
    }
    let sum = 0;
    for (const [, r] of rates) sum += r;
    const mean = sum / rates.length;
    let sq = 0;
    for (const [, r] of rates) sq += (r - mean) * (r - mean);
    const stdev = Math.sqrt(sq / rates.length);
    const threshold = mean - (this.successRateStdevFactor / 1000) * stdev;
    this.threshold = threshold;
    for (const [m, r] of rates)
      if (r < threshold)
        this.tryEject(
          m,
          'success-rate',
          `success rate ${r.toFixed(2)}% < threshold ${threshold.toFixed(2)}% (mean ${mean.toFixed(2)}%, stdev ${stdev.toFixed(2)})`,
          this.enforcingSuccessRate,
        );
  }

  private tryEject(m: Monitor, kind: EjectionKind, reason: string, enforcing: number): void {
    const n = this.monitors.size;
    const first = this.ejectedCount === 0 && this.alwaysEjectOneHost;
    if (!first && (100 * (this.ejectedCount + 1)) / n > this.maxEjectionPercent) {
      this.counters.overflow++;
      return;
    }
    if (enforcing < 100 && !(this.random() * 100 < enforcing)) {
      this.counters.notEnforced++;
      return;
    }
    const now = this.clock.now();
    if (this.baseEjectionTimeMs * m.multiplier < this.maxEjectionTimeMs) m.multiplier++;
    m.ejected = true;
    m.kind = kind;
    m.ejectedAt = now;
    m.ejectionMs = Math.min(this.baseEjectionTimeMs * m.multiplier, this.maxEjectionTimeMs);
    m.timesEjected++;
    m.failRun = 0;
    this.ejectedCount++;
    this.counters.total++;
    if (kind === 'consecutive-5xx') this.counters.c5xx++;
    else this.counters.sr++;
    this.emit({ id: m.id, ejected: true, kind, reason, at: now, ejectionMs: m.ejectionMs });
  }

  private unejectMonitor(m: Monitor, reason: string): void {
    const now = this.clock.now();
    m.ejected = false;
    m.lastUnejectedAt = now;
    m.failRun = 0;
    this.ejectedCount--;
    this.emit({ id: m.id, ejected: false, kind: m.kind!, reason, at: now, ejectionMs: m.ejectionMs });
  }

  private emit(e: EjectionEvent): void {
    for (const fn of this.fns) {
      try {
        fn(e);
      } catch {
        this.counters.listenerErrors++;
      }
    }
  }
}

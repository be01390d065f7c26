// Options of the health subsystem: the public option shapes, their defaults and their validation into
// resolved configs, for the HealthChecker (checker.ts; Envoy's active health checking,
// `config.core.v3.HealthCheck`, plus the 3 s timeout of docs/design.md, "Health states") and the
// OutlierDetector (outlier.ts; Envoy's `config.cluster.v3.OutlierDetection`, names in camelCase with
// units). Every bad value, and an unknown option key, is a TypeError/RangeError naming the field and the
// value (util/validate.ts); for the HealthChecker only `undefined` means "the default" (null is a TypeError).
// Given the name of the options object (`field`, e.g. 'healthCheck' when createFetch builds the checker), every
// field is named under it (`healthCheck.timeoutMs must be less than healthCheck.intervalMs (1000), got 1000`);
// without it, by its bare name (`timeoutMs must be ...`), an unknown key as `options.<key>`. Neither `random` is
// drawn at construction (a seeded source shared with a Balancer keeps its sequence); each value is checked when
// drawn (checker.ts and outlier.ts say where a bad one is thrown or counted).
// Timer delays are capped at setTimeout's limit, 2^31 - 1 ms (~24.8 days).
//
//   parseHealthOptions({ probe, intervalMs: 1000, timeoutMs: 1000 }); // RangeError: timeoutMs must be less than intervalMs (1000), got 1000
import { MAX_TIMER_MS, systemClock, validateClock, type Clock } from '../util/clock.js';
import type { Endpoint } from '../util/endpoint.js';
import { checkedRandom, defaultRandom, validateRandom, type Random } from '../util/random.js';
import { bool, checkKeys, describe, intInRange, positive, rangeError, str, typeError } from '../util/validate.js';

// Kept for callers that imported it from here (http/fetch-options.ts); the one definition is util/random.ts.

/** What a health checker needs of a member; Balancer `Endpoint`s qualify. */
export type HealthMember = Pick<Endpoint, 'id' | 'host' | 'port'>;

/**
 * A probe: resolve `true` when the member is healthy. `false`, a rejection (its message becomes the reason),
 * a synchronous throw, a non-boolean result or not settling within `timeoutMs` are failures.
 * Stop work when `signal` aborts.
 */
export type HealthProbe<M extends HealthMember = HealthMember> = (member: M, signal: AbortSignal) => Promise<boolean>;

export interface HealthCheckerOptions<M extends HealthMember = HealthMember> {
  /** The probe: `httpProbe(...)`, `tcpProbe(...)` (Node) or your own function. */
  probe: HealthProbe<M>;
  /** Base period between the end of one probe and the start of the next (default 10 000). */
  intervalMs?: number;
  /**
   * Abort and fail a probe after this long (default min(3000, intervalMs / 2), or unhealthyIntervalMs / 2 when
   * that is not less than unhealthyIntervalMs; 3 s is from docs/design.md).
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
  /**
   * Time and timers (default `systemClock`); probe schedules and timeouts are background timers. Inject a
   * `VirtualClock` (util/clock.ts) in tests.
   */
  clock?: Clock;
  /**
   * Uniform in [0, 1) (default Math.random), for the jitters; nothing is drawn at construction. A value outside
   * [0, 1) is a RangeError naming `random` from `start()`, `add()` or `update()` (initial jitter); drawn for an
   * interval's jitter after a probe, it is counted in `stats().jitterErrors` and that interval goes without jitter.
   */
  random?: Random;
}

/**
 * The keys of HealthCheckerOptions but `probe`: what a caller that makes the probe itself (createFetch's
 * `healthCheck`, typed `Omit<HealthCheckerOptions, 'probe'>`) accepts.
 */
export const HEALTH_TIMING_KEYS = [
  'intervalMs',
  'timeoutMs',
  'unhealthyIntervalMs',
  'recheckDelayMs',
  'initialJitterMs',
  'intervalJitterMs',
  'intervalJitterPercent',
  'unhealthyThreshold',
  'healthyThreshold',
  'startHealthy',
  'maxConcurrentProbes',
  'clock',
  'random',
] satisfies (keyof Omit<HealthCheckerOptions, 'probe'>)[];

/** The keys of HealthCheckerOptions: a misspelt one is refused. */
export const HEALTH_KEYS = ['probe', ...HEALTH_TIMING_KEYS] satisfies (keyof HealthCheckerOptions)[];

export const DEFAULT_INTERVAL_MS = 10_000;
export const DEFAULT_TIMEOUT_MS = 3_000;
export const DEFAULT_UNHEALTHY_THRESHOLD = 3;
export const DEFAULT_HEALTHY_THRESHOLD = 3;
export const DEFAULT_MAX_CONCURRENT_PROBES = 128;
const MAX_THRESHOLD = 1_000_000;

/** The validated options, every default applied. */
export interface HealthConfig<M extends HealthMember> {
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
  clock: Clock;
  random: Random;
}

function nonNegative(field: string, v: unknown, max = MAX_TIMER_MS): number {
  if (typeof v !== 'number') throw typeError(field, `a number in [0, ${max}]`, v);
  if (!Number.isFinite(v) || v < 0 || v > max) throw rangeError(field, `a number in [0, ${max}]`, v);
  return v;
}

function delay(field: string, v: unknown): number {
  const x = positive(field, v);
  if (x > MAX_TIMER_MS) throw rangeError(field, `a finite number > 0 and <= ${MAX_TIMER_MS}`, v);
  return x;
}

const percent = (field: string, v: unknown) => nonNegative(field, v, 100);
function requireObject(field: string, o: unknown): void {
  if (typeof o !== 'object' || o === null || Array.isArray(o)) throw typeError(field, 'an object', o);
}

/** How errors name the options object's fields: under `field` when given, else bare. */
export const fieldNamer =
  (field: string | undefined) =>
  (name: string): string =>
    field === undefined ? name : `${field}.${name}`;

/** `v`, or `dflt` when undefined (only undefined: null is a value, and a wrong one). */
const or = <T>(v: T | undefined, dflt: T): T => (v === undefined ? dflt : v);

/**
 * The validated HealthChecker options; `field`, when given, names the options object in errors (`healthCheck`:
 * `healthCheck.timeoutMs must be ...`).
 */
export function parseHealthOptions<M extends HealthMember>(
  o: HealthCheckerOptions<M>,
  field?: string,
): HealthConfig<M> {
  const f = fieldNamer(field);
  requireObject(field ?? 'options', o);
  checkKeys(field ?? 'options', o, HEALTH_KEYS);
  if (typeof o.probe !== 'function')
    throw typeError(f('probe'), 'a function (member, signal) => Promise<boolean>', o.probe);
  const intervalMs = delay(f('intervalMs'), or(o.intervalMs, DEFAULT_INTERVAL_MS));
  const unhealthyIntervalMs = delay(f('unhealthyIntervalMs'), or(o.unhealthyIntervalMs, intervalMs));
  // the default: 3 s, at most half the interval; and half the unhealthy interval only where it would not fit
  const dflt = Math.min(DEFAULT_TIMEOUT_MS, intervalMs / 2);
  const timeoutMs = delay(f('timeoutMs'), or(o.timeoutMs, dflt < unhealthyIntervalMs ? dflt : unhealthyIntervalMs / 2));
  if (timeoutMs >= intervalMs)
    throw rangeError(f('timeoutMs'), `less than ${f('intervalMs')} (${intervalMs})`, timeoutMs);
  if (timeoutMs >= unhealthyIntervalMs)
    throw rangeError(f('timeoutMs'), `less than ${f('unhealthyIntervalMs')} (${unhealthyIntervalMs})`, timeoutMs);
  const threshold = (name: string, v: unknown) => intInRange(f(name), v, 1, MAX_THRESHOLD);
  const initialJitterMs = nonNegative(f('initialJitterMs'), or(o.initialJitterMs, 0));
  const intervalJitterMs = nonNegative(f('intervalJitterMs'), or(o.intervalJitterMs, 0));
  const intervalJitterPercent = percent(f('intervalJitterPercent'), or(o.intervalJitterPercent, 0));
  return {
    probe: o.probe,
    intervalMs,
    timeoutMs,
    unhealthyIntervalMs,
    recheckDelayMs: nonNegative(f('recheckDelayMs'), or(o.recheckDelayMs, 0)),
    initialJitterMs,
    intervalJitterMs,
    intervalJitterPercent,
    unhealthyThreshold: threshold('unhealthyThreshold', or(o.unhealthyThreshold, DEFAULT_UNHEALTHY_THRESHOLD)),
    healthyThreshold: threshold('healthyThreshold', or(o.healthyThreshold, DEFAULT_HEALTHY_THRESHOLD)),
    startHealthy: bool(f('startHealthy'), or(o.startHealthy, false)),
    maxConcurrentProbes: intInRange(
      f('maxConcurrentProbes'),
      or(o.maxConcurrentProbes, DEFAULT_MAX_CONCURRENT_PROBES),
      1,
      1_000_000,
    ),
    clock: o.clock === undefined ? systemClock : validateClock(f('clock'), o.clock),
    random: checkedRandom(validateRandom(f('random'), or<unknown>(o.random, defaultRandom))),
  };
}

export interface OutlierDetectorOptions {
  /** Consecutive failures before ejection (Envoy `consecutive_5xx`, default 5). */
  consecutive5xx?: number;
  /** % chance a consecutive-failure outlier is really ejected (default 100; 0 disables). */
  enforcingConsecutive5xx?: number;
  /** Sweep period: un-ejections, multiplier decay, success-rate analysis (Envoy `interval`, default 10 000). */
  intervalMs?: number;
  /** Envoy `base_ejection_time` (default 30 000). */
  baseEjectionTimeMs?: number;
  /** Envoy `max_ejection_time` (default 300 000; >= baseEjectionTimeMs). */
  maxEjectionTimeMs?: number;
  /** Envoy `max_ejection_percent` (default 10). */
  maxEjectionPercent?: number;
  /** Envoy `always_eject_one_host`: one member can be ejected whatever the percentage (default true). */
  alwaysEjectOneHost?: boolean;
  /** % chance a success-rate outlier is really ejected (Envoy `enforcing_success_rate`, default 100). */
  enforcingSuccessRate?: number;
  /** Envoy `success_rate_minimum_hosts` (default 5). */
  successRateMinimumHosts?: number;
  /** Envoy `success_rate_request_volume` (default 100). */
  successRateRequestVolume?: number;
  /** Envoy `success_rate_stdev_factor`, divided by 1000 (default 1900 → 1.9). */
  successRateStdevFactor?: number;
  /** Envoy `successful_active_health_check_uneject_host` (default true). */
  successfulActiveHealthCheckUnejectHost?: boolean;
  /** Time and timers (default `systemClock`); the sweep is a background timer. */
  clock?: Clock;
  /** Uniform in [0, 1), for the enforcing percentages (default Math.random); a value outside is a RangeError naming `random` at the roll that draws it (nothing is drawn at construction: a seeded source shared with the Balancer keeps its sequence). */
  random?: Random;
}

export const DEFAULT_CONSECUTIVE_5XX = 5;
export const DEFAULT_OUTLIER_INTERVAL_MS = 10_000;
export const DEFAULT_BASE_EJECTION_TIME_MS = 30_000;
export const DEFAULT_MAX_EJECTION_TIME_MS = 300_000;
export const DEFAULT_MAX_EJECTION_PERCENT = 10;
export const DEFAULT_SUCCESS_RATE_MINIMUM_HOSTS = 5;
export const DEFAULT_SUCCESS_RATE_REQUEST_VOLUME = 100;
export const DEFAULT_SUCCESS_RATE_STDEV_FACTOR = 1900;

/** The validated outlier options, every default applied. */
export type OutlierConfig = Required<OutlierDetectorOptions>;

/** The keys of OutlierDetectorOptions: a misspelt one (Envoy's `consecutive_5xx`) is refused. */
export const OUTLIER_KEYS = [
  'consecutive5xx',
  'enforcingConsecutive5xx',
  'intervalMs',
  'baseEjectionTimeMs',
  'maxEjectionTimeMs',
  'maxEjectionPercent',
  'alwaysEjectOneHost',
  'enforcingSuccessRate',
  'successRateMinimumHosts',
  'successRateRequestVolume',
  'successRateStdevFactor',
  'successfulActiveHealthCheckUnejectHost',
  'clock',
  'random',
] satisfies (keyof OutlierDetectorOptions)[];

/** The validated OutlierDetector options; `field`, when given, names the options object in errors. */
export function parseOutlierOptions(o: OutlierDetectorOptions, field?: string): OutlierConfig {
  const f = fieldNamer(field);
  requireObject(field ?? 'options', o);
  checkKeys(field ?? 'options', o, OUTLIER_KEYS);
  const baseEjectionTimeMs = positive(f('baseEjectionTimeMs'), or(o.baseEjectionTimeMs, DEFAULT_BASE_EJECTION_TIME_MS));
  const maxEjectionTimeMs = positive(
    f('maxEjectionTimeMs'),
    or(o.maxEjectionTimeMs, Math.max(DEFAULT_MAX_EJECTION_TIME_MS, baseEjectionTimeMs)),
  );
  if (maxEjectionTimeMs < baseEjectionTimeMs)
    throw rangeError(
      f('maxEjectionTimeMs'),
      `>= ${f('baseEjectionTimeMs')} (${baseEjectionTimeMs})`,
      maxEjectionTimeMs,
    );
  const count = (name: string, v: unknown, min: number, max = 1_000_000) => intInRange(f(name), v, min, max);
  return {
    consecutive5xx: count('consecutive5xx', or(o.consecutive5xx, DEFAULT_CONSECUTIVE_5XX), 1),
    enforcingConsecutive5xx: percent(f('enforcingConsecutive5xx'), or(o.enforcingConsecutive5xx, 100)),
    intervalMs: delay(f('intervalMs'), or(o.intervalMs, DEFAULT_OUTLIER_INTERVAL_MS)),
    baseEjectionTimeMs,
    maxEjectionTimeMs,
    maxEjectionPercent: percent(f('maxEjectionPercent'), or(o.maxEjectionPercent, DEFAULT_MAX_EJECTION_PERCENT)),
    alwaysEjectOneHost: bool(f('alwaysEjectOneHost'), or(o.alwaysEjectOneHost, true)),
    enforcingSuccessRate: percent(f('enforcingSuccessRate'), or(o.enforcingSuccessRate, 100)),
    successRateMinimumHosts: count(
      'successRateMinimumHosts',
      or(o.successRateMinimumHosts, DEFAULT_SUCCESS_RATE_MINIMUM_HOSTS),
      1,
    ),
    successRateRequestVolume: count(
      'successRateRequestVolume',
      or(o.successRateRequestVolume, DEFAULT_SUCCESS_RATE_REQUEST_VOLUME),
      1,
      Number.MAX_SAFE_INTEGER,
    ),
    successRateStdevFactor: count(
      'successRateStdevFactor',
      or(o.successRateStdevFactor, DEFAULT_SUCCESS_RATE_STDEV_FACTOR),
      0,
    ),
    successfulActiveHealthCheckUnejectHost: bool(
      f('successfulActiveHealthCheckUnejectHost'),
      or(o.successfulActiveHealthCheckUnejectHost, true),
    ),
    clock: o.clock === undefined ? systemClock : validateClock(f('clock'), o.clock),
    random: checkedRandom(validateRandom(f('random'), or<unknown>(o.random, defaultRandom))),
  };
}

/** Checks `{ id, host, port }` (port 0 allowed: a member named without an address). */
export function validateMember(field: string, m: unknown): HealthMember {
  const o = m as Partial<HealthMember> | null;
  if (typeof o !== 'object' || o === null) throw typeError(field, 'an object { id, host, port }', m);
  if (typeof o.id !== 'string' || o.id.length === 0) throw typeError(`${field}.id`, 'a non-empty string', o.id);
  str(`${field}.host`, o.host);
  intInRange(`${field}.port`, o.port, 0, 65535);
  return o as HealthMember;
}

/** A failure reason: an Error's message (or name), any other value described. */
export function errorMessage(e: unknown): string {
  if (e instanceof Error) return e.message || e.name;
  return describe(e);
}

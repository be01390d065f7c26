// Connects a HealthChecker (active) and an OutlierDetector (passive) to a Balancer: members follow the
// Balancer's membership, request outcomes reported through pick handles feed the detector, and every change
// of "may receive traffic" is pushed to the Balancer with `setAvailable(id, available, reason)`; the Balancer
// rebuilds its picker and applies panic mode. Nothing polls: everything is driven by events.
//
// A member is available when the checker says healthy or suspect (not pending, failed or draining) and the
// detector has not ejected it. A successful active probe un-ejects (Envoy
// `successful_active_health_check_uneject_host`, an option of the detector). A member whose first probe has
// not finished is reported pending (`setAvailable(id, false, reason, true)`): the Balancer does not count it
// for panic and, while no member is available yet, waits for first results instead of panicking (Envoy's
// excluded hosts and cluster warming; see balancing/balancer.ts). A `checker` or `detector` lacking a method
// the wiring calls is a TypeError naming it. Outcomes are recorded as the Balancer reports them: a malformed
// one (`status: '503'`) throws from `record()` (outlier.ts), out of the `done()` that reported it.
//
//   const hc = new HealthChecker({ probe: httpProbe({ path: '/healthz' }), intervalMs: 5000, timeoutMs: 1000 });
//   const od = new OutlierDetector();
//   const wiring = connectHealth(balancer, { checker: hc, detector: od }); // starts both
//   ...; wiring.close(); // unsubscribes and stops them
import { systemClock, validateClock, type Clock } from '../util/clock.js';
import type { HealthChecker, HealthMember } from './checker.js';
import type { OutlierDetector, OutlierOutcome } from './outlier.js';
import { bool, positive, typeError } from '../util/validate.js';

/** The part of the Balancer this module uses (balancing/balancer.ts). */
export interface HealthTarget<M extends HealthMember = HealthMember> {
  readonly members: readonly M[];
  /** `pending`: unavailable because the member awaits its first health result. */
  setAvailable(id: string, available: boolean, reason?: string, pending?: boolean): boolean;
  remove?(id: string): boolean;
  // Same order as Balancer's overloads, so that a Balancer is assignable.
  /** `rtt: false`: outlier detection reads no RTT, so its listener makes no pick timed. */
  on(event: 'outcome', fn: (e: ObservedOutcome) => void, opts?: { rtt?: boolean }): () => void;
  on(event: 'membership', fn: (e: unknown) => void): () => void;
}

export interface ObservedOutcome extends OutlierOutcome {
  id: string;
}

export interface HealthWiringOptions<M extends HealthMember = HealthMember> {
  checker?: HealthChecker<M>;
  detector?: OutlierDetector;
  /** Start the checker and detector now and stop them on close() (default true). */
  start?: boolean;
  /** Timers for drain grace periods (default `systemClock`; background timers). */
  clock?: Clock;
}

export interface HealthWiring {
  /** What the wiring last told the Balancer about a member. */
  isAvailable(id: string): boolean;
  /** Why, as last told. */
  reason(id: string): string | undefined;
  /**
   * Takes a member out of picking (checker state `draining`) and, after `graceMs` if given, removes it from
   * the Balancer (from a background timer: an error `remove()` throws there, such as a Balancer listener's, is
   * dropped, never an uncaught exception). False if the member is unknown or the wiring is closed.
   */
  drain(id: string, graceMs?: number): boolean;
  /**
   * Unsubscribes everything and cancels drain timers; stops checker and detector if it started them. The members
   * it had taken out of rotation (failed, ejected, awaiting a first result) are made available again, as nothing
   * judges them any more; draining members stay out.
   */
  close(): void;
}

// What the wiring calls on each (a HealthChecker, an OutlierDetector, or anything with these methods).
const CHECKER_METHODS = [
  'on',
  'isAvailable',
  'lastReason',
  'state',
  'add',
  'update',
  'remove',
  'drain',
  'start',
  'stop',
];
const DETECTOR_METHODS = ['on', 'isEjected', 'record', 'onActiveCheckSuccess', 'add', 'remove', 'start', 'stop'];

function hasMethods(v: unknown, names: readonly string[]): boolean {
  return (
    v !== null && typeof v === 'object' && names.every((n) => typeof (v as Record<string, unknown>)[n] === 'function')
  );
}

export function connectHealth<M extends HealthMember>(
  balancer: HealthTarget<M>,
  options: HealthWiringOptions<M> = {},
): HealthWiring {
  if (typeof balancer !== 'object' || balancer === null || typeof balancer.setAvailable !== 'function')
    throw typeError('balancer', 'a Balancer (members, setAvailable, on)', balancer);
  if (typeof options !== 'object' || options === null) throw typeError('options', 'an object', options);
  const { checker, detector } = options;
  if (checker !== undefined && !hasMethods(checker, CHECKER_METHODS))
    throw typeError('checker', 'a HealthChecker', checker);
  if (detector !== undefined && !hasMethods(detector, DETECTOR_METHODS))
    throw typeError('detector', 'an OutlierDetector', detector);
  const start = bool('start', options.start ?? true);
  const clock = options.clock === undefined ? systemClock : validateClock('clock', options.clock);

  type Verdict = { available: boolean; reason: string; pending: boolean };
  const told = new Map<string, Verdict>();
  const members = new Map<string, M>();
  const draining = new Set<string>();
  const drainTimers = new Map<string, unknown>();
  const offs: Array<() => void> = [];
  let closed = false;

  const verdict = (id: string): Verdict => {
    if (draining.has(id)) return { available: false, reason: 'draining', pending: false };
    if (checker !== undefined && !checker.isAvailable(id)) {
      const last = checker.lastReason(id);
      const state = checker.state(id);
      return {
        available: false,
        reason: `health check: ${state ?? 'unknown'}${last !== null ? ` (${last})` : ''}`,
        pending: state === 'pending',
      };
    }
    if (detector !== undefined && detector.isEjected(id))
      return { available: false, reason: 'outlier: ejected', pending: false };
    return {
      available: true,
      reason: checker?.state(id) === 'suspect' ? 'health check: suspect' : 'healthy',
      pending: false,
    };
  };

  const apply = (id: string) => {
    if (closed || !told.has(id)) return;
    const v = verdict(id);
    const last = told.get(id)!;
    if (last.available === v.available && last.pending === v.pending) {
      last.reason = v.reason;
      return;
    }
    told.set(id, v);
    if (v.pending) balancer.setAvailable(id, false, v.reason, true);
    else balancer.setAvailable(id, v.available, v.reason);
  };

  const sync = () => {
    if (closed) return;
    const now = new Map<string, M>();
    for (const m of balancer.members) now.set(m.id, m);
    for (const id of [...told.keys()])
      if (!now.has(id)) {
        told.delete(id);
        members.delete(id);
        draining.delete(id);
        const t = drainTimers.get(id);
        if (t !== undefined) clock.clearTimeout(t);
        drainTimers.delete(id);
        checker?.remove(id);
        detector?.remove(id);
      }
    for (const [id, m] of now)
      if (closed)
        return; // a Balancer listener (apply's setAvailable) closed the wiring: the rest is nobody's
      else if (told.has(id)) {
        if (checker !== undefined && members.get(id) !== m) {
          const prev = members.get(id);
          checker.update(m);
          if (prev !== undefined && (prev.host !== m.host || prev.port !== m.port)) apply(id);
        }
        members.set(id, m);
      } else {
        members.set(id, m);
        checker?.add(m);
        detector?.add(id);
        // The Balancer adds members available; say otherwise at once if needed.
        told.set(id, { available: true, reason: 'added', pending: false });
        apply(id);
      }
  };

  if (checker !== undefined) {
    offs.push(checker.on('transition', (e) => apply(e.member.id)));
    offs.push(
      checker.on('probe', (e) => {
        if (e.ok && detector !== undefined) detector.onActiveCheckSuccess(e.member.id);
      }),
    );
  }
  if (detector !== undefined) {
    offs.push(detector.on('ejection', (e) => apply(e.id)));
    offs.push(
      balancer.on(
        'outcome',
        (e: ObservedOutcome) => {
          if (!closed) detector.record(e.id, e);
        },
        { rtt: false },
      ),
    );
  }
  offs.push(balancer.on('membership', () => sync()));
  /**
   * Unsubscribes, and puts back into rotation the members the wiring took out (failed, ejected, pending; not the
   * draining): nothing judges them any more. A Balancer listener's error has nowhere to go from here.
   */
  const unwire = (reason: string) => {
    for (const off of offs) off();
    for (const [id, v] of told)
      if (!v.available && v.reason !== 'draining')
        try {
          balancer.setAvailable(id, true, reason);
        } catch {
          // dropped
        }
  };
  try {
    sync();
    if (start) {
      checker?.start(); // throws, starting nothing, on a bad `random` draw (an initial jitter)
      detector?.start();
    }
  } catch (err) {
    // nothing stays wired: the Balancer's members are available again, as it had them
    unwire('health checking did not start');
    for (const id of told.keys()) {
      checker?.remove(id);
      detector?.remove(id);
    }
    throw err;
  }

  return {
    isAvailable: (id) => told.get(id)?.available ?? false,
    reason: (id) => told.get(id)?.reason,
    drain(id, graceMs) {
      if (closed || !told.has(id)) return false;
      if (graceMs !== undefined) positive('graceMs', graceMs);
      draining.add(id);
      checker?.drain(id);
      apply(id);
      if (graceMs !== undefined && !drainTimers.has(id)) {
        drainTimers.set(
          id,
          clock.setTimeout(
            () => {
              drainTimers.delete(id);
              try {
                if (!closed) balancer.remove?.(id);
              } catch {
                // a Balancer listener's error, rethrown once the member is removed: a timer has no caller for it
              }
            },
            graceMs,
            { background: true },
          ),
        );
      }
      return true;
    },
    close() {
      if (closed) return;
      closed = true;
      for (const t of drainTimers.values()) clock.clearTimeout(t);
      drainTimers.clear();
      if (start) {
        checker?.stop();
        detector?.stop();
      }
      unwire('health checking closed');
    },
  };
}

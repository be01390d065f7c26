// The per-member health state machine of the HealthChecker (checker.ts schedules the probes; this decides
// what a result means). Envoy's active health checking (`config.core.v3.HealthCheck`) with the Suspect
// buffer state of docs/design.md, "Health states":
//
//   pending --success--> healthy          pending --failure--> failed
//   healthy --failure--> suspect (re-check after recheckDelayMs; straight to failed if unhealthyThreshold is 1)
//   suspect --success--> healthy          suspect --unhealthyThreshold consecutive failures in all--> failed
//   failed  --healthyThreshold consecutive successes--> healthy
//   any     --drain()--> draining (never probed again)
//
// A new member is unavailable until its first successful probe (Envoy); after a failed first check it needs
// `healthyThreshold` successes. Available = healthy or suspect.
import type { HealthMember } from './options.js';

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
  /**
   * Interval jitter draws that failed after a probe (a `random` value outside [0, 1)): that interval went without
   * jitter and the probes went on. `start()`, `add()` and an `update()` that moves a member throw such an error
   * for the initial jitter instead.
   */
  jitterErrors: number;
}

/** One watched member: its state, counters, and the scheduler's handles. */
export interface MemberHealth<M extends HealthMember> {
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

export function newMemberHealth<M extends HealthMember>(member: M, state: HealthState, now: number): MemberHealth<M> {
  return {
    member,
    state,
    since: now,
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
}

export function memberStats<M extends HealthMember>(w: MemberHealth<M>): MemberHealthStats {
  return {
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
  };
}

export function isAvailableState(s: HealthState | undefined): boolean {
  return s === 'healthy' || s === 'suspect';
}

export interface Thresholds {
  healthyThreshold: number;
  unhealthyThreshold: number;
}

/** What one probe result does: the next state (`to === from`: no transition), why, and whether to re-check. */
export interface Step {
  to: HealthState;
  reason: string;
  /** Entered `suspect`: the next probe comes after `recheckDelayMs`, not the interval. */
  recheck: boolean;
}

/**
 * The transition for a probe result, given the member's counters after counting it (`okRun` / `failRun`
 * consecutive successes / failures, this one included).
 */
export function step(
  state: HealthState,
  ok: boolean,
  reason: string,
  okRun: number,
  failRun: number,
  t: Thresholds,
): Step {
  const stay: Step = { to: state, reason, recheck: false };
  if (ok) {
    if (state === 'pending') return { to: 'healthy', reason: 'first probe succeeded', recheck: false };
    if (state === 'suspect') return { to: 'healthy', reason: 'probe succeeded', recheck: false };
    if (state === 'failed' && okRun >= t.healthyThreshold)
      return { to: 'healthy', reason: `${okRun} consecutive successful probes`, recheck: false };
    return stay;
  }
  if (state === 'pending') return { to: 'failed', reason: `first probe failed: ${reason}`, recheck: false };
  if (state === 'healthy') {
    if (failRun >= t.unhealthyThreshold) return { to: 'failed', reason, recheck: false };
    return { to: 'suspect', reason, recheck: true };
  }
  if (state === 'suspect' && failRun >= t.unhealthyThreshold)
    return { to: 'failed', reason: `${failRun} consecutive failed probes, last: ${reason}`, recheck: false };
  return stay;
}

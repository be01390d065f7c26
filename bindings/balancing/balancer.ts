// Balancer: owns a membership, the per-member state and the events, and publishes an immutable Picker
// (bindings/balancing/picker.ts) on every membership, availability or weight change (grpc-js
// LoadBalancer/Picker split).
//
//   const lb = createBalancer({ loadBalancingConfig: [{ peak_ewma: {} }] });
//   lb.reset(['10.0.0.1:80', '10.0.0.2:80']);
//   const p = lb.pick();
//   if (p.type === 'pick') try { await send(p.member) ; p.handle.done({ ok: true }) } catch { p.handle.done({ ok: false }) }
//
// Contracts:
// - `pick(ctx)` is synchronous, returns `{ type: 'pick', member, index, handle }` or
//   `{ type: 'none', reason: 'empty' | 'no-healthy' }`; `pickOrThrow()` throws NoHealthyMembersError instead.
//   `ctx.key` feeds hash policies; `ctx.exclude` (member ids) makes a retry go to a different member.
// - `handle.done({ ok, rttMs?, status? })` ends the request: in-flight count, RTT and failures feed the
//   policy; a second call is a no-op; a handle whose member was removed meanwhile is ignored. Without `rttMs`
//   the RTT is measured on the injected clock from the pick, if the pick was timed: when the policy uses RTTs,
//   an 'outcome' listener is registered, or `measureRtt: true` (a clock read costs more than a round-robin
//   pick); otherwise it is NaN.
// - Endpoints are parsed by util/endpoint.ts with the address optional ('10.0.0.1:80', '[::1]:80', a plain
//   name like 'cache-a', or { id | host, port, weight, priority, metadata }); a bad one throws a
//   TypeError/RangeError naming `endpoints[i]` and the value.
// - Membership changes are diffs (members.ts): `add`, `remove`, `reset` return whether anything changed, and
//   nothing is rebuilt when nothing did; a member whose weight, priority, address or metadata changed is
//   'updated'. Members are kept in insertion (or reset-list) order; per-member state survives every change
//   for members that stay. A list naming an id twice keeps the last entry.
// - Availability (`setAvailable`, used by health checking and outlier ejection) excludes a member from picks.
//   Panic mode (Envoy): when available / all < panicThresholdPercent (default 50), 'all' (default) picks over
//   all members, 'fail' returns { type: 'none', reason: 'no-healthy' }. A threshold of 0 disables panic.
// - Events (events.ts): 'picker' (a new picker was published), 'membership', 'availability', 'outcome'.
// - `pickIndex()` / `completeIndex()` are the allocation-free pair for hot loops (no handle object).
// - Weighted policies may carry run-time weights (slow start, dynamic weights, load reports): the Balancer
//   applies them to the state table every `weightUpdatePeriodMs` and republishes the picker when they change.
// - Time comes from `clock` (util/clock.ts, default systemClock), randomness from `random` (util/random.ts).
import type { Clock } from '../util/clock.js';
import type { WasmHandle } from '../core/core-wasm.js';
import { type Endpoint, type EndpointInput, parseEndpoint } from '../util/endpoint.js';
import type { Random } from '../util/random.js';
import { rangeError, typeError } from '../util/validate.js';
import { NoHealthyMembersError } from './errors.js';
import {
  COL_ACTIVE,
  COL_ADDED_AT,
  COL_DYN,
  COL_FAILURES,
  COL_PICKS,
  COL_WEIGHT,
  type PickContext,
  type Picker,
  type Policy,
  type PolicyEnv,
  type StateTable,
} from './picker.js';
import {
  applyWeights,
  recordLoadReport,
  updateDynamicFactor,
  validateLoadReport,
  type LoadReport,
  type Weighting,
} from './dynamic-weights.js';
import {
  type AvailabilityEvent,
  type BalancerStats,
  type EventName,
  Listeners,
  type MembershipEvent,
  type Outcome,
  type OutcomeEvent,
  type PickerEvent,
  type PickHandle,
  type Picked,
  type PickResult,
} from './events.js';
import { Members, upsert } from './members.js';
import { type BalancerOptions, resolveOptions, type ServiceConfigOptions } from './options.js';

export { NoHealthyMembersError } from './errors.js';

/**
 * The Balancer's endpoint rule: util/endpoint.ts `parseEndpoint` with the address optional.
 * @deprecated Use `parseEndpoint(input, field)` from util/endpoint.ts (the same rule).
 */
export function normalizeEndpoint(input: EndpointInput, field = 'endpoint'): Endpoint {
  return parseEndpoint(input, field);
}

const NONE_EMPTY: PickResult = Object.freeze({ type: 'none', reason: 'empty' });
const NONE_UNHEALTHY: PickResult = Object.freeze({ type: 'none', reason: 'no-healthy' });

class Pick {
  readonly type = 'pick' as const;
  readonly handle: PickHandle = this;
  ended = false;
  constructor(
    private readonly lb: Balancer,
    readonly member: Endpoint,
    readonly index: number,
    readonly gen: number,
    readonly startedAt: number,
  ) {}

  done(outcome: Outcome): void {
    if (!this.ended) this.lb['complete'](this, outcome);
  }
}

export class Balancer implements PolicyEnv {
  readonly policy: Policy;
  readonly clock: Clock;
  readonly random: Random;
  readonly panicThresholdPercent: number;
  readonly panicMode: 'all' | 'fail';
  readonly backend: 'wasm' | 'js';
  readonly wasm: WasmHandle | null;
  private readonly timed: boolean;
  private readonly weighting: Weighting | undefined;
  private nextWeightAt = -Infinity;
  private readonly m: Members;
  private version = 0;
  private picker: Picker;
  private panic = false;
  private failClosed = false;
  private readonly listeners = new Listeners();

  constructor(options: BalancerOptions | ServiceConfigOptions = {}) {
    const o = resolveOptions(options);
    this.policy = o.policy;
    this.clock = o.clock;
    this.random = o.random;
    this.panicThresholdPercent = o.panicThresholdPercent;
    this.panicMode = o.panicMode;
    this.backend = o.backend;
    this.wasm = o.wasm;
    this.timed = o.timed;
    this.weighting = this.policy.weighting;
    this.m = new Members(this.wasm);
    this.picker = this.policy.build(new Int32Array(0), this);
    if (o.endpoints !== undefined) this.reset(o.endpoints);
  }

  // PolicyEnv
  get table(): StateTable {
    return this.m.table;
  }
  get ids(): readonly string[] {
    return this.m.ids;
  }

  get members(): readonly Endpoint[] {
    return this.m.list;
  }

  /** Adds members; an existing id with identical fields is a no-op, with other fields an update. */
  add(e: EndpointInput | readonly EndpointInput[]): boolean {
    const many = Array.isArray(e);
    const inputs = many ? (e as readonly EndpointInput[]) : [e as EndpointInput];
    const next = this.m.list.slice();
    const pos = new Map(this.m.index);
    inputs.forEach((x, i) => upsert(next, pos, parseEndpoint(x, many ? `endpoints[${i}]` : 'endpoint')));
    return this.commit(next);
  }

  remove(ids: string | readonly string[]): boolean {
    const list = typeof ids === 'string' ? [ids] : ids;
    const drop = new Set<string>();
    list.forEach((id, i) => {
      if (typeof id !== 'string') throw typeError(typeof ids === 'string' ? 'id' : `ids[${i}]`, 'a string', id);
      drop.add(id);
    });
    return this.commit(this.m.list.filter((m) => !drop.has(m.id)));
  }

  /** Replaces the membership; returns false (and rebuilds nothing) when nothing changed. */
  reset(list: readonly EndpointInput[]): boolean {
    if (!Array.isArray(list)) throw typeError('endpoints', 'an array', list);
    const next: Endpoint[] = [];
    const pos = new Map<string, number>();
    list.forEach((x, i) => upsert(next, pos, parseEndpoint(x, `endpoints[${i}]`)));
    return this.commit(next);
  }

  /** Health checking / outlier ejection: true if the member's availability changed. Unknown ids: false. */
  setAvailable(id: string, available: boolean, reason?: string): boolean {
    if (typeof id !== 'string') throw typeError('id', 'a string', id);
    if (typeof available !== 'boolean') throw typeError('available', 'a boolean', available);
    const row = this.m.index.get(id);
    if (row === undefined) return false;
    const unavailable = this.m.unavailable;
    if (!unavailable.has(id) === available) return false;
    if (available) {
      unavailable.delete(id);
      const now = this.clock.now();
      this.m.table.set(COL_ADDED_AT, row, now); // slow start restarts on recovery
      if (this.weighting !== undefined) this.computeWeights(now);
    } else unavailable.set(id, reason);
    this.listeners.emit('availability', { id, available, reason } satisfies AvailabilityEvent);
    this.publish();
    return true;
  }

  isAvailable(id: string): boolean {
    return this.m.index.has(id) && !this.m.unavailable.has(id);
  }

  /** The injected clock (PolicyEnv). */
  now(): number {
    return this.clock.now();
  }

  pick(ctx?: PickContext): PickResult {
    const list = this.m.list;
    if (list.length === 0) return NONE_EMPTY;
    if (this.failClosed) return NONE_UNHEALTHY;
    // the clock is read only when an RTT will be used: by the policy, a listener, or options.measureRtt
    const now = this.timed || this.listeners.outcome.length > 0 ? this.clock.now() : NaN;
    if (now >= this.nextWeightAt && this.weighting !== undefined && this.computeWeights(now)) this.publish();
    const row = this.picker.pick(ctx, now);
    if (row < 0) return NONE_UNHEALTHY;
    this.started(row, now);
    return new Pick(this, list[row]!, row, this.m.gen, now);
  }

  /**
   * Allocation-free pick for hot loops: the picked member's index in `members`, or -1 where `pick()` would
   * return none. Pair it with exactly one `completeIndex()` before the membership changes: there is no
   * handle to guard against a second completion or renumbered members (use `pick()` for that).
   */
  pickIndex(ctx?: PickContext): number {
    if (this.m.list.length === 0 || this.failClosed) return -1;
    const now = this.timed ? this.clock.now() : NaN;
    if (now >= this.nextWeightAt && this.weighting !== undefined && this.computeWeights(now)) this.publish();
    const row = this.picker.pick(ctx, now);
    if (row >= 0) this.started(row, now);
    return row;
  }

  /** Ends a `pickIndex()` pick. `rttMs` is required by RTT-driven policies (NaN: not measured). */
  completeIndex(index: number, ok: boolean, rttMs = NaN): void {
    const n = this.m.list.length;
    if (!(index >= 0 && index < n)) throw rangeError('index', `a member index < ${n}`, index);
    if (typeof ok !== 'boolean') throw typeError('ok', 'a boolean', ok);
    const listening = this.listeners.outcome.length > 0;
    const now = listening || this.timed ? this.clock.now() : NaN;
    this.finish(index, this.m.list[index]!.id, ok, rttMs, now, undefined, undefined, listening);
  }

  pickOrThrow(ctx?: PickContext): Picked {
    const r = this.pick(ctx);
    if (r.type === 'none') throw new NoHealthyMembersError(r.reason);
    return r;
  }

  on(event: 'outcome', fn: (ev: OutcomeEvent) => void): () => void;
  on(event: 'membership', fn: (ev: MembershipEvent) => void): () => void;
  on(event: 'availability', fn: (ev: AvailabilityEvent) => void): () => void;
  on(event: 'picker', fn: (ev: PickerEvent) => void): () => void;
  on(event: EventName, fn: (ev: never) => void): () => void {
    return this.listeners.on(event, fn);
  }

  stats(): BalancerStats {
    const now = this.clock.now();
    const t = this.m.table;
    const unavailable = this.m.unavailable;
    return {
      policy: this.policy.name,
      backend: this.backend,
      version: this.version,
      eligible: this.picker.rows.length,
      panic: this.panic,
      members: this.m.list.map((m, r) => ({
        id: m.id,
        weight: t.get(COL_WEIGHT, r),
        available: !unavailable.has(m.id),
        active: t.get(COL_ACTIVE, r),
        picks: t.get(COL_PICKS, r),
        failures: t.get(COL_FAILURES, r),
        ...this.policy.stats?.(this, r, now),
      })),
    };
  }

  /** Frees the state table now (it is also freed when the balancer is garbage collected). */
  close(): void {
    this.m.free();
    this.picker = { rows: new Int32Array(0), pick: () => -1 };
  }

  /** Recomputes run-time weights now and rebuilds the picker. */
  refresh(): void {
    if (this.weighting !== undefined) this.computeWeights(this.clock.now());
    this.publish();
  }

  /**
   * Records a load report for a member (gRPC A58 / ORCA: out-of-band, or per call via `done({ load })`).
   * Used by policies configured with `loadReports`; returns false for unknown members.
   */
  reportLoad(id: string, report: LoadReport): boolean {
    validateLoadReport('load', report);
    const row = this.m.index.get(id);
    const lr = this.weighting?.loadReports;
    if (row === undefined || lr === undefined) return false;
    recordLoadReport(lr, this.m.table, row, report, this.clock.now());
    return true;
  }

  /** A pick was handed out: in-flight and pick counts, then the policy's hook. */
  private started(row: number, now: number): void {
    const t = this.m.table;
    const f = t.f;
    f[COL_ACTIVE * t.cap + row]! += 1;
    f[COL_PICKS * t.cap + row]! += 1;
    this.policy.onStart?.(this, row, now);
  }

  /** Applies run-time weights (dynamic-weights.ts) to COL_WEIGHT; true if any changed. */
  private computeWeights(now: number): boolean {
    const wt = this.weighting!;
    this.nextWeightAt = now + wt.updatePeriodMs;
    return applyWeights(wt, this.m.table, this.m.list.length, now);
  }

  private complete(p: Pick, outcome: Outcome): void {
    if (outcome === null || typeof outcome !== 'object')
      throw typeError('outcome', 'an object { ok, rttMs? }', outcome);
    if (typeof outcome.ok !== 'boolean') throw typeError('outcome.ok', 'a boolean', outcome.ok);
    const listening = this.listeners.outcome.length > 0;
    let rtt = outcome.rttMs;
    let now = NaN;
    if (rtt === undefined) {
      if (p.startedAt === p.startedAt) {
        now = this.clock.now();
        rtt = Math.max(0, now - p.startedAt);
      } else rtt = NaN;
    } else if (typeof rtt !== 'number' || !Number.isFinite(rtt) || rtt < 0)
      throw rangeError('outcome.rttMs', 'a finite number >= 0', rtt);
    p.ended = true;
    if (now !== now && (listening || this.timed)) now = this.clock.now();
    let row = p.index;
    if (p.gen !== this.m.gen) row = this.m.index.get(p.member.id) ?? -1;
    this.finish(row, p.member.id, outcome.ok, rtt, now, outcome.status, outcome.load, listening);
  }

  /** Completion bookkeeping; row -1: the member was removed meanwhile (only the event is emitted). */
  private finish(
    row: number,
    id: string,
    ok: boolean,
    rtt: number,
    now: number,
    status: number | undefined,
    load: LoadReport | undefined,
    listening: boolean,
  ): void {
    if (row >= 0) {
      const t = this.m.table;
      const f = t.f;
      const ia = COL_ACTIVE * t.cap + row;
      const a = f[ia]!;
      f[ia] = a > 0 ? a - 1 : 0;
      if (!ok) f[COL_FAILURES * t.cap + row]! += 1;
      const dyn = this.weighting?.dynamic;
      if (dyn !== undefined) t.set(COL_DYN, row, updateDynamicFactor(dyn, t.get(COL_DYN, row), ok, rtt));
      if (load !== undefined) this.reportLoad(id, load);
      this.policy.onDone?.(this, row, ok, rtt, now);
    }
    if (listening) this.listeners.emit('outcome', { id, ok, rttMs: rtt, status, at: now } satisfies OutcomeEvent);
  }

  private commit(next: Endpoint[]): boolean {
    const change = this.m.diff(next);
    if (change.added.length === 0 && change.removed.length === 0 && change.updated.length === 0) return false;
    const now = this.clock.now();
    const addedRows = this.m.replace(next, change.removed, now);
    if (this.weighting !== undefined) this.computeWeights(now);
    this.policy.onMembership?.(this, addedRows, now);
    this.listeners.emit('membership', change satisfies MembershipEvent);
    this.publish();
    return true;
  }

  private publish(): void {
    const { rows, panic } = this.m.eligible(this.panicThresholdPercent, this.panicMode);
    this.panic = panic;
    this.failClosed = panic && this.panicMode === 'fail';
    this.picker = this.policy.build(rows, this);
    this.version++;
    if (this.listeners.picker.length > 0) {
      const ev: PickerEvent = { version: this.version, eligible: rows.length, panic: this.panic };
      this.listeners.emit('picker', ev);
    }
  }
}

/** `new Balancer(options | serviceConfig)`. */
export function createBalancer(options?: BalancerOptions | ServiceConfigOptions): Balancer {
  return new Balancer(options);
}

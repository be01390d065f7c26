// Balancer: owns a membership, the per-member state and the events, and publishes an immutable Picker
// (bindings/picker.ts) on every membership, availability or weight change (grpc-js LoadBalancer/Picker split).
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
// - Membership changes are diffs: `add`, `remove`, `reset` return whether anything changed, and nothing is
//   rebuilt when nothing did. Members are kept in insertion (or reset-list) order; per-member state survives
//   every change for members that stay.
// - Availability (`setAvailable`, used by health checking and outlier ejection) excludes a member from picks.
//   Panic mode (Envoy): when available / all < panicThresholdPercent (default 50), 'all' (default) picks over
//   all members, 'fail' returns { type: 'none', reason: 'no-healthy' }. A threshold of 0 disables panic.
// - Events: 'picker' (a new picker was published), 'membership', 'availability', 'outcome' (each done()).
// - `pickIndex()` / `completeIndex()` are the allocation-free pair for hot loops (no handle object).
// - Weighted policies may carry run-time weights (slow start, dynamic weights, load reports): the Balancer
//   applies them to the state table every `weightUpdatePeriodMs` and republishes the picker when they change.
import { getCore, wasmHandle } from '../core/backend.js';
import { type Clock, systemClock } from '../util/clock.js';
import type { WasmHandle } from '../core/core-wasm.js';
import type { Endpoint, EndpointInput } from '../util/endpoint.js';
import { NoHealthyMembersError } from './errors.js';
import {
  COL_ACTIVE,
  COL_ADDED_AT,
  COL_BASE_WEIGHT,
  COL_DYN,
  COL_FAILURES,
  COL_LOAD_AT,
  COL_LOAD_SINCE,
  COL_LOAD_WEIGHT,
  COL_PICKS,
  COL_WEIGHT,
  type PickContext,
  type Picker,
  type Policy,
  type PolicyEnv,
  StateTable,
} from './picker.js';
import { defaultRandom } from '../util/random.js';
import { loadReportWeight, updateDynamicFactor, type LoadReport, type Weighting } from './dynamic-weights.js';
import { slowStartFactor } from './slow-start.js';
import { isServiceConfig, policyFrom, policyFromServiceConfig, type ServiceConfigJson } from './service-config.js';
import { intInRange, rangeError, typeError } from '../util/validate.js';

export { NoHealthyMembersError } from './errors.js';
export type { PickContext } from './picker.js';

export interface Outcome {
  ok: boolean;
  /** Round-trip time; when absent, measured from the pick on the balancer's clock (if it timed the pick, see measureRtt; else NaN). */
  rttMs?: number;
  status?: number;
  error?: unknown;
  /** A per-call load report (ORCA), for policies with load-report weights. */
  load?: LoadReport;
}

export interface PickHandle {
  /** Ends the request. A second call is a no-op. */
  done(outcome: Outcome): void;
}

export type PickResult =
  | { type: 'pick'; member: Endpoint; index: number; handle: PickHandle }
  | { type: 'none'; reason: 'empty' | 'no-healthy' };

export type Picked = Extract<PickResult, { type: 'pick' }>;

export interface BalancerOptions {
  /** A policy name, `{ name, ...options }`, `{ <name>: options }` or a Policy object (default round_robin). */
  policy?: string | object;
  /** Initial members. */
  endpoints?: readonly EndpointInput[];
  clock?: Clock;
  random?: () => number;
  /** Envoy's healthy panic threshold, 0..100 (default 50). */
  panicThresholdPercent?: number;
  /** What to do in panic: pick over all members (default, Envoy) or return/throw "no healthy". */
  panicMode?: 'all' | 'fail';
  /** Where the state table and policy kernels live (default: 'wasm' when available). */
  backend?: 'wasm' | 'js';
  /**
   * Time every pick so that done() without rttMs still reports one. Default: only when the policy uses RTTs
   * or an 'outcome' listener is registered (a clock read costs more than a round-robin pick).
   */
  measureRtt?: boolean;
}

/** A gRPC service config selecting the policy, with the other Balancer options beside it. */
export type ServiceConfigOptions = ServiceConfigJson & Omit<BalancerOptions, 'policy'>;

export interface OutcomeEvent {
  id: string;
  ok: boolean;
  rttMs: number;
  status: number | undefined;
  at: number;
}
export interface MembershipEvent {
  added: string[];
  removed: string[];
  updated: string[];
}
export interface AvailabilityEvent {
  id: string;
  available: boolean;
  reason: string | undefined;
}
export interface PickerEvent {
  version: number;
  eligible: number;
  panic: boolean;
}

type EventName = 'picker' | 'membership' | 'availability' | 'outcome';

export interface MemberStats {
  id: string;
  weight: number;
  available: boolean;
  active: number;
  picks: number;
  failures: number;
  [policyField: string]: unknown;
}

export interface BalancerStats {
  policy: string;
  backend: 'wasm' | 'js';
  version: number;
  eligible: number;
  panic: boolean;
  members: MemberStats[];
}

const NONE_EMPTY: PickResult = Object.freeze({ type: 'none', reason: 'empty' });
const NONE_UNHEALTHY: PickResult = Object.freeze({ type: 'none', reason: 'no-healthy' });

/** Parses an endpoint: 'host:port', '[v6]:port', any other string as an id, or a partial Endpoint. */
export function normalizeEndpoint(input: EndpointInput, field = 'endpoint'): Endpoint {
  if (typeof input === 'string') {
    if (input === '') throw rangeError(field, 'a non-empty string', input);
    const [host, port] = splitHostPort(input);
    return { id: input, host, port, weight: 1, priority: 0, metadata: {} };
  }
  if (input === null || typeof input !== 'object')
    throw typeError(field, "'host:port' or { id | host, port, ... }", input);
  const o = input as Partial<Endpoint>;
  let { host, port } = o;
  if (o.id !== undefined && (typeof o.id !== 'string' || o.id === ''))
    throw typeError(`${field}.id`, 'a non-empty string', o.id);
  if (host !== undefined && typeof host !== 'string') throw typeError(`${field}.host`, 'a string', host);
  if (port !== undefined) intInRange(`${field}.port`, port, 0, 65535);
  if (o.id === undefined && (host === undefined || port === undefined))
    throw typeError(field, 'an object with id, or with host and port', input);
  const id = o.id ?? (host!.includes(':') ? `[${host}]:${port}` : `${host}:${port}`);
  if (host === undefined || port === undefined) {
    const [h, p] = splitHostPort(id);
    host ??= h;
    port ??= p;
  }
  const weight = o.weight ?? 1;
  if (typeof weight !== 'number') throw typeError(`${field}.weight`, 'a finite number > 0', weight);
  if (!Number.isFinite(weight) || weight <= 0) throw rangeError(`${field}.weight`, 'a finite number > 0', weight);
  const priority = o.priority ?? 0;
  if (typeof priority !== 'number' || !Number.isFinite(priority))
    throw typeError(`${field}.priority`, 'a finite number', priority);
  const metadata = o.metadata ?? {};
  if (metadata === null || typeof metadata !== 'object') throw typeError(`${field}.metadata`, 'an object', metadata);
  return { id, host, port, weight, priority, metadata };
}

function splitHostPort(s: string): [string, number] {
  const v6 = /^\[([^\]]+)\]:(\d{1,5})$/.exec(s);
  if (v6 !== null && Number(v6[2]) <= 65535) return [v6[1]!, Number(v6[2])];
  const m = /^([^:]+):(\d{1,5})$/.exec(s);
  if (m !== null && Number(m[2]) <= 65535) return [m[1]!, Number(m[2])];
  return [s, 0];
}

function sameEndpoint(a: Endpoint, b: Endpoint): boolean {
  return a.id === b.id && a.host === b.host && a.port === b.port && a.weight === b.weight && a.priority === b.priority;
}

const registry = new FinalizationRegistry<{ t: StateTable | null }>((h) => h.t?.free());

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
  readonly random: () => number;
  readonly panicThresholdPercent: number;
  readonly panicMode: 'all' | 'fail';
  readonly backend: 'wasm' | 'js';
  readonly wasm: WasmHandle | null;
  private readonly timed: boolean;
  private readonly weighting: Weighting | undefined;
  private nextWeightAt = -Infinity;
  private list: Endpoint[] = [];
  private index = new Map<string, number>();
  private memberIds: string[] = [];
  private readonly unavailable = new Map<string, string | undefined>();
  private tbl: StateTable;
  private readonly holder: { t: StateTable | null };
  /** Bumped whenever rows are renumbered (a new table). */
  private gen = 0;
  private version = 0;
  private picker: Picker;
  private panic = false;
  private failClosed = false;
  private readonly listeners: Record<EventName, ((ev: never) => void)[]> = {
    picker: [],
    membership: [],
    availability: [],
    outcome: [],
  };

  constructor(options: BalancerOptions | ServiceConfigOptions = {}) {
    if (options === null || typeof options !== 'object') throw typeError('options', 'an object', options);
    const o = options as BalancerOptions & ServiceConfigJson;
    const sc = isServiceConfig(o);
    if (sc && o.policy !== undefined)
      throw typeError('policy', 'absent when a service config selects the policy', o.policy);
    this.policy = sc ? policyFromServiceConfig(o) : policyFrom(o.policy);
    this.clock = o.clock ?? systemClock;
    if (typeof this.clock?.now !== 'function') throw typeError('clock', 'an object with now()', o.clock);
    this.random = o.random ?? defaultRandom;
    if (typeof this.random !== 'function') throw typeError('random', 'a function returning [0, 1)', o.random);
    const pt = o.panicThresholdPercent ?? 50;
    if (typeof pt !== 'number' || !(pt >= 0 && pt <= 100))
      throw rangeError('panicThresholdPercent', 'a number in [0, 100]', pt);
    this.panicThresholdPercent = pt;
    const pm = o.panicMode ?? 'all';
    if (pm !== 'all' && pm !== 'fail') throw rangeError('panicMode', "'all' or 'fail'", pm);
    this.panicMode = pm;
    if (o.backend !== undefined && o.backend !== 'wasm' && o.backend !== 'js')
      throw rangeError('backend', "'wasm' or 'js'", o.backend);
    // default: where the core runs in WASM, the table lives in its memory
    const kind = o.backend ?? getCore().kind;
    this.wasm = kind === 'wasm' ? wasmHandle() : null;
    if (kind === 'wasm' && this.wasm === null) throw new Error('switchyard: WebAssembly backend unavailable');
    this.backend = kind;
    if (o.measureRtt !== undefined && typeof o.measureRtt !== 'boolean')
      throw typeError('measureRtt', 'a boolean', o.measureRtt);
    this.weighting = this.policy.weighting;
    this.timed = o.measureRtt ?? (this.policy.usesRtt === true || this.weighting !== undefined);
    this.tbl = new StateTable(0, this.wasm);
    this.holder = { t: this.tbl };
    registry.register(this, this.holder, this);
    this.picker = this.policy.build(new Int32Array(0), this);
    if (o.endpoints !== undefined) {
      if (!Array.isArray(o.endpoints)) throw typeError('endpoints', 'an array', o.endpoints);
      this.reset(o.endpoints);
    }
  }

  // PolicyEnv
  get table(): StateTable {
    return this.tbl;
  }
  get ids(): readonly string[] {
    return this.memberIds;
  }

  get members(): readonly Endpoint[] {
    return this.list;
  }

  /** Adds members; an existing id with identical fields is a no-op, with other fields an update. */
  add(e: EndpointInput | readonly EndpointInput[]): boolean {
    const inputs = Array.isArray(e) ? (e as readonly EndpointInput[]) : [e as EndpointInput];
    const next = this.list.slice();
    const pos = new Map(this.index);
    inputs.forEach((x, i) => {
      const ep = normalizeEndpoint(x, Array.isArray(e) ? `endpoints[${i}]` : 'endpoint');
      const at = pos.get(ep.id);
      if (at === undefined) {
        pos.set(ep.id, next.length);
        next.push(ep);
      } else next[at] = ep;
    });
    return this.commit(next);
  }

  remove(ids: string | readonly string[]): boolean {
    const list = typeof ids === 'string' ? [ids] : ids;
    const drop = new Set<string>();
    list.forEach((id, i) => {
      if (typeof id !== 'string') throw typeError(typeof ids === 'string' ? 'id' : `ids[${i}]`, 'a string', id);
      drop.add(id);
    });
    return this.commit(this.list.filter((m) => !drop.has(m.id)));
  }

  /** Replaces the membership; returns false (and rebuilds nothing) when nothing changed. */
  reset(list: readonly EndpointInput[]): boolean {
    if (!Array.isArray(list)) throw typeError('endpoints', 'an array', list);
    const next: Endpoint[] = [];
    const seen = new Map<string, number>();
    list.forEach((x, i) => {
      const ep = normalizeEndpoint(x, `endpoints[${i}]`);
      const at = seen.get(ep.id);
      if (at === undefined) {
        seen.set(ep.id, next.length);
        next.push(ep);
      } else next[at] = ep; // last one wins, like a resolver update listing an address twice
    });
    return this.commit(next);
  }

  /** Health checking / outlier ejection: true if the member's availability changed. Unknown ids: false. */
  setAvailable(id: string, available: boolean, reason?: string): boolean {
    if (typeof id !== 'string') throw typeError('id', 'a string', id);
    if (typeof available !== 'boolean') throw typeError('available', 'a boolean', available);
    const row = this.index.get(id);
    if (row === undefined) return false;
    const was = !this.unavailable.has(id);
    if (was === available) return false;
    if (available) {
      this.unavailable.delete(id);
      const now = this.clock.now();
      this.tbl.set(COL_ADDED_AT, row, now); // slow start restarts on recovery
      if (this.weighting !== undefined) this.computeWeights(now);
    } else this.unavailable.set(id, reason);
    this.emit('availability', { id, available, reason } satisfies AvailabilityEvent);
    this.publish();
    return true;
  }

  isAvailable(id: string): boolean {
    return this.index.has(id) && !this.unavailable.has(id);
  }

  /** The injected clock (PolicyEnv). */
  now(): number {
    return this.clock.now();
  }

  pick(ctx?: PickContext): PickResult {
    if (this.list.length === 0) return NONE_EMPTY;
    if (this.failClosed) return NONE_UNHEALTHY;
    // the clock is read only when an RTT will be used: by the policy, a listener, or options.measureRtt
    const now = this.timed || this.listeners.outcome.length > 0 ? this.clock.now() : NaN;
    if (now >= this.nextWeightAt && this.weighting !== undefined && this.computeWeights(now)) this.publish();
    const row = this.picker.pick(ctx, now);
    if (row < 0) return NONE_UNHEALTHY;
    const t = this.tbl;
    const f = t.f;
    f[COL_ACTIVE * t.cap + row]! += 1;
    f[COL_PICKS * t.cap + row]! += 1;
    this.policy.onStart?.(this, row, now);
    return new Pick(this, this.list[row]!, row, this.gen, now);
  }

  /**
   * Allocation-free pick for hot loops: the picked member's index in `members`, or -1 where `pick()` would
   * return none. Pair it with exactly one `completeIndex()` before the membership changes: there is no
   * handle to guard against a second completion or renumbered members (use `pick()` for that).
   */
  pickIndex(ctx?: PickContext): number {
    if (this.list.length === 0 || this.failClosed) return -1;
    const now = this.timed ? this.clock.now() : NaN;
    if (now >= this.nextWeightAt && this.weighting !== undefined && this.computeWeights(now)) this.publish();
    const row = this.picker.pick(ctx, now);
    if (row >= 0) {
      const t = this.tbl;
      const f = t.f;
      f[COL_ACTIVE * t.cap + row]! += 1;
      f[COL_PICKS * t.cap + row]! += 1;
      this.policy.onStart?.(this, row, now);
    }
    return row;
  }

  /** Ends a `pickIndex()` pick. `rttMs` is required by RTT-driven policies (NaN: not measured). */
  completeIndex(index: number, ok: boolean, rttMs = NaN): void {
    if (!(index >= 0 && index < this.list.length))
      throw rangeError('index', `a member index < ${this.list.length}`, index);
    if (typeof ok !== 'boolean') throw typeError('ok', 'a boolean', ok);
    const listening = this.listeners.outcome.length > 0;
    const now = listening || this.timed ? this.clock.now() : NaN;
    this.finish(index, this.list[index]!.id, ok, rttMs, now, undefined, undefined, listening);
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
    const l = this.listeners[event];
    if (l === undefined) throw rangeError('event', "'picker', 'membership', 'availability' or 'outcome'", event);
    if (typeof fn !== 'function') throw typeError('listener', 'a function', fn);
    l.push(fn);
    return () => {
      const i = l.indexOf(fn);
      if (i >= 0) l.splice(i, 1);
    };
  }

  stats(): BalancerStats {
    const now = this.clock.now();
    const t = this.tbl;
    return {
      policy: this.policy.name,
      backend: this.backend,
      version: this.version,
      eligible: this.picker.rows.length,
      panic: this.panic,
      members: this.list.map((m, r) => ({
        id: m.id,
        weight: t.get(COL_WEIGHT, r),
        available: !this.unavailable.has(m.id),
        active: t.get(COL_ACTIVE, r),
        picks: t.get(COL_PICKS, r),
        failures: t.get(COL_FAILURES, r),
        ...this.policy.stats?.(this, r, now),
      })),
    };
  }

  /** Frees the state table now (it is also freed when the balancer is garbage collected). */
  close(): void {
    this.tbl.free();
    this.holder.t = null;
    registry.unregister(this);
    this.tbl = new StateTable(0, null);
    this.list = [];
    this.memberIds = [];
    this.index = new Map();
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
    if (report === null || typeof report !== 'object')
      throw typeError('load', 'an object { qps, eps?, utilization }', report);
    for (const k of ['qps', 'utilization', 'eps'] as const) {
      const v = report[k];
      if (v === undefined && k === 'eps') continue;
      if (typeof v !== 'number' || !Number.isFinite(v) || v < 0)
        throw rangeError(`load.${k}`, 'a finite number >= 0', v);
    }
    const row = this.index.get(id);
    const lr = this.weighting?.loadReports;
    if (row === undefined || lr === undefined) return false;
    const w = loadReportWeight(lr, report);
    if (w <= 0) return true; // no usable signal (A58 ignores it)
    const now = this.clock.now();
    const t = this.tbl;
    if (t.get(COL_LOAD_WEIGHT, row) === 0) t.set(COL_LOAD_SINCE, row, now);
    t.set(COL_LOAD_WEIGHT, row, w);
    t.set(COL_LOAD_AT, row, now);
    return true;
  }

  /** Applies slow start, dynamic factors and load-report weights to COL_WEIGHT; true if any changed. */
  private computeWeights(now: number): boolean {
    const wt = this.weighting!;
    this.nextWeightAt = now + wt.updatePeriodMs;
    const t = this.tbl;
    const n = this.list.length;
    let loadSum = 0;
    let loadCount = 0;
    const lr = wt.loadReports;
    if (lr !== undefined) {
      for (let r = 0; r < n; r++) {
        const w = this.usableLoadWeight(lr, r, now);
        if (w > 0) {
          loadSum += w;
          loadCount++;
        }
      }
    }
    let changed = false;
    for (let r = 0; r < n; r++) {
      let w = t.get(COL_BASE_WEIGHT, r);
      if (lr !== undefined && loadCount > 0) {
        const lw = this.usableLoadWeight(lr, r, now);
        w = lw > 0 ? lw : loadSum / loadCount; // A58: members without a weight get the mean
      }
      if (wt.dynamic !== undefined) w *= t.get(COL_DYN, r);
      if (wt.slowStart !== undefined) w *= slowStartFactor(wt.slowStart, now - t.get(COL_ADDED_AT, r));
      if (t.get(COL_WEIGHT, r) !== w) {
        t.set(COL_WEIGHT, r, w);
        changed = true;
      }
    }
    return changed;
  }

  private usableLoadWeight(lr: NonNullable<Weighting['loadReports']>, r: number, now: number): number {
    const t = this.tbl;
    const w = t.get(COL_LOAD_WEIGHT, r);
    if (w === 0) return 0;
    if (now - t.get(COL_LOAD_AT, r) >= lr.weightExpirationPeriodMs) {
      t.set(COL_LOAD_WEIGHT, r, 0); // expired: the blackout starts again with the next report
      return 0;
    }
    if (lr.blackoutPeriodMs > 0 && now - t.get(COL_LOAD_SINCE, r) < lr.blackoutPeriodMs) return 0;
    return w;
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
    if (p.gen !== this.gen) row = this.index.get(p.member.id) ?? -1;
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
      const t = this.tbl;
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
    if (listening) this.emit('outcome', { id, ok, rttMs: rtt, status, at: now } satisfies OutcomeEvent);
  }

  private commit(next: Endpoint[]): boolean {
    const prev = this.list;
    const added: string[] = [];
    const updated: string[] = [];
    const nextIds = new Set<string>();
    for (const m of next) {
      nextIds.add(m.id);
      const at = this.index.get(m.id);
      if (at === undefined) added.push(m.id);
      else if (!sameEndpoint(prev[at]!, m)) updated.push(m.id);
    }
    const removed = prev.filter((m) => !nextIds.has(m.id)).map((m) => m.id);
    if (added.length === 0 && removed.length === 0 && updated.length === 0) return false;
    const now = this.clock.now();
    const old = this.tbl;
    const oldIndex = this.index;
    const t = new StateTable(next.length, this.wasm);
    const addedRows: number[] = [];
    const index = new Map<string, number>();
    next.forEach((m, r) => {
      index.set(m.id, r);
      const o = oldIndex.get(m.id);
      if (o !== undefined) t.copyRow(old, o, r);
      else {
        addedRows.push(r);
        t.set(COL_ADDED_AT, r, prev.length === 0 ? -Infinity : now); // the first membership starts warm
        t.set(COL_DYN, r, 1);
      }
      t.set(COL_BASE_WEIGHT, r, m.weight);
      t.set(COL_WEIGHT, r, m.weight);
    });
    old.free();
    this.tbl = t;
    this.holder.t = t;
    this.gen++;
    this.list = next;
    this.index = index;
    this.memberIds = next.map((m) => m.id);
    for (const id of removed) this.unavailable.delete(id);
    if (this.weighting !== undefined) this.computeWeights(now);
    this.policy.onMembership?.(this, addedRows, now);
    this.emit('membership', { added, removed, updated } satisfies MembershipEvent);
    this.publish();
    return true;
  }

  private publish(): void {
    const n = this.list.length;
    let eligible = 0;
    for (const m of this.list) if (!this.unavailable.has(m.id)) eligible++;
    this.panic = n > 0 && eligible * 100 < this.panicThresholdPercent * n;
    this.failClosed = this.panic && this.panicMode === 'fail';
    const all = this.panic && this.panicMode === 'all';
    const rows = new Int32Array(all ? n : eligible);
    let k = 0;
    for (let r = 0; r < n; r++) if (all || !this.unavailable.has(this.list[r]!.id)) rows[k++] = r;
    this.picker = this.policy.build(rows, this);
    this.version++;
    if (this.listeners.picker.length > 0) {
      this.emit('picker', { version: this.version, eligible: rows.length, panic: this.panic } satisfies PickerEvent);
    }
  }

  private emit(event: EventName, ev: unknown): void {
    for (const fn of this.listeners[event].slice()) (fn as (e: unknown) => void)(ev);
  }
}

/** `new Balancer(options | serviceConfig)`. */
export function createBalancer(options?: BalancerOptions | ServiceConfigOptions): Balancer {
  return new Balancer(options);
}

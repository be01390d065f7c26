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
//   `{ type: 'none', reason: 'empty' | 'no-healthy' | 'pending' | 'closed' }`; `pickOrThrow()` throws NoHealthyMembersError
//   instead. `ctx.key` feeds hash policies; `ctx.exclude` (member ids) makes a retry go to a different member.
// - Waiting (ready.ts; grpc-js queues picks until the first resolution): `pickAsync(ctx, { timeoutMs, signal })`
//   is `pick()` when that succeeds now, else the pick waits for the next picker publication that can serve it
//   (the first list, members re-added, a first health result), at most `timeoutMs` (default `readyTimeoutMs`,
//   10 s) on the injected clock; `ready()` waits the same way until a pick can succeed. They reject with the
//   resolver's error when `setResolverError(err)` reports a failure before any list arrived (queued picks fail
//   at once), with UnavailableError (`target` named, the resolver's last error as `cause`) at the deadline or
//   on `close()`, with the signal's reason on abort.
// - Health warming (Envoy cluster warming and excluded hosts): a member awaiting its first health result
//   (`setAvailable(id, false, reason, true)`, from health/connect.ts) is unavailable but "pending": it does not
//   count in the panic ratio, and while no member is available and some are pending nothing is picked
//   (`pick()` returns reason 'pending', waiting picks wait) instead of entering panic. It ends when a member
//   passes its first probe or every member has a first result; the checker's probe timeout bounds it.
// - `setPolicy(spec)` / `applyServiceConfig(json)` switch the policy at run time (grpc-js's graceful switch):
//   the new policy starts from the current members (fresh policy columns, `onMembership` for every row) and
//   its picker takes over for new picks; a pick issued before ends its in-flight count but feeds no policy
//   (the new policy's columns are not its own). The replaced policy's pickers (WASM rows, hash tables) are
//   freed at the switch (`releaseSlots` of no slot).
// - `handle.done({ ok, rttMs?, status? })` ends the request: in-flight count, RTT and failures feed the
//   policy; a second call is a no-op, as is any call after `close()`; a handle whose member was removed
//   meanwhile is ignored (only the 'outcome' event is emitted). Without `rttMs` the RTT is measured on the
//   injected clock from the pick, if the pick was timed: when the policy uses RTTs, an 'outcome' listener is
//   registered, or `measureRtt: true` (a clock read costs more than a round-robin pick); otherwise it is NaN.
//   `handle.cancel()` ends a pick whose request was never sent: the in-flight count only (no RTT, failure or
//   event).
// - A policy whose picker cannot be built leaves no picker over stale rows (nothing is picked until the next
//   publication); `setPolicy` then restores the previous policy. After `close()` nothing is picked, and
//   membership and policy changes and `refresh()` are ignored: no picker is built and no event emitted again,
//   also when a listener closes the balancer in the middle of a change.
// - Endpoints are parsed by util/endpoint.ts with the address optional ('10.0.0.1:80', '[::1]:80', a plain
//   name like 'cache-a', or { id | host, port, weight, priority, metadata }); a bad one throws a
//   TypeError/RangeError naming `endpoints[i]` and the value.
// - Membership changes are diffs (members.ts): `add`, `remove`, `reset` return whether anything changed, and
//   nothing is rebuilt when nothing did; a member whose weight, priority, address or metadata changed is
//   'updated'. Members are kept in insertion (or reset-list) order; per-member state survives every change
//   for members that stay. A list naming an id twice keeps the last entry.
// - Availability (`setAvailable`, used by health checking and outlier ejection) excludes a member from picks.
//   Panic mode (Envoy): when available / (all - pending) < panicThresholdPercent (default 50) and the level's
//   health, min(100, ⌊overprovisioningFactor × 100 × available / (all - pending)⌋), is below 100, 'all'
//   (default) picks over all members, 'fail' returns { type: 'none', reason: 'no-healthy' }. A threshold of 0
//   disables panic.
// - Priorities and localities: when some member has a priority other than 0 or a locality, publish() builds
//   through priority.ts (Envoy levels, overprovisioning spill, per-level panic, locality routing; option
//   `priority`), one policy picker per subset, pending members left out; otherwise the single-level path.
//   priority.ts is a plug-in (levels.ts): `Balancer` always has it; `BalancerCore` (switchyard/lite) has it
//   after `registerPriorityRouting()` and otherwise refuses such members with a TypeError naming
//   `endpoints[i].priority` / `.locality`.
// - Events (events.ts): 'picker' (a new picker was published: membership, availability, weights or policy
//   changed), 'membership', 'availability', 'outcome'.
// - `pickIndex()` / `completeIndex()` are the allocation-free pair for hot loops (no handle object, so a
//   completion goes to the current policy, even after a `setPolicy` since the pick).
// - Weighted policies may carry run-time weights (slow start, dynamic weights, load reports): the Balancer
//   applies them to the state table every `weightUpdatePeriodMs` and republishes the picker when they change.
// - What only some Balancers use is reached through `BalancerParts` (policy names, priority routing, the WASM
//   state table, run-time weights): `Balancer` has them all, `BalancerCore` (switchyard/lite) what was
//   registered, and it refuses what needs a missing part with a TypeError naming the registration.
// - Time comes from `clock` (util/clock.ts, default systemClock), randomness from `random` (util/random.ts).
import type { Clock } from '../util/clock.js';
import type { WasmHandle } from '../core/core-wasm.js';
import { type Endpoint, type EndpointInput, parseEndpoint } from '../util/endpoint.js';
import type { Random } from '../util/random.js';
import { bool, checkKeys, intInRange, needs, rangeError, str, typeError, unregistered } from '../util/validate.js';
import { NoHealthyMembersError, UnavailableError } from './errors.js';
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
  COLS,
  type PickContext,
  type Picker,
  type Policy,
  type PolicyEnv,
  type StateTable,
} from './picker.js';
import type { LoadReport, Weighting } from './dynamic-weights.js';
import {
  type AvailabilityEvent,
  type BalancerStats,
  type EventName,
  Listeners,
  type MembershipEvent,
  type NoneReason,
  type Outcome,
  type OutcomeEvent,
  type PickerEvent,
  type PickHandle,
  type Picked,
  type PickResult,
} from './events.js';
import { Members, upsert } from './members.js';
import { type BalancerOptions, OPTION_KEYS, resolveOptions, type ServiceConfigOptions } from './options.js';
import { LEVELS_HINT, type LevelRouting } from './levels.js';
import { type PriorityLevelStats, priorityRouting } from './priority.js';
import type { PriorityOptions } from './priority-config.js';
import { BALANCING_TABLE, type WasmTable } from './wasm-table.js';
import { WEIGHT_RUNNER, type WeightRunner } from './weight-runner.js';
import { WaitQueue, type WaitOptions, waitTimeout } from './ready.js';
import {
  isServiceConfig,
  SERVICE_CONFIGS,
  type ServiceConfigs,
  policyFromSpec,
  type PolicyLookup,
  registrations,
  registeredPolicies,
  serviceConfigRefused,
} from './registry.js';
import { allPolicies } from './service-config.js';
import { registerBalancerExtras } from './balancer-extras.js';

export { NoHealthyMembersError, UnavailableError } from './errors.js';
export type { WaitOptions } from './ready.js';

/**
 * The Balancer's endpoint rule: util/endpoint.ts `parseEndpoint` with the address optional.
 * @deprecated Use `parseEndpoint(input, field)` from util/endpoint.ts (the same rule).
 */
export function normalizeEndpoint(input: EndpointInput, field = 'endpoint'): Endpoint {
  return parseEndpoint(input, field);
}

const none = (reason: NoneReason): PickResult => Object.freeze({ type: 'none', reason });
const NONE_EMPTY = none('empty');
const NONE_UNHEALTHY = none('no-healthy');
const NONE_PENDING = none('pending');
const NONE_CLOSED = none('closed');
/** Columns the Balancer keeps across a policy change, one bit each (the others belong to the policy). */
const KEPT_COLUMNS =
  (1 << COL_WEIGHT) |
  (1 << COL_ACTIVE) |
  (1 << COL_PICKS) |
  (1 << COL_FAILURES) |
  (1 << COL_BASE_WEIGHT) |
  (1 << COL_ADDED_AT) |
  (1 << COL_DYN) |
  (1 << COL_LOAD_WEIGHT) |
  (1 << COL_LOAD_AT) |
  (1 << COL_LOAD_SINCE);

/**
 * `stats()`, `pickIndex()` and `completeIndex()` (balancer-extras.ts), which switchyard's Balancer registers
 * and a switchyard/lite page registers with `registerBalancerExtras()`: a lite createFetch does not carry them.
 */
export interface BalancerExtras {
  stats(
    lb: BalancerCore,
    version: number,
    panic: boolean,
    waiting: number,
    levels: PriorityLevelStats[] | undefined,
  ): BalancerStats;
  pickIndex(lb: BalancerCore, ctx: PickContext | undefined): number;
  completeIndex(lb: BalancerCore, index: number, ok: boolean, rttMs: number): void;
}

let extras: BalancerExtras | undefined;

/** Registers the Balancer's extras (balancer-extras.ts `registerBalancerExtras`). */
export function setBalancerExtras(e: BalancerExtras): void {
  extras = e;
}

/** The registered extras, or a TypeError naming `what` and the registration. */
function extrasFor(what: string): BalancerExtras {
  if (extras === undefined) throw needs(what, 'registerBalancerExtras()');
  return extras;
}

class Pick {
  readonly type = 'pick' as const;
  readonly handle: PickHandle = this;
  ended = false;
  // `declare`: assigned once below, so no class-field definitions are emitted (smaller bundles)
  declare private readonly lb: Balancer;
  declare readonly member: Endpoint;
  declare readonly index: number;
  declare readonly gen: number;
  declare readonly startedAt: number;
  constructor(lb: Balancer, member: Endpoint, index: number, gen: number, startedAt: number) {
    this.lb = lb;
    this.member = member;
    this.index = index;
    this.gen = gen;
    this.startedAt = startedAt;
  }

  done(outcome: Outcome): void {
    if (!this.ended) this.lb['complete'](this, outcome);
  }

  cancel(): void {
    if (!this.ended) this.lb['complete'](this, CANCEL);
  }
}

/** A pick context: an object whose `exclude`, if any, is a Set and `key` a string or bytes. */
function checkCtx(ctx: PickContext | undefined): void {
  if (ctx === undefined) return;
  if (ctx === null || typeof ctx !== 'object') throw typeError('ctx', 'an object { key?, exclude? }', ctx);
  const ex = ctx.exclude;
  if (ex !== undefined && typeof ex?.has !== 'function') throw typeError('ctx.exclude', 'a Set of member ids', ex);
  const k = ctx.key;
  if (k !== undefined && typeof k !== 'string' && !(k instanceof Uint8Array))
    throw typeError('ctx.key', 'a string or a Uint8Array', k);
}

/** The picker of a closed Balancer, or of one whose policy failed to build. */
const NO_PICKER: Picker = { rows: new Int32Array(0), pick: () => -1 };

/** The outcome cancel() passes: only the in-flight count moves. */
const CANCEL: Outcome = { ok: true };

/** The Balancer each Policy object was installed in (BalancerCore.checkPolicy). */
const owners = new WeakMap<Policy, BalancerCore>();

/**
 * The Balancer over round_robin and the registered policies (registry.ts): what `switchyard/lite` exports as
 * `Balancer`, so that a bundle carries only the policies it names. `Balancer` below resolves every built-in.
 */
export class BalancerCore implements PolicyEnv {
  declare readonly clock: Clock;
  declare readonly random: Random;
  declare readonly panicThresholdPercent: number;
  declare readonly panicMode: 'all' | 'fail';
  declare readonly backend: 'wasm' | 'js';
  declare readonly wasm: WasmHandle | null;
  /** What the balancer serves, named in UnavailableError messages. */
  declare readonly target: string | undefined;
  /** Default wait of `ready()` / `pickAsync()`, ms. */
  declare readonly readyTimeoutMs: number;
  declare private pol: Policy;
  readonly #measureRtt: boolean | undefined;
  readonly #priorityOptions: PriorityOptions;
  /** Some member has a priority other than 0 or a locality: publish through priority.ts. */
  #leveled = false;
  #levels: PriorityLevelStats[] | undefined;
  declare private timed: boolean;
  declare private weighting: Weighting | undefined;
  #nextWeightAt = -Infinity;
  declare private readonly m: Members;
  #version = 0;
  declare private picker: Picker;
  #panic = false;
  private failClosed = false;
  private warming = false;
  private readonly listeners = new Listeners();
  readonly #queue: WaitQueue;
  /** A list (reset/add, or initial endpoints) has arrived. */
  #resolved = false;
  #resolverError: Error | null = null;
  /** The policy part of the last service config applied (JSON), to ignore repeats. */
  #lastServiceConfig: string | undefined;
  #closed = false;
  /** Membership listeners are running: waiting picks are woken after them (#commit). */
  #holding = false;
  /**
   * The table generation (`m.gen`) of the last policy install: a pick of an earlier one feeds no policy, not even
   * the same policy object installed again (its columns hold the new install's state).
   */
  #installGen = 0;
  /** Which policy names resolve (setPolicy, applyServiceConfig). */
  readonly #policies: PolicyLookup;
  readonly #configs: ServiceConfigs | undefined;
  /** Priority levels and localities (levels.ts); undefined: members must have neither. */
  readonly #routing: LevelRouting | undefined;

  /** Run-time weights (weight-runner.ts); undefined: policies with a `weighting` are refused. */
  readonly #weights: WeightRunner | undefined;

  /** `parts`: what the Balancer reaches by lookup (BalancerParts); default: what was registered. */
  constructor(options: BalancerOptions | ServiceConfigOptions = {}, parts: BalancerParts = registeredParts()) {
    const o = resolveOptions(options, parts.policies, parts.levels, parts.table, parts.configs);
    this.#policies = parts.policies;
    this.#configs = parts.configs;
    this.#routing = parts.levels;
    this.#weights = parts.weights;
    const f = o.fields;
    this.#checkPolicy(f.pol);
    const t0 = f.clock.now();
    if (!Number.isFinite(t0)) throw typeError('clock', 'a Clock whose now() returns a finite number', t0);
    // pol, clock, random, panicThresholdPercent, panicMode, backend, wasm, timed, target, readyTimeoutMs
    Object.assign(this, f);
    this.#measureRtt = o.measureRtt;
    this.#priorityOptions = o.priority;
    this.weighting = this.pol.weighting;
    this.#queue = new WaitQueue(this.clock);
    this.m = new Members(this.wasm);
    this.picker = this.pol.build(new Int32Array(0), this);
    if (o.endpoints !== undefined) this.reset(o.endpoints);
  }

  /** The current policy (replaced by `setPolicy` / `applyServiceConfig`). */
  get policy(): Policy {
    return this.pol;
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
    inputs.forEach((x, i) => upsert(next, pos, this.#parse(x, many ? `endpoints[${i}]` : 'endpoint')));
    return this.#commit(next, true);
  }

  remove(ids: string | readonly string[]): boolean {
    const list = typeof ids === 'string' ? [ids] : ids;
    if (!Array.isArray(list)) throw typeError('ids', 'an id or an array of ids', ids);
    const drop = new Set<string>();
    list.forEach((id, i) => {
      str(typeof ids === 'string' ? 'id' : `ids[${i}]`, id);
      drop.add(id);
    });
    return this.#commit(
      this.m.list.filter((m) => !drop.has(m.id)),
      false,
    );
  }

  /** Replaces the membership; returns false (and rebuilds nothing) when nothing changed. */
  reset(list: readonly EndpointInput[]): boolean {
    if (!Array.isArray(list)) throw typeError('endpoints', 'an array', list);
    const next: Endpoint[] = [];
    const pos = new Map<string, number>();
    list.forEach((x, i) => upsert(next, pos, this.#parse(x, `endpoints[${i}]`)));
    return this.#commit(next, true);
  }

  /** parseEndpoint, refusing priorities and localities when there is no level routing (levels.ts). */
  #parse(x: EndpointInput, field: string): Endpoint {
    const e = parseEndpoint(x, field);
    if (this.#routing === undefined) {
      const why = `without priority routing (${LEVELS_HINT})`;
      if (e.priority !== 0) throw typeError(`${field}.priority`, `0 ${why}`, e.priority);
      if (e.locality !== undefined) throw typeError(`${field}.locality`, `absent ${why}`, e.locality);
    }
    return e;
  }

  /**
   * Health checking / outlier ejection: true if the member's availability (or pending flag) changed. Unknown
   * ids: false. `pending` (with `available` false): the member awaits its first health result (see the header).
   */
  setAvailable(id: string, available: boolean, reason?: string, pending = false): boolean {
    str('id', id);
    bool('available', available);
    bool('pending', pending);
    if (reason !== undefined) str('reason', reason);
    const row = this.m.index.get(id);
    if (row === undefined) return false;
    const unavailable = this.m.unavailable;
    const pendingSet = this.m.pending;
    const isPending = !available && pending;
    const availabilityChanged = !unavailable.has(id) !== available;
    if (!availabilityChanged && pendingSet.has(id) === isPending) return false;
    if (isPending) pendingSet.add(id);
    else pendingSet.delete(id);
    if (available) {
      unavailable.delete(id);
      const now = this.clock.now();
      this.m.table.set(COL_ADDED_AT, row, now); // slow start restarts on recovery
      if (this.weighting !== undefined) this.#computeWeights(now);
    } else unavailable.set(id, reason);
    if (availabilityChanged) this.listeners.emit('availability', { id, available, reason } satisfies AvailabilityEvent);
    this.#publish(); // rethrows a listener's error
    return true;
  }

  /** Whether the member awaits its first health result. */
  isPending(id: string): boolean {
    return this.m.pending.has(id);
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
    if (list.length === 0) return this.#closed ? NONE_CLOSED : NONE_EMPTY;
    if (this.failClosed) return NONE_UNHEALTHY;
    if (this.warming) return NONE_PENDING;
    // the clock is read only when an RTT will be used: picks are timed when the policy or `measureRtt` wants RTTs,
    // or an 'outcome' listener reads them
    const now = this.timed || this.listeners.timedOutcomes > 0 ? this.clock.now() : NaN;
    const row = this.step(ctx, now);
    if (row < 0) return NONE_UNHEALTHY;
    this.started(row, now);
    return new Pick(this, list[row]!, row, this.m.gen, now);
  }

  /**
   * `pick()` when it succeeds now; otherwise the pick waits for a picker that can serve it (see the header),
   * at most `timeoutMs` (default `readyTimeoutMs`).
   */
  pickAsync(ctx?: PickContext, opts?: WaitOptions): Promise<Picked> {
    checkCtx(ctx);
    // wait options first (as ready() takes them) would be ignored, silently
    const w = ctx as WaitOptions | undefined;
    if ((w?.timeoutMs ?? w?.signal) !== undefined)
      throw typeError('ctx', 'an object { key?, exclude? } (wait options come second)', ctx);
    return this.#wait(() => this.#tryPick(ctx), opts);
  }

  /** Resolves once a pick can succeed (see the header); rejects like `pickAsync`. */
  ready(opts?: WaitOptions): Promise<void> {
    return this.#wait(() => (this.#canPick() ? true : undefined), opts).then(() => undefined);
  }

  /** `attempt()` now if it answers, else once it does, within `opts.timeoutMs`; an aborted signal rejects first. */
  #wait<T>(attempt: () => T | undefined, opts: WaitOptions | undefined): Promise<T> {
    const timeoutMs = waitTimeout(opts, this.readyTimeoutMs);
    const signal = opts?.signal;
    if (signal?.aborted) return Promise.reject(signal.reason);
    const v = attempt();
    if (v !== undefined) return Promise.resolve(v);
    const failed = this.#waitError();
    if (failed !== undefined) return Promise.reject(failed);
    return this.#queue.wait(attempt, timeoutMs, signal, () => this.#timeoutError(timeoutMs));
  }

  /**
   * The resolver's failure state (null: it resolved fine). While no list has arrived, an error fails every
   * waiting pick at once with that error, and later waits reject with it until a list arrives.
   */
  setResolverError(error: Error | null): void {
    if (error !== null && !(error instanceof Error)) throw typeError('error', 'an Error or null', error);
    this.#resolverError = error;
    if (error !== null && !this.#resolved) this.#queue.failAll(error);
  }

  /**
   * Switches the policy (a name, `{ name, ...options }`, `{ <name>: options }` or a Policy object): the new
   * policy builds its picker from the current members and takes over for new picks; the replaced policy's
   * pickers are freed now. Picks in flight end the in-flight count, failure count and 'outcome' events as
   * before, but feed no policy (nor its dynamic weights): the new install starts from its own state, which an
   * old pick's RTT or failure would overwrite, also when it is the same Policy object again. (`completeIndex`
   * has no pick to tell: it feeds the current policy.) A bad spec throws a TypeError/RangeError naming `policy`
   * and keeps the current policy. Ignored after `close()`.
   */
  setPolicy(spec: string | object | Policy): void {
    this.#install(policyFromSpec(this.#policies, spec, 'policy'));
  }

  /**
   * Applies a gRPC service config delivered by a resolver (`loadBalancingConfig` / `loadBalancingPolicy`):
   * switches the policy as `setPolicy` does. Returns null when applied (also when it selects no policy, or the
   * same policy config as last time: nothing changes), or the typed error of a bad config, keeping the current
   * policy.
   */
  applyServiceConfig(json: unknown): Error | null {
    const configs = this.#configs;
    if (configs !== undefined)
      return configs.apply(this.#policies, json, this.#lastServiceConfig, (policy, key) => {
        this.#install(policy);
        this.#lastServiceConfig = key;
      });
    // switchyard/lite without registerServiceConfigs(): a config that selects a policy is refused
    if (json === null || typeof json !== 'object') return typeError('serviceConfig', 'a service config object', json);
    return isServiceConfig(json) ? serviceConfigRefused(json) : null;
  }

  /**
   * Allocation-free pick for hot loops: the picked member's index in `members`, or -1 where `pick()` would
   * return none. Pair it with exactly one `completeIndex()` before the membership changes: there is no
   * handle to guard against a second completion or renumbered members (use `pick()` for that). In
   * `switchyard/lite`, after `registerBalancerExtras()` (a TypeError naming it before).
   */
  pickIndex(ctx?: PickContext): number {
    return extrasFor('pickIndex()').pickIndex(this, ctx);
  }

  /**
   * Ends a `pickIndex()` pick, on the current policy. `rttMs` is required by RTT-driven policies (NaN: not
   * measured). In `switchyard/lite`, after `registerBalancerExtras()`.
   */
  completeIndex(index: number, ok: boolean, rttMs = NaN): void {
    // closed: as a handle's done()
    if (!this.#closed) extrasFor('completeIndex()').completeIndex(this, index, ok, rttMs);
  }

  /** The row `ctx` picks now (-1: none), run-time weights refreshed first when due: pick() and pickIndex(). */
  private step(ctx: PickContext | undefined, now: number): number {
    if (now >= this.#nextWeightAt && this.weighting !== undefined && this.#computeWeights(now)) this.#publish();
    return this.#row(ctx, now);
  }

  /** The picker's row for `ctx` (-1: none), with `ctx.exclude` and the row checked. */
  #row(ctx: PickContext | undefined, now: number): number {
    checkCtx(ctx);
    const row = this.picker.pick(ctx, now);
    // a random source outside [0, 1) or a faulty custom policy: never a pick without a member
    if (!(row < 0) && this.m.list[row] === undefined)
      throw rangeError('picked row', `a member row < ${this.m.list.length} (random() must be in [0, 1))`, row);
    return row;
  }

  pickOrThrow(ctx?: PickContext): Picked {
    const r = this.pick(ctx);
    if (r.type === 'none') throw new NoHealthyMembersError(r.reason);
    return r;
  }

  /**
   * `{ rtt: false }`: the listener reads neither `rttMs` nor `at`, so picks are not timed for it (a clock read
   * costs about a round-robin pick); both are NaN unless the policy, `measureRtt` or another listener times them.
   */
  on(event: 'outcome', fn: (ev: OutcomeEvent) => void, opts?: { rtt?: boolean }): () => void;
  on(event: 'membership', fn: (ev: MembershipEvent) => void): () => void;
  on(event: 'availability', fn: (ev: AvailabilityEvent) => void): () => void;
  on(event: 'picker', fn: (ev: PickerEvent) => void): () => void;
  on(event: EventName, fn: (ev: never) => void, opts?: { rtt?: boolean }): () => void {
    return this.listeners.on(event, fn, bool('opts.rtt', opts?.rtt ?? true));
  }

  /** The membership and each member's state (observability.md, "What stats() returns"). In `switchyard/lite`, after `registerBalancerExtras()`. */
  stats(): BalancerStats {
    return extrasFor('stats()').stats(this, this.#version, this.#panic, this.#queue.size, this.#levels);
  }

  /**
   * Frees the state table and the policy's pickers now (they are also freed when the balancer is garbage
   * collected). A closed Balancer stays closed: it picks nothing, waits fail, membership changes are ignored (they
   * return false), and so are policy changes, `refresh()` and pick handles completed later (no event).
   */
  close(): void {
    this.#closed = true;
    this.pol.releaseSlots?.(NO_SLOTS); // the policy's pickers' WASM rows, hash tables
    this.m.free();
    this.picker = NO_PICKER;
    this.warming = false;
    this.#queue.failAll(this.#waitError()!); // closed: the "was closed" UnavailableError
  }

  /** Recomputes run-time weights now and rebuilds the picker. */
  refresh(): void {
    if (this.weighting !== undefined) this.#computeWeights(this.clock.now());
    this.#publish();
  }

  /**
   * Records a load report for a member (gRPC A58 / ORCA: out-of-band, or per call via `done({ load })`).
   * Used by policies configured with `loadReports`; returns false for unknown members (and, in a
   * switchyard/lite Balancer without registerRunTimeWeights(), where no policy reads them, for every report).
   */
  reportLoad(id: string, report: LoadReport): boolean {
    this.#weights?.validate('load', report);
    const row = this.m.index.get(id);
    const lr = this.weighting?.loadReports;
    if (row === undefined || lr === undefined) return false;
    this.#weights!.record(lr, this.m.table, row, report, this.clock.now());
    return true;
  }

  /** A pick was handed out: in-flight and pick counts, then the policy's hook. */
  private started(row: number, now: number): void {
    const t = this.m.table;
    const f = t.f;
    f[COL_ACTIVE * t.cap + row]! += 1;
    f[COL_PICKS * t.cap + row]! += 1;
    this.pol.onStart?.(this, row, now);
  }

  /** `pick()` as a Picked, or undefined when it cannot be served now (warming counts as not now). */
  #tryPick(ctx: PickContext | undefined): Picked | undefined {
    if (this.#closed) return undefined;
    const r = this.pick(ctx);
    return r.type === 'pick' ? r : undefined;
  }

  #canPick(): boolean {
    return !this.#closed && this.m.list.length > 0 && !this.failClosed && !this.warming && this.picker.rows.length > 0;
  }

  /** Why a wait fails at once: closed, or the resolver failed before any list arrived. */
  #waitError(): Error | undefined {
    if (this.#closed)
      return new UnavailableError(`switchyard: the balancer${this.#forTarget()} was closed`, this.#errorInfo());
    if (this.#resolverError !== null && !this.#resolved) return this.#resolverError;
    return undefined;
  }

  #forTarget(): string {
    return this.target === undefined ? '' : ` for ${this.target}`;
  }

  /** UnavailableError's options: the target, and the resolver's error as the cause (none: undefined). */
  #errorInfo(): { target?: string | undefined; cause?: unknown } {
    return { target: this.target, cause: this.#resolverError ?? undefined };
  }

  #timeoutError(ms: number): UnavailableError {
    const why = !this.#resolved
      ? 'no endpoint list has arrived'
      : this.m.list.length === 0
        ? 'the balancer has no members'
        : this.warming
          ? 'no member has passed its first health check'
          : 'no member could be picked';
    return new UnavailableError(
      `switchyard: no member available${this.#forTarget()} within ${Math.round(ms)} ms (${why})`,
      this.#errorInfo(),
    );
  }

  /**
   * A policy with run-time weights needs the weights plug-in (see BalancerParts); a Policy object serves the
   * first Balancer that installs it, since policies keep per-Balancer state (their last picker, nginx's weights).
   */
  #checkPolicy(p: Policy): void {
    if (p.weighting !== undefined && this.#weights === undefined)
      throw unregistered('policy.weighting', 'registerRunTimeWeights()', p.weighting);
    if ((owners.get(p) ?? this) !== this) throw typeError('policy', 'a Policy no other Balancer runs', p);
    owners.set(p, this);
  }

  /** Installs `p` as the policy (see setPolicy). */
  #install(p: Policy): void {
    if (p === this.pol || this.#closed) return;
    this.#checkPolicy(p);
    const prev = this.pol;
    try {
      this.#switch(p);
    } catch (e) {
      // the new policy could not build its picker: the previous one comes back (with fresh state)
      if (this.pol === p) this.#switch(prev);
      throw e;
    }
  }

  #switch(p: Policy): void {
    const now = this.clock.now();
    // the outgoing policy's pickers (WASM rows, hash tables) go now, not when it is collected; its picks in flight
    // feed neither it nor the new policy (finish)
    this.pol.releaseSlots?.(NO_SLOTS);
    const t = this.m.table;
    const n = this.m.list.length;
    // the new policy starts from zeroed columns of its own, as members just added do
    const f = t.f;
    for (let c = 0; c < COLS; c++) if (((KEPT_COLUMNS >> c) & 1) === 0) f.fill(0, c * t.cap, c * t.cap + n);
    for (let r = 0; r < n; r++) f[COL_WEIGHT * t.cap + r] = f[COL_BASE_WEIGHT * t.cap + r]!;
    this.pol = p;
    // a new generation: the picks of the replaced install resolve their rows by id and feed no policy
    this.#installGen = ++this.m.gen;
    this.weighting = p.weighting;
    this.timed = p.weighting !== undefined || (this.#measureRtt ?? p.usesRtt === true);
    this.#nextWeightAt = -Infinity;
    if (this.weighting !== undefined) this.#computeWeights(now);
    const all: number[] = [];
    for (let r = 0; r < n; r++) all.push(r);
    p.onMembership?.(this, all, now);
    this.#publish();
  }

  /** Applies run-time weights (dynamic-weights.ts) to COL_WEIGHT; true if any changed. */
  #computeWeights(now: number): boolean {
    const wt = this.weighting!;
    this.#nextWeightAt = now + wt.updatePeriodMs;
    return this.#weights!.apply(wt, this.m.table, this.m.list.length, now, this.m);
  }

  private complete(p: Pick, outcome: Outcome): void {
    if (this.#closed) return; // as completeIndex: the rows are gone
    let row = p.index;
    if (p.gen !== this.m.gen) {
      row = this.m.index.get(p.member.id) ?? -1;
      // removed and added again since the pick: another member of the same id
      if (row >= 0 && this.m.born[row]! > p.gen) row = -1;
    }
    if (outcome === CANCEL) {
      p.ended = true;
      return this.finish(row, p.member, true, NaN, null);
    }
    if (outcome === null || typeof outcome !== 'object')
      throw typeError('outcome', 'an object { ok, rttMs? }', outcome);
    bool('outcome.ok', outcome.ok);
    if (outcome.status !== undefined) intInRange('outcome.status', outcome.status, 0, 999);
    if (outcome.load !== undefined) this.#weights?.validate('outcome.load', outcome.load);
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
    // the event's time, for listeners that read it; a policy that needs the time reads it (env.now())
    if (now !== now && this.listeners.timedOutcomes > 0) now = this.clock.now();
    const policy = p.gen < this.#installGen ? undefined : this.pol;
    // a failure's error only: a success that carries one is a success for every listener
    const error = outcome.ok ? undefined : outcome.error;
    this.finish(row, p.member, outcome.ok, rtt, policy, now, listening, outcome.status, outcome.load, error);
  }

  /**
   * Completion bookkeeping; row -1: the member was removed meanwhile (only the event is emitted). `member.id` is
   * read only for the event or a load report (at 1024 members the member object is a cache miss away).
   */
  private finish(
    row: number,
    member: Endpoint,
    ok: boolean,
    rtt: number,
    policy: Policy | null | undefined,
    now?: number, // left out only by cancel(), which ends before it is read
    listening?: boolean,
    status?: number,
    load?: LoadReport,
    error?: unknown,
  ): void {
    if (row >= 0) {
      const t = this.m.table;
      const f = t.f;
      const ia = COL_ACTIVE * t.cap + row;
      const a = f[ia]!;
      f[ia] = a > 0 ? a - 1 : 0;
      if (policy === null) return; // cancel(): the in-flight count only
      if (!ok) f[COL_FAILURES * t.cap + row]! += 1;
      // undefined: a pick of a replaced policy install, which feeds no policy
      const dyn = policy?.weighting?.dynamic;
      if (dyn !== undefined) {
        const iDyn = COL_DYN * t.cap + row;
        f[iDyn] = this.#weights!.dynamic(dyn, f[iDyn]!, ok, rtt);
      }
      if (load !== undefined) this.reportLoad(member.id, load);
      policy?.onDone?.(this, row, ok, rtt, now!, status);
    }
    if (listening) {
      this.listeners.emit('outcome', { id: member.id, ok, rttMs: rtt, status, at: now!, error } satisfies OutcomeEvent);
      this.listeners.rethrow();
    }
  }

  #commit(next: Endpoint[], list: boolean): boolean {
    if (this.#closed) return false; // closed for good: a late resolver update brings nothing back
    if (list && !this.#resolved) {
      this.#resolved = true;
      this.#queue.wake(); // an empty first list: waits continue, to their deadline
    }
    const change = this.m.diff(next); // checks that the weights' sum is finite
    if (change.added.length === 0 && change.removed.length === 0 && change.updated.length === 0) return false;
    const now = this.clock.now();
    const addedRows = this.m.replace(next, change.removed, now);
    this.#leveled = next.some((m) => m.priority !== 0 || m.locality !== undefined);
    if (this.weighting !== undefined) this.#computeWeights(now);
    this.pol.onMembership?.(this, addedRows, now);
    // what membership listeners change (health wiring marks new members pending) serves waiting picks only
    // after them: a picker published in between served them from members about to be marked pending
    const held = this.#holding;
    this.#holding = true;
    try {
      this.listeners.emit('membership', change satisfies MembershipEvent);
    } finally {
      this.#holding = held;
    }
    this.#publish();
    return true;
  }

  #publish(): void {
    // a listener closed the balancer mid-change (its error, if it threw one, still reaches the caller), or
    // refresh() after close
    if (this.#closed) return this.listeners.rethrow();
    // a policy whose build throws leaves no picker over stale rows: nothing is picked until the next publish
    this.picker = NO_PICKER;
    const m = this.m;
    let eligible: number;
    if (!this.#leveled) {
      // one level, no localities: the panic rule of members.ts, one picker
      const { rows, panic, warming } = m.eligible(
        this.panicThresholdPercent,
        this.panicMode,
        this.#priorityOptions.overprovisioningFactor,
      );
      this.#panic = panic;
      this.warming = warming;
      this.failClosed = panic && this.panicMode === 'fail';
      this.picker = this.pol.build(rows, this, '');
      this.pol.releaseSlots?.(WHOLE_SET);
      this.#levels = undefined;
      eligible = rows.length;
    } else {
      // priority levels and localities (levels.ts plug-in); pending members are left out (Envoy excluded hosts)
      const out = this.#routing!.publish(m, this.pol, this, this.#priorityOptions, this.random);
      this.warming = out.warming;
      this.picker = out.picker;
      this.#panic = out.panic;
      this.failClosed = false; // a level failing in panic 'fail' is the picker's answer
      this.#levels = out.levels;
      eligible = out.picker.rows.length;
    }
    this.#version++;
    if (this.listeners.picker.length > 0) {
      const ev: PickerEvent = {
        version: this.#version,
        eligible,
        panic: this.#panic,
        warming: this.warming,
        policy: this.pol.name,
      };
      this.listeners.emit('picker', ev);
    }
    // waiting picks are served once #commit's membership listeners are done (the picker is built now, so a
    // policy switched from a listener builds, or fails and is restored, as anywhere else)
    if (!this.#holding) this.#queue.wake();
    this.listeners.rethrow(); // a listener's error, once the balancer is consistent again
  }
}

/**
 * What a Balancer reaches by lookup rather than by import, so that a bundle carries only what it uses
 * (docs/browsers.md): the policy names, priority levels and localities, the WASM state table, run-time weights.
 */
export interface BalancerParts {
  policies: PolicyLookup;
  levels?: LevelRouting | undefined;
  table?: WasmTable | undefined;
  weights?: WeightRunner | undefined;
  /** gRPC service configs (registry.ts SERVICE_CONFIGS); undefined: they are refused. */
  configs?: ServiceConfigs | undefined;
}

/** `switchyard/lite`'s parts: round_robin and what was registered (registry.ts `registrations`), as they are now. */
function registeredParts(): BalancerParts {
  return { policies: registeredPolicies, ...registrations };
}

/** The complete Balancer's parts: every built-in policy, priority routing, the WASM table, run-time weights. */
const COMPLETE_PARTS: BalancerParts = {
  policies: allPolicies,
  levels: priorityRouting,
  table: BALANCING_TABLE,
  weights: WEIGHT_RUNNER,
  configs: SERVICE_CONFIGS,
};

/** The one slot of a single-level publication (picker.ts `Policy.build`). */
const WHOLE_SET: ReadonlySet<string> = new Set(['']);
/** No slot: close() frees every picker's state. */
const NO_SLOTS: ReadonlySet<string> = new Set();

/** The Balancer: every built-in policy by name (service-config.ts), and the registered ones. */
export class Balancer extends BalancerCore {
  constructor(options: BalancerOptions | ServiceConfigOptions = {}) {
    if (options !== null && typeof options === 'object') checkKeys('options', options, OPTION_KEYS);
    registerBalancerExtras();
    super(options, COMPLETE_PARTS);
  }
}

/** `new Balancer(options | serviceConfig)`. */
export function createBalancer(options?: BalancerOptions | ServiceConfigOptions): Balancer {
  return new Balancer(options);
}

// What switchyard measures and where each figure comes from, independent of the metrics library: a catalogue
// of instruments (name, kind, unit, labels) and `wireSources`, which subscribes to the events of a Balancer,
// a HealthChecker, an OutlierDetector, a connected resolver and a BalancedFetch and feeds a `Sink`;
// `claimSources` refuses a source another collector of the same registry or meter subscribes to already.
// metrics.ts (prom-client) and otel-metrics.ts (OpenTelemetry) are the two sinks. Nothing here polls:
// counters and histograms follow events, gauges read the sources' `stats()` snapshots when scraped.
//
// Labels are bounded: member ids (series of a removed member are dropped), outcomes, states; never keys,
// paths or URLs. Every counter series whose label values are known in advance starts at 0 (Prometheus's
// instrumentation guidance: a series that appears at its first increment hides that increment from increase()
// and rate()): those without a member label when collection starts, those of a member for each current member
// then and for each member added later (`zeroSets`). Metric names follow the Prometheus naming guide (base
// units, `_total` for counters, `_seconds` for durations).
//
//   const src = resolveSources(options);            // fetch → its balancer, checker, detector, resolver
//   const unclaim = claimSources(registry, 'registry', src, options);
//   const off = wireSources(src, sink);              // subscribe
//   off(); unclaim();                                // unsubscribe
import type {
  AvailabilityEvent,
  BalancerStats,
  MembershipEvent,
  OutcomeEvent,
  PickerEvent,
} from '../balancing/events.js';
import type { HealthStats, HealthState, HealthTransition, ProbeResult } from '../health/checker.js';
import type { EjectionEvent, EjectionKind, OutlierStats } from '../health/outlier.js';
import { rangeError, typeError } from '../util/validate.js';
import { registerBalancerExtras } from '../balancing/balancer-extras.js';

export type Labels = Record<string, string>;
const NO_LABELS: Labels = Object.freeze({}) as Labels;

export interface InstrumentSpec {
  /** Prometheus name without the prefix, e.g. 'tries_total'. */
  prom: string;
  /** OpenTelemetry instrument name, e.g. 'switchyard.tries'. */
  otel: string;
  kind: 'counter' | 'histogram' | 'gauge';
  help: string;
  /** UCUM unit for OpenTelemetry ('s', '1', '{try}'); Prometheus names carry the unit instead. */
  unit: string;
  labels: readonly string[];
  /**
   * A counter's label sets known in advance, `member` aside (each member gets every one of them): its series
   * start at 0 (`zeroSets`). Absent: `[{}]` for a counter with no label but `member`, none otherwise.
   */
  zeros?: readonly Labels[];
}

const spec = (
  prom: string,
  otel: string,
  kind: InstrumentSpec['kind'],
  unit: string,
  labels: readonly string[],
  help: string,
  zeros?: readonly Labels[],
): InstrumentSpec =>
  zeros === undefined ? { prom, otel, kind, unit, labels, help } : { prom, otel, kind, unit, labels, help, zeros };

/** One label set per value of `label`. */
const each = (label: string, values: readonly string[]): Labels[] => values.map((v) => ({ [label]: v }));
/** Outcomes of a try or a request: success, failure (a failed response), error (no response). */
const OUTCOMES = ['success', 'failure', 'error'] as const;
/** Every ejection kind (a Record: a kind health/outlier.ts adds does not compile until it is listed here). */
const EJECTION_KINDS: Record<EjectionKind, true> = { 'consecutive-5xx': true, 'success-rate': true };

/**
 * The health transitions the HealthChecker can make (health/state.ts `step`, and `drain()` from any state but
 * draining): `[from, to]`.
 */
export const HEALTH_TRANSITIONS: readonly (readonly [HealthState, HealthState])[] = [
  ['pending', 'healthy'],
  ['pending', 'failed'],
  ['healthy', 'suspect'],
  ['healthy', 'failed'],
  ['suspect', 'healthy'],
  ['suspect', 'failed'],
  ['failed', 'healthy'],
  ['pending', 'draining'],
  ['healthy', 'draining'],
  ['suspect', 'draining'],
  ['failed', 'draining'],
];

/** Every instrument, by key. Outcomes: success, failure (a response counted as failed, e.g. 5xx), error (no response). */
export const INSTRUMENTS = {
  requests: spec(
    'requests_total',
    'switchyard.requests',
    'counter',
    '{request}',
    ['outcome'],
    'Requests through the balanced fetch, by final outcome (success, failure: a failed response was returned, error: thrown).',
    each('outcome', OUTCOMES),
  ),
  retries: spec('retries_total', 'switchyard.retries', 'counter', '{retry}', [], 'Retries sent by the balanced fetch.'),
  hedges: spec(
    'hedges_total',
    'switchyard.hedges',
    'counter',
    '{hedge}',
    [],
    'Hedged tries started by the balanced fetch.',
  ),
  throttled: spec(
    'retries_throttled_total',
    'switchyard.retries.throttled',
    'counter',
    '{retry}',
    [],
    'Retries or hedges not sent because the retry budget (token bucket) was exhausted.',
  ),
  tries: spec(
    'tries_total',
    'switchyard.tries',
    'counter',
    '{try}',
    ['member', 'outcome'],
    'Tries (picks ended with done()) by member and outcome (success, failure: a failed response, error: no response).',
    each('outcome', OUTCOMES),
  ),
  tryDuration: spec(
    'try_duration_seconds',
    'switchyard.try.duration',
    'histogram',
    's',
    ['member'],
    'Try round-trip time by member, in seconds.',
  ),
  inFlight: spec('in_flight', 'switchyard.in_flight', 'gauge', '{try}', ['member'], 'Tries in flight by member.'),
  available: spec(
    'member_available',
    'switchyard.member.available',
    'gauge',
    '1',
    ['member'],
    '1 if the member may be picked (not failed by health checks nor ejected), else 0.',
  ),
  weight: spec(
    'member_weight',
    'switchyard.member.weight',
    'gauge',
    '1',
    ['member'],
    'Effective weight of the member (after slow start and dynamic weights).',
  ),
  members: spec('members', 'switchyard.members', 'gauge', '{member}', [], 'Members (endpoints) of the balancer.'),
  eligible: spec(
    'members_eligible',
    'switchyard.members.eligible',
    'gauge',
    '{member}',
    [],
    'Members the current picker picks from.',
  ),
  panic: spec(
    'panic',
    'switchyard.panic',
    'gauge',
    '1',
    [],
    '1 while the balancer is in panic mode (too few available members), else 0.',
  ),
  rebuilds: spec(
    'picker_rebuilds_total',
    'switchyard.picker.rebuilds',
    'counter',
    '{rebuild}',
    [],
    'Pickers published (membership, availability or weight changes).',
  ),
  membership: spec(
    'membership_changes_total',
    'switchyard.membership.changes',
    'counter',
    '{member}',
    ['change'],
    'Members added, removed or updated.',
    each('change', ['added', 'removed', 'updated']),
  ),
  availability: spec(
    'availability_changes_total',
    'switchyard.availability.changes',
    'counter',
    '{change}',
    ['member', 'to'],
    'Members taken out of rotation (to="unavailable") or put back (to="available").',
    each('to', ['available', 'unavailable']),
  ),
  healthState: spec(
    'health_state',
    'switchyard.health.state',
    'gauge',
    '1',
    ['member', 'state'],
    'Active health state per member: 1 for the current state, 0 for the others.',
  ),
  healthTransitions: spec(
    'health_transitions_total',
    'switchyard.health.transitions',
    'counter',
    '{transition}',
    ['member', 'from', 'to'],
    'Health state transitions.',
    HEALTH_TRANSITIONS.map(([from, to]) => ({ from, to })),
  ),
  probes: spec(
    'health_probes_total',
    'switchyard.health.probes',
    'counter',
    '{probe}',
    ['member', 'outcome'],
    'Active health probes by member and outcome (success, failure).',
    each('outcome', ['success', 'failure']),
  ),
  probeDuration: spec(
    'health_probe_duration_seconds',
    'switchyard.health.probe.duration',
    'histogram',
    's',
    ['member'],
    'Health probe duration by member, in seconds.',
  ),
  ejections: spec(
    'outlier_ejections_total',
    'switchyard.outlier.ejections',
    'counter',
    '{ejection}',
    ['member', 'kind'],
    'Outlier ejections by member and kind (consecutive-5xx, success-rate).',
    each('kind', Object.keys(EJECTION_KINDS)),
  ),
  ejected: spec(
    'outlier_ejected',
    'switchyard.outlier.ejected',
    'gauge',
    '1',
    ['member'],
    '1 while the member is ejected by outlier detection, else 0.',
  ),
  resolverUpdates: spec(
    'resolver_updates_total',
    'switchyard.resolver.updates',
    'counter',
    '{update}',
    [],
    'Endpoint lists delivered by the resolver.',
  ),
  resolverErrors: spec(
    'resolver_errors_total',
    'switchyard.resolver.errors',
    'counter',
    '{error}',
    [],
    'Resolver failures.',
  ),
  resolverLastUpdate: spec(
    'resolver_last_update_timestamp_seconds',
    'switchyard.resolver.last_update',
    'gauge',
    's',
    [],
    'Unix time of the last endpoint list delivered by the resolver (0: none yet).',
  ),
  resolverEndpoints: spec(
    'resolver_endpoints',
    'switchyard.resolver.endpoints',
    'gauge',
    '{endpoint}',
    [],
    'Endpoints in the last list delivered by the resolver.',
  ),
} as const satisfies Record<string, InstrumentSpec>;

export type InstrumentKey = keyof typeof INSTRUMENTS;

/**
 * The label sets, `member` aside, whose series of `key` start at 0: a counter's `zeros`, or `[{}]` for a counter
 * or histogram whose only label, if any, is `member` (a histogram's buckets, sum and count at 0: rate() over them
 * sees the first observations too); none for gauges (they have a value at each collection) nor for a counter
 * with a label whose values are not known in advance.
 */
export function zeroSets(key: InstrumentKey): readonly Labels[] {
  const s: InstrumentSpec = INSTRUMENTS[key];
  if (s.kind === 'gauge') return [];
  if (s.zeros !== undefined) return s.zeros;
  return s.labels.every((l) => l === 'member') ? [NO_LABELS] : [];
}

/** `known` with `member` (when the instrument has that label), in the order of the instrument's labels. */
function labelsOf(key: InstrumentKey, member: string | undefined, known: Labels): Labels {
  const out: Labels = {};
  for (const l of INSTRUMENTS[key].labels) out[l] = l === 'member' ? member! : known[l]!;
  return out;
}

/** Default latency buckets in seconds: loopback and LAN round trips up to slow WAN calls. */
export const DEFAULT_BUCKETS_S: readonly number[] = [
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
];

/**
 * The `buckets` option of both sinks: a non-empty, increasing array of finite seconds > 0 (copied). Every
 * index is read, so a hole (`[, 1]`, `new Array(3)`) is a TypeError naming `buckets[i]` (forEach skips holes).
 */
export function parseBuckets(b: unknown): number[] {
  if (b === undefined) return [...DEFAULT_BUCKETS_S];
  if (!Array.isArray(b) || b.length === 0) throw typeError('buckets', 'a non-empty array of seconds', b);
  const out: number[] = [];
  for (let i = 0; i < b.length; i++) {
    const x: unknown = b[i];
    if (typeof x !== 'number') throw typeError(`buckets[${i}]`, 'a finite number > 0, increasing', x);
    if (!Number.isFinite(x) || x <= 0 || (i > 0 && x <= out[i - 1]!))
      throw rangeError(`buckets[${i}]`, 'a finite number > 0, increasing', x);
    out.push(x);
  }
  return out;
}

/** Whether two bucket lists are the same boundaries. */
export const sameBuckets = (a: readonly number[], b: readonly number[]): boolean =>
  a.length === b.length && a.every((x, i) => x === b[i]);

/** Where a sink sends values. Gauge readers are called on every collection (scrape or export). */
export interface Sink {
  /**
   * Adds `n` to a counter series; `n` 0 creates the series at 0 when it does not exist (`zeroSets`), and for a
   * histogram (only ever given 0) its buckets, sum and count at 0.
   */
  add(key: InstrumentKey, labels: Labels, n: number): void;
  observe(key: InstrumentKey, labels: Labels, value: number): void;
  gauge(key: InstrumentKey, read: (set: (labels: Labels, value: number) => void) => void): void;
  /** A member left the membership: drop its series where the library allows it. */
  forget?(member: string): void;
  /**
   * With a Balancer: whether an id is one of its current members, for a sink with `forget` to drop the series
   * of members that left without a 'membership' event (every one, when the Balancer is closed).
   */
  members?(isMember: (id: string) => boolean): void;
  /**
   * Per-member counter series start at 0 (`zeroSets`): for a sink whose `forget` drops them (Prometheus). Not
   * for one that cannot (OpenTelemetry): under churn each member that ever came would keep ~20 series at 0,
   * toward the SDK's cardinality limit, past which real series go to the overflow set.
   */
  zeroMembers?: boolean;
  /**
   * The source's own count of an unlabelled total (`SEEDED` keys) when collection starts, > 0; default: `add`.
   * A sink whose series outlive a collector (OpenTelemetry) adds only what it has not counted yet.
   */
  seed?(key: SeededKey, n: number): void;
}

/** The unlabelled totals that start at their source's own count, and that source. */
export const SEEDED = {
  retries: 'fetch',
  hedges: 'fetch',
  resolverUpdates: 'resolver',
  resolverErrors: 'resolver',
} as const satisfies Partial<Record<InstrumentKey, keyof Sources>>;
export type SeededKey = keyof typeof SEEDED;

// The parts of each source that are used, so any object with these methods works (and tests can pass fakes).
/** Removes a listener. */
export type Off = () => void;
export interface BalancerSource {
  on(event: 'outcome', fn: (e: OutcomeEvent) => void): Off;
  on(event: 'picker', fn: (e: PickerEvent) => void): Off;
  on(event: 'membership', fn: (e: MembershipEvent) => void): Off;
  on(event: 'availability', fn: (e: AvailabilityEvent) => void): Off;
  stats(): BalancerStats;
  /**
   * The current members, an array replaced (not mutated) on every membership change, as the Balancer's. Without
   * it, the members are those of `stats()` when collection starts, followed through 'membership' events.
   */
  readonly members?: readonly { readonly id: string }[];
}
export interface CheckerSource {
  on(event: 'transition', fn: (e: HealthTransition) => void): Off;
  on(event: 'probe', fn: (e: ProbeResult) => void): Off;
  stats(): HealthStats;
}
export interface DetectorSource {
  on(event: 'ejection', fn: (e: EjectionEvent) => void): Off;
  stats(): OutlierStats;
}
/** A connected resolver (discovery/connect.ts): 'update' and 'error' events and its own counters. */
export interface ResolverSource {
  on(event: 'update', fn: (e: { endpoints: readonly unknown[] }) => void): Off;
  on(event: 'error', fn: (e: Error) => void): Off;
  readonly updates?: number;
  readonly errors?: number;
}
/** The fetch event fields used here (http/fetch-options.ts FetchEvent). */
export interface FetchEventLike {
  type: string;
  ok?: boolean;
  status?: number;
}
export interface FetchSource {
  on?(event: 'event', fn: (e: FetchEventLike) => void): Off;
  stats?(): { retries: number; hedges: number };
  readonly balancer?: unknown;
  readonly checker?: unknown;
  readonly detector?: unknown;
  readonly resolver?: unknown;
}

/** The options naming a source, in the order option errors list them. */
export const SOURCE_KEYS = ['balancer', 'checker', 'detector', 'resolver', 'fetch'] as const;

export interface SourceOptions {
  balancer?: BalancerSource;
  checker?: CheckerSource;
  detector?: DetectorSource;
  resolver?: ResolverSource;
  /** A BalancedFetch (or proxy's `.fetch`): request metrics, and the stack it built unless given above. */
  fetch?: FetchSource;
}

export interface Sources {
  balancer: BalancerSource | undefined;
  checker: CheckerSource | undefined;
  detector: DetectorSource | undefined;
  resolver: ResolverSource | undefined;
  fetch: FetchSource | undefined;
}

const hasMethods = (v: unknown, names: readonly string[]): boolean =>
  v !== null &&
  (typeof v === 'object' || typeof v === 'function') &&
  names.every((n) => typeof (v as Record<string, unknown>)[n] === 'function');

function pick<T>(
  field: string,
  given: unknown,
  fromFetch: unknown,
  methods: readonly string[],
  what: string,
): T | undefined {
  if (given !== undefined) {
    if (!hasMethods(given, methods)) throw typeError(field, what, given);
    return given as T;
  }
  // taken from the fetch only when it is the real thing (a PickSource without events is skipped)
  return hasMethods(fromFetch, methods) ? (fromFetch as T) : undefined;
}

/** Validates the sources (TypeError naming the field) and takes the missing ones from `fetch`. */
export function resolveSources(o: SourceOptions): Sources {
  if (o === null || typeof o !== 'object') throw typeError('options', 'an object', o);
  const f = o.fetch;
  if (f !== undefined && typeof f !== 'function' && (f === null || typeof f !== 'object'))
    throw typeError('fetch', 'a BalancedFetch (createFetch)', f);
  const s: Sources = {
    fetch: f,
    balancer: pick('balancer', o.balancer, f?.balancer, ['on', 'stats'], 'a Balancer (on, stats)'),
    checker: pick('checker', o.checker, f?.checker, ['on', 'stats'], 'a HealthChecker (on, stats)'),
    detector: pick('detector', o.detector, f?.detector, ['on', 'stats'], 'an OutlierDetector (on, stats)'),
    resolver: pick('resolver', o.resolver, f?.resolver, ['on'], "a connected resolver (on('update'|'error'))"),
  };
  if (s.balancer === undefined && f === undefined)
    throw typeError('balancer', 'a Balancer (on, stats), or give fetch', o.balancer);
  return s;
}

/** The instruments the present sources feed (those `wireSources` writes). */
export function instrumentsFor(s: Sources): InstrumentKey[] {
  const keys: InstrumentKey[] = [];
  if (s.balancer !== undefined) keys.push('tries', 'tryDuration', 'rebuilds', 'membership', 'availability');
  if (s.balancer !== undefined) keys.push('members', 'eligible', 'panic', 'inFlight', 'weight', 'available');
  if (s.checker !== undefined) keys.push('healthTransitions', 'probes', 'probeDuration', 'healthState');
  if (s.detector !== undefined) keys.push('ejections', 'ejected');
  if (s.resolver !== undefined)
    keys.push('resolverUpdates', 'resolverErrors', 'resolverLastUpdate', 'resolverEndpoints');
  if (s.fetch !== undefined && typeof s.fetch.on === 'function')
    keys.push('requests', 'retries', 'hedges', 'throttled');
  return keys;
}

/** The sources the open collectors of each registry or meter subscribe to. */
const claimed = new WeakMap<object, Set<object>>();

/**
 * Claims for a collector of `owner` (a prom-client Registry or an OpenTelemetry Meter, called `where` in the
 * message) the sources `wireSources` subscribes to: a source another open collector of `owner` subscribes to
 * would count every event twice, so it is a RangeError naming its field (`fetch.balancer` when taken from the
 * fetch; the fetch is checked first). Claims nothing when it throws; returns the function that releases them.
 */
export function claimSources(owner: object, where: 'registry' | 'meter', s: Sources, o: SourceOptions): () => void {
  const taken = claimed.get(owner) ?? new Set<object>();
  claimed.set(owner, taken);
  const subscribed: [field: string, source: object][] = [];
  if (s.fetch !== undefined && typeof s.fetch.on === 'function') subscribed.push(['fetch', s.fetch]);
  for (const field of SOURCE_KEYS) {
    const v = field === 'fetch' ? undefined : s[field];
    if (v !== undefined) subscribed.push([o[field] !== undefined ? field : `fetch.${field}`, v]);
  }
  for (const [field, source] of subscribed)
    if (taken.has(source))
      throw new RangeError(
        `${field} must not be collected twice on one ${where}: another collector on this ${where} counts its ` +
          `events already (close it first, or use another ${where})`,
      );
  for (const [, source] of subscribed) taken.add(source);
  return () => {
    for (const [, source] of subscribed.splice(0)) taken.delete(source);
  };
}

const OUTCOME_SUCCESS = 'success';
const tryOutcome = (ok: boolean, status: number | undefined): string =>
  ok ? OUTCOME_SUCCESS : status === undefined ? 'error' : 'failure';
const STATES: readonly HealthState[] = ['pending', 'healthy', 'suspect', 'failed', 'draining'];

/**
 * Whether an id is a current member of `b`: read from `b.members` (one Set per membership change, built on the
 * first question after it), so it is right even for events other 'membership' listeners cause before this
 * one's turn; without `members`, the ids of `stats()` now, followed by the 'membership' listener it returns.
 * Third: the ids of the current members.
 */
function memberTest(
  b: BalancerSource,
): [(id: string) => boolean, ((e: MembershipEvent) => void) | undefined, () => string[]] {
  const live = (): readonly { readonly id: string }[] | undefined => {
    const l = b.members;
    return Array.isArray(l) ? l : undefined;
  };
  if (live() !== undefined) {
    let seen: readonly { readonly id: string }[] | undefined;
    let ids = new Set<string>();
    const isMember = (id: string): boolean => {
      const l = live() ?? [];
      if (l !== seen) {
        seen = l;
        ids = new Set(l.map((m) => m.id));
      }
      return ids.has(id);
    };
    return [isMember, undefined, () => (live() ?? []).map((m) => m.id)];
  }
  const ids = new Set(b.stats().members.map((m) => m.id));
  const follow = (e: MembershipEvent): void => {
    for (const id of e.removed) ids.delete(id);
    for (const id of e.added) ids.add(id);
  };
  return [(id) => ids.has(id), follow, () => [...ids]];
}

/**
 * Subscribes `sink` to every source and registers the gauge readers; returns the function that unsubscribes.
 * Unlabelled totals kept by a source itself (fetch retries and hedges, resolver updates and errors) start at
 * the source's own count, so they equal its `stats()` even when collection starts late.
 *
 * Per-member series are written only for current members of the Balancer (when there is one): a try that
 * ends after its member left (the Balancer still reports its outcome), or a probe, transition or ejection
 * of an id the Balancer does not have, is not counted, so no series outlives its member's `forget`. There is
 * no per-try total without a member label; the request such a try belonged to is counted by `requests`.
 *
 * Counter series whose labels are known in advance (`zeroSets`) are created at 0 (`sink.add(key, labels, 0)`)
 * once every subscription is made: the per-member ones (for a sink with `zeroMembers`) for each current member
 * of the Balancer, then for each member a 'membership' event adds (after the series of the removed ones are forgotten, so a member removed and
 * added again starts at 0 again); the others once. Without a Balancer there are no per-member zeros (nothing
 * says which members there are, nor when they leave).
 *
 * A source whose `on` or `stats` throws makes it throw that error once the subscriptions it made are undone;
 * the gauge readers it registered and the counts it seeded stay with the sink, for the caller to release.
 */
export function wireSources(s: Sources, sink: Sink): () => void {
  registerBalancerExtras(); // a switchyard/lite Balancer's stats(), which the gauges read
  const offs: Off[] = [];
  try {
    subscribe(s, sink, offs);
  } catch (e) {
    for (const off of offs.splice(0))
      try {
        off();
      } catch {
        // the error to report is the first one
      }
    throw e;
  }
  return () => {
    for (const off of offs.splice(0)) off();
  };
}

/** wireSources' work: each subscription's `Off` goes into `offs` as soon as it is made. */
function subscribe(s: Sources, sink: Sink, offs: Off[]): void {
  const seed = (key: SeededKey, n: number): void =>
    sink.seed !== undefined ? sink.seed(key, n) : sink.add(key, NO_LABELS, n);
  // the counters whose series start at 0: per member (for a sink with `zeroMembers`), and the others
  const perMember: [InstrumentKey, readonly Labels[]][] = [];
  const fixed: [InstrumentKey, readonly Labels[]][] = [];
  for (const key of instrumentsFor(s)) {
    const sets = zeroSets(key);
    if (sets.length === 0) continue;
    if (!INSTRUMENTS[key].labels.includes('member')) {
      if (INSTRUMENTS[key].kind === 'counter') fixed.push([key, sets]); // histograms: per member only
    } else if (sink.zeroMembers === true) perMember.push([key, sets]);
  }
  const zeroMember = (id: string): void => {
    for (const [key, sets] of perMember) for (const l of sets) sink.add(key, labelsOf(key, id, l), 0);
  };
  const b = s.balancer;
  let isMember: (id: string) => boolean = () => true;
  let members: () => string[] = () => [];
  if (b !== undefined) {
    const [test, follow, current] = memberTest(b);
    isMember = test;
    members = current;
    sink.members?.(isMember);
    offs.push(
      b.on('outcome', (e) => {
        if (!isMember(e.id)) return;
        sink.add('tries', { member: e.id, outcome: tryOutcome(e.ok, e.status) }, 1);
        if (e.rttMs === e.rttMs) sink.observe('tryDuration', { member: e.id }, e.rttMs / 1000);
      }),
    );
    offs.push(b.on('picker', () => sink.add('rebuilds', NO_LABELS, 1)));
    offs.push(
      b.on('membership', (e) => {
        follow?.(e);
        if (e.added.length > 0) sink.add('membership', { change: 'added' }, e.added.length);
        if (e.removed.length > 0) sink.add('membership', { change: 'removed' }, e.removed.length);
        if (e.updated.length > 0) sink.add('membership', { change: 'updated' }, e.updated.length);
        if (sink.forget !== undefined) for (const id of e.removed) if (!isMember(id)) sink.forget(id);
        for (const id of e.added) if (isMember(id)) zeroMember(id);
      }),
    );
    offs.push(
      b.on('availability', (e) => {
        if (isMember(e.id))
          sink.add('availability', { member: e.id, to: e.available ? 'available' : 'unavailable' }, 1);
      }),
    );
    // one stats() snapshot per collection: readers running in the same tick share it
    let cached: BalancerStats | undefined;
    const stats = (): BalancerStats => {
      if (cached === undefined) {
        cached = b.stats();
        queueMicrotask(() => (cached = undefined));
      }
      return cached;
    };
    sink.gauge('members', (set) => set(NO_LABELS, stats().members.length));
    sink.gauge('eligible', (set) => set(NO_LABELS, stats().eligible));
    sink.gauge('panic', (set) => set(NO_LABELS, stats().panic ? 1 : 0));
    sink.gauge('inFlight', (set) => {
      for (const m of stats().members) set({ member: m.id }, m.active);
    });
    sink.gauge('weight', (set) => {
      for (const m of stats().members) set({ member: m.id }, m.weight);
    });
    sink.gauge('available', (set) => {
      for (const m of stats().members) set({ member: m.id }, m.available ? 1 : 0);
    });
  }
  const c = s.checker;
  if (c !== undefined) {
    offs.push(
      c.on('transition', (e) => {
        if (isMember(e.member.id)) sink.add('healthTransitions', { member: e.member.id, from: e.from, to: e.to }, 1);
      }),
    );
    offs.push(
      c.on('probe', (e) => {
        if (!isMember(e.member.id)) return;
        sink.add('probes', { member: e.member.id, outcome: e.ok ? OUTCOME_SUCCESS : 'failure' }, 1);
        sink.observe('probeDuration', { member: e.member.id }, e.durationMs / 1000);
      }),
    );
    sink.gauge('healthState', (set) => {
      for (const m of c.stats().members)
        if (isMember(m.id)) for (const st of STATES) set({ member: m.id, state: st }, m.state === st ? 1 : 0);
    });
  }
  const d = s.detector;
  if (d !== undefined) {
    offs.push(
      d.on('ejection', (e) => {
        if (e.ejected && isMember(e.id)) sink.add('ejections', { member: e.id, kind: e.kind }, 1);
      }),
    );
    sink.gauge('ejected', (set) => {
      for (const m of d.stats().members) if (isMember(m.id)) set({ member: m.id }, m.ejected ? 1 : 0);
    });
  }
  const r = s.resolver;
  if (r !== undefined) {
    let lastUpdateS = 0;
    let endpoints = 0;
    if (typeof r.updates === 'number' && r.updates > 0) seed('resolverUpdates', r.updates);
    if (typeof r.errors === 'number' && r.errors > 0) seed('resolverErrors', r.errors);
    offs.push(
      r.on('update', (e) => {
        lastUpdateS = Date.now() / 1000;
        endpoints = e.endpoints.length;
        sink.add('resolverUpdates', NO_LABELS, 1);
      }),
    );
    offs.push(r.on('error', () => sink.add('resolverErrors', NO_LABELS, 1)));
    sink.gauge('resolverLastUpdate', (set) => set(NO_LABELS, lastUpdateS));
    sink.gauge('resolverEndpoints', (set) => set(NO_LABELS, endpoints));
  }
  const f = s.fetch;
  if (f !== undefined && typeof f.on === 'function') {
    const st = typeof f.stats === 'function' ? f.stats() : undefined;
    if (st !== undefined && st.retries > 0) seed('retries', st.retries);
    if (st !== undefined && st.hedges > 0) seed('hedges', st.hedges);
    offs.push(
      f.on('event', (e) => {
        switch (e.type) {
          case 'request-end':
            sink.add('requests', { outcome: tryOutcome(e.ok === true, e.status) }, 1);
            break;
          case 'retry':
            sink.add('retries', NO_LABELS, 1);
            break;
          case 'hedge':
            sink.add('hedges', NO_LABELS, 1);
            break;
          case 'throttled':
            sink.add('throttled', NO_LABELS, 1);
            break;
        }
      }),
    );
  }
  for (const [key, sets] of fixed) for (const l of sets) sink.add(key, l, 0);
  for (const id of members()) zeroMember(id);
}

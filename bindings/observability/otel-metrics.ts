// The instruments of collect.ts through the OpenTelemetry metrics API (@opentelemetry/api, an optional peer
// dependency, loaded only by this entry point): counters and histograms recorded from the sources' events,
// observable gauges read from their `stats()` in one batch callback per collection. Instrument names and
// units follow the OpenTelemetry conventions (dotted names, UCUM units, durations in seconds); attributes are
// the Prometheus labels prefixed with `switchyard.` (switchyard.member, switchyard.outcome, ...).
// Counters without a member attribute start at 0 for the attribute sets known in advance (collect.ts
// `zeroSets`: `add(0, attributes)` when collection starts); per-member ones start at their first count:
// OpenTelemetry cannot delete the series of a removed member from a cumulative counter (it stays with its last
// value), so zeros for every member that ever came (about 20 each) would fill the SDK's cardinality limit under
// churn. No new point is written for a member that has left (collect.ts). Options are checked as the Prometheus collector's are: `attributes` a plain object of
// OpenTelemetry attribute values (a string, a finite number, a boolean, or an array of one of those types)
// whose keys are not switchyard's own; `buckets` increasing finite seconds > 0. A bad one is a
// TypeError/RangeError naming the field. Collectors sharing a meter share its instruments, so nothing is
// merged silently: a second open collector on the meter with the same `attributes`, or over a source another
// one collects (`balancer`, `fetch`, ...), is a RangeError naming it, and so are `buckets` other than those a
// histogram of the meter was created with (an instrument outlives its collector: they stay the meter's).
//
//   const c = collectOtelMetrics({ fetch, attributes: { 'service.name': 'api' } }); // meter: metrics.getMeter('switchyard')
//   c.close();
import {
  metrics,
  type Attributes,
  type Counter,
  type Histogram,
  type Meter,
  type ObservableGauge,
} from '@opentelemetry/api';
import { checkKeys, numberError, rangeError, typeError } from '../util/validate.js';
import {
  INSTRUMENTS,
  SEEDED,
  SOURCE_KEYS,
  claimSources,
  instrumentsFor,
  parseBuckets,
  resolveSources,
  sameBuckets,
  wireSources,
  type InstrumentKey,
  type Labels,
  type SeededKey,
  type Sink,
  type SourceOptions,
} from './collect.js';

export interface CollectOtelMetricsOptions extends SourceOptions {
  /** Default: `metrics.getMeter('switchyard')` from the globally registered MeterProvider. */
  meter?: Meter;
  /** Constant attributes on every data point of this collector, e.g. { 'switchyard.service': 'api' }. */
  attributes?: Attributes;
  /** Explicit histogram bucket boundaries in seconds (advice to the SDK; default DEFAULT_BUCKETS_S). */
  buckets?: readonly number[];
}

export interface OtelMetricsCollector {
  /** Unsubscribes from the sources and stops observing the gauges. */
  close(): void;
}

/** What the collectors of one meter share: its instruments are the same for all of them. */
interface MeterState {
  /** The constant attributes of the open collectors (two alike would write the same points). */
  attributes: Set<string>;
  /** The bucket boundaries each histogram of the meter was created with (instruments stay: so do these). */
  buckets: Map<string, readonly number[]>;
  /**
   * What the counters seeded from a source's own count (collect.ts SEEDED) hold, by source, then attributes
   * and instrument: a collector started again on the same source, meter and attributes continues them.
   */
  counted: WeakMap<object, Map<string, number>>;
}
const meters = new WeakMap<Meter, MeterState>();

/** An order-independent key of an attribute set (values by type: 1 and '1' differ, as they do to the SDK). */
const attributesKey = (a: Attributes): string =>
  JSON.stringify(
    Object.keys(a)
      .sort()
      .map((k) => [k, a[k]]),
  );

const OPTIONS = [...SOURCE_KEYS, 'meter', 'attributes', 'buckets'];
const OWN_ATTRIBUTES = new Set(Object.values(INSTRUMENTS).flatMap((s) => s.labels.map((l) => `switchyard.${l}`)));

type Primitive = 'string' | 'number' | 'boolean';
const isPrimitive = (v: unknown): v is string | number | boolean =>
  typeof v === 'string' || typeof v === 'boolean' || (typeof v === 'number' && Number.isFinite(v));

/** Constant attributes: a plain object of OpenTelemetry attribute values, none under switchyard's own keys. */
function parseAttributes(a: unknown): Attributes {
  if (a === undefined) return {};
  if (a === null || typeof a !== 'object' || Array.isArray(a))
    throw typeError('attributes', 'an object of attribute names to values', a);
  const out: Attributes = {};
  for (const [k, v] of Object.entries(a)) {
    if (k.length === 0) throw rangeError('attributes', 'non-empty attribute names', k);
    if (OWN_ATTRIBUTES.has(k)) throw rangeError(`attributes["${k}"]`, 'an attribute name switchyard does not use', k);
    const field = `attributes["${k}"]`;
    if (Array.isArray(v)) {
      // One type per array (OpenTelemetry: homogeneous arrays), that of the first element.
      const type = typeof v[0] as Primitive;
      v.forEach((x: unknown, i) => {
        if (!isPrimitive(x)) throw numberError(`${field}[${i}]`, 'a string, a finite number or a boolean', x);
        if (typeof x !== type) throw typeError(`${field}[${i}]`, `a ${type}, as ${field}[0]`, x);
      });
      out[k] = [...(v as string[])];
    } else if (isPrimitive(v)) out[k] = v;
    else throw numberError(field, 'a string, a finite number, a boolean or an array of one of them', v);
  }
  return out;
}

/** Records switchyard's metrics for a balancer (and checker, detector, resolver, fetch) with an OpenTelemetry Meter. */
export function collectOtelMetrics(options: CollectOtelMetricsOptions): OtelMetricsCollector {
  const sources = resolveSources(options);
  checkKeys('options', options, OPTIONS);
  const meter = options.meter ?? metrics.getMeter('switchyard');
  if (meter === null || typeof meter !== 'object' || typeof meter.createCounter !== 'function')
    throw typeError('meter', 'an OpenTelemetry Meter', meter);
  const constant = parseAttributes(options.attributes);
  const buckets = parseBuckets(options.buckets);
  const state = meters.get(meter) ?? {
    attributes: new Set(),
    buckets: new Map(),
    counted: new WeakMap(),
  };
  meters.set(meter, state);
  const unclaim = claimSources(meter, 'meter', sources, options);
  const constKey = attributesKey(constant);
  const keys = instrumentsFor(sources);
  // counters and histograms up front (an instrument without points is not exported): the buckets recorded
  // for the meter are those its histograms were created with
  const counters = new Map<InstrumentKey, Counter>();
  const histograms = new Map<InstrumentKey, Histogram>();
  try {
    if (state.attributes.has(constKey))
      throw new RangeError(
        `attributes must tell this collector apart from the others on this meter (another one records with ` +
          `${constKey} already), got ${constKey}`,
      );
    for (const key of keys) {
      const s = INSTRUMENTS[key];
      const had = s.kind === 'histogram' ? state.buckets.get(s.otel) : undefined;
      if (had !== undefined && !sameBuckets(had, buckets))
        throw new RangeError(
          `buckets must be those ${s.otel} was created with on this meter ([${had.join(', ')}]), ` +
            `got [${buckets.join(', ')}]`,
        );
    }
    for (const key of keys) {
      const s = INSTRUMENTS[key];
      if (s.kind === 'counter') counters.set(key, meter.createCounter(s.otel, { description: s.help, unit: s.unit }));
      else if (s.kind === 'histogram') {
        const advice = { explicitBucketBoundaries: buckets };
        histograms.set(key, meter.createHistogram(s.otel, { description: s.help, unit: s.unit, advice }));
        if (!state.buckets.has(s.otel)) state.buckets.set(s.otel, buckets);
      }
    }
  } catch (e) {
    unclaim();
    throw e;
  }
  state.attributes.add(constKey);
  // the running totals of the seeded counters: [totals of their source on this meter, key in it]
  const seeded = new Map<InstrumentKey, [Map<string, number>, string]>();
  for (const [key, from] of Object.entries(SEEDED) as [SeededKey, 'fetch' | 'resolver'][]) {
    const source = sources[from];
    if (source === undefined || !counters.has(key)) continue;
    let totals = state.counted.get(source);
    if (totals === undefined) state.counted.set(source, (totals = new Map()));
    seeded.set(key, [totals, `${constKey}\u0000${key}`]);
  }

  const attrs = (labels: Labels): Attributes => {
    const a: Attributes = { ...constant };
    for (const k in labels) a[`switchyard.${k}`] = labels[k];
    return a;
  };
  const cached = new Map<string, Attributes>(); // attribute objects by instrument and label values
  const byMember = new Map<string, string[]>(); // the `cached` ids of each member, dropped when it leaves
  const attrsOf = (key: InstrumentKey, labels: Labels): Attributes => {
    const id = `${key}\u0000${Object.values(labels).join('\u0000')}`;
    let a = cached.get(id);
    if (a === undefined) {
      cached.set(id, (a = attrs(labels)));
      const member = labels.member;
      if (member !== undefined) {
        const ids = byMember.get(member);
        if (ids === undefined) byMember.set(member, [id]);
        else ids.push(id);
      }
    }
    return a;
  };
  const gauges: [ObservableGauge, (set: (labels: Labels, value: number) => void) => void][] = [];

  const sink: Sink = {
    add(key, labels, n) {
      counters.get(key)!.add(n, attrsOf(key, labels));
      const t = seeded.get(key);
      if (t !== undefined) t[0].set(t[1], (t[0].get(t[1]) ?? 0) + n);
    },
    seed(key, n) {
      // the counter has what a closed collector of this source and attributes counted: add the rest
      const t = seeded.get(key);
      const had = t === undefined ? 0 : (t[0].get(t[1]) ?? 0);
      if (n > had) sink.add(key, {}, n - had);
    },
    observe(key, labels, v) {
      histograms.get(key)!.record(v, attrsOf(key, labels));
    },
    gauge(key, read) {
      const s = INSTRUMENTS[key];
      gauges.push([meter.createObservableGauge(s.otel, { description: s.help, unit: s.unit }), read]);
    },
    forget(member) {
      for (const id of byMember.get(member) ?? []) cached.delete(id);
      byMember.delete(member);
    },
  };

  let off: () => void;
  try {
    off = wireSources(sources, sink);
  } catch (e) {
    // a source threw when subscribed to (wireSources undid its subscriptions); nothing observes the gauges yet.
    // The points it seeded stay: OpenTelemetry cannot remove them, and `counted` says they were counted.
    state.attributes.delete(constKey);
    unclaim();
    throw e;
  }
  const batch = (r: { observe(g: ObservableGauge, v: number, a?: Attributes): void }) => {
    for (const [g, read] of gauges) read((labels, v) => r.observe(g, v, attrs(labels)));
  };
  const observables = gauges.map(([g]) => g);
  if (observables.length > 0) meter.addBatchObservableCallback(batch, observables);
  let closed = false;
  return {
    close() {
      if (closed) return;
      closed = true;
      off();
      if (observables.length > 0) meter.removeBatchObservableCallback(batch, observables);
      cached.clear();
      byMember.clear();
      state.attributes.delete(constKey);
      unclaim();
    },
  };
}

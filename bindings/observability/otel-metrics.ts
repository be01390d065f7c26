// The instruments of collect.ts through the OpenTelemetry metrics API (@opentelemetry/api, an optional peer
// dependency, loaded only by this entry point): counters and histograms recorded from the sources' events,
// observable gauges read from their `stats()` in one batch callback per collection. Instrument names and
// units follow the OpenTelemetry conventions (dotted names, UCUM units, durations in seconds); attributes are
// the Prometheus labels prefixed with `switchyard.` (switchyard.member, switchyard.outcome, ...).
// OpenTelemetry cannot delete the series of a removed member from a cumulative counter: it stays with its
// last value (the exporter's cardinality limit bounds them). Options are checked as the Prometheus
// collector's are: `attributes` a plain object of OpenTelemetry attribute values (a string, a finite number, a
// boolean, or an array of one of those types) whose keys are not switchyard's own; `buckets` increasing
// finite seconds > 0. A bad one is a TypeError/RangeError naming the field.
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
  parseBuckets,
  resolveSources,
  wireSources,
  type InstrumentKey,
  type Labels,
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

const OPTIONS = ['balancer', 'checker', 'detector', 'resolver', 'fetch', 'meter', 'attributes', 'buckets'];
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

  const attrs = (labels: Labels): Attributes => {
    const a: Attributes = { ...constant };
    for (const k in labels) a[`switchyard.${k}`] = labels[k];
    return a;
  };
  const counters = new Map<InstrumentKey, Counter>();
  const histograms = new Map<InstrumentKey, Histogram>();
  const cached = new Map<string, Attributes>(); // attribute objects by instrument and label values
  const attrsOf = (key: InstrumentKey, labels: Labels): Attributes => {
    const id = `${key}\u0000${Object.values(labels).join('\u0000')}`;
    let a = cached.get(id);
    if (a === undefined) cached.set(id, (a = attrs(labels)));
    return a;
  };
  const gauges: [ObservableGauge, (set: (labels: Labels, value: number) => void) => void][] = [];

  const sink: Sink = {
    add(key, labels, n) {
      let c = counters.get(key);
      if (c === undefined) {
        const s = INSTRUMENTS[key];
        counters.set(key, (c = meter.createCounter(s.otel, { description: s.help, unit: s.unit })));
      }
      c.add(n, attrsOf(key, labels));
    },
    observe(key, labels, v) {
      let h = histograms.get(key);
      if (h === undefined) {
        const s = INSTRUMENTS[key];
        h = meter.createHistogram(s.otel, {
          description: s.help,
          unit: s.unit,
          advice: { explicitBucketBoundaries: buckets },
        });
        histograms.set(key, h);
      }
      h.record(v, attrsOf(key, labels));
    },
    gauge(key, read) {
      const s = INSTRUMENTS[key];
      gauges.push([meter.createObservableGauge(s.otel, { description: s.help, unit: s.unit }), read]);
    },
    forget(member) {
      for (const id of cached.keys())
        if (id.includes(`\u0000${member}\u0000`) || id.endsWith(`\u0000${member}`)) cached.delete(id);
    },
  };

  const off = wireSources(sources, sink);
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
    },
  };
}

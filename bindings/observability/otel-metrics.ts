// The instruments of collect.ts through the OpenTelemetry metrics API (@opentelemetry/api, an optional peer
// dependency, loaded only by this entry point): counters and histograms recorded from the sources' events,
// observable gauges read from their `stats()` in one batch callback per collection. Instrument names and
// units follow the OpenTelemetry conventions (dotted names, UCUM units, durations in seconds); attributes are
// the Prometheus labels prefixed with `switchyard.` (switchyard.member, switchyard.outcome, ...).
// OpenTelemetry cannot delete the series of a removed member from a cumulative counter: it stays with its
// last value (the exporter's cardinality limit bounds them).
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
import { typeError } from '../util/validate.js';
import {
  DEFAULT_BUCKETS_S,
  INSTRUMENTS,
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

/** Records switchyard's metrics for a balancer (and checker, detector, resolver, fetch) with an OpenTelemetry Meter. */
export function collectOtelMetrics(options: CollectOtelMetricsOptions): OtelMetricsCollector {
  const sources = resolveSources(options);
  const meter = options.meter ?? metrics.getMeter('switchyard');
  if (meter === null || typeof meter !== 'object' || typeof meter.createCounter !== 'function')
    throw typeError('meter', 'an OpenTelemetry Meter', meter);
  const constant = options.attributes ?? {};
  if (constant === null || typeof constant !== 'object') throw typeError('attributes', 'an object', constant);
  const buckets = [...(options.buckets ?? DEFAULT_BUCKETS_S)];

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

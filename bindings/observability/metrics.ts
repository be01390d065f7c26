// Prometheus metrics through prom-client (an optional peer dependency, loaded only by this entry point):
// `collectMetrics` registers the instruments of collect.ts on a prom-client Registry (default: prom-client's
// global `register`) and keeps them current from the sources' events; gauges read `stats()` at scrape time.
// Several collectors may share a registry (one per upstream service, told apart by constant `labels`):
// they share each metric family, and closing one removes its series only (a collector started after a
// `registry.clear()` registers the families again). Nothing is merged silently: a second collector with the
// same constant labels (`labels`), over a source another one already collects (`balancer`, `fetch`, ...), or
// with other histogram `buckets` than the family's is a RangeError naming it.
// Series of a member that leaves the membership are removed, and per-member series are written for current
// members only (collect.ts), so member labels stay bounded under churn. Counter series whose labels are known in
// advance (each member's outcomes, ejection kinds, health transitions, ...) are registered at 0 when known
// (collect.ts `zeroSets`), so Prometheus's increase() and rate() see their first increment. Names follow the Prometheus naming
// guide (https://prometheus.io/docs/practices/naming/); queries to start from: docs/observability.md. A misspelt
// option, or a constant label prom-client would refuse (`le`, `quantile`, a bad name), is a RangeError naming it,
// thrown before anything is registered.
//
//   const collector = collectMetrics({ fetch, labels: { service: 'api' } });
//   http.createServer(metricsHandler()).listen(9464, '127.0.0.1');
//   collector.close();
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Counter, Gauge, Histogram, register as globalRegistry, Registry } from 'prom-client';
import { checkKeys, rangeError, str, typeError } from '../util/validate.js';
import {
  INSTRUMENTS,
  SOURCE_KEYS,
  claimSources,
  instrumentsFor,
  parseBuckets,
  resolveSources,
  sameBuckets,
  wireSources,
  type InstrumentKey,
  type InstrumentSpec,
  type Labels,
  type Sink,
  type SourceOptions,
} from './collect.js';

export {
  INSTRUMENTS,
  DEFAULT_BUCKETS_S,
  type InstrumentSpec,
  type Labels,
  type SourceOptions,
  type BalancerSource,
  type CheckerSource,
  type DetectorSource,
  type ResolverSource,
  type FetchSource,
  type FetchEventLike,
  type Off,
} from './collect.js';

export interface CollectMetricsOptions extends SourceOptions {
  /** Where to register (default: prom-client's global `register`). */
  registry?: Registry;
  /** Prefix of every metric name (default 'switchyard_'). */
  prefix?: string;
  /**
   * Constant labels on every series of this collector, e.g. { service: 'api' } (label names, string values):
   * they tell collectors sharing the registry apart, so two open ones with the same labels are refused.
   */
  labels?: Labels;
  /** Histogram buckets in seconds (default DEFAULT_BUCKETS_S); those of the registry's histogram when it has one. */
  buckets?: readonly number[];
}

export interface MetricsCollector {
  readonly registry: Registry;
  /** Unsubscribes from the sources and removes this collector's series (and families no one else uses). */
  close(): void;
}

type AnyMetric = Counter<string> | Gauge<string> | Histogram<string>;
type Reader = (g: Gauge<string>) => void;

/** A metric family shared by the collectors of one registry. */
interface Family {
  name: string;
  metric: AnyMetric;
  labelNames: string;
  /** The constant label names among them (those of the collectors using it, sorted). */
  constNames: readonly string[];
  readers: Set<Reader>;
  /** The collectors' sweeps, run before the family is read (each drops the series of members that left). */
  sweeps: Set<() => void>;
  /** The constant label values of the collectors using it (one each: two alike would write the same series). */
  users: Set<string>;
  /** A histogram's buckets. */
  buckets: readonly number[] | undefined;
}

const families = new WeakMap<Registry, Map<string, Family>>();
/** The `series` key of series without a member label (no member id can equal it). */
const NO_MEMBER = Symbol('no member');
const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const OWN_LABELS = new Set(Object.values(INSTRUMENTS).flatMap((s: InstrumentSpec) => s.labels));
/** Label names Prometheus reserves: `le` (histogram buckets), `quantile` (summaries). */
const RESERVED_LABELS = ['le', 'quantile'];
const OPTIONS = [...SOURCE_KEYS, 'registry', 'prefix', 'labels', 'buckets'];

function parseLabels(labels: unknown): Labels {
  if (labels === undefined) return {};
  if (labels === null || typeof labels !== 'object' || Array.isArray(labels))
    throw typeError('labels', 'an object of label names to string values', labels);
  const out: Labels = {};
  for (const [k, v] of Object.entries(labels)) {
    if (!LABEL.test(k) || k.startsWith('__'))
      throw rangeError(`labels.${k}`, 'a Prometheus label name ([a-zA-Z_][a-zA-Z0-9_]*, not __*)', k);
    if (RESERVED_LABELS.includes(k)) throw rangeError(`labels.${k}`, 'a label name Prometheus does not reserve', k);
    if (OWN_LABELS.has(k)) throw rangeError(`labels.${k}`, 'a label name switchyard does not use itself', k);
    str(`labels.${k}`, v);
    out[k] = v;
  }
  return out;
}

/** Registers switchyard's metrics for a balancer (and checker, detector, resolver, fetch) on a prom-client Registry. */
export function collectMetrics(options: CollectMetricsOptions): MetricsCollector {
  const sources = resolveSources(options);
  checkKeys('options', options, OPTIONS);
  const registry = options.registry ?? globalRegistry;
  if (!(registry instanceof Registry)) throw typeError('registry', 'a prom-client Registry', registry);
  const prefix = options.prefix ?? 'switchyard_';
  str('prefix', prefix);
  if (prefix !== '' && !NAME.test(prefix)) throw rangeError('prefix', 'a Prometheus metric name prefix', prefix);
  const constant = parseLabels(options.labels);
  // sorted: collectors giving the same names in another order share the families
  const constNames = Object.keys(constant).sort();
  const constKey = `{${constNames.map((n) => `${n}=${JSON.stringify(constant[n])}`).join(',')}}`;
  const buckets = parseBuckets(options.buckets);
  const unclaim = claimSources(registry, 'registry', sources, options);
  let fams = families.get(registry);
  if (fams === undefined) families.set(registry, (fams = new Map()));

  const used = new Map<InstrumentKey, Family>();
  const ownReaders: [Family, Reader][] = [];
  const ownSweeps: [Family, () => void][] = [];
  // label children per instrument and label values (inc/observe without hashing the labels each time)
  const children = new Map<string, { inc(n: number): void } & { observe(v: number): void }>();
  // series this collector wrote, by member (NO_MEMBER for none), so they can be removed
  const series = new Map<string | symbol, Map<string, [Family, Labels]>>();

  const family = (key: InstrumentKey): Family => {
    let f = used.get(key);
    if (f !== undefined) return f;
    const s: InstrumentSpec = INSTRUMENTS[key];
    const name = prefix + s.prom;
    const labelNames = [...constNames, ...s.labels];
    f = fams.get(name);
    if (f === undefined) {
      if (registry.getSingleMetric(name) !== undefined)
        throw rangeError('prefix', `a prefix whose names are free in the registry (${name} is taken)`, prefix);
      const readers = new Set<Reader>();
      const sweeps = new Set<() => void>();
      const sweep = (): void => {
        for (const w of sweeps) w();
      };
      // registered once built: a metric prom-client refuses half-way is never left in the registry
      const common = { name, help: s.help, labelNames, registers: [] };
      const metric: AnyMetric =
        s.kind === 'counter'
          ? new Counter({ ...common, collect: sweep })
          : s.kind === 'histogram'
            ? new Histogram({ ...common, buckets, collect: sweep })
            : new Gauge({
                ...common,
                collect(this: Gauge<string>) {
                  sweep();
                  this.reset();
                  for (const r of readers) r(this);
                },
              });
      registry.registerMetric(metric);
      f = {
        name,
        metric,
        labelNames: labelNames.join(','),
        constNames,
        readers,
        sweeps,
        users: new Set(),
        buckets: undefined,
      };
      if (s.kind === 'histogram') f.buckets = buckets;
      fams.set(name, f);
    } else if (f.labelNames !== labelNames.join(',')) {
      // the constant label names differ (switchyard's own labels are those of the instrument, always the same)
      const show = (names: readonly string[]) => (names.length === 0 ? 'none' : names.join(', '));
      throw new RangeError(
        `labels must have the names of the constant labels of the collectors already on this registry ` +
          `(theirs: ${show(f.constNames)}; this one's: ${show(constNames)}): a metric family's label names are ` +
          `fixed (${name} has ${f.labelNames.split(',').join(', ')}); give the same names with other values, ` +
          `or use another registry`,
      );
    } else if (f.users.has(constKey)) {
      // the same series: gauges would overwrite each other, counters add up, close() delete the other's
      throw new RangeError(
        `labels must tell this collector apart from the others on this registry (another one writes ${name} ` +
          `with ${constKey} already), got ${constKey}`,
      );
    } else if (f.buckets !== undefined && !sameBuckets(f.buckets, buckets)) {
      throw new RangeError(
        `buckets must be those of ${name} already on this registry ([${f.buckets.join(', ')}]), ` +
          `got [${buckets.join(', ')}]`,
      );
    } else if (registry.getSingleMetric(name) === undefined) {
      // the registry was cleared (`registry.clear()`) under an open collector: its family goes back in, once this
      // collector is known to fit it
      registry.registerMetric(f.metric);
    }
    f.users.add(constKey);
    used.set(key, f);
    return f;
  };

  const child = (key: InstrumentKey, labels: Labels) => {
    const id = `${key}\u0000${Object.values(labels).join('\u0000')}`;
    let c = children.get(id);
    if (c === undefined) {
      const f = family(key);
      const all = { ...constant, ...labels };
      c = (f.metric as Counter<string> & Histogram<string>).labels(all) as never;
      children.set(id, c!);
      const member = labels.member ?? NO_MEMBER;
      let m = series.get(member);
      if (m === undefined) series.set(member, (m = new Map()));
      m.set(id, [f, all]);
    }
    return c!;
  };

  const sink: Sink = {
    add(key, labels, n) {
      const c = child(key, labels);
      if (INSTRUMENTS[key].kind !== 'histogram') c.inc(n);
      else (used.get(key)!.metric as Histogram<string>).zero({ ...constant, ...labels }); // zeroSets: n is 0
    },
    observe: (key, labels, v) => child(key, labels).observe(v),
    gauge(key, read) {
      const f = family(key);
      const r: Reader = (g) => read((labels, v) => g.set({ ...constant, ...labels }, v));
      f.readers.add(r);
      ownReaders.push([f, r]);
    },
    forget,
    zeroMembers: true, // forget drops a member's series, zeros included
    members(isMember) {
      // a Balancer closed (or changed without an event this collector heard): its former members' series go
      // before any family is read, once per collection
      let swept = false;
      const sweep = (): void => {
        if (swept) return;
        swept = true;
        queueMicrotask(() => (swept = false));
        for (const m of [...series.keys()]) if (typeof m === 'string' && !isMember(m)) forget(m);
      };
      for (const f of used.values()) {
        f.sweeps.add(sweep);
        ownSweeps.push([f, sweep]);
      }
    },
  };
  function forget(member: string | symbol): void {
    const m = series.get(member);
    if (m === undefined) return;
    for (const [id, [f, labels]] of m) {
      f.metric.remove(labels);
      children.delete(id);
    }
    series.delete(member);
  }

  // every family up front (a name clash throws before anything is subscribed; wireSources then creates the
  // counter series known in advance at 0); a source that throws when subscribed to releases them as well
  let off: () => void;
  try {
    for (const key of instrumentsFor(sources)) family(key);
    off = wireSources(sources, sink);
  } catch (e) {
    release();
    throw e;
  }

  function release(): void {
    for (const [f, r] of ownReaders.splice(0)) f.readers.delete(r);
    for (const [f, w] of ownSweeps.splice(0)) f.sweeps.delete(w);
    for (const member of [...series.keys()]) forget(member);
    for (const [, f] of used) {
      f.users.delete(constKey);
      if (f.users.size === 0) {
        registry.removeSingleMetric(f.name);
        fams!.delete(f.name);
      }
    }
    used.clear();
    unclaim();
  }

  let closed = false;
  return {
    registry,
    close() {
      if (closed) return;
      closed = true;
      off();
      release();
    },
  };
}

/**
 * A `node:http` request handler serving the registry in the Prometheus text format (GET and HEAD, on any path;
 * other methods get 405), e.g. on `/metrics` of a loopback port.
 */
export function metricsHandler(
  registry: Registry = globalRegistry,
): (req: IncomingMessage, res: ServerResponse) => void {
  if (!(registry instanceof Registry)) throw typeError('registry', 'a prom-client Registry', registry);
  return (req, res) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.statusCode = 405;
      res.setHeader('allow', 'GET, HEAD');
      res.end();
      return;
    }
    registry.metrics().then(
      (text) => {
        res.setHeader('content-type', registry.contentType);
        res.end(req.method === 'HEAD' ? undefined : text);
      },
      (err: unknown) => {
        res.statusCode = 500;
        res.end(`metrics collection failed: ${(err as Error)?.message ?? String(err)}\n`);
      },
    );
  };
}

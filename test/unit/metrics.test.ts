// Metrics (observability/metrics.ts on a real prom-client Registry, otel-metrics.ts on the real OpenTelemetry
// metrics SDK): the counts equal the wrapper's own stats() after real traffic to loopback backends.
import test from 'ava';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Registry, type MetricObjectWithValues, type MetricValue } from 'prom-client';
import {
  AggregationTemporality,
  InMemoryMetricExporter,
  MeterProvider,
  PeriodicExportingMetricReader,
  type MetricData,
} from '@opentelemetry/sdk-metrics';
import { Balancer } from '../../bindings/balancing/balancer.js';
import { createFetch, type BalancedFetch } from '../../bindings/http/fetch.js';
import type { HealthChecker } from '../../bindings/health/checker.js';
import type { OutlierDetector } from '../../bindings/health/outlier.js';
import { connectResolver } from '../../bindings/discovery/connect.js';
import { collectMetrics, metricsHandler } from '../../bindings/observability/metrics.js';
import { collectOtelMetrics } from '../../bindings/observability/otel-metrics.js';
import { startBackend, type Backend } from '../helpers/backends.js';
import { until } from '../helpers/wait.js';
import { fakeBalancer } from '../helpers/fake-balancer.js';

type Json = MetricObjectWithValues<MetricValue<string>>[];

/** Sum of the samples of `name` whose labels include `labels`. */
function sum(json: Json, name: string, labels: Record<string, string> = {}): number {
  const values = json.flatMap((m) =>
    m.values.filter((v) => ((v as { metricName?: string }).metricName ?? m.name) === name),
  );
  if (!json.some((m) => name.startsWith(m.name))) throw new Error(`no metric ${name}`);
  return values
    .filter((v) => Object.entries(labels).every(([k, x]) => v.labels[k] === x))
    .reduce((s, v) => s + v.value, 0);
}

let backends: Backend[] = [];
test.before(async () => {
  backends = await Promise.all(['a', 'b', 'c'].map((n) => startBackend(n)));
});
test.after.always(async () => {
  await Promise.all(backends.map((b) => b.stop().catch(() => {})));
});

const endpoints = () => backends.map((b) => ({ id: b.name, host: '127.0.0.1', port: b.port }));

/** A fetch over the three backends with health checks and outlier detection; c answers 503 to everything. */
function stack(): BalancedFetch & { checker?: HealthChecker; detector?: OutlierDetector } {
  return createFetch({
    endpoints: endpoints(),
    policy: 'round_robin',
    healthCheck: { path: '/healthz', intervalMs: 100, timeoutMs: 80, startHealthy: true, unhealthyThreshold: 3 },
    outlierDetection: { consecutive5xx: 2, maxEjectionPercent: 34, baseEjectionTimeMs: 60_000 },
    retry: { maxAttempts: 3, initialBackoffMs: 1, maxBackoffMs: 2 },
    retryThrottling: { maxTokens: 1000, tokenRatio: 1 },
  }) as never;
}

test.serial(
  'prom-client: requests, tries, retries, ejections, probes and health states equal the stack’s own stats()',
  async (t) => {
    backends[2]!.mode = { kind: 'status', status: 503 };
    const registry = new Registry();
    const f = stack();
    const collector = collectMetrics({ fetch: f, registry });
    const balancer = f.balancer as unknown as Balancer;
    try {
      let ok = 0;
      for (let i = 0; i < 40; i++) {
        const res = await f(`/r/${i}`);
        if (res.status === 200) ok++;
        await res.text();
      }
      await until('a failed health probe', () => f.checker!.stats().failures > 0, 5000);
      f.checker!.stop(); // nothing changes from here on
      const json = (await registry.getMetricsAsJSON()) as Json;
      const fs = f.stats();
      t.is(sum(json, 'switchyard_requests_total'), fs.requests);
      t.is(sum(json, 'switchyard_requests_total', { outcome: 'success' }), ok);
      t.is(ok, 40, 'every request succeeded thanks to retries');
      t.is(sum(json, 'switchyard_tries_total'), fs.tries);
      t.is(sum(json, 'switchyard_retries_total'), fs.retries);
      t.true(fs.retries > 0);
      t.is(sum(json, 'switchyard_hedges_total'), fs.hedges);
      const bs = balancer.stats();
      for (const m of bs.members) {
        t.is(sum(json, 'switchyard_tries_total', { member: m.id }), m.picks, `${m.id} tries = picks`);
        t.is(
          sum(json, 'switchyard_tries_total', { member: m.id, outcome: 'failure' }) +
            sum(json, 'switchyard_tries_total', { member: m.id, outcome: 'error' }),
          m.failures,
          `${m.id} failed tries`,
        );
        t.is(sum(json, 'switchyard_in_flight', { member: m.id }), m.active);
        t.is(sum(json, 'switchyard_member_available', { member: m.id }), m.available ? 1 : 0);
      }
      t.true(sum(json, 'switchyard_tries_total', { member: 'c', outcome: 'failure' }) >= 2);
      t.is(sum(json, 'switchyard_try_duration_seconds_count'), fs.tries);
      const od = f.detector!.stats();
      t.is(sum(json, 'switchyard_outlier_ejections_total'), od.ejectionsTotal);
      t.is(sum(json, 'switchyard_outlier_ejections_total', { member: 'c', kind: 'consecutive-5xx' }), 1);
      t.is(sum(json, 'switchyard_outlier_ejected', { member: 'c' }), 1);
      const hs = f.checker!.stats();
      t.is(sum(json, 'switchyard_health_probes_total'), hs.probes);
      t.is(sum(json, 'switchyard_health_probes_total', { outcome: 'failure' }), hs.failures);
      t.is(sum(json, 'switchyard_health_transitions_total'), hs.transitions);
      for (const m of hs.members) {
        t.is(sum(json, 'switchyard_health_state', { member: m.id, state: m.state }), 1, `${m.id} is ${m.state}`);
        t.is(sum(json, 'switchyard_health_state', { member: m.id }), 1, 'exactly one state per member');
      }
      t.is(sum(json, 'switchyard_members'), 3);
      t.is(sum(json, 'switchyard_panic'), bs.panic ? 1 : 0);
      t.true(sum(json, 'switchyard_picker_rebuilds_total') >= 1, 'the ejection rebuilt the picker');
      // the Prometheus text exposition carries the same families with HELP and TYPE
      const text = await registry.metrics();
      t.regex(text, /# TYPE switchyard_tries_total counter/);
      t.regex(text, /# TYPE switchyard_try_duration_seconds histogram/);
      t.regex(text, /switchyard_tries_total\{member="c",outcome="failure"\} \d+/);
      t.notRegex(text, /\/r\/\d/, 'no paths in labels');
    } finally {
      collector.close();
      f.close();
      backends[2]!.mode = { kind: 'ok' };
    }
    t.is(await registry.metrics(), '\n', 'close() unregisters everything it registered');
  },
);

test.serial('OpenTelemetry metrics SDK: the same counts through a Meter (InMemoryMetricExporter)', async (t) => {
  backends[2]!.mode = { kind: 'status', status: 503 };
  const exporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
  const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 3_600_000 });
  const provider = new MeterProvider({ readers: [reader] });
  const f = stack();
  const collector = collectOtelMetrics({
    fetch: f,
    meter: provider.getMeter('test'),
    attributes: { 'switchyard.service': 'api' },
  });
  try {
    for (let i = 0; i < 20; i++) await (await f('/o')).text();
    f.checker!.stop();
    await reader.forceFlush();
    const all: MetricData[] = exporter
      .getMetrics()
      .at(-1)!
      .scopeMetrics.flatMap((s) => s.metrics);
    const total = (name: string, attrs: Record<string, unknown> = {}) => {
      const m = all.find((x) => x.descriptor.name === name);
      if (m === undefined) throw new Error(`no instrument ${name}`);
      return (m.dataPoints as { value: unknown; attributes: Record<string, unknown> }[])
        .filter((p) => Object.entries(attrs).every(([k, v]) => p.attributes[k] === v))
        .reduce((s, p) => s + (typeof p.value === 'number' ? p.value : (p.value as { count: number }).count), 0);
    };
    const fs = f.stats();
    t.is(total('switchyard.requests'), fs.requests);
    t.is(total('switchyard.tries'), fs.tries);
    t.is(total('switchyard.retries'), fs.retries);
    t.is(total('switchyard.try.duration'), fs.tries, 'one histogram sample per try');
    const bs = (f.balancer as unknown as Balancer).stats();
    for (const m of bs.members) t.is(total('switchyard.tries', { 'switchyard.member': m.id }), m.picks);
    t.is(total('switchyard.outlier.ejections'), f.detector!.stats().ejectionsTotal);
    t.is(total('switchyard.health.probes'), f.checker!.stats().probes);
    t.is(total('switchyard.members'), 3);
    t.is(total('switchyard.tries', { 'switchyard.service': 'api' }), fs.tries, 'constant attributes on every point');
    const dur = all.find((x) => x.descriptor.name === 'switchyard.try.duration')!;
    t.is(dur.descriptor.unit, 's');
  } finally {
    collector.close();
    f.close();
    await provider.shutdown();
    backends[2]!.mode = { kind: 'ok' };
  }
});

test('two collectors on one registry (labels tell them apart); close() removes only its own series', async (t) => {
  const registry = new Registry();
  const a = new Balancer({ endpoints: ['x:1', 'y:2'] });
  const b = new Balancer({ endpoints: ['z:3'] });
  const ca = collectMetrics({ balancer: a, registry, labels: { service: 'a' } });
  const cb = collectMetrics({ balancer: b, registry, labels: { service: 'b' } });
  for (let i = 0; i < 4; i++) {
    const p = a.pick();
    if (p.type === 'pick') p.handle.done({ ok: true, rttMs: 2 });
  }
  const q = b.pick();
  if (q.type === 'pick') q.handle.done({ ok: false, status: 502, rttMs: 1 });
  let json = (await registry.getMetricsAsJSON()) as Json;
  t.is(sum(json, 'switchyard_tries_total', { service: 'a' }), 4);
  t.is(sum(json, 'switchyard_tries_total', { service: 'a', member: 'x:1' }), 2);
  t.is(sum(json, 'switchyard_tries_total', { service: 'b', member: 'z:3', outcome: 'failure' }), 1);
  t.is(sum(json, 'switchyard_members', { service: 'a' }), 2);
  t.is(sum(json, 'switchyard_members', { service: 'b' }), 1);
  // a member that leaves: its series go (labels stay bounded under churn)
  a.remove('x:1');
  json = (await registry.getMetricsAsJSON()) as Json;
  t.is(sum(json, 'switchyard_tries_total', { member: 'x:1' }), 0);
  t.is(sum(json, 'switchyard_tries_total', { member: 'y:2' }), 2);
  t.is(sum(json, 'switchyard_membership_changes_total', { service: 'a', change: 'removed' }), 1);
  ca.close();
  json = (await registry.getMetricsAsJSON()) as Json;
  t.is(sum(json, 'switchyard_tries_total', { service: 'a' }), 0);
  t.is(sum(json, 'switchyard_tries_total', { service: 'b' }), 1);
  t.is(sum(json, 'switchyard_members', { service: 'a' }), 0);
  cb.close();
  t.is(registry.getMetricsAsArray().length, 0);
  a.close();
  b.close();
});

test('a connected resolver: updates, errors, endpoint count and last update time', async (t) => {
  const registry = new Registry();
  const balancer = new Balancer();
  const resolver = connectResolver('static:///10.0.0.1:80,10.0.0.2:80', balancer);
  try {
    const before = Date.now() / 1000;
    const c = collectMetrics({ balancer, resolver: resolver as never, registry });
    await until('the first list', () => balancer.members.length === 2, 5000);
    const json = (await registry.getMetricsAsJSON()) as Json;
    const r = resolver as unknown as { updates: number; errors: number };
    t.is(sum(json, 'switchyard_resolver_updates_total'), r.updates);
    t.true(r.updates >= 1);
    t.is(sum(json, 'switchyard_resolver_errors_total'), r.errors);
    t.is(sum(json, 'switchyard_resolver_endpoints'), 2);
    const at = sum(json, 'switchyard_resolver_last_update_timestamp_seconds');
    t.true(at >= before - 1 && at <= Date.now() / 1000 + 1, String(at));
    c.close();
  } finally {
    resolver.close();
    balancer.close();
  }
});

test('metricsHandler serves the text exposition on GET, 405 otherwise', async (t) => {
  const registry = new Registry();
  const balancer = new Balancer({ endpoints: ['a:1'] });
  const c = collectMetrics({ balancer, registry, prefix: 'lb_' });
  const server: Server = createServer(metricsHandler(registry));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  try {
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/metrics`;
    const res = await fetch(url);
    t.is(res.status, 200);
    t.regex(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
    t.regex(await res.text(), /^lb_members 1$/m);
    t.is((await fetch(url, { method: 'POST' })).status, 405);
  } finally {
    c.close();
    balancer.close();
    await new Promise<void>((r) => server.close(() => r()));
  }
});

test('bad options: TypeError/RangeError naming the field and the value', (t) => {
  const balancer = new Balancer({ endpoints: ['a:1'] });
  const registry = new Registry();
  t.throws(() => collectMetrics({} as never), { instanceOf: TypeError, message: /balancer/ });
  t.throws(() => collectMetrics({ balancer: {} as never, registry }), { instanceOf: TypeError, message: /^balancer/ });
  t.throws(() => collectMetrics({ balancer, registry: {} as never }), { instanceOf: TypeError, message: /^registry/ });
  t.throws(() => collectMetrics({ balancer, registry, prefix: '9x' }), {
    instanceOf: RangeError,
    message: /prefix.*"9x"/,
  });
  t.throws(() => collectMetrics({ balancer, registry, labels: { member: 'x' } }), {
    instanceOf: RangeError,
    message: /labels\.member/,
  });
  t.throws(() => collectMetrics({ balancer, registry, labels: { service: 1 as never } }), {
    instanceOf: TypeError,
    message: /labels\.service.*1/,
  });
  t.throws(() => collectMetrics({ balancer, registry, buckets: [0.1, 0.05] }), {
    instanceOf: RangeError,
    message: /buckets\[1\].*0\.05/,
  });
  t.throws(() => collectMetrics({ balancer, registry, checker: 3 as never }), {
    instanceOf: TypeError,
    message: /^checker.*3/,
  });
  // the same names twice without labels to tell them apart
  const c = collectMetrics({ balancer, registry, labels: { service: 'a' } });
  const other = new Balancer({ endpoints: ['b:1'] });
  t.throws(() => collectMetrics({ balancer: other, registry }), { instanceOf: RangeError, message: /^labels/ });
  other.close();
  c.close();
  t.is(registry.getMetricsAsArray().length, 0, 'a rejected collector leaves nothing behind');
  t.throws(() => collectOtelMetrics({ balancer, meter: {} as never }), { instanceOf: TypeError, message: /^meter/ });
  balancer.close();
});

test('labels Prometheus reserves or refuses are RangeErrors naming labels.<name>; nothing is left registered', (t) => {
  const balancer = new Balancer({ endpoints: ['a:1'] });
  const registry = new Registry();
  const cases: [Record<string, string>, RegExp][] = [
    [{ le: 'x' }, /^labels\.le must be a label name Prometheus does not reserve, got "le"$/],
    [{ quantile: 'x' }, /^labels\.quantile must be a label name Prometheus does not reserve/],
    [{ 'a-b': 'x' }, /^labels\.a-b must be a Prometheus label name/],
    [{ __x: 'x' }, /^labels\.__x must be a Prometheus label name/],
    [{ '9a': 'x' }, /^labels\.9a must be a Prometheus label name/],
  ];
  for (const [labels, message] of cases) {
    t.throws(() => collectMetrics({ balancer, registry, labels }), { instanceOf: RangeError, message });
    t.is(registry.getMetricsAsArray().length, 0, `nothing registered after ${JSON.stringify(labels)}`);
  }
  // a later valid collector on the same registry works
  collectMetrics({ balancer, registry, labels: { region: 'eu' } }).close();
  t.is(registry.getMetricsAsArray().length, 0);
  balancer.close();
});

test('a misspelt option of either collector is a RangeError naming it', (t) => {
  const balancer = new Balancer({ endpoints: ['a:1'] });
  const registry = new Registry();
  t.throws(() => collectMetrics({ balancer, registry, bogus: 1 } as never), {
    instanceOf: RangeError,
    message:
      /^options\.bogus must be one of balancer, checker, detector, resolver, fetch, registry, prefix, labels, buckets, got "bogus"$/,
  });
  t.throws(() => collectMetrics({ balancer, registry, label: { a: 'b' } } as never), {
    message: /^options\.label must be/,
  });
  t.throws(() => collectOtelMetrics({ balancer, meter: new MeterProvider().getMeter('t'), attribute: {} } as never), {
    instanceOf: RangeError,
    message:
      /^options\.attribute must be one of balancer, checker, detector, resolver, fetch, meter, attributes, buckets/,
  });
  t.is(registry.getMetricsAsArray().length, 0);
  balancer.close();
});

test('OpenTelemetry: buckets and attributes are checked as the Prometheus collector checks them', (t) => {
  const balancer = new Balancer({ endpoints: ['a:1'] });
  const meter = new MeterProvider().getMeter('t');
  const cases: Array<[Record<string, unknown>, new (...a: never[]) => Error, RegExp]> = [
    [{ buckets: 5 }, TypeError, /^buckets must be a non-empty array of seconds, got 5/],
    [{ buckets: {} }, TypeError, /^buckets must be a non-empty array/],
    [{ buckets: [] }, TypeError, /^buckets must be a non-empty array/],
    [{ buckets: ['x'] }, TypeError, /^buckets\[0\] must be a finite number > 0, increasing, got "x"/],
    [{ buckets: [2, 1] }, RangeError, /^buckets\[1\] .*got 1/],
    [{ buckets: [0.1, Infinity] }, RangeError, /^buckets\[1\] .*got Infinity/],
    [{ attributes: null }, TypeError, /^attributes must be an object .*got null/],
    [{ attributes: [] }, TypeError, /^attributes must be an object/],
    [{ attributes: { a: {} } }, TypeError, /^attributes\["a"\] must be a string, a finite number, a boolean/],
    [{ attributes: { a: null } }, TypeError, /^attributes\["a"\] .*got null/],
    [{ attributes: { a: NaN } }, RangeError, /^attributes\["a"\] .*got NaN/],
    [{ attributes: { a: [1, 'x'] } }, TypeError, /^attributes\["a"\]\[1\] must be a number, as attributes\["a"\]\[0\]/],
    [{ attributes: { a: [{}] } }, TypeError, /^attributes\["a"\]\[0\] must be a string, a finite number or a boolean/],
    [{ attributes: { 'switchyard.member': 'x' } }, RangeError, /^attributes\["switchyard\.member"\]/],
  ];
  for (const [o, type, re] of cases)
    t.throws(() => collectOtelMetrics({ balancer, meter, ...o }), { instanceOf: type, message: re }, JSON.stringify(o));
  const ok = collectOtelMetrics({
    balancer,
    meter,
    buckets: [0.01, 0.1],
    attributes: { 'service.name': 'api', shard: 3, canary: false, zones: ['a', 'b'], empty: [] },
  });
  ok.close();
  balancer.close();
});

/** The OpenTelemetry points of `name` (cumulative, last collection) on a fresh reader. */
function otelHarness() {
  const exporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
  const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 3_600_000 });
  const provider = new MeterProvider({ readers: [reader] });
  const points = async (name: string) => {
    await reader.forceFlush();
    const all = (exporter.getMetrics().at(-1)?.scopeMetrics ?? []).flatMap((s) => s.metrics);
    const m = all.find((x) => x.descriptor.name === name);
    return (m?.dataPoints ?? []) as { value: unknown; attributes: Record<string, unknown> }[];
  };
  return { provider, meter: provider.getMeter('t'), points, exporter };
}

test('a try that ends after its member left writes no series for it (Prometheus and OpenTelemetry)', async (t) => {
  const registry = new Registry();
  const b = new Balancer({ endpoints: ['x:1', 'y:2'] });
  const otel = otelHarness();
  const c = collectMetrics({ balancer: b, registry });
  const o = collectOtelMetrics({ balancer: b, meter: otel.meter });
  try {
    const picks = [b.pick(), b.pick()];
    b.remove('x:1');
    for (const p of picks) if (p.type === 'pick') p.handle.done({ ok: true, rttMs: 3 });
    const text = await registry.metrics();
    t.notRegex(text, /member="x:1"/, 'no tries_total nor try_duration_seconds series re-created for x:1');
    t.regex(text, /switchyard_tries_total\{member="y:2",outcome="success"\} 1/);
    const tries = await otel.points('switchyard.tries');
    // per-member series start at their first count in OpenTelemetry (it cannot drop a removed member's)
    t.deepEqual(
      tries.map((p) => p.attributes['switchyard.member']),
      ['y:2'],
      'OpenTelemetry: no point for the removed member',
    );
    t.is((await otel.points('switchyard.try.duration')).length, 1);
    // back again: its tries count from then on
    b.add('x:1');
    const p = b.pick();
    const q = b.pick();
    for (const h of [p, q]) if (h.type === 'pick') h.handle.done({ ok: true, rttMs: 1 });
    t.regex(await registry.metrics(), /switchyard_tries_total\{member="x:1",outcome="success"\} 1/);
  } finally {
    c.close();
    o.close();
    b.close();
    await otel.provider.shutdown();
  }
});

test('per-member series follow the Balancer’s members, even for events caused by an earlier membership listener', async (t) => {
  const registry = new Registry();
  const b = new Balancer({ endpoints: ['x:1'] });
  // a listener registered before the collector's (as createFetch's health wiring is) marks new members
  // unavailable: the collector has not seen the membership event yet, the Balancer has the member already
  b.on('membership', (e) => {
    for (const id of e.added) b.setAvailable(id, false, 'warming up');
  });
  const c = collectMetrics({ balancer: b, registry });
  b.add('z:3');
  const json = (await registry.getMetricsAsJSON()) as Json;
  t.is(sum(json, 'switchyard_availability_changes_total', { member: 'z:3', to: 'unavailable' }), 1);
  c.close();
  b.close();
});

test('a Balancer-like source without `members`: the members of stats() and its membership events', async (t) => {
  const registry = new Registry();
  const { fake, emit, state } = fakeBalancer(['x:1', 'y:2']);
  const c = collectMetrics({ balancer: fake as never, registry });
  emit('outcome', { id: 'x:1', ok: true, rttMs: 1, status: 200, at: 0 });
  state.ids = ['y:2'];
  emit('membership', { added: [], removed: ['x:1'], updated: [] });
  emit('outcome', { id: 'x:1', ok: true, rttMs: 1, status: 200, at: 0 });
  emit('outcome', { id: 'y:2', ok: true, rttMs: 1, status: 200, at: 0 });
  const text = await registry.metrics();
  t.notRegex(text, /member="x:1"/);
  t.regex(text, /switchyard_tries_total\{member="y:2",outcome="success"\} 1/);
  c.close();
});

test('two collectors alike on one registry are refused: same constant labels, or the same source', async (t) => {
  const registry = new Registry();
  const a = new Balancer({ endpoints: ['x:1'] });
  const b = new Balancer({ endpoints: ['x:1', 'z:3'] });
  const ca = collectMetrics({ balancer: a, registry });
  t.throws(() => collectMetrics({ balancer: b, registry }), {
    instanceOf: RangeError,
    message: /^labels must tell this collector apart from the others on this registry .*got \{\}$/,
  });
  ca.close();
  const c1 = collectMetrics({ balancer: a, registry, labels: { service: 'a', region: 'eu' } });
  // the same labels given in another order are the same series
  t.throws(() => collectMetrics({ balancer: b, registry, labels: { region: 'eu', service: 'a' } }), {
    instanceOf: RangeError,
    message: /^labels must tell .*got \{region="eu",service="a"\}$/,
  });
  const c2 = collectMetrics({ balancer: b, registry, labels: { region: 'eu', service: 'b' } });
  // the same balancer under other labels would count every try twice
  t.throws(() => collectMetrics({ balancer: a, registry, labels: { service: 'a2', region: 'eu' } }), {
    instanceOf: RangeError,
    message: /^balancer must not be collected twice on one registry/,
  });
  for (let i = 0; i < 3; i++) {
    const p = a.pick();
    if (p.type === 'pick') p.handle.done({ ok: true, rttMs: 1 });
  }
  let json = (await registry.getMetricsAsJSON()) as Json;
  t.is(sum(json, 'switchyard_tries_total', { member: 'x:1' }), 3, 'counted once');
  t.is(sum(json, 'switchyard_members'), 3, 'one gauge per collector: 1 + 2');
  // closing one leaves the other's series
  c1.close();
  json = (await registry.getMetricsAsJSON()) as Json;
  t.is(sum(json, 'switchyard_members', { service: 'b' }), 2);
  t.true(json.some((m) => m.name === 'switchyard_picker_rebuilds_total' && m.values.length === 1));
  // once closed, the source may be collected again
  collectMetrics({ balancer: a, registry, labels: { service: 'a', region: 'eu' } }).close();
  c2.close();
  t.is(registry.getMetricsAsArray().length, 0);
  a.close();
  b.close();
});

test('the same fetch collected twice on one registry is refused (every counter would double)', async (t) => {
  const registry = new Registry();
  const f = createFetch({ endpoints: endpoints(), policy: 'round_robin' });
  const c = collectMetrics({ fetch: f, registry });
  try {
    t.throws(() => collectMetrics({ fetch: f, registry, labels: { copy: '2' } }), {
      instanceOf: RangeError,
      message: /^fetch must not be collected twice on one registry/,
    });
    t.throws(() => collectMetrics({ balancer: f.balancer as never, registry, labels: { copy: '2' } }), {
      instanceOf: RangeError,
      message: /^balancer must not be collected twice/,
    });
    await (await f('/once')).text();
    const json = (await registry.getMetricsAsJSON()) as Json;
    t.is(sum(json, 'switchyard_requests_total'), 1);
    t.is(sum(json, 'switchyard_tries_total'), 1);
    // another registry is another view: allowed
    const other = new Registry();
    collectMetrics({ fetch: f, registry: other }).close();
  } finally {
    c.close();
    f.close();
  }
  t.is(registry.getMetricsAsArray().length, 0);
});

test('a source taken from the fetch is named fetch.<field> when it is collected already, on a registry or a meter', (t) => {
  const registry = new Registry();
  const meter = new MeterProvider().getMeter('t');
  const f = createFetch({ endpoints: endpoints(), policy: 'round_robin' });
  const balancer = f.balancer as never;
  const c = collectMetrics({ balancer, registry });
  const o = collectOtelMetrics({ balancer, meter });
  try {
    t.throws(() => collectMetrics({ fetch: f, registry, labels: { copy: '2' } }), {
      instanceOf: RangeError,
      message:
        /^fetch\.balancer must not be collected twice on one registry: another collector on this registry counts its events already \(close it first, or use another registry\)$/,
    });
    t.throws(() => collectOtelMetrics({ fetch: f, meter, attributes: { copy: '2' } }), {
      instanceOf: RangeError,
      message: /^fetch\.balancer must not be collected twice on one meter: .*use another meter\)$/,
    });
  } finally {
    c.close();
    o.close();
  }
  // released on close: the whole stack may be collected now
  collectMetrics({ fetch: f, registry }).close();
  collectOtelMetrics({ fetch: f, meter }).close();
  f.close();
  t.is(registry.getMetricsAsArray().length, 0);
});

test('buckets other than those of the histogram already on the registry are a RangeError naming buckets', (t) => {
  const registry = new Registry();
  const a = new Balancer({ endpoints: ['x:1'] });
  const b = new Balancer({ endpoints: ['y:1'] });
  const ca = collectMetrics({ balancer: a, registry, labels: { s: 'a' }, buckets: [0.1, 1] });
  t.throws(() => collectMetrics({ balancer: b, registry, labels: { s: 'b' }, buckets: [5, 50, 500] }), {
    instanceOf: RangeError,
    message:
      /^buckets must be those of switchyard_try_duration_seconds already on this registry \(\[0\.1, 1\]\), got \[5, 50, 500\]$/,
  });
  t.throws(() => collectMetrics({ balancer: b, registry, labels: { s: 'b' } }), {
    instanceOf: RangeError,
    message: /^buckets must be those of switchyard_try_duration_seconds/,
  });
  const cb = collectMetrics({ balancer: b, registry, labels: { s: 'b' }, buckets: [0.1, 1] });
  cb.close();
  ca.close();
  t.is(registry.getMetricsAsArray().length, 0);
  // the family gone, new buckets are free to choose
  collectMetrics({ balancer: b, registry, buckets: [5, 50] }).close();
  a.close();
  b.close();
});

test('buckets with holes are a TypeError naming the hole, in both collectors', (t) => {
  const balancer = new Balancer({ endpoints: ['x:1'] });
  const registry = new Registry();
  const meter = new MeterProvider().getMeter('t');
  const cases: [number[], RegExp][] = [
    // eslint-disable-next-line no-sparse-arrays
    [[, 1] as number[], /^buckets\[0\] must be a finite number > 0, increasing, got undefined$/],
    [new Array<number>(3), /^buckets\[0\] must be .*got undefined$/],
    // eslint-disable-next-line no-sparse-arrays
    [[1, 2, , 4] as number[], /^buckets\[2\] must be .*got undefined$/],
  ];
  for (const [buckets, message] of cases) {
    t.throws(() => collectMetrics({ balancer, registry, buckets }), { instanceOf: TypeError, message });
    t.throws(() => collectOtelMetrics({ balancer, meter, buckets }), { instanceOf: TypeError, message });
  }
  t.is(registry.getMetricsAsArray().length, 0);
  balancer.close();
});

test('OpenTelemetry: collectors sharing a meter are refused the same attributes, source or other buckets', async (t) => {
  const otel = otelHarness();
  const meter = otel.meter;
  const a = new Balancer({ endpoints: ['x:1'] });
  const b = new Balancer({ endpoints: ['x:1', 'z:3'] });
  const ca = collectOtelMetrics({ balancer: a, meter, attributes: { service: 'api', shard: 1 }, buckets: [0.1, 1] });
  try {
    t.throws(() => collectOtelMetrics({ balancer: b, meter, attributes: { shard: 1, service: 'api' } }), {
      instanceOf: RangeError,
      message: /^attributes must tell this collector apart from the others on this meter/,
    });
    t.throws(() => collectOtelMetrics({ balancer: a, meter, attributes: { service: 'other' } }), {
      instanceOf: RangeError,
      message: /^balancer must not be collected twice on one meter/,
    });
    t.throws(() => collectOtelMetrics({ balancer: b, meter, attributes: { service: 'b' }, buckets: [5, 50] }), {
      instanceOf: RangeError,
      message:
        /^buckets must be those switchyard\.try\.duration was created with on this meter \(\[0\.1, 1\]\), got \[5, 50\]$/,
    });
    // 1 and '1' are different attribute values
    const cb = collectOtelMetrics({
      balancer: b,
      meter,
      attributes: { service: 'api', shard: '1' },
      buckets: [0.1, 1],
    });
    for (const lb of [a, b]) {
      const p = lb.pick();
      if (p.type === 'pick') p.handle.done({ ok: true, rttMs: 300 });
    }
    const members = await otel.points('switchyard.members');
    t.deepEqual(members.map((p) => p.value).sort(), [1, 2], 'one gauge point per collector');
    const dur = await otel.points('switchyard.try.duration');
    t.deepEqual(
      dur.map((p) => (p.value as { buckets: { boundaries: number[] } }).buckets.boundaries),
      [
        [0.1, 1],
        [0.1, 1],
      ],
    );
    cb.close();
    ca.close();
    // closed: the attributes and the source are free again; the buckets stay those of the meter's histogram
    collectOtelMetrics({ balancer: a, meter, attributes: { service: 'api', shard: 1 }, buckets: [0.1, 1] }).close();
    t.throws(() => collectOtelMetrics({ balancer: a, meter, buckets: [2, 3] }), {
      instanceOf: RangeError,
      message: /^buckets must be those switchyard\.try\.duration was created with/,
    });
  } finally {
    ca.close();
    a.close();
    b.close();
    await otel.provider.shutdown();
  }
});

test('collecting a source again on the same meter and attributes continues its totals, counting nothing twice', async (t) => {
  const otel = otelHarness();
  const registry = new Registry();
  const balancer = new Balancer({ endpoints: ['x:1'] });
  const resolver = { on: () => () => {}, updates: 5, errors: 1 };
  const options = { balancer, resolver, attributes: { service: 'api' } };
  collectOtelMetrics({ ...options, meter: otel.meter }).close();
  collectMetrics({ balancer, resolver, registry }).close();
  resolver.updates = 7; // two updates while nothing collected
  const o = collectOtelMetrics({ ...options, meter: otel.meter });
  const c = collectMetrics({ balancer, resolver, registry });
  const value = async (name: string) => (await otel.points(name)).map((p) => p.value);
  t.deepEqual(await value('switchyard.resolver.updates'), [7]);
  t.deepEqual(await value('switchyard.resolver.errors'), [1]);
  const json = (await registry.getMetricsAsJSON()) as Json;
  t.is(sum(json, 'switchyard_resolver_updates_total'), 7);
  // under other attributes: a series of its own, from the source's count
  o.close();
  collectOtelMetrics({ ...options, attributes: { service: 'other' }, meter: otel.meter }).close();
  t.deepEqual((await value('switchyard.resolver.updates')).sort(), [7, 7]);
  c.close();
  balancer.close();
  await otel.provider.shutdown();
});

/**
 * `src` with its subscriptions counted (`live`, by event), whose `on` throws at subscription number `failAt`
 * (counting from 1; 0: never) and whose `stats` throws when `statsThrows`.
 */
function flaky(src: { on: unknown; stats?: unknown; members?: unknown }, failAt: number, statsThrows = false) {
  const on = src.on as (event: string, fn: unknown) => () => void;
  const live: string[] = [];
  let n = 0;
  const source = {
    get members() {
      return src.members;
    },
    stats() {
      if (statsThrows) throw new Error('stats failed');
      return (src.stats as () => unknown).call(src);
    },
    on(event: string, fn: unknown) {
      if (++n === failAt) throw new Error(`on('${event}') failed`);
      const off = on.call(src, event, fn);
      live.push(event);
      return () => {
        live.splice(live.indexOf(event), 1);
        off();
      };
    },
  };
  return { source: source as never, live };
}
const quietChecker = () => ({ on: () => () => {}, stats: () => ({ members: [] }) }) as never;

test('prom-client: a source that throws when subscribed to leaves nothing subscribed, claimed or registered', async (t) => {
  const registry = new Registry();
  const b = new Balancer({ endpoints: ['x:1'] });
  const other = new Balancer({ endpoints: ['y:2'] });
  const kept = collectMetrics({ balancer: other, registry, labels: { service: 'other' } });
  const families = registry.getMetricsAsArray().length;
  const balancer = flaky(b, 0);
  const labels = { service: 'api' };
  // the checker's second subscription throws, after the Balancer's four and the checker's first
  const checker = flaky(quietChecker(), 2);
  t.throws(() => collectMetrics({ balancer: balancer.source, checker: checker.source, registry, labels }), {
    message: "on('probe') failed",
  });
  t.deepEqual([balancer.live, checker.live], [[], []], 'every subscription made was undone');
  t.is(registry.getMetricsAsArray().length, families, 'its own families are gone, the shared ones kept');
  // a fetch whose stats() throws, read after every other source is subscribed to
  const fetch = flaky({ on: () => () => {}, stats: () => ({ retries: 0, hedges: 0 }) }, 0, true);
  t.throws(() => collectMetrics({ balancer: balancer.source, fetch: fetch.source, registry, labels }), {
    message: 'stats failed',
  });
  t.deepEqual([balancer.live, fetch.live], [[], []]);
  t.is(registry.getMetricsAsArray().length, families);
  // the sources and the labels are free: a collector of the same ones works and counts once
  const c = collectMetrics({ balancer: balancer.source, checker: quietChecker(), registry, labels });
  t.is(balancer.live.length, 4);
  const p = b.pick();
  if (p.type === 'pick') p.handle.done({ ok: true, rttMs: 1 });
  t.regex(await registry.metrics(), /switchyard_tries_total\{service="api",member="x:1",outcome="success"\} 1\n/);
  c.close();
  kept.close();
  t.is(registry.getMetricsAsArray().length, 0);
  b.close();
  other.close();
});

test('OpenTelemetry: a source that throws when subscribed to leaves nothing subscribed and its sources and attributes free', async (t) => {
  const otel = otelHarness();
  const b = new Balancer({ endpoints: ['x:1'] });
  const attributes = { service: 'api' };
  try {
    const balancer = flaky(b, 2); // the Balancer's second subscription throws
    t.throws(() => collectOtelMetrics({ balancer: balancer.source, meter: otel.meter, attributes }), {
      message: "on('picker') failed",
    });
    t.deepEqual(balancer.live, [], 'the first subscription was undone');
    const resolver = flaky({ on: () => () => {} }, 2);
    const fine = flaky(b, 0);
    t.throws(() => collectOtelMetrics({ balancer: fine.source, resolver: resolver.source, meter: otel.meter }), {
      message: "on('error') failed",
    });
    t.deepEqual([fine.live, resolver.live], [[], []]);
    // the same source and attributes again: accepted, and counted once
    const c = collectOtelMetrics({ balancer: fine.source, meter: otel.meter, attributes });
    t.is(fine.live.length, 4);
    const p = b.pick();
    if (p.type === 'pick') p.handle.done({ ok: true, rttMs: 1 });
    // the series of the collector that worked only (OpenTelemetry's per-member series start at their first count)
    t.deepEqual(
      (await otel.points('switchyard.tries')).map((x) => x.value),
      [1],
    );
    t.deepEqual(
      (await otel.points('switchyard.members')).map((x) => x.value),
      [1],
      'one collector observes the gauges',
    );
    c.close();
  } finally {
    b.close();
    await otel.provider.shutdown();
  }
});

test('registry.clear() under an open collector: a collector started after it is scraped, and both close cleanly', async (t) => {
  const registry = new Registry();
  const a = new Balancer({ endpoints: ['x:1'] });
  const b = new Balancer({ endpoints: ['z:3'] });
  const ca = collectMetrics({ balancer: a, registry, labels: { service: 'a' } });
  registry.clear();
  const cb = collectMetrics({ balancer: b, registry, labels: { service: 'b' } });
  const p = b.pickOrThrow();
  p.handle.done({ ok: true, rttMs: 1 });
  const json = (await registry.getMetricsAsJSON()) as Json;
  t.is(sum(json, 'switchyard_tries_total', { service: 'b', member: 'z:3' }), 1);
  t.is(sum(json, 'switchyard_members', { service: 'b' }), 1);
  ca.close();
  cb.close();
  t.is(registry.getMetricsAsArray().length, 0);
  a.close();
  b.close();
});

test('registry.clear() under an open collector: a collector refused for its labels registers nothing', (t) => {
  const registry = new Registry();
  const a = new Balancer({ endpoints: ['x:1'] });
  const b = new Balancer({ endpoints: ['z:3'] });
  const ca = collectMetrics({ balancer: a, registry, labels: { service: 'a' } });
  registry.clear();
  t.throws(() => collectMetrics({ balancer: b, registry, labels: { service: 'a' } }), {
    instanceOf: RangeError,
    message: /^labels must tell this collector apart/,
  });
  t.deepEqual(registry.getMetricsAsArray(), []);
  ca.close();
  a.close();
  b.close();
});

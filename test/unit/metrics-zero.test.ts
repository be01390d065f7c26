// Counter series start at 0 (observability/collect.ts `zeroSets`): every counter series whose label values are
// known in advance exists at 0 as soon as they are known (at collection start, and for each member added
// later), so Prometheus's increase() and rate() see its first increment. The series of a removed member go
// (Prometheus) or stay at their value (OpenTelemetry), and a member added again gets its zeros again.
import test from 'ava';
import { Registry, type MetricObjectWithValues, type MetricValue } from 'prom-client';
import {
  AggregationTemporality,
  InMemoryMetricExporter,
  MeterProvider,
  PeriodicExportingMetricReader,
} from '@opentelemetry/sdk-metrics';
import { Balancer } from '../../bindings/balancing/balancer.js';
import { createFetch } from '../../bindings/http/fetch.js';
import type { HealthChecker } from '../../bindings/health/checker.js';
import { step, type HealthState } from '../../bindings/health/state.js';
import { DEFAULT_BUCKETS_S, HEALTH_TRANSITIONS, INSTRUMENTS, zeroSets } from '../../bindings/observability/collect.js';
import { collectMetrics } from '../../bindings/observability/metrics.js';
import { collectOtelMetrics } from '../../bindings/observability/otel-metrics.js';
import { fakeBalancer } from '../helpers/fake-balancer.js';

type Json = MetricObjectWithValues<MetricValue<string>>[];
type Labels = Record<string, string>;

/** The series of `name` as sorted `labels=value` strings (labels in name order). */
function seriesOf(json: Json, name: string): string[] {
  const m = json.find((x) => x.name === name);
  if (m === undefined) throw new Error(`no metric ${name}`);
  return m.values.map((v) => `${show(v.labels as Labels)}=${v.value}`).sort();
}
const show = (labels: Labels): string =>
  Object.keys(labels)
    .sort()
    .map((k) => `${k}:${labels[k]}`)
    .join(',');
/** `sets` at `value`, with `extra` labels, as `seriesOf` lists them. */
const expected = (sets: Labels[], value = 0, extra: Labels = {}): string[] =>
  sets.map((l) => `${show({ ...extra, ...l })}=${value}`).sort();
const each = (label: string, values: string[]): Labels[] => values.map((v) => ({ [label]: v }));
const perMember = (ids: string[], sets: Labels[]): Labels[] =>
  ids.flatMap((member) => sets.map((l) => ({ member, ...l })));

const OUTCOMES = each('outcome', ['success', 'failure', 'error']);
// every transition the checker can make (collect.ts's list, checked against health/state.ts below)
const TRANSITIONS: Labels[] = HEALTH_TRANSITIONS.map(([from, to]) => ({ from, to }));
/** The per-member counters (Prometheus name without prefix, OpenTelemetry name) and their label sets. */
const MEMBER_COUNTERS: [string, string, Labels[]][] = [
  ['tries_total', 'switchyard.tries', OUTCOMES],
  ['availability_changes_total', 'switchyard.availability.changes', each('to', ['available', 'unavailable'])],
  ['health_transitions_total', 'switchyard.health.transitions', TRANSITIONS],
  ['health_probes_total', 'switchyard.health.probes', each('outcome', ['success', 'failure'])],
  ['outlier_ejections_total', 'switchyard.outlier.ejections', each('kind', ['consecutive-5xx', 'success-rate'])],
];
/** The other counters of a fetch (no resolver) and their label sets. */
const OTHER_COUNTERS: [string, string, Labels[]][] = [
  ['requests_total', 'switchyard.requests', OUTCOMES],
  ['retries_total', 'switchyard.retries', [{}]],
  ['hedges_total', 'switchyard.hedges', [{}]],
  ['retries_throttled_total', 'switchyard.retries.throttled', [{}]],
  ['picker_rebuilds_total', 'switchyard.picker.rebuilds', [{}]],
  ['membership_changes_total', 'switchyard.membership.changes', each('change', ['added', 'removed', 'updated'])],
];

/**
 * A fetch over members a, b, c with health checks and outlier detection; its checker is stopped (nothing
 * answers on those ports: no probe result may come between a change and the collection that follows it).
 */
function stack() {
  const f = createFetch({
    endpoints: ['a', 'b', 'c'].map((id, i) => ({ id, host: '127.0.0.1', port: i + 1 })),
    policy: 'round_robin',
    healthCheck: { path: '/healthz', intervalMs: 60_000, timeoutMs: 1000, startHealthy: true },
    outlierDetection: { consecutive5xx: 2 },
  });
  (f as unknown as { checker: HealthChecker }).checker.stop();
  return f;
}

test('prom-client: right after wiring a fetch, every counter series known in advance is at 0', async (t) => {
  const registry = new Registry();
  const f = stack();
  const c = collectMetrics({ fetch: f, registry, labels: { service: 'api' } });
  try {
    const json = (await registry.getMetricsAsJSON()) as Json;
    const extra = { service: 'api' };
    for (const [name, , sets] of MEMBER_COUNTERS)
      t.deepEqual(seriesOf(json, `switchyard_${name}`), expected(perMember(['a', 'b', 'c'], sets), 0, extra), name);
    for (const [name, , sets] of OTHER_COUNTERS)
      t.deepEqual(seriesOf(json, `switchyard_${name}`), expected(sets, 0, extra), name);
    // per-member histograms too: every bucket, the sum and the count at 0, so rate() sees the first observations
    for (const h of ['switchyard_try_duration_seconds', 'switchyard_health_probe_duration_seconds']) {
      const all = seriesOf(json, h);
      t.is(all.length, 3 * (DEFAULT_BUCKETS_S.length + 3), `${h}: buckets, +Inf, sum and count per member`);
      t.true(
        all.every((x) => x.endsWith('=0')),
        h,
      );
    }
    t.regex(await registry.metrics(), /try_duration_seconds_bucket\{le="0\.001",service="api",member="a"\} 0\n/);
    // the first increment shows as 0 → 1 (the others stay at 0)
    const b = f.balancer as unknown as Balancer;
    b.pickOrThrow().handle.done({ ok: false, status: 503, rttMs: 1 });
    const after = seriesOf((await registry.getMetricsAsJSON()) as Json, 'switchyard_tries_total');
    t.is(after.filter((s) => s.endsWith('=1')).length, 1);
    t.is(after.length, 9);
    // the observation lands in the zeroed series, not beside them
    const durations = seriesOf((await registry.getMetricsAsJSON()) as Json, 'switchyard_try_duration_seconds');
    t.is(durations.length, 3 * (DEFAULT_BUCKETS_S.length + 3));
    t.is(durations.filter((x) => /le:\+Inf/.test(x) && x.endsWith('=1')).length, 1);
  } finally {
    c.close();
    f.close();
  }
  t.deepEqual(registry.getMetricsAsArray(), [], 'close() removes the zero series too');
});

test('prom-client: an added member gets its zeros, a removed one loses its series, and one added again starts at 0', async (t) => {
  const registry = new Registry();
  const f = stack();
  const b = f.balancer as unknown as Balancer;
  const c = collectMetrics({ fetch: f, registry });
  const scrape = async () => (await registry.getMetricsAsJSON()) as Json;
  const members = (json: Json, name: string) =>
    [...new Set(seriesOf(json, name).map((s) => /member:([^,=]*)/.exec(s)?.[1]))].sort();
  try {
    // a try on each member first: removing one must drop its counted series as well
    for (let i = 0; i < 3; i++) b.pickOrThrow().handle.done({ ok: true, rttMs: 1 });
    t.regex(await registry.metrics(), /switchyard_tries_total\{member="a",outcome="success"\} 1\n/);
    b.add({ id: 'd', host: '127.0.0.1', port: 4 });
    let json = await scrape();
    for (const [name, , sets] of MEMBER_COUNTERS) {
      const all = seriesOf(json, `switchyard_${name}`);
      t.deepEqual(
        all.filter((s) => s.includes('member:d')),
        expected(perMember(['d'], sets)),
        `${name}: d's zeros`,
      );
      t.deepEqual(members(json, `switchyard_${name}`), ['a', 'b', 'c', 'd']);
    }
    b.remove('a');
    json = await scrape();
    for (const [name] of MEMBER_COUNTERS)
      t.deepEqual(members(json, `switchyard_${name}`), ['b', 'c', 'd'], `${name}: a's series are gone`);
    t.notRegex(await registry.metrics(), /member="a"/, 'no series of a in any family (gauges included)');
    // a reset that replaces b by e in one membership event
    b.reset([
      { id: 'c', host: '127.0.0.1', port: 3 },
      { id: 'd', host: '127.0.0.1', port: 4 },
      { id: 'e', host: '127.0.0.1', port: 5 },
    ]);
    json = await scrape();
    for (const [name, , sets] of MEMBER_COUNTERS) {
      t.deepEqual(members(json, `switchyard_${name}`), ['c', 'd', 'e'], name);
      t.deepEqual(
        seriesOf(json, `switchyard_${name}`).filter((s) => s.includes('member:e')),
        expected(perMember(['e'], sets)),
      );
    }
    // a back again: at 0, not at its count before it left
    b.add({ id: 'a', host: '127.0.0.1', port: 1 });
    json = await scrape();
    for (const [name, , sets] of MEMBER_COUNTERS)
      t.deepEqual(
        seriesOf(json, `switchyard_${name}`).filter((s) => s.includes('member:a')),
        expected(perMember(['a'], sets)),
        `${name}: a's zeros again`,
      );
    t.deepEqual(seriesOf(json, 'switchyard_membership_changes_total'), [
      'change:added=3',
      'change:removed=2',
      'change:updated=0',
    ]);
  } finally {
    c.close();
    f.close();
  }
});

test('prom-client: closing the fetch (its Balancer) removes every per-member series at the next collection', async (t) => {
  const registry = new Registry();
  const f = stack();
  const b = f.balancer as unknown as Balancer;
  const c = collectMetrics({ fetch: f, registry });
  try {
    for (let i = 0; i < 3; i++) b.pickOrThrow().handle.done({ ok: i > 0, rttMs: 1 });
    const before = await registry.metrics();
    t.regex(before, /switchyard_tries_total\{member="[abc]",outcome="error"\} 1\n/); // round robin starts anywhere
    t.regex(before, /switchyard_health_state\{member="a",state="healthy"\} 1\n/);
    t.regex(before, /switchyard_outlier_ejected\{member="a"\} 0\n/);
    f.close(); // no 'membership' event: the members are gone with the Balancer
    const after = await registry.metrics();
    t.notRegex(after, /member="/, 'no series of a former member in any family (counters, histograms, gauges)');
    t.regex(after, /switchyard_members 0\n/);
    t.regex(after, /switchyard_requests_total\{outcome="success"\} 0\n/, 'series without a member stay');
  } finally {
    c.close();
  }
});

test('prom-client: a Balancer-like source without `members`: zeros for the members of stats() and those added', async (t) => {
  const registry = new Registry();
  const { fake, emit, state } = fakeBalancer(['x:1', 'y:2']);
  const c = collectMetrics({ balancer: fake as never, registry });
  const tries = async () => seriesOf((await registry.getMetricsAsJSON()) as Json, 'switchyard_tries_total');
  t.deepEqual(await tries(), expected(perMember(['x:1', 'y:2'], OUTCOMES)));
  state.ids = ['y:2', 'z:3'];
  emit('membership', { added: ['z:3'], removed: ['x:1'], updated: [] });
  t.deepEqual(await tries(), expected(perMember(['y:2', 'z:3'], OUTCOMES)));
  c.close();
});

/** A fresh MeterProvider whose cumulative points of an instrument are read on demand. */
function otelHarness() {
  const exporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
  const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 3_600_000 });
  const provider = new MeterProvider({ readers: [reader] });
  /** The points of each instrument as sorted `attributes=value` strings (switchyard.* attributes unprefixed). */
  const points = async (): Promise<Map<string, string[]>> => {
    await reader.forceFlush();
    const out = new Map<string, string[]>();
    for (const m of (exporter.getMetrics().at(-1)?.scopeMetrics ?? []).flatMap((s) => s.metrics)) {
      const list = (m.dataPoints as { value: unknown; attributes: Record<string, unknown> }[]).map((p) => {
        const labels: Labels = {};
        for (const [k, v] of Object.entries(p.attributes)) labels[k.replace(/^switchyard\./, '')] = String(v);
        return `${show(labels)}=${typeof p.value === 'number' ? p.value : 'histogram'}`;
      });
      out.set(m.descriptor.name, list.sort());
    }
    return out;
  };
  return { provider, meter: provider.getMeter('t'), points };
}

test('OpenTelemetry: zero points for the counters without a member; per-member ones start at their first count', async (t) => {
  // an OpenTelemetry SDK cannot drop a removed member's series: zeros for every member that ever came would
  // fill its cardinality limit under churn, so only the Prometheus collector (which drops them) makes them
  const otel = otelHarness();
  const f = stack();
  const b = f.balancer as unknown as Balancer;
  const c = collectOtelMetrics({ fetch: f, meter: otel.meter, attributes: { service: 'api' } });
  const extra = { service: 'api' };
  try {
    let points = await otel.points();
    for (const [, name] of MEMBER_COUNTERS) t.is(points.get(name), undefined, name);
    for (const [, name, sets] of OTHER_COUNTERS) t.deepEqual(points.get(name), expected(sets, 0, extra), name);
    t.is(points.get('switchyard.try.duration'), undefined, 'no histogram points before an observation');
    b.add({ id: 'd', host: '127.0.0.1', port: 4 });
    b.remove('a');
    points = await otel.points();
    for (const [, name] of MEMBER_COUNTERS) t.is(points.get(name), undefined, `${name} after a membership change`);
  } finally {
    c.close();
    f.close();
    await otel.provider.shutdown();
  }
});

test('the catalogue: every counter and histogram starts at 0 for its known label sets, gauges do not', (t) => {
  for (const [key, s] of Object.entries(INSTRUMENTS) as [
    keyof typeof INSTRUMENTS,
    (typeof INSTRUMENTS)[keyof typeof INSTRUMENTS],
  ][]) {
    const sets = zeroSets(key);
    if (s.kind === 'gauge') {
      t.deepEqual(sets, [], `${key}: no zeros for a gauge`);
      continue;
    }
    t.true(sets.length > 0, `${key}: a ${s.kind} whose label values are all known starts at 0`);
    const own = s.labels.filter((l) => l !== 'member').sort();
    for (const l of sets) t.deepEqual(Object.keys(l).sort(), own, `${key}: each zero set names its labels but member`);
  }
});

test('HEALTH_TRANSITIONS are exactly the transitions health/state.ts step() and drain() make', (t) => {
  const STATES: HealthState[] = ['pending', 'healthy', 'suspect', 'failed', 'draining'];
  const made = new Set<string>();
  for (const from of STATES) {
    if (from !== 'draining') made.add(`${from}>draining`); // drain()
    if (from === 'draining') continue; // never probed again
    for (const ok of [true, false])
      for (let run = 1; run <= 4; run++)
        for (let healthyThreshold = 1; healthyThreshold <= 3; healthyThreshold++)
          for (let unhealthyThreshold = 1; unhealthyThreshold <= 3; unhealthyThreshold++) {
            const s = step(from, ok, 'r', ok ? run : 0, ok ? 0 : run, { healthyThreshold, unhealthyThreshold });
            if (s.to !== from) made.add(`${from}>${s.to}`);
          }
  }
  t.deepEqual(HEALTH_TRANSITIONS.map(([from, to]) => `${from}>${to}`).sort(), [...made].sort());
  t.deepEqual(TRANSITIONS.map((l) => `${l.from}>${l.to}`).sort(), [...made].sort(), 'the test’s own list as well');
});

test('the refusal of other constant label names says whose label names conflict', (t) => {
  const registry = new Registry();
  const a = new Balancer({ endpoints: ['x:1'] });
  const b = new Balancer({ endpoints: ['y:1'] });
  let c = collectMetrics({ balancer: a, registry });
  t.throws(() => collectMetrics({ balancer: b, registry, labels: { service: 'b' } }), {
    instanceOf: RangeError,
    message:
      'labels must have the names of the constant labels of the collectors already on this registry (theirs: none; ' +
      "this one's: service): a metric family's label names are fixed (switchyard_tries_total has member, " +
      'outcome); give the same names with other values, or use another registry',
  });
  c.close();
  c = collectMetrics({ balancer: a, registry, labels: { service: 'a', region: 'eu' } });
  t.throws(() => collectMetrics({ balancer: b, registry }), {
    instanceOf: RangeError,
    message:
      /^labels must have the names of .* \(theirs: region, service; this one's: none\): .*switchyard_tries_total has region, service, member, outcome\)/,
  });
  t.throws(() => collectMetrics({ balancer: b, registry, labels: { service: 'b' } }), {
    instanceOf: RangeError,
    message: /\(theirs: region, service; this one's: service\)/,
  });
  c.close();
  t.deepEqual(registry.getMetricsAsArray(), [], 'nothing left registered');
  a.close();
  b.close();
});

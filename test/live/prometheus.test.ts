// A real Prometheus (Debian `prometheus`) scrapes a test app's /metrics every second while the app sends
// traffic through createFetch (health checks, outlier detection, retries) to three loopback backends, one of
// which is killed. Prometheus's HTTP API (/api/v1/query) then shows the ejection, the failed tries and the
// retries, equal to the wrapper's own counts, and the queries of docs/observability.md ("Useful queries") give
// the true counts of events that happened after Prometheus's first scrape: every counter series whose labels
// are known in advance is scraped at 0 before its first event, so increase() and rate() see that event too.
import { createServer, type Server as HttpServer } from 'node:http';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { live } from '../helpers/live.js';
import { freePort, removeDir, startServer, tempDir, waitForPort, type Server } from '../helpers/process.js';
import { startBackend, type Backend } from '../helpers/backends.js';
import type { Balancer } from '../../bindings/balancing/balancer.js';
import { createFetch } from '../../bindings/http/fetch.js';
import type { OutlierDetector } from '../../bindings/health/outlier.js';
import type { HealthChecker } from '../../bindings/health/checker.js';
import { collectMetrics, metricsHandler } from '../../bindings/observability/metrics.js';

const test = live(['prometheus'], import.meta.url);

let prom: Server | undefined;
let promPort = 0;
let app: HttpServer | undefined;
let dir = '';
let backends: Backend[] = [];

test.after.always(async () => {
  await prom?.stop();
  if (app !== undefined) await new Promise<void>((r) => app!.close(() => r()));
  await Promise.all(backends.map((b) => b.stop().catch(() => {})));
  if (dir) removeDir(dir);
});

/** One instant query (at `time`, Unix seconds, default now); the labels and value of each result. */
async function series(q: string, time?: number): Promise<{ metric: Record<string, string>; value: number }[]> {
  const at = time === undefined ? '' : `&time=${time}`;
  const res = await fetch(`http://127.0.0.1:${promPort}/api/v1/query?query=${encodeURIComponent(q)}${at}`);
  const body = (await res.json()) as {
    status: string;
    data: { result: { metric: Record<string, string>; value: [number, string] }[] };
  };
  if (body.status !== 'success') throw new Error(`query ${q}: ${JSON.stringify(body)}`);
  return body.data.result.map((r) => ({ metric: r.metric, value: Number(r.value[1]) }));
}
/** The values of the result vector. */
const query = async (q: string, time?: number): Promise<number[]> => (await series(q, time)).map((r) => r.value);
const scalar = async (q: string, time?: number) => (await query(q, time))[0] ?? NaN;
/** The value of the result whose labels include `labels` (NaN: none, as Prometheus's "no data"). */
const valueOf = async (q: string, labels: Record<string, string>, time?: number) =>
  (await series(q, time)).find((r) => Object.entries(labels).every(([k, v]) => r.metric[k] === v))?.value ?? NaN;

test('Prometheus scrapes the ejection, the failed tries and the retries, equal to the wrapper’s counts', async (t) => {
  backends = await Promise.all(['a', 'b', 'c'].map((n) => startBackend(n)));
  const f = createFetch({
    endpoints: backends.map((b) => ({ id: b.name, host: '127.0.0.1', port: b.port })),
    policy: 'round_robin',
    healthCheck: { path: '/healthz', intervalMs: 250, timeoutMs: 200, startHealthy: true },
    outlierDetection: { consecutive5xx: 3, maxEjectionPercent: 34, baseEjectionTimeMs: 60_000 },
    retry: { maxAttempts: 3, initialBackoffMs: 1, maxBackoffMs: 5 },
    retryThrottling: { maxTokens: 1000, tokenRatio: 1 },
    perTryTimeoutMs: 1000,
  });
  const checker = (f as unknown as { checker: HealthChecker }).checker;
  const detector = (f as unknown as { detector: OutlierDetector }).detector;
  const registry = new Registry();
  const collector = collectMetrics({ fetch: f, registry });
  app = createServer(metricsHandler(registry));
  const appPort = await freePort();
  await new Promise<void>((r) => app!.listen(appPort, '127.0.0.1', () => r()));

  dir = tempDir('prometheus');
  promPort = await freePort();
  writeFileSync(
    join(dir, 'prometheus.yml'),
    [
      'global:',
      '  scrape_interval: 1s',
      '  evaluation_interval: 1s',
      'scrape_configs:',
      '  - job_name: switchyard',
      '    metrics_path: /metrics',
      '    static_configs:',
      `      - targets: ['127.0.0.1:${appPort}']`,
      '',
    ].join('\n'),
  );
  prom = startServer('/usr/bin/prometheus', [
    `--config.file=${join(dir, 'prometheus.yml')}`,
    `--storage.tsdb.path=${join(dir, 'data')}`,
    `--web.listen-address=127.0.0.1:${promPort}`,
  ]);
  try {
    await waitForPort(promPort, 20_000);
    for (let i = 0; ; i++) {
      const r = await fetch(`http://127.0.0.1:${promPort}/-/ready`).catch(() => undefined);
      if (r?.ok) break;
      if (i > 200) throw new Error('Prometheus not ready within 20 s');
      await new Promise((res) => setTimeout(res, 100));
    }
    // Prometheus applies discovered targets after a few seconds: traffic starts once it has scraped the app
    const upBy = Date.now() + 20_000;
    while ((await query('up{job="switchyard"} == 1')).length === 0) {
      if (Date.now() > upBy) throw new Error('Prometheus did not scrape the app within 20 s');
      await new Promise((r) => setTimeout(r, 200));
    }

    // traffic for ~4 s; backend c dies after ~1.5 s
    let failed = 0;
    let stop = false;
    const worker = async () => {
      while (!stop) {
        try {
          const res = await f('/work');
          await res.text();
          if (res.status !== 200) failed++;
        } catch {
          failed++;
        }
        await new Promise((r) => setTimeout(r, 5));
      }
    };
    const workers = Array.from({ length: 4 }, worker);
    await new Promise((r) => setTimeout(r, 1500));
    await backends[2]!.stop();
    await new Promise((r) => setTimeout(r, 2500));
    stop = true;
    await Promise.all(workers);
    checker.stop(); // freeze: nothing changes the counts from here on

    const fs = f.stats();
    const bs = (f.balancer as unknown as Balancer).stats();
    const od = detector.stats();
    const c = bs.members.find((m) => m.id === 'c')!;
    t.is(failed, 0, 'retries hid the dead backend from callers');
    t.true(fs.retries > 0, 'the dead backend caused retries');
    t.true(c.failures > 0, 'failed tries on c');
    t.true(od.members.find((m) => m.id === 'c')!.timesEjected >= 1, 'c was ejected');

    // wait for a scrape that saw the final counts, then compare what Prometheus stored
    let lastRequests = NaN;
    const deadline = Date.now() + 15_000;
    while (Date.now() < deadline) {
      lastRequests = await scalar('sum(switchyard_requests_total{job="switchyard"})');
      if (lastRequests === fs.requests) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    t.is(lastRequests, fs.requests, 'requests');
    t.is(await scalar('sum(switchyard_tries_total)'), fs.tries, 'tries');
    t.is(await scalar('sum(switchyard_retries_total)'), fs.retries, 'retries');
    t.is(await scalar('sum(switchyard_tries_total{member="c",outcome!="success"})'), c.failures, 'failed tries on c');
    t.is(
      await scalar('sum(switchyard_tries_total{outcome!="success"})'),
      bs.members.reduce((s, m) => s + m.failures, 0),
      'failed tries on all members',
    );
    t.is(
      await scalar('sum(switchyard_outlier_ejections_total{member="c",kind="consecutive-5xx"})'),
      od.members.find((m) => m.id === 'c')!.timesEjected,
      'ejections of c',
    );
    t.is(await scalar('sum(switchyard_outlier_ejections_total)'), od.ejectionsTotal, 'all ejections');
    t.is(await scalar('max(switchyard_outlier_ejected{member="c"})'), 1, 'c is out now');
    t.is(await scalar('max(switchyard_member_available{member="c"})'), 0);
    t.is(await scalar('sum(switchyard_requests_total{outcome="success"})'), fs.requests, 'every request succeeded');
    // the series over the run: several scrapes, the retries growing while c was dying
    t.true((await scalar('count_over_time(switchyard_retries_total[1m])')) >= 3, 'scraped during the run');
    t.true((await scalar('sum(increase(switchyard_retries_total[1m]))')) > 0);

    // The documented queries, as docs/observability.md writes them, evaluated at the last scrape (at a later
    // time increase() extrapolates to the end of its window, a fraction of a scrape interval). Traffic started
    // after the first scrape, and each series was scraped at 0 before its first event, so increase() sees every
    // event: starting from 0, it does not extrapolate backwards either, and the results are the true counts.
    const last = await scalar('max(timestamp(switchyard_requests_total))');
    const ejections = await valueOf(
      'sum by (member, kind) (increase(switchyard_outlier_ejections_total[1h]))',
      { member: 'c', kind: 'consecutive-5xx' },
      last,
    );
    const timesEjected = od.members.find((m) => m.id === 'c')!.timesEjected;
    const failedRate = await valueOf(
      'sum by (member) (rate(switchyard_tries_total{outcome!="success"}[5m]))',
      { member: 'c' },
      last,
    );
    const transitions = await valueOf(
      'sum by (member) (increase(switchyard_health_transitions_total[15m]))',
      { member: 'c' },
      last,
    );
    const cTransitions = checker.stats().members.find((m) => m.id === 'c')!.transitions;
    const errorRatio = await query(
      'sum(rate(switchyard_requests_total{outcome!="success"}[5m])) / sum(rate(switchyard_requests_total[5m]))',
      last,
    );
    t.log(
      `ejections of c: ${ejections} (true ${timesEjected}); failed tries on c over 5m: ${failedRate * 300} ` +
        `(true ${c.failures}); health transitions of c: ${transitions} (true ${cTransitions}); ` +
        `request error ratio: ${JSON.stringify(errorRatio)} (true 0)`,
    );
    t.is(ejections, timesEjected, 'documented "ejections" query');
    t.true(Math.abs(failedRate * 300 - c.failures) < 1e-6, `documented "failed tries by member" query: ${failedRate}`);
    t.true(cTransitions >= 1, 'c went unhealthy');
    t.is(transitions, cTransitions, 'the inner expression of the documented "health flapping" alert');
    t.deepEqual(errorRatio, [0], 'documented "request error ratio" query: 0, not "no data"');
  } catch (e) {
    t.log(prom?.output().slice(-3000));
    throw e;
  } finally {
    collector.close();
    f.close();
  }
});

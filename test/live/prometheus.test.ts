// A real Prometheus (Debian `prometheus`) scrapes a test app's /metrics every second while the app sends
// traffic through createFetch (health checks, outlier detection, retries) to three loopback backends, one of
// which is killed. Prometheus's HTTP API (/api/v1/query) then shows the ejection, the failed tries and the
// retries, equal to the wrapper's own counts.
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

/** One instant query; the values of the result vector. */
async function query(q: string): Promise<number[]> {
  const res = await fetch(`http://127.0.0.1:${promPort}/api/v1/query?query=${encodeURIComponent(q)}`);
  const body = (await res.json()) as { status: string; data: { result: { value: [number, string] }[] } };
  if (body.status !== 'success') throw new Error(`query ${q}: ${JSON.stringify(body)}`);
  return body.data.result.map((r) => Number(r.value[1]));
}
const scalar = async (q: string) => (await query(q))[0] ?? NaN;

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
  } catch (e) {
    t.log(prom?.output().slice(-3000));
    throw e;
  } finally {
    collector.close();
    f.close();
  }
});

// createFetch over the real Balancer, health checking and outlier detection: 10 000 GETs to three loopback
// backends while one is killed and later restarted, with zero failed requests; every retry lands on another
// member; the ejection and the readmission are visible in events.
import test from 'ava';
import { Balancer } from '../../bindings/balancing/balancer.js';
import { createFetch, type FetchEvent } from '../../bindings/http/fetch.js';
import { HealthChecker } from '../../bindings/health/checker.js';
import { httpProbe } from '../../bindings/health/http-probe.js';
import { connectHealth } from '../../bindings/health/connect.js';
import { OutlierDetector } from '../../bindings/health/outlier.js';
import { startBackend, type Backend } from '../helpers/backends.js';

let backends: Backend[] = [];

test.before(async () => {
  backends = await Promise.all(['a', 'b', 'c'].map((n) => startBackend(n)));
});

test.after.always(async () => {
  await Promise.all(backends.map((b) => b.stop().catch(() => {})));
});

test('10 000 GETs, one backend killed and restarted: 0 failures, retries on other members, ejection in events', async (t) => {
  const balancer = new Balancer({
    policy: 'least_request',
    endpoints: backends.map((b) => ({ id: b.name, host: '127.0.0.1', port: b.port })),
  });
  const checker = new HealthChecker({
    probe: httpProbe({ path: '/healthz' }),
    intervalMs: 200,
    timeoutMs: 100,
    startHealthy: true,
  });
  const detector = new OutlierDetector({
    consecutive5xx: 3,
    intervalMs: 200,
    baseEjectionTimeMs: 500,
    maxEjectionPercent: 34,
  });
  const wiring = connectHealth(balancer as unknown as Parameters<typeof connectHealth>[0], { checker, detector });
  const ejections: string[] = [];
  detector.on('ejection', (e) => ejections.push(`${e.id}:${e.ejected ? 'ejected' : 'returned'}`));
  const availability: string[] = [];
  balancer.on('availability', (e: { id: string; available: boolean }) =>
    availability.push(`${e.id}:${e.available ? 'in' : 'out'}`),
  );
  const events: FetchEvent[] = [];
  const f = createFetch({
    balancer,
    perTryTimeoutMs: 1000,
    retry: { maxAttempts: 3, initialBackoffMs: 1, maxBackoffMs: 5 },
    retryThrottling: { maxTokens: 1000, tokenRatio: 1 },
    onEvent: (e) => events.push(e),
  });
  const victim = backends[1]!;
  const TOTAL = 10_000;
  let sent = 0;
  let failed = 0;
  const served = new Map<string, number>();
  const worker = async () => {
    while (sent < TOTAL) {
      sent++;
      try {
        const res = await f(`/item/${sent}`);
        const who = await res.text();
        if (res.status !== 200) failed++;
        else served.set(who, (served.get(who) ?? 0) + 1);
      } catch {
        failed++;
      }
    }
  };
  const chaos = async () => {
    while (sent < TOTAL * 0.3) await new Promise((r) => setTimeout(r, 5));
    await victim.stop();
    while (sent < TOTAL * 0.6) await new Promise((r) => setTimeout(r, 5));
    await victim.start(); // same port
    while (sent < TOTAL * 0.95 && !availability.includes(`${victim.name}:in`))
      await new Promise((r) => setTimeout(r, 5));
  };
  try {
    await Promise.all([chaos(), ...Array.from({ length: 16 }, worker)]);
  } finally {
    wiring.close();
  }
  t.is(failed, 0);
  t.is(
    [...served.values()].reduce((a, b) => a + b, 0),
    TOTAL,
  );
  // every retry went to a member other than the one that just failed
  const triesByRequest = new Map<number, string[]>();
  for (const e of events)
    if (e.type === 'try') triesByRequest.set(e.request, [...(triesByRequest.get(e.request) ?? []), e.member!]);
  const retried = [...triesByRequest.values()].filter((m) => m.length > 1);
  t.true(retried.length > 0, 'the kill caused retries');
  for (const members of retried)
    t.is(new Set(members).size, members.length, `each try on another member: ${members.join(',')}`);
  const retryEvents = events.filter((e) => e.type === 'retry');
  t.true(
    retryEvents.every((e) => e.member === victim.name),
    'only the killed member caused retries',
  );
  t.is(f.stats().failures, 0);
  // ejection and readmission are visible
  t.true(
    ejections.includes(`${victim.name}:ejected`) || availability.includes(`${victim.name}:out`),
    JSON.stringify({ ejections, availability }),
  );
  t.true(availability.includes(`${victim.name}:out`), JSON.stringify(availability));
  t.true(
    availability.lastIndexOf(`${victim.name}:in`) > availability.indexOf(`${victim.name}:out`),
    JSON.stringify(availability),
  );
  t.true((served.get(victim.name) ?? 0) > 0);
});

test('createFetch builds its own Balancer from a resolver target or endpoints, with a policy', async (t) => {
  const target = `static:///${backends.map((b) => `127.0.0.1:${b.port}`).join(',')}`;
  const f = createFetch({
    target,
    policy: 'peak_ewma',
    healthCheck: { path: '/healthz', intervalMs: 1000, timeoutMs: 200, startHealthy: true },
  });
  try {
    // the resolver reports asynchronously: wait for the first list
    for (let i = 0; i < 100 && (f.balancer as Balancer).members.length === 0; i++)
      await new Promise((r) => setTimeout(r, 10));
    const seen = new Set<string>();
    for (let i = 0; i < 60; i++) seen.add(await (await f('/x')).text());
    t.deepEqual([...seen].sort(), ['a', 'b', 'c']);
    t.is((f.balancer as Balancer).stats().policy, 'peak_ewma');
  } finally {
    f.close();
  }
  const g = createFetch({
    endpoints: [{ id: 'only', host: '127.0.0.1', port: backends[0]!.port }],
    outlierDetection: false,
  });
  t.is(await (await g('/y')).text(), 'a');
  g.close();
});

// No request fails because discovery has not answered yet (issue 12): 64 callers start in the same tick as
// `createFetch`, whose Balancer is still empty, with static, DNS (a real dnsmasq) and etcd (a real etcd)
// targets against loopback HTTP backends: every request succeeds on its first try (retries off). When
// discovery fails instead (etcd on a closed port, NXDOMAIN), all 64 fail at once with the resolver's typed
// error naming the target; when it hangs (a server that accepts and never answers), they fail with
// UnavailableError at `readyTimeoutMs`: never a hang.
import { createServer, type Server as NetServer, type Socket } from 'node:net';
import { createFetch } from '../../bindings/http/fetch.js';
import { ResolverError } from '../../bindings/discovery/errors.js';
import { UnavailableError } from '../../bindings/balancing/errors.js';
import { startBackend, type Backend } from '../helpers/backends.js';
import { startDnsmasq, type Dnsmasq } from '../helpers/dnsmasq.js';
import { etcdPut, startEtcdCluster, type EtcdCluster } from '../helpers/etcd.js';
import { freePort } from '../helpers/process.js';
import { live } from '../helpers/live.js';

const test = live(['dnsmasq', 'etcd'], import.meta.url);

const CALLERS = 64;
let backends: Backend[] = [];
let dns: Dnsmasq;
let etcd: EtcdCluster;

test.before(async () => {
  backends = await Promise.all(['b0', 'b1', 'b2'].map((n) => startBackend(n)));
  dns = await startDnsmasq({
    hosts: { h: ['127.0.0.1 api.svc.test', '127.0.0.1 lo.svc.test'] },
    srv: backends.map((b) => `_http._tcp.api.svc.test,lo.svc.test,${b.port},0,1`),
  });
  etcd = await startEtcdCluster(1);
  for (const b of backends) await etcdPut(etcd.clientUrls, `first/api/127.0.0.1:${b.port}`, `127.0.0.1:${b.port}`);
});

test.after.always(async () => {
  await Promise.all(backends.map((b) => b.stop()));
  await dns?.stop();
  await etcd?.stop();
});

/** Starts CALLERS requests in the tick createFetch is called; returns their outcomes and what served them. */
async function firstRequests(target: string, readyTimeoutMs = 10_000) {
  const served = backends.map((b) => b.requests.length);
  const f = createFetch({ target, policy: 'round_robin', retry: false, readyTimeoutMs });
  const emptyAtStart = f.balancer.pick().type === 'none';
  const t0 = performance.now();
  const outcomes = await Promise.allSettled(
    Array.from({ length: CALLERS }, (_, i) =>
      f(`/first/${i}`).then(async (r) => ({ status: r.status, body: await r.text() })),
    ),
  );
  const elapsedMs = performance.now() - t0;
  f.close();
  const ok = outcomes.filter((o) => o.status === 'fulfilled').map((o) => o.value);
  const failed = outcomes.filter((o) => o.status === 'rejected').map((o) => o.reason as Error);
  const perBackend = backends.map((b, i) => b.requests.length - served[i]!);
  return { emptyAtStart, ok, failed, elapsedMs, perBackend, stats: f.stats() };
}

const names = new Set(['b0', 'b1', 'b2']);

test.serial('static:///: 64 callers in the same tick as createFetch, 0 failures', async (t) => {
  const target = `static:///${backends.map((b) => `127.0.0.1:${b.port}`).join(',')}`;
  const r = await firstRequests(target);
  t.true(r.emptyAtStart, 'the first list had not arrived when the callers started');
  t.deepEqual(r.failed, []);
  t.is(r.ok.length, CALLERS);
  t.true(r.ok.every((o) => o.status === 200 && names.has(o.body)));
  t.deepEqual(
    [...r.perBackend].sort((x, y) => x - y),
    [21, 21, 22],
    'round robin over the three from the first request (random start)',
  );
  t.is(r.stats.tries, CALLERS, 'each request on its first try');
});

test.serial('dns:/// (dnsmasq A record) and dns+srv:/// (three SRV targets): 0 failures', async (t) => {
  const a = await firstRequests(`dns://${dns.address}/api.svc.test:${backends[1]!.port}`);
  t.true(a.emptyAtStart);
  t.deepEqual(a.failed, []);
  t.true(a.ok.every((o) => o.status === 200 && o.body === 'b1'));
  t.deepEqual(a.perBackend, [0, CALLERS, 0]);
  const srv = await firstRequests(`dns+srv://${dns.address}/_http._tcp.api.svc.test`);
  t.true(srv.emptyAtStart);
  t.deepEqual(srv.failed, []);
  t.is(srv.ok.length, CALLERS);
  t.deepEqual(
    [...srv.perBackend].sort((x, y) => x - y),
    [21, 21, 22],
  );
});

test.serial('etcd:///: 0 failures', async (t) => {
  const hosts = etcd.clientUrls.map((u) => u.slice('http://'.length)).join(',');
  const r = await firstRequests(`etcd://${hosts}/first/api`);
  t.true(r.emptyAtStart);
  t.deepEqual(r.failed, []);
  t.is(r.ok.length, CALLERS);
  t.deepEqual(
    [...r.perBackend].sort((x, y) => x - y),
    [21, 21, 22],
  );
});

test.serial(
  'unreachable etcd (a closed port): all 64 fail at once with the ResolverError naming the target',
  async (t) => {
    const target = `etcd://127.0.0.1:${await freePort()}/first/api`;
    const r = await firstRequests(target, 10_000);
    t.is(r.ok.length, 0);
    t.is(r.failed.length, CALLERS);
    for (const e of r.failed) {
      t.true(e instanceof ResolverError, `${e.name}: ${e.message}`);
      t.is((e as ResolverError).target, target);
    }
    t.regex(r.failed[0]!.message, /ECONNREFUSED|fetch failed/);
    t.true(r.elapsedMs < 5_000, `failed after ${Math.round(r.elapsedMs)} ms, not at the 10 s timeout`);
    t.deepEqual(r.perBackend, [0, 0, 0]);
  },
);

test.serial('NXDOMAIN: all 64 fail at once with the ResolverError (ENOTFOUND) naming the target', async (t) => {
  const target = `dns://${dns.address}/nope.svc.test:80`;
  const r = await firstRequests(target, 10_000);
  t.is(r.failed.length, CALLERS);
  t.true(r.failed.every((e) => e instanceof ResolverError && e.target === target && e.code === 'ENOTFOUND'));
  t.true(r.elapsedMs < 5_000, `failed after ${Math.round(r.elapsedMs)} ms`);
});

test.serial('a discovery server that never answers: all 64 fail with UnavailableError at readyTimeoutMs', async (t) => {
  // Accepts connections and never answers (a hung etcd): the resolver neither delivers nor fails in time.
  const sockets = new Set<Socket>();
  const blackhole: NetServer = createServer((s) => {
    sockets.add(s);
    s.on('error', () => {});
  });
  await new Promise<void>((resolve) => blackhole.listen(0, '127.0.0.1', resolve));
  const port = (blackhole.address() as { port: number }).port;
  try {
    const target = `etcd://127.0.0.1:${port}/first/api`;
    const r = await firstRequests(target, 500);
    t.is(r.failed.length, CALLERS);
    for (const e of r.failed) {
      t.true(e instanceof UnavailableError, `${e.name}: ${e.message}`);
      t.is((e as UnavailableError).target, target);
    }
    t.true(r.elapsedMs >= 450 && r.elapsedMs < 3_000, `failed after ${Math.round(r.elapsedMs)} ms`);
  } finally {
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => blackhole.close(() => resolve()));
  }
});

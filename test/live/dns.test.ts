// The DNS resolver (node:dns Resolver with configured servers) against a real dnsmasq on a loopback port:
// A/AAAA records changing live, SRV priorities and weights, NXDOMAIN and a dead server keeping the last
// good list, and the Balancer fed from dns+srv.
import { Balancer } from '../../bindings/balancing/balancer.js';
import { createResolver } from '../../bindings/discovery/resolver.js';
import { DnsResolver } from '../../bindings/discovery/dns.js';
import { connectResolver } from '../../bindings/discovery/connect.js';
import { startDnsmasq, type Dnsmasq } from '../helpers/dnsmasq.js';
import { recorder } from '../helpers/resolver.js';
import { until } from '../helpers/wait.js';
import { live } from '../helpers/live.js';

const test = live(['dnsmasq'], import.meta.url);

let dns: Dnsmasq;

test.before(async () => {
  dns = await startDnsmasq({
    hosts: {
      base: [
        '10.0.0.1 web.svc.test',
        'fd00::1 web.svc.test',
        '10.0.1.1 a.svc.test',
        '10.0.1.2 b.svc.test',
        '10.0.1.3 c.svc.test',
      ],
    },
    srv: [
      '_http._tcp.svc.test,a.svc.test,8080,10,60',
      '_http._tcp.svc.test,b.svc.test,8081,10,20',
      '_http._tcp.svc.test,c.svc.test,8082,20,0',
    ],
  });
});

test.after.always(async () => {
  await dns?.stop();
});

const fast = {
  minTtlMs: 100,
  maxTtlMs: 200,
  initialBackoffMs: 100,
  queryTimeoutMs: 500,
  queryTries: 1,
  minRefreshIntervalMs: 0,
};

test.serial('A and AAAA: the list follows live edits of the hosts directory', async (t) => {
  const r = recorder();
  const res = createResolver({ target: `dns://${dns.address}/web.svc.test:8080`, ...fast }, r.listener);
  await until('first list', () => r.lists.length >= 1);
  t.deepEqual(r.ids(), ['10.0.0.1:8080', '[fd00::1]:8080']);
  t.is(r.lists[0]![0]!.metadata.name, 'web.svc.test');
  // An address added in a new file is read by inotify.
  dns.writeHosts('more', ['10.0.0.2 web.svc.test']);
  await until('added address', () => r.ids().includes('10.0.0.2:8080'));
  // Removal: rewrite, then SIGHUP (dnsmasq only drops addresses on a reload).
  dns.writeHosts('more', []);
  dns.writeHosts('base', [
    '10.0.0.3 web.svc.test',
    '10.0.1.1 a.svc.test',
    '10.0.1.2 b.svc.test',
    '10.0.1.3 c.svc.test',
  ]);
  dns.reload();
  await until('replaced address', () => r.ids().join() === '10.0.0.3:8080');
  t.true(r.errors.length === 0, r.errors.map((e) => e.message).join());
  res.close();
});

test.serial('SRV: priorities and weights become endpoint priorities and weights; the Balancer gets them', async (t) => {
  const balancer = new Balancer();
  const errors: Error[] = [];
  const res = connectResolver(`dns+srv://${dns.address}/_http._tcp.svc.test`, balancer, {
    ...fast,
    onError: (e) => errors.push(e),
  });
  await until('balancer filled', () => balancer.members.length === 3);
  t.deepEqual(
    balancer.members.map((m) => [m.id, m.priority, m.weight]),
    [
      ['10.0.1.1:8080', 10, 60],
      ['10.0.1.2:8081', 10, 20],
      ['10.0.1.3:8082', 20, 1],
    ],
  );
  t.deepEqual(errors, []);
  res.close();
});

test.serial('NXDOMAIN is an error and an unknown name never yields a list', async (t) => {
  const r = recorder();
  const res = new DnsResolver({ target: 'nope.svc.test:80', servers: [dns.address], ...fast }, r.listener);
  await until('error', () => r.errors.length >= 2);
  t.is((r.errors[0] as Error & { code?: string }).code, 'ENOTFOUND');
  t.is(r.lists.length, 0);
  res.close();
});

test.serial('NXDOMAIN after a good answer keeps the last good list', async (t) => {
  dns.writeHosts('flip', ['10.0.2.1 flip.svc.test']);
  const r = recorder();
  const res = new DnsResolver({ target: 'flip.svc.test:80', servers: [dns.address], ...fast }, r.listener);
  await until('first list', () => r.lists.length >= 1);
  dns.writeHosts('flip', []);
  dns.reload();
  await until('NXDOMAIN reported', () => r.errors.some((e) => (e as Error & { code?: string }).code === 'ENOTFOUND'));
  t.is(r.lists.length, 1, 'no empty list');
  t.deepEqual(r.ids(), ['10.0.2.1:80']);
  dns.writeHosts('flip', ['10.0.2.2 flip.svc.test']);
  await until('recovered', () => r.ids().join() === '10.0.2.2:80');
  res.close();
});

test.serial('a dead DNS server: errors, the last good list is kept, close() stops the retries', async (t) => {
  const own = await startDnsmasq({ hosts: { h: ['10.0.3.1 dead.svc.test'] } });
  try {
    const r = recorder();
    const res = new DnsResolver({ target: 'dead.svc.test:80', servers: [own.address], ...fast }, r.listener);
    await until('first list', () => r.lists.length >= 1);
    await own.server.stop('SIGKILL');
    await until('errors while dead', () => r.errors.length >= 2, 30_000);
    t.is(r.lists.length, 1);
    t.deepEqual(r.ids(), ['10.0.3.1:80']);
    t.regex(String((r.errors[0] as Error & { code?: string }).code), /ECONNREFUSED|ETIMEOUT|ESERVFAIL/);
    res.close();
    const n = r.errors.length;
    await new Promise((resolve) => setTimeout(resolve, 400));
    t.is(r.errors.length, n, 'close() stops the retries');
  } finally {
    await own.stop();
  }
});

// The DNS resolver (node:dns Resolver with configured servers) against a real dnsmasq on a loopback port:
// A/AAAA records changing live, SRV priorities and weights, NXDOMAIN and a dead server keeping the last
// good list, the Balancer fed from dns+srv, and gRPC service configs in TXT `_grpc_config.<name>` records
// (gRFC A2) switching a connected Balancer's policy.
import { Balancer } from '../../bindings/balancing/balancer.js';
import { createResolver } from '../../bindings/discovery/resolver.js';
import { DnsResolver } from '../../bindings/discovery/dns.js';
import { connectResolver } from '../../bindings/discovery/connect.js';
import { startDnsmasq, type Dnsmasq } from '../helpers/dnsmasq.js';
import { recorder } from '../helpers/resolver.js';
import { until } from '../helpers/wait.js';
import { live } from '../helpers/live.js';
import { ResolverError } from '../../bindings/discovery/errors.js';

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
      // RFC 2782's "." target (dnsmasq's default target): the service is not available.
      '_gone._tcp.svc.test',
      // Every record invalid: port 0.
      '_zero._tcp.svc.test,a.svc.test,0',
      '_zero._tcp.svc.test,b.svc.test,0',
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

test.serial(
  'SRV: a sole "." target is an empty list and no error; an answer of invalid records is a failure',
  async (t) => {
    const gone = recorder();
    const r1 = createResolver({ target: `dns+srv://${dns.address}/_gone._tcp.svc.test`, ...fast }, gone.listener);
    await until('a list', () => gone.lists.length >= 1);
    t.deepEqual(gone.ids(), []);
    await new Promise((resolve) => setTimeout(resolve, 300)); // a few re-resolutions (TTL floor 100 ms)
    t.deepEqual(
      gone.errors.map((e) => e.message),
      [],
    );
    t.is(gone.lists.length, 1, 'the same answer is not re-reported');
    r1.close();
    const zero = recorder();
    const r2 = createResolver({ target: `dns+srv://${dns.address}/_zero._tcp.svc.test`, ...fast }, zero.listener);
    await until('a failure', () => zero.errors.some((e) => e instanceof ResolverError));
    t.is(zero.lists.length, 0, 'no (empty) list');
    const failure = zero.errors.find((e) => e instanceof ResolverError)!;
    t.regex(failure.message, /no valid SRV record for "_zero\._tcp\.svc\.test"/);
    t.deepEqual(
      zero.errors
        .slice(0, 2)
        .map((e) => e.message.split(' must')[0])
        .sort(),
      ['dns+srv[a.svc.test:0].port', 'dns+srv[b.svc.test:0].port'],
    );
    r2.close();
  },
);

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

const lbConfig = (policy: string, options: Record<string, unknown> = {}) => ({
  loadBalancingConfig: [{ [policy]: options }],
});
/** A TXT text `grpc_config=[choices]`. */
const grpcConfig = (choices: unknown[]) => `grpc_config=${JSON.stringify(choices)}`;

test.serial(
  'TXT grpc_config switches the policy of a connected Balancer; changes follow; bad ones keep it',
  async (t) => {
    const hosts = { h: ['10.0.4.1 cfg.svc.test', '10.0.4.2 bad.svc.test', '10.0.4.3 broken.svc.test'] };
    // A first choice for Go clients only, then ours: longer than 255 bytes, so split into several strings.
    const first = grpcConfig([
      { clientLanguage: ['go'], serviceConfig: lbConfig('round_robin') },
      { clientLanguage: ['node'], percentage: 100, serviceConfig: lbConfig('least_request', { choice_count: 3 }) },
      { serviceConfig: { ...lbConfig('pick_first'), methodConfig: [{ name: [{ service: 'x'.repeat(200) }] }] } },
    ]);
    t.true(first.length > 255);
    const txt = {
      '_grpc_config.cfg.svc.test': [first],
      '_grpc_config.bad.svc.test': [grpcConfig([{ serviceConfig: lbConfig('no_such_policy') }])],
      '_grpc_config.broken.svc.test': ['grpc_config=[{"serviceConfig": {"loadBalancingConfig": ['],
    };
    let own = await startDnsmasq({ hosts, txt });
    const port = own.port;
    try {
      const balancer = new Balancer({ policy: 'round_robin' });
      t.is(balancer.policy.name, 'round_robin');
      const errors: Error[] = [];
      const res = connectResolver(`dns://${own.address}/cfg.svc.test:8080`, balancer, {
        ...fast,
        onError: (e) => errors.push(e),
      });
      await until('policy from TXT', () => balancer.policy.name === 'least_request' && balancer.members.length === 1);
      t.deepEqual(
        balancer.members.map((m) => m.id),
        ['10.0.4.1:8080'],
      );
      t.is(res.serviceConfigs, 1);
      // The record changes (dnsmasq reads TXT records at start: restart it on the same port).
      await own.stop();
      own = await startDnsmasq({
        hosts,
        txt: { ...txt, '_grpc_config.cfg.svc.test': [grpcConfig([{ serviceConfig: lbConfig('peak_ewma') }])] },
        port,
      });
      await until('policy follows the record', () => balancer.policy.name === 'peak_ewma', 20_000);
      t.deepEqual(
        balancer.members.map((m) => m.id),
        ['10.0.4.1:8080'],
        'the members stay',
      );
      // Failures while dnsmasq was down were ResolverErrors; with a list in place they fail nothing.
      t.true(
        errors.every((e) => e instanceof ResolverError),
        errors.map((e) => e.message).join('\n'),
      );
      res.close();

      // A config the Balancer rejects (unknown policy): the policy stays, the error is reported.
      const b2 = new Balancer({ policy: 'round_robin' });
      const errs2: Error[] = [];
      const r2 = connectResolver(`dns://${own.address}/bad.svc.test:8080`, b2, {
        ...fast,
        onError: (e) => errs2.push(e),
      });
      await until('rejected config reported', () => errs2.length >= 1 && b2.members.length === 1);
      t.is(b2.policy.name, 'round_robin');
      t.regex(errs2[0]!.message, /no_such_policy/);
      t.false(errs2[0] instanceof ResolverError);
      r2.close();

      // Malformed JSON: a TypeError naming grpc_config, once; the policy stays.
      const b3 = new Balancer({ policy: 'round_robin' });
      const errs3: Error[] = [];
      const r3 = connectResolver(`dns://${own.address}/broken.svc.test:8080`, b3, {
        ...fast,
        onError: (e) => errs3.push(e),
      });
      await until('malformed config reported', () => errs3.length >= 1 && b3.members.length === 1);
      await new Promise((resolve) => setTimeout(resolve, 400)); // a few more resolutions (TTL floor 100 ms)
      t.is(b3.policy.name, 'round_robin');
      t.is(errs3.length, 1, errs3.map((e) => e.message).join('\n'));
      t.true(errs3[0] instanceof TypeError);
      t.regex(errs3[0]!.message, /^grpc_config must be/);
      r3.close();
    } finally {
      await own.stop();
    }
  },
);

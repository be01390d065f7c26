// The Consul resolver against a loopback server implementing Consul's documented health API shapes and
// blocking-query semantics (test/helpers/consul-fake.ts; no real Consul server is available here).
import test from 'ava';
import { Balancer } from '../../bindings/balancing/balancer.js';
import { createResolver } from '../../bindings/discovery/resolver.js';
import { ConsulResolver } from '../../bindings/discovery/consul.js';
import { VirtualClock } from '../../bindings/util/clock.js';
import { connectResolver } from '../../bindings/discovery/connect.js';
import { startConsulFake, type ConsulFake, type FakeInstance } from '../helpers/consul-fake.js';
import { recorder } from '../helpers/resolver.js';
import { until } from '../helpers/wait.js';

const web = (i: number, extra: Partial<FakeInstance> = {}): FakeInstance => ({
  node: `n${i}`,
  nodeAddress: `10.0.0.${i}`,
  id: `web-${i}`,
  port: 8000 + i,
  ...extra,
});

const fast = { minQueryIntervalMs: 10, initialBackoffMs: 50, maxBackoffMs: 200, waitS: 5 };

let consul: ConsulFake;
test.beforeEach(async () => {
  consul = await startConsulFake();
});
test.afterEach.always(async () => {
  await consul.close();
});

test.serial('entries map to endpoints: Service.Address falling back to Node.Address, Weights.Passing', async (t) => {
  consul.setService('web', [
    web(1),
    web(2, { address: '192.168.0.2', weights: { Passing: 5, Warning: 1 }, tags: ['v2'], meta: { zone: 'b' } }),
    web(3, { status: 'critical' }),
  ]);
  const r = recorder();
  const res = new ConsulResolver({ address: consul.url, service: 'web', ...fast }, r.listener);
  t.is(r.lists.length, 0);
  await until('first list', () => r.lists.length >= 1);
  t.deepEqual(
    r.lists[0]!.map((e) => [e.id, e.weight]),
    [
      ['10.0.0.1:8001', 1],
      ['192.168.0.2:8002', 5],
    ],
  );
  t.deepEqual(r.lists[0]![1]!.metadata, { node: 'n2', serviceId: 'web-2', tags: ['v2'], meta: { zone: 'b' } });
  t.is(consul.requests[0]!.passing, 'true', 'passing=true by default');
  t.is(consul.requests[0]!.index, null, 'the first query does not block');
  res.close();
});

test.serial(
  'blocking queries: index and wait sent; a change wakes the query; an unchanged answer is not re-reported',
  async (t) => {
    consul.setService('web', [web(1)]);
    const r = recorder();
    const res = new ConsulResolver({ address: consul.url, service: 'web', ...fast }, r.listener);
    await until('first list', () => r.lists.length === 1);
    await until('blocking query', () => consul.requests.length >= 2);
    t.deepEqual([consul.requests[1]!.index, consul.requests[1]!.wait], ['2', '5s']);
    consul.setService('web', [web(1), web(2)]);
    await until('change', () => r.ids().length === 2);
    t.is(res.stats().index, 3);
    // A wake-up without a change (failNext(0) wakes waiters): no new list.
    const n = r.lists.length;
    consul.failNext(0);
    await until('re-blocked', () => consul.requests.length >= 4);
    t.is(r.lists.length, n);
    res.close();
  },
);

test.serial('an index that goes backwards resets to a non-blocking query; index 0 is raised to 1', async (t) => {
  consul.setService('web', [web(1)]);
  for (let i = 0; i < 10; i++) consul.setService('web', [web(1)]); // index 12
  const r = recorder();
  const res = new ConsulResolver({ address: consul.url, service: 'web', ...fast }, r.listener);
  await until('blocking at 12', () => consul.requests.some((q) => q.index === '12'));
  consul.forceIndex(4); // e.g. a snapshot restore
  await until('reset', () => res.stats().resets === 1);
  await until('non-blocking query after reset', () => consul.requests.some((q, i) => i > 1 && q.index === null));
  await until('blocking at 4', () => consul.requests.some((q) => q.index === '4'));
  consul.forceIndex(0);
  await until('index 0 answered', () => res.stats().resets === 2);
  await until('index 0 sanitised to 1: the query blocks', () => consul.requests.at(-1)!.index === '1');
  const blocked = consul.requests.length;
  await new Promise((resolve) => setTimeout(resolve, 300));
  t.is(consul.requests.length, blocked, 'no busy loop at index 0');
  consul.setService('web', [web(7)]);
  await until('still following', () => r.ids().join() === '10.0.0.7:8007');
  // No busy loop: the rate limit bounds the request count.
  const before = consul.requests.length;
  await new Promise((resolve) => setTimeout(resolve, 300));
  t.true(consul.requests.length - before <= 31, `${consul.requests.length - before} requests in 300 ms`);
  res.close();
});

test.serial('HTTP 500 keeps the last good list, reports the error and backs off', async (t) => {
  consul.setService('web', [web(1)]);
  const r = recorder();
  const res = new ConsulResolver({ address: consul.url, service: 'web', ...fast }, r.listener);
  await until('first list', () => r.lists.length === 1);
  consul.failNext(3, 500);
  await until('three errors', () => r.errors.length >= 3);
  t.regex(r.errors[0]!.message, /HTTP 500/);
  t.is(r.lists.length, 1);
  consul.setService('web', [web(2)]);
  await until('recovered', () => r.ids().join() === '10.0.0.2:8002');
  t.deepEqual(
    r.lists.map((l) => l.length),
    [1, 1],
  );
  res.close();
});

test.serial(
  'consul:/// target with tag and dc filters; warning weight; an unreachable datacenter is an error',
  async (t) => {
    consul.setService('api', [
      web(1, { tags: ['v2', 'blue'] }),
      web(2, { tags: ['v1'] }),
      web(3, { tags: ['v2', 'blue'], weights: { Passing: 10, Warning: 2 }, status: 'warning' }),
      web(4, { tags: ['v2', 'blue'], datacenter: 'dc2' }),
    ]);
    const host = consul.url.replace('http://', '');
    const balancer = new Balancer();
    const res = connectResolver(`consul://${host}/api?passing=false&tag=v2&tag=blue`, balancer, fast);
    await until('filled', () => balancer.members.length === 2);
    t.deepEqual(
      balancer.members.map((m) => [m.id, m.weight]),
      [
        ['10.0.0.1:8001', 1],
        ['10.0.0.3:8003', 2],
      ],
    );
    const q = consul.requests[0]!;
    t.deepEqual([q.passing, q.tags], [null, ['v2', 'blue']]);
    res.close();

    const r = recorder();
    const res2 = createResolver({ target: `consul://${host}/api?dc=dc2&passing`, ...fast }, r.listener);
    await until('dc2', () => r.lists.length === 1);
    t.deepEqual(r.ids(), ['10.0.0.4:8004']);
    res2.close();
    const r3 = recorder();
    const res3 = createResolver({ target: `consul://${host}/api?dc=mars`, ...fast }, r3.listener);
    await until('dc error', () => r3.errors.length >= 1);
    t.regex(r3.errors[0]!.message, /No path to datacenter/);
    res3.close();
  },
);

test.serial(
  'locality: region from meta or the datacenter, zone and sub_zone from service then node meta',
  async (t) => {
    consul.setService('web', [
      web(1, { nodeMeta: { zone: 'dc1-a' } }),
      web(2, { nodeMeta: { zone: 'dc1-a', region: 'eu' }, meta: { zone: 'dc1-b', sub_zone: 'rack2' } }),
    ]);
    const r = recorder();
    const res = new ConsulResolver({ address: consul.url, service: 'web', ...fast }, r.listener);
    await until('list', () => r.lists.length === 1);
    t.deepEqual(
      r.lists[0]!.map((e) => [e.id, e.locality]),
      [
        ['10.0.0.1:8001', { region: 'dc1', zone: 'dc1-a', subZone: '' }],
        ['10.0.0.2:8002', { region: 'eu', zone: 'dc1-b', subZone: 'rack2' }],
      ],
    );
    res.close();
  },
);

test.serial('failures are ResolverErrors naming the target URI', async (t) => {
  consul.failNext(1, 503);
  consul.setService('web', [web(1)]);
  const r = recorder();
  const target = `consul://${new URL(consul.url).host}/web`;
  const res = createResolver({ target, ...fast }, r.listener);
  await until('error and list', () => r.errors.length >= 1 && r.lists.length >= 1);
  t.is(r.errors[0]!.name, 'ResolverError');
  t.is((r.errors[0] as Error & { target: string }).target, target);
  t.regex(r.errors[0]!.message, /HTTP 503/);
  res.close();
});

test.serial('bad entries and bad options', async (t) => {
  consul.setService('web', [web(1), web(2, { port: 0 }), web(3, { address: '10.0.0.1', port: 8001 })]);
  const r = recorder();
  const res = new ConsulResolver({ address: consul.url, service: 'web', ...fast }, r.listener);
  await until('list', () => r.lists.length === 1);
  t.deepEqual(r.ids(), ['10.0.0.1:8001']);
  // Invalid entries as they come, then duplicates; each named by its index in Consul's answer.
  t.deepEqual(
    r.errors.map((e) => `${e.constructor.name} ${e.message.split(' must')[0]}`),
    ['RangeError consul entry[1].port', 'TypeError consul entry[2].id'],
  );
  t.regex(r.errors[1]!.message, /duplicate/);
  res.close();
  const l = recorder().listener;
  t.throws(() => new ConsulResolver({ service: 'a/b' }, l), { instanceOf: TypeError, message: /^service/ });
  t.throws(() => new ConsulResolver({ service: 'a', waitS: 601 }, l), { instanceOf: RangeError, message: /^waitS/ });
  t.throws(() => new ConsulResolver({ service: 'a', address: 'localhost:8500' }, l), {
    instanceOf: TypeError,
    message: /^address/,
  });
  t.throws(() => createResolver('consul:///a?passing=maybe', l), { instanceOf: TypeError, message: /^passing/ });
});

test('bad options are typed errors at construction: address, passing, fetch', async (t) => {
  const l = recorder().listener;
  t.throws(() => new ConsulResolver({ service: 'a', address: 5 as never }, l), {
    instanceOf: TypeError,
    message: /^address must be an http\(s\):\/\/host:port URL, got 5/,
  });
  t.throws(() => new ConsulResolver({ service: 'a', address: 'http://a b:8500' }, l), {
    instanceOf: TypeError,
    message: /^address .*"http:\/\/a b:8500"/,
  });
  t.throws(() => createResolver({ target: 'consul:///a', passing: 'false' as never }, l), {
    instanceOf: TypeError,
    message: /^passing must be a boolean, got "false"/,
  });
  t.throws(() => new ConsulResolver({ service: 'a', fetch: 5 as never }, l), {
    instanceOf: TypeError,
    message: /^fetch must be a fetch function.*got 5/,
  });
  // passing: false (a boolean) is honoured: no passing filter in the query.
  const urls: string[] = [];
  const fetch = async (u: string) => {
    urls.push(u);
    return new Response('[]', { headers: { 'x-consul-index': '1' } });
  };
  const r = new ConsulResolver({ service: 'a', address: 'http://127.0.0.1:1', passing: false, fetch }, l);
  await until('first query', () => urls.length >= 1);
  r.close();
  t.false(urls[0]!.includes('passing'), urls[0]);
});

test.serial('close() aborts a pending blocking query', async (t) => {
  consul.setService('web', [web(1)]);
  const r = recorder();
  const res = new ConsulResolver({ address: consul.url, service: 'web', ...fast, waitS: 600 }, r.listener);
  await until('blocking', () => consul.requests.length >= 2);
  res.close();
  consul.setService('web', [web(2)]);
  await new Promise((resolve) => setTimeout(resolve, 200));
  t.is(r.lists.length, 1);
  t.is(consul.requests.length, 2);
});

test.serial("skipped entries are named by their index in Consul's answer, not their place after sorting", async (t) => {
  const body = [
    { Node: { Node: 'n1', Address: '10.0.0.9' }, Service: { ID: 'a', Port: 8080 } },
    { Node: { Node: 'n2', Address: '10.0.0.2' }, Service: { ID: 'b', Address: '10.0.0.2', Port: '8080' } },
    { Node: { Node: 'n3', Address: '10.0.0.3' }, Service: { ID: 'c', Port: 8080, Meta: { zone: 7 } } },
    { Node: { Node: 'n0', Address: '10.0.0.1' }, Service: { ID: 'd', Port: 8080 } },
    { Node: { Node: 'n1', Address: '10.0.0.9' }, Service: { ID: 'a2', Port: 8080 } },
    null,
  ];
  const fetch = async () => new Response(JSON.stringify(body), { headers: { 'x-consul-index': '7' } });
  const r = recorder();
  const res = new ConsulResolver({ service: 'api', fetch, waitS: 1 }, r.listener);
  await until('list', () => r.lists.length === 1);
  res.close();
  t.deepEqual(r.ids(), ['10.0.0.1:8080', '10.0.0.9:8080'], 'sorted by address');
  t.deepEqual(
    r.errors.map((e) => e.message.split(' must')[0]),
    // an entry without a Service first (it never reaches the endpoint parser), then the parser's, then duplicates
    ['consul entry[5].Service', 'consul entry[1].port', 'consul entry[2].locality.zone', 'consul entry[4].id'],
  );
  t.regex(r.errors[3]!.message, /duplicate endpoint skipped/);
  t.is(r.lists[0]!.find((e) => e.id === '10.0.0.9:8080')!.metadata.serviceId, 'a', 'the first of the duplicates');
});

test.serial(
  'an answer whose entries are all invalid keeps the last list (a ResolverError), as DNS; all out of rotation is a list of none',
  async (t) => {
    const good = [{ Node: { Node: 'n1', Address: '10.0.0.9' }, Service: { ID: 'a', Port: 8080 } }];
    const bad = [{ Node: { Node: 'n1', Address: '10.0.0.9' }, Service: { ID: 'a', Port: 0 } }, null];
    const drained = [
      { Node: { Node: 'n1', Address: '10.0.0.9' }, Service: { ID: 'a', Port: 8080, Weights: { Passing: 0 } } },
    ];
    const answers = [good, bad, drained];
    let n = 0;
    const fetch = async () =>
      new Response(JSON.stringify(answers[Math.min(n, 2)]), { headers: { 'x-consul-index': String(++n) } });
    const r = recorder();
    const res = new ConsulResolver({ service: 'api', fetch, ...fast }, r.listener);
    await until('the drained answer', () => r.lists.length >= 1 && r.lists.at(-1)!.length === 0);
    res.close();
    t.deepEqual(r.ids(0), ['10.0.0.9:8080']);
    t.is(r.lists.length, 2, 'the all-invalid answer delivered no list');
    t.true(r.errors.some((e) => e.name === 'ResolverError' && /every entry was skipped/.test(e.message)));
  },
);

test.serial('a listener that closes the resolver on its first list leaves no timer and sends no query', async (t) => {
  const clock = new VirtualClock(0);
  let queries = 0;
  const fetch = async () => {
    queries++;
    const entries = [{ Node: { Address: '10.0.0.1' }, Service: { Port: 80 } }];
    return new Response(JSON.stringify(entries), { headers: { 'x-consul-index': '5' } });
  };
  let lists = 0;
  const res: ConsulResolver = new ConsulResolver(
    { service: 'web', fetch, clock, minQueryIntervalMs: 60_000 },
    { onEndpoints: () => (lists++, res.close()), onError: () => {} },
  );
  await until('first list', () => lists === 1);
  t.is(clock.pending, 0, 'no rate-limit wait after close()');
  await clock.advance(120_000);
  t.is(queries, 1);
});

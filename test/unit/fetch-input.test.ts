// The fetch wrapper's handling of bad input (a bad-input sweep's findings): options that used to crash with
// internal messages, a `service` whose origin opaque URLs match, object-form endpoint hosts that carried a path
// or userinfo, the caller's own bad request blamed on members, hedges with a throwing pick or a timer left
// behind, Retry-After without a cap, close() during a retry's back-off, and instrumentation scopes of the
// wrong shape. Loopback backends only.
import test from 'ava';
import { Balancer } from '../../bindings/balancing/balancer.js';
import { createFetch, InvalidRequestError } from '../../bindings/http/fetch.js';
import { createDispatcher } from '../../bindings/http/dispatcher.js';
import { UnsafeTargetError } from '../../bindings/http/url-guard.js';
import { VirtualClock } from '../../bindings/util/clock.js';
import { startBackend, type Backend } from '../helpers/backends.js';

let a: Backend;
let b: Backend;
test.before(async () => {
  [a, b] = await Promise.all([startBackend('a'), startBackend('b')]);
});
test.after.always(async () => {
  await Promise.all([a.stop(), b.stop()]);
});
test.beforeEach(() => {
  for (const x of [a, b]) {
    x.mode = { kind: 'ok' };
    x.requests.length = 0;
  }
});
const endpoints = () => [`127.0.0.1:${a.port}`, `127.0.0.1:${b.port}`];

test('options that crashed with internal messages are TypeErrors naming the field', (t) => {
  const e = endpoints();
  const cases: [Record<string, unknown>, RegExp][] = [
    [{ service: 5 }, /^service must be/],
    [{ retry: 5 }, /^retry must be an object/],
    [{ retry: { retryOn: 503 } }, /^retry\.retryOn must be an array/],
    [{ retry: { retryOn: '503' } }, /^retry\.retryOn must be an array/],
    [{ retryThrottling: null }, /^retryThrottling must be an object/],
    [{ retryThrottling: 'x' }, /^retryThrottling must be an object/],
    [{ retry: null }, /^retry must be an object/],
    [{ outlierDetection: null }, /^outlierDetection must be an object/],
    [{ outlierDetection: 'x' }, /^outlierDetection must be an object/],
    [{ healthCheck: true }, /^healthCheck must be an object/],
    [{ healthCheck: { probe: () => true } }, /^healthCheck\.probe must be absent/],
  ];
  for (const [o, message] of cases)
    t.throws(() => createFetch({ endpoints: e, ...o } as never), { instanceOf: TypeError, message }, JSON.stringify(o));
});

test('service must be an http(s) origin: an opaque one would let mailto:/urn: URLs through', async (t) => {
  for (const service of ['custom://api', 'file:///x', 'urn:x'])
    t.throws(() => createFetch({ endpoints: endpoints(), service }), {
      instanceOf: RangeError,
      message: /^service must be an http\(s\) origin/,
    });
  const f = createFetch({ endpoints: endpoints(), service: 'http://api' });
  for (const url of ['mailto:u@evil.example', 'urn:x@evil.example', 'data:,x'])
    await t.throwsAsync(f(url), { instanceOf: UnsafeTargetError }, url);
  t.is(a.requests.length + b.requests.length, 0);
  f.close();
});

test('an endpoint host with a path, userinfo or a port is refused, not sent elsewhere', (t) => {
  for (const host of ['evil.example/x?', 'u@evil.example', '127.0.0.1:9999', 'a b', '[::1]'])
    t.throws(() => createFetch({ endpoints: [{ host, port: 8080 }] }), {
      instanceOf: TypeError,
      message: /^endpoints\[0\]\.host must be a host name or an IP address/,
    });
  t.notThrows(() => createFetch({ endpoints: [{ host: '::1', port: 8080 }] }).close());
});

test('an endpoint without a port is refused by createFetch and createDispatcher, as a static:/// target refuses it', (t) => {
  const cases: [unknown, string][] = [
    ['127.0.0.1', 'endpoints[0] must be an address with a port ("host:port"), got "127.0.0.1"'],
    ['localhost', 'endpoints[0] must be an address with a port ("host:port"), got "localhost"'],
    [{ id: 'a', host: '127.0.0.1' }, 'endpoints[0].id must be an address with a port ("host:port"), got "a"'],
  ];
  for (const [ep, message] of cases) {
    t.throws(() => createFetch({ endpoints: [ep as string] }), { instanceOf: TypeError, message });
    t.throws(() => createDispatcher({ endpoints: [ep as string] }), { instanceOf: TypeError, message });
  }
  t.throws(() => createFetch({ endpoints: ['a:80', 'b'] }), { message: /^endpoints\[1\] must be an address/ });
  t.notThrows(() => createFetch({ endpoints: ['a:80', { host: 'b', port: 81 }] }).close());
});

test('conflicting sources of members, or a policy or health beside a given balancer, are TypeErrors naming the second', (t) => {
  const cases: [Record<string, unknown>, string][] = [
    [{ endpoints: ['a:1'], target: 'static:///b:1' }, 'target must be absent with endpoints, got "static:///b:1"'],
    [{ balancer: new Balancer(), target: 'static:///a:1' }, 'target must be absent with balancer, got "static:///a:1"'],
    [{ balancer: new Balancer(), endpoints: ['a:1'] }, 'endpoints must be absent with balancer, got [object Array]'],
    [{ balancer: new Balancer(), policy: 'peak_ewma' }, 'policy must be absent with balancer, got "peak_ewma"'],
    [
      { balancer: new Balancer(), healthCheck: { path: '/h' } },
      'healthCheck must be absent with balancer, got [object Object]',
    ],
  ];
  for (const [options, message] of cases) {
    t.throws(() => createFetch(options as never), { instanceOf: TypeError, message });
    t.throws(() => createDispatcher(options as never), { instanceOf: TypeError, message });
  }
  // outlierDetection: false (nothing to build) and the built stack's own options stay accepted
  t.notThrows(() => createFetch({ balancer: new Balancer(), outlierDetection: false }).close());
  t.notThrows(() => createFetch({ endpoints: ['a:1'], policy: 'peak_ewma', outlierDetection: {} }).close());
});

test("the caller's bad request is an InvalidRequestError: not retried, no member blamed or ejected", async (t) => {
  const balancer = new Balancer({ endpoints: endpoints() });
  const f = createFetch({ balancer });
  const seen: string[] = [];
  f.on('event', (e) => seen.push(e.type));
  const bad: RequestInit[] = [
    { method: 'GET', body: 'x' },
    { headers: { 'a b': '1' } },
    { method: 'TRACE' },
    { method: 'GET X' },
    // headers undici refuses to send (the Request constructor takes them): expect, upgrade, transfer-encoding
    { method: 'PUT', body: 'x', headers: { expect: '100-continue' } },
    { method: 'PUT', body: 'x', headers: { upgrade: 'websocket' } },
    { method: 'PUT', body: 'x', headers: { 'transfer-encoding': 'chunked' } },
  ];
  for (let i = 0; i < 5; i++)
    for (const init of bad) {
      const err = await t.throwsAsync(f('/x', init), { instanceOf: InvalidRequestError });
      t.true(err!.cause instanceof TypeError, 'the runtime\u2019s error is the cause');
    }
  t.deepEqual(f.stats(), { requests: 35, tries: 35, retries: 0, hedges: 0, failures: 35 });
  t.false(seen.includes('retry'));
  t.is(a.requests.length + b.requests.length, 0, 'nothing reached a member');
  for (const m of balancer.stats().members) {
    t.is(m.failures, 0, m.id);
    t.is(m.active, 0, `${m.id}: the picks were released`);
  }
  // through createFetch's own stack, outlier detection (5 consecutive failures) ejects nobody
  const g = createFetch({ endpoints: endpoints(), outlierDetection: { consecutive5xx: 2 } });
  for (let i = 0; i < 6; i++) await t.throwsAsync(g('/x', { method: 'TRACE' }), { instanceOf: InvalidRequestError });
  t.is((await g('/ok')).status, 200);
  t.deepEqual(
    g.detector!.stats().members.map((m) => m.ejected),
    [false, false],
  );
  f.close();
  g.close();
  balancer.close();
});

test('bad init values are TypeErrors naming the field, before any pick', async (t) => {
  const f = createFetch({ endpoints: endpoints() });
  await t.throwsAsync(f('/x', 5 as never), { instanceOf: TypeError, message: /^init must be an object/ });
  await t.throwsAsync(f('/x', { method: 5 } as never), {
    instanceOf: TypeError,
    message: /^init\.method must be a string/,
  });
  await t.throwsAsync(f('/x', { signal: {} } as never), { instanceOf: TypeError, message: /^init\.signal must be/ });
  t.is(f.stats().tries, 0);
  f.close();
});

test('a hedged request whose pick throws rejects once, accounted for, with no unhandled rejection', async (t) => {
  const unhandled: unknown[] = [];
  const onUnhandled = (e: unknown) => unhandled.push(e);
  process.on('unhandledRejection', onUnhandled);
  try {
    const f = createFetch({ endpoints: endpoints(), policy: 'ring_hash', hedge: { delayMs: 10 } });
    const ends: unknown[] = [];
    f.on('event', (e) => e.type === 'request-end' && ends.push(e.error));
    await t.throwsAsync(f('/x', { key: 5 as never }), { instanceOf: TypeError, message: /^ctx\.key must be a string/ });
    const g = createFetch({ balancer: { pick: () => undefined as never }, hedge: { delayMs: 10 } });
    await t.throwsAsync(g('/x'), { instanceOf: TypeError, message: /^balancer\.pick\(\) must be/ });
    await new Promise((r) => setTimeout(r, 50));
    t.deepEqual(unhandled, []);
    t.is(f.stats().failures, 1);
    t.is(ends.length, 1);
    f.close();
  } finally {
    process.off('unhandledRejection', onUnhandled);
  }
});

test("a hedge's delay timer ends with the request", async (t) => {
  const clock = new VirtualClock(0);
  const f = createFetch({
    endpoints: endpoints(),
    clock,
    hedge: { delayMs: 20_000 },
    outlierDetection: false, // its sweep timer runs on the clock too
    fetch: async () => new Response('ok'),
  });
  t.is(await (await f('/x')).text(), 'ok');
  t.is(clock.pending, 0, 'no timer left behind');
  f.close();
});

test('a Retry-After over 30 s ends the retries: the response goes to the caller at once', async (t) => {
  const clock = new VirtualClock(0);
  let calls = 0;
  const after = ['86400', '31', '2'];
  const f = createFetch({
    endpoints: endpoints(),
    clock,
    retry: { maxAttempts: 3, initialBackoffMs: 1, maxBackoffMs: 1 },
    fetch: async () => {
      calls++;
      return new Response('busy', { status: 503, headers: { 'retry-after': after[0]! } });
    },
  });
  for (const [i, v] of ['86400', '31'].entries()) {
    after[0] = v;
    const res = await f('/x');
    t.is(res.status, 503, v);
    t.is(calls, i + 1, `${v}: not retried`);
  }
  after[0] = '2';
  const p = f('/x');
  await clock.advance(2000);
  await clock.advance(2000);
  t.is((await p).status, 503);
  t.is(calls, 2 + 3, 'a short Retry-After is waited for and retried');
  f.close();
});

test('close() ends the back-off of a retry: the request fails at once, not after the wait', async (t) => {
  const clock = new VirtualClock(0);
  const f = createFetch({
    endpoints: endpoints(),
    clock,
    retry: { maxAttempts: 3, initialBackoffMs: 60_000, maxBackoffMs: 60_000 },
    random: () => 0.999,
    outlierDetection: false,
    fetch: async () => new Response('no', { status: 503 }),
  });
  const p = f('/x');
  p.catch(() => {});
  await clock.advance(0);
  await new Promise((r) => setImmediate(r));
  t.is(clock.pending, 1, 'sleeping in back-off');
  f.close();
  const err = await t.throwsAsync(p);
  t.regex(err!.message, /closed/);
  t.is(clock.now(), 0, 'without waiting out the back-off');
});

test('an instrumentation scope of the wrong shape is a TypeError naming the hook, reported; the request goes on', async (t) => {
  const uncaught: unknown[] = [];
  const listeners = process.listeners('uncaughtException');
  process.removeAllListeners('uncaughtException');
  process.on('uncaughtException', (e) => uncaught.push(e));
  try {
    const f = createFetch({ endpoints: endpoints(), instrumentation: { request: () => ({}) as never } });
    t.is((await f('/x')).status, 200);
    const g = createFetch({
      endpoints: endpoints(),
      instrumentation: { request: () => ({ try: () => 5 as never, end: () => {} }) },
    });
    t.is((await g('/x')).status, 200);
    await new Promise((r) => setImmediate(r));
    f.close();
    g.close();
  } finally {
    process.removeAllListeners('uncaughtException');
    for (const l of listeners) process.on('uncaughtException', l);
  }
  t.deepEqual(
    uncaught.map((e) => `${(e as Error).name}: ${(e as Error).message}`),
    [
      'TypeError: instrumentation.request() result must be undefined or a scope { try(), end() }, got [object Object]',
      'TypeError: instrumentation.request().try() result must be undefined or a scope { end() }, got 5',
    ],
  );
});

test.serial(
  "a Request's body is sent when init.body is null, as fetch does (only a non-null init.body replaces it)",
  async (t) => {
    const f = createFetch({ endpoints: endpoints(), service: 'http://api', outlierDetection: false });
    const sent = async (input: Request, init?: RequestInit) => {
      const [na, nb] = [a.requests.length, b.requests.length];
      await (await f(input, init)).text();
      return [...a.requests.slice(na), ...b.requests.slice(nb)].map((r) => `${r.method} ${r.body}`);
    };
    const put = () => new Request('http://api/x', { method: 'PUT', body: 'payload' });
    t.deepEqual(await sent(put(), { body: null }), ['PUT payload']);
    t.deepEqual(await sent(put(), { body: undefined }), ['PUT payload']);
    t.deepEqual(await sent(put(), { body: 'replaced' }), ['PUT replaced']);
    t.deepEqual(await sent(put()), ['PUT payload']);
    // and a retry sends it again (buffered)
    a.mode = { kind: 'status', status: 503 };
    b.mode = { kind: 'status', status: 503 };
    const tries = await sent(put(), { body: null });
    t.true(tries.length > 1 && tries.every((x) => x === 'PUT payload'), tries.join());
    f.close();
  },
);

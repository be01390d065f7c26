// createFetch's options refused at creation rather than ignored or found out per request: a static:/// target
// with no valid member, a misspelt key (top level, retry, retryThrottling, hedge), a `service` with parts an
// origin drops; and readyTimeoutMs taking 0 and Infinity as the Balancer's does.
import test from 'ava';
import { createFetch } from '../../bindings/http/fetch.js';
import { createProxy } from '../../bindings/http/proxy.js';
import { StaticResolver } from '../../bindings/discovery/static.js';
import { createFetch as liteCreateFetch } from '../../bindings/lite.js';
import { VirtualClock } from '../../bindings/util/clock.js';
import { otelInstrumentation } from '../../bindings/observability/tracing.js';

const listener = () => {
  const errors: Error[] = [];
  const lists: string[][] = [];
  return {
    errors,
    lists,
    onEndpoints: (l: { id: string }[]) => lists.push(l.map((e) => e.id)),
    onError: (e: Error) => errors.push(e),
  };
};

test('a static:/// target with no valid member is refused at once, naming target, the value and why', (t) => {
  const cases: [string, typeof TypeError | typeof RangeError, string][] = [
    [
      'static:///h:65536',
      RangeError,
      '(endpoints[0] port must be an integer in [1, 65535], got 65536), got "static:///h:65536"',
    ],
    ['static:///h:0', RangeError, '(endpoints[0] port must be an integer in [1, 65535], got 0), got "static:///h:0"'],
    ['static:///u@h:80', TypeError, 'got "u@h:80"), got "static:///u@h:80"'],
    ['static:///127.0.0.1\\x:9999', TypeError, 'got "static:///127.0.0.1\\\\x:9999"'],
    ['static:///h', TypeError, 'got "static:///h"'],
    ['static:///', TypeError, 'static:///host:port,... with a valid member, got "static:///"'],
  ];
  for (const make of [createFetch, liteCreateFetch])
    for (const [target, type, tail] of cases) {
      const e = t.throws(() => make({ target, clock: new VirtualClock() }), { instanceOf: type }, target);
      t.true(e!.message.startsWith('target must be static:///host:port,... with a valid member'), e!.message);
      t.true(e!.message.endsWith(tail), e!.message);
    }
  t.throws(() => createProxy({ target: 'static:///h:0' }), { instanceOf: RangeError, message: /^target must be/ });
});

test('a static:/// list with a valid member stays: the bad entries are skipped with an error event', async (t) => {
  const f = createFetch({ target: 'static:///a:80,h:0', clock: new VirtualClock(), outlierDetection: false });
  const errors: string[] = [];
  f.resolver!.on('error', (e) => errors.push(e.message));
  await new Promise((r) => setImmediate(r));
  t.deepEqual(
    (f.balancer as unknown as { stats(): { members: { id: string }[] } }).stats().members.map((m) => m.id),
    ['a:80'],
  );
  t.deepEqual(errors, ['endpoints[1] port must be an integer in [1, 65535], got 0']);
  f.close();
});

test('StaticResolver: only its first list must hold a valid member; set() may empty it later', async (t) => {
  t.throws(() => new StaticResolver([], listener()), { instanceOf: TypeError, message: /^target must be/ });
  const l = listener();
  t.throws(() => new StaticResolver(['x:0', 'y'], l), { instanceOf: RangeError, message: /endpoints\[0\] port/ });
  await new Promise((r) => setImmediate(r));
  t.deepEqual([l.errors.length, l.lists.length], [0, 0], 'nothing reported by a refused resolver');
  const ok = listener();
  const r = new StaticResolver(['a:80'], ok);
  r.set([]);
  await new Promise((res) => setImmediate(res));
  t.deepEqual(ok.lists, [['a:80'], []], 'set([]) replaces the list later');
  r.close();
});

test('a misspelt option key is a RangeError naming it and listing the keys', (t) => {
  const endpoints = ['127.0.0.1:1'];
  const cases: [Record<string, unknown>, RegExp][] = [
    [
      { perTryTimeout: 5 },
      /^options\.perTryTimeout must be one of balancer, target, .*perTryTimeoutMs.*, got "perTryTimeout"$/,
    ],
    [{ bogusOption: 1 }, /^options\.bogusOption must be one of /],
    [
      { retry: { maxAtempts: 1 } },
      /^retry\.maxAtempts must be one of maxAttempts, retryOn, initialBackoffMs, maxBackoffMs, backoffMultiplier, got "maxAtempts"$/,
    ],
    [
      { retryThrottling: { maxToken: 3 } },
      /^retryThrottling\.maxToken must be one of maxTokens, tokenRatio, got "maxToken"$/,
    ],
    [
      { hedge: { delayMs: 5, maxattempts: 3 } },
      /^hedge\.maxattempts must be one of delayMs, maxAttempts, got "maxattempts"$/,
    ],
  ];
  for (const [o, message] of cases) {
    t.throws(() => createFetch({ endpoints, ...o } as never), { instanceOf: RangeError, message }, JSON.stringify(o));
    t.throws(() => createProxy({ endpoints, ...o } as never), { instanceOf: RangeError, message }, JSON.stringify(o));
  }
  // every documented key is taken
  const f = createFetch({
    endpoints,
    policy: 'round_robin',
    outlierDetection: false,
    service: 'http://api',
    scheme: 'http',
    key: () => undefined,
    perTryTimeoutMs: 1000,
    deadlineMs: 2000,
    retry: { maxAttempts: 2, retryOn: [503], initialBackoffMs: 10, maxBackoffMs: 20, backoffMultiplier: 2 },
    retryThrottling: { maxTokens: 10, tokenRatio: 0.1 },
    hedge: { delayMs: 50, maxAttempts: 2 },
    passThrough: () => false,
    fetch: globalThis.fetch,
    random: Math.random,
    clock: new VirtualClock(),
    onEvent: () => {},
    readyTimeoutMs: 100,
    instrumentation: [],
  });
  f.close();
  createFetch({ endpoints, retry: false, retryThrottling: false, outlierDetection: false }).close();
  createFetch({ target: 'static:///127.0.0.1:1', healthCheck: { path: '/h' }, clock: new VirtualClock() }).close();
});

test('service: an origin only; user info, a path, a query or a fragment is a RangeError naming service', (t) => {
  for (const service of [
    'http://api/path',
    'http://u:p@api',
    'http://u@api',
    'http://api?x=1',
    'http://api#f',
    'api/v1',
  ])
    t.throws(() => createFetch({ endpoints: ['127.0.0.1:1'], service }), {
      instanceOf: RangeError,
      message: `service must be an http(s) origin such as 'http://api', got ${JSON.stringify(service)}`,
    });
  for (const service of ['http://api', 'http://api/', 'https://API:8443', 'api', 'http://[::1]:8080'])
    createFetch({ endpoints: ['127.0.0.1:1'], service, outlierDetection: false }).close();
  t.pass();
});

test('readyTimeoutMs: ms >= 0, 0 (no wait) and Infinity (no limit) included', async (t) => {
  const clock = new VirtualClock();
  for (const readyTimeoutMs of [-1, NaN])
    t.throws(() => createFetch({ endpoints: ['127.0.0.1:1'], readyTimeoutMs }), { instanceOf: RangeError });
  const f = createFetch({ target: 'static:///127.0.0.1:1', readyTimeoutMs: Infinity, clock, outlierDetection: false });
  f.close();
  const g = createFetch({ endpoints: [], readyTimeoutMs: 0, clock, outlierDetection: false });
  const waited = t.throwsAsync(g('/x'), { name: 'UnavailableError' });
  await clock.advance(0);
  await waited;
  g.close();
});

test('otelInstrumentation: a misspelt option is a RangeError naming it; version must be a string', (t) => {
  t.throws(() => otelInstrumentation({ nmae: 'x' } as never), {
    instanceOf: RangeError,
    message: 'options.nmae must be one of tracerProvider, name, version, got "nmae"',
  });
  t.throws(() => otelInstrumentation({ version: 1 } as never), {
    instanceOf: TypeError,
    message: /^version must be a string/,
  });
  t.is(typeof otelInstrumentation({ name: 'svc', version: '1.0' }).request, 'function');
});

test('createFetch names its healthCheck and outlierDetection options in their errors; healthCheck lists no probe', (t) => {
  const make = (o: object) => () => createFetch({ endpoints: ['127.0.0.1:1'], ...o }).close();
  t.throws(make({ healthCheck: { timeoutMs: 1000, intervalMs: 1000 } }), {
    instanceOf: RangeError,
    message: 'healthCheck.timeoutMs must be less than healthCheck.intervalMs (1000), got 1000',
  });
  t.throws(make({ healthCheck: { intervalMs: 0 } }), {
    instanceOf: RangeError,
    message: /^healthCheck\.intervalMs must be a finite number > 0, got 0$/,
  });
  t.throws(make({ healthCheck: { path: 5 } }), { instanceOf: TypeError, message: /^healthCheck\.path must be/ });
  t.throws(make({ outlierDetection: { intervalMs: -1 } }), {
    instanceOf: RangeError,
    message: /^outlierDetection\.intervalMs must be/,
  });
  const e = t.throws(make({ healthCheck: { pth: '/h' } }), {
    instanceOf: RangeError,
    message: /^healthCheck\.pth must be one of /,
  });
  t.false(/\bprobe\b/.test(e!.message), e!.message); // createFetch probes over HTTP: a probe of one's own is refused
});

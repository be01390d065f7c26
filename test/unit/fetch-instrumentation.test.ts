// Observing createFetch (issue 14): the instrumentation hooks (a request scope, a try scope per try, headers
// set per try reaching the member), `on('event')` with 'request-end' and 'throttled', the stack's resolver,
// checker and detector, and the zero-cost path (no Headers, no AbortController, no events built when nobody
// observes). Loopback node:http servers that record what they receive.
import test from 'ava';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Balancer } from '../../bindings/balancing/balancer.js';
import { HealthChecker } from '../../bindings/health/checker.js';
import { OutlierDetector } from '../../bindings/health/outlier.js';
import {
  createFetch,
  type FetchEvent,
  type FetchInstrumentation,
  type FetchPick,
  type FetchRequestInfo,
  type FetchRequestResult,
  type FetchTryResult,
  type PickSource,
} from '../../bindings/http/fetch.js';
import { UnsafeTargetError } from '../../bindings/http/url-guard.js';
import { VirtualClock } from '../../bindings/util/clock.js';

interface Member {
  name: string;
  port: number;
  status: number;
  seen: IncomingHttpHeaders[];
  server: Server;
}

async function member(name: string): Promise<Member> {
  const m: Member = { name, port: 0, status: 200, seen: [], server: undefined as unknown as Server };
  m.server = createServer((req, res) => {
    m.seen.push(req.headers);
    res.statusCode = m.status;
    res.end(name);
  });
  await new Promise<void>((r) => m.server.listen(0, '127.0.0.1', () => r()));
  m.port = (m.server.address() as AddressInfo).port;
  return m;
}

let members: Member[] = [];
test.before(async () => {
  members = await Promise.all(['a', 'b', 'c'].map(member));
});
test.after.always(() => {
  for (const m of members) m.server.close();
});
test.beforeEach(() => {
  for (const m of members) {
    m.status = 200;
    m.seen = [];
  }
});

/** Members in order, skipping excluded ones. */
class InOrder implements PickSource {
  constructor(readonly list: Member[]) {}
  pick(ctx: { exclude?: ReadonlySet<string> } = {}): FetchPick {
    const m = this.list.find((x) => !ctx.exclude?.has(x.name));
    if (m === undefined) return { type: 'none', reason: 'empty' };
    return { type: 'pick', member: { id: m.name, host: '127.0.0.1', port: m.port }, handle: { done() {} } };
  }
}

/** Records every hook call; sets `traceparent` on each try (as a tracer would). */
function recorder() {
  const log: string[] = [];
  const requests: FetchRequestInfo[] = [];
  const ends: FetchRequestResult[] = [];
  const tryEnds: FetchTryResult[] = [];
  let n = 0;
  const instrumentation: FetchInstrumentation = {
    request(info) {
      requests.push(info);
      const r = ++n;
      log.push(`request ${r}`);
      return {
        try({ member, attempt, hedge, headers }) {
          const id = `${r}.${attempt}`;
          headers.set('traceparent', `00-${'0'.repeat(31)}${r}-${'0'.repeat(15)}${attempt}-01`);
          log.push(`try ${id} ${member.id}${hedge ? ' hedge' : ''}`);
          return {
            end(res) {
              tryEnds.push(res);
              log.push(`try-end ${id} ${res.status ?? (res.error as Error).name}`);
            },
          };
        },
        end(res) {
          ends.push(res);
          log.push(`end ${r} ${res.status ?? (res.error as Error).name} tries=${res.tries} retries=${res.retries}`);
        },
      };
    },
  };
  return { instrumentation, log, requests, ends, tryEnds };
}

const fast = { initialBackoffMs: 1, maxBackoffMs: 2 };

test.serial('one request with two retries: one request scope, three try scopes, headers per try', async (t) => {
  members[0]!.status = 503;
  members[1]!.status = 503;
  const rec = recorder();
  const f = createFetch({
    balancer: new InOrder(members),
    service: 'http://api',
    retry: fast,
    instrumentation: rec.instrumentation,
  });
  const res = await f('http://api/users/7?x=1', { method: 'get' });
  t.is(await res.text(), 'c');
  t.deepEqual(rec.requests, [
    { method: 'GET', url: 'http://api/users/7?x=1', path: '/users/7?x=1', service: 'http://api', policy: '' },
  ]);
  t.deepEqual(rec.log, [
    'request 1',
    'try 1.1 a',
    'try-end 1.1 503',
    'try 1.2 b',
    'try-end 1.2 503',
    'try 1.3 c',
    'try-end 1.3 200',
    'end 1 200 tries=3 retries=2',
  ]);
  t.true(rec.tryEnds.every((e) => typeof e.rttMs === 'number' && e.rttMs >= 0));
  // each member saw the traceparent its own try set
  t.deepEqual(
    members.map((m) => m.seen.map((h) => h.traceparent)),
    [1, 2, 3].map((a) => [`00-${'0'.repeat(31)}1-${'0'.repeat(15)}${a}-01`]),
  );
});

test.serial('failures reach the scopes as errors; the policy and the target are named', async (t) => {
  const rec = recorder();
  const dead = createServer();
  await new Promise<void>((r) => dead.listen(0, '127.0.0.1', () => r()));
  const port = (dead.address() as AddressInfo).port;
  await new Promise<void>((r) => dead.close(() => r()));
  const target = `static:///127.0.0.1:${port}`;
  const f = createFetch({
    target,
    policy: 'least_request',
    outlierDetection: false,
    retry: { ...fast, maxAttempts: 2 },
    instrumentation: rec.instrumentation,
  });
  try {
    await t.throwsAsync(f('/x'), { instanceOf: TypeError });
    t.is(rec.requests[0]!.service, target);
    t.is(rec.requests[0]!.policy, 'least_request');
    // one member: the retry goes to it again; the first refusal is a free (transparent) retry, the second
    // refusal by the same member counts, so maxAttempts 2 allows one more
    t.deepEqual(rec.log, [
      'request 1',
      `try 1.1 127.0.0.1:${port}`,
      'try-end 1.1 TypeError',
      `try 1.2 127.0.0.1:${port}`,
      'try-end 1.2 TypeError',
      `try 1.3 127.0.0.1:${port}`,
      'try-end 1.3 TypeError',
      'end 1 TypeError tries=3 retries=2',
    ]);
    t.is(((rec.ends[0]!.error as Error).cause as { code?: string }).code, 'ECONNREFUSED');
  } finally {
    f.close();
  }
});

test.serial('hedged tries are marked and carry their own headers', async (t) => {
  const clock = new VirtualClock(0);
  const rec = recorder();
  const sent: { url: string; traceparent: string | null }[] = [];
  const f = createFetch({
    balancer: new InOrder(members),
    clock,
    hedge: { delayMs: 50 },
    instrumentation: rec.instrumentation,
    fetch: ((url: string, init: RequestInit) => {
      sent.push({ url, traceparent: new Headers(init.headers).get('traceparent') });
      if (sent.length === 1)
        return new Promise((_r, reject) => init.signal!.addEventListener('abort', () => reject(init.signal!.reason)));
      return Promise.resolve(new Response('second'));
    }) as typeof fetch,
  });
  const p = f('/h');
  await clock.advance(50);
  t.is(await (await p).text(), 'second');
  await clock.advance(0);
  t.deepEqual(
    sent.map((s) => s.traceparent),
    [`00-${'0'.repeat(31)}1-${'0'.repeat(15)}1-01`, `00-${'0'.repeat(31)}1-${'0'.repeat(15)}2-01`],
  );
  t.deepEqual(rec.log, [
    'request 1',
    'try 1.1 a',
    'try 1.2 b hedge',
    'try-end 1.2 200',
    'end 1 200 tries=2 retries=0',
    'try-end 1.1 AbortError',
  ]);
});

test.serial(
  'several instrumentations are called in order; absent scopes are skipped; bad ones are typed errors',
  async (t) => {
    const one = recorder();
    const two = recorder();
    const calls: string[] = [];
    const none: FetchInstrumentation = {
      request: () => {
        calls.push('none');
        return undefined;
      },
    };
    const f = createFetch({
      balancer: new InOrder(members),
      instrumentation: [one.instrumentation, none, two.instrumentation],
    });
    t.is(await (await f('/x')).text(), 'a');
    t.deepEqual(one.log, two.log);
    t.deepEqual(one.log, ['request 1', 'try 1.1 a', 'try-end 1.1 200', 'end 1 200 tries=1 retries=0']);
    t.deepEqual(calls, ['none']);
    t.throws(() => createFetch({ balancer: new InOrder(members), instrumentation: {} as never }), {
      instanceOf: TypeError,
      message: /^instrumentation must be an object with request\(\)/,
    });
    t.throws(() => createFetch({ balancer: new InOrder(members), instrumentation: [none, 5] as never }), {
      instanceOf: TypeError,
      message: /^instrumentation\[1\] must be an object with request\(\), got 5/,
    });
  },
);

test.serial("on('event'): try, retry, request-end per request; listeners come and go", async (t) => {
  members[0]!.status = 502;
  const f = createFetch({ balancer: new InOrder(members), retry: fast });
  const seen: FetchEvent[] = [];
  const off = f.on('event', (e) => seen.push(e));
  t.is(await (await f('/1')).text(), 'b');
  await t.throwsAsync(f('//evil.example/x'), { instanceOf: UnsafeTargetError });
  off();
  await f('/3');
  t.deepEqual(
    seen.map((e) => [e.type, e.request, e.member, e.status, e.ok, e.tries]),
    [
      ['try', 1, 'a', undefined, undefined, undefined],
      ['retry', 1, 'a', 502, undefined, undefined],
      ['try', 1, 'b', undefined, undefined, undefined],
      ['request-end', 1, undefined, 200, true, 2],
      ['request-end', 2, undefined, undefined, false, 0],
    ],
  );
  t.true(seen[4]!.error instanceof UnsafeTargetError);
  t.throws(() => f.on('events' as 'event', () => {}), { instanceOf: RangeError, message: /event must be 'event'/ });
  t.throws(() => f.on('event', 5 as never), { instanceOf: TypeError, message: /listener must be a function/ });
});

test.serial("'throttled': the retry budget refusing a retry is an event, once per request", async (t) => {
  for (const m of members) m.status = 503;
  const events: FetchEvent[] = [];
  const f = createFetch({
    balancer: new InOrder(members),
    retry: fast,
    retryThrottling: { maxTokens: 2, tokenRatio: 0.1 },
    onEvent: (e) => events.push(e),
  });
  // tokens 2 → a 503 takes one (1 left, not > 1): the retry is refused
  const res = await f('/t');
  t.is(res.status, 503);
  t.deepEqual(
    events.map((e) => e.type),
    ['try', 'throttled', 'request-end'],
  );
  t.deepEqual(events.at(-1), { type: 'request-end', request: 1, attempt: 1, ok: false, status: 503, tries: 1 });
});

test("'give-up' names the last try made, as 'request-end' does (0 when none was)", async (t) => {
  const events: FetchEvent[] = [];
  const f = createFetch({
    endpoints: ['10.0.0.1:80', '10.0.0.2:80', '10.0.0.3:80'],
    outlierDetection: false,
    retry: { maxAttempts: 5, ...fast },
    // tokens 4 → 3 after the first failure (a retry), → 2 after the second (not > 2: refused)
    retryThrottling: { maxTokens: 4, tokenRatio: 0.1 },
    onEvent: (e) => events.push(e),
    fetch: () => Promise.reject(new TypeError('fetch failed')),
  });
  await t.throwsAsync(f('/x'), { message: 'fetch failed' });
  t.deepEqual(
    events.map((e) => [e.type, e.attempt]),
    [
      ['try', 1],
      ['retry', 2],
      ['try', 2],
      ['throttled', 3],
      ['give-up', 2],
      ['request-end', 2],
    ],
  );
  // no try: aborted before the first
  events.length = 0;
  await t.throwsAsync(f('/x', { signal: AbortSignal.abort(new Error('gone')) }), { message: 'gone' });
  t.deepEqual(
    events.map((e) => [e.type, e.attempt]),
    [
      ['give-up', 0],
      ['request-end', 0],
    ],
  );
  f.close();
});

test('the built stack exposes its resolver, checker and detector; a given balancer exposes none', (t) => {
  const f = createFetch({
    target: 'static:///127.0.0.1:9',
    healthCheck: { path: '/healthz', intervalMs: 60_000 },
  });
  try {
    t.is(typeof f.resolver?.on, 'function');
    t.true(f.checker instanceof HealthChecker);
    t.true(f.detector instanceof OutlierDetector);
    t.true(f.balancer instanceof Balancer);
  } finally {
    f.close();
  }
  const g = createFetch({ endpoints: ['127.0.0.1:9'], outlierDetection: false });
  t.is(g.resolver, undefined);
  t.is(g.checker, undefined);
  t.is(g.detector, undefined);
  g.close();
  const h = createFetch({ balancer: new InOrder(members) });
  t.deepEqual([h.resolver, h.checker, h.detector], [undefined, undefined, undefined]);
});

test.serial('nobody observing: a plain GET is sent with no Headers copy and no AbortController', async (t) => {
  const inits: (RequestInit | undefined)[] = [];
  const spy = ((url: string, init?: RequestInit) => {
    inits.push(init);
    return fetch(url, init);
  }) as typeof fetch;
  const plain = createFetch({ balancer: new InOrder(members), fetch: spy });
  await (await plain('/x')).text();
  t.deepEqual(inits[0], { redirect: 'manual' });
  // an instrumentation gets a Headers object to write to; a deadline gets a signal
  const traced = createFetch({
    balancer: new InOrder(members),
    fetch: spy,
    instrumentation: recorder().instrumentation,
  });
  await (await traced('/x', { headers: { 'x-a': '1' } })).text();
  t.true(inits[1]!.headers instanceof Headers);
  t.is((inits[1]!.headers as Headers).get('x-a'), '1');
  t.is(inits[1]!.signal, undefined);
  const bounded = createFetch({ balancer: new InOrder(members), fetch: spy, deadlineMs: 5000 });
  await (await bounded('/x')).text();
  t.true(inits[2]!.signal instanceof AbortSignal);
});

test.serial('a throwing observer does not break the request; its error is reported on its own', async (t) => {
  const f = createFetch({
    balancer: new InOrder(members),
    instrumentation: {
      request: () => {
        throw new Error('tracer bug');
      },
    },
  });
  const uncaught: unknown[] = [];
  const listeners = process.listeners('uncaughtException');
  process.removeAllListeners('uncaughtException');
  process.on('uncaughtException', (e) => uncaught.push(e));
  try {
    f.on('event', () => {
      throw new Error('listener bug');
    });
    t.is(await (await f('/x')).text(), 'a');
    await new Promise((r) => setImmediate(r));
  } finally {
    process.removeAllListeners('uncaughtException');
    for (const l of listeners) process.on('uncaughtException', l);
  }
  t.deepEqual(
    uncaught.map((e) => (e as Error).message),
    ['tracer bug', 'listener bug', 'listener bug'],
  );
});

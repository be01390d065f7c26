// No request fails because discovery has not answered yet (issue 12): createFetch and createProxy wait for a
// member through the Balancer's pickAsync, bounded by the deadline, the caller's signal and readyTimeoutMs; a
// resolver failure before any list fails the request at once with the resolver's error. Real loopback
// node:http servers for the README quick start, 64 callers in the same tick, the proxy, an unreachable etcd,
// and a member killed mid-stream; a VirtualClock for the exact bounds of the wait.
import test from 'ava';
import { createServer, request } from 'node:http';
import { Balancer } from '../../bindings/balancing/balancer.js';
import { UnavailableError } from '../../bindings/balancing/errors.js';
import { ResolverError } from '../../bindings/discovery/errors.js';
import { createFetch, NoMemberError, type FetchEvent, type PickSource } from '../../bindings/http/fetch.js';
import { createProxy } from '../../bindings/http/proxy.js';
import { VirtualClock } from '../../bindings/util/clock.js';
import { earlyTimers } from '../helpers/clock.js';
import { startBackend } from '../helpers/backends.js';
import { closedPort, listen } from '../helpers/process.js';

function get(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode!, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

test('README quick start: the first call through a static target succeeds', async (t) => {
  const server = createServer((req, res) => res.end(`hello ${req.url}`));
  const port = await listen(server);
  const f = createFetch({ target: `static:///127.0.0.1:${port}`, policy: 'peak_ewma' });
  try {
    const res = await f('/x');
    t.is(res.status, 200);
    t.is(await res.text(), 'hello /x');
    t.is(f.stats().failures, 0);
  } finally {
    f.close();
    server.close();
  }
});

test('64 callers in the same tick as createFetch: 0 failures', async (t) => {
  const servers = [createServer((_q, s) => s.end('a')), createServer((_q, s) => s.end('b'))];
  const ports = await Promise.all(servers.map(listen));
  const f = createFetch({ target: `static:///${ports.map((p) => `127.0.0.1:${p}`).join(',')}` });
  try {
    const results = await Promise.allSettled(Array.from({ length: 64 }, (_, i) => f(`/r/${i}`).then((r) => r.text())));
    const failed = results.filter((r) => r.status === 'rejected');
    t.deepEqual(failed, []);
    const bodies = results.map((r) => (r as PromiseFulfilledResult<string>).value);
    t.deepEqual([...new Set(bodies)].sort(), ['a', 'b'], 'both members served');
    t.deepEqual(f.stats(), { requests: 64, tries: 64, retries: 0, hedges: 0, failures: 0 });
  } finally {
    f.close();
    for (const s of servers) s.close();
  }
});

test('createProxy: 64 requests arriving as the proxy starts are all answered 200', async (t) => {
  const backend = createServer((req, res) => res.end(`backend ${req.url}`));
  const port = await listen(backend);
  // the proxy is created by the first request and handles it at once, before the resolver's first list
  let handler: ReturnType<typeof createProxy> | undefined;
  const proxy = createServer((req, res) => {
    handler ??= createProxy({ target: `static:///127.0.0.1:${port}` });
    handler(req, res);
  });
  const proxyPort = await listen(proxy);
  try {
    const results = await Promise.all(Array.from({ length: 64 }, (_, i) => get(proxyPort, `/p/${i}`)));
    t.deepEqual(
      results.filter((r) => r.status !== 200),
      [],
    );
    t.deepEqual(
      results.map((r) => r.body),
      results.map((_, i) => `backend /p/${i}`),
    );
  } finally {
    handler?.fetch.close();
    proxy.close();
    backend.close();
  }
});

test('a resolver failure before any list fails the request at once with the resolver error, naming the target', async (t) => {
  const port = await closedPort();
  const target = 'etcd:///services/nothing';
  // readyTimeoutMs far beyond the test's own timeout: only the resolver's error can end these requests
  const f = createFetch({
    target: { target, endpoints: [`http://127.0.0.1:${port}`] } as never,
    readyTimeoutMs: 600_000,
  });
  try {
    const errors = await Promise.all(
      Array.from({ length: 8 }, () =>
        f('/x').then(
          () => undefined,
          (e: unknown) => e,
        ),
      ),
    );
    for (const e of errors) {
      t.true(e instanceof ResolverError, String(e));
      t.is((e as ResolverError).target, target);
      t.regex((e as Error).message, /etcd:\/\/\/services\/nothing/);
    }
    t.is(f.stats().failures, 8);
    t.is(f.stats().tries, 0, 'nothing was sent');
  } finally {
    f.close();
  }
});

test('createProxy answers 503 when the resolver failed', async (t) => {
  const port = await closedPort();
  const handler = createProxy({
    target: { target: 'etcd:///services/nothing', endpoints: [`http://127.0.0.1:${port}`] } as never,
    readyTimeoutMs: 600_000,
  });
  const proxy = createServer(handler);
  const proxyPort = await listen(proxy);
  try {
    const r = await get(proxyPort, '/x');
    t.is(r.status, 503);
    t.regex(r.body, /resolver etcd:\/\/\/services\/nothing/);
  } finally {
    handler.fetch.close();
    proxy.close();
  }
});

/** A fetch that answers 'ok' from whichever member URL it is given, recording each call's time and URL. */
function scripted(clock: VirtualClock, calls: string[], fail?: (url: string) => Error | undefined) {
  return ((input: string) => {
    calls.push(`${clock.now()} ${input}`);
    const err = fail?.(input);
    return err === undefined ? Promise.resolve(new Response('ok')) : Promise.reject(err);
  }) as typeof globalThis.fetch;
}

test('the wait for a member ends with DeadlineExceededError exactly at the deadline, no timer left', async (t) => {
  const clock = new VirtualClock(0);
  const balancer = new Balancer({ clock });
  const calls: string[] = [];
  const f = createFetch({ balancer, clock, fetch: scripted(clock, calls), deadlineMs: 300 });
  let error: Error | undefined;
  const done = f('/x').catch((e: Error) => void (error = e));
  await clock.advance(299);
  t.is(error, undefined, 'still waiting one tick before the deadline');
  await clock.advance(1);
  await done;
  t.is(error?.name, 'DeadlineExceededError');
  t.true(error?.cause instanceof UnavailableError, String(error?.cause));
  t.deepEqual(calls, []);
  t.is(clock.pending, 0);
});

test('a wait the deadline bounds ends with DeadlineExceededError though its timer fires before the clock reads the deadline', async (t) => {
  // Node's timers run on a millisecond clock and may fire up to 1 ms before performance.now() reads their time
  const clock = new VirtualClock(0);
  const early = earlyTimers(clock, 0.6);
  const balancer = new Balancer({ clock: early });
  const f = createFetch({ balancer, clock: early, fetch: scripted(clock, []), deadlineMs: 100, readyTimeoutMs: 200 });
  let error: Error | undefined;
  const done = f('/x').catch((e: Error) => void (error = e));
  await clock.advance(100);
  await done;
  t.is(error?.name, 'DeadlineExceededError', String(error));
  t.true(error?.cause instanceof UnavailableError, String(error?.cause));
  // hedged: the same
  const hedged = createFetch({
    balancer,
    clock: early,
    fetch: scripted(clock, []),
    deadlineMs: 100,
    readyTimeoutMs: 200,
    hedge: { delayMs: 5, maxAttempts: 2 },
  });
  let hedgedError: Error | undefined;
  const hedgedDone = hedged('/x').catch((e: Error) => void (hedgedError = e));
  await clock.advance(100);
  await hedgedDone;
  t.is(hedgedError?.name, 'DeadlineExceededError', String(hedgedError));
  // a wait that readyTimeoutMs ended a moment before the deadline is the wait's UnavailableError, not the deadline's
  const g = createFetch({ balancer, clock: early, fetch: scripted(clock, []), deadlineMs: 100, readyTimeoutMs: 99 });
  let readyError: Error | undefined;
  const readyDone = g('/x').catch((e: Error) => void (readyError = e));
  await clock.advance(100);
  await readyDone;
  t.true(readyError instanceof UnavailableError, String(readyError));
  // and on the real clock, every time
  const real = createFetch({ endpoints: [], deadlineMs: 30, readyTimeoutMs: 60 });
  const names = await Promise.all(Array.from({ length: 20 }, () => real('/x').catch((e: Error) => e.name)));
  t.deepEqual(new Set(names), new Set(['DeadlineExceededError']));
  real.close();
});

test('readyTimeoutMs bounds the wait (UnavailableError); members arriving within it serve the request', async (t) => {
  const clock = new VirtualClock(0);
  const balancer = new Balancer({ clock, target: 'static:///later' });
  const calls: string[] = [];
  const f = createFetch({ balancer, clock, fetch: scripted(clock, calls), readyTimeoutMs: 100 });
  let error: Error | undefined;
  const first = f('/a').catch((e: Error) => void (error = e));
  await clock.advance(99);
  t.is(error, undefined);
  await clock.advance(1);
  await first;
  t.true(error instanceof UnavailableError, String(error));
  t.is((error as UnavailableError).target, 'static:///later');

  const second = f('/b');
  await clock.advance(40);
  balancer.add({ id: 'm', host: '127.0.0.1', port: 1000 });
  await clock.advance(0);
  t.is(await (await second).text(), 'ok');
  t.deepEqual(calls, ['140 http://127.0.0.1:1000/b'], 'sent as soon as the member arrived');
  t.is(clock.pending, 0);
});

test('close() while requests wait for members awaiting their first health check: they fail at once, none is sent', async (t) => {
  // close() stopped the health wiring first, which put the pending members back into rotation: the waiting
  // requests were sent to members nobody had checked, and ran to their deadline (a walkthrough)
  const clock = new VirtualClock(0);
  const sent: string[] = [];
  const f = createFetch({
    target: 'static:///10.0.0.1:80,10.0.0.2:80',
    clock,
    deadlineMs: 8000,
    healthCheck: { path: '/healthz', intervalMs: 1000, timeoutMs: 500 },
    fetch: ((input: string) => {
      if (String(input).endsWith('/healthz')) return new Promise<Response>(() => {}); // first results never come
      sent.push(String(input));
      return Promise.resolve(new Response('ok'));
    }) as typeof globalThis.fetch,
  });
  const results = [f('/a'), f('/b'), f('/c')].map((p) =>
    p.then(
      () => 'answered',
      (e: Error) => e.name,
    ),
  );
  await clock.advance(10);
  t.like((f.balancer as Balancer).stats(), { warming: true });
  f.close();
  t.deepEqual(await Promise.all(results), ['UnavailableError', 'UnavailableError', 'UnavailableError']);
  t.deepEqual(sent, []);
});

test('a try the deadline cut short after a wait for members is not blamed on its member; a per-try timeout is', async (t) => {
  // 40 requests waited 990 of their 1000 ms for a first member: the 10 ms left timed their tries out and each
  // counted against that healthy member, which outlier detection then ejected (a walkthrough)
  const clock = new VirtualClock(0);
  const balancer = new Balancer({ clock });
  // a member that never answers: the try ends with its signal, as fetch's
  const hang = ((_url: string, init?: RequestInit) =>
    new Promise<Response>((_, reject) =>
      init?.signal?.addEventListener('abort', () => reject(init.signal!.reason)),
    )) as typeof globalThis.fetch;
  const f = createFetch({ balancer, clock, fetch: hang, deadlineMs: 1000, retry: false });
  const late = f('/x').catch((e: Error) => e.name);
  await clock.advance(990);
  balancer.add({ id: 'm', host: '127.0.0.1', port: 1000 });
  await clock.advance(10);
  t.is(await late, 'DeadlineExceededError');
  t.like(balancer.stats().members[0], { failures: 0, active: 0 });
  // a try that had its per-try time (or most of the deadline) and timed out is the member's failure
  const g = createFetch({ balancer, clock, fetch: hang, deadlineMs: 1000, perTryTimeoutMs: 100, retry: false });
  const slow = g('/y').catch((e: Error) => e.name);
  await clock.advance(100);
  t.is(await slow, 'TimeoutError');
  t.like(balancer.stats().members[0], { failures: 1, active: 0 });
  const h = createFetch({ balancer, clock, fetch: hang, deadlineMs: 1000, retry: false });
  const whole = h('/z').catch((e: Error) => e.name);
  await clock.advance(1000);
  t.is(await whole, 'DeadlineExceededError');
  t.like(balancer.stats().members[0], { failures: 2, active: 0 });
});

test('the caller’s abort ends the wait with its reason', async (t) => {
  const clock = new VirtualClock(0);
  const balancer = new Balancer({ clock });
  const f = createFetch({ balancer, clock, fetch: scripted(clock, []) });
  const ctl = new AbortController();
  const p = f('/x', { signal: ctl.signal });
  await clock.advance(10);
  const reason = new Error('caller gave up');
  ctl.abort(reason);
  t.is(await p.catch((e: unknown) => e), reason);
  t.is(clock.pending, 0);
});

test('a retry that finds no member waits for one (within the deadline)', async (t) => {
  const clock = new VirtualClock(0);
  const balancer = new Balancer({ clock, endpoints: [{ id: 'a', host: '127.0.0.1', port: 1001 }] });
  const calls: string[] = [];
  const reset = Object.assign(new TypeError('fetch failed'), { cause: { code: 'ECONNRESET' } });
  const f = createFetch({
    balancer,
    clock,
    random: () => 0,
    deadlineMs: 1000,
    fetch: scripted(clock, calls, (url) => {
      if (url.includes(':1001/')) {
        balancer.remove('a'); // the member goes away with its connection
        return reset;
      }
      return undefined;
    }),
  });
  const p = f('/x');
  await clock.advance(500);
  balancer.add({ id: 'b', host: '127.0.0.1', port: 1002 });
  await clock.advance(0);
  t.is(await (await p).text(), 'ok');
  t.deepEqual(calls, ['0 http://127.0.0.1:1001/x', '500 http://127.0.0.1:1002/x']);
  t.deepEqual(f.stats(), { requests: 1, tries: 2, retries: 1, hedges: 0, failures: 0 });
  t.is(clock.pending, 0);
});

test('a PickSource without pickAsync still fails at once with NoMemberError', async (t) => {
  const bare: PickSource = { pick: () => ({ type: 'none', reason: 'empty' }) };
  const f = createFetch({ balancer: bare });
  await t.throwsAsync(f('/x'), { instanceOf: NoMemberError, message: /no member available \(empty\)/ });
  t.throws(() => createFetch({ balancer: { pick: bare.pick, pickAsync: 1 } as never }), {
    instanceOf: TypeError,
    message: /balancer\.pickAsync/,
  });
  t.throws(() => createFetch({ balancer: bare, readyTimeoutMs: -1 }), {
    instanceOf: RangeError,
    message: /readyTimeoutMs.*-1/,
  });
});

test('GETs in flight when a member is killed, and later ones refused by it, are retried on the other: 0 failures', async (t) => {
  const victim = await startBackend('victim');
  const other = await startBackend('other');
  victim.mode = { kind: 'delay', ms: 30 }; // requests are in flight on it when it dies
  const f = createFetch({
    endpoints: [
      { id: 'victim', host: '127.0.0.1', port: victim.port },
      { id: 'other', host: '127.0.0.1', port: other.port },
    ],
    outlierDetection: false,
    retry: { initialBackoffMs: 1, maxBackoffMs: 2 },
    retryThrottling: false, // this test is about which errors are retried, not the budget
  });
  const retries: FetchEvent[] = [];
  f.on('event', (e) => {
    if (e.type === 'retry') retries.push(e);
  });
  let sent = 0;
  let failed = 0;
  const served = new Map<string, number>();
  const TOTAL = 600;
  const worker = async () => {
    while (sent < TOTAL) {
      sent++;
      try {
        const res = await f(`/s/${sent}`);
        const who = await res.text();
        if (res.status !== 200) failed++;
        else served.set(who, (served.get(who) ?? 0) + 1);
      } catch {
        failed++;
      }
    }
  };
  const kill = async () => {
    while (sent < TOTAL / 3) await new Promise((r) => setTimeout(r, 2));
    await victim.stop(); // closes every connection, the ones with requests in flight too
  };
  try {
    await Promise.all([kill(), ...Array.from({ length: 16 }, worker)]);
  } finally {
    f.close();
    await other.stop();
  }
  t.is(failed, 0);
  t.is((served.get('victim') ?? 0) + (served.get('other') ?? 0), TOTAL);
  t.true((served.get('victim') ?? 0) > 0);
  const codes = retries.map((e) => (e.error as { cause?: { code?: string } }).cause?.code ?? String(e.error));
  t.true(retries.length > 0, 'the kill caused retries');
  t.true(retries.every((e) => e.member === 'victim'));
  t.true(codes.includes('ECONNREFUSED'), `refused connections after the kill: ${[...new Set(codes)].join(',')}`);
  t.true(
    codes.some((c) => c !== 'ECONNREFUSED'),
    `requests cut in flight (socket closed) were retried too: ${[...new Set(codes)].join(',')}`,
  );
});

// createFetch against real loopback backends: routing, retries on another member, idempotency rules,
// Retry-After, timeouts and deadline, caller aborts, hedging, the retry budget, and the SSRF table; then the
// same timers on a VirtualClock with a scripted fetch, at exact virtual times.
import test from 'ava';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createFetch, type FetchOutcome, type FetchPick, type PickSource } from '../../bindings/http/fetch.js';
import { UnsafeTargetError } from '../../bindings/http/url-guard.js';
import { Balancer } from '../../bindings/balancing/balancer.js';
import { VirtualClock } from '../../bindings/util/clock.js';
import { startBackend, type Backend } from '../helpers/backends.js';

/** Round robin with exclusion, recording each completed outcome: enough to drive the wrapper. */
class RoundRobin implements PickSource {
  i = 0;
  outcomes: (FetchOutcome & { id: string })[] = [];
  constructor(readonly backends: Backend[]) {}
  pick(ctx: { exclude?: ReadonlySet<string> } = {}): FetchPick {
    const n = this.backends.length;
    let b: Backend | undefined;
    for (let j = 0; j < n && b === undefined; j++) {
      const c = this.backends[(this.i + j) % n]!;
      if (!ctx.exclude?.has(c.name)) {
        b = c;
        this.i = (this.i + j + 1) % n;
      }
    }
    if (b === undefined) return { type: 'none', reason: 'empty' };
    return {
      type: 'pick',
      member: { id: b.name, host: '127.0.0.1', port: b.port },
      handle: { done: (o) => this.outcomes.push({ id: b.name, ...o }) },
    };
  }
}

let backends: Backend[] = [];
let trap: Server;
let trapPort = 0;
let trapConnections = 0;

test.before(async () => {
  backends = await Promise.all(['a', 'b', 'c'].map((n) => startBackend(n)));
  trap = createServer((_req, res) => res.end('trap'));
  trap.on('connection', () => trapConnections++);
  await new Promise<void>((r) => trap.listen(0, '127.0.0.1', () => r()));
  trapPort = (trap.address() as AddressInfo).port;
});

test.after.always(async () => {
  await Promise.all(backends.map((b) => b.stop()));
  trap.close();
});

test.beforeEach(() => {
  for (const b of backends) {
    b.mode = { kind: 'ok' };
    b.requests = [];
  }
});

const fast = { initialBackoffMs: 1, maxBackoffMs: 2 };

test.serial('routes paths and service URLs to members, rewriting only the origin', async (t) => {
  const bal = new RoundRobin(backends);
  const f = createFetch({ balancer: bal, service: 'http://api' });
  const names = new Set<string>();
  for (let i = 0; i < 6; i++)
    names.add(await (await f(i % 2 ? '/users/42?x=1#frag' : 'http://api/users/42?x=1')).text());
  t.deepEqual([...names].sort(), ['a', 'b', 'c']);
  for (const b of backends) for (const r of b.requests) t.is(r.url, '/users/42?x=1');
  t.is(bal.outcomes.length, 6);
  t.true(bal.outcomes.every((o) => o.ok && o.status === 200 && typeof o.rttMs === 'number'));
  const req = new Request('http://api/echo', { method: 'PUT', body: 'payload' });
  t.is((await f(req)).status, 200);
  t.true(backends.some((b) => b.requests.some((r) => r.method === 'PUT' && r.body === 'payload')));
});

test.serial('a 503 is retried on a different member; each retry on another member', async (t) => {
  backends[0]!.mode = { kind: 'status', status: 503 };
  backends[1]!.mode = { kind: 'status', status: 503 };
  const bal = new RoundRobin(backends);
  const events: string[] = [];
  const f = createFetch({ balancer: bal, retry: fast, onEvent: (e) => events.push(`${e.type}:${e.member ?? ''}`) });
  const res = await f('/x');
  t.is(await res.text(), 'c');
  t.deepEqual(
    events.filter((e) => e.startsWith('try')),
    ['try:a', 'try:b', 'try:c'],
  );
  t.deepEqual(
    bal.outcomes.map((o) => [o.id, o.ok]),
    [
      ['a', false],
      ['b', false],
      ['c', true],
    ],
  );
  t.is(f.stats().retries, 2);
});

test.serial('POST is not retried on a status error, but is retried when the connection was refused', async (t) => {
  backends[0]!.mode = { kind: 'status', status: 503 };
  const bal = new RoundRobin(backends);
  const f = createFetch({ balancer: bal, retry: fast });
  const res = await f('/x', { method: 'POST', body: 'once' });
  t.is(res.status, 503);
  t.is(backends[0]!.requests.length, 1);
  t.is(backends[1]!.requests.length + backends[2]!.requests.length, 0);
  // a refused connection: nothing was sent, so even a POST moves on
  const dead = { name: 'dead', port: trapPort + 0, requests: [] } as unknown as Backend;
  const closed = await startBackend('closed');
  await closed.stop();
  dead.port = closed.port;
  const bal2 = new RoundRobin([dead, backends[1]!]);
  const f2 = createFetch({ balancer: bal2, retry: fast });
  const r2 = await f2('/y', { method: 'POST', body: 'p' });
  t.is(await r2.text(), 'b');
  t.deepEqual(
    bal2.outcomes.map((o) => [o.id, o.ok]),
    [
      ['dead', false],
      ['b', true],
    ],
  );
  // idempotent: true makes a POST retryable on a status
  const f3 = createFetch({ balancer: new RoundRobin(backends), retry: fast });
  t.is((await f3('/z', { method: 'POST', body: 'again', idempotent: true })).status, 200);
});

test.serial('streamed bodies are sent once and never retried', async (t) => {
  backends[0]!.mode = { kind: 'status', status: 503 };
  const f = createFetch({ balancer: new RoundRobin(backends), retry: fast });
  const stream = new ReadableStream({
    start(c) {
      c.enqueue(new TextEncoder().encode('streamed'));
      c.close();
    },
  });
  const res = await f('/s', { method: 'PUT', body: stream });
  t.is(res.status, 503);
  t.is(backends[0]!.requests[0]!.body, 'streamed');
  t.is(backends[1]!.requests.length, 0);
});

test.serial('Retry-After raises the wait; a wait past the deadline returns the response', async (t) => {
  backends[0]!.mode = { kind: 'status', status: 503, retryAfter: '1' };
  const f = createFetch({ balancer: new RoundRobin(backends), retry: fast });
  const t0 = performance.now();
  t.not(await (await f('/r')).text(), 'a');
  t.true(performance.now() - t0 >= 950);
  const g = createFetch({ balancer: new RoundRobin(backends), retry: fast, deadlineMs: 500 });
  const res = await g('/r');
  t.is(res.status, 503);
  t.is(res.headers.get('retry-after'), '1');
});

test.serial('a hanging member is cut by the per-try timeout and the try moves on', async (t) => {
  backends[0]!.mode = { kind: 'hang' };
  const bal = new RoundRobin(backends);
  const f = createFetch({ balancer: bal, perTryTimeoutMs: 200, retry: fast });
  const t0 = performance.now();
  t.not(await (await f('/h')).text(), 'a');
  const dt = performance.now() - t0;
  t.true(dt >= 190 && dt < 3000, `took ${dt}`);
  t.is(bal.outcomes[0]!.ok, false);
  t.is((bal.outcomes[0]!.error as Error).name, 'TimeoutError');
});

test.serial('the overall deadline holds even when every member hangs', async (t) => {
  for (const b of backends) b.mode = { kind: 'hang' };
  const f = createFetch({
    balancer: new RoundRobin(backends),
    perTryTimeoutMs: 150,
    deadlineMs: 400,
    retry: { ...fast, maxAttempts: 10 },
  });
  const t0 = performance.now();
  await t.throwsAsync(f('/d'), { name: 'DeadlineExceededError' });
  const dt = performance.now() - t0;
  t.true(dt >= 390 && dt < 2000, `took ${dt}`);
});

test.serial("the caller's abort wins at once and is not retried", async (t) => {
  for (const b of backends) b.mode = { kind: 'hang' };
  const f = createFetch({ balancer: new RoundRobin(backends), retry: fast });
  const ctl = new AbortController();
  setTimeout(() => ctl.abort(new Error('user cancelled')), 100);
  const t0 = performance.now();
  await t.throwsAsync(f('/a', { signal: ctl.signal }), { message: 'user cancelled' });
  t.true(performance.now() - t0 < 1500);
  t.is(
    backends.reduce((s, b) => s + b.requests.length, 0),
    1,
  );
});

test.serial('hedging: a second try starts after delayMs on another member; the first answer wins', async (t) => {
  backends[0]!.mode = { kind: 'delay', ms: 1500 };
  const bal = new RoundRobin(backends);
  const f = createFetch({ balancer: bal, hedge: { delayMs: 100 } });
  const t0 = performance.now();
  t.not(await (await f('/hedge')).text(), 'a');
  t.true(performance.now() - t0 < 1200);
  t.is(f.stats().hedges, 1);
});

test.serial('the retry budget stops retries during an outage', async (t) => {
  for (const b of backends) b.mode = { kind: 'status', status: 503 };
  const f = createFetch({
    balancer: new RoundRobin(backends),
    retry: fast,
    retryThrottling: { maxTokens: 4, tokenRatio: 0.1 },
  });
  let tries = 0;
  for (let i = 0; i < 10; i++) {
    const before = f.stats().tries;
    t.is((await f('/o')).status, 503);
    tries += f.stats().tries - before;
  }
  // 4 tokens, retries allowed while tokens > 2: far fewer than 10 × 3 tries
  t.true(tries <= 13, `tries ${tries}`);
});

test.serial('SSRF: hostile targets are rejected and no socket reaches anything but members', async (t) => {
  const seen: string[] = [];
  const spy: typeof fetch = (input, init) => {
    seen.push(String(input));
    return fetch(input, init);
  };
  const f = createFetch({ balancer: new RoundRobin(backends), service: 'http://api', fetch: spy });
  const T = `127.0.0.1:${trapPort}`;
  const hostile = [
    `http://${T}/x`,
    `//${T}/x`,
    `http://api//${T}/x`,
    `/\x7f/${T}/x`,
    `///${T}/x`,
    `/\\${T}/x`,
    `\\\\${T}/x`,
    `/\t/${T}/x`,
    `/\n/${T}/x`,
    ` //${T}/x`,
    `http://api@${T}/x`,
    `http://api:pw@${T}/x`,
    `http://${T}#@api/x`,
    `http://${T}?@api/x`,
    `http://api.${T}/x`,
    `http://api:8080/x`,
    `https://api/x`,
    `HTTP://${T}/x`,
    `/%2f%2f${T}/x`,
    `/%5c${T}/x`,
    `file:///etc/passwd`,
    `javascript:alert(1)`,
    `data:text/plain,hi`,
    `http://[::1]:${trapPort}/x`,
    `http://0x7f000001:${trapPort}/x`,
    `api/x`,
    `../x`,
    ``,
  ];
  for (const h of hostile) {
    await t.throwsAsync(f(h), { instanceOf: TypeError }, JSON.stringify(h));
  }
  await t.throwsAsync(f(new URL(`http://${T}/x`)), { instanceOf: UnsafeTargetError });
  await t.throwsAsync(f(new Request(`http://${T}/x`)), { instanceOf: UnsafeTargetError });
  await t.throwsAsync(f('/x', { redirect: 'follow' }), { instanceOf: UnsafeTargetError });
  t.is(trapConnections, 0);
  t.deepEqual(seen, []);
  t.is(f.stats().tries, 0, 'refused before any pick: no member tried nor blamed');
  // allowed forms still work, and every URL sent is a member's
  for (const ok of ['/x', 'http://api/x', 'http://API/x', 'http://api:80/x', '/a/../x', '/%2e%2e/x'])
    t.is((await f(ok)).status, 200, ok);
  const members = new Set(backends.map((b) => `http://127.0.0.1:${b.port}`));
  t.true(seen.every((u) => members.has(new URL(u).origin)));
  t.is(trapConnections, 0);
  // an explicit pass-through for a non-balanced URL is the caller's choice
  const g = createFetch({ balancer: new RoundRobin(backends), passThrough: (u) => u.port === String(trapPort) });
  t.is(await (await g(`http://${T}/x`)).text(), 'trap');
});

test('bad options: typed errors naming the field', (t) => {
  const bal = new RoundRobin([]);
  t.throws(() => createFetch({} as never), { instanceOf: TypeError, message: /balancer/ });
  t.throws(() => createFetch({ balancer: bal, perTryTimeoutMs: -1 }), {
    instanceOf: RangeError,
    message: /perTryTimeoutMs.*-1/,
  });
  t.throws(() => createFetch({ balancer: bal, retry: { maxAttempts: 0 } }), {
    instanceOf: RangeError,
    message: /maxAttempts/,
  });
  t.throws(() => createFetch({ balancer: bal, retry: { initialBackoffMs: 10, maxBackoffMs: 5 } }), {
    instanceOf: RangeError,
    message: /maxBackoffMs/,
  });
  t.throws(() => createFetch({ balancer: bal, scheme: 'ftp' as 'http' }), {
    instanceOf: RangeError,
    message: /scheme/,
  });
  t.throws(() => createFetch({ balancer: bal, hedge: { delayMs: 0 } }), {
    instanceOf: RangeError,
    message: /hedge\.delayMs/,
  });
  t.throws(() => createFetch({ balancer: bal, clock: { now: () => 0 } as never }), {
    instanceOf: TypeError,
    message: /^clock must be a Clock/,
  });
});

/** A fetch that hangs until its signal aborts, recording when each request started on `clock`. */
function hangingFetch(clock: VirtualClock, calls: number[], answer?: (n: number) => Response | undefined) {
  return ((_input: string, init?: RequestInit) => {
    calls.push(clock.now());
    const res = answer?.(calls.length);
    if (res !== undefined) return Promise.resolve(res);
    return new Promise<Response>((_resolve, reject) => {
      const signal = init!.signal!;
      signal.addEventListener('abort', () => reject(signal.reason));
    });
  }) as typeof globalThis.fetch;
}

test('per-try timeouts, back-off and the deadline run on the injected clock, at exact virtual times', async (t) => {
  const clock = new VirtualClock(0);
  const calls: number[] = [];
  const bal = new RoundRobin(backends);
  const f = createFetch({
    balancer: bal,
    fetch: hangingFetch(clock, calls),
    clock,
    random: () => 0.5,
    perTryTimeoutMs: 100,
    deadlineMs: 350,
    retry: { initialBackoffMs: 10, maxBackoffMs: 40, maxAttempts: 10 },
  });
  let error: Error | undefined;
  const done = f('/v').catch((e: Error) => void (error = e));
  // try 1 at 0, cut at 100, back-off 0.5 × 10; try 2 at 105, cut at 205, back-off 0.5 × 20; try 3 at 215,
  // cut at 315, back-off 0.5 × 40; try 4 at 335 gets what is left of the deadline (15 ms).
  await clock.advance(349);
  t.deepEqual(calls, [0, 105, 215, 335]);
  t.is(error, undefined, 'still running one tick before the deadline');
  await clock.advance(1);
  await done;
  t.is(error?.name, 'DeadlineExceededError');
  t.regex(error!.message, /deadline of 350 ms exceeded after 4 tries/);
  // the fourth try, cut by the deadline to 15 ms (under half of it), timed out on the request's account: its
  // pick is cancelled, not reported as the member's failure
  t.deepEqual(
    bal.outcomes.map((o) => o.rttMs),
    [100, 100, 100, undefined],
  );
  t.is(clock.pending, 0, 'no timer left behind');
});

test('hedging waits delayMs on the injected clock; the loser is aborted', async (t) => {
  const clock = new VirtualClock(1000);
  const calls: number[] = [];
  const bal = new RoundRobin(backends);
  const f = createFetch({
    balancer: bal,
    fetch: hangingFetch(clock, calls, (n) => (n === 2 ? new Response('second') : undefined)),
    clock,
    hedge: { delayMs: 50 },
  });
  const res = f('/h');
  await clock.advance(49);
  t.deepEqual(calls, [1000]);
  await clock.advance(1);
  t.is(await (await res).text(), 'second');
  t.deepEqual(calls, [1000, 1050]);
  t.is(f.stats().hedges, 1);
  await clock.advance(0);
  t.is((bal.outcomes.find((o) => o.rttMs === 50)?.error as Error | undefined)?.name, 'AbortError', 'hedge lost');
  t.is(clock.pending, 0);
});

test('the replaced `now` option is a TypeError pointing to `clock`', (t) => {
  t.throws(() => createFetch({ endpoints: ['127.0.0.1:1'], now: () => 0 } as never), {
    instanceOf: TypeError,
    message: /now must be unset: it was replaced by clock/,
  });
});

test('a try is timed from the pick when the Balancer reads our clock, and not timed when it reads none', async (t) => {
  const clock = new VirtualClock(100);
  let reads = 0;
  const counted = Object.assign(Object.create(clock) as VirtualClock, {
    now: () => {
      reads++;
      return clock.now();
    },
  });
  const answer: typeof fetch = async () => {
    await clock.advance(7);
    return new Response('ok');
  };
  const endpoints = [{ id: 'a', host: '127.0.0.1', port: 1 }];
  // round_robin with no outcome listener: nothing uses an RTT, so no clock is read per request
  const plain = new Balancer({ endpoints, clock: counted });
  const f = createFetch({ balancer: plain, clock: counted, fetch: answer, retryThrottling: false });
  reads = 0;
  t.is((await f('/x')).status, 200);
  t.is(reads, 0);
  // timed: the pick's reading starts the try, one more read ends it
  const timed = new Balancer({ endpoints, clock: counted, measureRtt: true });
  const rtts: number[] = [];
  timed.on('outcome', (e) => rtts.push(e.rttMs));
  const g = createFetch({ balancer: timed, clock: counted, fetch: answer, retryThrottling: false });
  reads = 0;
  t.is((await g('/x')).status, 200);
  t.deepEqual(rtts, [7]);
  t.is(reads, 3, 'the pick, the end of the try, the outcome event');
});

test('a lean request (a path, no init, nobody observing) tries, retries and fails exactly as one that is observed', async (t) => {
  // scripted members: a answers 503, b refuses the connection, c answers 200 after 5 virtual ms; d refuses too
  const script = async (clock: VirtualClock, url: string): Promise<Response> => {
    const host = new URL(url).port;
    if (host === '1') return new Response('a', { status: 503 });
    if (host === '2' || host === '4') throw new TypeError('fetch failed', { cause: { code: 'ECONNREFUSED' } });
    await new Promise<void>((r) => clock.setTimeout(() => r(), 5));
    return new Response('c');
  };
  const members = ['a', 'b', 'c', 'd'].map((id, i) => ({ id, host: '127.0.0.1', port: i + 1 }));
  const run = async (observed: boolean, path: string, only?: string[]) => {
    const clock = new VirtualClock(0);
    const outcomes: string[] = [];
    let i = 0;
    const list = members.filter((m) => only === undefined || only.includes(m.id));
    const balancer: PickSource = {
      pick(ctx) {
        const free = list.filter((m) => !ctx?.exclude?.has(m.id));
        if (free.length === 0) return { type: 'none', reason: 'empty' };
        const member = free[i++ % free.length]!;
        return {
          type: 'pick',
          member,
          handle: {
            done: (o) => outcomes.push(`${member.id}:${o.ok}:${o.status}:${o.error !== undefined}:${o.rttMs}`),
          },
        };
      },
    };
    const events: string[] = [];
    const f = createFetch({
      balancer,
      clock,
      fetch: ((url: string) => script(clock, url)) as typeof fetch,
      retry: { initialBackoffMs: 1, maxBackoffMs: 1 },
      random: () => 0,
      ...(observed && { onEvent: (e) => events.push(e.type) }),
    });
    const settled = f(path).then(
      async (res) => `${res.status} ${await res.text()}`,
      (err: Error) => `${err.name}: ${err.message}`,
    );
    await clock.advance(100); // back-off waits and member c's 5 ms answer run on the virtual clock
    return { result: await settled, outcomes, stats: f.stats(), events };
  };
  for (const [path, only] of [
    ['/x', undefined], // a 503, then c (the second of the members not tried) 200 after 5 ms
    ['/y?q=1', ['a']], // a 503 on every try: the last response is returned
    ['/z', ['b', 'd']], // refused everywhere: transparent retries, then the error
    ['/w', []], // nobody to pick and no pickAsync: NoMemberError, no try
  ] as const) {
    const lean = await run(false, path, only as string[] | undefined);
    const observed = await run(true, path, only as string[] | undefined);
    t.deepEqual(lean.events, []);
    t.true(observed.events.includes('request-end'), path);
    t.deepEqual(
      { result: lean.result, outcomes: lean.outcomes, stats: lean.stats },
      { result: observed.result, outcomes: observed.outcomes, stats: observed.stats },
      path,
    );
  }
  const first = await run(false, '/x');
  t.is(first.result, '200 c');
  t.deepEqual(first.outcomes, ['a:false:503:false:0', 'c:true:200:false:5']);
  t.deepEqual(first.stats, { requests: 1, tries: 2, retries: 1, hedges: 0, failures: 0 });
  const refused = await run(false, '/z', ['b', 'd']);
  t.regex(refused.result, /^TypeError: fetch failed/);
  t.true(refused.outcomes.length >= 3 && refused.outcomes.every((o) => /^[bd]:false:undefined:true:0$/.test(o)));
  t.is(refused.stats.failures, 1);
});

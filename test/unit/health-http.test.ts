// Real loopback HTTP backends (Node http servers started here) behind a real Balancer, probed by the
// HealthChecker over fetch and wired with connectHealth: a backend that starts failing, one that hangs (the
// probe timeout fires), one that flaps (hysteresis keeps it out until 3 successes), one killed and restarted,
// outlier ejection through pick handles, panic mode, and the TCP probe. Wall-clock bounds are generous.
import test from 'ava';
import { Balancer } from '../../bindings/balancing/balancer.js';
import type { Endpoint } from '../../bindings/util/endpoint.js';
import {
  HealthChecker,
  type HealthCheckerOptions,
  type HealthTransition,
  type ProbeResult,
} from '../../bindings/health/checker.js';
import { httpProbe } from '../../bindings/health/http-probe.js';
import { tcpProbe } from '../../bindings/health/tcp-probe.js';
import { connectHealth, type HealthWiring } from '../../bindings/health/connect.js';
import { OutlierDetector } from '../../bindings/health/outlier.js';
import { startBackend, type Backend, type Mode } from '../helpers/backends.js';
import { freePort } from '../helpers/process.js';
import { until } from '../helpers/wait.js';

const INTERVAL_MS = 600;
const TIMEOUT_MS = 500; // generous: a loaded machine must not turn a slow answer into a failure
const HANG_TIMEOUT_MS = 300;
const SLACK_MS = 5; // timer granularity
const LIMIT_MS = 20_000; // generous upper bound for anything on a loaded machine

const backends: Backend[] = [];
const cleanups: Array<() => void> = [];

async function backend(): Promise<Backend> {
  const b = await startBackend(`h${backends.length}`);
  backends.push(b);
  return b;
}

test.after.always(async () => {
  for (const c of cleanups) c();
  await Promise.all(backends.map((b) => b.stop().catch(() => undefined)));
});

const idOf = (b: Backend) => `127.0.0.1:${b.port}`;
const OK: Mode = { kind: 'ok' };
const FAIL: Mode = { kind: 'status', status: 500 };

interface Scenario {
  lb: Balancer;
  hc: HealthChecker<Endpoint>;
  wiring: HealthWiring;
  transitions: HealthTransition<Endpoint>[];
  probes: ProbeResult<Endpoint>[];
  /** `from->to` of one member's transitions, from transition number `since` on. */
  log(id: string, since?: number): string[];
  /** One member's transitions from number `since` on. */
  of(id: string, since?: number): HealthTransition<Endpoint>[];
}

async function scenario(
  members: Backend[],
  opts: Partial<HealthCheckerOptions<Endpoint>> = {},
  detector?: OutlierDetector,
  panicMode: 'all' | 'fail' = 'all',
): Promise<Scenario> {
  const lb = new Balancer({ endpoints: members.map(idOf), panicMode });
  const hc = new HealthChecker<Endpoint>({
    probe: httpProbe({ path: '/healthz' }),
    intervalMs: INTERVAL_MS,
    timeoutMs: TIMEOUT_MS,
    ...opts,
  });
  const transitions: HealthTransition<Endpoint>[] = [];
  const probes: ProbeResult<Endpoint>[] = [];
  hc.on('transition', (e) => transitions.push(e));
  hc.on('probe', (e) => probes.push(e));
  const wiring = connectHealth(lb, { checker: hc, detector });
  cleanups.push(() => wiring.close());
  await until('all members healthy', () => members.every((b) => hc.isAvailable(idOf(b))), LIMIT_MS);
  const of = (id: string, since = 0) => transitions.slice(since).filter((e) => e.member.id === id);
  const log = (id: string, since = 0) => of(id, since).map((e) => `${e.from}->${e.to}`);
  return { lb, hc, wiring, transitions, probes, log, of };
}

function pickedIds(lb: Balancer, n = 30): Set<string> {
  const seen = new Set<string>();
  for (let i = 0; i < n; i++) {
    const p = lb.pick();
    if (p.type === 'pick') {
      seen.add(p.member.id);
      p.handle.done({ ok: true });
    }
  }
  return seen;
}

test.serial(
  'a backend that starts failing: healthy -> suspect -> failed, out of picks; back after 3 successes',
  async (t) => {
    const [a, b, x] = [await backend(), await backend(), await backend()];
    const s = await scenario([a, b, x]);
    const id = idOf(x);
    t.true(pickedIds(s.lb).has(id));
    await until('healthy, not suspect', () => s.hc.state(id) === 'healthy', LIMIT_MS);
    const mark = s.transitions.length;
    x.mode = FAIL;
    const failedAfter = await until('failed', () => s.hc.state(id) === 'failed', LIMIT_MS);
    // The first failure may come at once, the immediate re-check right after; the third waits an interval.
    t.true(failedAfter >= INTERVAL_MS - SLACK_MS, `failed after ${failedAfter} ms`);
    t.deepEqual(s.log(id, mark), ['healthy->suspect', 'suspect->failed']);
    t.is(s.of(id, mark)[0]!.reason, 'HTTP 500');
    t.is(s.of(id, mark)[1]!.reason, '3 consecutive failed probes, last: HTTP 500');
    t.false(s.lb.isAvailable(id));
    t.deepEqual([...pickedIds(s.lb)].sort(), [idOf(a), idOf(b)].sort());
    x.mode = OK;
    const backAfter = await until('healthy again', () => s.hc.state(id) === 'healthy', LIMIT_MS);
    t.true(backAfter >= 2 * INTERVAL_MS - SLACK_MS, `healthy after ${backAfter} ms`);
    t.true(pickedIds(s.lb).has(id));
    t.deepEqual(s.log(id, mark), ['healthy->suspect', 'suspect->failed', 'failed->healthy']);
    t.true(s.lb.isAvailable(idOf(a)) && s.lb.isAvailable(idOf(b)));
  },
);

test.serial('a backend that hangs: the probe timeout fires, suspect then failed; picks avoid it', async (t) => {
  const [a, b, x] = [await backend(), await backend(), await backend()];
  const s = await scenario([a, b, x], { timeoutMs: HANG_TIMEOUT_MS });
  const id = idOf(x);
  await until('healthy, not suspect', () => s.hc.state(id) === 'healthy', LIMIT_MS);
  const mark = s.transitions.length;
  const probeMark = s.probes.length;
  x.mode = { kind: 'hang' };
  await until('failed', () => s.hc.state(id) === 'failed', LIMIT_MS);
  const timeouts = s.probes.slice(probeMark).filter((p) => p.member.id === id && !p.ok);
  t.true(timeouts.length >= 3);
  for (const p of timeouts) {
    t.is(p.reason, `timeout after ${HANG_TIMEOUT_MS} ms`);
    t.true(
      p.durationMs >= HANG_TIMEOUT_MS - SLACK_MS && p.durationMs < HANG_TIMEOUT_MS + 5000,
      `probe took ${p.durationMs} ms`,
    );
  }
  t.deepEqual(s.log(id, mark), ['healthy->suspect', 'suspect->failed']);
  t.false(pickedIds(s.lb).has(id));
  t.is(s.hc.stats().members.find((m) => m.id === id)!.lastReason, `timeout after ${HANG_TIMEOUT_MS} ms`);
});

test.serial('a backend that flaps stays out (hysteresis) until 3 consecutive successes', async (t) => {
  const [a, b, x] = [await backend(), await backend(), await backend()];
  x.mode = FAIL;
  const lbMembers = [a, b];
  const s = await scenario(lbMembers); // x joins later, failing from its first probe
  s.lb.add(idOf(x));
  const id = idOf(x);
  await until('x failed', () => s.hc.state(id) === 'failed', LIMIT_MS);
  t.deepEqual(s.log(id), ['pending->failed']);
  x.mode = { kind: 'flap' };
  const start = s.probes.length;
  await until('8 flapping probes', () => s.probes.slice(start).filter((p) => p.member.id === id).length >= 8, LIMIT_MS);
  t.is(s.hc.state(id), 'failed');
  t.false(pickedIds(s.lb).has(id));
  x.mode = OK;
  await until('healthy', () => s.hc.state(id) === 'healthy', LIMIT_MS);
  t.deepEqual(s.log(id), ['pending->failed', 'failed->healthy']);
  const mine = s.probes.filter((p) => p.member.id === id);
  const i = mine.findIndex((p) => p.state === 'healthy');
  t.true(i >= 3);
  t.deepEqual(
    mine.slice(i - 3, i + 1).map((p) => p.ok),
    [false, true, true, true],
    'healthy exactly at the third consecutive success',
  );
  t.true(pickedIds(s.lb).has(id));
});

test.serial('a backend killed and restarted on the same port: failed while down, healthy after 3 probes', async (t) => {
  const [a, b, x] = [await backend(), await backend(), await backend()];
  const s = await scenario([a, b, x], { intervalMs: 800, unhealthyIntervalMs: 700 });
  const id = idOf(x);
  await until('healthy, not suspect', () => s.hc.state(id) === 'healthy', LIMIT_MS);
  const mark = s.transitions.length;
  await x.stop();
  await until('failed', () => s.hc.state(id) === 'failed', LIMIT_MS);
  t.regex(s.of(id, mark)[0]!.reason, /fetch failed|ECONNREFUSED|ECONNRESET|socket/i);
  t.false(pickedIds(s.lb).has(id));
  await x.start();
  const backAfter = await until('healthy', () => s.hc.state(id) === 'healthy', LIMIT_MS);
  // Three successes at the unhealthy interval: at least two intervals after the first.
  t.true(backAfter >= 2 * 700 - SLACK_MS, `healthy after ${backAfter} ms`);
  t.deepEqual(s.log(id, mark), ['healthy->suspect', 'suspect->failed', 'failed->healthy']);
  t.true(pickedIds(s.lb).has(id));
});

test.serial('outlier ejection through pick handles; the next successful active probe returns the member', async (t) => {
  const [a, b, x] = [await backend(), await backend(), await backend()];
  const od = new OutlierDetector({ maxEjectionPercent: 50 });
  const s = await scenario([a, b, x], { intervalMs: 1000, timeoutMs: 500 }, od);
  const id = idOf(x);
  let failed = 0;
  for (let i = 0; i < 100 && failed < 5; i++) {
    const p = s.lb.pick();
    if (p.type !== 'pick') continue;
    const bad = p.member.id === id;
    if (bad) failed++;
    p.handle.done(bad ? { ok: false, status: 503 } : { ok: true, status: 200 });
  }
  t.true(od.isEjected(id));
  t.false(s.lb.isAvailable(id));
  t.is(s.wiring.reason(id), 'outlier: ejected');
  t.false(pickedIds(s.lb).has(id));
  const back = await until('un-ejected', () => !od.isEjected(id), LIMIT_MS);
  t.true(back < 1000 + 5000);
  t.true(s.lb.isAvailable(id));
});

test.serial('panic: with most members failed the Balancer picks over all (Envoy) or fails fast', async (t) => {
  const [a, x, y] = [await backend(), await backend(), await backend()];
  for (const panicMode of ['all', 'fail'] as const) {
    x.mode = OK;
    y.mode = OK;
    const s = await scenario([a, x, y], { unhealthyThreshold: 1 }, undefined, panicMode);
    x.mode = FAIL;
    y.mode = FAIL;
    await until('two failed', () => s.hc.state(idOf(x)) === 'failed' && s.hc.state(idOf(y)) === 'failed', LIMIT_MS);
    if (panicMode === 'all') t.is(pickedIds(s.lb, 60).size, 3);
    else t.deepEqual(s.lb.pick(), { type: 'none', reason: 'no-healthy' });
    s.wiring.close();
  }
});

test.serial('tcpProbe: connects to a live backend, fails with the errno on a closed port', async (t) => {
  const live = await backend();
  const probe = tcpProbe();
  const ac = new AbortController();
  t.true(await probe({ id: 'live', host: '127.0.0.1', port: live.port }, ac.signal));
  const port = await freePort();
  await t.throwsAsync(probe({ id: 'dead', host: '127.0.0.1', port }, ac.signal), {
    message: new RegExp(`connect 127\\.0\\.0\\.1:${port}: ECONNREFUSED`),
  });
  const hc = new HealthChecker({ probe, intervalMs: 200, timeoutMs: 100, unhealthyThreshold: 1 });
  hc.add({ id: 'live', host: '127.0.0.1', port: live.port });
  hc.add({ id: 'dead', host: '127.0.0.1', port });
  hc.start();
  cleanups.push(() => hc.stop());
  await until('both decided', () => hc.state('live') === 'healthy' && hc.state('dead') === 'failed', LIMIT_MS);
  hc.stop();
  t.pass();
});

test('tcpProbe: an option it does not have (timeoutMs belongs to the checker) is a RangeError naming it', (t) => {
  t.throws(() => tcpProbe({ timeoutMs: 500 } as never), {
    instanceOf: RangeError,
    message: /^options\.timeoutMs must be one of address, got "timeoutMs"/,
  });
  t.throws(() => tcpProbe({ adress: () => ({ host: 'a', port: 1 }) } as never), { instanceOf: RangeError });
  t.notThrows(() => tcpProbe({ address: () => ({ host: '127.0.0.1', port: 1 }) }));
});

test('httpProbe: headers are checked when the probe is made, not by failing every probe', async (t) => {
  const cases: Array<[unknown, RegExp]> = [
    [5, /^headers must be an object of header names to string values, got 5/],
    ['x', /^headers must be an object.*got "x"/],
    [null, /^headers must be an object.*got null/],
    [['a'], /^headers must be an object/],
    [{ 'a b': 'x' }, /^headers must be an object of valid HTTP header names, got "a b"/],
    [{ 'x-a': 5 }, /^headers\["x-a"\] must be a header value string.*got 5/],
    [{ 'x-a': 'v\r\nx-b: 1' }, /^headers\["x-a"\] must be a header value string \(no CR, LF or NUL\)/],
  ];
  for (const [headers, re] of cases)
    t.throws(() => httpProbe({ headers: headers as never }), { instanceOf: TypeError, message: re });
  const seen: Array<Record<string, string>> = [];
  const fetch = (async (_u: string, init: RequestInit) => {
    seen.push(init.headers as Record<string, string>);
    return new Response('ok');
  }) as typeof globalThis.fetch;
  const headers = { 'x-token': 'abc' };
  const probe = httpProbe({ headers, fetch });
  headers['x-token'] = 'changed';
  t.true(await probe({ id: 'a', host: '127.0.0.1', port: 1 }, new AbortController().signal));
  t.deepEqual(seen, [{ 'x-token': 'abc' }], 'sent as given when the probe was made');
});

test.serial(
  'httpProbe: a refused connection fails with what fetch\'s cause says (code and address), not a bare "fetch failed"',
  async (t) => {
    const port = await freePort();
    const probe = httpProbe({ path: '/healthz' });
    const e = await t.throwsAsync(probe({ id: 'dead', host: '127.0.0.1', port }, new AbortController().signal), {
      message: `fetch failed (ECONNREFUSED 127.0.0.1:${port})`,
    });
    t.is((e!.cause as Error).message, 'fetch failed', 'the original error is the cause');
    // and so the checker's reason
    const hc = new HealthChecker({ probe, intervalMs: 200, timeoutMs: 150, unhealthyThreshold: 1 });
    const transitions: HealthTransition[] = [];
    hc.on('transition', (ev) => transitions.push(ev));
    hc.add({ id: 'dead', host: '127.0.0.1', port });
    hc.start();
    cleanups.push(() => hc.stop());
    await until('failed', () => hc.state('dead') === 'failed', LIMIT_MS);
    hc.stop();
    t.is(transitions[0]!.reason, `first probe failed: fetch failed (ECONNREFUSED 127.0.0.1:${port})`);
  },
);

test('httpProbe: failure reasons: the cause is named once; errors without a cause and aborts are kept as they are', async (t) => {
  const m = { id: 'a', host: '10.0.0.7', port: 80 };
  const refused = Object.assign(new Error('connect ECONNREFUSED 10.0.0.7:80'), {
    code: 'ECONNREFUSED',
    address: '10.0.0.7',
    port: 80,
  });
  const failing = (e: unknown) => (async () => Promise.reject(e)) as unknown as typeof globalThis.fetch;
  await t.throwsAsync(
    httpProbe({ fetch: failing(new TypeError('fetch failed', { cause: refused })) })(m, new AbortController().signal),
    { message: 'fetch failed (ECONNREFUSED 10.0.0.7:80)' },
  );
  // a cause without a code: its message
  await t.throwsAsync(
    httpProbe({ fetch: failing(new TypeError('fetch failed', { cause: new Error('bad port') })) })(
      m,
      new AbortController().signal,
    ),
    { message: 'fetch failed (bad port)' },
  );
  const plain = new TypeError('Failed to fetch'); // a browser's: no cause
  t.is(await t.throwsAsync(httpProbe({ fetch: failing(plain) })(m, new AbortController().signal)), plain);
  // aborted (the checker's timeout): the abort reason as it is
  const ac = new AbortController();
  const reason = new Error('timeout after 100 ms');
  ac.abort(reason);
  const aborting = (async (_u: string, init: RequestInit) => Promise.reject(init.signal!.reason)) as typeof fetch;
  t.is(await t.throwsAsync(httpProbe({ fetch: aborting })(m, ac.signal)), reason);
});

test('httpProbe: errors name the options under the field the probe is given (createFetch: healthCheck)', (t) => {
  t.throws(() => httpProbe({ path: 'x' }, 'healthCheck'), {
    instanceOf: TypeError,
    message: /^healthCheck\.path must be a string starting with '\/'/,
  });
  t.throws(() => httpProbe({ scheme: 'ftp' as never }, 'healthCheck'), {
    instanceOf: RangeError,
    message: /^healthCheck\.scheme/,
  });
  t.throws(() => httpProbe({ expectedStatuses: [[300, 200]] }, 'healthCheck'), {
    instanceOf: RangeError,
    message: /^healthCheck\.expectedStatuses\[0\]\[1\] must be >= 300/,
  });
  t.throws(() => httpProbe({ headers: { 'x-a': 5 as never } }, 'healthCheck'), {
    instanceOf: TypeError,
    message: /^healthCheck\.headers\["x-a"\]/,
  });
  t.throws(() => httpProbe({ pth: '/' } as never, 'healthCheck'), {
    instanceOf: RangeError,
    message: /^healthCheck\.pth must be one of path, /,
  });
  // without a field, the bare names, as before
  t.throws(() => httpProbe({ path: 'x' }), { instanceOf: TypeError, message: /^path must be/ });
  t.throws(() => httpProbe({ pth: '/' } as never), { instanceOf: RangeError, message: /^options\.pth/ });
});

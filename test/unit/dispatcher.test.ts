// createDispatcher (switchyard/undici) against real loopback node:http servers: round robin over three
// members through undici's request(), Node's global fetch and undici's fetch with `{ dispatcher }`,
// setGlobalDispatcher with a fallback for other origins, a member removed while its response is streaming
// (the response completes, its Pool closes after it, later requests avoid it), retries of idempotent requests
// only, requests issued before any member exists (pickAsync), hash keys, typed option errors, close/destroy,
// the caller's bad requests and handlers (refused, never a member's failure), the Retry-After cap, close()
// during a retry's back-off.
import test from 'ava';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Agent, Pool, fetch as undiciFetch, getGlobalDispatcher, request, setGlobalDispatcher } from 'undici';
import type { Dispatcher } from 'undici';
import { Readable } from 'node:stream';
import { Balancer } from '../../bindings/balancing/balancer.js';
import { VirtualClock } from '../../bindings/util/clock.js';
import { createDispatcher, MAX_RETRY_AFTER_MS, type BalancedDispatcher } from '../../bindings/http/dispatcher.js';
import { withBackends, type Backend } from '../helpers/backends.js';

const members = (bs: Backend[]) => bs.map((b) => ({ id: b.name, host: '127.0.0.1', port: b.port }));

async function get(d: Dispatcher, url: string, method = 'GET') {
  const r = await request(url, { dispatcher: d, method: method as 'GET' });
  return { status: r.statusCode, body: await r.body.text(), backend: String(r.headers['x-backend']) };
}

test.serial('round robin spreads request() evenly over three servers and ends every pick', async (t) => {
  await withBackends(['a', 'b', 'c'], async (bs) => {
    const balancer = new Balancer({ policy: 'round_robin', endpoints: members(bs) });
    const outcomes: { id: string; ok: boolean; status: number | undefined; rttMs: number }[] = [];
    balancer.on('outcome', (e) => outcomes.push(e));
    const d = createDispatcher({ balancer });
    const seen: string[] = [];
    for (let i = 0; i < 30; i++) {
      const r = await get(d, `http://api/item/${i}`);
      t.is(r.status, 200);
      t.is(r.body, r.backend);
      seen.push(r.body);
    }
    // round robin: every window of three consecutive requests covers the three servers
    for (let i = 0; i + 3 <= seen.length; i++) t.is(new Set(seen.slice(i, i + 3)).size, 3, `window at ${i}`);
    t.deepEqual(
      bs.map((b) => b.requests.length),
      [10, 10, 10],
    );
    t.deepEqual(
      bs.map((b) => b.requests[0]!.url),
      bs.map((b) => `/item/${seen.indexOf(b.name)}`),
    );
    const stats = balancer.stats();
    t.deepEqual(
      stats.members.map((m) => [m.picks, m.active, m.failures]),
      [
        [10, 0, 0],
        [10, 0, 0],
        [10, 0, 0],
      ],
    );
    t.is(outcomes.length, 30);
    t.true(outcomes.every((o) => o.ok && o.status === 200 && o.rttMs >= 0));
    t.deepEqual(d.stats(), { requests: 30, tries: 30, retries: 0, pools: 3 });
    await d.close();
    t.is(d.stats().pools, 0);
  });
});

test.serial('RTT is measured to the response headers on the injected clock, from the pick', async (t) => {
  await withBackends(['slow'], async (bs) => {
    bs[0]!.mode = { kind: 'delay', ms: 100 };
    // 'shared': the Balancer and the dispatcher read one clock (the pick's own reading starts the try);
    // 'foreign': the Balancer's clock is another timeline (1000 ms ahead), which the RTT must not mix in
    for (const how of ['shared', 'foreign'] as const) {
      const clock = new VirtualClock(0);
      const lbClock = how === 'shared' ? clock : new VirtualClock(1000);
      const balancer = new Balancer({ policy: 'round_robin', endpoints: members(bs), clock: lbClock });
      const rtts: number[] = [];
      balancer.on('outcome', (e) => rtts.push(e.rttMs));
      const d = createDispatcher({ balancer, clock });
      const seen = bs[0]!.requests.length;
      const res = get(d, 'http://api/rtt');
      for (let i = 0; i < 200 && bs[0]!.requests.length === seen; i++) await new Promise((r) => setTimeout(r, 5));
      await clock.advance(7); // while the server holds the response
      if (how === 'foreign') await lbClock.advance(7);
      t.is((await res).status, 200, how);
      t.deepEqual(rtts, [7], how);
      await d.close();
    }
  });
});

test.serial(
  'no clock is read per request when the Balancer uses no RTT (round_robin, no outcome listener)',
  async (t) => {
    await withBackends(['a'], async (bs) => {
      const clock = new VirtualClock(0);
      let reads = 0;
      const counted = Object.assign(Object.create(clock) as VirtualClock, {
        now: () => {
          reads++;
          return clock.now();
        },
      });
      const balancer = new Balancer({ policy: 'round_robin', endpoints: members(bs), clock: counted });
      const d = createDispatcher({ balancer, clock: counted, retry: false });
      await get(d, 'http://api/warm');
      reads = 0;
      for (let i = 0; i < 5; i++) t.is((await get(d, `http://api/n/${i}`)).status, 200);
      t.is(reads, 0);
      t.is(balancer.stats().members[0]!.active, 0, 'every pick was ended');
      await d.close();
    });
  },
);

test.serial("Node's fetch and undici's fetch work with { dispatcher }, POST bodies included", async (t) => {
  await withBackends(['a', 'b'], async (bs) => {
    const d = createDispatcher({ endpoints: members(bs), service: 'http://api' });
    const names: string[] = [];
    for (let i = 0; i < 4; i++) {
      const res = await fetch('http://api/hello?x=1', { dispatcher: d } as RequestInit);
      t.is(res.status, 200);
      names.push(await res.text());
    }
    const res = await undiciFetch('http://api/post', { dispatcher: d, method: 'POST', body: 'payload' });
    t.is(res.status, 200);
    names.push(await res.text());
    t.deepEqual(names.slice(0, 4).sort(), ['a', 'a', 'b', 'b']);
    const all = bs.flatMap((b) => b.requests);
    t.is(all.filter((r) => r.url === '/hello?x=1').length, 4);
    t.deepEqual(
      all.filter((r) => r.method === 'POST').map((r) => [r.url, r.body]),
      [['/post', 'payload']],
    );
    await d.close();
  });
});

test.serial('setGlobalDispatcher balances the service origin and sends other origins to the fallback', async (t) => {
  await withBackends(['a', 'b', 'other'], async ([a, b, other]) => {
    const before = getGlobalDispatcher();
    const fallback = new Agent();
    const d = createDispatcher({ endpoints: members([a!, b!]), service: 'http://api', fallback });
    setGlobalDispatcher(d);
    try {
      const got: string[] = [];
      for (let i = 0; i < 4; i++) got.push(await (await fetch('http://api/g')).text());
      t.deepEqual(got.sort(), ['a', 'a', 'b', 'b']);
      const direct = await fetch(`http://127.0.0.1:${other!.port}/direct`);
      t.is(await direct.text(), 'other');
      t.deepEqual(
        other!.requests.map((r) => r.url),
        ['/direct'],
      );
      t.is(d.stats().requests, 4); // the fallback request is not a balanced one
    } finally {
      setGlobalDispatcher(before);
      await d.close();
      await fallback.close();
    }
    // without a fallback another origin is refused, naming the service
    const strict = createDispatcher({ endpoints: members([a!]), service: 'http://api' });
    const err = await t.throwsAsync(request(`http://127.0.0.1:${other!.port}/x`, { dispatcher: strict }), {
      name: 'UnsafeTargetError',
    });
    t.regex(err!.message, /http:\/\/api/);
    t.is(other!.requests.length, 1);
    await strict.close();
  });
});

/** A server whose response sends one chunk, then waits for `release()` before the rest. */
async function streamingServer(): Promise<{ server: Server; port: number; release(): void; hits: () => number }> {
  let waiting: (() => void)[] = [];
  let released = false;
  let hits = 0;
  const server = createServer((req, res) => {
    hits++;
    res.setHeader('x-backend', 'slow');
    res.write('part1-');
    const finish = () => res.end('part2');
    if (released) finish();
    else waiting.push(finish);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    server,
    port: (server.address() as AddressInfo).port,
    release() {
      released = true;
      for (const f of waiting) f();
      waiting = [];
    },
    hits: () => hits,
  };
}

test.serial(
  'a member removed mid-stream: its response completes, its Pool closes after it, no new request reaches it',
  async (t) => {
    const slow = await streamingServer();
    await withBackends(['fast'], async ([fast]) => {
      const balancer = new Balancer({
        policy: 'round_robin',
        endpoints: [
          { id: 'slow', host: '127.0.0.1', port: slow.port },
          { id: 'fast', host: '127.0.0.1', port: fast!.port },
        ],
      });
      const pools = new Map<string, Pool>();
      const d = createDispatcher({
        balancer,
        factory: (origin, opts) => {
          const p = new Pool(origin, opts);
          pools.set(origin, p);
          return p;
        },
      });
      // round robin: one of the first two requests goes to the slow member
      const rs = await Promise.all([0, 1].map(() => request('http://api/s', { dispatcher: d })));
      const streaming = rs.find((r) => r.headers['x-backend'] === 'slow')!;
      const other = rs.find((r) => r.headers['x-backend'] === 'fast')!;
      t.truthy(streaming);
      t.is(await other.body.text(), 'fast');
      const slowPool = pools.get(`http://127.0.0.1:${slow.port}`)!;
      const firstChunk = await new Promise<string>((resolve) =>
        streaming.body.once('data', (c: Buffer) => resolve(String(c))),
      );
      t.is(firstChunk, 'part1-');
      t.true(balancer.remove('slow'));
      t.is(d.stats().pools, 1);
      t.false(slowPool.destroyed); // closing, not destroyed: the streaming response goes on
      for (let i = 0; i < 5; i++) t.is((await get(d, 'http://api/after')).body, 'fast');
      t.is(slow.hits(), 1);
      slow.release();
      const rest = await new Promise<string>((resolve, reject) => {
        let s = '';
        streaming.body.on('data', (c: Buffer) => (s += String(c)));
        streaming.body.on('end', () => resolve(s));
        streaming.body.on('error', reject);
      });
      t.is(rest, 'part2');
      await new Promise((r) => setTimeout(r, 20));
      t.true(slowPool.closed);
      t.true(slowPool.destroyed); // undici destroys a Pool once close() has drained it
      // the removed member's late completion changed nothing for the members that stayed
      t.deepEqual(
        balancer.stats().members.map((m) => [m.id, m.active]),
        [['fast', 0]],
      );
      await d.close();
    });
    await new Promise<void>((r) => slow.server.close(() => r()));
  },
);

test.serial(
  'idempotent requests are retried on another member (503 and connection refused); POST is not',
  async (t) => {
    await withBackends(['bad', 'ok1', 'ok2'], async (bs) => {
      const [bad, , ok2] = bs as [Backend, Backend, Backend];
      bad.mode = { kind: 'status', status: 503 };
      const balancer = new Balancer({ policy: 'round_robin', endpoints: members(bs) });
      const d = createDispatcher({ balancer, retry: { initialBackoffMs: 1 }, retryThrottling: false });
      for (let i = 0; i < 6; i++) {
        const r = await get(d, 'http://api/r');
        t.is(r.status, 200);
        t.not(r.body, 'bad');
      }
      t.true(bad.requests.length >= 2);
      t.is(d.stats().retries, bad.requests.length);
      t.is(d.stats().tries, 6 + bad.requests.length);
      // POST is not retried: some POST meets the 503
      const posts = await Promise.all([0, 1, 2].map(() => get(d, 'http://api/p', 'POST')));
      t.deepEqual(posts.map((p) => p.status).sort(), [200, 200, 503]);
      // a member that refuses connections: retried elsewhere
      bad.mode = { kind: 'ok' };
      await ok2.stop();
      for (let i = 0; i < 6; i++) t.not((await get(d, 'http://api/c')).body, 'ok2');
      t.true(balancer.stats().members.find((m) => m.id === 'ok2')!.failures >= 1);
      // retries exhausted: the last 503 is the answer (ok2 back: a refusal would be a free retry and one more
      // try, which may meet ok2's refusal again: dispatcher-transparent.test.ts)
      await ok2.start();
      for (const b of bs) b.mode = { kind: 'status', status: 503 };
      const last = await get(d, 'http://api/x');
      t.is(last.status, 503);
      await d.close();
    });
  },
);

test.serial('each retry excludes every member the request tried before (legacy and undici 7 handlers)', async (t) => {
  await withBackends(['a', 'b', 'c'], async (bs) => {
    for (const b of bs) b.mode = { kind: 'status', status: 503 };
    const balancer = new Balancer({ policy: 'round_robin', endpoints: members(bs) });
    const excludes: string[][] = [];
    const source = {
      pick: (ctx?: { exclude?: ReadonlySet<string> }) => {
        excludes.push([...(ctx?.exclude ?? [])].sort());
        return balancer.pick(ctx);
      },
    };
    const d = createDispatcher({ balancer: source, retry: { initialBackoffMs: 1 }, retryThrottling: false });
    for (const [i, send] of [() => get(d, 'http://api/l'), () => modern(d, '/m')].entries()) {
      excludes.length = 0;
      t.is((await send()).status, 503); // three tries, all answered 503: the last one is the answer
      // one try per member, each excluding the ones before it
      t.deepEqual(
        bs.map((b) => b.requests.length),
        [i + 1, i + 1, i + 1],
      );
      t.is(excludes.length, 3);
      t.deepEqual(excludes[0], []);
      t.is(excludes[1]!.length, 1);
      t.is(excludes[2]!.length, 2);
      t.true(excludes[2]!.includes(excludes[1]![0]!));
    }
    t.deepEqual(d.stats(), { requests: 2, tries: 6, retries: 4, pools: 3 });
    await d.close();
  });
});

test.serial('retry: false sends every request once', async (t) => {
  await withBackends(['bad', 'ok'], async (bs) => {
    bs[0]!.mode = { kind: 'status', status: 503 };
    const d = createDispatcher({ endpoints: members(bs), retry: false });
    const statuses = [];
    for (let i = 0; i < 4; i++) statuses.push((await get(d, 'http://api/n')).status);
    t.deepEqual(statuses.sort(), [200, 200, 503, 503]);
    t.is(d.stats().retries, 0);
    await d.close();
  });
});

test.serial('a hash policy with key() sends equal keys to one member', async (t) => {
  await withBackends(['a', 'b', 'c'], async (bs) => {
    const d = createDispatcher({
      endpoints: members(bs),
      policy: 'ring_hash',
      key: (o) => o.path.split('/')[2],
    });
    for (const user of ['u1', 'u2', 'u3', 'u4']) {
      const got = new Set<string>();
      for (let i = 0; i < 5; i++) got.add((await get(d, `http://api/users/${user}/x${i}`)).body);
      t.is(got.size, 1, user);
    }
    await d.close();
  });
});

test.serial('a request issued before any member exists waits for the first list (pickAsync)', async (t) => {
  await withBackends(['late'], async (bs) => {
    const balancer = new Balancer({ policy: 'round_robin' });
    const d = createDispatcher({ balancer, readyTimeoutMs: 5000 });
    const pending = get(d, 'http://api/early');
    await new Promise((r) => setTimeout(r, 50));
    t.is(bs[0]!.requests.length, 0);
    balancer.reset(members(bs));
    const r = await pending;
    t.deepEqual([r.status, r.body], [200, 'late']);
    // and a bounded wait: an empty balancer fails within readyTimeoutMs with UnavailableError
    const empty = createDispatcher({ balancer: new Balancer({}), readyTimeoutMs: 50 });
    const t0 = Date.now();
    await t.throwsAsync(get(empty, 'http://api/never'), { name: 'UnavailableError' });
    t.true(Date.now() - t0 < 2000);
    await d.close();
    await empty.close();
  });
});

test.serial('without pickAsync, an empty balancer fails at once with NoMemberError', async (t) => {
  const lb = new Balancer({});
  const d = createDispatcher({ balancer: { pick: (ctx) => lb.pick(ctx) } });
  await t.throwsAsync(request('http://api/x', { dispatcher: d }), { name: 'NoMemberError', message: /empty/ });
  await d.close();
});

test.serial('bad options throw TypeError/RangeError naming the field and the value', (t) => {
  const ep = ['127.0.0.1:1'];
  const cases: [unknown, typeof TypeError | typeof RangeError, RegExp][] = [
    [null, TypeError, /options.*null/],
    [{}, TypeError, /options/],
    [{ endpoints: ep, connections: 0 }, RangeError, /connections.*0/],
    [{ endpoints: ep, pipelining: 1.5 }, RangeError, /pipelining.*1\.5/],
    [{ endpoints: ep, readyTimeoutMs: -1 }, RangeError, /readyTimeoutMs.*-1/],
    [{ endpoints: ep, key: 'path' }, TypeError, /key.*path/],
    [{ endpoints: ep, fallback: {} }, TypeError, /fallback/],
    [{ endpoints: ep, factory: 1 }, TypeError, /factory.*1/],
    [{ endpoints: ep, pool: 'x' }, TypeError, /pool.*x/],
    [{ endpoints: ep, hedge: { delayMs: 5 } }, TypeError, /hedge/],
    [{ endpoints: ep, scheme: 'ftp' }, RangeError, /scheme.*ftp/],
    [{ endpoints: ep, service: 'http://' }, RangeError, /service/],
    [{ endpoints: ['127.0.0.1:99999'] }, RangeError, /endpoints\[0\]/],
    [{ endpoints: ep, retry: { maxAttempts: 0 } }, RangeError, /retry\.maxAttempts.*0/],
    [{ balancer: 5 }, TypeError, /balancer.*5/],
  ];
  for (const [opts, type, message] of cases) {
    const err = t.throws(() => createDispatcher(opts as never), { instanceOf: type }, JSON.stringify(opts));
    t.regex(err!.message, message);
  }
});

test.serial('close() lets in-flight requests finish, then refuses new ones; destroy() aborts them', async (t) => {
  await withBackends(['a'], async ([a]) => {
    a!.mode = { kind: 'delay', ms: 100 };
    const d: BalancedDispatcher = createDispatcher({ endpoints: members([a!]) });
    const inflight = get(d, 'http://api/slow');
    await new Promise((r) => setTimeout(r, 20));
    const closing = d.close();
    t.true(d.closed);
    await t.throwsAsync(get(d, 'http://api/late'), { name: 'ClientClosedError' });
    t.is((await inflight).body, 'a');
    await closing;
    t.is(d.stats().pools, 0);
    t.is(a!.requests.length, 1);
    t.true(d.destroyed); // as undici: a completed close() destroys, and a later close() is refused
    await t.throwsAsync(d.close(), { name: 'ClientDestroyedError' });
    await d.destroy(); // idempotent

    a!.mode = { kind: 'hang' };
    const d2 = createDispatcher({ endpoints: members([a!]) });
    const hanging = get(d2, 'http://api/hang');
    await new Promise((r) => setTimeout(r, 30));
    await d2.destroy(new Error('shutting down'));
    t.true(d2.destroyed);
    await t.throwsAsync(hanging, { message: /shutting down/ });

    // destroy() after close(): the request close() was waiting for is aborted, and both settle
    const d3 = createDispatcher({ endpoints: members([a!]) });
    const waitedFor = get(d3, 'http://api/hang');
    await new Promise((r) => setTimeout(r, 30));
    const closing3 = d3.close();
    await d3.destroy(new Error('giving up'));
    await t.throwsAsync(waitedFor, { message: /giving up/ });
    await closing3;
    t.deepEqual([d3.closed, d3.destroyed, d3.stats().pools], [true, true, 0]);
  });
});

/** Dispatches with an undici 7 style handler (onRequestStart/onResponseStart/...) and collects the answer. */
function modern(d: Dispatcher, path: string, method = 'GET') {
  return new Promise<{ status: number; body: string; starts: number }>((resolve, reject) => {
    let status = 0;
    let body = '';
    let starts = 0;
    d.dispatch(
      { origin: 'http://api', path, method: method as 'GET' },
      {
        onRequestStart() {
          starts++;
        },
        onResponseStart(_c, s) {
          status = s;
        },
        onResponseData(_c, chunk) {
          body += String(chunk);
        },
        onResponseEnd() {
          resolve({ status, body, starts });
        },
        onResponseError(_c, err) {
          reject(err);
        },
      },
    );
  });
}

test.serial('the undici 7 handler API is balanced too, and retried through undici RetryHandler', async (t) => {
  await withBackends(['bad', 'ok1', 'ok2'], async (bs) => {
    bs[0]!.mode = { kind: 'status', status: 503 };
    const balancer = new Balancer({ policy: 'round_robin', endpoints: members(bs) });
    const d = createDispatcher({ balancer, retry: { initialBackoffMs: 1 }, retryThrottling: false });
    const bodies: string[] = [];
    for (let i = 0; i < 6; i++) {
      const r = await modern(d, '/m');
      t.is(r.status, 200);
      bodies.push(r.body);
    }
    t.false(bodies.includes('bad 503'));
    t.true(bs[0]!.requests.length >= 2);
    t.is(d.stats().retries, bs[0]!.requests.length);
    t.is(balancer.stats().members[0]!.failures, bs[0]!.requests.length);
    // not idempotent: answered by whichever member was picked, 503 included
    const posts = await Promise.all([0, 1, 2].map(() => modern(d, '/p', 'POST')));
    t.deepEqual(posts.map((p) => p.status).sort(), [200, 200, 503]);
    await d.close();
  });
});

test.serial('back-off and Retry-After wait on the injected clock', async (t) => {
  await withBackends(['busy', 'ok'], async ([busy, ok]) => {
    busy!.mode = { kind: 'status', status: 503, retryAfter: '2' };
    const clock = new VirtualClock(0);
    const balancer = new Balancer({ policy: 'round_robin', endpoints: members([busy!, ok!]), clock });
    const d = createDispatcher({ balancer, clock, retryThrottling: false });
    // round robin: of two requests, one meets the busy member first and must wait 2 s of clock time
    let settled = 0;
    const rs = [0, 1].map(() =>
      get(d, 'http://api/w').then((r) => {
        settled++;
        return r;
      }),
    );
    for (let i = 0; i < 200 && busy!.requests.length === 0; i++) await new Promise((r) => setTimeout(r, 5));
    await new Promise((r) => setTimeout(r, 50));
    t.is(settled, 1); // the other one is waiting for the clock
    await clock.advance(1999);
    await new Promise((r) => setTimeout(r, 50));
    t.is(settled, 1);
    await clock.advance(1);
    const all = await Promise.all(rs);
    t.deepEqual(
      all.map((r) => [r.status, r.body]),
      [
        [200, 'ok'],
        [200, 'ok'],
      ],
    );
    t.is(busy!.requests.length, 1);
    await d.close();
  });
});

test.serial('a stream body is sent once and never retried', async (t) => {
  await withBackends(['bad', 'ok'], async (bs) => {
    bs[0]!.mode = { kind: 'status', status: 503 };
    const d = createDispatcher({ endpoints: members(bs), retry: { initialBackoffMs: 1 } });
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) {
      const r = await request('http://api/s', {
        dispatcher: d,
        method: 'PUT',
        body: Readable.from([Buffer.from('chunk')]),
      });
      await r.body.dump();
      statuses.push(r.statusCode);
    }
    t.deepEqual(statuses.sort(), [200, 200, 503, 503]);
    t.is(d.stats().retries, 0);
    t.deepEqual(
      bs.map((b) => b.requests.map((r) => r.body)),
      [
        ['chunk', 'chunk'],
        ['chunk', 'chunk'],
      ],
    );
    await d.close();
  });
});

test.serial(
  'built from a target with health checks: balanced once healthy, and close() stops the probes',
  async (t) => {
    await withBackends(['a', 'b'], async (bs) => {
      const d = createDispatcher({
        target: `static:///${bs.map((b) => `127.0.0.1:${b.port}`).join(',')}`,
        healthCheck: { path: '/healthz', intervalMs: 20 },
      });
      // issued before any probe answered: waits for the first healthy member
      t.is((await get(d, 'http://api/first')).status, 200);
      const probes = () => bs.reduce((n, b) => n + b.requests.filter((r) => r.url === '/healthz').length, 0);
      await new Promise((r) => setTimeout(r, 100));
      t.true(probes() >= 2);
      const got: string[] = [];
      for (let i = 0; i < 4; i++) got.push((await get(d, 'http://api/t')).body);
      t.deepEqual(got.sort(), ['a', 'a', 'b', 'b']);
      await d.close();
      await new Promise((r) => setTimeout(r, 50)); // probes sent before close() arrive
      const after = probes();
      await new Promise((r) => setTimeout(r, 200));
      t.is(probes(), after);
    });
  },
);

test.serial(
  'the Pool found by the pick row is the member’s: rows renumbered, an address changed, a stale row',
  async (t) => {
    await withBackends(['a', 'b', 'c', 'c2'], async ([a, b, c, c2]) => {
      const balancer = new Balancer({ policy: 'round_robin', endpoints: members([a!, b!, c!]) });
      const origins: string[] = [];
      const d = createDispatcher({
        balancer,
        factory: (origin, opts) => {
          origins.push(origin);
          return new Pool(origin, opts);
        },
      });
      const round = async (n: number) => {
        const got: string[] = [];
        for (let i = 0; i < n; i++) got.push((await get(d, 'http://api/r')).body);
        return got.sort();
      };
      t.deepEqual(await round(3), ['a', 'b', 'c']);
      // 'a' leaves: b and c move to rows 0 and 1, and each still reaches its own server
      t.true(balancer.remove('a'));
      t.deepEqual(await round(4), ['b', 'b', 'c', 'c']);
      // 'c' moves to c2's port (same id): a new Pool for the new address, none for the old
      t.true(balancer.add({ id: 'c', host: '127.0.0.1', port: c2!.port }));
      t.deepEqual(await round(4), ['b', 'b', 'c2', 'c2']);
      t.is(origins.filter((o) => o.endsWith(`:${c2!.port}`)).length, 1);
      t.is(d.stats().pools, 2);
      await d.close();

      // a pick source whose rows are stale (always 0): the member object decides, not the row
      const list = members([a!, b!]);
      let i = 0;
      const stale = createDispatcher({
        balancer: {
          pick: () => ({ type: 'pick' as const, member: list[i++ % 2]!, index: 0, handle: { done() {} } }),
        },
      });
      const got: string[] = [];
      for (let k = 0; k < 4; k++) got.push((await get(stale, 'http://api/s')).body);
      t.deepEqual(got, ['a', 'b', 'a', 'b']);
      await stale.close();
    });
  },
);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** `p`, or a rejection after `ms` (the bugs these tests pin down left requests and close() pending). */
function within<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`still pending after ${ms} ms`)), ms);
  });
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

type Settled = { status: number; body: string } | { error: Error };

/** Dispatches to http://api with a legacy handler (onConnect/onHeaders/...): the answer or the error. */
function legacyCall(d: Dispatcher, opts: Record<string, unknown> = {}): Promise<Settled> {
  return new Promise((resolve) => {
    let status = 0;
    let body = '';
    d.dispatch({ origin: 'http://api', path: '/x', method: 'GET', ...opts } as Dispatcher.DispatchOptions, {
      onConnect() {},
      onHeaders(s) {
        status = s;
        return true;
      },
      onData(chunk) {
        body += String(chunk);
        return true;
      },
      onComplete() {
        resolve({ status, body });
      },
      onError(error) {
        resolve({ error });
      },
    });
  });
}

/** As legacyCall, with an undici 7 handler (onRequestStart/onResponseStart/...). */
function modernCall(d: Dispatcher, opts: Record<string, unknown> = {}): Promise<Settled> {
  return new Promise((resolve) => {
    let status = 0;
    let body = '';
    d.dispatch({ origin: 'http://api', path: '/x', method: 'GET', ...opts } as Dispatcher.DispatchOptions, {
      onRequestStart() {},
      onResponseStart(_c, s) {
        status = s;
      },
      onResponseData(_c, chunk) {
        body += String(chunk);
      },
      onResponseEnd() {
        resolve({ status, body });
      },
      onResponseError(_c, error) {
        resolve({ error });
      },
    });
  });
}

/** [error class, code, message] of a settled call's error. */
const errorOf = (r: Settled) =>
  'error' in r ? [r.error.constructor.name, (r.error as { code?: string }).code, r.error.message] : r;

test.serial(
  'bad dispatch options are the caller’s error: passed on, not retried, and no member is blamed',
  async (t) => {
    await withBackends(['a', 'b'], async (bs) => {
      const d = createDispatcher({
        endpoints: members(bs),
        outlierDetection: { consecutive5xx: 2 },
        retry: { initialBackoffMs: 1 },
        retryThrottling: false,
      });
      const balancer = d.balancer as Balancer;
      let outcomes = 0;
      balancer.on('outcome', () => outcomes++);
      const bad: [Record<string, unknown>, string][] = [
        [{ method: 5 }, 'method must be a string'],
        [{ headers: { 'a b': '1' } }, 'invalid header key'],
        [{ headersTimeout: -1 }, 'invalid headersTimeout'],
        [{ method: 'POST', body: 'x', headers: { 'a b': '1' } }, 'invalid header key'],
      ];
      for (const call of [legacyCall, modernCall])
        for (const [opts, message] of bad)
          t.deepEqual(
            errorOf(await within(call(d, opts), 1000)),
            ['InvalidArgumentError', 'UND_ERR_INVALID_ARG', message],
            `${call.name} ${JSON.stringify(opts)}`,
          );
      t.deepEqual(d.stats(), { requests: 8, tries: 8, retries: 0, pools: 2 });
      t.deepEqual(
        balancer.stats().members.map((m) => [m.picks, m.active, m.failures, m.available]),
        [
          [4, 0, 0, true],
          [4, 0, 0, true],
        ],
      );
      t.is(outcomes, 0);
      t.deepEqual(
        bs.map((b) => b.requests.length),
        [0, 0],
      );
      t.like(await legacyCall(d), { status: 200 });
      t.true(await within(d.close(), 1000).then(() => true));
    });
  },
);

test.serial(
  'a legacy handler missing a method undici requires is refused as undici does: thrown, or to onError',
  async (t) => {
    await withBackends(['a'], async (bs) => {
      const balancer = new Balancer({ policy: 'round_robin', endpoints: members(bs) });
      const d = createDispatcher({ balancer });
      const opts = { origin: 'http://api', path: '/x', method: 'GET' } as const;
      // no onError: thrown (undici's DispatcherBase does the same)
      t.throws(() => d.dispatch(opts, {} as never), {
        instanceOf: TypeError,
        message: 'handler.onConnect must be a function, got undefined',
      });
      const errors: Error[] = [];
      const onError = (e: Error) => errors.push(e);
      const full = { onConnect() {}, onError, onHeaders: () => true, onData: () => true, onComplete() {} };
      d.dispatch(opts, { onError } as never);
      d.dispatch(opts, { ...full, onComplete: undefined } as never);
      d.dispatch(opts, { ...full, onBodySent: 5 } as never);
      d.dispatch({ ...opts, upgrade: 'websocket' }, full as never);
      t.deepEqual(
        errors.map((e) => [e.constructor.name, e.message]),
        [
          ['TypeError', 'handler.onConnect must be a function, got undefined'],
          ['TypeError', 'handler.onComplete must be a function, got undefined'],
          ['TypeError', 'handler.onBodySent must be a function or unset, got 5'],
          ['TypeError', 'handler.onUpgrade must be a function, got undefined'],
        ],
      );
      t.deepEqual(
        balancer.stats().members.map((m) => [m.picks, m.active, m.failures]),
        [[0, 0, 0]],
      );
      t.is(bs[0]!.requests.length, 0);
      t.true(await within(d.close(), 1000).then(() => true));
    });
  },
);

test.serial(
  'close() and destroy() end a request sleeping in retry back-off at once, for both handler APIs',
  async (t) => {
    await withBackends(['busy', 'dead'], async ([busy, dead]) => {
      busy!.mode = { kind: 'status', status: 503, retryAfter: '5' }; // 5 s of a virtual clock nobody advances
      await dead!.stop();
      const asleep = async (d: BalancedDispatcher) => {
        for (let i = 0; i < 200 && d.stats().retries === 0; i++) await sleep(5);
        t.is(d.stats().retries, 1);
      };
      const open = (m: Backend) => {
        const clock = new VirtualClock(0);
        const d = createDispatcher({
          endpoints: members([m]),
          clock,
          retry: { initialBackoffMs: 5000, maxBackoffMs: 5000 },
          retryThrottling: false,
        });
        return { d, clock };
      };
      const cases: [string, Backend, typeof legacyCall, 'close' | 'destroy', unknown][] = [
        ['legacy, close()', busy!, legacyCall, 'close', ['ClientClosedError', 'UND_ERR_CLOSED']],
        ['legacy, destroy()', busy!, legacyCall, 'destroy', ['ClientDestroyedError', 'UND_ERR_DESTROYED']],
        ['new API, refused, close()', dead!, modernCall, 'close', ['ClientClosedError', 'UND_ERR_CLOSED']],
        // RetryHandler holds the retried response: the caller gets it as is
        ['new API, 503, close()', busy!, modernCall, 'close', { status: 503, body: 'busy 503' }],
      ];
      for (const [label, member, call, how, expected] of cases) {
        const { d, clock } = open(member);
        const r = call(d);
        await asleep(d);
        await within(how === 'close' ? d.close() : d.destroy(), 1000);
        const got = await within(r, 100);
        t.deepEqual(
          'error' in got ? [got.error.constructor.name, (got.error as { code?: string }).code] : got,
          expected,
          label,
        );
        const sent = busy!.requests.length;
        await clock.advance(60_000);
        await sleep(20);
        t.is(busy!.requests.length, sent, `${label}: nothing sent after the dispatcher ended`);
        t.is(d.stats().tries, 1, label);
      }
    });
  },
);

test.serial('a Retry-After past MAX_RETRY_AFTER_MS ends the retries: the response goes to the caller', async (t) => {
  t.is(MAX_RETRY_AFTER_MS, 30_000);
  await withBackends(['busy'], async ([busy]) => {
    const clock = new VirtualClock(0);
    const opts = { clock, retry: { initialBackoffMs: 1 }, retryThrottling: false } as const;
    const d = createDispatcher({ endpoints: members([busy!]), ...opts });
    const later = new Date(Date.now() + 3_600_000).toUTCString();
    for (const retryAfter of ['86400', '31', later]) {
      busy!.mode = { kind: 'status', status: 503, retryAfter };
      for (const call of [legacyCall, modernCall])
        t.deepEqual(await within(call(d), 1000), { status: 503, body: 'busy 503' }, `${call.name} ${retryAfter}`);
    }
    t.deepEqual(d.stats(), { requests: 6, tries: 6, retries: 0, pools: 1 });
    await d.close();

    // at the cap: retried after it
    busy!.mode = { kind: 'status', status: 503, retryAfter: '30' };
    const d2 = createDispatcher({ endpoints: members([busy!]), ...opts });
    let settled = false;
    const r = legacyCall(d2).then((x) => ((settled = true), x));
    for (let i = 0; i < 200 && d2.stats().retries === 0; i++) await sleep(5);
    busy!.mode = { kind: 'ok' };
    await clock.advance(MAX_RETRY_AFTER_MS - 1);
    await sleep(20);
    t.false(settled);
    await clock.advance(1);
    t.deepEqual(await within(r, 1000), { status: 200, body: 'busy' });
    await d2.close();
  });
});

test.serial('pool.connections and pool.pipelining are checked as connections and pipelining', async (t) => {
  const ep = ['127.0.0.1:1'];
  const cases: [unknown, typeof TypeError | typeof RangeError, string][] = [
    [{ connections: -5 }, RangeError, 'pool.connections must be an integer in [1, 1000000], got -5'],
    [{ connections: '2' }, TypeError, 'pool.connections must be an integer in [1, 1000000], got "2"'],
    [{ pipelining: 1.5 }, RangeError, 'pool.pipelining must be an integer in [0, 1000], got 1.5'],
  ];
  for (const [pool, type, message] of cases)
    t.throws(() => createDispatcher({ endpoints: ep, pool: pool as never }), { instanceOf: type, message });
  for (const pool of [{ connections: null }, { connections: 4, pipelining: 0 }])
    await createDispatcher({ endpoints: ep, pool }).close();
  // Pool options undici would refuse only when a member's Pool is opened are refused at creation
  t.throws(() => createDispatcher({ endpoints: ep, pool: { connect: 5 as never } }), {
    instanceOf: TypeError,
    message: 'pool.connect must be a value undici takes (connect must be a function or an object), got 5',
  });
  // a factory's Pool refusing them when opened: the configuration's error, not the member's
  const d = createDispatcher({
    endpoints: ep,
    pool: { connect: 5 as never },
    factory: (origin, o) => new Pool(origin, o),
    retry: false,
  });
  t.deepEqual(errorOf(await within(legacyCall(d), 1000)), [
    'InvalidArgumentError',
    'UND_ERR_INVALID_ARG',
    'connect must be a function or an object',
  ]);
  t.deepEqual(
    (d.balancer as Balancer).stats().members.map((m) => [m.active, m.failures, m.available]),
    [[0, 0, true]],
  );
  await d.close();
});

test.serial(
  "the caller's abort during a retry back-off ends a legacy request at once, nothing more sent",
  async (t) => {
    await withBackends(['a', 'b'], async (bs) => {
      for (const b of bs) b.mode = { kind: 'status', status: 503 };
      // the back-off runs on a virtual clock never advanced: only the abort can end it
      const d = createDispatcher({
        endpoints: members(bs).map((m) => `127.0.0.1:${m.port}`),
        clock: new VirtualClock(0),
        retryThrottling: false,
        outlierDetection: false,
      });
      const hits = () => bs[0]!.requests.length + bs[1]!.requests.length;
      for (const [name, go] of [
        ['request()', (signal: AbortSignal) => request('http://api/x', { dispatcher: d, signal })],
        ['fetch()', (signal: AbortSignal) => undiciFetch('http://api/x', { dispatcher: d, signal })],
      ] as const) {
        const before = hits();
        const ac = new AbortController();
        const settled = (go(ac.signal) as Promise<unknown>).then(
          () => 'resolved',
          (e: unknown) => e,
        );
        for (let i = 0; i < 400 && hits() === before; i++) await new Promise((r) => setTimeout(r, 5));
        await new Promise((r) => setTimeout(r, 20)); // the 503 read, the call asleep
        const reason = new Error(`caller gave up (${name})`);
        ac.abort(reason);
        t.is(await within(settled, 1000), reason, name);
        t.is(hits(), before + 1, `${name}: no try after the abort`);
      }
      await d.close();
    });
  },
);

test.serial('createFetch-only options are refused by name, a misspelt key by checkKeys', (t) => {
  const ep = ['127.0.0.1:1'];
  for (const k of ['onEvent', 'instrumentation', 'fetch', 'passThrough'])
    t.throws(
      () => createDispatcher({ endpoints: ep, [k]: k === 'instrumentation' ? { request() {} } : () => {} } as never),
      {
        instanceOf: TypeError,
        // a function is shown by its tag, not its source
        message: new RegExp(
          `^${k} must be unset: a createFetch option the dispatcher does not take, got \\[object (Function|Object)\\]$`,
        ),
      },
    );
  t.throws(() => createDispatcher({ endpoints: ep, connections: 3, pool: { connections: 1 } }), {
    instanceOf: TypeError,
    message: 'pool.connections must be absent with connections (3), got 1',
  });
  t.throws(() => createDispatcher({ endpoints: ep, pipelining: 2, pool: { pipelining: 1 } }), {
    instanceOf: TypeError,
    message: 'pool.pipelining must be absent with pipelining (2), got 1',
  });
  t.throws(() => createDispatcher({ endpoints: ep, perTryTimeout: 5 } as never), {
    instanceOf: RangeError,
    message: /^options\.perTryTimeout must be one of target, endpoints, .*, got "perTryTimeout"$/,
  });
  t.throws(() => createDispatcher({ endpoints: ep, retry: { maxAtempts: 1 } } as never), {
    instanceOf: RangeError,
    message: /^retry\.maxAtempts must be one of/,
  });
  t.throws(() => createDispatcher({ endpoints: ep, retryThrottling: { maxToken: 1 } } as never), {
    instanceOf: RangeError,
    message: /^retryThrottling\.maxToken must be one of maxTokens, tokenRatio/,
  });
});

test.serial('undici Pool options undici would refuse at the first request are refused at creation', async (t) => {
  const ep = ['127.0.0.1:1'];
  const cases: [Record<string, unknown>, typeof TypeError | typeof RangeError, string][] = [
    [
      { headersTimeout: -1 },
      RangeError,
      'pool.headersTimeout must be a value undici takes (headersTimeout must be a positive integer or zero), got -1',
    ],
    [
      { keepAliveTimeout: 'x' },
      TypeError,
      'pool.keepAliveTimeout must be a value undici takes (invalid keepAliveTimeout), got "x"',
    ],
    [
      { connect: 5 },
      TypeError,
      'pool.connect must be a value undici takes (connect must be a function or an object), got 5',
    ],
    [
      { maxHeaderSize: -5 },
      RangeError,
      'pool.maxHeaderSize must be a value undici takes (invalid maxHeaderSize), got -5',
    ],
    [
      { bodyTimeout: NaN },
      RangeError,
      'pool.bodyTimeout must be a value undici takes (bodyTimeout must be a positive integer or zero), got NaN',
    ],
    [
      { allowH2: 'yes' },
      TypeError,
      'pool.allowH2 must be a value undici takes (allowH2 must be a valid boolean value), got "yes"',
    ],
  ];
  for (const [pool, type, message] of cases)
    t.throws(() => createDispatcher({ endpoints: ep, pool: pool as never }), { instanceOf: type, message });
  // good ones are taken, and a custom factory's options are its own
  await createDispatcher({
    endpoints: ep,
    pool: { headersTimeout: 0, keepAliveTimeout: 1000, connect: { timeout: 500 } },
  }).close();
  await createDispatcher({ endpoints: ep, pool: { headersTimeout: -1 }, factory: (o) => new Pool(o) }).close();
});

test.serial('readyTimeoutMs takes what createFetch takes: 0 (no wait) and Infinity (no limit)', async (t) => {
  for (const readyTimeoutMs of [0, Infinity, 250])
    await createDispatcher({ endpoints: ['127.0.0.1:1'], readyTimeoutMs }).close();
  for (const readyTimeoutMs of [-1, NaN])
    t.throws(() => createDispatcher({ endpoints: ['127.0.0.1:1'], readyTimeoutMs }), {
      instanceOf: RangeError,
      message: /^readyTimeoutMs/,
    });
  t.throws(() => createDispatcher({ endpoints: ['127.0.0.1:1'], readyTimeoutMs: '5' as never }), {
    instanceOf: TypeError,
  });
  // 0: a request finding no member fails at once
  const d = createDispatcher({ endpoints: [], readyTimeoutMs: 0 });
  await t.throwsAsync(request('http://api/x', { dispatcher: d }), { name: 'UnavailableError' });
  await d.close();
});

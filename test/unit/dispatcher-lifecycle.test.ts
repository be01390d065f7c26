// createDispatcher's close() and destroy() against undici's own lifecycle (DispatcherBase, Client, Pool in
// undici 7's lib/dispatcher): each scenario runs on an undici Pool and on a BalancedDispatcher over real loopback
// node:http servers, and both must end alike: close() after destroy() rejects with ClientDestroyedError, a
// completed close() leaves the dispatcher destroyed, `closed` means close() was called, callbacks get
// (err, null), a bad callback is refused before anything ends. Also: close() settles once destroy() is done
// even when a member Pool's own close() never would, a request waiting for a first member ends at once
// (ClientClosedError, or destroy's error) while the caller's abort still ends it, and close() then destroy(err)
// in one tick end a request in retry back-off with destroy's error, as undici ends a request it still has
// queued (this one held before any change: it pins the behaviour); a back-off that would start after close()
// ends at once, and a pick source whose pickAsync throws fails its request once.
import test from 'ava';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Pool, request } from 'undici';
import type { Dispatcher } from 'undici';
import { Balancer } from '../../bindings/balancing/balancer.js';
import { VirtualClock } from '../../bindings/util/clock.js';
import { createDispatcher, type BalancedDispatcher } from '../../bindings/http/dispatcher.js';
import { withBackends, type Backend } from '../helpers/backends.js';

const members = (bs: Backend[]) => bs.map((b) => ({ id: b.name, host: '127.0.0.1', port: b.port }));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** How a promise settled, `pending` if not within `ms`: [outcome, error class, error message]. */
function settled(p: Promise<unknown>, ms = 1000): Promise<unknown[]> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<unknown[]>((r) => (timer = setTimeout(() => r(['pending']), ms)));
  const outcome = p.then(
    () => ['ok'],
    (e: Error) => ['rejected', e.constructor.name, e.message],
  );
  return Promise.race([outcome, late]).finally(() => clearTimeout(timer));
}

/** A GET through `d`, as settled() describes it. */
const get = (d: Dispatcher, url: string, ms?: number) =>
  settled(
    request(url, { dispatcher: d }).then((r) => r.body.text()),
    ms,
  );

/** The arguments of each call of a close()/destroy() callback, once they came (error class or null). */
function callback() {
  const calls: unknown[][] = [];
  const fn = (...args: unknown[]) => calls.push(args.map((a) => (a instanceof Error ? a.constructor.name : a)));
  return { calls, fn: fn as () => void };
}

/** An undici Pool or a BalancedDispatcher: both have undici's `closed` and `destroyed`. */
type Lifecycle = Dispatcher & { readonly closed: boolean; readonly destroyed: boolean };

/** One scenario on a fresh dispatcher (`make`), requests to `url`: what the caller sees at each step. */
type Scenario = (make: () => Lifecycle, url: string, backend: Backend) => Promise<unknown>;

const scenarios: Record<string, Scenario> = {
  async 'destroy() then close(): close() rejects, its callback gets the error'(make) {
    const d = make();
    const destroying = settled(d.destroy());
    const closing = settled(d.close());
    const cb = callback();
    d.close(cb.fn);
    return { destroy: await destroying, close: await closing, callback: (await sleep(20), cb.calls) };
  },
  async 'a completed close(): destroyed; close() again rejects, destroy() resolves, dispatch is refused'(make, url) {
    const d = make();
    const first = await get(d, url);
    const flags = [d.closed, d.destroyed];
    const closing = d.close();
    const whileClosing = [d.closed, d.destroyed, await get(d, url)];
    const closed = await settled(closing);
    return {
      first,
      flags,
      whileClosing,
      closed,
      after: [d.closed, d.destroyed],
      closeAgain: await settled(d.close()),
      destroy: await settled(d.destroy()),
      dispatch: await get(d, url),
    };
  },
  async 'close() twice at once: both resolve, callbacks get (null, null)'(make) {
    const d = make();
    const cb = callback();
    const both = [settled(d.close()), settled(d.close())];
    d.close(cb.fn);
    return { both: await Promise.all(both), callback: (await sleep(20), cb.calls) };
  },
  async 'destroy() alone: destroyed, not closed; destroy() twice: both resolve, the first error wins'(make, url, b) {
    const d = make();
    b.mode = { kind: 'hang' };
    const hanging = get(d, url);
    await sleep(30);
    const cb = callback();
    const first = settled(d.destroy(new Error('first')));
    const second = settled(d.destroy(new Error('second')));
    d.destroy(cb.fn);
    return {
      flags: [d.closed, d.destroyed],
      destroys: [await first, await second],
      request: await hanging,
      callback: (await sleep(20), cb.calls),
      dispatch: await get(d, url),
    };
  },
  async 'a callback that is not a function is refused before anything ends'(make) {
    const d = make();
    const close = (() => {
      try {
        d.close(5 as never);
        return 'returned';
      } catch {
        return 'threw';
      }
    })();
    const destroy = (() => {
      try {
        d.destroy(null, 5 as never);
        return 'returned';
      } catch {
        return 'threw';
      }
    })();
    const flags = [d.closed, d.destroyed];
    await d.destroy();
    return { close, destroy, flags };
  },
};

for (const [name, scenario] of Object.entries(scenarios))
  test.serial(`as undici's Pool: ${name}`, async (t) => {
    await withBackends(['a'], async ([a]) => {
      const origin = `http://127.0.0.1:${a!.port}`;
      const undici = await scenario(() => new Pool(origin), origin, a!);
      a!.mode = { kind: 'ok' };
      const ours = await scenario(() => createDispatcher({ endpoints: members([a!]) }), 'http://api', a!);
      t.log('undici:', JSON.stringify(undici));
      t.deepEqual(ours, undici);
    });
  });

test.serial(
  'close() then destroy(err): both settle, even when a member Pool’s close() never would (a queued request)',
  async (t) => {
    await withBackends(['a'], async ([a]) => {
      a!.mode = { kind: 'hang' };
      // connections: 1, so the second request waits in the member Pool's queue: undici's Pool then never
      // settles its own close() once destroyed (PoolBase resolves it only when its queue drains)
      const d: BalancedDispatcher = createDispatcher({ endpoints: members([a!]), connections: 1 });
      const inflight = get(d, 'http://api/hang');
      await sleep(30);
      const queued = get(d, 'http://api/queued');
      await sleep(10);
      const cb = callback();
      const closing = settled(d.close());
      d.close(cb.fn);
      const destroying = settled(d.destroy(new Error('giving up')));
      t.deepEqual(await destroying, ['ok']);
      t.deepEqual(await closing, ['ok']);
      t.deepEqual(await inflight, ['rejected', 'Error', 'giving up']);
      t.deepEqual(await queued, ['rejected', 'Error', 'giving up']);
      await sleep(20);
      t.deepEqual(cb.calls, [[null, null]]);
      t.deepEqual([d.closed, d.destroyed, d.stats().pools], [true, true, 0]);
    });
  },
);

/** Dispatches with an undici 7 handler (onRequestStart/onResponseStart/...), settled as get(). */
function modern(d: Dispatcher, ms?: number) {
  return settled(
    new Promise((resolve, reject) => {
      d.dispatch(
        { origin: 'http://api', path: '/x', method: 'GET' },
        {
          onRequestStart() {},
          onResponseStart() {},
          onResponseData() {},
          onResponseEnd: resolve,
          onResponseError: (_c, err) => reject(err),
        },
      );
    }),
    ms,
  );
}

const ending = {
  close: (d: Dispatcher) => void d.close(),
  destroy: (d: Dispatcher) => void d.destroy(),
  'destroy(err)': (d: Dispatcher) => void d.destroy(new Error('giving up')),
  'close, destroy(err)': (d: Dispatcher) => {
    void d.close();
    void d.destroy(new Error('giving up'));
  },
};
const endedWith: Record<keyof typeof ending, unknown[]> = {
  close: ['rejected', 'ClientClosedError', 'The client is closed'],
  destroy: ['rejected', 'ClientDestroyedError', 'The client is destroyed'],
  'destroy(err)': ['rejected', 'Error', 'giving up'],
  'close, destroy(err)': ['rejected', 'Error', 'giving up'],
};

test.serial('a request waiting for a first member ends at close()/destroy(), with their error', async (t) => {
  await withBackends(['a', 'unhealthy'], async ([a, unhealthy]) => {
    unhealthy!.mode = { kind: 'hang' };
    const sources = {
      // the caller's Balancer, which the dispatcher does not close: nothing else would end the wait
      'own balancer': () => {
        const balancer = new Balancer({ policy: 'round_robin', endpoints: [] });
        return { d: createDispatcher({ balancer, readyTimeoutMs: Infinity }), balancer };
      },
      // a built stack whose only member has not passed its health check: closing the stack ends the wait
      'built stack': () => ({
        d: createDispatcher({
          endpoints: members([unhealthy!]),
          healthCheck: { path: '/health', intervalMs: 60_000, timeoutMs: 30_000 },
          readyTimeoutMs: Infinity,
        }),
        balancer: undefined,
      }),
    };
    for (const [source, open] of Object.entries(sources))
      for (const [api, call] of [
        ['legacy', (d: Dispatcher) => get(d, 'http://api/x', 300)],
        ['new API', (d: Dispatcher) => modern(d, 300)],
      ] as const)
        for (const [how, end] of Object.entries(ending)) {
          const label = `${source}, ${api}, ${how}`;
          const { d, balancer } = open();
          const r = call(d);
          await sleep(20);
          end(d);
          t.deepEqual(await r, endedWith[how as keyof typeof ending], label);
          t.deepEqual(await settled(d.destroy()), ['ok'], label);
          if (balancer !== undefined) {
            balancer.add(members([a!])[0]!);
            await sleep(20);
            t.deepEqual(
              balancer.stats().members.map((m) => [m.picks, m.active]),
              [[0, 0]],
              `${label}: no pick for the ended request`,
            );
          }
        }
    t.is(a!.requests.length, 0);
  });
});

test.serial('close() then destroy(err) in one tick end a request in retry back-off with destroy’s error', async (t) => {
  await withBackends(['busy'], async ([busy]) => {
    busy!.mode = { kind: 'status', status: 503, retryAfter: '5' }; // 5 s of a virtual clock nobody advances
    for (const [api, call] of [
      ['legacy', (d: Dispatcher) => get(d, 'http://api/x')],
      ['new API', (d: Dispatcher) => modern(d)],
    ] as const)
      for (const how of ['close, destroy(err)', 'destroy(err)', 'destroy'] as const) {
        const d = createDispatcher({
          endpoints: members([busy!]),
          clock: new VirtualClock(0),
          retry: { initialBackoffMs: 5000, maxBackoffMs: 5000 },
          retryThrottling: false,
        });
        const r = call(d);
        for (let i = 0; i < 200 && d.stats().retries === 0; i++) await sleep(5);
        t.is(d.stats().retries, 1);
        ending[how](d);
        t.deepEqual(await r, endedWith[how], `${api}, ${how}`);
      }
  });
});

test.serial('the caller’s abort still ends a wait for a first member, with its reason', async (t) => {
  const balancer = new Balancer({ policy: 'round_robin', endpoints: [] });
  const d = createDispatcher({ balancer, readyTimeoutMs: Infinity });
  const waiting = new AbortController();
  const r = settled(request('http://api/x', { dispatcher: d, signal: waiting.signal }));
  await sleep(20);
  waiting.abort(new Error('caller gave up'));
  t.deepEqual(await r, ['rejected', 'Error', 'caller gave up']);
  const before = new AbortController();
  before.abort(new Error('gave up before'));
  t.deepEqual(await settled(request('http://api/x', { dispatcher: d, signal: before.signal })), [
    'rejected',
    'Error',
    'gave up before',
  ]);
  t.deepEqual(await settled(d.close()), ['ok']);
});

test.serial(
  'a pick source whose pickAsync throws fails the request once; close() finds nothing left to end',
  async (t) => {
    const balancer = {
      pick: () => ({ type: 'none' as const, reason: 'empty' }),
      pickAsync: () => {
        throw new TypeError('ctx.key must be a string');
      },
    };
    const d = createDispatcher({ balancer });
    const errors: string[] = [];
    d.dispatch(
      { origin: 'http://api', path: '/x', method: 'GET' },
      {
        onConnect() {},
        onHeaders: () => true,
        onData: () => true,
        onComplete() {},
        onError: (e: Error) => errors.push(`${e.name}: ${e.message}`),
      },
    );
    await sleep(20);
    t.deepEqual(await settled(d.close()), ['ok']);
    await sleep(20);
    t.deepEqual(errors, ['TypeError: ctx.key must be a string']);
  },
);

test.serial('a legacy request whose retried response ends after close() ends before close() resolves', async (t) => {
  // a 503 whose body ends after close() was called: the retry's back-off starts after close() woke the sleepers
  const srv = createServer((_req, res) => {
    res.writeHead(503, { 'content-type': 'text/plain' });
    res.write('busy');
    setTimeout(() => res.end(), 100);
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  try {
    const d = createDispatcher({
      endpoints: [{ id: 'a', host: '127.0.0.1', port: (srv.address() as AddressInfo).port }],
      clock: new VirtualClock(0), // nobody advances it: a back-off that starts would never end
      retry: { initialBackoffMs: 5000, maxBackoffMs: 5000 },
      retryThrottling: false,
    });
    let outcome = 'pending';
    const r = request('http://api/x', { dispatcher: d }).then(
      () => (outcome = 'resolved'),
      (e: Error) => (outcome = e.name),
    );
    await sleep(50);
    await d.close();
    await sleep(0);
    t.is(outcome, 'ClientClosedError');
    await r;
  } finally {
    srv.closeAllConnections();
    srv.close();
  }
});

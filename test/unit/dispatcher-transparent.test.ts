// createDispatcher's transparent retries (gRFC A6, createFetch's rule) against a real loopback server and a
// closed port: a try whose connection was refused goes at once to a member not tried yet, for any method, with
// maxAttempts 1 or retry: false too, costing neither a try of maxAttempts nor retry budget; the refusal is still
// the refusing member's failure. Through undici's request(), undici's fetch with `{ dispatcher }` and an undici 7
// style handler (RetryHandler's path); a stream body whose earlier tries were all refused is sent whole; when
// every member refuses, each is tried once before the usual rules apply.
import test from 'ava';
import { Readable } from 'node:stream';
import { fetch as undiciFetch, request, type Dispatcher } from 'undici';
import { Balancer } from '../../bindings/balancing/balancer.js';
import { createDispatcher, type CreateDispatcherOptions } from '../../bindings/http/dispatcher.js';
import { withBackends, type Backend } from '../helpers/backends.js';
import { closedPort } from '../helpers/process.js';

type Member = { id: string; host: string; port: number };
const member = (id: string, port: number): Member => ({ id, host: '127.0.0.1', port });
const liveOf = (b: Backend) => member(b.name, b.port);

async function viaRequest(d: Dispatcher, method: string, body?: string | Readable) {
  const r = await request('http://api/t', { dispatcher: d, method: method as 'GET', body: body ?? null });
  return { status: r.statusCode, body: await r.body.text() };
}

async function viaFetch(d: Dispatcher, method: string, body?: string) {
  const r = await undiciFetch('http://api/t', { dispatcher: d, method, ...(body !== undefined && { body }) });
  return { status: r.status, body: await r.text() };
}

/** An undici 7 style handler (onRequestStart/...): through RetryHandler when the request is retryable. */
function viaModern(d: Dispatcher, method: string, body?: string) {
  return new Promise<{ status: number; body: string }>((resolve, reject) => {
    let status = 0;
    let text = '';
    d.dispatch(
      { origin: 'http://api', path: '/t', method: method as 'GET', body: body ?? null },
      {
        onRequestStart() {},
        onResponseStart(_c, s) {
          status = s;
        },
        onResponseData(_c, chunk) {
          text += String(chunk);
        },
        onResponseEnd() {
          resolve({ status, body: text });
        },
        onResponseError(_c, err) {
          reject(err);
        },
      },
    );
  });
}

const SENDERS = { request: viaRequest, fetch: viaFetch, modern: viaModern } as const;
const RETRY: [string, Partial<CreateDispatcherOptions>][] = [
  ['defaults', {}],
  ['maxAttempts 1', { retry: { maxAttempts: 1 } }],
  ['retry: false', { retry: false }],
];

test.serial('a refused connection is retried at once on the live member: GET and POST, every API', async (t) => {
  const deadPort = await closedPort();
  await withBackends(['live'], async ([live]) => {
    for (const [label, extra] of RETRY) {
      for (const [api, send] of Object.entries(SENDERS)) {
        const balancer = new Balancer({ policy: 'round_robin', endpoints: [member('dead', deadPort), liveOf(live!)] });
        const d = createDispatcher({ balancer, ...extra });
        live!.requests.length = 0;
        const results = [];
        for (let i = 0; i < 10; i++) {
          results.push(await send(d, 'GET'));
          results.push(await send(d, 'POST', `p${i}`));
        }
        const what = `${api}, ${label}`;
        t.true(
          results.every((r) => r.status === 200 && r.body === 'live'),
          what,
        );
        // every POST reached the live member once, with its body
        t.deepEqual(
          live!.requests.filter((r) => r.method === 'POST').map((r) => r.body),
          [...Array(10).keys()].map((i) => `p${i}`),
          what,
        );
        const s = d.stats();
        const dead = balancer.stats().members.find((m) => m.id === 'dead')!;
        // round robin sends every other first try to the dead member: each a free retry, counted in `retries`
        t.true(s.retries >= 1, what);
        t.is(s.tries, s.requests + s.retries, what);
        t.is(s.requests, 20, what);
        t.is(live!.requests.length, 20, what);
        // the refusals are the dead member's failures (the Balancer sees each one)
        t.is(dead.failures, s.retries, what);
        t.is(dead.active, 0, what);
        await d.close();
      }
    }
  });
});

test.serial(
  '40 concurrent GETs over {dead, live} with default options all succeed: no retry budget spent',
  async (t) => {
    const deadPort = await closedPort();
    await withBackends(['live'], async ([live]) => {
      for (const [api, send] of Object.entries(SENDERS)) {
        const balancer = new Balancer({ policy: 'round_robin', endpoints: [member('dead', deadPort), liveOf(live!)] });
        const d = createDispatcher({ balancer });
        const results = await Promise.all([...Array(40).keys()].map(() => send(d, 'GET')));
        t.true(
          results.every((r) => r.status === 200),
          api,
        );
        const s = d.stats();
        t.true(s.retries >= 10, `${api}: ${s.retries} refusals retried`);
        t.is(s.tries, 40 + s.retries, api);
        await d.close();
      }
    });
  },
);

test.serial('a stream body refused by one member is sent whole to the next', async (t) => {
  const deadPort = await closedPort();
  await withBackends(['live'], async ([live]) => {
    const balancer = new Balancer({ policy: 'round_robin', endpoints: [member('dead', deadPort), liveOf(live!)] });
    const d = createDispatcher({ balancer, retry: { maxAttempts: 1 } });
    for (let i = 0; i < 4; i++) {
      const r = await viaRequest(d, 'POST', Readable.from([`s${i}-a`, `s${i}-b`]));
      t.is(r.status, 200);
    }
    t.deepEqual(
      live!.requests.map((r) => r.body),
      ['s0-as0-b', 's1-as1-b', 's2-as2-b', 's3-as3-b'],
    );
    // one free retry per try of the dead member: round robin gives it every other first pick (a retry does not
    // take the turn; it did, and the dead member had 3 or 4 of the 4)
    const deadPicks = balancer.stats().members.find((m) => m.id === 'dead')!.picks;
    t.is(deadPicks, 2);
    t.is(d.stats().retries, deadPicks);
    await d.close();
  });
});

test.serial('every member refusing: each is tried once, then the usual rules; the refusal is the error', async (t) => {
  const ports = [await closedPort(), await closedPort(), await closedPort()];
  for (const [api, send] of Object.entries(SENDERS)) {
    for (const [label, extra, tries] of [
      ['maxAttempts 1', { retry: { maxAttempts: 1 } }, 3],
      ['retry: false', { retry: false }, 3],
      // 2 free, then the third member's refusal and two more are the 3 tries of maxAttempts (GET)
      ['defaults', { retry: { initialBackoffMs: 1 }, retryThrottling: false }, 5],
    ] as const) {
      const balancer = new Balancer({
        policy: 'round_robin',
        endpoints: ports.map((p, i) => member(`d${i}`, p)),
      });
      const d = createDispatcher({ balancer, ...(extra as Partial<CreateDispatcherOptions>) });
      const what = `${api}, ${label}`;
      const err = await t.throwsAsync(send(d, 'GET'));
      const code = (err as { code?: string }).code ?? (err as { cause?: { code?: string } }).cause?.code;
      t.is(code, 'ECONNREFUSED', what);
      t.is(d.stats().tries, tries, what);
      const picks = balancer.stats().members.map((m) => m.picks);
      if (tries === 3) t.deepEqual(picks, [1, 1, 1], what);
      // a POST: not retried past the free tries (each member once)
      const before = d.stats().tries;
      await t.throwsAsync(send(d, 'POST', 'x'));
      t.is(d.stats().tries - before, 3, `${what}, POST`);
      await d.close();
    }
  }
});

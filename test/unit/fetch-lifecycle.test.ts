// The fetch wrapper's lifecycle (a lifecycle sweep's findings): a retry whose back-off starts after close() (its
// try was in flight at close) fails at once instead of waiting the back-off out (not even on the clock), while a caller's Balancer, which
// close() leaves running, keeps its back-offs; a hedged request leaves no
// response body open (a retryable answer a later hedge replaced, a loser answering in the winner's tick); a
// hedged try that throws fails its request instead of escaping as an unhandled rejection. A stub fetch on a
// VirtualClock: no server.
import test from 'ava';
import { Balancer } from '../../bindings/balancing/balancer.js';
import { createFetch, type PickSource } from '../../bindings/http/fetch.js';
import { VirtualClock } from '../../bindings/util/clock.js';

const endpoints = ['10.0.0.1:80', '10.0.0.2:80'];

/** A response whose body never ends; `cancelled` tells whether anyone cancelled it. */
function streaming(status: number): { res: Response; cancelled: () => boolean } {
  let cancelled = false;
  const body = new ReadableStream<Uint8Array>({
    pull() {},
    cancel() {
      cancelled = true;
    },
  });
  return { res: new Response(body, { status }), cancelled: () => cancelled };
}

const turns = async (n = 5) => {
  for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r));
};

test('close() while a try is in flight: its retry does not wait out the back-off (nor Retry-After)', async (t) => {
  const clock = new VirtualClock(0);
  let answer!: () => void;
  const f = createFetch({
    endpoints,
    clock,
    outlierDetection: false,
    random: () => 0.999,
    retry: { maxAttempts: 3, initialBackoffMs: 60_000, maxBackoffMs: 60_000 },
    fetch: () =>
      new Promise<Response>((resolve) => {
        answer = () => resolve(new Response('no', { status: 503, headers: { 'retry-after': '20' } }));
      }),
  });
  const p = f('/x');
  p.catch(() => {});
  await clock.advance(0);
  f.close();
  answer(); // the 503 arrives after close(): its back-off starts now
  await clock.advance(0);
  await turns();
  const err = await t.throwsAsync(p);
  t.regex(err!.message, /closed/);
  t.is(clock.now(), 0, 'without waiting out the back-off');
  t.is(clock.pending, 0, 'no timer left');
});

test('close() while a try is in flight, on a clock nobody advances: its retry does not wait at all', async (t) => {
  const clock = new VirtualClock(0);
  let answer!: () => void;
  const f = createFetch({
    endpoints,
    clock,
    outlierDetection: false,
    retry: { maxAttempts: 3, initialBackoffMs: 1000, maxBackoffMs: 1000 },
    fetch: () =>
      new Promise<Response>((resolve) => {
        answer = () => resolve(new Response('no', { status: 503 }));
      }),
  });
  const p = f('/x');
  let outcome = 'pending';
  p.then(
    () => (outcome = 'resolved'),
    (e: Error) => (outcome = e.message),
  );
  await clock.advance(0);
  f.close();
  answer(); // its back-off starts after close(): not even a 0 ms timer to wait for
  await turns();
  t.regex(outcome, /closed/);
  t.is(clock.pending, 0, 'no timer left');
});

test("close() with a caller's Balancer, which goes on: later retries still back off", async (t) => {
  const clock = new VirtualClock(0);
  const balancer = new Balancer({ endpoints, clock });
  let calls = 0;
  const f = createFetch({
    balancer,
    clock,
    random: () => 0.999,
    retry: { maxAttempts: 2, initialBackoffMs: 1000, maxBackoffMs: 1000 },
    fetch: async () => new Response('x', { status: calls++ === 0 ? 503 : 200 }),
  });
  f.close();
  const p = f('/x');
  await clock.advance(0);
  await turns();
  t.is(calls, 1, 'the retry waits its back-off');
  await clock.advance(1000);
  t.is((await p).status, 200);
  t.is(calls, 2);
  balancer.close();
});

test('hedging: a retryable answer that a later try replaces has its body cancelled', async (t) => {
  const clock = new VirtualClock(0);
  const sent: ReturnType<typeof streaming>[] = [];
  const f = createFetch({
    endpoints,
    clock,
    outlierDetection: false,
    hedge: { delayMs: 1000 },
    fetch: async () => {
      const s = streaming(sent.length === 0 ? 503 : 200);
      sent.push(s);
      return s.res;
    },
  });
  const res = await f('/a');
  await turns();
  t.is(res.status, 200);
  t.is(sent.length, 2);
  t.true(sent[0]!.cancelled(), "the 503's body is not left holding its connection");
  t.false(sent[1]!.cancelled(), 'the answer returned is the caller’s to read');
  await res.body!.cancel();
  f.close();
});

/** A hedged createFetch over a stub whose k-th try answers `statuses[k]` when `waiting[k]()` is called. */
function hedgedStub(statuses: number[]) {
  const clock = new VirtualClock(0);
  const waiting: (() => void)[] = [];
  const sent: ReturnType<typeof streaming>[] = [];
  const f = createFetch({
    endpoints,
    clock,
    outlierDetection: false,
    hedge: { delayMs: 10 },
    fetch: () =>
      new Promise<Response>((resolve) => {
        const s = streaming(statuses[sent.length]!);
        sent.push(s);
        waiting.push(() => resolve(s.res));
      }),
  });
  return { clock, waiting, sent, f };
}

test('hedging: a losing try answering in the same tick as the winner has its body cancelled', async (t) => {
  const { clock, waiting, sent, f } = hedgedStub([200, 200]);
  const p = f('/b');
  await clock.advance(10);
  t.is(waiting.length, 2, 'the first try and a hedge in flight');
  waiting[0]!();
  waiting[1]!();
  const res = await p;
  await turns();
  t.is(sent.filter((s) => s.cancelled()).length, 1, 'the loser’s body is cancelled, the winner’s is not');
  t.is(res.status, 200);
  await res.body!.cancel();
  f.close();
});

test('hedging: close() while a hedged request waits: no hedge starts after it, the try in flight answers', async (t) => {
  const { clock, waiting, f } = hedgedStub([200, 200]);
  const seen: string[] = [];
  f.on('event', (e) => seen.push(e.type));
  const p = f('/d');
  await turns();
  t.is(waiting.length, 1);
  f.close();
  await clock.advance(50); // five hedge delays
  t.is(waiting.length, 1, 'no try was started after close()');
  t.is(f.stats().hedges, 0);
  t.false(seen.includes('hedge'));
  waiting[0]!();
  const res = await p;
  t.is(res.status, 200);
  await res.body!.cancel();
});

test('hedging: close() while the only try is in flight and it fails: no hedge follows, its answer is returned', async (t) => {
  const { waiting, f } = hedgedStub([503, 200]);
  const p = f('/e');
  await turns();
  f.close();
  waiting[0]!(); // 503: retryable, but nothing else runs and the Balancer is closed
  const res = await p;
  t.is(res.status, 503, 'the member’s answer, not the closed Balancer’s error');
  t.is(f.stats().hedges, 0);
  t.is(waiting.length, 1);
  await res.body!.cancel();
});

test('hedging: a try that throws (a PickSource whose done() throws) fails the request, no unhandled rejection', async (t) => {
  const unhandled: unknown[] = [];
  const onUnhandled = (e: unknown) => unhandled.push(e);
  process.on('unhandledRejection', onUnhandled);
  try {
    const balancer: PickSource = {
      pick: () => ({
        type: 'pick',
        member: { id: 'a', host: '10.0.0.1', port: 80 },
        handle: {
          done() {
            throw new Error('done threw');
          },
        },
      }),
    };
    const f = createFetch({ balancer, hedge: { delayMs: 10 }, fetch: async () => new Response('ok') });
    await t.throwsAsync(f('/x'), { message: 'done threw' });
    await turns();
    t.deepEqual(unhandled, []);
  } finally {
    process.off('unhandledRejection', onUnhandled);
  }
});

test('hedging: a retryable answer and an acceptable one in the same tick: the acceptable one is returned', async (t) => {
  const { clock, waiting, sent, f } = hedgedStub([503, 200]);
  const p = f('/c');
  await clock.advance(10);
  t.is(waiting.length, 2);
  waiting[0]!(); // 503
  waiting[1]!(); // 200, in the same tick
  const res = await p;
  await turns();
  t.is(res.status, 200);
  t.deepEqual(
    sent.map((s) => s.cancelled()),
    [true, false],
  );
  await res.body!.cancel();
  f.close();
});

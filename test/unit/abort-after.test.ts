// abortAfter (bindings/util/abort-after.ts): the deadline of the requests the library sends on its own, and the
// Consul resolver's use of it against a loopback server that never answers (etcd's and DoH's: etcd live tests,
// resolver.test.ts).
import test from 'ava';
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { abortAfter } from '../../bindings/util/abort-after.js';
import { VirtualClock } from '../../bindings/util/clock.js';
import { ConsulResolver } from '../../bindings/discovery/consul.js';
import { recorder } from '../helpers/resolver.js';

/** A loopback server that holds every request unanswered; returns its URL. */
async function stalled(t: { teardown(fn: () => void): void }): Promise<{ url: string; held: ServerResponse[] }> {
  const held: ServerResponse[] = [];
  const server = createServer((_req, res) => void held.push(res));
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  t.teardown(() => {
    for (const res of held) res.destroy();
    server.close();
  });
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, held };
}

test('the timer aborts the request at timeoutMs and the error is the caller’s; before that it waits', async (t) => {
  const { url, held } = await stalled(t);
  const clock = new VirtualClock(0);
  const live = new Set<AbortController>();
  const seen: [string, boolean][] = [];
  const p = abortAfter(clock, 1000, (signal) => fetch(url, { signal }), {
    live,
    aborted: (e, timedOut) => {
      seen.push([(e as Error).name, timedOut]);
      return new RangeError('late');
    },
  });
  for (let i = 0; i < 200 && held.length === 0; i++) await new Promise((r) => setTimeout(r, 5));
  t.is(held.length, 1, 'the request reached the server');
  t.is(live.size, 1);
  await clock.advance(999);
  t.deepEqual(seen, [], 'not aborted before the deadline');
  await clock.advance(1);
  await t.throwsAsync(p, { instanceOf: RangeError, message: 'late' });
  t.deepEqual(seen, [['AbortError', true]]);
  t.is(live.size, 0, 'the controller leaves `live`');
});

test('a cancel through `live` is not a timeout; a settled request clears its timer; other errors pass through', async (t) => {
  const clock = new VirtualClock(0);
  const live = new Set<AbortController>();
  const outcomes: boolean[] = [];
  const aborted = (e: unknown, timedOut: boolean) => (outcomes.push(timedOut), e);
  const wait = (signal: AbortSignal) =>
    new Promise<never>((_, no) => signal.addEventListener('abort', () => no(new Error('aborted'))));
  const p = abortAfter(clock, 1000, wait, { live, aborted });
  for (const ac of live) ac.abort();
  await t.throwsAsync(p, { message: 'aborted' });
  t.deepEqual(outcomes, [false]);

  t.is(await abortAfter(clock, 1000, async () => 7, { aborted }), 7);
  t.is(clock.pending, 0, 'no timer left behind');
  await t.throwsAsync(
    abortAfter(clock, 1000, async () => Promise.reject(new TypeError('own')), { aborted }),
    { instanceOf: TypeError, message: 'own' },
  );
  t.deepEqual(outcomes, [false], 'an error without an abort does not go through `aborted`');
  // without `aborted`, the fetch's own error
  const q = abortAfter(clock, 10, wait);
  await clock.advance(10);
  await t.throwsAsync(q, { message: 'aborted' });
});

test('Consul: a query with no answer fails after its deadline with a clear error, and close() aborts it', async (t) => {
  const { url, held } = await stalled(t);
  const clock = new VirtualClock(0);
  const r = recorder();
  const res = new ConsulResolver({ address: url, service: 'web', clock, initialBackoffMs: 60_000 }, r.listener);
  for (let i = 0; i < 200 && held.length === 0; i++) await new Promise((ok) => setTimeout(ok, 5));
  t.is(held.length, 1);
  await clock.advance(29_999);
  t.is(r.errors.length, 0);
  await clock.advance(1);
  for (let i = 0; i < 200 && r.errors.length === 0; i++) await new Promise((ok) => setTimeout(ok, 5));
  t.regex(r.errors[0]!.message, /consul: no answer within 30000 ms/);
  // the retry after the back-off is held too; close() aborts it and reports nothing more
  await clock.advance(60_000);
  for (let i = 0; i < 200 && held.length < 2; i++) await new Promise((ok) => setTimeout(ok, 5));
  t.is(held.length, 2);
  res.close();
  await new Promise((ok) => setTimeout(ok, 50));
  t.is(r.errors.length, 1);
});

// The etcd resolver's protocol handling against a scripted gateway (an injected fetch): a resumed watch
// that replays events already applied, watch lines split across chunks, PUT events without `type`,
// in-stream errors, failover order and backoff on a VirtualClock, and close() aborting the stream.
import test from 'ava';
import { VirtualClock } from '../../bindings/util/clock.js';
import type { FetchLike } from '../../bindings/discovery/resolver.js';
import { EtcdResolver } from '../../bindings/discovery/etcd/resolver.js';
import { ResolverError } from '../../bindings/discovery/errors.js';
import { recorder } from '../helpers/resolver.js';

const b64 = (s: string) => Buffer.from(s).toString('base64');
const kv = (key: string, value: string, rev: number) => ({
  key: b64(key),
  value: b64(value),
  mod_revision: String(rev),
  create_revision: String(rev),
  version: '1',
});

async function flush(): Promise<void> {
  for (let i = 0; i < 30; i++) await new Promise<void>((r) => setImmediate(r));
}

/** A watch response body the test feeds line by line (or in arbitrary chunks), then ends or errors. */
function streamBody() {
  let ctl!: ReadableStreamDefaultController<Uint8Array>;
  const body = new ReadableStream<Uint8Array>({ start: (c) => void (ctl = c) });
  const enc = new TextEncoder();
  return {
    body,
    send: (obj: unknown) => ctl.enqueue(enc.encode(JSON.stringify(obj) + '\n')),
    raw: (s: string) => ctl.enqueue(enc.encode(s)),
    end: () => ctl.close(),
    fail: () => ctl.error(new TypeError('terminated')),
  };
}

function gateway() {
  const calls: Array<{ url: string; body: Record<string, unknown> }> = [];
  const watches: Array<ReturnType<typeof streamBody> & { url: string; start: string; aborted: boolean }> = [];
  let rangeAnswer: unknown = { header: { revision: '10' }, kvs: [kv('s/a', '10.0.0.1:80', 5)] };
  const down = new Set<string>();
  const fetchFn: FetchLike = async (url, init) => {
    const body = JSON.parse(String(init?.body ?? '{}')) as Record<string, unknown>;
    calls.push({ url, body });
    const host = new URL(url).host;
    if (down.has(host)) throw new TypeError('fetch failed: ECONNREFUSED');
    if (url.endsWith('/v3/kv/range')) return new Response(JSON.stringify(rangeAnswer), { status: 200 });
    if (url.endsWith('/v3/watch')) {
      const s = streamBody();
      const start = String((body.create_request as { start_revision: string }).start_revision);
      const w = { ...s, url, start, aborted: false };
      init?.signal?.addEventListener('abort', () => {
        w.aborted = true;
        try {
          s.fail();
        } catch {
          // already closed
        }
      });
      watches.push(w);
      return new Response(s.body, { status: 200 });
    }
    return new Response('{}', { status: 404 });
  };
  return { fetchFn, calls, watches, down, setRange: (v: unknown) => (rangeAnswer = v) };
}

/** A resolver of prefix `s` over `members` (port 2379) of the scripted gateway, backing off 100 ms doubled to 400. */
function backingOff(
  g: ReturnType<typeof gateway>,
  clock: VirtualClock,
  r: ReturnType<typeof recorder>,
  members: string[],
): EtcdResolver {
  const endpoints = members.map((m) => `http://${m}:2379`);
  const opts = { endpoints, prefix: 's', fetch: g.fetchFn, clock, initialBackoffMs: 100, maxBackoffMs: 400 };
  return new EtcdResolver(opts, r.listener);
}

/** Moves the virtual clock, then lets the scripted gateway's responses settle. */
async function advance(clock: VirtualClock, ms: number): Promise<void> {
  await clock.advance(ms);
  await flush();
}

test('a resumed watch starts at revision + 1 on the next member and skips replayed events', async (t) => {
  const g = gateway();
  const clock = new VirtualClock(0);
  const r = recorder();
  const res = new EtcdResolver(
    { endpoints: ['http://m0:2379', 'http://m1:2379'], prefix: 's', fetch: g.fetchFn, clock },
    r.listener,
  );
  await flush();
  t.deepEqual(r.ids(), ['10.0.0.1:80']);
  t.is(g.watches.length, 1);
  const w0 = g.watches[0]!;
  t.is(w0.start, '11');
  w0.send({ result: { header: { revision: '10' }, created: true } });
  // A PUT without `type` (etcd 3.4), split across two chunks.
  const line = JSON.stringify({
    result: { header: { revision: '11' }, events: [{ kv: kv('s/b', '10.0.0.2:80', 11) }] },
  });
  w0.raw(line.slice(0, 25));
  await flush();
  w0.raw(line.slice(25) + '\n');
  await flush();
  t.deepEqual(r.ids(), ['10.0.0.1:80', '10.0.0.2:80']);
  // The member dies mid-stream.
  w0.fail();
  await flush();
  t.is(r.errors.length, 1);
  t.is(g.watches.length, 2, 'failed over at once, no backoff for the first failure of a round');
  const w1 = g.watches[1]!;
  t.is(w1.url, 'http://m1:2379/v3/watch');
  t.is(w1.start, '12', 'resumes after the last applied revision');
  t.is(g.calls.filter((c) => c.url.endsWith('/range')).length, 1, 'no second list');
  // A member that replays revision 11 (overlap) and then 12: 11 is skipped, 12 applied.
  w1.send({ result: { header: { revision: '12' }, created: true } });
  w1.send({
    result: {
      header: { revision: '12' },
      events: [{ kv: kv('s/b', '10.0.0.2:80', 11) }, { type: 'DELETE', kv: { key: b64('s/a'), mod_revision: '12' } }],
    },
  });
  await flush();
  t.deepEqual(r.ids(), ['10.0.0.2:80']);
  t.deepEqual(
    { ...res.stats(), endpoint: undefined },
    { revision: 12, eventsApplied: 2, eventsSkipped: 1, lists: 1, watchesOpened: 2, endpoint: undefined },
  );
  res.close();
  await flush();
  t.true(w1.aborted, 'close() aborts the open stream');
});

test('every member down: exponential backoff between rounds; an in-stream error fails over', async (t) => {
  const g = gateway();
  const clock = new VirtualClock(0);
  const r = recorder();
  g.down.add('m0:2379');
  g.down.add('m1:2379');
  const res = backingOff(g, clock, r, ['m0', 'm1']);
  await flush();
  t.is(g.calls.length, 2, 'one round: both members tried');
  t.is(r.lists.length, 0);
  await advance(clock, 99);
  t.is(g.calls.length, 2);
  await advance(clock, 1);
  t.is(g.calls.length, 4, 'second round after 100 ms');
  await advance(clock, 199);
  t.is(g.calls.length, 4);
  await advance(clock, 1);
  t.is(g.calls.length, 6, 'third round after 200 ms more');
  await advance(clock, 400);
  t.is(g.calls.length, 8, 'capped at 400 ms');
  g.down.clear();
  await advance(clock, 400);
  t.deepEqual(r.ids(), ['10.0.0.1:80']);
  const w = g.watches.at(-1)!;
  w.send({ result: { created: true } });
  // etcd 3.4's gateway names the status grpc_code only (here when the server shuts down)
  w.send({
    error: { grpc_code: 14, http_code: 503, message: 'transport is closing', http_status: 'Service Unavailable' },
  });
  await flush();
  t.regex(r.errors.at(-1)!.message, /transport is closing/);
  t.is((r.errors.at(-1) as { code?: unknown }).code, 14);
  t.is(g.watches.length, 2);
  t.not(g.watches[1]!.url, w.url, 'moved to the other member');
  res.close();
});

test('a member down while another answers is a notice, not a ResolverError: waiting picks are not failed', async (t) => {
  const g = gateway();
  g.down.add('m0:2379');
  const r = recorder();
  const res = new EtcdResolver(
    { endpoints: ['http://m0:2379', 'http://m1:2379'], prefix: 's', fetch: g.fetchFn },
    r.listener,
  );
  await flush();
  t.deepEqual(r.ids(), ['10.0.0.1:80'], 'listed from the second member');
  t.is(r.errors.length, 1);
  t.false(r.errors[0] instanceof ResolverError, 'one member of two failed: the resolution did not');
  t.regex(r.errors[0]!.message, /^etcd http:\/\/m0:2379: \/v3\/kv\/range: /);
  res.close();
});

test('a watch on a store behind the applied revision (etcd restarted with less history) lists afresh', async (t) => {
  const g = gateway();
  const r = recorder();
  const clock = new VirtualClock(0);
  const res = new EtcdResolver({ endpoints: ['http://m0:2379'], prefix: 's', fetch: g.fetchFn, clock }, r.listener);
  await flush();
  t.deepEqual(r.ids(), ['10.0.0.1:80']);
  g.watches[0]!.send({ result: { header: { revision: '10' }, created: true } });
  await flush();
  t.is(g.watches.length, 1, 'a store at the listed revision: the watch stands');
  // the member comes back with an empty data dir and a new registration at revision 2
  g.setRange({ header: { revision: '2' }, kvs: [kv('s/b', '10.0.0.2:80', 2)] });
  g.watches[0]!.fail();
  await advance(clock, 5000); // the back-off after the only member failed
  t.is(g.watches[1]!.start, '11');
  g.watches[1]!.send({ result: { header: { revision: '2' }, created: true } });
  await flush();
  t.deepEqual(r.ids(), ['10.0.0.2:80'], 'listed afresh');
  t.regex(r.errors.at(-1)!.message, /store is at revision 2, behind the 10 applied/);
  t.false(r.errors.at(-1) instanceof ResolverError);
  t.is(g.watches.at(-1)!.start, '3', 'watching from the new store');
  t.is(res.stats().revision, 2);
  res.close();
});

test('watches etcd creates and cancels at once count toward a failed round: a ResolverError and a back-off, no tight loop', async (t) => {
  const g = gateway();
  const clock = new VirtualClock(0);
  const r = recorder();
  const res = backingOff(g, clock, r, ['m0', 'm1', 'm2']);
  await flush();
  let answered = 0;
  const cancelNew = async () => {
    for (let k = 0; k < 5; k++) {
      while (answered < g.watches.length)
        g.watches[answered++]!.send({ result: { created: true, canceled: true, cancel_reason: 'permission denied' } });
      await flush();
    }
  };
  await cancelNew();
  t.is(g.watches.length, 3, 'each member once, then the back-off');
  const failures = () => r.errors.filter((e) => e instanceof ResolverError).length;
  t.is(failures(), 1, 'the round failed');
  t.is(r.errors.length, 3, 'two notices and the failure');
  await advance(clock, 99);
  t.is(g.watches.length, 3);
  await advance(clock, 1);
  await cancelNew();
  t.is(g.watches.length, 6, 'the second round after 100 ms');
  t.is(failures(), 2);
  await advance(clock, 199);
  t.is(g.watches.length, 6, 'the back-off doubled');
  res.close();
});

test('malformed watch lines are errors that fail over, never crashes', async (t) => {
  const g = gateway();
  const r = recorder();
  const res = new EtcdResolver(
    { endpoints: ['http://m0:2379', 'http://m1:2379'], prefix: 's', fetch: g.fetchFn },
    r.listener,
  );
  await flush();
  g.watches[0]!.raw('{"result": nope}\n');
  await flush();
  t.is(r.errors.length, 1);
  t.is(g.watches.length, 2);
  t.deepEqual(r.ids(), ['10.0.0.1:80'], 'the last good list stands');
  res.close();
});

test('refresh() cuts a backoff short, at most once per minRefreshIntervalMs', async (t) => {
  const g = gateway();
  const clock = new VirtualClock(0);
  const r = recorder();
  g.down.add('m0:2379');
  const res = new EtcdResolver(
    {
      endpoints: ['http://m0:2379'],
      prefix: 's',
      fetch: g.fetchFn,
      clock,
      initialBackoffMs: 10_000,
      minRefreshIntervalMs: 1_000,
    },
    r.listener,
  );
  await flush();
  t.is(g.calls.length, 1);
  res.refresh();
  await flush();
  t.is(g.calls.length, 2, 'the first refresh retries at once');
  res.refresh();
  await flush();
  t.is(g.calls.length, 2, 'a second refresh within 1 s waits');
  await advance(clock, 1_000);
  t.is(g.calls.length, 3, '... until the interval has passed');
  g.down.clear();
  res.refresh();
  await advance(clock, 1_000);
  t.deepEqual(r.ids(), ['10.0.0.1:80']);
  res.close();
});

test('the <prefix>/_grpc_config key is the service config, never an endpoint; delivered before its list', async (t) => {
  const g = gateway();
  const RR = { loadBalancingConfig: [{ round_robin: {} }] };
  const LR = { loadBalancingConfig: [{ least_request: {} }] };
  g.setRange({
    header: { revision: '10' },
    kvs: [kv('s/_grpc_config', JSON.stringify(RR), 4), kv('s/a', '10.0.0.1:80', 5)],
  });
  const log: string[] = [];
  const errors: Error[] = [];
  const res = new EtcdResolver(
    { endpoints: ['http://m0:2379'], prefix: 's', fetch: g.fetchFn },
    {
      onEndpoints: (l) => log.push(`list ${l.map((e) => e.id).join()}`),
      onError: (e) => errors.push(e),
      onServiceConfig: (c) => log.push(`config ${JSON.stringify(c)}`),
    },
  );
  await flush();
  t.deepEqual(log, [`config ${JSON.stringify(RR)}`, 'list 10.0.0.1:80']);
  t.deepEqual(errors, []);
  const w = g.watches[0]!;
  w.send({ result: { created: true } });
  // A choice list (gRFC A2) in a watch event: delivered; the members are untouched.
  const put = (value: string, rev: number) =>
    w.send({ result: { events: [{ kv: kv('s/_grpc_config', value, rev) }] } });
  put(JSON.stringify([{ clientLanguage: ['node'], serviceConfig: LR }]), 11);
  await flush();
  t.deepEqual(log.slice(2), [`config ${JSON.stringify(LR)}`]);
  // The same config again: nothing. A malformed one: a TypeError naming the key, nothing delivered.
  put(JSON.stringify(LR), 12);
  put('{"loadBalancingConfig": [', 13);
  await flush();
  t.is(log.length, 3);
  t.is(errors.length, 1);
  t.true(errors[0] instanceof TypeError);
  t.regex(errors[0]!.message, /^etcd key "s\/_grpc_config" must be/);
  // Deleting the key changes nothing; a new endpoint still flows.
  w.send({ result: { events: [{ type: 'DELETE', kv: { key: b64('s/_grpc_config'), mod_revision: '14' } }] } });
  w.send({ result: { events: [{ kv: kv('s/b', '10.0.0.2:80', 15) }] } });
  await flush();
  t.deepEqual(log.slice(3), ['list 10.0.0.1:80,10.0.0.2:80']);
  t.is(errors.length, 1);
  res.close();
});

test('failures are ResolverErrors naming the target; a compaction notice is not', async (t) => {
  const g = gateway();
  g.down.add('m0:2379');
  const r = recorder();
  const res = new EtcdResolver({ endpoints: ['http://m0:2379'], prefix: 'svc/api', fetch: g.fetchFn }, r.listener);
  await flush();
  const e = r.errors[0] as ResolverError;
  t.true(e instanceof ResolverError);
  t.is(e.target, 'etcd:///svc/api');
  t.regex(e.message, /ECONNREFUSED/);
  res.close();
  const g2 = gateway();
  const r2 = recorder();
  const res2 = new EtcdResolver(
    { endpoints: ['http://m0:2379'], prefix: 's', fetch: g2.fetchFn, uri: 'etcd://m0:2379/s' },
    r2.listener,
  );
  await flush();
  g2.watches[0]!.send({ result: { created: true } });
  g2.watches[0]!.send({ result: { canceled: true, compact_revision: '20' } });
  await flush();
  t.is(r2.errors.length, 1);
  t.false(r2.errors[0] instanceof ResolverError);
  t.regex(r2.errors[0]!.message, /compacted/);
  res2.close();
});

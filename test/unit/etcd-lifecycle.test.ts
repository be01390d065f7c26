// etcd's loops and their ends, against a scripted gateway (an injected fetch) on a VirtualClock: the liveness
// probe belongs to its watch (a probe answering after its watch ended starts no second loop, and nothing is
// sent after close()); registerEtcd's `ready` rejects on close(), a close() between the lease grant and the
// put writes no key and revokes the lease, and a close() during a keep-alive tries no other member; a listener
// closing the resolver on its first list opens no watch; a throwing onError never stops the registration, and a
// second close() settles with the first.
import test from 'ava';
import { VirtualClock } from '../../bindings/util/clock.js';
import type { FetchLike } from '../../bindings/discovery/resolver.js';
import { EtcdResolver } from '../../bindings/discovery/etcd/resolver.js';
import { EtcdError } from '../../bindings/discovery/etcd/client.js';
import { registerEtcd, type EtcdRegistration } from '../../bindings/discovery/etcd/registration.js';
import { parseEtcdValue } from '../../bindings/discovery/etcd/members.js';
import { recorder } from '../helpers/resolver.js';

const b64 = (s: string) => Buffer.from(s).toString('base64');
const json = (v: unknown) => new Response(JSON.stringify(v), { status: 200 });

async function flush(): Promise<void> {
  for (let i = 0; i < 30; i++) await new Promise<void>((r) => setImmediate(r));
}

async function advance(clock: VirtualClock, ms: number): Promise<void> {
  await clock.advance(ms);
  await flush();
}

/** A gateway whose watches the test ends, and whose probes (one-key ranges) it may hold. */
function gateway() {
  const enc = new TextEncoder();
  const watches: Array<{ end: () => void }> = [];
  const held: Array<() => void> = [];
  let holdProbes = false;
  let probes = 0;
  const fetchFn: FetchLike = async (url, init) => {
    const body = JSON.parse(String(init?.body ?? '{}')) as Record<string, unknown>;
    if (url.endsWith('/v3/kv/range') && body.limit === '1') {
      probes++;
      if (holdProbes) await new Promise<void>((r) => held.push(r));
      return json({ header: { revision: '5' } });
    }
    if (url.endsWith('/v3/kv/range')) {
      return json({
        header: { revision: '5' },
        kvs: [{ key: b64('s/a'), value: b64('10.0.0.1:80'), mod_revision: '3' }],
      });
    }
    if (url.endsWith('/v3/watch')) {
      let ctl!: ReadableStreamDefaultController<Uint8Array>;
      const stream = new ReadableStream<Uint8Array>({ start: (c) => void (ctl = c) });
      ctl.enqueue(enc.encode(JSON.stringify({ result: { header: { revision: '5' }, created: true } }) + '\n'));
      init?.signal?.addEventListener('abort', () => {
        try {
          ctl.error(new Error('aborted'));
        } catch {
          // already closed
        }
      });
      watches.push({
        end: () => {
          try {
            ctl.close();
          } catch {
            // already errored
          }
        },
      });
      return new Response(stream, { status: 200 });
    }
    return new Response('{}', { status: 404 });
  };
  return {
    fetchFn,
    watches,
    held,
    probes: () => probes,
    hold: (on: boolean) => (holdProbes = on),
  };
}

/**
 * A resolver probing every 100 ms whose first probe hangs while the server ends the watch; the watch re-opens,
 * then the old watch's probe answers.
 */
async function orphanedProbe() {
  const g = gateway();
  const clock = new VirtualClock(0);
  const r = recorder();
  const res = new EtcdResolver(
    { endpoints: ['http://m0:2379'], prefix: 's', fetch: g.fetchFn, clock, probeIntervalMs: 100, initialBackoffMs: 50 },
    r.listener,
  );
  await flush();
  g.hold(true);
  await advance(clock, 100);
  const first = g.probes();
  g.watches[0]!.end();
  await flush();
  g.hold(false);
  await advance(clock, 50);
  const watches = g.watches.length;
  g.held.shift()!();
  await flush();
  return { g, clock, r, res, first, watches };
}

test('a probe answering after its watch ended starts no second probe loop', async (t) => {
  const { g, clock, r, res, first, watches } = await orphanedProbe();
  t.is(first, 1, 'the first probe went out at 100 ms');
  t.regex(r.errors[0]!.message, /watch stream ended/);
  t.is(watches, 2, 'the watch re-opened after the back-off');
  const before = g.probes();
  await advance(clock, 1000);
  t.is(g.probes() - before, 10, 'one probe loop: every 100 ms');
  t.is(r.errors.length, 1);
  res.close();
});

test('no probe request follows close(), from a probe in flight or an ended watch', async (t) => {
  const { g, clock, res } = await orphanedProbe();
  await advance(clock, 30);
  res.close();
  const atClose = g.probes();
  await advance(clock, 1000);
  t.is(g.probes(), atClose, 'no request after close()');
  t.is(clock.pending, 0, 'no timer left');
  // A probe in flight at close() that answers afterwards schedules nothing either.
  const o = await orphanedProbe();
  o.g.hold(true);
  await advance(o.clock, 100);
  o.res.close();
  const n = o.g.probes();
  o.g.hold(false);
  for (const release of o.g.held.splice(0)) release();
  await advance(o.clock, 1000);
  t.is(o.g.probes(), n);
  t.is(o.clock.pending, 0);
});

test('a listener that closes the resolver on its first list opens no watch after close()', async (t) => {
  const g = gateway();
  const paths: string[] = [];
  const fetchFn: FetchLike = (url, init) => (paths.push(new URL(url).pathname), g.fetchFn(url, init));
  const lists: number[] = [];
  const res: EtcdResolver = new EtcdResolver(
    { endpoints: ['http://m0:2379'], prefix: 's', fetch: fetchFn, clock: new VirtualClock(0) },
    { onEndpoints: (l) => (lists.push(l.length), res.close()), onError: () => {} },
  );
  await flush();
  t.deepEqual(lists, [1]);
  // A watch sent after close() would hang on a member that never answers it, keeping the process alive.
  t.deepEqual(paths, ['/v3/kv/range'], 'no watch request after close()');
});

/** A scripted gateway for the registration: lease grant, put, keep-alive, revoke; every request recorded. */
function leaseGateway(handlers: {
  grant?: () => void;
  keepalive?: (url: string, signal?: AbortSignal) => Promise<void>;
}) {
  const calls: string[] = [];
  const fetchFn: FetchLike = async (url, init) => {
    const body = JSON.parse(String(init?.body ?? '{}')) as Record<string, unknown>;
    const path = new URL(url).pathname;
    calls.push(`${new URL(url).host}${path}${body.ID !== undefined ? ` ${String(body.ID)}` : ''}`);
    if (path === '/v3/lease/grant') {
      handlers.grant?.();
      return json({ ID: '42', TTL: '3' });
    }
    if (path === '/v3/lease/keepalive') {
      await handlers.keepalive?.(url, init?.signal ?? undefined);
      return json({ result: { ID: '42', TTL: '3' } });
    }
    return json({ header: { revision: '1' } });
  };
  return { calls, fetchFn };
}

test('registerEtcd: close() before the key was written rejects ready (code 1, CANCELLED)', async (t) => {
  const clock = new VirtualClock(0);
  let tries = 0;
  const fetch: FetchLike = async () => {
    tries++;
    throw new TypeError('fetch failed');
  };
  const errors: Error[] = [];
  const reg = registerEtcd({
    endpoints: ['http://m0:2379'],
    prefix: 'svc',
    addr: '10.0.0.1:80',
    fetch,
    clock,
    onError: (e) => errors.push(e),
  });
  await advance(clock, 3000);
  t.true(tries >= 3, 'retries while unreachable');
  const outcome = Promise.race([
    reg.ready.then(
      () => 'resolved',
      (e: unknown) => e,
    ),
    new Promise((r) => setTimeout(() => r('still pending'), 200)),
  ]);
  await reg.close();
  const e = await outcome;
  t.true(e instanceof EtcdError, String(e));
  t.is((e as EtcdError).code, 1);
  t.regex((e as Error).message, /registration of "svc\/10\.0\.0\.1:80" closed before the key was written/);
  t.regex(errors[0]!.message, /etcd http:\/\/m0:2379: \/v3\/lease\/grant: fetch failed/);
  const n = tries;
  await advance(clock, 3000);
  t.is(tries, n, 'no retry after close()');
});

test('registerEtcd: a close() between the lease grant and the put writes no key and revokes the lease', async (t) => {
  const clock = new VirtualClock(0);
  // Set once registerEtcd returned (the fetch below runs after that).
  const box: { reg?: EtcdRegistration } = {};
  let closing: Promise<void> | undefined;
  const g = leaseGateway({ grant: () => (closing = box.reg!.close()) });
  const reg = (box.reg = registerEtcd({
    endpoints: ['http://m0:2379'],
    prefix: 'svc',
    addr: '10.0.0.1:80',
    fetch: g.fetchFn,
    clock,
  }));
  await flush();
  t.not(closing, undefined);
  await closing;
  await flush();
  t.deepEqual(g.calls, ['m0:2379/v3/lease/grant', 'm0:2379/v3/lease/revoke 42']);
  await t.throwsAsync(reg.ready, { instanceOf: EtcdError, message: /closed before the key was written/ });
});

test('registerEtcd: a close() during a keep-alive tries no other member, then revokes', async (t) => {
  const clock = new VirtualClock(0);
  let keepalives = 0;
  const g = leaseGateway({
    keepalive: (_url, signal) => {
      keepalives++;
      // Hangs until aborted, as a member that does not answer.
      return new Promise<void>((_r, reject) => signal?.addEventListener('abort', () => reject(signal.reason)));
    },
  });
  const reg = registerEtcd({
    endpoints: ['http://m0:2379', 'http://m1:2379'],
    prefix: 'svc',
    addr: '10.0.0.1:80',
    ttlS: 3,
    fetch: g.fetchFn,
    clock,
  });
  await reg.ready;
  await advance(clock, 1000);
  t.is(keepalives, 1);
  await reg.close();
  await flush();
  t.deepEqual(g.calls, [
    'm0:2379/v3/lease/grant',
    'm0:2379/v3/kv/put',
    'm0:2379/v3/lease/keepalive 42',
    'm0:2379/v3/lease/revoke 42',
  ]);
});

test('registerEtcd: an onError that throws is contained; the registration keeps retrying', async (t) => {
  const clock = new VirtualClock(0);
  const unhandled: unknown[] = [];
  const onUnhandled = (e: unknown) => unhandled.push(e);
  process.on('unhandledRejection', onUnhandled);
  t.teardown(() => void process.off('unhandledRejection', onUnhandled));
  let down = true;
  const g = leaseGateway({});
  const fetchFn: FetchLike = async (url, init) => {
    if (down) throw new TypeError('fetch failed');
    return g.fetchFn(url, init);
  };
  let thrown = 0;
  const reg = registerEtcd({
    endpoints: ['http://m0:2379'],
    prefix: 'svc',
    addr: '10.0.0.1:80',
    fetch: fetchFn,
    clock,
    onError: () => {
      thrown++;
      throw new Error('a broken error handler');
    },
  });
  await advance(clock, 1000);
  t.true(thrown >= 1);
  down = false;
  await advance(clock, 1000);
  t.deepEqual(g.calls.slice(0, 2), ['m0:2379/v3/lease/grant', 'm0:2379/v3/kv/put'], 'registered once etcd is back');
  await reg.ready;
  await reg.close();
  await flush();
  t.deepEqual(unhandled, []);
});

test('registerEtcd: an onError that is not a function is a TypeError naming it', (t) => {
  t.throws(
    () => registerEtcd({ endpoints: ['http://m0:2379'], prefix: 'svc', addr: '10.0.0.1:80', onError: 'log' as never }),
    { instanceOf: TypeError, message: /^onError must be a function, got "log"/ },
  );
});

test('registerEtcd: a second close() settles with the first, once the lease is revoked', async (t) => {
  const order: string[] = [];
  let releaseRevoke: (() => void) | undefined;
  const fetchFn: FetchLike = async (url) => {
    const path = new URL(url).pathname;
    if (path === '/v3/lease/grant') return json({ ID: '42', TTL: '3' });
    if (path === '/v3/lease/revoke') {
      await new Promise<void>((r) => (releaseRevoke = r));
      order.push('revoked');
    }
    return json({ header: { revision: '1' } });
  };
  const reg = registerEtcd({ endpoints: ['http://m0:2379'], prefix: 'svc', addr: '10.0.0.1:80', fetch: fetchFn });
  await reg.ready;
  const first = reg.close().then(() => order.push('first'));
  const second = reg.close().then(() => order.push('second'));
  await flush();
  t.deepEqual(order, [], 'neither close() settled before the revoke answered');
  releaseRevoke!();
  await Promise.all([first, second]);
  t.deepEqual(order, ['revoked', 'first', 'second']);
});

test('etcd values: Metadata given as an array is named as one', (t) => {
  t.throws(() => parseEtcdValue('s/k', '{"Addr":"10.0.0.1:80","Metadata":[]}'), {
    instanceOf: TypeError,
    message: 'etcd value of "s/k".Metadata must be an object, got an array []',
  });
  t.throws(() => parseEtcdValue('s/k', JSON.stringify({ Addr: '10.0.0.1:80', Metadata: ['x'.repeat(60)] })), {
    instanceOf: TypeError,
    message: /^etcd value of "s\/k"\.Metadata must be an object, got an array \["x{38}…$/,
  });
});

test('registerEtcd refuses metadata the resolver would skip, naming the key and field', (t) => {
  const base = { endpoints: ['http://m0:2379'], prefix: 'svc/m', addr: '127.0.0.1:1001' };
  const fetch: FetchLike = async () => {
    throw new TypeError('never called');
  };
  t.throws(() => registerEtcd({ ...base, fetch, metadata: 'x' as never }), {
    instanceOf: TypeError,
    message: 'etcd value of "svc/m/127.0.0.1:1001".Metadata must be an object, got "x"',
  });
  t.throws(() => registerEtcd({ ...base, fetch, metadata: { weight: -1 } }), {
    instanceOf: RangeError,
    message: /^etcd value of "svc\/m\/127\.0\.0\.1:1001"\.weight must be .*, got -1$/,
  });
  t.throws(() => registerEtcd({ ...base, fetch, metadata: { priority: 'high' } }), {
    instanceOf: TypeError,
    message: /^etcd value of "svc\/m\/127\.0\.0\.1:1001"\.priority must be .*, got "high"$/,
  });
});

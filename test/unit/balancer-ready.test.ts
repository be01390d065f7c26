// Waiting picks (Balancer.pickAsync / ready, bindings/balancing/ready.ts): picks made before the first list,
// after every member was removed, or while health checking has no first result yet wait for a picker that can
// serve them, bounded by a deadline on the injected clock and an AbortSignal; a resolver error before any list
// fails them at once. No timer or abort listener outlives a wait.
import test from 'ava';
import fc from 'fast-check';
import { Balancer } from '../../bindings/balancing/balancer.js';
import type { Picked } from '../../bindings/balancing/events.js';
import type { Policy } from '../../bindings/balancing/picker.js';
import { UnavailableError } from '../../bindings/balancing/errors.js';
import { VirtualClock } from '../../bindings/util/clock.js';
import { HealthChecker, type HealthProbe } from '../../bindings/health/checker.js';
import { connectHealth } from '../../bindings/health/connect.js';
import type { Endpoint } from '../../bindings/util/endpoint.js';

/** Settles `p` into a readable state without awaiting it. */
function track<T>(p: Promise<T>) {
  const s: { state: 'waiting' | 'ok' | 'error'; value?: T; error?: unknown } = { state: 'waiting' };
  p.then(
    (v) => Object.assign(s, { state: 'ok', value: v }),
    (e) => Object.assign(s, { state: 'error', error: e }),
  );
  return s;
}

/** An AbortSignal look-alike counting its listeners. */
function countingSignal() {
  const c = new AbortController();
  let listeners = 0;
  const signal = c.signal;
  const add = signal.addEventListener.bind(signal);
  const remove = signal.removeEventListener.bind(signal);
  signal.addEventListener = ((type: string, fn: EventListener, o?: AddEventListenerOptions) => {
    listeners++;
    add(type, fn, o);
  }) as typeof signal.addEventListener;
  signal.removeEventListener = ((type: string, fn: EventListener) => {
    listeners--;
    remove(type, fn);
  }) as typeof signal.removeEventListener;
  return { controller: c, signal, listeners: () => listeners };
}

const flush = () => new Promise<void>((r) => setImmediate(r));

test('picks made before the first list wait for it: 64 callers in one tick, 0 failures, FIFO, no timer left', async (t) => {
  const clock = new VirtualClock(0);
  const lb = new Balancer({ clock, target: 'static:///x' });
  t.deepEqual(lb.pick(), { type: 'none', reason: 'empty' });
  const order: number[] = [];
  const waits = Array.from({ length: 64 }, (_, i) =>
    lb.pickAsync().then((p) => {
      order.push(i);
      return p;
    }),
  );
  const ready = track(lb.ready());
  t.is(clock.pending, 65);
  t.is(lb.stats().waiting, 65);
  await clock.advance(5000);
  t.is(ready.state, 'waiting');
  lb.reset(['10.0.0.1:80', '10.0.0.2:80']);
  const picks = await Promise.all(waits);
  await flush();
  t.is(ready.state, 'ok');
  t.deepEqual(order, [...Array(64).keys()]);
  t.deepEqual([...new Set(picks.map((p) => p.member.id))].sort(), ['10.0.0.1:80', '10.0.0.2:80']);
  t.is(
    lb.stats().members.reduce((a, m) => a + m.active, 0),
    64,
  );
  for (const p of picks) p.handle.done({ ok: true });
  t.is(
    lb.stats().members.reduce((a, m) => a + m.active, 0),
    0,
  );
  t.is(clock.pending, 0, 'every deadline timer was cleared');
  t.is(lb.stats().waiting, 0);
  // once members exist, pickAsync is pick(): resolved without a wait
  const p = await lb.pickAsync();
  t.is(p.type, 'pick');
  t.is(clock.pending, 0);
});

test('the deadline: UnavailableError naming the target at exactly timeoutMs; default readyTimeoutMs', async (t) => {
  const clock = new VirtualClock(0);
  const lb = new Balancer({ clock, target: 'dns:///svc.local', readyTimeoutMs: 300 });
  const a = track(lb.pickAsync(undefined, { timeoutMs: 100 }));
  const b = track(lb.pickAsync()); // default: readyTimeoutMs
  const r = track(lb.ready({ timeoutMs: 200 }));
  await clock.advance(99);
  t.is(a.state, 'waiting');
  await clock.advance(1);
  t.is(a.state, 'error');
  t.true(a.error instanceof UnavailableError);
  const e = a.error as UnavailableError;
  t.is(e.name, 'UnavailableError');
  t.is(e.code, 'UNAVAILABLE');
  t.is(e.target, 'dns:///svc.local');
  t.regex(e.message, /dns:\/\/\/svc\.local.*100 ms.*no endpoint list/);
  await clock.advance(100);
  t.is(r.state, 'error');
  t.is(b.state, 'waiting');
  await clock.advance(100);
  t.is(b.state, 'error');
  t.regex((b.error as Error).message, /300 ms/);
  t.is(clock.pending, 0);
  // the default default is 10 s
  const lb2 = new Balancer({ clock });
  t.is(lb2.readyTimeoutMs, 10_000);
  const c = track(lb2.pickAsync());
  await clock.advance(9999);
  t.is(c.state, 'waiting');
  await clock.advance(1);
  t.is(c.state, 'error');
  t.is((c.error as UnavailableError).target, undefined);
});

test('a resolver error before any list fails waiting picks at once with that error; later waits too', async (t) => {
  const clock = new VirtualClock(0);
  const lb = new Balancer({ clock, target: 'etcd:///svc' });
  const waits = [track(lb.pickAsync()), track(lb.pickAsync()), track(lb.ready())];
  const boom = new Error('etcd: connection refused');
  lb.setResolverError(boom);
  await flush();
  for (const w of waits) {
    t.is(w.state, 'error');
    t.is(w.error, boom);
  }
  t.is(clock.pending, 0);
  await t.throwsAsync(lb.pickAsync(), { is: boom });
  await t.throwsAsync(lb.ready(), { is: boom });
  // the resolver recovers: an empty list still counts as an answer (waits then run to their deadline)
  lb.setResolverError(null);
  const w = track(lb.pickAsync(undefined, { timeoutMs: 50 }));
  lb.reset([]);
  lb.setResolverError(new Error('etcd: lost'));
  await flush();
  t.is(w.state, 'waiting', 'after a list, a resolver error no longer fails waits at once');
  await clock.advance(50);
  t.is(w.state, 'error');
  t.true(w.error instanceof UnavailableError);
  t.is(((w.error as UnavailableError).cause as Error).message, 'etcd: lost');
  t.regex((w.error as Error).message, /has no members/);
  t.throws(() => lb.setResolverError('bad' as never), { instanceOf: TypeError, message: /error.*bad/ });
});

test('every member removed later: picks queue again until members return or the deadline', async (t) => {
  const clock = new VirtualClock(0);
  const lb = new Balancer({ clock, endpoints: ['a:1', 'b:1'] });
  lb.remove(['a:1', 'b:1']);
  const w = track(lb.pickAsync(undefined, { timeoutMs: 1000 }));
  const late = track(lb.pickAsync(undefined, { timeoutMs: 1000 }));
  await clock.advance(500);
  t.is(w.state, 'waiting');
  lb.add('c:1');
  await flush();
  t.is(w.state, 'ok');
  t.is((w.value as Picked).member.id, 'c:1');
  t.is(late.state, 'ok');
  lb.remove('c:1');
  const w2 = track(lb.pickAsync(undefined, { timeoutMs: 1000 }));
  await clock.advance(1000);
  t.is(w2.state, 'error');
  t.true(w2.error instanceof UnavailableError);
});

test('an excluded-only pick waits for a member it may use; panic "fail" waits for a healthy member', async (t) => {
  const clock = new VirtualClock(0);
  const lb = new Balancer({ clock, endpoints: ['a:1'], panicMode: 'fail' });
  const w = track(lb.pickAsync({ exclude: new Set(['a:1']) }, { timeoutMs: 100 }));
  await flush();
  t.is(w.state, 'waiting');
  lb.add('b:1');
  await flush();
  t.is((w.value as Picked).member.id, 'b:1');
  lb.setAvailable('a:1', false);
  lb.setAvailable('b:1', false);
  t.deepEqual(lb.pick(), { type: 'none', reason: 'no-healthy' });
  const r = track(lb.ready());
  const p = track(lb.pickAsync());
  await clock.advance(10);
  t.is(r.state, 'waiting');
  lb.setAvailable('b:1', true);
  await flush();
  t.is(r.state, 'ok');
  t.is((p.value as Picked).member.id, 'b:1');
});

test('abort: rejects with the signal reason, removes its listener and timer; an aborted signal rejects at once', async (t) => {
  const clock = new VirtualClock(0);
  const lb = new Balancer({ clock });
  const s = countingSignal();
  const w = track(lb.pickAsync(undefined, { signal: s.signal }));
  const r = track(lb.ready({ signal: s.signal }));
  t.is(s.listeners(), 2);
  const reason = new Error('client went away');
  s.controller.abort(reason);
  await flush();
  t.is(w.error, reason);
  t.is(r.error, reason);
  t.is(s.listeners(), 0);
  t.is(clock.pending, 0);
  await t.throwsAsync(lb.pickAsync(undefined, { signal: AbortSignal.abort(reason) }), { is: reason });
  // served waits remove their listeners too
  const s2 = countingSignal();
  const w2 = lb.pickAsync(undefined, { signal: s2.signal });
  lb.add('a:1');
  await w2;
  t.is(s2.listeners(), 0);
  t.is(clock.pending, 0);
});

test('close() rejects waiting picks with UnavailableError; bad options are typed errors naming the field', async (t) => {
  const clock = new VirtualClock(0);
  const lb = new Balancer({ clock, target: 'static:///z' });
  const w = track(lb.pickAsync());
  lb.close();
  await flush();
  t.true(w.error instanceof UnavailableError);
  t.regex((w.error as Error).message, /static:\/\/\/z was closed/);
  t.is(clock.pending, 0);
  await t.throwsAsync(lb.ready(), { instanceOf: UnavailableError });
  const lb2 = new Balancer({ clock });
  t.throws(() => lb2.pickAsync(undefined, { timeoutMs: -1 }), { instanceOf: RangeError, message: /timeoutMs.*-1/ });
  t.throws(() => lb2.pickAsync(undefined, { timeoutMs: '5' as never }), {
    instanceOf: TypeError,
    message: /timeoutMs/,
  });
  t.throws(() => lb2.ready({ signal: {} as never }), { instanceOf: TypeError, message: /signal/ });
  t.throws(() => new Balancer({ readyTimeoutMs: NaN }), { instanceOf: RangeError, message: /readyTimeoutMs.*NaN/ });
  t.throws(() => new Balancer({ target: 5 as never }), { instanceOf: TypeError, message: /target.*5/ });
  // Infinity: no deadline timer at all
  const inf = track(lb2.pickAsync(undefined, { timeoutMs: Infinity }));
  t.is(clock.pending, 0);
  lb2.add('a:1');
  await flush();
  t.is(inf.state, 'ok');
});

function healthSetup(ids: string[], up: Map<string, boolean>, delay: Map<string, number>, clock: VirtualClock) {
  const probe: HealthProbe = (m) =>
    new Promise((res) => clock.setTimeout(() => res(up.get(m.id) ?? true), delay.get(m.id) ?? 10));
  const checker = new HealthChecker<Endpoint>({ probe, clock, intervalMs: 1000, timeoutMs: 500, random: () => 0 });
  const lb = new Balancer({ clock, endpoints: ids.map((id, i) => ({ id, host: '10.0.0.1', port: 80 + i })) });
  const wiring = connectHealth(lb, { checker, clock });
  return { lb, checker, wiring };
}

test('health warming: while every member is pending, pick() says "pending" (no panic) and waits are served by the first result', async (t) => {
  const clock = new VirtualClock(0);
  const up = new Map([['b', false]]);
  const delay = new Map([
    ['a', 30],
    ['b', 5],
    ['c', 50],
  ]);
  const { lb, wiring } = healthSetup(['a', 'b', 'c'], up, delay, clock);
  t.deepEqual(lb.pick(), { type: 'none', reason: 'pending' });
  t.like(lb.stats(), { warming: true, panic: false, eligible: 0 });
  t.true(lb.isPending('a'));
  const waits = Array.from({ length: 8 }, () => track(lb.pickAsync()));
  const ready = track(lb.ready());
  await clock.advance(5); // b fails first: 0 available of 1 counted, but a and c are pending -> still warming
  t.false(lb.isPending('b'));
  t.like(lb.stats(), { warming: true, panic: false });
  t.true(waits.every((w) => w.state === 'waiting'));
  await clock.advance(25); // a passes: warming ends; c (pending) is not counted: 1 of 2 -> no panic
  t.like(lb.stats(), { warming: false, panic: false, eligible: 1 });
  t.is(ready.state, 'ok');
  t.true(waits.every((w) => w.state === 'ok' && (w.value as Picked).member.id === 'a'));
  wiring.close();
});

test('members arriving while picks wait, health wired first: no wait is served before their first results', async (t) => {
  // the resolver's first list reaches a Balancer whose health wiring marks each new member pending: picks
  // waiting since before the list were served by the members not marked yet (64 of 64 first tries went to
  // unprobed members in a walkthrough), and ready() resolved while the Balancer was warming
  const clock = new VirtualClock(0);
  const up = new Map([['a', false]]);
  const delay = new Map([
    ['a', 5],
    ['b', 20],
    ['c', 20],
  ]);
  const probe: HealthProbe = (m) =>
    new Promise((res) => clock.setTimeout(() => res(up.get(m.id) ?? true), delay.get(m.id) ?? 10));
  const checker = new HealthChecker<Endpoint>({ probe, clock, intervalMs: 1000, timeoutMs: 500, random: () => 0 });
  const lb = new Balancer({ clock });
  const wiring = connectHealth(lb, { checker, clock });
  const waits = Array.from({ length: 16 }, () => track(lb.pickAsync()));
  const ready = track(lb.ready());
  lb.reset(['a', 'b', 'c'].map((id, i) => ({ id, host: '10.0.0.1', port: 80 + i })));
  await flush();
  t.like(lb.stats(), { warming: true, eligible: 0 });
  t.true(
    waits.every((w) => w.state === 'waiting'),
    'no pick before a first result',
  );
  t.is(ready.state, 'waiting');
  await clock.advance(5); // a fails its first probe: b and c still pending
  t.true(waits.every((w) => w.state === 'waiting'));
  await clock.advance(15); // b and c pass
  t.is(ready.state, 'ok');
  t.true(waits.every((w) => w.state === 'ok' && (w.value as Picked).member.id !== 'a'));
  wiring.close();
});

test('health warming ends with panic when every first result fails (Envoy: then picks go to all)', async (t) => {
  const clock = new VirtualClock(0);
  const up = new Map([
    ['a', false],
    ['b', false],
  ]);
  const { lb, wiring } = healthSetup(['a', 'b'], up, new Map(), clock);
  const w = track(lb.pickAsync());
  await clock.advance(10);
  t.like(lb.stats(), { warming: false, panic: true, eligible: 2 });
  t.is(w.state, 'ok');
  wiring.close();
});

test('pending members are not counted for panic (Envoy excluded hosts): 2 healthy + 3 new pending is no panic', async (t) => {
  const clock = new VirtualClock(0);
  const { lb, wiring } = healthSetup(['a', 'b'], new Map(), new Map(), clock);
  await clock.advance(10);
  lb.add(['c', 'd', 'e'].map((id, i) => ({ id, host: '10.0.0.2', port: 80 + i })));
  t.deepEqual(
    lb.stats().members.map((m) => [m.id, m.pending]),
    [
      ['a', false],
      ['b', false],
      ['c', true],
      ['d', true],
      ['e', true],
    ],
  );
  t.like(lb.stats(), { panic: false, warming: false, eligible: 2 });
  const seen = new Set<string>();
  for (let i = 0; i < 20; i++) {
    const p = lb.pickOrThrow();
    seen.add(p.member.id);
    p.handle.done({ ok: true });
  }
  t.deepEqual([...seen].sort(), ['a', 'b']);
  await clock.advance(10);
  t.like(lb.stats(), { eligible: 5 });
  wiring.close();
});

test('property: every wait settles exactly once, by its deadline at the latest, and leaves no timer', async (t) => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(
        fc.oneof(
          fc.record({ op: fc.constant('wait' as const), ms: fc.integer({ min: 0, max: 300 }) }),
          fc.record({ op: fc.constant('ready' as const), ms: fc.integer({ min: 0, max: 300 }) }),
          fc.record({ op: fc.constant('add' as const), id: fc.constantFrom('a', 'b', 'c') }),
          fc.record({ op: fc.constant('remove' as const), id: fc.constantFrom('a', 'b', 'c') }),
          fc.record({ op: fc.constant('down' as const), id: fc.constantFrom('a', 'b', 'c'), v: fc.boolean() }),
          fc.record({ op: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 200 }) }),
          fc.record({ op: fc.constant('error' as const) }),
        ),
        { maxLength: 40 },
      ),
      async (ops) => {
        const clock = new VirtualClock(0);
        const lb = new Balancer({ clock, panicMode: 'fail' });
        let settled = 0;
        let started = 0;
        let violations = 0;
        const count = (p: Promise<unknown>, deadline: number) => {
          started++;
          let n = 0;
          const end = () => {
            n++;
            settled++;
            if (n > 1 || clock.now() > deadline) violations++;
          };
          p.then(end, end);
        };
        for (const o of ops) {
          if (o.op === 'wait')
            count(
              lb.pickAsync(undefined, { timeoutMs: o.ms }).then((p) => p.handle.done({ ok: true })),
              clock.now() + o.ms,
            );
          else if (o.op === 'ready') count(lb.ready({ timeoutMs: o.ms }), clock.now() + o.ms);
          else if (o.op === 'add') lb.add(`${o.id}:1`);
          else if (o.op === 'remove') lb.remove(`${o.id}:1`);
          else if (o.op === 'down') lb.setAvailable(`${o.id}:1`, o.v);
          else if (o.op === 'error') lb.setResolverError(new Error('resolver down'));
          else await clock.advance(o.ms);
        }
        await clock.advance(300);
        await flush();
        return violations === 0 && settled === started && clock.pending === 0 && lb.stats().waiting === 0;
      },
    ),
    { numRuns: 150 },
  );
  t.pass();
});

test('a policy switched from a membership listener builds at once: a failing one is refused and the old one restored', (t) => {
  const lb = new Balancer({ endpoints: ['a:1'] });
  const bad = {
    name: 'bad',
    build: () => {
      throw new Error('build failed');
    },
  } as unknown as Policy;
  const seen: string[] = [];
  lb.on('membership', () => {
    try {
      lb.setPolicy(bad);
    } catch (e) {
      seen.push((e as Error).message);
    }
  });
  lb.reset(['a:1', 'b:2']);
  t.deepEqual(seen, ['build failed']);
  t.is(lb.policy.name, 'round_robin');
  t.is(lb.pick().type, 'pick');
  // a good switch from the listener serves at once
  lb.on('membership', () => lb.setPolicy('least_request'));
  lb.reset(['a:1', 'b:2', 'c:3']);
  t.is(lb.policy.name, 'least_request');
  t.is(lb.pick().type, 'pick');
});

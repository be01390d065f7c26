// connectHealth on a virtual clock against a minimal object with the Balancer's methods (members,
// setAvailable, remove, on('membership' | 'outcome')): availability follows the checker and the detector,
// outcomes feed the detector, active successes un-eject, drain removes after a grace period, close detaches;
// then the same against the real Balancer (picks, panic, an address change).
import test from 'ava';
import type { Endpoint } from '../../bindings/util/endpoint.js';
import { VirtualClock } from '../../bindings/util/clock.js';
import { HealthChecker, type HealthProbe } from '../../bindings/health/checker.js';
import { connectHealth, type ObservedOutcome } from '../../bindings/health/connect.js';
import { OutlierDetector } from '../../bindings/health/outlier.js';
import { Balancer } from '../../bindings/balancing/balancer.js';

class FakeBalancer {
  members: Endpoint[] = [];
  readonly calls: string[] = [];
  private readonly fns = new Map<string, Set<(e: unknown) => void>>();
  add(id: string): boolean {
    if (this.members.some((m) => m.id === id)) return false;
    this.members = [
      ...this.members,
      { id, host: '127.0.0.1', port: 1000 + this.members.length, weight: 1, priority: 0, metadata: {} },
    ];
    this.emit('membership', { added: [id] });
    return true;
  }
  remove(id: string): boolean {
    const before = this.members.length;
    this.members = this.members.filter((m) => m.id !== id);
    if (this.members.length === before) return false;
    this.calls.push(`remove ${id}`);
    this.emit('membership', { removed: [id] });
    return true;
  }
  setAvailable(id: string, available: boolean, reason?: string): boolean {
    this.calls.push(`${id} ${available} ${reason}`);
    return true;
  }
  done(e: ObservedOutcome) {
    this.emit('outcome', e);
  }
  on(event: 'membership' | 'outcome', fn: (e: never) => void): () => void {
    let s = this.fns.get(event);
    if (s === undefined) this.fns.set(event, (s = new Set()));
    s.add(fn as (e: unknown) => void);
    return () => s.delete(fn as (e: unknown) => void);
  }
  listeners(): number {
    let n = 0;
    for (const s of this.fns.values()) n += s.size;
    return n;
  }
  private emit(event: string, e: unknown) {
    for (const fn of this.fns.get(event) ?? []) fn(e);
  }
}

function setup() {
  const clock = new VirtualClock(0);
  const healthy = new Map<string, boolean>();
  const probe: HealthProbe = async (m) => healthy.get(m.id) ?? true;
  const checker = new HealthChecker<Endpoint>({ probe, clock, intervalMs: 1000, timeoutMs: 100, random: () => 0 });
  const detector = new OutlierDetector({ clock, intervalMs: 1000, maxEjectionPercent: 50 });
  const lb = new FakeBalancer();
  lb.add('a');
  return { clock, healthy, checker, detector, lb };
}

test('members start unavailable until their first successful probe; failures and recovery are pushed', async (t) => {
  const { clock, healthy, checker, detector, lb } = setup();
  const w = connectHealth(lb, { checker, detector, clock });
  t.deepEqual(lb.calls, ['a false health check: pending']);
  lb.add('b');
  await clock.advance(0);
  t.deepEqual(lb.calls.slice(1), ['b false health check: pending', 'a true healthy', 'b true healthy']);
  t.true(w.isAvailable('a'));
  healthy.set('b', false);
  await clock.advance(1000); // b: suspect (still available) and re-checked at once
  t.true(w.isAvailable('b'));
  await clock.advance(1000); // third failure: failed
  t.is(lb.calls.at(-1), 'b false health check: failed (probe returned false)');
  t.is(w.reason('b'), 'health check: failed (probe returned false)');
  healthy.set('b', true);
  await clock.advance(2000);
  t.false(w.isAvailable('b'), 'two successes are not enough');
  await clock.advance(1000);
  t.is(lb.calls.at(-1), 'b true healthy');
  w.close();
});

test('outcomes feed the detector; ejection makes a member unavailable; a successful active probe returns it', async (t) => {
  const { clock, checker, detector, lb } = setup();
  lb.add('b');
  const w = connectHealth(lb, { checker, detector, clock });
  await clock.advance(0);
  lb.calls.length = 0;
  for (let i = 0; i < 5; i++) lb.done({ id: 'a', ok: false, status: 502 });
  t.deepEqual(lb.calls, ['a false outlier: ejected']);
  t.true(detector.isEjected('a'));
  await clock.advance(1000); // the next active probe of a succeeds -> un-ejected
  t.deepEqual(lb.calls, ['a false outlier: ejected', 'a true healthy']);
  t.false(detector.isEjected('a'));
  w.close();
});

test('without a checker, ejection alone drives availability; it returns after the ejection time', async (t) => {
  const clock = new VirtualClock(0);
  const detector = new OutlierDetector({ clock, intervalMs: 1000, baseEjectionTimeMs: 3000, maxEjectionPercent: 50 });
  const lb = new FakeBalancer();
  lb.add('a');
  lb.add('b');
  const w = connectHealth(lb, { detector, clock });
  t.deepEqual(lb.calls, []);
  for (let i = 0; i < 5; i++) lb.done({ id: 'b', ok: false, error: new Error('ECONNREFUSED') });
  t.deepEqual(lb.calls, ['b false outlier: ejected']);
  await clock.advance(2999);
  t.false(w.isAvailable('b'));
  await clock.advance(1);
  t.deepEqual(lb.calls, ['b false outlier: ejected', 'b true healthy']);
  w.close();
});

test('drain: unavailable at once, removed from the balancer after the grace period, then unwatched', async (t) => {
  const { clock, checker, detector, lb } = setup();
  lb.add('b');
  const w = connectHealth(lb, { checker, detector, clock });
  await clock.advance(0);
  t.true(w.drain('b', 500));
  t.false(w.drain('zzz'));
  t.is(lb.calls.at(-1), 'b false draining');
  t.is(checker.state('b'), 'draining');
  await clock.advance(499);
  t.true(lb.members.some((m) => m.id === 'b'));
  await clock.advance(1);
  t.is(lb.calls.at(-1), 'remove b');
  t.false(checker.has('b'));
  t.false(detector.has('b'));
  t.throws(() => w.drain('a', -1), { instanceOf: RangeError, message: /graceMs/ });
  w.close();
});

test('close() unsubscribes, stops what it started, and ignores later events', async (t) => {
  const { clock, checker, detector, lb } = setup();
  const before = lb.listeners();
  const w = connectHealth(lb, { checker, detector, clock });
  t.true(checker.isRunning);
  t.true(detector.isRunning);
  w.close();
  w.close();
  t.is(lb.listeners(), before);
  t.false(checker.isRunning);
  t.false(detector.isRunning);
  t.is(clock.pending, 0);
  t.throws(() => connectHealth(null as never), { instanceOf: TypeError, message: /balancer/ });
});

test('connectHealth: a checker or detector without the methods it needs is a TypeError naming it', (t) => {
  const { clock, checker, detector, lb } = setup();
  const before = lb.listeners();
  for (const [opts, re] of [
    [{ checker: {} }, /^checker must be a HealthChecker, got \[object Object\]/],
    [{ checker: 5 }, /^checker must be a HealthChecker, got 5/],
    [{ checker: { ...checker, on: undefined } }, /^checker must be a HealthChecker/],
    [{ checker, detector: {} }, /^detector must be an OutlierDetector/],
    [{ detector: null }, /^detector must be an OutlierDetector, got null/],
  ] as const)
    t.throws(() => connectHealth(lb, { clock, ...opts } as never), { instanceOf: TypeError, message: re });
  t.is(lb.listeners(), before, 'nothing subscribed');
  t.false(checker.isRunning);
  t.false(detector.isRunning);
});

test('with the real Balancer on a virtual clock: picks follow health and ejection; panic; address change', async (t) => {
  const clock = new VirtualClock(0);
  const up = new Map<string, boolean>();
  const probe: HealthProbe = async (m) => up.get(m.id) ?? true;
  const checker = new HealthChecker<Endpoint>({ probe, clock, intervalMs: 1000, timeoutMs: 100, random: () => 0 });
  const detector = new OutlierDetector({ clock, intervalMs: 1000, maxEjectionPercent: 50 });
  let lbReads = 0; // the Balancer's own clock readings
  const lb = new Balancer({
    clock: {
      now: () => (lbReads++, clock.now()),
      setTimeout: (fn, ms) => clock.setTimeout(fn, ms),
      clearTimeout: (h) => clock.clearTimeout(h),
    },
    endpoints: ['a', 'b', 'c', 'd'].map((id, i) => ({ id, host: '10.0.0.1', port: 80 + i })),
  });
  const w = connectHealth(lb, { checker, detector, clock });
  const picked = (n = 40) => {
    const seen = new Set<string>();
    for (let i = 0; i < n; i++) {
      const p = lb.pick();
      if (p.type === 'pick') {
        seen.add(p.member.id);
        p.handle.done({ ok: true });
      } else seen.add(`none:${p.reason}`);
    }
    return [...seen].sort();
  };
  // All pending: warming -> nothing picked, no panic (pickAsync/ready wait for the first results).
  t.deepEqual(picked(), ['none:pending']);
  t.false(lb.stats().panic);
  t.true(lb.stats().warming);
  await clock.advance(0);
  t.false(lb.stats().warming);
  t.false(lb.stats().panic);
  up.set('d', false);
  await clock.advance(2000);
  t.is(checker.state('d'), 'failed');
  t.deepEqual(picked(), ['a', 'b', 'c']);
  // Ejection through pick handles: c fails 5 requests in a row; the detector's listener times no pick
  lbReads = 0;
  for (let i = 0, bad = 0; i < 100 && bad < 5; i++) {
    const p = lb.pick();
    if (p.type !== 'pick') continue;
    if (p.member.id === 'c') bad++;
    p.handle.done({ ok: p.member.id !== 'c', status: p.member.id === 'c' ? 500 : 200 });
  }
  t.true(detector.isEjected('c'));
  t.is(lbReads, 0, 'round robin with outlier detection reads no clock per request');
  t.deepEqual(picked(), ['a', 'b']);
  t.false(lb.stats().panic, '2 of 4 is not below 50 %');
  up.set('b', false);
  await clock.advance(2000); // b fails; c is un-ejected by its next good probe: a and c (2 of 4, no panic)
  t.false(detector.isEjected('c'));
  t.deepEqual(picked(), ['a', 'c']);
  // A member whose address changes starts over as a new target (pending, unavailable).
  lb.add({ id: 'a', host: '10.0.0.2', port: 80 });
  t.is(checker.state('a'), 'pending');
  t.false(lb.isAvailable('a'));
  await clock.advance(0);
  t.true(lb.isAvailable('a'));
  w.close();
  lb.close();
});

test('a checker that cannot start (a bad random draw) leaves nothing wired and the members available', (t) => {
  const clock = new VirtualClock(0);
  const lb = new Balancer({ policy: 'round_robin', endpoints: ['a:1', 'b:1'], clock });
  const checker = new HealthChecker({
    probe: async () => true,
    intervalMs: 1000,
    timeoutMs: 500,
    initialJitterMs: 100,
    clock,
    random: () => 1,
  });
  const detector = new OutlierDetector({ clock });
  t.throws(() => connectHealth(lb, { checker, detector }), { instanceOf: RangeError, message: /random/ });
  const state = () => lb.stats().members.map((m) => [m.id, m.available, m.pending]);
  t.deepEqual(state(), [
    ['a:1', true, false],
    ['b:1', true, false],
  ]);
  t.false(checker.isRunning || detector.isRunning);
  lb.add('c:1'); // no membership listener left to mark it pending or watch it
  t.deepEqual(state()[2], ['c:1', true, false]);
  t.false(checker.has('c:1'));
  t.truthy(lb.pickOrThrow());
});

test('drain: an error remove() throws in the grace timer (a Balancer listener) is not an uncaught exception', async (t) => {
  const clock = new VirtualClock(0);
  const detector = new OutlierDetector({ clock });
  const lb = new Balancer({
    clock,
    endpoints: [
      { id: 'a', host: '10.0.0.1', port: 80 },
      { id: 'b', host: '10.0.0.1', port: 81 },
    ],
  });
  const w = connectHealth(lb, { detector, clock });
  lb.on('membership', () => {
    throw new Error('listener bug');
  });
  t.true(w.drain('b', 100));
  // VirtualClock runs the timer inside advance(): an escaping error would reject it
  await t.notThrowsAsync(() => clock.advance(100));
  t.deepEqual(
    lb.members.map((m) => m.id),
    ['a'],
  );
  t.false(detector.has('b'), 'the wiring followed the removal');
  t.false(w.isAvailable('b'));
  w.close();
  lb.close();
});

test('close() from a Balancer listener during a membership sync: the members after it are not watched', (t) => {
  const clock = new VirtualClock(0);
  const lb = new Balancer({ policy: 'round_robin', endpoints: ['a:1'], clock });
  const checker = new HealthChecker({ probe: async () => true, intervalMs: 1000, timeoutMs: 100, clock });
  const wiring = connectHealth(lb, { checker, start: false });
  lb.on('availability', () => wiring.close());
  lb.add(['c:3', 'd:4']); // c is told pending (an availability event): the listener closes the wiring
  t.true(checker.has('c:3'));
  t.false(checker.has('d:4'));
});

test('close() puts back the members the wiring took out (failed, ejected), not the draining ones', async (t) => {
  const clock = new VirtualClock(0);
  const lb = new Balancer({ policy: 'round_robin', endpoints: ['a:1', 'b:1', 'c:1', 'd:1'], clock });
  const checker = new HealthChecker({
    probe: async (m) => m.id !== 'a:1',
    intervalMs: 1000,
    timeoutMs: 500,
    unhealthyThreshold: 1,
    clock,
  });
  const detector = new OutlierDetector({ clock, consecutive5xx: 1 });
  const wiring = connectHealth(lb, { checker, detector });
  await clock.advance(0);
  detector.record('b:1', { ok: false, status: 503 }); // ejected
  wiring.drain('c:1');
  const available = () => Object.fromEntries(lb.stats().members.map((m) => [m.id, m.available]));
  t.deepEqual(available(), { 'a:1': false, 'b:1': false, 'c:1': false, 'd:1': true });
  wiring.close();
  t.deepEqual(available(), { 'a:1': true, 'b:1': true, 'c:1': false, 'd:1': true });
  // a second wiring with a detector only starts from what it is told: every member but the drained one is picked
  connectHealth(lb, { detector: new OutlierDetector({ clock }) }).close();
  t.deepEqual(available(), { 'a:1': true, 'b:1': true, 'c:1': false, 'd:1': true });
});

test('an ejection through the real Balancer names the last failure’s error (done({ ok: false, error }))', (t) => {
  // the Balancer's outcome event carried no error: ejections by per-try timeouts read "last: failed"
  const clock = new VirtualClock(0);
  const lb = new Balancer({ clock, endpoints: ['a:1'] });
  const detector = new OutlierDetector({ clock });
  const reasons: string[] = [];
  detector.on('ejection', (e) => reasons.push(e.reason));
  const wiring = connectHealth(lb, { detector, clock });
  const timeout = new DOMException('try timed out after 2000 ms', 'TimeoutError');
  for (let i = 0; i < 5; i++) lb.pickOrThrow().handle.done({ ok: false, error: timeout });
  t.deepEqual(reasons, ['5 consecutive failures, last: TimeoutError: try timed out after 2000 ms']);
  const seen: unknown[] = [];
  lb.on('outcome', (e) => seen.push(e.error));
  lb.setAvailable('a:1', true);
  lb.pickOrThrow().handle.done({ ok: true });
  t.deepEqual(seen, [undefined]);
  wiring.close();
});

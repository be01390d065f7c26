// OutlierDetector on a virtual clock: consecutive-failure ejection, back-off and its cap, multiplier decay,
// maxEjectionPercent (always at least one), success-rate ejection (exact threshold), enforcing rolls,
// un-ejection by an active check, bad input.
import test from 'ava';
import { VirtualClock } from '../../bindings/util/clock.js';
import { mulberry32 } from '../../bindings/util/random.js';
import {
  OutlierDetector,
  describeOutcome,
  isFailure,
  type EjectionEvent,
  type OutlierDetectorOptions,
} from '../../bindings/health/outlier.js';

function harness(opts: OutlierDetectorOptions = {}, ids = ['a', 'b', 'c']) {
  const clock = new VirtualClock(0);
  const od = new OutlierDetector({ clock, ...opts });
  for (const id of ids) od.add(id);
  const events: EjectionEvent[] = [];
  od.on('ejection', (e) => events.push(e));
  const log = () =>
    events.map((e) => `${e.at} ${e.id} ${e.ejected ? 'ejected' : 'returned'} ${e.ejectionMs}: ${e.reason}`);
  return { clock, od, events, log };
}

function fail(od: OutlierDetector, id: string, n: number, outcome = { ok: false, status: 503 }) {
  for (let i = 0; i < n; i++) od.record(id, outcome);
}

test('failure classification: ok:false, errors and 5xx count; 2xx-4xx with ok:true do not', (t) => {
  t.true(isFailure({ ok: false }));
  t.true(isFailure({ ok: true, status: 503 }));
  t.true(isFailure({ ok: true, error: new Error('reset') }));
  t.false(isFailure({ ok: true, status: 404 }));
  t.false(isFailure({ ok: true, status: 200 }));
  t.false(isFailure({ ok: true, status: 600 }));
});

test('consecutive5xx: the 5th consecutive failure ejects inline; a success resets the count', (t) => {
  const h = harness({ maxEjectionPercent: 100 });
  fail(h.od, 'a', 4);
  h.od.record('a', { ok: true, status: 200 });
  fail(h.od, 'a', 4);
  t.false(h.od.isEjected('a'));
  h.od.record('a', { ok: false, error: new Error('ECONNRESET') });
  t.true(h.od.isEjected('a'));
  t.false(h.od.isAvailable('a'));
  t.true(h.od.isAvailable('b'));
  t.deepEqual(h.log(), ['0 a ejected 30000: 5 consecutive failures, last: ECONNRESET']);
  t.like(h.od.stats().members[0]!, {
    ejected: true,
    ejectedKind: 'consecutive-5xx',
    ejectedUntil: 30_000,
    multiplier: 1,
    timesEjected: 1,
  });
  t.false(h.od.record('zzz', { ok: false }), 'unknown member ignored');
});

test('ejection back-off: base × multiplier, capped at maxEjectionTimeMs; returned at the first sweep after', async (t) => {
  const h = harness({ baseEjectionTimeMs: 1000, maxEjectionTimeMs: 3500, intervalMs: 100, consecutive5xx: 2 });
  h.od.start();
  const lengths: number[] = [];
  const returnedAfter: number[] = [];
  for (let k = 0; k < 6; k++) {
    await h.clock.advance(50); // mid-interval
    fail(h.od, 'a', 2);
    t.true(h.od.isEjected('a'));
    const at = h.clock.now();
    lengths.push(h.events.at(-1)!.ejectionMs);
    for (let i = 0; i < 100 && h.od.isEjected('a'); i++) await h.clock.advance(50);
    returnedAfter.push(h.events.at(-1)!.at - at);
  }
  t.deepEqual(lengths, [1000, 2000, 3000, 3500, 3500, 3500]);
  // Sweeps run at multiples of 100; ejections happen at x50, so the return is 50 ms late.
  t.deepEqual(returnedAfter, [1050, 2050, 3050, 3550, 3550, 3550]);
  t.is(h.od.stats().members[0]!.multiplier, 4);
  t.is(h.events.filter((e) => !e.ejected)[0]!.reason, 'ejection time 1000 ms elapsed');
});

test('the multiplier decays by one per sweep once the member has been back for an interval', async (t) => {
  const h = harness({ baseEjectionTimeMs: 1000, maxEjectionTimeMs: 10_000, intervalMs: 1000, consecutive5xx: 1 });
  h.od.start();
  for (let k = 0; k < 3; k++) {
    h.od.record('a', { ok: false });
    for (let i = 0; i < 20 && h.od.isEjected('a'); i++) await h.clock.advance(1000);
  }
  t.is(h.od.stats().members[0]!.multiplier, 3);
  const back = h.clock.now();
  await h.clock.advance(1000); // one interval after return: -1
  t.is(h.od.stats().members[0]!.multiplier, 2);
  await h.clock.advance(1000);
  t.is(h.od.stats().members[0]!.multiplier, 1);
  await h.clock.advance(5000);
  t.is(h.od.stats().members[0]!.multiplier, 0);
  h.od.record('a', { ok: false });
  t.is(h.events.at(-1)!.ejectionMs, 1000, 'back to the base time');
  t.true(h.clock.now() > back);
});

test('maxEjectionPercent: 10 % of 10 members is one; of 20 is two; at least one of 3 unless strict; 50 % of 4 is two', (t) => {
  const ids = (n: number) => Array.from({ length: n }, (_, i) => `m${i}`);
  const ejectedOf = (n: number, pct?: number) => {
    const h = harness(pct === undefined ? {} : { maxEjectionPercent: pct }, ids(n));
    for (const id of ids(n)) fail(h.od, id, 5);
    return [h.od.stats().ejected, h.od.stats().ejectionsOverflow];
  };
  t.deepEqual(ejectedOf(10), [1, 9]);
  t.deepEqual(ejectedOf(20), [2, 18]);
  t.deepEqual(ejectedOf(15), [1, 14]);
  t.deepEqual(ejectedOf(3), [1, 2]);
  t.deepEqual(ejectedOf(1), [1, 0]);
  t.deepEqual(ejectedOf(4, 50), [2, 2]);
  t.deepEqual(ejectedOf(4, 0), [1, 3]);
  // alwaysEjectOneHost: false enforces the percentage strictly (current Envoy's default).
  const strict = harness({ alwaysEjectOneHost: false }, ids(3));
  for (const id of ids(3)) fail(strict.od, id, 5);
  t.is(strict.od.stats().ejected, 0);
  const strict10 = harness({ alwaysEjectOneHost: false }, ids(10));
  for (const id of ids(10)) fail(strict10.od, id, 5);
  t.is(strict10.od.stats().ejected, 1);
  // Over the cap, every further failure retries: once the first returns, the next one can go.
  const h = harness({}, ids(10));
  fail(h.od, 'm0', 5);
  fail(h.od, 'm1', 5);
  t.false(h.od.isEjected('m1'));
  t.true(h.od.uneject('m0'));
  fail(h.od, 'm1', 1);
  t.true(h.od.isEjected('m1'));
  // Removing an ejected member frees its slot.
  t.true(h.od.remove('m1'));
  t.is(h.od.stats().ejected, 0);
});

test('success rate: mean − 1.9 × stdev over members with enough volume, exact threshold', (t) => {
  const ids = ['a', 'b', 'c', 'd', 'e', 'f'];
  const h = harness({ consecutive5xx: 1_000_000 }, ids);
  // 100 requests each: a-e succeed 99/98/100/99/100, f only 60.
  const ok: Record<string, number> = { a: 99, b: 98, c: 100, d: 99, e: 100, f: 60 };
  for (const id of ids) for (let i = 0; i < 100; i++) h.od.record(id, { ok: i < ok[id]! });
  h.od.sweep();
  const rates = Object.values(ok);
  const mean = rates.reduce((s, r) => s + r, 0) / 6;
  const stdev = Math.sqrt(rates.reduce((s, r) => s + (r - mean) ** 2, 0) / 6);
  t.is(h.od.stats().successRateThreshold, mean - 1.9 * stdev);
  t.deepEqual(
    h.events.map((e) => [e.id, e.kind]),
    [['f', 'success-rate']],
  );
  t.is(h.events[0]!.reason, 'success rate 60.00% < threshold 64.88% (mean 92.67%, stdev 14.62)');
  t.is(h.od.stats().ejectionsSuccessRate, 1);
  // Interval counters reset after each sweep.
  t.is(h.od.stats().members[0]!.intervalTotal, 0);
});

test('success rate needs successRateMinimumHosts members with successRateRequestVolume outcomes', (t) => {
  const ids = ['a', 'b', 'c', 'd', 'e', 'f'];
  const h = harness({ consecutive5xx: 1_000_000 }, ids);
  for (const id of ids) for (let i = 0; i < (id === 'a' ? 99 : 100); i++) h.od.record(id, { ok: id !== 'f' || i < 50 });
  h.od.sweep(); // only 5 with volume >= 100 (b..f): still enough
  t.deepEqual(
    h.events.map((e) => e.id),
    ['f'],
  );
  const h2 = harness({ consecutive5xx: 1_000_000, successRateMinimumHosts: 6 }, ids);
  for (const id of ids)
    for (let i = 0; i < (id === 'a' ? 99 : 100); i++) h2.od.record(id, { ok: id !== 'f' || i < 50 });
  h2.od.sweep();
  t.deepEqual(h2.events, []);
  t.is(h2.od.stats().successRateThreshold, null);
});

test('enforcing percentages roll the injected random; 0 disables', (t) => {
  let r = 0.7;
  const h = harness({ enforcingConsecutive5xx: 50, random: () => r, maxEjectionPercent: 100 });
  fail(h.od, 'a', 5);
  t.false(h.od.isEjected('a'));
  t.is(h.od.stats().ejectionsNotEnforced, 1);
  r = 0.2;
  fail(h.od, 'a', 1);
  t.true(h.od.isEjected('a'));
  const h0 = harness({ enforcingConsecutive5xx: 0 });
  fail(h0.od, 'a', 50);
  t.false(h0.od.isEjected('a'));
});

test('a successful active health check un-ejects (successfulActiveHealthCheckUnejectHost), unless disabled', (t) => {
  const h = harness();
  fail(h.od, 'a', 5);
  t.false(h.od.onActiveCheckSuccess('b'));
  t.true(h.od.onActiveCheckSuccess('a'));
  t.false(h.od.isEjected('a'));
  t.is(h.log()[1], '0 a returned 30000: successful active health check');
  const h2 = harness({ successfulActiveHealthCheckUnejectHost: false });
  fail(h2.od, 'a', 5);
  t.false(h2.od.onActiveCheckSuccess('a'));
  t.true(h2.od.isEjected('a'));
});

test('start/stop drive the sweep timer on the injected clock', async (t) => {
  const h = harness({ intervalMs: 1000 });
  h.od.start();
  h.od.start();
  await h.clock.advance(3500);
  t.is(h.od.stats().sweeps, 3);
  h.od.stop();
  t.is(h.clock.pending, 0);
  await h.clock.advance(5000);
  t.is(h.od.stats().sweeps, 3);
});

test('bad input: typed errors naming the field and value', (t) => {
  t.throws(() => new OutlierDetector({ consecutive5xx: 0 }), { instanceOf: RangeError, message: /consecutive5xx.*0/ });
  t.throws(() => new OutlierDetector({ baseEjectionTimeMs: -1 }), {
    instanceOf: RangeError,
    message: /baseEjectionTimeMs.*-1/,
  });
  t.throws(() => new OutlierDetector({ baseEjectionTimeMs: 10, maxEjectionTimeMs: 5 }), {
    instanceOf: RangeError,
    message: /maxEjectionTimeMs/,
  });
  t.throws(() => new OutlierDetector({ maxEjectionPercent: 150 }), {
    instanceOf: RangeError,
    message: /maxEjectionPercent.*150/,
  });
  t.throws(() => new OutlierDetector({ intervalMs: 0 }), { instanceOf: RangeError, message: /intervalMs/ });
  t.throws(() => new OutlierDetector({ successRateStdevFactor: 1.9 }), {
    instanceOf: RangeError,
    message: /successRateStdevFactor/,
  });
  t.throws(() => new OutlierDetector({ successfulActiveHealthCheckUnejectHost: 'yes' as unknown as boolean }), {
    instanceOf: TypeError,
  });
  // random: its type at construction (its values at each draw: the tests below)
  t.throws(() => new OutlierDetector({ random: 0.5 as never }), { instanceOf: TypeError, message: /^random/ });
  t.throws(() => new OutlierDetector({ random: null as never }), { instanceOf: TypeError, message: /^random/ });
  const od = new OutlierDetector();
  t.throws(() => od.add(''), { instanceOf: TypeError, message: /id/ });
  od.add('a');
  t.throws(() => od.record('a', null as never), { instanceOf: TypeError, message: /outcome/ });
  t.throws(() => od.on('x' as 'ejection', () => undefined), { instanceOf: RangeError, message: /event/ });
});

test('record(): a malformed outcome is a TypeError/RangeError naming the field, never counted as a success', (t) => {
  const h = harness({ consecutive5xx: 2 });
  const cases: Array<[unknown, new (...a: never[]) => Error, RegExp]> = [
    [{}, TypeError, /^outcome\.ok must be a boolean, got undefined/],
    [{ ok: 'false' }, TypeError, /^outcome\.ok must be a boolean, got "false"/],
    [{ ok: 0 }, TypeError, /^outcome\.ok must be a boolean, got 0/],
    [{ status: '503' }, TypeError, /^outcome\.ok/],
    [{ ok: true, status: '503' }, TypeError, /^outcome\.status must be an integer in \[0, 999\], got "503"/],
    [{ ok: true, status: 1000 }, RangeError, /^outcome\.status .*got 1000/],
    [{ ok: true, status: 503.5 }, RangeError, /^outcome\.status/],
    [5, TypeError, /^outcome must be an object/],
  ];
  h.od.record('a', { ok: false, status: 503 });
  for (const [outcome, type, re] of cases)
    t.throws(() => h.od.record('a', outcome as never), { instanceOf: type, message: re }, JSON.stringify(outcome));
  for (const id of [5, null, undefined])
    t.throws(() => h.od.record(id as never, { ok: false }), { instanceOf: TypeError, message: /^id must be a string/ });
  t.is(h.od.stats().members[0]!.consecutiveFailures, 1, 'nothing reset the failure run');
  t.is(h.od.stats().members[0]!.intervalTotal, 1, 'nothing was counted');
});

test('record(): error null or undefined is "no error"; status 0 (none, e.g. an opaque response) is accepted', (t) => {
  t.false(isFailure({ ok: true, error: null }));
  t.false(isFailure({ ok: true, error: undefined }));
  t.true(isFailure({ ok: true, error: 0 }), 'any other value is an error');
  const h = harness({ consecutive5xx: 1, maxEjectionPercent: 100 });
  h.od.record('a', { ok: true, error: null });
  h.od.record('a', { ok: true, status: 0 });
  t.false(h.od.isEjected('a'));
  h.od.record('a', { ok: true, status: 503, error: null });
  t.deepEqual(h.log(), ['0 a ejected 30000: 1 consecutive failures, last: status 503']);
});

/** Six members, 'f' the success-rate outlier of the interval (50 %, threshold about 88 %). */
function loadInterval(od: OutlierDetector) {
  for (const id of ['a', 'b', 'c', 'd', 'e', 'f'])
    for (let i = 0; i < 100; i++) od.record(id, { ok: id !== 'f' || i < 50 });
}

test('construction draws nothing from random: a seeded source shared with others keeps its sequence', (t) => {
  let draws = 0;
  new OutlierDetector({
    random: () => {
      draws++;
      return 0.5;
    },
  });
  t.is(draws, 0);
  // as the gRPC bridge and createFetch share one source between the Balancer and the detector
  const shared = mulberry32(42);
  const alone = mulberry32(42);
  const h = harness({ random: shared, enforcingConsecutive5xx: 50, maxEjectionPercent: 100 });
  t.deepEqual([shared(), shared()], [alone(), alone()]);
  // the detector's roll takes the source's next value (0.852…, the third), at use: not enforced (>= 50 %)
  fail(h.od, 'a', 5);
  t.true(alone() >= 0.5);
  t.like(h.od.stats(), { ejected: 0, ejectionsNotEnforced: 1 });
  t.is(shared(), alone(), 'one draw per roll');
});

test('a random value outside [0, 1) at a roll: record() and sweep() throw a RangeError naming random and the value', (t) => {
  for (const bad of [5, -1, NaN, 1, '0.5']) {
    const h = harness({ enforcingConsecutive5xx: 50, maxEjectionPercent: 100, random: () => bad as number });
    fail(h.od, 'a', 4);
    t.throws(() => h.od.record('a', { ok: false, status: 503 }), {
      instanceOf: RangeError,
      message: /^random must be a function returning a number in \[0, 1\), got /,
    });
    // the outcome was counted, nothing was ejected, and the next failure rolls again
    t.like(h.od.stats(), { ejected: 0, ejectionsNotEnforced: 0 });
    t.like(h.od.stats().members[0]!, { consecutiveFailures: 5, intervalTotal: 5 });
    t.throws(() => h.od.record('a', { ok: false, status: 503 }), { instanceOf: RangeError, message: /^random/ });
  }
  const ids = ['a', 'b', 'c', 'd', 'e', 'f'];
  const h = harness({ enforcingSuccessRate: 50, consecutive5xx: 1_000_000, random: () => NaN }, ids);
  loadInterval(h.od);
  t.throws(() => h.od.sweep(), { instanceOf: RangeError, message: /^random .*got NaN$/ });
  // the sweep still ended its interval: counts start again from zero
  t.deepEqual(
    h.od.stats().members.map((m) => m.intervalTotal),
    [0, 0, 0, 0, 0, 0],
  );
  t.like(h.od.stats(), { sweeps: 1, sweepErrors: 0, ejected: 0 });
});

test('a random value outside [0, 1) in a timer sweep: counted in sweepErrors, never thrown out of the timer; sweeps go on', (t) => {
  let r = 0.9;
  const ids = ['a', 'b', 'c', 'd', 'e', 'f'];
  const h = harness({ enforcingSuccessRate: 50, consecutive5xx: 1_000_000, intervalMs: 1000, random: () => r }, ids);
  h.od.start();
  loadInterval(h.od);
  h.clock.tick(1000); // 'f' is an outlier, the roll (0.9) says no
  t.like(h.od.stats(), { sweeps: 1, ejectionsNotEnforced: 1, sweepErrors: 0 });
  r = NaN;
  loadInterval(h.od);
  t.notThrows(() => h.clock.tick(1000));
  t.like(h.od.stats(), { sweeps: 2, ejectionsNotEnforced: 1, sweepErrors: 1, ejected: 0, running: true });
  t.deepEqual(
    h.od.stats().members.map((m) => m.intervalTotal),
    [0, 0, 0, 0, 0, 0],
    'the interval ended',
  );
  r = 0.1;
  loadInterval(h.od);
  h.clock.tick(1000); // the timer is still there; this roll (0.1) ejects
  t.like(h.od.stats(), { sweeps: 3, sweepErrors: 1, ejected: 1, ejectionsSuccessRate: 1 });
  t.deepEqual(
    h.events.map((e) => `${e.id} ${e.ejected}`),
    ['f true'],
  );
  h.od.stop();
});

test('a consecutive-failure ejection says what the last failure was: status, error name and message, cause', (t) => {
  const timeout = new DOMException('try timed out after 2000 ms', 'TimeoutError');
  const refused = new TypeError('fetch failed', {
    cause: Object.assign(new Error('connect ECONNREFUSED 10.0.0.7:80'), {
      code: 'ECONNREFUSED',
      address: '10.0.0.7',
      port: 80,
    }),
  });
  const h = harness({ maxEjectionPercent: 100 }, ['a', 'b', 'c', 'd']);
  fail(h.od, 'a', 5, { ok: false, error: timeout } as never);
  fail(h.od, 'b', 5, { ok: false, error: refused } as never);
  fail(h.od, 'c', 5, { ok: false, status: 200, error: new DOMException('', 'AbortError') } as never);
  fail(h.od, 'd', 5, { ok: false } as never);
  t.deepEqual(h.log(), [
    '0 a ejected 30000: 5 consecutive failures, last: TimeoutError: try timed out after 2000 ms',
    '0 b ejected 30000: 5 consecutive failures, last: TypeError: fetch failed (ECONNREFUSED 10.0.0.7:80)',
    '0 c ejected 30000: 5 consecutive failures, last: status 200, AbortError',
    '0 d ejected 30000: 5 consecutive failures, last: failed',
  ]);
  t.is(describeOutcome({ ok: false, status: 503 }), 'status 503');
  t.is(describeOutcome({ ok: false, status: 0 }), 'failed', 'status 0 is none');
  t.is(describeOutcome({ ok: true, error: new Error('ECONNRESET') }), 'ECONNRESET', 'a plain Error: its message');
  t.is(describeOutcome({ ok: false, error: 'boom' }), '"boom"');
});

test('errors name the options under the field the detector is given (createFetch: outlierDetection)', (t) => {
  const od = (o: object) => new OutlierDetector(o, 'outlierDetection');
  t.throws(() => od({ intervalMs: 0 }), { instanceOf: RangeError, message: /^outlierDetection\.intervalMs / });
  t.throws(() => od({ consecutive5xx: 0 }), { instanceOf: RangeError, message: /^outlierDetection\.consecutive5xx / });
  t.throws(() => od({ baseEjectionTimeMs: 1000, maxEjectionTimeMs: 500 }), {
    instanceOf: RangeError,
    message: 'outlierDetection.maxEjectionTimeMs must be >= outlierDetection.baseEjectionTimeMs (1000), got 500',
  });
  t.throws(() => od({ consecutive_5xx: 5 }), {
    instanceOf: RangeError,
    message: /^outlierDetection\.consecutive_5xx /,
  });
  t.throws(() => new OutlierDetector({ intervalMs: 0 }), { instanceOf: RangeError, message: /^intervalMs / });
});

// HealthChecker on a virtual clock: every transition of the state machine at exact virtual times, thresholds,
// jitter bounds, timeouts, no overlapping probes, draining, stats and bad input.
import test from 'ava';
import fc from 'fast-check';
import { VirtualClock } from '../../bindings/util/clock.js';
import { earlyTimers } from '../helpers/clock.js';
import {
  HealthChecker,
  type HealthCheckerOptions,
  type HealthMember,
  type HealthProbe,
} from '../../bindings/health/checker.js';
import { HEALTH_KEYS, HEALTH_TIMING_KEYS } from '../../bindings/health/options.js';
import { mulberry32 } from '../../bindings/util/random.js';

type Mode = 'ok' | 'fail' | 'hang' | 'hang-abortable' | 'reject' | 'throw' | 'nonbool' | 'undefined' | 'slow';

const A: HealthMember = { id: 'a', host: '127.0.0.1', port: 1 };
const B: HealthMember = { id: 'b', host: '127.0.0.1', port: 2 };

function harness(opts: Partial<HealthCheckerOptions> = {}, slowMs = 80) {
  const clock = new VirtualClock(0);
  const mode = new Map<string, Mode>();
  const calls: Array<{ id: string; at: number }> = [];
  const signals: AbortSignal[] = [];
  let active = 0;
  let maxActive = 0;
  const probe: HealthProbe = (m, signal) => {
    calls.push({ id: m.id, at: clock.now() });
    signals.push(signal);
    switch (mode.get(m.id) ?? 'ok') {
      case 'ok':
        return Promise.resolve(true);
      case 'fail':
        return Promise.resolve(false);
      case 'hang':
        return new Promise(() => undefined);
      case 'hang-abortable':
        return new Promise((_, reject) =>
          signal.addEventListener('abort', () => reject(new Error('aborted by signal'))),
        );
      case 'reject':
        return Promise.reject(new Error('connection refused'));
      case 'throw':
        throw new Error('sync boom');
      case 'nonbool':
        return Promise.resolve('yes' as unknown as boolean);
      case 'undefined':
        return undefined as unknown as Promise<boolean>;
      case 'slow':
        active++;
        maxActive = Math.max(maxActive, active);
        return new Promise((resolve) =>
          clock.setTimeout(() => {
            active--;
            resolve(true);
          }, slowMs),
        );
    }
  };
  const hc = new HealthChecker({ probe, clock, intervalMs: 1000, timeoutMs: 100, random: () => 0.5, ...opts });
  const events: string[] = [];
  hc.on('transition', (e) => events.push(`${e.at} ${e.member.id} ${e.from}->${e.to}: ${e.reason}`));
  return { clock, mode, calls, signals, hc, events, maxActive: () => maxActive };
}

test('pending -> healthy on the first successful probe; startHealthy skips pending', async (t) => {
  const h = harness();
  h.hc.add(A);
  t.is(h.hc.state('a'), 'pending');
  t.false(h.hc.isAvailable('a'));
  h.hc.start();
  await h.clock.advance(0);
  t.deepEqual(h.events, ['0 a pending->healthy: first probe succeeded']);
  t.true(h.hc.isAvailable('a'));
  await h.clock.advance(3000);
  t.deepEqual(
    h.calls.map((c) => c.at),
    [0, 1000, 2000, 3000],
  );

  const h2 = harness({ startHealthy: true });
  h2.hc.add(A);
  t.is(h2.hc.state('a'), 'healthy');
  t.true(h2.hc.isAvailable('a'));
  h2.hc.start();
  await h2.clock.advance(5000);
  t.deepEqual(h2.events, []);
});

test('healthy -> suspect (immediate re-check) -> failed after 3 consecutive failures; stays available while suspect', async (t) => {
  const h = harness();
  h.hc.add(A);
  h.hc.start();
  await h.clock.advance(500);
  h.mode.set('a', 'fail');
  await h.clock.advance(1000);
  // t=1000: failure -> suspect, re-check at once (t=1000) -> second failure, still suspect.
  t.deepEqual(h.events, [
    '0 a pending->healthy: first probe succeeded',
    '1000 a healthy->suspect: probe returned false',
  ]);
  t.deepEqual(
    h.calls.map((c) => c.at),
    [0, 1000, 1000],
  );
  t.true(h.hc.isAvailable('a'));
  t.is(h.hc.stats().members[0]!.consecutiveFailures, 2);
  await h.clock.advance(1000);
  t.is(h.events[2], '2000 a suspect->failed: 3 consecutive failed probes, last: probe returned false');
  t.false(h.hc.isAvailable('a'));
  t.is(h.hc.state('a'), 'failed');
});

test('recheckDelayMs delays the suspect re-check', async (t) => {
  const h = harness({ recheckDelayMs: 50 });
  h.hc.add(A);
  h.hc.start();
  await h.clock.advance(10);
  h.mode.set('a', 'fail');
  await h.clock.advance(2100);
  t.deepEqual(
    h.calls.map((c) => c.at),
    [0, 1000, 1050, 2050],
  );
  t.is(h.hc.state('a'), 'failed');
});

test('suspect -> healthy on one success; the failure count restarts', async (t) => {
  const h = harness({ recheckDelayMs: 10 });
  h.hc.add(A);
  h.hc.start();
  await h.clock.advance(500);
  h.mode.set('a', 'fail');
  await h.clock.advance(500); // t=1000 fail -> suspect, re-check due at 1010
  h.mode.set('a', 'ok');
  await h.clock.advance(20);
  t.deepEqual(h.events.slice(1), [
    '1000 a healthy->suspect: probe returned false',
    '1010 a suspect->healthy: probe succeeded',
  ]);
  t.is(h.hc.stats().members[0]!.consecutiveFailures, 0);
  // Two more failures are not enough to fail (the count restarted).
  h.mode.set('a', 'fail');
  await h.clock.advance(1000); // 2010 fail -> suspect, 2020 fail
  t.is(h.hc.state('a'), 'suspect');
});

test('failed -> healthy only after healthyThreshold consecutive successes (hysteresis against flapping)', async (t) => {
  const h = harness({ unhealthyThreshold: 2, healthyThreshold: 3 });
  h.mode.set('a', 'fail');
  h.hc.add(A);
  h.hc.start();
  await h.clock.advance(0);
  t.deepEqual(h.events, ['0 a pending->failed: first probe failed: probe returned false']);
  // Flap: ok ok fail ok ok ok
  const pattern: Mode[] = ['ok', 'ok', 'fail', 'ok', 'ok', 'ok'];
  for (const m of pattern) {
    h.mode.set('a', m);
    await h.clock.advance(1000);
  }
  t.deepEqual(h.events.slice(1), ['6000 a failed->healthy: 3 consecutive successful probes']);
  t.deepEqual(
    h.calls.map((c) => c.at),
    [0, 1000, 2000, 3000, 4000, 5000, 6000],
  );
});

test('unhealthyThreshold 1: healthy -> failed directly; unhealthyIntervalMs while failed', async (t) => {
  const h = harness({ unhealthyThreshold: 1, unhealthyIntervalMs: 5000 });
  h.hc.add(A);
  h.hc.start();
  await h.clock.advance(1);
  h.mode.set('a', 'reject');
  await h.clock.advance(12_000);
  t.deepEqual(h.events.slice(1), ['1000 a healthy->failed: connection refused']);
  t.deepEqual(
    h.calls.map((c) => c.at),
    [0, 1000, 6000, 11000],
  );
  h.mode.set('a', 'ok');
  await h.clock.advance(20_000);
  // 16000, 21000, 26000 succeed -> healthy at 26000, then back to the normal interval.
  t.is(h.events[2], '26000 a failed->healthy: 3 consecutive successful probes');
  t.deepEqual(
    h.calls.slice(4, 9).map((c) => c.at),
    [16000, 21000, 26000, 27000, 28000],
  );
});

test('a hanging probe fails at exactly timeoutMs, its signal is aborted, and the next probe waits for it', async (t) => {
  const h = harness({ startHealthy: true });
  h.mode.set('a', 'hang');
  h.hc.add(A);
  h.hc.start();
  await h.clock.advance(99);
  t.is(h.hc.stats().inFlight, 1);
  t.false(h.signals[0]!.aborted);
  await h.clock.advance(1);
  t.true(h.signals[0]!.aborted);
  t.deepEqual(h.events, ['100 a healthy->suspect: timeout after 100 ms']);
  // Re-check at once (t=100), times out at 200; next probe 1000 after that.
  await h.clock.advance(1200);
  t.deepEqual(
    h.calls.map((c) => c.at),
    [0, 100, 1200],
  );
  t.is(h.events[1], '1300 a suspect->failed: 3 consecutive failed probes, last: timeout after 100 ms');
  // A probe that rejects when aborted still reports the timeout as its reason.
  const h2 = harness();
  h2.mode.set('a', 'hang-abortable');
  h2.hc.add(A);
  h2.hc.start();
  await h2.clock.advance(150);
  t.is(h2.hc.stats().members[0]!.lastReason, 'timeout after 100 ms');
});

test('probes to one member never overlap: the next is scheduled after the previous finishes', async (t) => {
  const h = harness({ intervalMs: 100, timeoutMs: 90 }, 80);
  h.mode.set('a', 'slow');
  h.hc.add(A);
  h.hc.start();
  await h.clock.advance(950);
  t.is(h.maxActive(), 1);
  t.deepEqual(
    h.calls.map((c) => c.at),
    [0, 180, 360, 540, 720, 900],
  );
  t.is(h.hc.checkNow('a'), false, 'checkNow refuses while a probe is in flight');
});

test('maxConcurrentProbes: due probes wait in FIFO order; the wait is lag, not timeout', async (t) => {
  const h = harness({ maxConcurrentProbes: 2, intervalMs: 1000, timeoutMs: 100 }, 80);
  const lags: string[] = [];
  h.hc.on('probe', (e) => lags.push(`${e.member.id}:${e.startedAt - e.scheduledAt}`));
  for (const id of ['a', 'b', 'c', 'd', 'e']) {
    h.mode.set(id, 'slow');
    h.hc.add({ id, host: '127.0.0.1', port: 1 });
  }
  h.hc.start();
  await h.clock.advance(10);
  t.like(h.hc.stats(), { inFlight: 2, queued: 3 });
  t.false(h.hc.checkNow('c'), 'already waiting');
  await h.clock.advance(300);
  t.is(h.maxActive(), 2);
  t.deepEqual(
    h.calls.map((c) => `${c.id}@${c.at}`),
    ['a@0', 'b@0', 'c@80', 'd@80', 'e@160'],
  );
  t.deepEqual(lags, ['a:0', 'b:0', 'c:80', 'd:80', 'e:160']);
  t.is(h.hc.stats().failures, 0);
  h.hc.stop();
  t.is(h.clock.pending, 0);
  // A queued member that is removed leaves the queue; stop() clears it.
  const g = harness({ maxConcurrentProbes: 1 }, 80);
  for (const id of ['a', 'b', 'c']) {
    g.mode.set(id, 'slow');
    g.hc.add({ id, host: '127.0.0.1', port: 1 });
  }
  g.hc.start();
  await g.clock.advance(10);
  t.like(g.hc.stats(), { inFlight: 1, queued: 2 });
  t.true(g.hc.remove('b'));
  t.like(g.hc.stats(), { inFlight: 1, queued: 1 });
  await g.clock.advance(200);
  t.deepEqual(
    g.calls.map((c) => `${c.id}@${c.at}`),
    ['a@0', 'c@80'],
  );
  g.hc.drain('a');
  g.hc.stop();
  t.like(g.hc.stats(), { inFlight: 0, queued: 0 });
  t.is(g.clock.pending, 0);
  t.throws(() => new HealthChecker({ probe: async () => true, maxConcurrentProbes: 0 }), {
    instanceOf: RangeError,
    message: /maxConcurrentProbes/,
  });
});

test('bad probe behaviour is a failed probe with a reason: sync throw, rejection, non-boolean, undefined', async (t) => {
  const reasons: Record<string, string> = {};
  for (const m of ['throw', 'reject', 'nonbool', 'undefined'] as const) {
    const h = harness({ unhealthyThreshold: 1 });
    h.mode.set('a', m);
    h.hc.add(A);
    h.hc.start();
    await h.clock.advance(0);
    t.is(h.hc.state('a'), 'failed', m);
    reasons[m] = h.hc.stats().members[0]!.lastReason!;
  }
  t.deepEqual(reasons, {
    throw: 'probe threw: sync boom',
    reject: 'connection refused',
    nonbool: 'probe returned non-boolean "yes"',
    undefined: 'probe returned non-boolean undefined',
  });
});

test('initial and interval jitter: exact with a fixed random, within bounds for any seed (property)', async (t) => {
  const seq = [0.25, 0.5, 0.75, 0, 0.999];
  let i = 0;
  const h = harness({
    initialJitterMs: 400,
    intervalJitterMs: 200,
    intervalJitterPercent: 10,
    random: () => seq[i++ % 5]!,
  });
  h.hc.add(A);
  h.hc.start();
  await h.clock.advance(4000);
  // first at 0.25*400 = 100; then + 1000 + r*(200 + 100)
  t.deepEqual(
    h.calls.map((c) => c.at),
    [100, 100 + 1150, 100 + 1150 + 1225, 100 + 1150 + 1225 + 1000],
  );

  await fc.assert(
    fc.asyncProperty(
      fc.integer({ min: 0, max: 2 ** 31 }),
      fc.integer({ min: 0, max: 500 }),
      fc.integer({ min: 0, max: 300 }),
      fc.integer({ min: 0, max: 50 }),
      async (seed, initialJitterMs, intervalJitterMs, intervalJitterPercent) => {
        const g = harness({ random: mulberry32(seed), initialJitterMs, intervalJitterMs, intervalJitterPercent });
        g.hc.add(A);
        g.hc.add(B);
        g.hc.start();
        await g.clock.advance(10_000);
        for (const id of ['a', 'b']) {
          const at = g.calls.filter((c) => c.id === id).map((c) => c.at);
          if (at.length < 5) return false;
          if (initialJitterMs === 0 ? at[0] !== 0 : at[0]! < 0 || at[0]! >= initialJitterMs) return false;
          const span = intervalJitterMs + (1000 * intervalJitterPercent) / 100;
          for (let k = 1; k < at.length; k++) {
            const d = at[k]! - at[k - 1]!;
            if (d < 1000 || d > 1000 + span || (span > 0 && d === 1000 + span)) return false;
          }
        }
        return true;
      },
    ),
    { numRuns: 60 },
  );
});

test('drain: unavailable, no more probes, an in-flight result is dropped; remove aborts silently', async (t) => {
  const h = harness({ startHealthy: true });
  h.mode.set('a', 'hang');
  h.hc.add(A);
  h.hc.add(B);
  h.hc.start();
  await h.clock.advance(50);
  t.true(h.hc.drain('a', 'scale-in'));
  t.false(h.hc.drain('a'));
  t.true(h.signals[0]!.aborted);
  t.is(h.hc.state('a'), 'draining');
  t.false(h.hc.isAvailable('a'));
  t.true(h.hc.remove('b'));
  t.false(h.hc.remove('b'));
  t.false(h.hc.has('b'));
  await h.clock.advance(5000);
  t.deepEqual(h.events, ['50 a healthy->draining: scale-in']);
  t.deepEqual(
    h.calls.map((c) => c.id),
    ['a', 'b'],
  );
  t.is(h.clock.pending, 0);
});

test('stats(): counts, totals, per-member fields; stop() cancels every timer; listener errors are contained', async (t) => {
  const h = harness();
  h.hc.on('transition', () => {
    throw new Error('listener bug');
  });
  h.mode.set('b', 'fail');
  h.hc.add(A);
  h.hc.add(B);
  t.false(h.hc.add({ ...A }));
  h.hc.start();
  await h.clock.advance(2500);
  const s = h.hc.stats();
  t.true(s.running);
  t.deepEqual(s.counts, { pending: 0, healthy: 1, suspect: 0, failed: 1, draining: 0 });
  t.is(s.probes, 6);
  t.is(s.failures, 3);
  t.is(s.transitions, 2);
  t.is(s.listenerErrors, 2);
  const a = s.members.find((m) => m.id === 'a')!;
  t.like(a, {
    state: 'healthy',
    since: 0,
    consecutiveSuccesses: 3,
    probes: 3,
    failures: 0,
    transitions: 1,
    inFlight: false,
    nextProbeAt: 3000,
    lastProbeAt: 2000,
    lastReason: 'probe succeeded',
    lastDurationMs: 0,
  });
  t.like(
    s.members.find((m) => m.id === 'b')!,
    { state: 'failed', consecutiveFailures: 3, lastReason: 'probe returned false' },
  );
  h.hc.stop();
  t.false(h.hc.stats().running);
  t.is(h.clock.pending, 0);
  await h.clock.advance(10_000);
  t.is(h.hc.stats().probes, 6);
});

test('probe events carry scheduled/started/finished times', async (t) => {
  const h = harness({ initialJitterMs: 100, random: () => 0.3 }, 40);
  h.mode.set('a', 'slow');
  const seen: string[] = [];
  h.hc.on('probe', (e) =>
    seen.push(`${e.member.id} ok=${e.ok} sched=${e.scheduledAt} start=${e.startedAt} at=${e.at} ${e.state}`),
  );
  h.hc.add(A);
  h.hc.start();
  await h.clock.advance(1100);
  t.deepEqual(seen, ['a ok=true sched=30 start=30 at=70 healthy']);
  await h.clock.advance(100);
  t.is(seen[1], 'a ok=true sched=1070 start=1070 at=1110 healthy');
});

test('a timer firing before clock.now() reaches its due time: scheduledAt is never after startedAt', async (t) => {
  // Node's timers count whole milliseconds on their own clock: one set at performance.now() 100.9 for 5 ms may run
  // at 105.1, before the 105.9 the checker computed as its due time. This clock's timers run 1 ms early.
  const v = new VirtualClock(0);
  const early = earlyTimers(v, 1);
  const hc = new HealthChecker({ probe: async () => true, clock: early, intervalMs: 1000, timeoutMs: 100 });
  const seen: Array<[number, number]> = [];
  hc.on('probe', (e) => seen.push([e.scheduledAt, e.startedAt]));
  hc.add(A);
  hc.start();
  await v.advance(3000);
  hc.stop();
  t.true(seen.length >= 3);
  for (const [scheduledAt, startedAt] of seen) t.true(scheduledAt <= startedAt, `${scheduledAt} > ${startedAt}`);
  t.deepEqual(seen.slice(1, 3), [
    [999, 999],
    [1998, 1998],
  ]);
});

test('errors name the options under the field the checker is given (createFetch: healthCheck)', (t) => {
  const probe: HealthProbe = async () => true;
  const hc = (o: object) => new HealthChecker({ probe, ...o }, 'healthCheck');
  t.throws(() => hc({ intervalMs: 1000, timeoutMs: 1000 }), {
    instanceOf: RangeError,
    message: 'healthCheck.timeoutMs must be less than healthCheck.intervalMs (1000), got 1000',
  });
  t.throws(() => hc({ intervalMs: 1000, unhealthyIntervalMs: 200, timeoutMs: 300 }), {
    instanceOf: RangeError,
    message: 'healthCheck.timeoutMs must be less than healthCheck.unhealthyIntervalMs (200), got 300',
  });
  t.throws(() => hc({ intervalMs: -1 }), { instanceOf: RangeError, message: /^healthCheck\.intervalMs .*-1/ });
  t.throws(() => hc({ intervalMs: null }), { instanceOf: TypeError, message: /^healthCheck\.intervalMs .*got null/ });
  t.throws(() => hc({ healthyThreshold: 0 }), { instanceOf: RangeError, message: /^healthCheck\.healthyThreshold/ });
  t.throws(() => hc({ startHealthy: 1 }), { instanceOf: TypeError, message: /^healthCheck\.startHealthy/ });
  t.throws(() => hc({ intervalJitterPercent: 101 }), {
    instanceOf: RangeError,
    message: /^healthCheck\.intervalJitterPercent/,
  });
  t.throws(() => hc({ clock: 5 }), { instanceOf: TypeError, message: /^healthCheck\.clock/ });
  t.throws(() => hc({ pth: 1 }), { instanceOf: RangeError, message: /^healthCheck\.pth must be one of probe, / });
  t.throws(() => new HealthChecker({ probe: 1 as never }, 'healthCheck'), {
    instanceOf: TypeError,
    message: /^healthCheck\.probe must be a function/,
  });
  // the option keys a caller that makes the probe itself accepts (createFetch: Omit<HealthCheckerOptions, 'probe'>)
  t.false((HEALTH_TIMING_KEYS as string[]).includes('probe'));
  t.deepEqual(HEALTH_KEYS, ['probe', ...HEALTH_TIMING_KEYS]);
});

test('bad input: typed errors naming the field and value', (t) => {
  const probe: HealthProbe = async () => true;
  t.throws(() => new HealthChecker(null as unknown as HealthCheckerOptions), {
    instanceOf: TypeError,
    message: /options/,
  });
  t.throws(() => new HealthChecker({} as HealthCheckerOptions), { instanceOf: TypeError, message: /probe/ });
  t.throws(() => new HealthChecker({ probe, unhealthyThreshold: 0 }), {
    instanceOf: RangeError,
    message: /unhealthyThreshold.*0/,
  });
  t.throws(() => new HealthChecker({ probe, healthyThreshold: 0.5 }), {
    instanceOf: RangeError,
    message: /healthyThreshold/,
  });
  t.throws(() => new HealthChecker({ probe, intervalMs: -1 }), { instanceOf: RangeError, message: /intervalMs.*-1/ });
  t.throws(() => new HealthChecker({ probe, intervalMs: 0 }), { instanceOf: RangeError, message: /intervalMs/ });
  t.throws(() => new HealthChecker({ probe, intervalMs: '5s' as unknown as number }), {
    instanceOf: TypeError,
    message: /intervalMs.*"5s"/,
  });
  t.throws(() => new HealthChecker({ probe, intervalMs: 1000, timeoutMs: 1000 }), {
    instanceOf: RangeError,
    message: /timeoutMs must be less than intervalMs \(1000\), got 1000/,
  });
  t.throws(() => new HealthChecker({ probe, intervalMs: 1000, unhealthyIntervalMs: 200, timeoutMs: 300 }), {
    instanceOf: RangeError,
    message: /timeoutMs.*unhealthyIntervalMs/,
  });
  t.throws(() => new HealthChecker({ probe, initialJitterMs: -5 }), {
    instanceOf: RangeError,
    message: /initialJitterMs.*-5/,
  });
  t.throws(() => new HealthChecker({ probe, intervalJitterPercent: 101 }), {
    instanceOf: RangeError,
    message: /intervalJitterPercent/,
  });
  t.throws(() => new HealthChecker({ probe, clock: { now: () => 0 } as never }), {
    instanceOf: TypeError,
    message: /clock/,
  });
  t.throws(() => new HealthChecker({ probe, startHealthy: 1 as unknown as boolean }), {
    instanceOf: TypeError,
    message: /startHealthy/,
  });
  const hc = new HealthChecker({ probe });
  t.is(hc.timeoutMs, 3000, 'default timeout 3 s');
  t.is(new HealthChecker({ probe, intervalMs: 1000 }).timeoutMs, 500, 'default timeout capped at interval / 2');
  // and at half the unhealthy interval: a default the user never set is not refused
  t.is(new HealthChecker({ probe, unhealthyIntervalMs: 2000 }).timeoutMs, 1000, 'capped at unhealthyIntervalMs / 2');
  // only there: a longer unhealthy interval leaves the default as it was
  t.is(new HealthChecker({ probe, unhealthyIntervalMs: 4000 }).timeoutMs, 3000);
  t.is(new HealthChecker({ probe, unhealthyIntervalMs: 3001 }).timeoutMs, 3000);
  t.is(new HealthChecker({ probe, unhealthyIntervalMs: 3000 }).timeoutMs, 1500);
  t.throws(() => hc.add({ id: '', host: 'h', port: 1 }), { instanceOf: TypeError, message: /member\.id/ });
  t.throws(() => hc.add({ id: 'x', host: 'h', port: 70000 }), {
    instanceOf: RangeError,
    message: /member\.port.*70000/,
  });
  t.throws(() => hc.on('nope' as 'probe', () => undefined), { instanceOf: RangeError, message: /event/ });
});

test('only undefined means the default: null options are TypeErrors naming the field', (t) => {
  const probe: HealthProbe = async () => true;
  for (const field of ['timeoutMs', 'intervalMs', 'unhealthyIntervalMs', 'initialJitterMs', 'healthyThreshold'])
    t.throws(() => new HealthChecker({ probe, [field]: null }), {
      instanceOf: TypeError,
      message: new RegExp(`^${field} must be .*got null`),
    });
  t.throws(() => new HealthChecker({ probe, startHealthy: null as never }), {
    instanceOf: TypeError,
    message: /^startHealthy .*got null/,
  });
  t.throws(() => new HealthChecker({ probe, random: null as never }), { instanceOf: TypeError, message: /^random/ });
});

test('construction draws nothing from random: a seeded source shared with a Balancer keeps its sequence', (t) => {
  const probe: HealthProbe = async () => true;
  const clock = new VirtualClock(0);
  let draws = 0;
  const counting = () => (draws++, 0.5);
  new HealthChecker({ probe, clock, initialJitterMs: 100, intervalJitterMs: 100, random: counting }).add(A);
  t.is(draws, 0);
  // a bad source is no error until a draw needs it (its type still is: the null test above)
  t.notThrows(() => new HealthChecker({ probe, clock, initialJitterMs: 100, random: () => 2 }));
  // as createFetch and the gRPC bridge share one source between the Balancer, the checker and the detector
  const shared = mulberry32(42);
  const alone = mulberry32(42);
  const h = harness({ random: shared, initialJitterMs: 1000 });
  h.hc.add(A);
  t.deepEqual([shared(), shared()], [alone(), alone()]);
  h.hc.start(); // the initial jitter takes the source's next value, at use
  t.is(h.hc.stats().members[0]!.nextProbeAt, alone() * 1000);
  t.is(shared(), alone(), 'one draw per jitter');
  h.hc.stop();
});

test('random: a bad initial jitter draw is a RangeError naming random from start(), add() and update(); nothing changes', (t) => {
  let r: unknown = 0.5;
  const h = harness({ initialJitterMs: 100, random: () => r as number });
  h.hc.add(A);
  h.hc.add(B);
  for (const bad of [7, 1, -0.5, NaN, '0.5']) {
    r = bad;
    t.throws(() => h.hc.start(), {
      instanceOf: RangeError,
      message: /^random must be a function returning a number in \[0, 1\), got /,
    });
    t.false(h.hc.isRunning, 'nothing started');
    t.is(h.clock.pending, 0);
  }
  // each draw is checked: a good first one and a bad second one still start nothing
  const seq = [0.5, 7];
  r = undefined;
  const h2 = harness({ initialJitterMs: 100, random: () => seq.shift()! });
  h2.hc.add(A);
  h2.hc.add(B);
  t.throws(() => h2.hc.start(), { instanceOf: RangeError, message: /^random .*got 7$/ });
  t.false(h2.hc.isRunning);
  t.is(h2.clock.pending, 0);

  r = 0.5;
  h.hc.start();
  t.deepEqual(
    h.hc.stats().members.map((m) => m.nextProbeAt),
    [50, 50],
  );
  r = 2;
  const C: HealthMember = { id: 'c', host: '127.0.0.1', port: 3 };
  t.throws(() => h.hc.add(C), { instanceOf: RangeError, message: /^random .*got 2$/ });
  t.false(h.hc.has('c'), 'not watched');
  t.true(h.hc.add({ ...B }) === false, 'unchanged: b is still watched');
  const moved = { ...A, port: 9 };
  t.throws(() => h.hc.update(moved), { instanceOf: RangeError, message: /^random .*got 2$/ });
  t.is(h.hc.stats().members.find((m) => m.id === 'a')!.nextProbeAt, 50, 'a keeps its schedule');
  r = 0.25;
  t.true(h.hc.update(moved));
  t.is(h.hc.stats().members.find((m) => m.id === 'a')!.nextProbeAt, 25);
  t.true(h.hc.add(C));
  t.is(h.hc.stats().jitterErrors, 0, 'errors with a caller are thrown, not counted');
  h.hc.stop();
});

test('random: a bad interval jitter draw after a probe is counted in jitterErrors, never thrown out of a timer or promise; that interval has no jitter and probing goes on', async (t) => {
  // resolved, timed out (a timer) and synchronously thrown probes each end in the draw of the next interval's jitter
  for (const mode of ['ok', 'hang', 'throw'] as const) {
    const d = mode === 'hang' ? 100 : 0; // a probe's duration: the interval counts from its end
    let r = 0.5;
    const h = harness({ intervalJitterMs: 100, random: () => r });
    h.mode.set('a', mode);
    h.hc.add(A);
    h.hc.start();
    await h.clock.advance(d + 1);
    const second = d + 1050;
    t.is(h.hc.stats().members[0]!.nextProbeAt, second, mode);
    r = NaN;
    await t.notThrowsAsync(() => h.clock.advance(second + d - h.clock.now()), mode);
    t.like(h.hc.stats(), { running: true, jitterErrors: 1 }, mode);
    const third = second + d + 1000;
    t.is(h.hc.stats().members[0]!.nextProbeAt, third, `${mode}: that interval without jitter`);
    r = 0.5;
    await h.clock.advance(third + d - h.clock.now());
    t.deepEqual(
      h.calls.map((c) => c.at),
      [0, second, third],
      mode,
    );
    t.is(h.hc.stats().members[0]!.nextProbeAt, third + d + 1050, `${mode}: probing goes on, with jitter again`);
    t.is(h.hc.stats().jitterErrors, 1, mode);
    h.hc.stop();
  }
});

test('stop(), remove() and drain() leave no timer behind, even for a probe that ignores its signal; a late result is dropped', async (t) => {
  for (const end of ['stop', 'remove', 'drain'] as const) {
    const h = harness({ startHealthy: true });
    h.mode.set('a', 'hang');
    h.hc.add(A);
    h.hc.start();
    await h.clock.advance(50);
    t.is(h.hc.stats().inFlight, 1, end);
    if (end === 'stop') h.hc.stop();
    else if (end === 'remove') h.hc.remove('a');
    else h.hc.drain('a');
    t.true(h.signals[0]!.aborted, end);
    t.is(h.clock.pending, 0, `${end}: the probe's timeout timer is cancelled too`);
    await h.clock.advance(5000);
    t.is(h.calls.length, 1, end);
    t.is(h.hc.stats().probes, 0, `${end}: the cancelled probe has no result`);
  }
});

test('update() of a draining member keeps it draining, also when its address moved: not probed, not available', async (t) => {
  const h = harness();
  h.hc.add(A);
  h.hc.start();
  await h.clock.advance(0);
  t.is(h.hc.state('a'), 'healthy');
  t.true(h.hc.drain('a'));
  const moved = { ...A, host: '10.0.0.2' };
  t.true(h.hc.update(moved));
  t.true(h.hc.update({ ...moved }));
  await h.clock.advance(5000);
  t.is(h.hc.state('a'), 'draining');
  t.false(h.hc.isAvailable('a'));
  t.is(h.calls.length, 1, 'no probe after drain()');
  t.is(h.hc.stats().members[0]!.nextProbeAt, null);
  t.deepEqual(h.events, ['0 a pending->healthy: first probe succeeded', '0 a healthy->draining: draining']);
  // stop() and start() do not bring it back either
  h.hc.stop();
  h.hc.start();
  await h.clock.advance(5000);
  t.is(h.calls.length, 1);
  t.is(h.hc.state('a'), 'draining');
});

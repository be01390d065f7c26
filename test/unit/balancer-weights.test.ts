// Run-time weights on weighted policies: Envoy slow start, dynamic weights (docs/design.md, "Dynamic
// weights"), gRPC A58 load-report weights with blackout and expiry; exact values on a VirtualClock.
import test from 'ava';
import { Balancer, VirtualClock, mulberry32 } from '../../bindings/index.js';
import { parseDynamicWeights, updateDynamicFactor } from '../../bindings/balancing/dynamic-weights.js';
import { parseSlowStart, slowStartFactor } from '../../bindings/balancing/slow-start.js';

const weights = (lb: Balancer) => Object.fromEntries(lb.stats().members.map((m) => [m.id, m.weight]));

test("slow start: Envoy's weight × max(minWeightPercent, (t/window)^(1/aggression))", (t) => {
  const c = parseSlowStart(
    { slow_start_window: '10s', aggression: { default_value: 2 }, min_weight_percent: { value: 20 } },
    'ss',
  );
  t.deepEqual(c, { windowMs: 10_000, aggression: 2, minWeightPercent: 20 });
  t.is(slowStartFactor(c, 0), 0.2);
  t.is(slowStartFactor(c, 1000), Math.pow(0.1, 1 / 2));
  t.is(slowStartFactor(c, 2500), 0.5);
  t.is(slowStartFactor(c, 10_000), 1);
  t.throws(() => parseSlowStart({ windowMs: 0 }, 'policy.slowStart'), {
    instanceOf: RangeError,
    message: /policy\.slowStart\.windowMs/,
  });
});

test('slow start on weighted_round_robin: new and recovered members ramp up; initial members start warm', (t) => {
  const clock = new VirtualClock(0);
  const lb = new Balancer({
    policy: {
      name: 'weighted_round_robin',
      slowStart: { windowMs: 1000, minWeightPercent: 10 },
      weightUpdatePeriodMs: 100,
    },
    clock,
    endpoints: [
      { id: 'a', weight: 10 },
      { id: 'b', weight: 10 },
    ],
  });
  t.deepEqual(weights(lb), { a: 10, b: 10 });
  lb.add({ id: 'c', weight: 10 });
  t.deepEqual(weights(lb), { a: 10, b: 10, c: 1 });
  clock.set(500);
  lb.pickOrThrow().handle.done({ ok: true });
  t.deepEqual(weights(lb), { a: 10, b: 10, c: 5 });
  clock.set(1000);
  lb.pickOrThrow().handle.done({ ok: true });
  t.deepEqual(weights(lb), { a: 10, b: 10, c: 10 });
  lb.setAvailable('a', false);
  clock.set(1200);
  lb.setAvailable('a', true);
  t.is(weights(lb).a, 1);
  clock.set(1450);
  lb.pickOrThrow();
  t.is(weights(lb).a, 2.5);
  // over a ramp the new member gets less than its share
  const counts = new Map<string, number>();
  for (let i = 0; i < 300; i++) {
    clock.tick(1);
    const id = lb.pickOrThrow().member.id;
    counts.set(id, (counts.get(id) ?? 0) + 1);
  }
  t.true((counts.get('a') ?? 0) < (counts.get('b') ?? 0), JSON.stringify([...counts]));
});

test('dynamic weights (docs/design.md): w ← 0.9 w + 0.1 (0.7 accuracy + 0.3 (1 − delay)), clamped to [0.1, 1]', (t) => {
  const c = parseDynamicWeights({}, 'dw');
  t.is(updateDynamicFactor(c, 1, true, 0), 1);
  t.is(updateDynamicFactor(c, 1, false, 500), 0.9);
  t.is(updateDynamicFactor(c, 0.5, true, 250), 0.9 * 0.5 + 0.1 * (0.7 + 0.3 * 0.5));
  t.is(updateDynamicFactor(c, 0.1, false, 1e9), 0.1);
  const clock = new VirtualClock(0);
  const lb = new Balancer({
    policy: { name: 'least_request', dynamicWeights: true, weightUpdatePeriodMs: 100 },
    clock,
    random: mulberry32(4),
    endpoints: [
      { id: 'good', weight: 4 },
      { id: 'bad', weight: 4 },
    ],
  });
  for (let i = 0; i < 200; i++) {
    const p = lb.pickOrThrow();
    clock.tick(1);
    p.handle.done({ ok: p.member.id === 'good', rttMs: p.member.id === 'good' ? 10 : 400 });
  }
  clock.tick(100);
  lb.pickOrThrow();
  const w = weights(lb);
  t.true(w.good! > 3.5 && w.bad! < 1.5, JSON.stringify(w));
});

test('load reports (gRPC A58): qps / (utilization + eps/qps × penalty), blackout, expiry, mean for the rest', (t) => {
  const clock = new VirtualClock(0);
  const lb = new Balancer({
    loadBalancingConfig: [
      {
        weighted_round_robin: {
          blackout_period: '1s',
          weight_expiration_period: '10s',
          weight_update_period: '0.1s',
          error_utilization_penalty: 2,
        },
      },
    ],
    clock,
    endpoints: ['a:1', 'b:1', 'c:1'],
  });
  t.true(lb.reportLoad('a:1', { qps: 100, utilization: 0.5 }));
  t.true(lb.reportLoad('b:1', { qps: 100, eps: 10, utilization: 0.3 }));
  t.false(lb.reportLoad('zz', { qps: 1, utilization: 1 }));
  t.throws(() => lb.reportLoad('a:1', { qps: -1, utilization: 1 }), { instanceOf: RangeError, message: /load\.qps/ });
  // not a number at all is a TypeError (a string was a RangeError)
  t.throws(() => lb.reportLoad('a:1', { qps: '5' as never, utilization: 1 }), {
    instanceOf: TypeError,
    message: /^load\.qps must be a finite number >= 0, got "5"/,
  });
  clock.set(500);
  lb.refresh();
  t.deepEqual(weights(lb), { 'a:1': 1, 'b:1': 1, 'c:1': 1 }); // blackout: configured weights
  clock.set(1000);
  lb.refresh();
  // a: 100 / 0.5 = 200; b: 100 / (0.3 + 0.1 × 2) = 200 (within fp); c: mean
  const w = weights(lb);
  t.is(w['a:1'], 200);
  t.true(Math.abs(w['b:1']! - 200) < 1e-9);
  t.is(w['c:1'], (w['a:1']! + w['b:1']!) / 2);
  lb.reportLoad('a:1', { qps: 300, utilization: 0.5 });
  clock.set(10_500); // b expired (last report at 0), a still fresh
  lb.refresh();
  t.like(weights(lb), { 'a:1': 600, 'b:1': 600, 'c:1': 600 });
  clock.set(20_000); // all expired: configured weights again
  lb.refresh();
  t.deepEqual(weights(lb), { 'a:1': 1, 'b:1': 1, 'c:1': 1 });
  // per-call reports through done({ load })
  const p = lb.pickOrThrow();
  p.handle.done({ ok: true, load: { qps: 50, utilization: 0.25 } });
  t.is(lb.stats().members.find((m) => m.id === p.member.id)!.weight, 1);
});

test('load reports: a member without a weight gets the mean of the members in rotation only (A58: the picker endpoints)', (t) => {
  for (const backend of ['js', 'wasm'] as const) {
    const clock = new VirtualClock(0);
    const lb = new Balancer({
      backend,
      policy: { name: 'weighted_round_robin', loadReports: { blackoutPeriodMs: 0 }, weightUpdatePeriodMs: 100 },
      clock,
      random: mulberry32(1),
      endpoints: ['a', 'b', 'c'],
    });
    lb.reportLoad('a', { qps: 100, utilization: 1 });
    lb.reportLoad('b', { qps: 10000, utilization: 1 });
    lb.setAvailable('b', false);
    clock.set(100);
    lb.refresh();
    const w = Object.fromEntries(lb.stats().members.map((m) => [m.id, m.weight]));
    t.deepEqual(w, { a: 100, b: 10000, c: 100 }, backend);
  }
});

test("slow start: a member just added weighs max(1 ms, t) / window of its weight (Envoy), never 0, which stride reads as 'unknown'", (t) => {
  const c = parseSlowStart({ windowMs: 1000, minWeightPercent: 0 }, 'slowStart');
  t.is(slowStartFactor(c, 0), 0.001);
  t.is(slowStartFactor(c, -5), 0.001);
  t.is(slowStartFactor(parseSlowStart({ windowMs: 0.5, minWeightPercent: 0 }, 'slowStart'), 0), 1);
  for (const [backend, aggression] of [
    ['js', 1],
    ['wasm', 1],
    ['js', 1e-3], // pow(t, 1000) underflows to 0
    ['wasm', 1e-3],
  ] as const) {
    const clock = new VirtualClock(0);
    const lb = new Balancer({
      backend,
      policy: {
        name: 'weighted_round_robin',
        slowStart: { windowMs: 10_000, minWeightPercent: 0, aggression },
        dynamicWeights: true,
      },
      clock,
      random: mulberry32(1),
      endpoints: [
        { id: 'a', weight: 10 },
        { id: 'b', weight: 10 },
      ],
    });
    clock.set(20_000);
    lb.add({ id: 'c', weight: 10 });
    const counts: Record<string, number> = {};
    for (let i = 0; i < 90; i++) {
      const p = lb.pickOrThrow();
      counts[p.member.id] = (counts[p.member.id] ?? 0) + 1;
      p.handle.done({ ok: true, rttMs: 1 });
    }
    t.true(
      (counts.c ?? 0) <= 1,
      `${backend} ${aggression}: the new member is ramping, not at the mean: ${JSON.stringify(counts)}`,
    );
  }
});

test('measureRtt: false does not stop run-time weights from updating at picks', (t) => {
  const clock = new VirtualClock(0);
  const lb = new Balancer({
    policy: { name: 'weighted_round_robin', slowStart: { windowMs: 1000 } },
    measureRtt: false,
    clock,
    endpoints: [
      { id: 'a', weight: 10 },
      { id: 'b', weight: 10 },
    ],
  });
  clock.set(5000);
  lb.add({ id: 'c', weight: 10 });
  clock.set(65_000);
  for (let i = 0; i < 3; i++) lb.pickOrThrow().handle.done({ ok: true });
  t.is(lb.stats().members.find((m) => m.id === 'c')!.weight, 10);
});

test('load reports: the blackout restarts when a member comes back into rotation (gRPC: when it is READY again)', (t) => {
  const clock = new VirtualClock(0);
  const lb = new Balancer({
    policy: { name: 'weighted_round_robin', loadReports: { blackoutPeriodMs: 1000 }, weightUpdatePeriodMs: 100 },
    clock,
    endpoints: [
      { id: 'a', weight: 1 },
      { id: 'b', weight: 1 },
    ],
  });
  const weightOf = (id: string) => lb.stats().members.find((m) => m.id === id)!.weight;
  const report = () => {
    lb.reportLoad('a', { qps: 300, utilization: 1 });
    lb.reportLoad('b', { qps: 100, utilization: 1 });
  };
  report();
  clock.set(1500);
  report();
  lb.refresh();
  t.is(weightOf('a'), 300, 'past the blackout');
  lb.setAvailable('a', false);
  clock.set(2000);
  lb.setAvailable('a', true);
  report();
  lb.refresh();
  t.is(weightOf('a'), 100, 'back in rotation: blacked out again, the mean of the others');
  clock.set(3100);
  report();
  lb.refresh();
  t.is(weightOf('a'), 300, 'a blackout after its return');
});

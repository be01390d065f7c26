// Policy changes at run time (Balancer.setPolicy / applyServiceConfig, grpc-js's graceful switch): the new
// policy starts from the current members and takes over new picks; picks in flight end once and feed no policy
// (the new policy's state is its own); bad specs and configs keep the current policy with a typed error.
import test from 'ava';
import { Balancer } from '../../bindings/balancing/balancer.js';
import type { PickerEvent, Picked } from '../../bindings/balancing/events.js';
import type { Policy, PolicyEnv } from '../../bindings/balancing/picker.js';
import { policyFrom } from '../../bindings/balancing/service-config.js';
import { mulberry32 } from '../../bindings/util/random.js';
import { VirtualClock } from '../../bindings/util/clock.js';

/** Wraps a real policy, counting the picks it issued and the completions it received. */
class Counted implements Policy {
  started = 0;
  done = 0;
  readonly name: string;
  readonly usesRtt: boolean | undefined;
  constructor(readonly inner: Policy) {
    this.name = inner.name;
    this.usesRtt = inner.usesRtt;
  }
  build(rows: Int32Array, env: PolicyEnv) {
    return this.inner.build(rows, env);
  }
  onMembership(env: PolicyEnv, added: readonly number[], now: number) {
    this.inner.onMembership?.(env, added, now);
  }
  onStart(env: PolicyEnv, row: number, now: number) {
    this.started++;
    this.inner.onStart?.(env, row, now);
  }
  onDone(env: PolicyEnv, row: number, ok: boolean, rtt: number, now: number, status?: number) {
    this.done++;
    this.inner.onDone?.(env, row, ok, rtt, now, status);
  }
  stats(env: PolicyEnv, row: number, now: number) {
    return this.inner.stats?.(env, row, now) ?? {};
  }
}

test('setPolicy: the policy getter, a picker event naming it, picks follow the new policy at once', (t) => {
  const lb = new Balancer({ endpoints: ['a', 'b', 'c'], random: mulberry32(1) });
  t.is(lb.policy.name, 'round_robin');
  const events: PickerEvent[] = [];
  lb.on('picker', (e) => events.push(e));
  const before = lb.stats().version;
  lb.setPolicy('pick_first');
  t.is(lb.policy.name, 'pick_first');
  t.is(events.length, 1);
  t.like(events[0], { policy: 'pick_first', eligible: 3, panic: false, warming: false, version: before + 1 });
  const ids = Array.from({ length: 6 }, () => {
    const p = lb.pickOrThrow();
    p.handle.done({ ok: true });
    return p.member.id;
  });
  t.deepEqual(ids, ['a', 'a', 'a', 'a', 'a', 'a']);
  lb.setPolicy({ name: 'round_robin' });
  const rr = new Set(
    Array.from({ length: 6 }, () => {
      const p = lb.pickOrThrow();
      p.handle.done({ ok: true });
      return p.member.id;
    }),
  );
  t.is(rr.size, 3);
  t.is(lb.stats().policy, 'round_robin');
});

test('bad specs throw TypeError/RangeError naming policy and keep the current policy', (t) => {
  const lb = new Balancer({ policy: 'least_request', endpoints: ['a', 'b'] });
  const v = lb.stats().version;
  t.throws(() => lb.setPolicy('no_such_policy'), { instanceOf: RangeError, message: /policy.*no_such_policy/ });
  t.throws(() => lb.setPolicy({ peak_ewma: { decayMs: -1 } }), {
    instanceOf: RangeError,
    message: /policy\.peak_ewma\.decayMs/,
  });
  t.throws(() => lb.setPolicy(42 as never), { instanceOf: TypeError, message: /policy.*42/ });
  t.is(lb.policy.name, 'least_request');
  t.is(lb.stats().version, v, 'nothing was rebuilt');
});

test('a Policy object runs in one Balancer: a second one (constructor or setPolicy) gets a TypeError, the first may re-install it', (t) => {
  const a = new Balancer({ policy: 'weighted_round_robin', endpoints: [{ id: 'x:1', weight: 3 }, 'y:1'] });
  const wrr = a.policy;
  t.throws(() => new Balancer({ policy: wrr, endpoints: ['z:1'] }), {
    instanceOf: TypeError,
    message: /^policy must be a Policy no other Balancer runs/,
  });
  const b = new Balancer({ policy: 'round_robin', endpoints: ['z:1'] });
  t.throws(() => b.setPolicy(wrr), {
    instanceOf: TypeError,
    message: /^policy must be a Policy no other Balancer runs/,
  });
  t.is(b.policy.name, 'round_robin', 'the current policy is kept');
  // the owner switches away and back: its own policy object is welcome, with its state
  a.setPolicy('least_request');
  a.setPolicy(wrr);
  t.is(a.policy, wrr);
  const seq = Array.from({ length: 8 }, () => a.pickOrThrow().member.id).join(',');
  t.is(seq, 'x:1,x:1,y:1,x:1,x:1,x:1,y:1,x:1'); // nginx's a a b a
  // a closed owner still owns it: policies keep state per Balancer, so a new Balancer needs a new policy
  a.close();
  t.throws(() => new Balancer({ policy: wrr }), { instanceOf: TypeError, message: /^policy must be/ });
});

test('applyServiceConfig: applied, repeated (no-op), without a policy (no-op), bad (typed error, policy kept)', (t) => {
  const lb = new Balancer({ endpoints: ['a', 'b'] });
  t.is(lb.applyServiceConfig({ loadBalancingConfig: [{ peak_ewma: { decay: '5s' } }] }), null);
  t.is(lb.policy.name, 'peak_ewma');
  const v = lb.stats().version;
  t.is(lb.applyServiceConfig({ loadBalancingConfig: [{ peak_ewma: { decay: '5s' } }] }), null);
  t.is(lb.stats().version, v, 'the same config again changes nothing (a DNS TXT re-poll)');
  t.is(lb.applyServiceConfig({ methodConfig: [] }), null);
  t.is(lb.policy.name, 'peak_ewma');
  const bad = lb.applyServiceConfig({ loadBalancingConfig: [{ unknown_lb: {} }] });
  t.true(bad instanceof RangeError);
  t.regex(bad!.message, /loadBalancingConfig.*unknown_lb/);
  const badOption = lb.applyServiceConfig({ loadBalancingConfig: [{ least_request: { choice_count: 1 } }] });
  t.true(badOption instanceof RangeError);
  t.regex(badOption!.message, /loadBalancingConfig\[0\]\.least_request\.choice_count/);
  const notObject = lb.applyServiceConfig('round_robin');
  t.true(notObject instanceof TypeError);
  t.regex(notObject!.message, /serviceConfig/);
  t.is(lb.policy.name, 'peak_ewma');
  t.is(lb.stats().version, v);
  t.is(lb.applyServiceConfig({ loadBalancingPolicy: 'ROUND_ROBIN' }), null);
  t.is(lb.policy.name, 'round_robin');
});

test('in-flight picks end once and feed no policy; the new policy starts with its state initialised', (t) => {
  const clock = new VirtualClock(0);
  const lb = new Balancer({ clock, endpoints: ['a', 'b'] });
  const first = new Counted(policyFrom('round_robin'));
  lb.setPolicy(first);
  const held = [lb.pickOrThrow(), lb.pickOrThrow()];
  const second = new Counted(policyFrom({ name: 'peak_ewma', defaultRttMs: 7 }));
  lb.setPolicy(second);
  // peak_ewma's onMembership ran for every row: the default estimate, not a leftover 0
  t.deepEqual(
    lb.stats().members.map((m) => m.rttEstimateMs),
    [7, 7],
  );
  for (const p of held) p.handle.done({ ok: true, rttMs: 3 });
  t.is(first.started, 2);
  t.is(first.done, 0, 'a replaced policy is fed nothing');
  t.is(second.done, 0, 'the new policy never sees the old picks');
  t.deepEqual(
    lb.stats().members.map((m) => m.rttEstimateMs),
    [7, 7],
    'round_robin completions did not feed the EWMA',
  );
  t.deepEqual(
    lb.stats().members.map((m) => m.active),
    [0, 0],
  );
  // the new policy times picks (it uses RTTs): done() without rttMs measures on the clock
  const p = lb.pickOrThrow();
  clock.tick(40);
  p.handle.done({ ok: true });
  t.is(second.done, 1);
  t.is(lb.stats().members.find((m) => m.id === p.member.id)!.rttEstimateMs, 40);
});

test("a replaced policy's late completions do not write the new policy's columns (peak_ewma to peak_ewma)", (t) => {
  const clock = new VirtualClock(0);
  const lb = new Balancer({ clock, endpoints: ['a'], policy: { name: 'peak_ewma', decayMs: 1000 } });
  const held = [lb.pickOrThrow(), lb.pickOrThrow()];
  lb.setPolicy({ name: 'peak_ewma', defaultRttMs: 7 });
  held[0]!.handle.done({ ok: true, rttMs: 300 }); // a peak: the old policy would replace the estimate with it
  held[1]!.handle.done({ ok: false, rttMs: 1 });
  const m = lb.stats().members[0]!;
  t.is(m.rttEstimateMs, 7, 'the new policy keeps its default estimate');
  t.is(m.active, 0);
  t.is(m.failures, 1, "failures are the Balancer's, counted for every pick");
});

test('a pick of an earlier install feeds no policy, also when the same policy object is back (A, B, A; a failed switch)', (t) => {
  const clock = new VirtualClock(0);
  const a = new Counted(policyFrom({ name: 'peak_ewma', defaultRttMs: 7 }));
  const lb = new Balancer({ clock, endpoints: ['m'], policy: a });
  const old = lb.pickOrThrow();
  lb.setPolicy('round_robin');
  lb.setPolicy(a); // fresh columns: the default estimate again
  old.handle.done({ ok: true, rttMs: 300 });
  t.is(a.done, 0);
  t.is(lb.stats().members[0]!.rttEstimateMs, 7, "the first install's sample did not reach the second");
  // a switch whose build throws re-installs the previous policy: its earlier picks are an earlier install too
  const before = lb.pickOrThrow();
  const broken = {
    ...policyFrom('round_robin'),
    name: 'broken',
    build: () => {
      throw new Error('no');
    },
  };
  t.throws(() => lb.setPolicy(broken as Policy), { message: 'no' });
  t.is(lb.policy, a);
  before.handle.done({ ok: true, rttMs: 300 });
  t.is(a.done, 0);
  t.is(lb.stats().members[0]!.rttEstimateMs, 7);
  const now = lb.pickOrThrow();
  now.handle.done({ ok: true, rttMs: 300 });
  t.is(a.done, 1, 'a pick of the current install feeds it');
  t.is(lb.stats().members[0]!.rttEstimateMs, 300);
  t.is(lb.stats().members[0]!.active, 0);
});

test('100 policy switches during a stream of picks with async completions: each pick completes once, 0 failures', async (t) => {
  const lb = new Balancer({ endpoints: ['a', 'b', 'c', 'd', 'e'], random: mulberry32(7) });
  const names = [
    'round_robin',
    'least_request',
    'peak_ewma',
    'pick_first',
    'weighted_round_robin',
    'latency_aware',
    'maglev',
    'ring_hash',
  ];
  const policies: Counted[] = [];
  let picks = 0;
  let failures = 0;
  let completions = 0;
  const inFlight: Promise<void>[] = [];
  for (let i = 0; i < 2000; i++) {
    if (i % 20 === 0) {
      const c = new Counted(policyFrom(names[(i / 20) % names.length]!));
      policies.push(c);
      lb.setPolicy(c);
    }
    const r = lb.pick({ key: `k${i}` });
    if (r.type !== 'pick') {
      failures++;
      continue;
    }
    picks++;
    const p: Picked = r;
    // complete later, out of order, some twice (the second call must be a no-op)
    const delay = (i * 7919) % 13;
    inFlight.push(
      new Promise<void>((res) =>
        setTimeout(() => {
          p.handle.done({ ok: i % 11 !== 0, rttMs: delay });
          if (i % 5 === 0) p.handle.done({ ok: true, rttMs: 1 });
          completions++;
          res();
        }, delay),
      ),
    );
  }
  await Promise.all(inFlight);
  t.is(policies.length, 100);
  t.is(failures, 0);
  t.is(picks, 2000);
  t.is(completions, 2000);
  t.is(
    policies.reduce((s, c) => s + c.started, 0),
    2000,
  );
  // every switch came before the first completion (they run on timers): only the last policy is fed, once per pick
  const last = policies[policies.length - 1]!;
  for (const c of policies.slice(0, -1)) t.is(c.done, 0, `${c.name}: a replaced policy is fed nothing`);
  t.is(last.done, last.started, `${last.name}: every pick it issued fed it, once`);
  const stats = lb.stats();
  t.deepEqual(
    stats.members.map((m) => m.active),
    [0, 0, 0, 0, 0],
  );
  t.is(
    stats.members.reduce((s, m) => s + m.picks, 0),
    2000,
  );
});

test('setPolicy while picks wait: the waiting picks are served by the new policy once members arrive', async (t) => {
  const lb = new Balancer();
  const w = lb.pickAsync();
  lb.setPolicy('pick_first');
  lb.reset(['x', 'y']);
  const p = await w;
  t.is(p.member.id, 'x');
  t.is(lb.policy.name, 'pick_first');
});

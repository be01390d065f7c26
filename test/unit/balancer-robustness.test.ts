// The Balancer under misuse (a second bad-input sweep's findings): listeners that throw, a handle that outlives
// its member, aborted signals, a completion with a bad load report, pick contexts of the wrong type, weights whose
// sum overflows, a clock that returns no number. Each leaves the Balancer consistent and says what was wrong.
import test from 'ava';
import { Balancer, VirtualClock, type Clock } from '../../bindings/index.js';
import { wasmHandle } from '../../bindings/core/backend.js';
import { BALANCING_WASM } from '../../bindings/core/families.js';

const memberStats = (lb: Balancer, id: string) => lb.stats().members.find((m) => m.id === id)!;

test('a membership listener that throws: reset() throws its error once the picker serves the new list', (t) => {
  for (const policy of ['round_robin', 'ring_hash'] as const) {
    const lb = new Balancer({ policy, endpoints: ['a:1', 'b:1', 'c:1'] });
    const seen: string[] = [];
    lb.on('membership', () => {
      throw new Error('listener bug');
    });
    lb.on('membership', () => seen.push('second'));
    t.throws(() => lb.reset(['c:1', 'a:1']), { message: 'listener bug' });
    t.deepEqual(seen, ['second'], 'the other listeners still ran');
    t.is(lb.stats().eligible, 2);
    // the same picks as a fresh Balancer over the new list (round robin: its members, ring_hash: its owners)
    const fresh = new Balancer({ policy, endpoints: ['c:1', 'a:1'] });
    const picks = (b: Balancer) => Array.from({ length: 20 }, (_, k) => b.pickOrThrow({ key: `k${k}` }).member.id);
    if (policy === 'ring_hash') t.deepEqual(picks(lb), picks(fresh));
    else t.deepEqual([...new Set(picks(lb))].sort(), ['a:1', 'c:1']);
  }
});

test('an availability listener that throws: the member is out of rotation all the same', (t) => {
  const lb = new Balancer({ endpoints: ['a:1', 'b:1'] });
  lb.on('availability', () => {
    throw new Error('listener bug');
  });
  t.throws(() => lb.setAvailable('a:1', false), { message: 'listener bug' });
  t.false(lb.isAvailable('a:1'));
  for (let i = 0; i < 6; i++) t.is(lb.pickOrThrow().member.id, 'b:1');
});

test('a picker listener that throws does not strand a waiting pickAsync', async (t) => {
  const lb = new Balancer({ readyTimeoutMs: 60_000 });
  const waiting = lb.pickAsync();
  lb.on('picker', () => {
    throw new Error('listener bug');
  });
  t.throws(() => lb.reset(['a:1']), { message: 'listener bug' });
  t.is((await waiting).member.id, 'a:1');
});

test('an outcome listener that throws: done() throws after the completion is counted', (t) => {
  const lb = new Balancer({ endpoints: ['a:1'] });
  const ids: string[] = [];
  lb.on('outcome', () => {
    throw new Error('listener bug');
  });
  lb.on('outcome', (e) => ids.push(e.id));
  const p = lb.pickOrThrow();
  t.throws(() => p.handle.done({ ok: false }), { message: 'listener bug' });
  t.deepEqual(ids, ['a:1']);
  t.is(memberStats(lb, 'a:1').active, 0);
  t.is(memberStats(lb, 'a:1').failures, 1);
});

test("a handle whose member was removed and added again does not complete the new member's requests", (t) => {
  for (const backend of ['wasm', 'js'] as const) {
    const lb = new Balancer({ backend, endpoints: ['a:1', 'b:1'] });
    const old = lb.pickOrThrow({ exclude: new Set(['b:1']) });
    t.is(old.member.id, 'a:1');
    lb.remove('a:1');
    lb.add('a:1');
    const now = lb.pickOrThrow({ exclude: new Set(['b:1']) });
    t.is(now.member.id, 'a:1');
    old.handle.done({ ok: false });
    t.is(memberStats(lb, 'a:1').active, 1, "the new a:1's request is still in flight");
    t.is(memberStats(lb, 'a:1').failures, 0);
    now.handle.done({ ok: true });
    t.is(memberStats(lb, 'a:1').active, 0);
    // a member that stayed (its endpoint updated) still gets its completions
    const kept = lb.pickOrThrow({ exclude: new Set(['a:1']) });
    lb.reset([{ id: 'a:1' }, { id: 'b:1', weight: 3 }]);
    kept.handle.done({ ok: false });
    t.is(memberStats(lb, 'b:1').active, 0);
    t.is(memberStats(lb, 'b:1').failures, 1);
  }
});

test('pickAsync and ready with an aborted signal reject with its reason, even when a pick could succeed', async (t) => {
  const lb = new Balancer({ endpoints: ['a:1'] });
  const reason = new Error('gone');
  const signal = AbortSignal.abort(reason);
  t.is(await t.throwsAsync(lb.pickAsync(undefined, { signal })), reason);
  t.is(await t.throwsAsync(lb.ready({ signal })), reason);
  t.is(memberStats(lb, 'a:1').active, 0, 'no pick was made for a caller who had gone');
});

test('done() with a malformed load report throws before counting anything; a corrected done() then counts', (t) => {
  const lb = new Balancer({ policy: 'peak_ewma', endpoints: ['a:1'], clock: new VirtualClock(0) });
  const p = lb.pickOrThrow();
  t.throws(() => p.handle.done({ ok: false, rttMs: 40, load: { qps: -1, utilization: 0.5 } }), {
    instanceOf: RangeError,
    message: /^outcome\.load\.qps/,
  });
  t.is(memberStats(lb, 'a:1').active, 1);
  t.is(memberStats(lb, 'a:1').failures, 0);
  p.handle.done({ ok: false, rttMs: 40 });
  t.is(memberStats(lb, 'a:1').active, 0);
  t.is(memberStats(lb, 'a:1').failures, 1);
  t.is(memberStats(lb, 'a:1').rttEstimateMs, 40);
});

test('pick contexts of the wrong type are TypeErrors naming ctx, for every policy and pickAsync', (t) => {
  for (const policy of ['round_robin', 'least_request', 'peak_ewma', 'weighted_round_robin', 'pick_first']) {
    const lb = new Balancer({ policy, endpoints: ['a:1', 'b:1'] });
    t.throws(() => lb.pick('user:42' as never), { instanceOf: TypeError, message: /^ctx must be an object/ });
    t.throws(() => lb.pick(null as never), { instanceOf: TypeError, message: /^ctx must be an object/ });
    for (const key of [5, null, {}, Symbol('k')])
      t.throws(() => lb.pick({ key } as never), { instanceOf: TypeError, message: /^ctx\.key must be a string/ });
    t.throws(() => lb.pickIndex({ key: 5 } as never), { instanceOf: TypeError, message: /^ctx\.key/ });
    t.is(
      lb.stats().members.reduce((a, m) => a + m.active, 0),
      0,
    );
  }
  const empty = new Balancer();
  t.throws(() => empty.pickAsync({ exclude: ['a:1'] } as never), { instanceOf: TypeError, message: /^ctx\.exclude/ });
});

test('endpoint weights whose sum overflows are a RangeError; the members stay as they were', (t) => {
  for (const policy of ['weighted_round_robin', 'round_robin']) {
    const lb = new Balancer({ policy, endpoints: ['a:1', 'b:1'] });
    t.throws(
      () =>
        lb.reset([
          { id: 'a:1', weight: 1e308 },
          { id: 'b:1', weight: 1e308 },
        ]),
      { instanceOf: RangeError, message: /^endpoints must be weights whose sum is finite, got Infinity/ },
    );
    t.deepEqual(
      lb.members.map((m) => m.weight),
      [1, 1],
    );
    t.throws(
      () =>
        new Balancer({
          policy,
          endpoints: [
            { id: 'a:1', weight: 9e307 },
            { id: 'b:1', weight: 9e307 },
          ],
        }),
      {
        instanceOf: RangeError,
      },
    );
  }
  // large weights whose sum is finite alternate as any equal weights do
  const big = new Balancer({
    policy: 'weighted_round_robin',
    endpoints: [
      { id: 'a:1', weight: 1e300 },
      { id: 'b:1', weight: 1e300 },
    ],
  });
  const seq = Array.from({ length: 6 }, () => big.pickOrThrow().member.id);
  t.deepEqual(seq, ['a:1', 'b:1', 'a:1', 'b:1', 'a:1', 'b:1']);
});

test('a clock whose now() returns no finite number is a TypeError naming clock', (t) => {
  for (const value of [NaN, '5', Infinity, undefined]) {
    const clock = { ...new VirtualClock(0), now: () => value } as unknown as Clock;
    t.throws(() => new Balancer({ clock }), { instanceOf: TypeError, message: /^clock must be a Clock/ });
  }
});

test('completeIndex after close() does nothing, as done() does; setAvailable checks its reason', (t) => {
  const lb = new Balancer({ endpoints: ['a:1', 'b:1'] });
  const i = lb.pickIndex();
  lb.close();
  t.notThrows(() => lb.completeIndex(i, true));
  const lb2 = new Balancer({ endpoints: ['a:1'] });
  t.throws(() => lb2.setAvailable('a:1', false, 503 as never), { instanceOf: TypeError, message: /^reason/ });
  t.true(lb2.isAvailable('a:1'));
});

test("close() frees the policy's WASM rows too (weighted_round_robin, latency_aware keep kernel rows from 32 members)", (t) => {
  const mem = wasmHandle(BALANCING_WASM)!.mem;
  const endpoints = Array.from({ length: 64 }, (_, i) => `h${i}:1`);
  for (const policy of ['weighted_round_robin', 'latency_aware', 'ring_hash']) {
    const before = mem.allocatedBytes;
    const kept: Balancer[] = [];
    for (let i = 0; i < 5; i++) {
      const lb = new Balancer({ policy, endpoints, backend: 'wasm' });
      for (let k = 0; k < 20; k++) lb.pickOrThrow({ key: `k${k}` }).handle.done({ ok: true, rttMs: 1 + (k % 7) });
      lb.close();
      kept.push(lb); // still referenced: nothing is left to the garbage collector
    }
    t.is(mem.allocatedBytes - before, 0, policy);
    t.is(kept[0]!.pick().type, 'none');
  }
});

// The Balancer's handling of bad input (a bad-input sweep's findings): a policy whose picker cannot be built
// (no pick over stale rows; setPolicy keeps the previous policy), unchecked completeIndex arguments, pick
// contexts of the wrong shape, a random source outside [0, 1), remove() of a non-array, cyclic metadata.
import test from 'ava';
import { Balancer } from '../../bindings/balancing/balancer.js';
import type { Picker, Policy } from '../../bindings/balancing/picker.js';
import { NoHealthyMembersError } from '../../bindings/balancing/errors.js';

/** round_robin whose build throws once the rows outnumber `max`. */
function fragile(max: number): Policy {
  return {
    name: 'fragile',
    build(rows: Int32Array): Picker {
      if (rows.length > max) throw new RangeError(`fragile: at most ${max} members, got ${rows.length}`);
      let i = 0;
      return { rows, pick: () => (rows.length === 0 ? -1 : rows[i++ % rows.length]!) };
    },
  };
}

test('a policy that cannot build its picker: no pick over stale rows, and setPolicy keeps the previous policy', (t) => {
  const lb = new Balancer({ policy: fragile(2), endpoints: ['a:1', 'b:1'] });
  t.is(lb.pickOrThrow().member.id, 'a:1');
  t.throws(() => lb.reset(['c:1', 'd:1', 'e:1']), { instanceOf: RangeError, message: /^fragile/ });
  for (let i = 0; i < 5; i++) {
    const p = lb.pick();
    t.is(p.type, 'none', 'nothing is picked rather than a stale row');
  }
  lb.reset(['c:1']); // a list it can build again
  t.is(lb.pickOrThrow().member.id, 'c:1');

  const rr = new Balancer({ endpoints: ['a:1', 'b:1', 'c:1'] });
  t.throws(() => rr.setPolicy(fragile(2)), { instanceOf: RangeError, message: /^fragile/ });
  t.is(rr.policy.name, 'round_robin', 'the previous policy is back');
  const seen = new Set<string>();
  for (let i = 0; i < 6; i++) {
    const p = rr.pickOrThrow();
    seen.add(p.member.id);
    p.handle.done({ ok: true });
  }
  t.deepEqual([...seen].sort(), ['a:1', 'b:1', 'c:1']);
  t.is(rr.applyServiceConfig({ loadBalancingConfig: [{ maglev: { table_size: 7 } }] }), null);
  t.is(rr.policy.name, 'maglev');
});

test('completeIndex checks its index and rttMs: one bad call no longer poisons a member', (t) => {
  const lb = new Balancer({ policy: 'peak_ewma', endpoints: ['a:1', 'b:1'] });
  const i = lb.pickIndex();
  for (const [index, rtt, type, field] of [
    [i + 0.5, 1, RangeError, 'index'],
    ['0', 1, TypeError, 'index'],
    [i, Infinity, RangeError, 'rttMs'],
    [i, -5, RangeError, 'rttMs'],
    [i, '7', TypeError, 'rttMs'],
    [i, null, TypeError, 'rttMs'],
  ] as const)
    t.throws(() => lb.completeIndex(index as never, true, rtt as never), {
      instanceOf: type,
      message: new RegExp(`^${field} must be`),
    });
  t.notThrows(() => lb.completeIndex(i, true, NaN), 'NaN: not measured');
  t.true(Number.isFinite(lb.stats().members[i]!.rttEstimateMs as number));
});

test('ctx.exclude must be a Set for every policy; a bad one is a TypeError, not ignored or a crash', async (t) => {
  for (const policy of [
    'round_robin',
    'least_request',
    'peak_ewma',
    'ring_hash',
    'pick_first',
    'weighted_round_robin',
  ]) {
    const lb = new Balancer({ policy, endpoints: ['a:1', 'b:1'] });
    for (const exclude of [['a:1'], null, 'a:1', {}]) {
      t.throws(() => lb.pick({ exclude: exclude as never }), {
        instanceOf: TypeError,
        message: /^ctx\.exclude must be a Set of member ids/,
      });
      t.throws(() => lb.pickIndex({ exclude: exclude as never }), { instanceOf: TypeError });
    }
    const p = lb.pickOrThrow({ exclude: new Set(['a:1']) });
    t.is(p.member.id, 'b:1', policy);
  }
});

test('pickAsync with wait options given as the context is a TypeError, not a silent wait of the default time', async (t) => {
  const lb = new Balancer({ endpoints: [], readyTimeoutMs: 60_000 });
  t.throws(() => lb.pickAsync({ timeoutMs: 30 } as never), {
    instanceOf: TypeError,
    message: /^ctx must be an object \{ key\?, exclude\? \} \(wait options come second\)/,
  });
  t.throws(() => lb.pickAsync({ signal: new AbortController().signal } as never), { instanceOf: TypeError });
  // undefined is absent: a context carrying `timeoutMs: undefined` is still a context
  await t.throwsAsync(lb.pickAsync({ timeoutMs: undefined } as never, { timeoutMs: 30 }), { message: /within 30 ms/ });
  await t.throwsAsync(lb.pickAsync(undefined, { timeoutMs: 30 }), { message: /within 30 ms/ });
  lb.close();
});

test('a random source outside [0, 1) is a RangeError at the pick, never a pick without a member', (t) => {
  let refused = 0;
  for (const policy of ['round_robin', 'least_request', 'peak_ewma', 'ring_hash', 'weighted_round_robin'])
    for (const r of [1, NaN, -0.5]) {
      const lb = new Balancer({ policy, endpoints: ['a:1', 'b:1'], random: () => r });
      for (let i = 0; i < 3; i++) {
        try {
          const p = lb.pick();
          if (p.type === 'pick') t.regex(p.member.id, /^[ab]:1$/, `${policy} ${r}`);
        } catch (e) {
          // the Balancer's check of the row, or a policy's checked draw (a hash policy's keyless pick)
          const known = /^(picked row must be a member row < 2|random must be a function returning a number in)/;
          t.true(e instanceof RangeError && known.test(e.message), String(e));
          refused++;
        }
      }
    }
  t.true(refused > 0, 'least_request and peak_ewma draw members from random');
});

test('remove() of something other than an id or an array is a TypeError naming ids', (t) => {
  const lb = new Balancer({ endpoints: ['a:1'] });
  for (const v of [null, undefined, 5, {}])
    t.throws(() => lb.remove(v as never), { instanceOf: TypeError, message: /^ids must be an id or an array of ids/ });
  t.deepEqual(
    lb.members.map((m) => m.id),
    ['a:1'],
  );
});

test('cyclic metadata is compared without overflowing the stack', (t) => {
  const lb = new Balancer({ endpoints: ['x:1'] });
  const m1: Record<string, unknown> = {};
  m1.self = m1;
  const m2: Record<string, unknown> = {};
  m2.self = m2;
  t.true(lb.reset([{ id: 'x:1', metadata: m1 }]));
  t.notThrows(() => lb.reset([{ id: 'x:1', metadata: m2 }]));
  t.is(lb.pickOrThrow().member.id, 'x:1');
});

test('policy spec errors name the value: a non-string name, an option of a policy that takes none, an empty config', (t) => {
  t.throws(() => new Balancer({ policy: { name: 5 } as never }), {
    instanceOf: TypeError,
    message: 'policy.name must be a string, got 5',
  });
  t.throws(() => new Balancer({ policy: { name: 'round_robin', foo: 1 } as never }), {
    instanceOf: RangeError,
    message: 'policy.foo must be absent (no options), got "foo"',
  });
  t.throws(() => new Balancer({ loadBalancingConfig: [] }), {
    instanceOf: RangeError,
    message: /^loadBalancingConfig must be a list naming a registered policy \(/,
  });
});

test('a closed Balancer stays closed: later membership changes are ignored, picks find nothing', async (t) => {
  const lb = new Balancer({ endpoints: ['a:1', 'b:1'] });
  lb.close();
  t.false(lb.reset(['c:1']));
  t.false(lb.add('d:1'));
  t.deepEqual(lb.pick(), { type: 'none', reason: 'closed' });
  t.is(lb.pickIndex(), -1);
  const e = t.throws(() => lb.pickOrThrow(), { instanceOf: NoHealthyMembersError, message: /the balancer was closed/ });
  t.is(e.reason, 'closed');
  await t.throwsAsync(lb.pickAsync(), { message: /was closed/ });
  // an empty Balancer that is not closed still says 'empty'
  t.deepEqual(new Balancer().pick(), { type: 'none', reason: 'empty' });
});

test('a policy that is neither a name nor an object says what a policy may be', (t) => {
  for (const policy of [42, null, true])
    t.throws(() => new Balancer({ policy: policy as never }), {
      instanceOf: TypeError,
      message: `policy must be a policy name, { name, ...options } or { <name>: options }, got ${String(policy)}`,
    });
});

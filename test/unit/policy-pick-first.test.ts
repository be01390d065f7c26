// pick_first (gRFC A62): members in resolver order (or shuffled per list with the injected random), every
// pick to the first that works, the next in order after a connection-level failure or loss of availability,
// wrapping around; a removed choice hands over to the next of the old order; retries skip excluded members
// without moving the choice.
import test from 'ava';
import { Balancer } from '../../bindings/balancing/balancer.js';
import { parsePickFirst, type PickFirstPolicy } from '../../bindings/balancing/policies/pick-first.js';

/** The member ids of `n` picks, each completed with `outcome`. */
function picks(lb: Balancer, n = 5, exclude?: Set<string>): string[] {
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const p = lb.pickOrThrow(exclude === undefined ? undefined : { exclude });
    out.push(p.member.id);
    p.handle.done({ ok: true, rttMs: 1 });
  }
  return out;
}

/** One pick on the current choice failing at the connection level (no response status). */
function failOnce(lb: Balancer): string {
  const p = lb.pickOrThrow();
  p.handle.done({ ok: false, error: new Error('ECONNREFUSED') });
  return p.member.id;
}

const selected = (lb: Balancer) =>
  lb
    .stats()
    .members.filter((m) => m.selected === 1)
    .map((m) => m.id);

test('in order: all picks to the first; a connection failure moves on; a 5xx response does not; wraps around', (t) => {
  const lb = new Balancer({ policy: 'pick_first', endpoints: ['a', 'b', 'c'] });
  t.is(lb.policy.name, 'pick_first');
  t.deepEqual(picks(lb), ['a', 'a', 'a', 'a', 'a']);
  t.deepEqual(selected(lb), ['a']);
  const p = lb.pickOrThrow();
  p.handle.done({ ok: false, status: 503 });
  t.deepEqual(picks(lb, 2), ['a', 'a'], 'a response, even a failed one, means the member is reachable');
  t.is(failOnce(lb), 'a');
  t.deepEqual(picks(lb, 3), ['b', 'b', 'b']);
  t.is(failOnce(lb), 'b');
  t.is(failOnce(lb), 'c');
  t.deepEqual(picks(lb, 2), ['a', 'a'], 'sticky TRANSIENT_FAILURE: keep cycling in order');
  t.deepEqual(selected(lb), ['a']);
});

test('concurrent failures of the chosen member move on once, not once per request', (t) => {
  const lb = new Balancer({ policy: 'pick_first', endpoints: ['a', 'b', 'c'] });
  const inFlight = Array.from({ length: 8 }, () => lb.pickOrThrow());
  t.true(inFlight.every((p) => p.member.id === 'a'));
  for (const p of inFlight) p.handle.done({ ok: false, error: new Error('reset') });
  t.deepEqual(picks(lb, 2), ['b', 'b']);
  t.is(
    lb.stats().members.reduce((s, m) => s + m.active, 0),
    0,
  );
});

test('unavailable or removed choice: the next in order takes over; a recovered member does not take traffic back', (t) => {
  const lb = new Balancer({ policy: 'pick_first', endpoints: ['a', 'b', 'c', 'd'] });
  t.deepEqual(picks(lb, 1), ['a']);
  lb.setAvailable('a', false);
  t.deepEqual(picks(lb, 2), ['b', 'b']);
  lb.setAvailable('a', true);
  t.deepEqual(picks(lb, 2), ['b', 'b'], 'sticks to b until b fails');
  lb.remove('b');
  t.deepEqual(picks(lb, 2), ['c', 'c']);
  // a new list without c: the member after c in the old order that remains (d), not the first (a)
  lb.reset(['a', 'd', 'e']);
  t.deepEqual(picks(lb, 2), ['d', 'd']);
  // a new list naming only new members: the first of the new order
  lb.reset(['x', 'y']);
  t.deepEqual(picks(lb, 2), ['x', 'x']);
});

test('retries skip excluded members without moving the choice; all excluded is none', (t) => {
  const lb = new Balancer({ policy: 'pick_first', endpoints: ['a', 'b', 'c'] });
  t.deepEqual(picks(lb, 2, new Set(['a'])), ['b', 'b']);
  t.deepEqual(picks(lb, 2, new Set(['a', 'b'])), ['c', 'c']);
  t.deepEqual(picks(lb, 1), ['a']);
  t.deepEqual(lb.pick({ exclude: new Set(['a', 'b', 'c']) }), { type: 'none', reason: 'no-healthy' });
});

test('shuffleAddressList: Fisher-Yates with the injected random on each new list (golden orders)', (t) => {
  // random() returns these in turn: i=3 -> j=floor(.9*4)=3 (no swap), i=2 -> j=floor(.1*3)=0 (swap a,c),
  // i=1 -> j=floor(.5*2)=1 (no swap): order c, b, a, d
  const seq = [0.9, 0.1, 0.5, /* second list x,y,z: i=2 -> 0, i=1 -> 0 */ 0.2, 0.3];
  let k = 0;
  const random = () => seq[k++ % seq.length]!;
  const lb = new Balancer({
    policy: { pick_first: { shuffleAddressList: true } },
    random,
    endpoints: ['a', 'b', 'c', 'd'],
  });
  t.is(k, 3);
  t.deepEqual(picks(lb, 1), ['c']);
  t.is(failOnce(lb), 'c');
  t.is(failOnce(lb), 'b');
  t.is(failOnce(lb), 'a');
  t.deepEqual(picks(lb, 1), ['d']);
  // [x, y, z]: i=2 -> j=floor(.2*3)=0: z, y, x; i=1 -> j=floor(.3*2)=0: y, z, x
  lb.reset(['x', 'y', 'z']);
  t.is(k, 5);
  t.deepEqual(picks(lb, 1), ['y']);
  t.is(failOnce(lb), 'y');
  t.deepEqual(picks(lb, 1), ['z']);
  t.is(failOnce(lb), 'z');
  t.deepEqual(picks(lb, 1), ['x']);
  // without the option the resolver's order is kept and random is never called
  let calls = 0;
  const plain = new Balancer({ policy: 'pick_first', random: () => (calls++, 0), endpoints: ['p', 'q'] });
  t.deepEqual(picks(plain, 2), ['p', 'p']);
  t.is(calls, 0);
});

test('config: camelCase and snake_case, service config, typed errors naming the option', (t) => {
  t.deepEqual(parsePickFirst({}), { shuffleAddressList: false });
  t.deepEqual(parsePickFirst({ shuffle_address_list: true }), { shuffleAddressList: true });
  t.deepEqual(parsePickFirst({ shuffleAddressList: true }), { shuffleAddressList: true });
  t.throws(() => parsePickFirst({ shuffleAddressList: 'yes' }), {
    instanceOf: TypeError,
    message: /pick_first\.shuffleAddressList.*yes/,
  });
  t.throws(() => parsePickFirst({ shuffle: true }), { instanceOf: RangeError, message: /pick_first\.shuffle\b/ });
  const lb = new Balancer({
    loadBalancingConfig: [{ unknown_policy: {} }, { pick_first: { shuffleAddressList: false } }],
    endpoints: ['a', 'b'],
  });
  t.is(lb.policy.name, 'pick_first');
  t.deepEqual(picks(lb, 2), ['a', 'a']);
  t.throws(() => new Balancer({ loadBalancingConfig: [{ pick_first: { shuffleAddressList: 1 } }] }), {
    instanceOf: TypeError,
    message: /loadBalancingConfig\[0\]\.pick_first\.shuffleAddressList/,
  });
});

test('health: unavailable members are skipped; in panic health is ignored and the choice stays', (t) => {
  const strict = new Balancer({ policy: 'pick_first', panicThresholdPercent: 0, endpoints: ['a', 'b', 'c'] });
  strict.setAvailable('a', false);
  strict.setAvailable('b', false);
  t.deepEqual(picks(strict, 2), ['c', 'c']);
  strict.setAvailable('c', false);
  t.deepEqual(strict.pick(), { type: 'none', reason: 'no-healthy' });
  const lb = new Balancer({ policy: 'pick_first', endpoints: ['a', 'b', 'c'] });
  lb.setAvailable('a', false); // the choice moves to b
  lb.setAvailable('b', false); // 1 of 3: panic, every member eligible again, b stays chosen
  t.true(lb.stats().panic);
  t.deepEqual(picks(lb, 2), ['b', 'b']);
});

test('priority levels: each level sticks to its own first member; a failure on level 0 moves level 0', (t) => {
  const lb = new Balancer({
    policy: 'pick_first',
    endpoints: [
      { id: 'a1', priority: 0 },
      { id: 'a2', priority: 0 },
      { id: 'b1', priority: 1 },
      { id: 'b2', priority: 1 },
    ],
  });
  t.deepEqual([...new Set(picks(lb, 50))], ['a1']);
  t.is((lb.policy as PickFirstPolicy).selected, 'a1');
  t.is(failOnce(lb), 'a1');
  t.deepEqual([...new Set(picks(lb, 50))], ['a2']);
  lb.setAvailable('a1', false); // 1 of 2: 70 / 30
  const ids = new Set(picks(lb, 200));
  t.deepEqual([...ids].sort(), ['a2', 'b1']);
  t.deepEqual(selected(lb), ['a2', 'b1']);
});

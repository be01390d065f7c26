// The Balancer contract other modules code against: membership diffs, picks and completion handles, panic
// mode, exclusions, events, stats, service configs and typed errors.
import test from 'ava';
import {
  Balancer,
  createBalancer,
  HashPolicy,
  policyNames,
  registerPolicy,
  VirtualClock,
  mulberry32,
  NoHealthyMembersError,
  systemClock,
  normalizeEndpoint,
  type OutcomeEvent,
} from '../../bindings/index.js';
import { parseEndpoint } from '../../bindings/util/endpoint.js';
import { wasmHandle } from '../../bindings/core/backend.js';
import { BALANCING_WASM } from '../../bindings/core/families.js';

const ids = (lb: Balancer) => lb.members.map((m) => m.id);

test('endpoints: host:port, [v6]:port, plain ids, objects; typed errors naming the field', (t) => {
  t.like(normalizeEndpoint('10.0.0.1:8080'), {
    id: '10.0.0.1:8080',
    host: '10.0.0.1',
    port: 8080,
    weight: 1,
    priority: 0,
  });
  t.like(normalizeEndpoint('[::1]:80'), { host: '::1', port: 80 });
  t.like(normalizeEndpoint('cache-a'), { id: 'cache-a', host: 'cache-a', port: 0 });
  t.like(normalizeEndpoint({ host: '::1', port: 9, weight: 3 }), { id: '[::1]:9', weight: 3 });
  t.throws(() => normalizeEndpoint({ id: 'a', weight: -1 }), {
    instanceOf: RangeError,
    message: /endpoint\.weight.*-1/,
  });
  t.throws(() => normalizeEndpoint({ id: 'a', weight: NaN }), { instanceOf: RangeError, message: /weight.*NaN/ });
  t.throws(() => normalizeEndpoint({ id: 'a', weight: '2' as never }), { instanceOf: TypeError, message: /weight/ });
  t.throws(() => normalizeEndpoint({ host: 'h' } as never), { instanceOf: TypeError });
  t.throws(() => new Balancer().reset([{ id: 'a' }, { id: 'b', weight: 0 }]), { message: /endpoints\[1\]\.weight.*0/ });
});

test('membership diffs: add/remove/reset report changes; nothing rebuilds when nothing changed', (t) => {
  const lb = new Balancer();
  let pickers = 0;
  const events: unknown[] = [];
  lb.on('picker', () => pickers++);
  lb.on('membership', (e) => events.push(e));
  t.true(lb.add(['a:1', 'b:1']));
  t.false(lb.add('a:1'));
  t.true(lb.add({ id: 'a:1', weight: 2 })); // update
  t.false(lb.reset(['a:1', 'b:1'].map((id) => ({ id, weight: id === 'a:1' ? 2 : 1 }))));
  t.true(lb.reset(['b:1', 'c:1']));
  t.false(lb.remove('zzz'));
  t.true(lb.remove(['b:1']));
  t.deepEqual(ids(lb), ['c:1']);
  t.is(pickers, 4);
  t.deepEqual(events, [
    { added: ['a:1', 'b:1'], removed: [], updated: [] },
    { added: [], removed: [], updated: ['a:1'] },
    { added: ['c:1'], removed: ['a:1'], updated: [] },
    { added: [], removed: ['b:1'], updated: [] },
  ]);
});

test('endpoints follow util/endpoint.ts: ports in [1, 65535], integer priorities >= 0, names without an address', (t) => {
  const lb = new Balancer();
  t.deepEqual(normalizeEndpoint({ id: 'a:1', priority: 2 }), parseEndpoint({ id: 'a:1', priority: 2 }, 'endpoint'));
  t.true(lb.reset(['cache-a', '10.0.0.1:80', { host: '::1', port: 9 }]));
  t.like(lb.members[0], { id: 'cache-a', host: 'cache-a', port: 0 });
  t.is(lb.members[2]!.id, '[::1]:9');
  t.throws(() => lb.reset(['a:0']), { instanceOf: RangeError, message: /endpoints\[0\] port.*0/ });
  t.throws(() => lb.add('a:65536'), { instanceOf: RangeError, message: /^endpoint port.*65536/ });
  t.throws(() => lb.reset([{ host: 'h', port: 0 }]), { instanceOf: RangeError, message: /endpoints\[0\]\.port.*0/ });
  t.throws(() => lb.reset([{ id: 'a', priority: 1.5 }]), {
    instanceOf: RangeError,
    message: /endpoints\[0\]\.priority.*1\.5/,
  });
  t.throws(() => lb.reset([{ id: 'a', priority: -1 }]), { instanceOf: RangeError, message: /priority.*-1/ });
  t.deepEqual(ids(lb), ['cache-a', '10.0.0.1:80', '[::1]:9']); // a rejected list changes nothing
});

test('a metadata-only change is an update: a membership event and a new picker; the member keeps its state', (t) => {
  const lb = new Balancer({ endpoints: [{ id: 'a:1', metadata: { zone: 'x', tags: ['p'] } }, 'b:1'] });
  const p = lb.pickOrThrow();
  const events: unknown[] = [];
  let pickers = 0;
  lb.on('membership', (e) => events.push(e));
  lb.on('picker', () => pickers++);
  t.false(lb.reset([{ id: 'a:1', metadata: { tags: ['p'], zone: 'x' } }, 'b:1'])); // equal by value
  t.true(lb.reset([{ id: 'a:1', metadata: { zone: 'y', tags: ['p'] } }, 'b:1']));
  t.deepEqual(events, [{ added: [], removed: [], updated: ['a:1'] }]);
  t.is(pickers, 1);
  t.deepEqual(lb.members[0]!.metadata, { zone: 'y', tags: ['p'] });
  t.is(lb.stats().members.find((m) => m.id === p.member.id)!.active, 1);
});

test('clock and random are validated: a Clock { now, setTimeout, clearTimeout } and a function', (t) => {
  t.throws(() => new Balancer({ clock: { now: () => 0 } as never }), { instanceOf: TypeError, message: /^clock/ });
  t.throws(() => new Balancer({ random: 0.5 as never }), { instanceOf: TypeError, message: /^random/ });
  const clock = new VirtualClock(7);
  t.is(new Balancer({ clock }).now(), 7);
});

test('empty and no-healthy are named results; pickOrThrow throws NoHealthyMembersError', (t) => {
  const lb = new Balancer({ panicThresholdPercent: 0 });
  t.deepEqual(lb.pick(), { type: 'none', reason: 'empty' });
  t.throws(() => lb.pickOrThrow(), { instanceOf: NoHealthyMembersError, message: /no members/ });
  lb.add('a:1');
  t.true(lb.setAvailable('a:1', false, 'ejected'));
  t.false(lb.setAvailable('a:1', false));
  t.false(lb.setAvailable('nope', false));
  t.deepEqual(lb.pick(), { type: 'none', reason: 'no-healthy' });
  const err = t.throws(() => lb.pickOrThrow(), { instanceOf: NoHealthyMembersError });
  t.is(err.reason, 'no-healthy');
});

test("panic mode 'all' (Envoy default): below the threshold, picks go to all members", (t) => {
  const lb = new Balancer({ endpoints: ['a:1', 'b:1', 'c:1', 'd:1'], random: mulberry32(1) });
  const seen = () => new Set(Array.from({ length: 8 }, () => lb.pickOrThrow().member.id));
  lb.setAvailable('a:1', false);
  t.deepEqual([...seen()].sort(), ['b:1', 'c:1', 'd:1']);
  t.false(lb.stats().panic);
  lb.setAvailable('b:1', false); // 2/4 = 50%, not below 50
  t.deepEqual([...seen()].sort(), ['c:1', 'd:1']);
  lb.setAvailable('c:1', false); // 25% < 50%: panic
  t.true(lb.stats().panic);
  t.deepEqual([...seen()].sort(), ['a:1', 'b:1', 'c:1', 'd:1']);
});

test("panic mode 'fail': none / NoHealthyMembersError below the threshold", (t) => {
  const lb = new Balancer({ endpoints: ['a:1', 'b:1', 'c:1'], panicMode: 'fail', panicThresholdPercent: 70 });
  t.is(lb.pick().type, 'pick');
  const eligible: number[] = [];
  lb.on('picker', (e) => eligible.push(e.eligible));
  lb.setAvailable('a:1', false); // 66% < 70%
  t.deepEqual(lb.pick(), { type: 'none', reason: 'no-healthy' });
  t.throws(() => lb.pickOrThrow(), { instanceOf: NoHealthyMembersError });
  // nothing can be picked, and stats and the picker event say so (they counted the two available members)
  t.like(lb.stats(), { eligible: 0, panic: true });
  t.deepEqual(eligible, [0]);
  lb.setAvailable('a:1', true);
  t.is(lb.pick().type, 'pick');
});

test('round_robin: retries (picks with exclude) go round on their own turn: a dead member is not every request’s first try, and its retries spread', (t) => {
  // a dead member 'a' and no outlier detection (switchyard/lite's createFetch): each request's first try that
  // lands on 'a' is retried on 'b'; when the retry took the turn, the next request's turn was 'a' again
  const lb = new Balancer({ endpoints: ['a:1', 'b:1', 'c:1'], random: () => 0 });
  const first: string[] = [];
  const retries: string[] = [];
  for (let i = 0; i < 12; i++) {
    const p = lb.pickOrThrow();
    first.push(p.member.id);
    p.handle.done({ ok: p.member.id !== 'a:1' });
    if (p.member.id === 'a:1') {
      const r = lb.pickOrThrow({ exclude: new Set(['a:1']) });
      retries.push(r.member.id);
      r.handle.done({ ok: true });
    }
  }
  // not all on the member after the dead one (which then served twice its share)
  t.deepEqual(retries, ['b:1', 'c:1', 'b:1', 'c:1']);
  // each member's turn as if no retry had been made: 'a' is the first try of a third of the requests (it was
  // every other one here, and every one with two members)
  t.deepEqual(first, ['a:1', 'b:1', 'c:1', 'a:1', 'b:1', 'c:1', 'a:1', 'b:1', 'c:1', 'a:1', 'b:1', 'c:1']);
});

test('exclude: a retry goes to a different member, for every policy', (t) => {
  for (const policy of [
    'round_robin',
    'weighted_round_robin',
    'least_request',
    'peak_ewma',
    'latency_aware',
    'ring_hash',
    'xxhash_ring',
    'maglev',
    'ketama',
  ]) {
    const lb = new Balancer({ policy, endpoints: ['a:1', 'b:1', 'c:1'], random: mulberry32(3) });
    for (let i = 0; i < 30; i++) {
      const first = lb.pickOrThrow({ key: `k${i}` });
      const second = lb.pickOrThrow({ key: `k${i}`, exclude: new Set([first.member.id]) });
      t.not(second.member.id, first.member.id, policy);
      const third = lb.pickOrThrow({ key: `k${i}`, exclude: new Set([first.member.id, second.member.id]) });
      t.false([first.member.id, second.member.id].includes(third.member.id), policy);
      t.deepEqual(lb.pick({ key: `k${i}`, exclude: new Set(['a:1', 'b:1', 'c:1']) }), {
        type: 'none',
        reason: 'no-healthy',
      });
      for (const p of [first, second, third]) p.handle.done({ ok: true });
    }
  }
});

test('handles: done() feeds in-flight counts and outcome events; a second call is a no-op', (t) => {
  const clock = new VirtualClock(5);
  const lb = new Balancer({ endpoints: ['a:1'], clock });
  const outcomes: OutcomeEvent[] = [];
  lb.on('outcome', (e) => outcomes.push(e));
  const p = lb.pickOrThrow();
  t.is(lb.stats().members[0]!.active, 1);
  clock.tick(12);
  p.handle.done({ ok: false, status: 503 });
  p.handle.done({ ok: true });
  t.like(lb.stats().members[0], { active: 0, picks: 1, failures: 1 });
  t.deepEqual(outcomes, [{ id: 'a:1', ok: false, rttMs: 12, status: 503, at: 17, error: undefined }]);
  const q = lb.pickOrThrow();
  t.throws(() => q.handle.done({ ok: 'yes' } as never), { instanceOf: TypeError, message: /outcome\.ok/ });
  t.throws(() => q.handle.done({ ok: true, rttMs: -1 }), { instanceOf: RangeError, message: /rttMs.*-1/ });
  for (const status of [-1, 1000, 200.5, NaN])
    t.throws(() => q.handle.done({ ok: true, status }), {
      instanceOf: RangeError,
      message: /^outcome\.status must be an integer in \[0, 999\]/,
    });
  t.throws(() => q.handle.done({ ok: true, status: '503' } as never), { instanceOf: TypeError, message: /status/ });
  t.is(lb.stats().members[0]!.active, 1); // bad calls end nothing
  q.handle.done({ ok: true, rttMs: 3 });
  t.is(lb.stats().members[0]!.active, 0);
});

test('outcome listeners added with { rtt: false } time no pick; a timed one does, until it is removed', (t) => {
  let reads = 0;
  const clock = { ...systemClock, now: () => (reads++, 5) };
  const lb = new Balancer({ endpoints: ['a:1', 'b:1'], clock });
  const untimed: OutcomeEvent[] = [];
  lb.on('outcome', (e) => untimed.push(e), { rtt: false });
  const round = () => {
    lb.pickOrThrow().handle.done({ ok: false, status: 502 });
    const i = lb.pickIndex();
    lb.completeIndex(i, true);
  };
  reads = 0;
  round();
  t.is(reads, 0, 'round robin with only an rtt: false listener reads no clock');
  t.is(untimed.length, 2);
  t.like(untimed[0], { ok: false, status: 502 });
  t.true(Number.isNaN(untimed[0]!.rttMs) && Number.isNaN(untimed[0]!.at));
  const off = lb.on('outcome', () => {});
  round();
  t.is(reads, 3, "a timed listener: a reading at pick() and at each completion (pickIndex's caller times)");
  t.is(untimed[2]!.at, 5);
  off();
  off(); // a second call changes nothing
  reads = 0;
  round();
  t.is(reads, 0);
  t.throws(() => lb.on('outcome', () => {}, { rtt: 'no' } as never), { instanceOf: TypeError, message: /opts\.rtt/ });
});

test('handles survive membership changes; a removed member’s handle is ignored', (t) => {
  const lb = new Balancer({ endpoints: ['a:1', 'b:1'], policy: 'least_request' });
  const picks = [lb.pickOrThrow(), lb.pickOrThrow(), lb.pickOrThrow()];
  lb.add('c:1'); // rows renumbered
  const active = () => Object.fromEntries(lb.stats().members.map((m) => [m.id, m.active]));
  const before = active();
  t.is(before['a:1']! + before['b:1']!, 3);
  lb.remove('a:1');
  for (const p of picks) p.handle.done({ ok: true });
  t.deepEqual(active(), { 'b:1': 0, 'c:1': 0 });
});

test('availability events; state survives; unknown events and bad options are typed errors', (t) => {
  const lb = new Balancer({ endpoints: ['a:1'] });
  const ev: unknown[] = [];
  const off = lb.on('availability', (e) => ev.push(e));
  lb.setAvailable('a:1', false, 'ejected');
  off();
  lb.setAvailable('a:1', true);
  t.deepEqual(ev, [{ id: 'a:1', available: false, reason: 'ejected' }]);
  t.throws(() => lb.on('nope' as never, () => {}), { instanceOf: RangeError });
  t.throws(() => new Balancer({ policy: 'fastest' }), { instanceOf: RangeError, message: /policy.*fastest/ });
  t.throws(() => new Balancer({ panicThresholdPercent: 101 }), {
    instanceOf: RangeError,
    message: /panicThresholdPercent/,
  });
  // not a number at all: a TypeError (it was a RangeError)
  t.throws(() => new Balancer({ panicThresholdPercent: '50' as never }), {
    instanceOf: TypeError,
    message: /^panicThresholdPercent must be a number in \[0, 100\], got "50"/,
  });
  t.throws(() => new Balancer({ panicMode: 'x' as never }), { instanceOf: RangeError, message: /panicMode/ });
  t.throws(() => new Balancer({ policy: { least_request: { choice_count: 1 } } }), {
    instanceOf: RangeError,
    message: /policy\.least_request\.choice_count.*1/,
  });
});

test('service configs: loadBalancingConfig (first registered wins), legacy loadBalancingPolicy, snake_case', (t) => {
  t.is(createBalancer({ loadBalancingConfig: [{ round_robin: {} }] }).policy.name, 'round_robin');
  t.is(
    createBalancer({ loadBalancingConfig: [{ grpclb: {} }, { peak_ewma: { decay: '5s' } }] }).policy.name,
    'peak_ewma',
  );
  t.is(createBalancer({ loadBalancingPolicy: 'ROUND_ROBIN' }).policy.name, 'round_robin');
  const lr = createBalancer({ loadBalancingConfig: [{ least_request: { choice_count: 3 } }] });
  t.deepEqual((lr.policy as unknown as { config: unknown }).config, { choiceCount: 3, activeRequestBias: 1 });
  t.throws(() => createBalancer({ loadBalancingConfig: [{ grpclb: {} }] }), {
    instanceOf: RangeError,
    message: /loadBalancingConfig/,
  });
  t.throws(() => createBalancer({ loadBalancingConfig: [{ a: {}, b: {} }] }), {
    instanceOf: TypeError,
    message: /loadBalancingConfig\[0\]/,
  });
  t.throws(() => createBalancer({ loadBalancingConfig: [{ peak_ewma: { decay: 'later' } }] }), {
    instanceOf: RangeError,
    message: /loadBalancingConfig\[0\]\.peak_ewma\.decay/,
  });
  t.throws(() => createBalancer({ loadBalancingPolicy: 7 as never }), {
    instanceOf: TypeError,
    message: /loadBalancingPolicy/,
  });
});

test('round_robin: random start, every member once per round, position kept across rebuilds', (t) => {
  const starts = new Set<string>();
  for (let s = 0; s < 20; s++) {
    const lb = new Balancer({ endpoints: ['a:1', 'b:1', 'c:1', 'd:1'], random: mulberry32(s) });
    starts.add(lb.pickOrThrow().member.id);
    const round = new Set(Array.from({ length: 4 }, () => lb.pickOrThrow().member.id));
    t.is(round.size, 4);
  }
  t.true(starts.size > 1);
  const lb = new Balancer({ endpoints: ['a:1', 'b:1', 'c:1', 'd:1'], random: () => 0 });
  t.deepEqual([lb.pickOrThrow().member.id, lb.pickOrThrow().member.id], ['a:1', 'b:1']);
  lb.add('e:1'); // continues at c, not at a random place
  t.deepEqual(
    Array.from({ length: 4 }, () => lb.pickOrThrow().member.id),
    ['c:1', 'd:1', 'e:1', 'a:1'],
  );
  lb.setAvailable('b:1', false); // b was next: gone, so a random start (random() = 0 → a)
  t.deepEqual(
    Array.from({ length: 3 }, () => lb.pickOrThrow().member.id),
    ['a:1', 'c:1', 'd:1'],
  );
});

test('stats(): per-member picks, in-flight, failures, weights, policy fields', (t) => {
  const lb = new Balancer({
    endpoints: [{ id: 'a', weight: 2 }],
    policy: { name: 'peak_ewma', defaultRttMs: 30 },
    clock: new VirtualClock(),
  });
  lb.pickOrThrow();
  const s = lb.stats();
  t.like(s, { policy: 'peak_ewma', eligible: 1, panic: false });
  t.like(s.members[0], {
    id: 'a',
    weight: 2,
    available: true,
    active: 1,
    picks: 1,
    failures: 0,
    rttEstimateMs: 30,
    costMs: 60,
  });
});

test('xxhash_ring: a key sticks to its member; an unavailable member’s keys move to their next preference and come back', (t) => {
  const lb = new Balancer({ policy: { name: 'xxhash_ring', vnodes: 50 }, endpoints: ['a:1', 'b:1', 'c:1', 'd:1'] });
  const keys = Array.from({ length: 200 }, (_, i) => `user:${i}`);
  const owner = new Map(keys.map((k) => [k, lb.pickOrThrow({ key: k }).member.id]));
  t.true(keys.every((k) => lb.pickOrThrow({ key: k }).member.id === owner.get(k)));
  lb.setAvailable('b:1', false);
  for (const k of keys) {
    const now = lb.pickOrThrow({ key: k }).member.id;
    if (owner.get(k) !== 'b:1') t.is(now, owner.get(k)!);
    else t.is(now, lb.pickOrThrow({ key: k, exclude: new Set(['zz']) }).member.id); // stable while b is out
  }
  lb.setAvailable('b:1', true);
  t.true(keys.every((k) => lb.pickOrThrow({ key: k }).member.id === owner.get(k)));
});

test('any hasher with preference(key, n) plugs in as a policy (e.g. maglev/ketama written elsewhere)', (t) => {
  registerPolicy('first_letter', {
    parse: () => ({}),
    create: () =>
      new HashPolicy(
        {
          hasher: (members) => ({
            preference: (key: string, n: number) => {
              const ids = members.map((m) => m.id).sort();
              const start = key.charCodeAt(0) % ids.length;
              return Array.from({ length: Math.min(n, ids.length) }, (_, i) => ids[(start + i) % ids.length]!);
            },
          }),
        },
        'first_letter',
      ),
  });
  t.true(policyNames().includes('first_letter'));
  const lb = createBalancer({ loadBalancingConfig: [{ first_letter: {} }], endpoints: ['a', 'b', 'c'] });
  t.is(lb.pickOrThrow({ key: 'a' }).member.id, 'b'); // 97 % 3 = 1
  t.is(lb.pickOrThrow({ key: 'a', exclude: new Set(['b']) }).member.id, 'c'); // the next preference
});

test('pickIndex/completeIndex: the allocation-free pair gives the same sequence and bookkeeping as pick()', (t) => {
  const mk = () =>
    new Balancer({
      policy: 'weighted_round_robin',
      endpoints: [{ id: 'a', weight: 5 }, { id: 'b', weight: 1 }, 'c'],
    });
  const x = mk();
  const y = mk();
  for (let i = 0; i < 21; i++) {
    const p = x.pickOrThrow();
    const k = y.pickIndex();
    t.is(y.members[k]!.id, p.member.id);
    p.handle.done({ ok: i !== 3, rttMs: 3 });
    y.completeIndex(k, i !== 3, 3);
  }
  t.deepEqual(y.stats(), x.stats());
  t.is(new Balancer().pickIndex(), -1);
  t.throws(() => y.completeIndex(7, true), { instanceOf: RangeError, message: /index.*7/ });
});

test("wasm: the state table's region in linear memory is freed when the members change and at close()", (t) => {
  const mem = wasmHandle(BALANCING_WASM)!.mem;
  const before = mem.allocatedBytes;
  const lb = new Balancer({ policy: 'peak_ewma', backend: 'wasm', endpoints: ['a:1', 'b:1', 'c:1'] });
  const held = mem.allocatedBytes - before;
  t.true(held > 0, 'the table lives in linear memory');
  for (let i = 0; i < 20; i++) lb.reset(Array.from({ length: 3 }, (_, k) => `m${i}-${k}:1`));
  t.is(mem.allocatedBytes - before, held, 'each new table replaces the old one');
  lb.close();
  t.is(mem.allocatedBytes, before);
  // a JS table holds nothing there
  new Balancer({ policy: 'round_robin', backend: 'js', endpoints: ['a:1'] }).close();
  t.is(mem.allocatedBytes, before);
});

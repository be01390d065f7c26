// Priority levels and localities inside the Balancer (priority.ts does the Envoy arithmetic; these tests check
// the integration): traffic on priority 0 while it is healthy enough, spill to priority 1 by Envoy's
// overprovisioning formula, failover and back, pending members excluded, panic settings passed through, the
// single-level fast path unchanged, and typed errors for bad priority options.
import test from 'ava';
import { Balancer } from '../../bindings/balancing/balancer.js';
import type { Picker, Policy, PolicyEnv } from '../../bindings/balancing/picker.js';
import { policyFrom } from '../../bindings/balancing/service-config.js';
import type { EndpointInput } from '../../bindings/util/endpoint.js';
import { mulberry32 } from '../../bindings/util/random.js';

const twoRegions = (): EndpointInput[] => [
  ...['a1', 'a2', 'a3'].map((id) => ({ id, priority: 0 })),
  ...['b1', 'b2', 'b3'].map((id) => ({ id, priority: 1 })),
];

/** Share of `n` picks per first letter (region). */
function shares(lb: Balancer, n = 10_000): Record<string, number> {
  const c: Record<string, number> = {};
  for (let i = 0; i < n; i++) {
    const p = lb.pickOrThrow();
    const region = p.member.id[0]!;
    c[region] = (c[region] ?? 0) + 1;
    p.handle.done({ ok: true });
  }
  for (const k of Object.keys(c)) c[k]! /= n;
  return c;
}

test('all of priority 0 healthy: every pick there; levels in stats', (t) => {
  const lb = new Balancer({ endpoints: twoRegions(), random: mulberry32(3) });
  t.deepEqual(shares(lb, 2000), { a: 1 });
  const levels = lb.stats().levels!;
  t.deepEqual(
    levels.map((l) => [l.priority, l.total, l.healthy, l.healthPercent, l.loadPercent, l.panic]),
    [
      [0, 3, 3, 100, 100, false],
      [1, 3, 3, 100, 0, false],
    ],
  );
  t.deepEqual(
    lb.stats().members.map((m) => m.priority),
    [0, 0, 0, 1, 1, 1],
  );
});

test("one of three down at priority 0: Envoy's spill, health = floor(1.4 × 100 × 2/3) = 93 -> 93 % / 7 %", (t) => {
  const lb = new Balancer({ endpoints: twoRegions(), random: mulberry32(5) });
  lb.setAvailable('a1', false);
  const healthP0 = Math.min(100, Math.floor((140 * 2) / 3));
  t.is(healthP0, 93);
  t.deepEqual(
    lb.stats().levels!.map((l) => l.loadPercent),
    [healthP0, 100 - healthP0],
  );
  const s = shares(lb, 20_000);
  t.true(Math.abs(s.a! - 0.93) < 0.015, `a: ${s.a}`);
  t.true(Math.abs(s.b! - 0.07) < 0.015, `b: ${s.b}`);
  t.false(lb.stats().panic);
  // a custom factor: 1.0 -> health floor(100 × 2/3) = 66
  const lb2 = new Balancer({ endpoints: twoRegions(), priority: { overprovisioningFactor: 1 } });
  lb2.setAvailable('a1', false);
  t.deepEqual(
    lb2.stats().levels!.map((l) => l.loadPercent),
    [66, 34],
  );
});

test('failover and back: region A down -> all on B (no panic, B is healthy); A returns -> traffic returns', (t) => {
  const lb = new Balancer({ endpoints: twoRegions(), random: mulberry32(9) });
  for (const id of ['a1', 'a2', 'a3']) lb.setAvailable(id, false);
  t.deepEqual(shares(lb, 1000), { b: 1 });
  t.false(lb.stats().panic, 'normalized total health is 100: no panic');
  for (const id of ['a1', 'a2', 'a3']) lb.setAvailable(id, true);
  t.deepEqual(shares(lb, 1000), { a: 1 });
});

test('pending members are left out: a new priority-0 region still pending sends nothing there', (t) => {
  const lb = new Balancer({ endpoints: twoRegions().slice(3), random: mulberry32(2) });
  lb.add(['a1', 'a2', 'a3'].map((id) => ({ id, priority: 0 })));
  for (const id of ['a1', 'a2', 'a3']) lb.setAvailable(id, false, 'health check: pending', true);
  t.deepEqual(shares(lb, 500), { b: 1 });
  t.false(lb.stats().warming);
  lb.setAvailable('a1', true);
  lb.setAvailable('a2', true);
  lb.setAvailable('a3', true);
  t.deepEqual(shares(lb, 500), { a: 1 });
});

test('panic settings pass through: every member down with threshold 0 is none; panic "fail" waits in pickAsync', async (t) => {
  const lb = new Balancer({ endpoints: twoRegions(), panicThresholdPercent: 0 });
  for (const m of lb.members) lb.setAvailable(m.id, false);
  t.deepEqual(lb.pick(), { type: 'none', reason: 'no-healthy' });
  const all = new Balancer({ endpoints: twoRegions(), random: mulberry32(4) });
  for (const m of all.members) all.setAvailable(m.id, false);
  t.true(all.stats().panic);
  t.is(all.pick().type, 'pick', "panic 'all' picks over every member");
  const fail = new Balancer({ endpoints: twoRegions(), panicMode: 'fail' });
  for (const m of fail.members) fail.setAvailable(m.id, false);
  t.deepEqual(fail.pick(), { type: 'none', reason: 'no-healthy' });
  let served = '';
  const w = fail.pickAsync(undefined, { timeoutMs: 1000 }).then((p) => (served = p.member.id));
  // 1 of 3 at priority 1: both levels below the threshold, fail_traffic_on_panic -> still nothing
  fail.setAvailable('b2', true);
  await new Promise((r) => setImmediate(r));
  t.is(served, '');
  t.deepEqual(fail.pick(), { type: 'none', reason: 'no-healthy' });
  fail.setAvailable('b3', true); // 2 of 3: priority 1 out of panic and takes the load
  await w;
  t.true(served === 'b2' || served === 'b3', served);
});

test('localities: locality-weighted levels report their localities', (t) => {
  const lb = new Balancer({
    priority: { localityWeighted: true },
    random: mulberry32(6),
    endpoints: [
      { id: 'x1', locality: { region: 'eu', zone: 'z1', subZone: '' } },
      { id: 'x2', locality: { region: 'eu', zone: 'z1', subZone: '' } },
      { id: 'y1', locality: { region: 'eu', zone: 'z2', subZone: '' } },
      { id: 'y2', locality: { region: 'eu', zone: 'z2', subZone: '' } },
    ],
  });
  const l0 = lb.stats().levels![0]!;
  t.deepEqual(
    l0.localities!.map((l) => [l.locality, l.total, l.healthy]),
    [
      ['eu/z1/', 2, 2],
      ['eu/z2/', 2, 2],
    ],
  );
  const s = shares(lb, 4000);
  t.true(Math.abs(s.x! - 0.5) < 0.05 && Math.abs(s.y! - 0.5) < 0.05, JSON.stringify(s));
});

test('single level, no localities: the fast path (one build per publish, no levels in stats)', (t) => {
  let builds = 0;
  const rr = policyFrom('round_robin');
  const counting: Policy = {
    name: 'counting',
    build(rows: Int32Array, env: PolicyEnv): Picker {
      builds++;
      return rr.build(rows, env);
    },
  };
  const lb = new Balancer({ policy: counting, endpoints: ['a', 'b', 'c'] });
  const b0 = builds;
  lb.setAvailable('a', false);
  lb.setAvailable('a', true);
  t.is(builds - b0, 2);
  t.is(lb.stats().levels, undefined);
  // two levels: one build per level with members to pick
  lb.add({ id: 'd', priority: 1 });
  t.true(lb.stats().levels !== undefined);
});

test('bad priority options: typed errors naming the field', (t) => {
  t.throws(() => new Balancer({ priority: { overprovisioningFactor: 20 } }), {
    instanceOf: RangeError,
    message: /priority\.overprovisioningFactor.*20/,
  });
  t.throws(() => new Balancer({ priority: { nope: 1 } }), { instanceOf: RangeError, message: /priority\.nope/ });
  t.throws(() => new Balancer({ priority: 'x' as never }), { instanceOf: TypeError, message: /priority/ });
  t.throws(() => new Balancer({ endpoints: [{ id: 'a', priority: -1 }] }), {
    instanceOf: RangeError,
    message: /endpoints\[0\]\.priority/,
  });
});

for (const backend of ['wasm', 'js'] as const) {
  for (const policy of ['xxhash_ring', 'ring_hash', 'maglev', 'ketama', 'latency_aware', 'round_robin']) {
    test(`${policy} (${backend}): one table per locality, all alive at once: keyed picks never fail and reach both localities, stable across rebuilds`, (t) => {
      const endpoints = ['x', 'y'].flatMap((z) =>
        [1, 2, 3].map((i) => ({ id: `${z}${i}`, locality: { region: 'r', zone: z, subZone: '' } })),
      );
      const lb = new Balancer({
        endpoints,
        policy,
        backend,
        random: mulberry32(7),
        priority: { localityWeighted: true },
      });
      const route = (): Map<string, string> => {
        const out = new Map<string, string>();
        for (let i = 0; i < 4000; i++) {
          const key = `k${i}`;
          const p = lb.pickOrThrow({ key });
          out.set(key, p.member.id);
          p.handle.done({ ok: true, rttMs: 1 });
        }
        return out;
      };
      const first = route();
      const zones = new Set([...first.values()].map((id) => id[0]));
      t.deepEqual([...zones].sort(), ['x', 'y']);
      lb.refresh(); // rebuild every slot's picker
      const again = route();
      if (policy !== 'latency_aware' && policy !== 'round_robin') t.deepEqual([...again], [...first]);
      else t.is(again.size, 4000);
      lb.close();
    });
  }
}

test('a key given as bytes routes as its string (the spill and locality choice hash UTF-8 bytes); other keys are TypeErrors', (t) => {
  const endpoints: EndpointInput[] = [
    ...[1, 2, 3, 4].map((i) => ({
      id: `a${i}`,
      priority: 0,
      locality: { region: 'r', zone: i % 2 ? 'x' : 'y', subZone: '' },
    })),
    ...[1, 2].map((i) => ({ id: `b${i}`, priority: 1, locality: { region: 'r', zone: 'x', subZone: '' } })),
  ];
  for (const policy of ['ring_hash', 'round_robin']) {
    const lb = new Balancer({ endpoints, policy, random: mulberry32(3), priority: { localityWeighted: true } });
    // priority 0 half healthy: floor(1.4 × 50) = 70 % stays there, 30 % spills, chosen by the key's hash
    lb.setAvailable('a1', false);
    lb.setAvailable('a2', false);
    const utf8 = new TextEncoder();
    const seen = new Set<string>();
    for (let i = 0; i < 3000; i++) {
      const key = `user:${i}:${String.fromCodePoint(0x40 + (i % 0x2000))}`;
      const byString = lb.pickOrThrow({ key });
      const byBytes = lb.pickOrThrow({ key: utf8.encode(key) });
      seen.add(byString.member.id[0]!);
      if (policy === 'ring_hash') t.is(byBytes.member.id, byString.member.id, key);
      else t.is(byBytes.member.id[0], byString.member.id[0], key); // round robin: the level follows the key
      byString.handle.done({ ok: true });
      byBytes.handle.done({ ok: true });
    }
    t.deepEqual([...seen].sort(), ['a', 'b'], 'keys spill to priority 1');
    for (const bad of [42, null, {}, ['k']])
      t.throws(() => lb.pick({ key: bad as never }), {
        instanceOf: TypeError,
        message: /^ctx\.key must be a string or a Uint8Array/,
      });
    lb.close();
  }
});

test('a random outside [0, 1) is a RangeError at a pick across levels or localities, not a pick of none', (t) => {
  for (const random of [() => 1, () => NaN, () => -1]) {
    const levels = new Balancer({
      random,
      endpoints: [
        { id: 'a', priority: 0 },
        { id: 'b', priority: 1 },
      ],
    });
    t.throws(() => levels.pick(), {
      instanceOf: RangeError,
      message: /^random must be a function returning a number in \[0, 1\), got /,
    });
    levels.close();
  }
});

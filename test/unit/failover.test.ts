// Failover through createFetch (issue 12): loopback node:http backends in two "regions" (priority 0 and 1,
// with localities), active HTTP health checks, and a steady stream of GETs from 8 concurrent callers.
// - Region A killed: all traffic on region B within 3 health intervals and no request fails (retries to other
//   members cover the window until the health checks mark A down); A restarted on the same ports: traffic
//   returns to A.
// - Part of A down: the share on B follows Envoy's priority load formula (written out here and checked against
//   priorityLoads), within a binomial tolerance.
// - pick_first: all traffic on the first member; killed, it moves to the next without a failed GET; it stays
//   there when the first comes back (gRFC A62 stickiness), and moves on only when that one fails.
// - 100 policy switches during a request stream: no failure, no request lost or counted twice (fetch's own
//   counters against each backend's request log).
// The region kill runs the configuration docs/priorities.md shows ("Failover through createFetch"): outlier
// detection at Envoy's defaults, 5 tries, no retry budget (gRPC's throttling stops retrying exactly when most
// tries fail, which is what a region going away looks like). The other tests turn outlier detection off: they
// are about health checks and policies, and ejections would add timers of their own.
import test, { type ExecutionContext } from 'ava';
import type { Balancer } from '../../bindings/balancing/balancer.js';
import { priorityLoads } from '../../bindings/balancing/priority.js';
import { createFetch, type BalancedFetch, type CreateFetchOptions } from '../../bindings/http/fetch.js';
import type { EndpointInput } from '../../bindings/util/endpoint.js';
import { mulberry32 } from '../../bindings/util/random.js';
import { startBackend, type Backend } from '../helpers/backends.js';
import { until } from '../helpers/wait.js';

const INTERVAL_MS = 200;
const HEALTH = { path: '/healthz', intervalMs: INTERVAL_MS, timeoutMs: 100 } as const;
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Requests a backend served (health probes left out). */
const served = (b: Backend) => b.requests.filter((r) => r.url !== '/healthz').length;

function endpoints(regions: { backends: Backend[]; priority: number; region: string }[]): EndpointInput[] {
  return regions.flatMap(({ backends, priority, region }) =>
    backends.map((b, i) => ({
      id: b.name,
      host: '127.0.0.1',
      port: b.port,
      priority,
      locality: { region, zone: `${region}-${(i % 2) + 1}`, subZone: '' },
    })),
  );
}

interface Try {
  at: number;
  member: string;
}

/**
 * A steady stream of GETs: `concurrency` loops, each sending one request, reading it, pausing `pauseMs`.
 * Records every try (fetch 'try' events, time on performance.now()) and every failure; stopped at teardown.
 */
function stream(t: ExecutionContext, f: BalancedFetch, concurrency = 8, pauseMs = 2) {
  const tries: Try[] = [];
  const failures: string[] = [];
  const off = f.on('event', (e) => {
    if (e.type === 'try') tries.push({ at: performance.now(), member: e.member! });
  });
  let running = true;
  let calls = 0;
  const worker = async () => {
    while (running) {
      calls++;
      try {
        const res = await f('/work');
        const body = await res.text();
        if (!res.ok) failures.push(`${res.status} ${body}`);
      } catch (e) {
        failures.push(String((e as Error)?.stack ?? e));
      }
      await sleep(pauseMs);
    }
  };
  const done = Promise.all(Array.from({ length: concurrency }, worker));
  const stop = async () => {
    running = false;
    await done;
    off();
  };
  t.teardown(stop); // a failed assertion must not leave the loops running
  return {
    tries,
    failures,
    get calls() {
      return calls;
    },
    stop,
  };
}

/** Sends `n` GETs with `concurrency` callers; returns the count per backend (by response body). */
async function burst(
  f: BalancedFetch,
  n: number,
  concurrency = 8,
): Promise<{ by: Map<string, number>; failed: number }> {
  const by = new Map<string, number>();
  let left = n;
  let failed = 0;
  const worker = async () => {
    while (left > 0) {
      left--;
      try {
        const res = await f('/work');
        const who = await res.text();
        if (res.ok) by.set(who, (by.get(who) ?? 0) + 1);
        else failed++;
      } catch {
        failed++;
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return { by, failed };
}

const levelsOf = (f: BalancedFetch) => (f.balancer as unknown as Balancer).stats().levels!;
/** Every level present (pending members are left out of levels) and every member in it healthy. */
const allHealthy = (f: BalancedFetch) => {
  const lb = f.balancer as unknown as Balancer;
  return lb.members.every((m) => lb.isAvailable(m.id)) && levelsOf(f).every((l) => l.healthy === l.total);
};
const stopAll = (bs: Backend[]) => Promise.all(bs.map((b) => b.stop().catch(() => {})));

function fetchFor(eps: EndpointInput[], extra: Partial<CreateFetchOptions> = {}): BalancedFetch {
  return createFetch({
    endpoints: eps,
    healthCheck: HEALTH,
    outlierDetection: false,
    retry: { maxAttempts: 5, initialBackoffMs: 1, maxBackoffMs: 10 },
    retryThrottling: false,
    perTryTimeoutMs: 2000,
    ...extra,
  });
}

test.serial(
  'region A killed during a request stream: all traffic on B within 3 health intervals, 0 failures; A back: traffic returns',
  async (t) => {
    const a = await Promise.all(['a1', 'a2', 'a3'].map((n) => startBackend(n)));
    const b = await Promise.all(['b1', 'b2', 'b3'].map((n) => startBackend(n)));
    const f = fetchFor(
      endpoints([
        { backends: a, priority: 0, region: 'us' },
        { backends: b, priority: 1, region: 'eu' },
      ]),
      { outlierDetection: {} },
    );
    t.teardown(async () => {
      f.close();
      await stopAll([...a, ...b]);
    });
    const inA = (m: string) => m.startsWith('a');
    await until('every member healthy', () => allHealthy(f), 10_000);
    const s = stream(t, f);
    await sleep(400);
    t.true(s.tries.length > 20, `tries before the kill: ${s.tries.length}`);
    t.true(
      s.tries.every((x) => inA(x.member)),
      'region A healthy: every try on A (load 100/0)',
    );

    const ports = a.map((x) => x.port);
    const killedAt = performance.now();
    await Promise.all(a.map((x) => x.stop()));
    await until('region A out of rotation', () => levelsOf(f)[0]!.healthy === 0, 10_000);
    const outAfterMs = performance.now() - killedAt;
    await sleep(Math.max(0, killedAt + 3 * INTERVAL_MS + 400 - performance.now()));
    const afterKill = s.tries.filter((x) => x.at > killedAt);
    const lastOnA = Math.max(killedAt, ...afterKill.filter((x) => inA(x.member)).map((x) => x.at)) - killedAt;
    t.log(`A out of rotation ${outAfterMs.toFixed(0)} ms after the kill; last try on A at +${lastOnA.toFixed(0)} ms`);
    // the checker's bound: up to one interval to the next probe, which fails and makes the member suspect; an
    // immediate re-check; one more interval to the third failure (unhealthyThreshold 3): about 2 intervals
    t.true(lastOnA <= 3 * INTERVAL_MS, `last try on A ${lastOnA.toFixed(0)} ms after the kill`);
    const late = afterKill.filter((x) => x.at > killedAt + 3 * INTERVAL_MS);
    t.true(late.length > 20, `tries after 3 intervals: ${late.length}`);
    t.true(
      late.every((x) => !inA(x.member)),
      'after 3 intervals every try is on B',
    );
    t.deepEqual(
      levelsOf(f).map((l) => l.loadPercent),
      [0, 100],
    );

    const restartedAt = performance.now();
    await Promise.all(a.map((x) => x.start()));
    t.deepEqual(
      a.map((x) => x.port),
      ports,
      'restarted on the same ports',
    );
    await until('region A back in rotation', () => levelsOf(f)[0]!.healthy === 3, 10_000);
    const backAt = performance.now();
    t.log(`A back in rotation ${(backAt - restartedAt).toFixed(0)} ms after the restart`);
    await sleep(400);
    await s.stop();
    const afterBack = s.tries.filter((x) => x.at > backAt);
    t.true(afterBack.length > 20, `tries after A returned: ${afterBack.length}`);
    t.true(
      afterBack.every((x) => inA(x.member)),
      'A fully healthy again: every try on A',
    );
    t.deepEqual(s.failures, [], 'no request failed');
    t.is(f.stats().failures, 0);
    t.is(f.stats().requests, s.calls);
    t.true(f.stats().retries > 0, 'the window was covered by retries');
    const onB = b.reduce((n, x) => n + served(x), 0);
    t.true(onB > 20, `B served ${onB}`);
  },
);

test.serial("part of region A down: B's share follows Envoy's priority load formula", async (t) => {
  const a = await Promise.all(['a1', 'a2', 'a3', 'a4'].map((n) => startBackend(n)));
  const b = await Promise.all(['b1', 'b2'].map((n) => startBackend(n)));
  const f = fetchFor(
    endpoints([
      { backends: a, priority: 0, region: 'us' },
      { backends: b, priority: 1, region: 'eu' },
    ]),
    { random: mulberry32(12) },
  );
  t.teardown(async () => {
    f.close();
    await stopAll([...a, ...b]);
  });
  await until('every member healthy', () => allHealthy(f), 10_000);

  // Envoy (LoadBalancerBase), integer percent, overprovisioning factor 1.4:
  //   health(P) = min(100, floor(1.4 × 100 × healthy(P) / total(P)))
  //   T         = min(100, Σ health(P))
  //   load(P)   = min(100 − Σ load(earlier), floor(health(P) × 100 / T)), remainder to the first level with health
  const formula = (healthy: number[], total: number[]) => {
    const health = healthy.map((h, i) => Math.min(100, Math.floor((140 * h) / total[i]!)));
    const tot = Math.min(
      100,
      health.reduce((x, y) => x + y, 0),
    );
    let left = 100;
    const load = health.map((h) => {
      const l = Math.min(left, Math.floor((h * 100) / tot));
      left -= l;
      return l;
    });
    load[health.findIndex((h) => h > 0)]! += left;
    return load;
  };
  const N = 2000;
  // Each pick draws its level independently: the count on B is Binomial(N, p). 5 standard deviations,
  // sqrt(p(1 − p) / N) ≤ 1.1 % at N = 2000, is a tolerance that a correct split misses about once in 1.7 million
  // runs, while a wrong formula (e.g. no overprovisioning: 50 % instead of 30 %) is far outside it.
  for (const [down, expected] of [
    [2, [70, 30]],
    [3, [35, 65]],
  ] as const) {
    await Promise.all(a.slice(down === 2 ? 0 : 2, down).map((x) => x.stop()));
    await until(`${down} of A out of rotation`, () => levelsOf(f)[0]!.healthy === 4 - down, 10_000);
    const healthy = [4 - down, 2];
    const total = [4, 2];
    t.deepEqual(formula(healthy, total), [...expected], 'the formula, by hand');
    const lib = priorityLoads(
      healthy.map((h, i) => ({ healthy: h, total: total[i]! })),
      1.4,
      50,
    );
    t.deepEqual(lib.load, [...expected], 'priorityLoads');
    t.false(lib.panic.some(Boolean), 'T = 100: no level panics, though A has < 50 % healthy at 1 of 4');
    t.deepEqual(
      levelsOf(f).map((l) => l.loadPercent),
      [...expected],
      'the Balancer applies it',
    );
    const before = [...a, ...b].map(served);
    const { by, failed } = await burst(f, N);
    t.is(failed, 0);
    const onB = (by.get('b1') ?? 0) + (by.get('b2') ?? 0);
    const p = expected[1] / 100;
    const share = onB / N;
    const tol = 5 * Math.sqrt((p * (1 - p)) / N);
    t.log(
      `${down} of 4 in A down: B took ${(share * 100).toFixed(1)} % (formula ${expected[1]} %, ±${(tol * 100).toFixed(1)})`,
    );
    t.true(Math.abs(share - p) <= tol, `B share ${share} vs ${p} ± ${tol}`);
    // nothing went to the stopped members, and each backend's own log agrees with the responses
    [...a, ...b].forEach((x, i) => t.is(served(x) - before[i]!, by.get(x.name) ?? 0, x.name));
  }
});

test.serial(
  'pick_first through createFetch: first member takes all; killed, traffic moves on with no failed GET; sticky when it returns',
  async (t) => {
    const m = await Promise.all(['p1', 'p2', 'p3'].map((n) => startBackend(n)));
    const f = fetchFor(
      m.map((b) => ({ id: b.name, host: '127.0.0.1', port: b.port })),
      { policy: 'pick_first' },
    );
    t.teardown(async () => {
      f.close();
      await stopAll(m);
    });
    const lb = f.balancer as unknown as Balancer;
    const available = (id: string) => lb.isAvailable(id);
    await until('every member healthy', () => m.every((b) => available(b.name)), 10_000);
    const s = stream(t, f);
    await sleep(300);
    const onlyOn = (from: number, to: number) =>
      new Set(s.tries.filter((x) => x.at > from && x.at <= to).map((x) => x.member));
    t.deepEqual([...onlyOn(0, Infinity)], ['p1'], 'the first member takes every request');

    const kill1 = performance.now();
    await m[0]!.stop();
    await until('p1 out of rotation', () => !available('p1'), 10_000);
    await sleep(300);
    const t1 = performance.now();
    // the first failed try on p1 moved the choice: after that, p2 only
    const firstOnP2 = Math.min(...s.tries.filter((x) => x.member === 'p2').map((x) => x.at));
    t.true(firstOnP2 - kill1 < 3 * INTERVAL_MS, `moved ${(firstOnP2 - kill1).toFixed(0)} ms after the kill`);
    t.deepEqual([...onlyOn(firstOnP2, t1)], ['p2'], 'after the move, every try on p2');

    await m[0]!.start();
    await until('p1 back in rotation', () => available('p1'), 10_000);
    const p1Back = performance.now();
    await sleep(600);
    t.deepEqual([...onlyOn(p1Back, performance.now())], ['p2'], 'p1 is healthy again but p2 keeps the traffic');
    t.deepEqual(
      lb.stats().members.map((x) => [x.id, x.available, x.selected]),
      [
        ['p1', true, 0],
        ['p2', true, 1],
        ['p3', true, 0],
      ],
    );

    // p2 fails: the next in order (p3), as policies/pick-first.ts documents (not back to p1)
    const kill2 = performance.now();
    await m[1]!.stop();
    await until('p2 out of rotation', () => !available('p2'), 10_000);
    await sleep(300);
    await s.stop();
    const firstOnP3 = Math.min(...s.tries.filter((x) => x.member === 'p3').map((x) => x.at));
    t.true(firstOnP3 > kill2);
    t.deepEqual([...onlyOn(firstOnP3, Infinity)], ['p3'], 'after p2 failed, every try on p3');
    t.deepEqual(s.failures, [], 'no GET failed');
    t.is(f.stats().failures, 0);
    t.is(f.stats().requests, s.calls);
  },
);

const POLICIES = [
  'round_robin',
  'least_request',
  'peak_ewma',
  'pick_first',
  'weighted_round_robin',
  'latency_aware',
  'ring_hash',
  'maglev',
  'ketama',
  'xxhash_ring',
] as const;

for (const layout of ['one level', 'two priority levels with localities'] as const) {
  test.serial(
    `policy switched 100 times during a request stream (${layout}): 0 failures, none lost or counted twice`,
    async (t) => {
      const a = await Promise.all(['a1', 'a2', 'a3'].map((n) => startBackend(n)));
      const b = await Promise.all(['b1', 'b2'].map((n) => startBackend(n)));
      const all = [...a, ...b];
      const eps =
        layout === 'one level'
          ? all.map((x) => ({ id: x.name, host: '127.0.0.1', port: x.port }))
          : endpoints([
              { backends: a, priority: 0, region: 'us' },
              { backends: b, priority: 1, region: 'eu' },
            ]);
      const f = createFetch({ endpoints: eps, outlierDetection: false, random: mulberry32(7) });
      t.teardown(async () => {
        f.close();
        await stopAll(all);
      });
      const lb = f.balancer as unknown as Balancer;
      if (layout !== 'one level') lb.setAvailable('a1', false); // 2 of 3 healthy: 93 / 7, both levels take traffic
      const names = POLICIES;
      const seen = new Set<string>();
      const s = stream(t, f, 8, 1);
      for (let i = 0; i < 100; i++) {
        lb.setPolicy(names[i % names.length]!);
        seen.add(lb.policy.name);
        await sleep(5);
      }
      await s.stop();
      t.deepEqual([...seen].sort(), [...names].sort(), 'every policy was in charge at some point');
      t.deepEqual(s.failures, [], '0 failures');
      const st = f.stats();
      t.is(st.failures, 0);
      t.is(st.requests, s.calls, 'fetch counted every call once');
      const onBackends = all.reduce((n, x) => n + served(x), 0);
      t.is(onBackends, st.tries, "the backends' own counters sum to the tries");
      t.is(st.tries, st.requests + st.retries, 'tries = requests + retries (no hedging)');
      t.true(st.requests > 200, `requests ${st.requests}`);
      t.deepEqual(
        lb.stats().members.map((x) => x.active),
        all.map(() => 0),
        'every pick handle was ended exactly once: nothing in flight',
      );
      if (layout !== 'one level') t.true(served(b[0]!) + served(b[1]!) > 0, 'priority 1 took its share');
    },
  );
}

// prequal (bindings/balancing/policies/prequal.ts): probing rate, the hot-cold lexicographic rule, pool ageing
// and reuse, worst-answer removal, the P2C fallback, and hostile or missing probe answers, on a virtual clock
// with a fake prober (the HTTP prober and the server side: prequal-handler.test.ts).
import test from 'ava';
import fc from 'fast-check';
import { Balancer, VirtualClock, mulberry32, type Endpoint } from '../../bindings/index.js';
import { parsePrequal, PrequalPolicy, readProbeAnswer } from '../../bindings/balancing/policies/prequal.js';

const flush = () => new Promise<void>((r) => setImmediate(r));

function setup(options: Record<string, unknown>, endpoints = ['a:1', 'b:1', 'c:1', 'd:1']) {
  const clock = new VirtualClock(0);
  const lb = new Balancer({
    policy: { name: 'prequal', ...options },
    clock,
    random: mulberry32(3),
    endpoints,
  });
  return { clock, lb, policy: lb.policy as PrequalPolicy };
}

test('config: defaults, snake_case, typed errors naming the option', (t) => {
  const c = parsePrequal({});
  t.like(c, {
    probeRate: 1,
    poolSize: 16,
    maxAgeMs: 1000,
    reuseBudget: 6,
    rifQuantile: 0.84,
    probeTimeoutMs: 1000,
    maxProbesInFlight: 64,
  });
  t.is(c.removeRate, (1 - 1 / 6) / 2); // half the surplus of answers over uses: the pool still fills
  t.is(parsePrequal({ probe_rate: 0.1 }).removeRate, 0);
  t.like(parsePrequal({ max_age: '0.5s', rif_quantile: 0.9, pool_size: '8' }), {
    maxAgeMs: 500,
    rifQuantile: 0.9,
    poolSize: 8,
  });
  t.throws(() => parsePrequal({ probeRate: -1 }), { instanceOf: RangeError, message: /probeRate.*-1/ });
  t.throws(() => parsePrequal({ rifQuantile: 1.5 }), { instanceOf: RangeError, message: /rifQuantile/ });
  t.throws(() => parsePrequal({ probe: 'http' }), { instanceOf: TypeError, message: /prequal\.probe/ });
  t.throws(() => parsePrequal({ poolsize: 3 }), { instanceOf: RangeError, message: /prequal\.poolsize/ });
  t.throws(() => new Balancer({ policy: { prequal: { pool_size: 0 } } }), {
    instanceOf: RangeError,
    message: /policy\.prequal\.pool_size/,
  });
});

test('without a prober every pick is P2C over our own requests in flight', (t) => {
  const { lb, policy } = setup({});
  const picks = Array.from({ length: 40 }, () => lb.pickOrThrow());
  const active = lb.stats().members.map((m) => m.active);
  t.true(Math.max(...active) - Math.min(...active) <= 2, JSON.stringify(active));
  t.is(policy.probeStats().fallbackPicks, 40);
  for (const p of picks) p.handle.done({ ok: true });
});

test('probing rate: ⌊r⌋ distinct members per pick plus one with probability r − ⌊r⌋, never awaited', async (t) => {
  const seen: string[][] = [];
  let current: string[] = [];
  const probe = (m: Endpoint) => {
    current.push(m.id);
    return new Promise<unknown>(() => {}); // never answers
  };
  // warmupProbes off: this test counts the probes of picks alone (start-up probes have their own test)
  const { lb, policy, clock } = setup({ probe, probeRate: 3, maxProbesInFlight: 1000, warmupProbes: false });
  for (let i = 0; i < 10; i++) {
    current = [];
    lb.pickOrThrow().handle.done({ ok: true });
    seen.push(current);
  }
  t.true(seen.every((s) => s.length === 3 && new Set(s).size === 3));
  t.is(policy.probeStats().sent, 30);
  clock.tick(1000); // every probe times out on the balancer's clock
  t.like(policy.probeStats(), { timedOut: 30, inFlight: 0 });

  const half = setup({
    probe: () => Promise.resolve({ rif: 0, latencyMs: 1 }),
    probeRate: 0.5,
    maxProbesInFlight: 1e5,
    warmupProbes: false,
  });
  for (let i = 0; i < 2000; i++) half.lb.pickOrThrow().handle.done({ ok: true });
  const sent = half.policy.probeStats().sent;
  t.true(sent > 900 && sent < 1100, String(sent));
  await flush();
});

test('in-flight probes are bounded; the surplus is skipped and counted', (t) => {
  const { lb, policy } = setup({
    probe: () => new Promise(() => {}),
    probeRate: 3,
    maxProbesInFlight: 5,
    warmupProbes: false,
  });
  for (let i = 0; i < 4; i++) lb.pickOrThrow().handle.done({ ok: true });
  t.like(policy.probeStats(), { sent: 5, skipped: 7, inFlight: 5 });
});

test('HCL: the cold answer with the lowest latency wins, a cold slow one beats a hot fast one', (t) => {
  const { lb, policy } = setup({ probeRate: 0, rifQuantile: 0.5, reuseBudget: 1, removeRate: 1 });
  // recent RIFs 1, 0, 9, 5 → the 0.5 quantile (nearest rank) is 1: c and d are hot
  policy.addAnswer('a:1', { rif: 1, latencyMs: 5 }, 0);
  policy.addAnswer('b:1', { rif: 0, latencyMs: 50 }, 0);
  policy.addAnswer('c:1', { rif: 9, latencyMs: 1 }, 0);
  policy.addAnswer('d:1', { rif: 5, latencyMs: 2 }, 0);
  t.is(policy.rifThreshold(), 1);
  t.is(lb.pickOrThrow().member.id, 'a:1'); // cold, 5 ms; used once (budget 1); then the worst (c, hottest) goes
  t.is(policy.probeStats().pool, 2);
  t.is(policy.rifThreshold(), 2); // a's reuse at RIF 2 joined the distribution: 0, 1, 2, 5, 9
  t.is(lb.pickOrThrow().member.id, 'b:1'); // cold 50 ms beats hot d at 2 ms
  t.is(lb.pickOrThrow().member.id, 'd:1'); // the last answer left, hot
  t.like(policy.probeStats(), { coldPicks: 2, hotPicks: 1, pool: 0 });
});

test('HCL: the latency tie is measured from the lowest cold latency, so ties do not chain and answer order never decides', (t) => {
  const answers: [string, number, number][] = [
    ['a:1', 5, 10],
    ['b:1', 4, 12.4],
    ['c:1', 3, 15.4],
    ['d:1', 2, 19.2],
    ['e:1', 1, 23.9],
    ['f:1', 0, 29.8],
  ];
  const endpoints = answers.map(([id]) => id);
  for (const order of [answers, [...answers].reverse()]) {
    // every answer cold (quantile 1: the threshold is the highest RIF); each within 25 % of the next
    const { lb, policy } = setup({ probeRate: 0, rifQuantile: 1, reuseBudget: 1, removeRate: 0 }, endpoints);
    for (const [id, rif, latencyMs] of order) policy.addAnswer(id, { rif, latencyMs }, 0);
    // the tie of the lowest (10 ms) holds a and b (12.4 ms): the lower RIF, b; never f at 29.8 ms
    t.is(lb.pickOrThrow().member.id, 'b:1', order[0]![0]);
    lb.close();
  }
});

test('fallback: a member whose probes never answered is explored one request at a time, not preferred while busy', async (t) => {
  const probe = (m: Endpoint) =>
    m.id === 'fast:1' ? Promise.resolve({ rif: 0, latencyMs: 1 }) : Promise.reject(new Error('404'));
  const { lb } = setup({ probe, probeRate: 0, reuseBudget: 1 }, ['fast:1', 'dead:1']);
  await flush(); // the start-up probes settle: fast answered, dead failed
  const picks: string[] = [];
  for (let i = 0; i < 8; i++) picks.push(lb.pickOrThrow().member.id); // nothing completes
  t.is(picks.filter((id) => id === 'dead:1').length, 1, picks.join(' '));
  lb.close();
});

test('HCL: with every answer hot, the lowest RIF wins (ties: the lower latency)', (t) => {
  const { lb, policy } = setup({ probeRate: 0, rifQuantile: 0, removeRate: 0, reuseBudget: 1 });
  // quantile 0 → the threshold is the lowest RIF seen (0), and these answers are all above it
  policy.addAnswer('a:1', { rif: 0, latencyMs: 1 }, 0);
  lb.pickOrThrow(); // uses a's answer
  policy.addAnswer('b:1', { rif: 7, latencyMs: 1 }, 0);
  policy.addAnswer('c:1', { rif: 3, latencyMs: 9 }, 0);
  policy.addAnswer('d:1', { rif: 3, latencyMs: 4 }, 0);
  t.is(lb.pickOrThrow().member.id, 'd:1');
  t.is(lb.pickOrThrow().member.id, 'c:1');
  t.is(lb.pickOrThrow().member.id, 'b:1');
  t.is(policy.probeStats().hotPicks, 3);
});

test('hot/cold is judged on the RIF the member answered: reusing fast answers does not hand a burst to a slow one', (t) => {
  // RIFs 10-12 at the fast members, 1 at the idle slow one; the 0.84 quantile of {1, 10, 11, 12} is 12: all cold
  const { lb, policy } = setup({}); // no prober: the answers below are all there is; removeRate 5/12
  policy.addAnswer('a:1', { rif: 10, latencyMs: 5 }, 0);
  policy.addAnswer('b:1', { rif: 12, latencyMs: 5 }, 0);
  policy.addAnswer('c:1', { rif: 11, latencyMs: 5 }, 0);
  policy.addAnswer('d:1', { rif: 1, latencyMs: 50 }, 0);
  t.is(policy.rifThreshold(), 12);
  // a burst of picks with no answer in between: each use raises an answer's RIF past 12, but the answers stay
  // cold, so the 5 ms members keep winning on latency; the slow answer is the worst cold one and is removed
  const ids = Array.from({ length: 12 }, () => lb.pickOrThrow().member.id);
  t.false(ids.includes('d:1'), ids.join(' '));
  t.is(policy.probeStats().hotPicks, 0);
  const d = lb.stats().members.find((m) => m.id === 'd:1') as unknown as Record<string, number>;
  t.is(d.probeAnswers, 0); // d's answer went first
});

test('reuse budget: an answer serves `reuseBudget` picks, its RIF rising by one per use', (t) => {
  const { lb, policy } = setup({ probeRate: 0, reuseBudget: 3, removeRate: 0 });
  policy.addAnswer('c:1', { rif: 0, latencyMs: 1 }, 0);
  t.deepEqual(
    [0, 1, 2].map(() => lb.pickOrThrow().member.id),
    ['c:1', 'c:1', 'c:1'],
  );
  t.is(policy.probeStats().pool, 0);
  lb.pickOrThrow();
  t.is(policy.probeStats().fallbackPicks, 1);
});

test('answers older than maxAgeMs are not used; answers of removed members go', (t) => {
  const { lb, policy, clock } = setup({ probeRate: 0, maxAgeMs: 500 });
  policy.addAnswer('b:1', { rif: 0, latencyMs: 1 }, 0);
  clock.set(501);
  lb.pickOrThrow();
  t.like(policy.probeStats(), { fallbackPicks: 1, pool: 0 });
  policy.addAnswer('b:1', { rif: 0, latencyMs: 1 }, 501);
  lb.remove('b:1');
  t.is(policy.probeStats().pool, 0);
});

test('excluded members are not picked from the pool; unknown latency explores one request at a time', (t) => {
  const { lb, policy } = setup({ probeRate: 0, removeRate: 0, reuseBudget: 10 }, ['a:1', 'b:1']);
  policy.addAnswer('a:1', { rif: 0, latencyMs: 1 }, 0);
  policy.addAnswer('b:1', { rif: 0, latencyMs: NaN }, 0);
  // b has no estimate and nothing in flight: it ranks as 0 ms and is tried once
  const first = lb.pickOrThrow();
  t.is(first.member.id, 'b:1');
  // while that request is in flight, b ranks after every known answer
  t.is(lb.pickOrThrow().member.id, 'a:1');
  t.is(lb.pickOrThrow({ exclude: new Set(['a:1']) }).member.id, 'b:1');
  first.handle.done({ ok: true });
});

test('a pool with the slow member ranks it last: over many picks it gets (almost) nothing', async (t) => {
  const lat: Record<string, number> = { 'a:1': 5, 'b:1': 5, 'c:1': 5, 'd:1': 50 };
  const active = new Map<string, number>();
  const probe = (m: Endpoint) => Promise.resolve({ rif: active.get(m.id) ?? 0, latencyMs: lat[m.id] });
  const { lb, policy } = setup({ probe });
  const counts = new Map<string, number>();
  for (let i = 0; i < 2000; i++) {
    const p = lb.pickOrThrow();
    counts.set(p.member.id, (counts.get(p.member.id) ?? 0) + 1);
    active.set(p.member.id, (active.get(p.member.id) ?? 0) + 1);
    await flush(); // the probe answers arrive between picks
    p.handle.done({ ok: true });
    active.set(p.member.id, active.get(p.member.id)! - 1);
  }
  const slow = counts.get('d:1') ?? 0;
  t.true(slow <= 10, `slow member got ${slow} of 2000: ${JSON.stringify([...counts])}`);
  t.true(policy.probeStats().answered > 1000);
});

test('members answering RIF 0 within microseconds of each other share the picks (a latency tie: our RIF decides); the slow one stays out', async (t) => {
  // a synchronous Node handler finishes each request within one turn: its probes never see one in flight, and
  // its latency is the handler's few microseconds, different in the last digits from member to member
  const lat: Record<string, number> = { 'a:1': 0.021, 'b:1': 0.034, 'c:1': 150 };
  const probe = (m: Endpoint) => Promise.resolve({ rif: m.id === 'c:1' ? 3 : 0, latencyMs: lat[m.id] });
  const { lb } = setup({ probe }, ['a:1', 'b:1', 'c:1']);
  const counts = new Map<string, number>();
  for (let i = 0; i < 3000; i++) {
    const p = lb.pickOrThrow();
    counts.set(p.member.id, (counts.get(p.member.id) ?? 0) + 1);
    await flush();
    p.handle.done({ ok: true });
  }
  const share = (id: string) => (counts.get(id) ?? 0) / 3000;
  const shares = JSON.stringify([...counts]);
  t.true(share('a:1') > 0.35 && share('b:1') > 0.35, `fast members ${shares}`); // was ~1.0 / ~0.0
  t.true(share('c:1') < 0.02, `slow member ${shares}`);
  // latencies apart by more than the tie still rank by latency
  const { lb: lb2, policy } = setup({ probeRate: 0, reuseBudget: 1, removeRate: 1 }, ['a:1', 'b:1']);
  policy.addAnswer('a:1', { rif: 0, latencyMs: 10 }, 0);
  policy.addAnswer('b:1', { rif: 0, latencyMs: 13 }, 0); // 3 ms > max(1 ms, 25 % of 10 ms)
  t.is(lb2.pickOrThrow().member.id, 'a:1');
});

test('start-up probes: each member is probed once when the picker is built, so a first burst is not blind', async (t) => {
  const lat: Record<string, number> = { 'a:1': 5, 'b:1': 5, 'c:1': 5, 'd:1': 50 };
  const probed: string[] = [];
  const probe = (m: Endpoint) => {
    probed.push(m.id);
    return Promise.resolve({ rif: 0, latencyMs: lat[m.id] ?? 5 });
  };
  const burst = async (options: Record<string, unknown>) => {
    probed.length = 0;
    const { lb, policy, clock } = setup({ probe, ...options });
    const before = [...probed];
    await flush();
    // 64 picks in one synchronous run, as a closed loop of 64 clients starts: no answer can arrive between them
    const picks = Array.from({ length: 64 }, () => lb.pickOrThrow());
    const slow = picks.filter((p) => p.member.id === 'd:1').length;
    for (const p of picks) p.handle.done({ ok: true });
    return { before, slow, lb, policy, clock };
  };
  const on = await burst({});
  t.deepEqual([...on.before].sort(), ['a:1', 'b:1', 'c:1', 'd:1']); // before any pick
  t.is(on.slow, 0);
  const off = await burst({ warmupProbes: false });
  t.deepEqual(off.before, []);
  t.true(off.slow >= 8, `blind P2C spreads the burst evenly: the slow member got ${off.slow} of 64`);

  // a rebuild probes only members not probed within maxAgeMs
  probed.length = 0;
  on.lb.add('e:1');
  t.deepEqual(probed, ['e:1']);
  on.clock.set(1001);
  probed.length = 0;
  on.lb.remove('e:1');
  t.deepEqual([...probed].sort(), ['a:1', 'b:1', 'c:1', 'd:1']);
  t.throws(() => parsePrequal({ warmup_probes: 'yes' }), { instanceOf: TypeError, message: /warmup_probes/ });
  await flush();
});

test('readProbeAnswer: valid forms, hostile values named', (t) => {
  t.deepEqual(readProbeAnswer({ rif: 3, latencyMs: 2.5 }), { rif: 3, latencyMs: 2.5 });
  t.deepEqual(readProbeAnswer('{"rif":0,"latency_ms":0}'), { rif: 0, latencyMs: 0 });
  t.deepEqual(readProbeAnswer({ rif: 1, latencyMs: null }), { rif: 1, latencyMs: NaN });
  t.is(readProbeAnswer({ rif: -1, latencyMs: 1 }), 'rif');
  t.is(readProbeAnswer({ rif: 1.5, latencyMs: 1 }), 'rif');
  t.is(readProbeAnswer({ rif: 1e12, latencyMs: 1 }), 'rif');
  t.is(readProbeAnswer({ rif: '3', latencyMs: 1 }), 'rif');
  t.is(readProbeAnswer({ rif: 1, latencyMs: NaN }), 'latency');
  t.is(readProbeAnswer({ rif: 1, latencyMs: -1 }), 'latency');
  t.is(readProbeAnswer({ rif: 1, latencyMs: Infinity }), 'latency');
  t.is(readProbeAnswer({ rif: 1, latencyMs: 1e12 }), 'latency');
  t.is(readProbeAnswer('{"rif":1,'), 'malformed');
  t.is(readProbeAnswer(`{"rif":1,"pad":"${'x'.repeat(5000)}"}`), 'oversized');
  t.is(readProbeAnswer(null), 'malformed');
  t.is(readProbeAnswer([1, 2]), 'malformed');
  t.is(readProbeAnswer(42), 'malformed');
});

test('hostile, failing, throwing and silent probers: ignored and counted, picks never throw or wait', async (t) => {
  const bad: unknown[] = [
    { rif: -1, latencyMs: 1 },
    { rif: 2 ** 40, latencyMs: 1 },
    { rif: 1, latencyMs: NaN },
    'x'.repeat(10_000),
    '<html>',
    undefined,
  ];
  let i = 0;
  const probe = (): Promise<unknown> => {
    const k = i++ % 9;
    if (k < bad.length) return Promise.resolve(bad[k]);
    if (k === 6) return Promise.reject(new Error('refused'));
    if (k === 7) throw new Error('sync throw');
    return new Promise(() => {}); // silent
  };
  const { lb, policy, clock } = setup({
    probe,
    probeRate: 3,
    probeTimeoutMs: 100,
    maxProbesInFlight: 1000,
    warmupProbes: false,
  });
  for (let n = 0; n < 30; n++) {
    const p = lb.pick();
    t.is(p.type, 'pick');
    if (p.type === 'pick') p.handle.done({ ok: true });
    await flush();
  }
  clock.tick(100);
  const s = policy.probeStats();
  t.is(s.answered, 0);
  t.is(s.sent, 90);
  t.is(s.rejected + s.failed + s.timedOut, 90);
  t.is(s.timedOut, 10);
  t.is(s.failed, 20);
  t.is(s.inFlight, 0);
  t.is(s.fallbackPicks, 30);
});

test('property: whatever the prober answers, every pick returns an eligible member', async (t) => {
  await fc.assert(
    fc.asyncProperty(fc.array(fc.anything(), { minLength: 1, maxLength: 20 }), async (answers) => {
      let k = 0;
      const { lb } = setup({ probe: () => Promise.resolve(answers[k++ % answers.length]) });
      for (let n = 0; n < 20; n++) {
        const p = lb.pick();
        if (p.type !== 'pick' || !['a:1', 'b:1', 'c:1', 'd:1'].includes(p.member.id)) return false;
        p.handle.done({ ok: true });
        await Promise.resolve();
      }
      return true;
    }),
    { numRuns: 50 },
  );
  t.pass();
});

test('setProbe replaces the prober; the registry builds prequal from a service config', (t) => {
  const { lb, policy } = setup({});
  t.false(policy.hasProbe);
  let calls = 0;
  policy.setProbe(() => {
    calls++;
    return new Promise(() => {});
  });
  lb.pickOrThrow();
  t.is(calls, 1); // probeRate 1
  t.throws(() => policy.setProbe(42 as never), { instanceOf: TypeError, message: /probe/ });
  policy.abortProbes();
  t.is(policy.probeStats().inFlight, 0);
  const sc = new Balancer({ loadBalancingConfig: [{ prequal: { probe_rate: 2 } }] });
  t.is(sc.policy.name, 'prequal');
  t.is((sc.policy as PrequalPolicy).config.probeRate, 2);
});

test('a stale answer dropped below the best one so far leaves that best answer picked and charged (swap-remove)', (t) => {
  for (const backend of ['js', 'wasm'] as const) {
    const clock = new VirtualClock(0);
    const lb = new Balancer({
      backend,
      policy: { name: 'prequal', probeRate: 0, maxAgeMs: 1000, removeRate: 0, reuseBudget: 2 },
      clock,
      random: mulberry32(3),
      endpoints: ['a:1', 'b:1', 'c:1', 'd:1'],
    });
    const policy = lb.policy as PrequalPolicy;
    policy.addAnswer('a:1', { rif: 0, latencyMs: 1 }, 0); // stale at 1600, below the fresh one
    policy.addAnswer('d:1', { rif: 0, latencyMs: 1 }, 1500);
    clock.set(1600);
    t.is(lb.pickOrThrow().member.id, 'd:1', backend);
    t.is(policy.probeStats().fallbackPicks, 0);
    t.false(Number.isNaN(policy.rifThreshold()));
    // the answer's one use left goes to d:1, then the pool is empty (budget 2)
    t.is(lb.pickOrThrow().member.id, 'd:1');
    t.is(policy.probeStats().pool, 0);
    // a new answer starts with no uses: two picks
    policy.addAnswer('b:1', { rif: 0, latencyMs: 1 }, 1600);
    t.deepEqual([lb.pickOrThrow().member.id, lb.pickOrThrow().member.id], ['b:1', 'b:1']);
  }
});

test('retirement: close() and a switch away abort the probes in flight and clear their timers; late answers are ignored; installed again it probes again', async (t) => {
  const answers: Array<(x: unknown) => void> = [];
  const signals: AbortSignal[] = [];
  const probe = (_m: Endpoint, signal: AbortSignal) => {
    signals.push(signal);
    return new Promise<unknown>((r) => answers.push(r));
  };
  const answerAll = async () => {
    for (const a of answers.splice(0)) a({ rif: 0, latencyMs: 1 });
    await flush();
  };
  const retire = async (how: (lb: Balancer) => void) => {
    answers.length = signals.length = 0;
    const { lb, policy, clock } = setup({ probe, probeTimeoutMs: 60_000 });
    t.is(signals.length, 4); // start-up probes
    t.is(clock.pending, 4); // their timeouts
    how(lb);
    t.true(signals.every((s) => s.aborted));
    t.is(clock.pending, 0);
    await answerAll();
    t.like(policy.probeStats(), { sent: 4, inFlight: 0, answered: 0, failed: 0, timedOut: 0, pool: 0 });
    return { lb, policy, clock };
  };
  await retire((lb) => lb.close());
  const { lb, policy, clock } = await retire((lb) => lb.setPolicy('round_robin'));
  lb.pickOrThrow().handle.done({ ok: true });
  t.is(policy.probeStats().sent, 4); // round robin's picks fire no probe
  lb.setPolicy(policy); // the same object back: start-up probes again, then probes per pick
  t.is(policy.probeStats().sent, 8);
  await answerAll();
  lb.pickOrThrow().handle.done({ ok: true });
  t.like(policy.probeStats(), { sent: 9, answered: 4, inFlight: 1 });
  await answerAll();
  t.like(policy.probeStats(), { answered: 5, inFlight: 0 });
  t.is(clock.pending, 0);
  lb.close();
});

test('a publication that builds no picker (priority levels, panicMode fail, none healthy) keeps the probes in flight', (t) => {
  const signals: AbortSignal[] = [];
  const probe = (_m: Endpoint, signal: AbortSignal) => {
    signals.push(signal);
    return new Promise<unknown>(() => {});
  };
  const ids = ['a:1', 'b:1', 'c:1', 'd:1'];
  const clock = new VirtualClock(0);
  const lb = new Balancer({
    policy: { name: 'prequal', probe, probeTimeoutMs: 60_000 },
    panicMode: 'fail',
    clock,
    endpoints: ids.map((id, i) => ({ id, priority: i >> 1 })),
  });
  const policy = lb.policy as PrequalPolicy;
  t.is(signals.length, 4); // start-up probes, two per level
  // the last one's publication builds nothing: releaseSlots gets an empty set, but not close()'s
  for (const id of ids) lb.setAvailable(id, false, 'unhealthy');
  t.like(lb.pick(), { type: 'none', reason: 'no-healthy' });
  t.false(signals.some((s) => s.aborted));
  t.like(policy.probeStats(), { inFlight: 4, timedOut: 0 });
  t.is(clock.pending, 4);
  lb.close();
  t.true(signals.every((s) => s.aborted));
  t.is(clock.pending, 0);
});

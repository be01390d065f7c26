// peak_ewma: tower's peak_ewma.rs tests (test/vectors/peak_ewma_tower.json) on a virtual clock with exact
// decayed values, P2C behaviour, Finagle's penalty, the WASM kernels = the TS twins bit for bit, and the
// warm-up rule shared with latency_aware.
import test from 'ava';
import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import { Balancer, VirtualClock, mulberry32, type Picked } from '../../bindings/index.js';
import { wasmHandle } from '../../bindings/core/backend.js';
import { BALANCING_WASM } from '../../bindings/core/families.js';
import { COL_ACTIVE, COL_EST, COL_SAMPLES, COL_STAMP, COLS, type PolicyEnv } from '../../bindings/balancing/picker.js';
import {
  expNeg,
  parsePeakEwma,
  peakEwmaCostTs,
  peakEwmaObserveTs,
  PENALTY_MS,
  warmupWeight,
} from '../../bindings/balancing/policies/peak-ewma.js';
import { P2CPicker, sampleDistinct } from '../../bindings/balancing/p2c.js';

interface Step {
  t_ms: number;
  event?: string;
  expect_cost_ns?: number;
  expect_cost_ns_range?: [number, number];
  expect_cost_gt_ns?: number;
  expect_cost_lt_ns?: number;
}
const vectors = JSON.parse(readFileSync(new URL('../vectors/peak_ewma_tower.json', import.meta.url), 'utf8')) as {
  vectors: { test: string; default_rtt_ms: number; decay_ms: number; steps: Step[] }[];
};

const costNs = (lb: Balancer) => (lb.stats().members[0]!.costMs as number) * 1e6;

for (const backend of ['js', 'wasm'] as const) {
  test(`${backend}: tower default_decay and compound_decay vectors on a virtual clock`, (t) => {
    for (const v of vectors.vectors) {
      const clock = new VirtualClock(0);
      const lb = new Balancer({
        policy: { name: 'peak_ewma', defaultRttMs: v.default_rtt_ms, decayMs: v.decay_ms },
        clock,
        backend,
        endpoints: ['svc:80'],
      });
      const pending: Picked[] = [];
      for (const s of v.steps) {
        clock.set(s.t_ms);
        if (s.event?.startsWith('start')) pending.push(lb.pickOrThrow());
        else if (s.event?.includes('completes')) pending.shift()!.handle.done({ ok: true }); // RTT from the clock
        const c = costNs(lb);
        const at = `${v.test} t=${s.t_ms}`;
        if (s.expect_cost_ns !== undefined) t.is(c, s.expect_cost_ns, at);
        if (s.expect_cost_ns_range !== undefined)
          t.true(c >= s.expect_cost_ns_range[0] && c <= s.expect_cost_ns_range[1], at);
        if (s.expect_cost_gt_ns !== undefined) t.true(c > s.expect_cost_gt_ns, at);
        if (s.expect_cost_lt_ns !== undefined) t.true(c < s.expect_cost_lt_ns, at);
      }
    }
  });
}

test('exact decayed values: 10 ms default decays to 10·e^-0.1 at 100 ms and 10·e^-0.2 at 200 ms', (t) => {
  const clock = new VirtualClock(0);
  const lb = new Balancer({ policy: { peak_ewma: { default_rtt: '0.01s', decay: '1s' } }, clock, endpoints: ['a:1'] });
  clock.set(100);
  t.is(lb.stats().members[0]!.costMs, 10 * expNeg(0.1));
  t.true(Math.abs((lb.stats().members[0]!.costMs as number) - 9.04837418) < 1e-8);
  clock.set(200);
  t.true(Math.abs((lb.stats().members[0]!.costMs as number) - 8.18730753) < 1e-8);
});

test('a higher sample replaces the estimate at once; a lower one is averaged by elapsed time', (t) => {
  const clock = new VirtualClock(0);
  const lb = new Balancer({
    policy: { name: 'peak_ewma', defaultRttMs: 10, decayMs: 1000 },
    clock,
    endpoints: ['a:1'],
  });
  lb.pickOrThrow().handle.done({ ok: true, rttMs: 50 });
  t.is(lb.stats().members[0]!.rttEstimateMs, 50);
  clock.set(500);
  lb.pickOrThrow().handle.done({ ok: true, rttMs: 10 });
  const d = expNeg(0.5);
  t.is(lb.stats().members[0]!.rttEstimateMs, 50 * d + 10 * (1 - d));
});

test('P2C prefers the member with the lower cost; a slow member stops getting picks', (t) => {
  const clock = new VirtualClock(0);
  const lb = new Balancer({
    policy: 'peak_ewma',
    clock,
    random: mulberry32(7),
    endpoints: ['fast:1', 'slow:1', 'fast2:1'],
  });
  const counts = new Map<string, number>();
  for (let i = 0; i < 3000; i++) {
    const p = lb.pickOrThrow();
    counts.set(p.member.host, (counts.get(p.member.host) ?? 0) + 1);
    clock.tick(1);
    p.handle.done({ ok: true, rttMs: p.member.host === 'slow' ? 100 : 10 });
  }
  t.true((counts.get('slow') ?? 0) < 300, JSON.stringify([...counts]));
});

test("Finagle's penalty: no estimate and requests in flight", (t) => {
  const clock = new VirtualClock(0);
  const lb = new Balancer({ policy: { name: 'peak_ewma', defaultRttMs: 0 }, clock, endpoints: ['a:1'] });
  t.is(lb.stats().members[0]!.costMs, 0);
  lb.pickOrThrow();
  lb.pickOrThrow();
  t.is(lb.stats().members[0]!.costMs, PENALTY_MS + 2);
});

test('sampleDistinct: k distinct indices in range, never the same twice (property)', (t) => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 50 }), fc.integer({ min: 2, max: 60 }), fc.integer(), (m, k, seed) => {
      const out = new Int32Array(k);
      const c = sampleDistinct(mulberry32(seed), m, k, out);
      const s = new Set(out.subarray(0, c));
      return c === Math.min(m, k) && s.size === c && [...s].every((x) => x >= 0 && x < m);
    }),
  );
  t.pass();
});

test('WASM expNeg/peakEwmaCost/peakEwmaObserve = TS twins bit for bit (differential)', (t) => {
  const h = wasmHandle(BALANCING_WASM)!;
  const x = h.exports as Record<string, (...a: number[]) => number>;
  fc.assert(
    fc.property(fc.double({ min: 0, max: 800, noNaN: true }), (v) => Object.is(x.expNeg!(v), expNeg(v))),
    { numRuns: 20_000 },
  );
  // the range a pick sees (written out in TS, see expNeg), and each branch's edges with their neighbours
  fc.assert(
    fc.property(fc.double({ min: 0, max: 0.35, noNaN: true }), (v) => Object.is(x.expNeg!(v), expNeg(v))),
    { numRuns: 20_000 },
  );
  const dv = new DataView(new ArrayBuffer(8));
  const step = (v: number, ulps: number) => {
    dv.setFloat64(0, v);
    dv.setBigUint64(0, dv.getBigUint64(0) + BigInt(ulps));
    return dv.getFloat64(0);
  };
  const edges = [3.725290298461914e-9, 0.0078125, 0.34657359027997264, 1.0397207708399179, 708];
  const probes = [0, 5e-324, NaN, Infinity, ...edges.flatMap((e) => [-2, -1, 0, 1, 2].map((u) => step(e, u)))];
  t.deepEqual(
    probes.filter((v) => !Object.is(x.expNeg!(v), expNeg(v))),
    [],
  );
  fc.assert(
    fc.property(
      fc.double({ min: 0, max: 1e4, noNaN: true }),
      fc.integer({ min: 0, max: 5 }),
      fc.double({ min: 0, max: 1e5, noNaN: true }),
      fc.double({ min: 0, max: 1e5, noNaN: true }),
      fc.double({ min: 0, max: 1e4, noNaN: true }),
      fc.double({ min: 1, max: 1e5, noNaN: true }),
      (est, active, stamp, now, rtt, decay) => {
        const ptr = h.mem.alloc(COLS * 8);
        const wf = () => new Float64Array(h.mem.memory.buffer, ptr, COLS);
        const tf = new Float64Array(COLS);
        for (const f of [wf(), tf]) {
          f.fill(0);
          f[COL_EST] = est;
          f[COL_ACTIVE] = active;
          f[COL_STAMP] = stamp;
        }
        const a1 = x.peakEwmaCost!(ptr, 1, 0, now, 1 / decay, PENALTY_MS);
        const b1 = peakEwmaCostTs(tf, 1, 0, now, 1 / decay);
        const a2 = x.peakEwmaObserve!(ptr, 1, 0, now + 5, rtt, 1 / decay);
        const b2 = peakEwmaObserveTs(tf, 1, 0, now + 5, rtt, 1 / decay);
        const ok = Object.is(a1, b1) && Object.is(a2, b2) && wf().every((v, i) => Object.is(v, tf[i]));
        h.mem.release(ptr);
        return ok;
      },
    ),
    { numRuns: 2000 },
  );
  t.pass();
});

test('expNeg is within 2 ulp of Math.exp', (t) => {
  const close = (v: number) => {
    const a = expNeg(v);
    const b = Math.exp(-v);
    return Math.abs(a - b) <= 4.5e-16 * b;
  };
  fc.assert(fc.property(fc.double({ min: 0, max: 700, noNaN: true }), close), { numRuns: 20_000 });
  // the polynomial's range, (2^-28, 2^-7], and past both its ends
  fc.assert(fc.property(fc.double({ min: 0, max: 0.01, noNaN: true }), close), { numRuns: 20_000 });
  t.is(expNeg(0), 1);
  t.is(expNeg(1000), 0);
});

test('config: defaults, snake_case durations, typed errors', (t) => {
  t.deepEqual(parsePeakEwma({}), { decayMs: 10_000, defaultRttMs: 0, choiceCount: 2 });
  t.deepEqual(parsePeakEwma({ decay: { seconds: 5, nanos: 500_000_000 }, default_rtt: '0.1s' }), {
    decayMs: 5500,
    defaultRttMs: 100,
    choiceCount: 2,
  });
  t.throws(() => parsePeakEwma({ decayMs: 0 }), { instanceOf: RangeError, message: /decayMs/ });
  t.throws(() => parsePeakEwma({ decayMs: NaN }), { instanceOf: RangeError, message: /decayMs.*NaN/ });
  t.throws(() => parsePeakEwma({ choice_count: 1 }), { instanceOf: RangeError, message: /choice_count.*1/ });
});

// ---- warm-up (docs/design.md "Warm-up of RTT estimates") ----------------------------------------------------

/** One member, one sample per ms: the estimate after each sample (no pick reads decay it: one member). */
function estimates(policy: Record<string, unknown>, samples: number[]): number[] {
  const clock = new VirtualClock(0);
  const lb = new Balancer({ policy, clock, endpoints: ['a:1'] });
  return samples.map((rtt) => {
    clock.tick(1);
    lb.pickOrThrow().handle.done({ ok: true, rttMs: rtt });
    const m = lb.stats().members[0]!;
    return (m.rttEstimateMs ?? m.avgRttMs) as number;
  });
}

test('warm-up: an early 30 ms peak among 5 ms samples is averaged out, where tower keeps it for ~decayMs', (t) => {
  const seq = [30, ...Array<number>(15).fill(5)];
  const warm = estimates({ name: 'peak_ewma' }, seq);
  const mean = (30 + 15 * 5) / 16;
  t.true(Math.abs(warm[15]! - mean) < 1e-9, String(warm[15]));
  const tower = estimates({ name: 'peak_ewma', warmupSamples: 0 }, seq);
  t.true(tower[15]! > 29.9, String(tower[15])); // 30·e^(−15/10000) + …: the peak holds
  // after the warm-up the rule is tower's exactly
  const after = estimates({ name: 'peak_ewma' }, [...seq, 5]);
  const d = expNeg(1 / 10_000);
  t.is(after[16], warm[15]! * d + 5 * (1 - d));
  // a higher sample still replaces the estimate at once, during the warm-up too
  t.is(estimates({ name: 'peak_ewma' }, [5, 5, 40])[2], 40);
});

test('warm-up: a configured default RTT counts as one sample', (t) => {
  const e = estimates({ name: 'peak_ewma', defaultRttMs: 30 }, [5, 5, 5]);
  t.true(Math.abs(e[0]! - 17.5) < 1e-9, String(e[0]));
  t.true(Math.abs(e[2]! - (30 + 15) / 4) < 1e-9, String(e[2]));
});

test('warm-up: latency_aware averages its first samples the same way, then its own smoothing', (t) => {
  const e = estimates({ name: 'latency_aware' }, [100, 20, 20, 20, 20, 20]);
  t.is(e[1], 60); // weight max(0.2, 1/2)
  t.true(Math.abs(e[3]! - 40) < 1e-9); // the mean of 100, 20, 20, 20
  t.true(Math.abs(e[5]! - (0.8 * e[4]! + 0.2 * 20)) < 1e-9); // n = 5: 1/6 < 0.2
  t.is(estimates({ name: 'latency_aware', warmupSamples: 0 }, [100, 20])[1], 84); // the old rule
});

test('warm-up config: warmupSamples / warmup_samples, typed errors', (t) => {
  t.is(parsePeakEwma({ warmup_samples: 4 }).warmupSamples, 4);
  t.is(parsePeakEwma({}).warmupSamples, undefined); // default DEFAULT_WARMUP_SAMPLES, applied by the policy
  t.throws(() => parsePeakEwma({ warmupSamples: -1 }), { instanceOf: RangeError, message: /warmupSamples/ });
  t.throws(() => new Balancer({ policy: { latency_aware: { warmup_samples: 1.5 } } }), {
    instanceOf: RangeError,
    message: /warmup_samples/,
  });
});

test('WASM peakEwmaObserve with the warm-up floor = TS twin bit for bit (differential)', (t) => {
  const h = wasmHandle(BALANCING_WASM)!;
  const x = h.exports as Record<string, (...a: number[]) => number>;
  fc.assert(
    fc.property(
      fc.double({ min: 0, max: 1e4, noNaN: true }),
      fc.double({ min: 0, max: 1e5, noNaN: true }),
      fc.double({ min: 0, max: 1e4, noNaN: true }),
      fc.double({ min: 1, max: 1e5, noNaN: true }),
      fc.integer({ min: 0, max: 40 }),
      (est, stamp, rtt, decay, n) => {
        const floor = warmupWeight(n, 16);
        const ptr = h.mem.alloc(COLS * 8);
        const wf = () => new Float64Array(h.mem.memory.buffer, ptr, COLS);
        const tf = new Float64Array(COLS);
        for (const f of [wf(), tf]) {
          f.fill(0);
          f[COL_EST] = est;
          f[COL_STAMP] = stamp;
        }
        const a = x.peakEwmaObserve!(ptr, 1, 0, stamp + 3, rtt, 1 / decay, floor);
        const b = peakEwmaObserveTs(tf, 1, 0, stamp + 3, rtt, 1 / decay, floor);
        const ok = Object.is(a, b) && wf().every((v, i) => Object.is(v, tf[i]));
        h.mem.release(ptr);
        return ok;
      },
    ),
    { numRuns: 3000 },
  );
  t.pass();
});

// ---- the two-choice fast path (PeakEwmaPairPicker) against the generic P2CPicker ----------------------------

/**
 * A reference Peak-EWMA balancer made of the generic parts: P2CPicker over peakEwmaCostTs, completions through
 * peakEwmaObserveTs with the warm-up floor, on a JS table of `n` rows.
 */
function referenceModel(n: number, seed: number, decayMs: number, defaultRttMs: number) {
  const f = new Float64Array(COLS * n);
  for (let r = 0; r < n; r++) f[COL_EST * n + r] = defaultRttMs;
  const ids = Array.from({ length: n }, (_, i) => `m${i}:1`);
  let now = 0;
  const env = { table: { f, cap: n }, ids, random: mulberry32(seed), now: () => now } as unknown as PolicyEnv;
  const metric = { prepare() {}, load: (r: number) => peakEwmaCostTs(f, n, r, now, 1 / decayMs) };
  const picker = new P2CPicker(
    Int32Array.from({ length: n }, (_, i) => i),
    env,
    2,
    metric,
  );
  const prior = defaultRttMs > 0 ? 1 : 0;
  return {
    f,
    ids,
    set: (t: number) => (now = t),
    pick(exclude?: ReadonlySet<string>): number {
      const row = picker.pick(exclude === undefined ? undefined : { exclude }, now);
      if (row >= 0) f[COL_ACTIVE * n + row]! += 1;
      return row;
    },
    done(row: number, rttMs: number): void {
      const a = f[COL_ACTIVE * n + row]!;
      f[COL_ACTIVE * n + row] = a > 0 ? a - 1 : 0;
      const s = f[COL_SAMPLES * n + row]!;
      peakEwmaObserveTs(f, n, row, now, rttMs, 1 / decayMs, warmupWeight(s + prior, 16));
      f[COL_SAMPLES * n + row] = s + 1;
    },
  };
}

for (const backend of ['js', 'wasm'] as const) {
  test(`${backend}: peak_ewma picks and estimates = P2CPicker + peakEwmaCostTs/ObserveTs bit for bit (differential)`, (t) => {
    type Op =
      { kind: 'pick'; exclude: number } | { kind: 'done'; which: number; rtt: number } | { kind: 'tick'; ms: number };
    const op = fc.oneof(
      fc.record({ kind: fc.constant('pick' as const), exclude: fc.integer({ min: -4, max: 7 }) }),
      fc.record({
        kind: fc.constant('done' as const),
        which: fc.nat(),
        rtt: fc.oneof(fc.double({ min: 0, max: 200, noNaN: true }), fc.constantFrom(0, 1, 5)),
      }),
      fc.record({
        kind: fc.constant('tick' as const),
        ms: fc.oneof(fc.constant(0), fc.double({ min: 0, max: 5000, noNaN: true })),
      }),
    );
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 7 }),
        fc.integer(),
        fc.constantFrom(1, 50, 10_000),
        fc.constantFrom(0, 30),
        fc.array(op, { maxLength: 120 }),
        (n, seed, decayMs, defaultRttMs, ops: Op[]) => {
          const clock = new VirtualClock(0);
          const ref = referenceModel(n, seed, decayMs, defaultRttMs);
          const lb = new Balancer({
            policy: { name: 'peak_ewma', decayMs, defaultRttMs },
            backend,
            clock,
            random: mulberry32(seed),
            endpoints: ref.ids,
          });
          const pending: [Picked, number][] = [];
          for (const o of ops) {
            if (o.kind === 'tick') {
              clock.tick(o.ms);
              ref.set(clock.now());
            } else if (o.kind === 'pick') {
              const exclude = o.exclude >= 0 ? new Set([ref.ids[o.exclude % n]!]) : undefined;
              const row = ref.pick(exclude);
              const p = lb.pick(exclude === undefined ? undefined : { exclude });
              if (row < 0) {
                if (p.type !== 'none') return false;
              } else {
                if (p.type !== 'pick' || p.index !== row) return false;
                pending.push([p, row]);
              }
            } else if (pending.length > 0) {
              const [p, row] = pending.splice(o.which % pending.length, 1)[0]!;
              p.handle.done({ ok: true, rttMs: o.rtt });
              ref.done(row, o.rtt);
            }
          }
          const f = lb.table.f;
          const cap = lb.table.cap;
          for (let r = 0; r < n; r++)
            for (const c of [COL_EST, COL_STAMP, COL_ACTIVE, COL_SAMPLES])
              if (!Object.is(f[c * cap + r], ref.f[c * n + r])) return false;
          lb.close();
          return true;
        },
      ),
      { numRuns: 400 },
    );
    t.pass();
  });
}

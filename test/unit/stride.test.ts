// weighted_round_robin scheduler 'stride' = gRPC's static stride scheduler: hand-derived vectors, a literal
// model of grpc's StaticStrideScheduler::Make / Pick (uint64 BigInt arithmetic, uint32 sequence) over a few
// hundred picks, the ±1 share bound per window of generations, never an ineligible member, the default with
// run-time weights, and the same picks under both backends.
import test from 'ava';
import fc from 'fast-check';
import { Balancer, VirtualClock } from '../../bindings/index.js';
import { StrideScheduler, strideWeights } from '../../bindings/balancing/stride.js';
import { parseWeightedRoundRobin, wrrScheduler } from '../../bindings/balancing/policies/weighted-round-robin.js';
import { mulberry32 } from '../../bindings/util/random.js';
import { LOAD_WEIGHT_MAX, LOAD_WEIGHT_MIN, loadReportWeight } from '../../bindings/balancing/dynamic-weights.js';

const M = 65535n;

/** grpc StaticStrideScheduler::Make, literally (weights as C++ floats); null = gRPC's round-robin fallback. */
function grpcMake(ws: number[]): bigint[] | null {
  if (ws.length <= 1) return null;
  let sum = 0;
  let max = 0;
  let zeros = 0;
  for (const x of ws) {
    const w = Math.fround(x);
    sum += w;
    max = Math.max(max, w);
    if (w === 0) zeros++;
  }
  if (zeros === ws.length) return null;
  const mean = sum / (ws.length - zeros);
  if (max / mean > 10) max = Math.fround(10 * mean);
  const scaling = 65535 / max;
  const lround = (x: number) => Math.floor(x + 0.5); // x >= 0; half away from zero
  const m = lround(scaling * mean);
  const lower = Math.max(1, lround(m * 0.01));
  return ws.map((x) => BigInt(x === 0 ? m : Math.max(lround(Math.min(Math.fround(x), max) * scaling), lower)));
}

/** grpc StaticStrideScheduler::Pick with next_sequence_func = fetch_add on a uint32 (its index). */
class GrpcModel {
  constructor(
    readonly weights: bigint[] | null,
    readonly n: number,
    public seq: number,
  ) {}

  private next(): bigint {
    const s = BigInt(this.seq);
    this.seq = (this.seq + 1) >>> 0;
    return s;
  }

  /** `skip` (ours, for retries): an index taken but skipped costs its sequence number, as one not taken. */
  pick(skip?: (i: number) => boolean): number {
    const n = BigInt(this.n);
    for (;;) {
      const s = this.next();
      const i = s % n;
      if (this.weights !== null) {
        const g = s / n;
        const w = this.weights[Number(i)]!;
        if ((w * g + i * (M / 2n)) % M < M - w) continue;
      }
      if (skip?.(Number(i))) continue;
      return Number(i);
    }
  }
}

test('vectors derived by hand from the formula', (t) => {
  // a=1 b=2: max 2 → scale 32767.5; a = round(32767.5) = 32768, b = 65535; offsets 0, 32767.
  // s=0 a g0: 0 < 32767 skip; s=1 b; s=2 a g1: 32768 ≥ 32767 take; s=3 b; s=4 a g2: 65536 mod M = 1 skip; ...
  t.deepEqual([...strideWeights([1, 2])!], [32768, 65535]);
  const ab = new StrideScheduler(Int32Array.from([10, 11]), [1, 2], 0);
  t.deepEqual(
    Array.from({ length: 12 }, () => ab.pick()),
    [11, 10, 11, 11, 10, 11, 11, 10, 11, 11, 10, 11],
  );
  // a=5 b=1 c=1: scale 13107 → 65535 13107 13107; b, c taken when (13107 g + 32767 i) mod M ≥ 52428:
  // s=2 c (65534), s=7 b (g2: 58981), s=17 c (g5: 65534); a every generation
  t.deepEqual([...strideWeights([5, 1, 1])!], [65535, 13107, 13107]);
  const abc = new StrideScheduler(Int32Array.from([0, 1, 2]), [5, 1, 1], 0);
  t.is(Array.from({ length: 9 }, () => 'abc'[abc.pick()]).join(''), 'acaabaaac');
  t.is(abc.seq, 18);
  // kMaxRatio: 1000 among eleven 1s, mean 84.25: the max is capped to 842.5, so a 1 is round(65535 / 842.5) = 78
  // (uncapped: 66); kMinRatio: 0.001 beside 1000, 1000 (scaled mean 43690) is raised to round(436.9) = 437
  t.deepEqual([...strideWeights([1000, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1])!].slice(0, 2), [65535, 78]);
  t.deepEqual([...strideWeights([1000, 1000, 0.001])!], [65535, 65535, 437]);
  // weight 0 = unknown: the mean; one member or all 0: round robin over the sequence
  t.deepEqual([...strideWeights([0, 2, 4])!], [49151, 32768, 65535]);
  t.is(strideWeights([3]), null);
  t.is(strideWeights([0, 0]), null);
  const rr = new StrideScheduler(Int32Array.from([7, 8, 9]), [0, 0, 0], 4);
  t.deepEqual(
    Array.from({ length: 4 }, () => rr.pick()),
    [8, 9, 7, 8],
  );
  t.is(new StrideScheduler(new Int32Array(0), [], 5).pick(), -1);
});

test('= grpc StaticStrideScheduler (literal uint64 model) over 400 picks, any weights and start, across the uint32 wrap', (t) => {
  fc.assert(
    fc.property(
      fc.array(
        fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 50 }), fc.double({ min: 1e-3, max: 1e4, noNaN: true })),
        { minLength: 1, maxLength: 40 },
      ),
      fc.oneof(fc.nat(1000), fc.integer({ min: 2 ** 32 - 3000, max: 2 ** 32 - 1 }), fc.nat(2 ** 32 - 1)),
      (ws, seq) => {
        const want = new GrpcModel(grpcMake(ws), ws.length, seq);
        const got = new StrideScheduler(
          Int32Array.from(ws, (_, i) => i),
          ws,
          seq,
        );
        const sw = strideWeights(ws);
        const mw = grpcMake(ws);
        if ((sw === null) !== (mw === null) || (sw !== null && !sw.every((w, i) => BigInt(w) === mw![i]))) return false;
        for (let k = 0; k < 400; k++) if (got.pick() !== want.pick() || got.seq !== want.seq) return false;
        return true;
      },
    ),
    { numRuns: 400 },
  );
  t.pass();
});

test('shares: over G whole generations member i is picked within ±1 of G × w_i / 65535; w_i ∝ weight', (t) => {
  fc.assert(
    fc.property(
      fc.array(fc.double({ min: 0.5, max: 4, noNaN: true }), { minLength: 2, maxLength: 30 }),
      fc.nat(60_000),
      fc.integer({ min: 1, max: 3000 }),
      (ws, g0, G) => {
        const n = ws.length;
        const s = new StrideScheduler(
          Int32Array.from(ws, (_, i) => i),
          ws,
          g0 * n,
        );
        const end = (g0 + G) * n;
        const counts = new Array<number>(n).fill(0);
        for (;;) {
          const item = s.pick();
          if (s.seq - 1 >= end) break; // the sequence number that took it lies past the window
          counts[item]!++;
        }
        const w = strideWeights(ws)!;
        const max = Math.max(...ws.map(Math.fround));
        return ws.every(
          (x, i) =>
            Math.abs(counts[i]! - (G * w[i]!) / 65535) <= 1 &&
            // within the caps (max / mean ≤ 8 here), the scaled weight is the weight, rounded
            Math.abs(w[i]! - (Math.fround(x) * 65535) / max) <= 0.5 + 1e-9,
        );
      },
    ),
    { numRuns: 200 },
  );
  t.pass();
});

test('never an excluded or unavailable member; nothing when every member is excluded', (t) => {
  fc.assert(
    fc.property(
      fc.array(fc.double({ min: 0.01, max: 100, noNaN: true }), { minLength: 1, maxLength: 12 }),
      fc.array(fc.tuple(fc.array(fc.nat(11), { maxLength: 12 }), fc.option(fc.nat(11), { nil: undefined })), {
        maxLength: 60,
      }),
      fc.nat(2 ** 32 - 1),
      (ws, steps, seed) => {
        const ids = ws.map((_, i) => `m${i}`);
        const lb = new Balancer({
          policy: { name: 'weighted_round_robin', scheduler: 'stride' },
          random: mulberry32(seed),
          panicThresholdPercent: 0,
          endpoints: ws.map((weight, i) => ({ id: ids[i]!, weight })),
        });
        const down = new Set<string>();
        for (const [exclude, flip] of steps) {
          if (flip !== undefined && flip < ids.length) {
            const id = ids[flip]!;
            if (down.has(id)) down.delete(id);
            else down.add(id);
            lb.setAvailable(id, !down.has(id));
          }
          const ex = new Set(exclude.filter((i) => i < ids.length).map((i) => ids[i]!));
          const p = lb.pick({ exclude: ex });
          const left = ids.filter((id) => !ex.has(id) && !down.has(id));
          if (left.length === 0) {
            if (p.type === 'pick') return false;
          } else if (p.type !== 'pick' || ex.has(p.member.id) || down.has(p.member.id)) return false;
        }
        lb.close();
        return true;
      },
    ),
    { numRuns: 300 },
  );
  // the only member left weighs 1/1000 of the others (raised to 1% of the mean): still found
  const lb = new Balancer({
    policy: { name: 'weighted_round_robin', scheduler: 'stride' },
    endpoints: [
      { id: 'a', weight: 1000 },
      { id: 'b', weight: 1000 },
      { id: 'c', weight: 1 },
    ],
  });
  for (let i = 0; i < 50; i++) t.is(lb.pickOrThrow({ exclude: new Set(['a', 'b']) }).member.id, 'c');
  lb.close();
});

test("default: 'stride' with dynamicWeights or loadReports, 'nginx' otherwise; an explicit scheduler wins", (t) => {
  const sched = (json: object) => wrrScheduler(parseWeightedRoundRobin(json));
  t.is(sched({}), 'nginx');
  t.is(sched({ slowStart: { windowMs: 1000 } }), 'nginx');
  t.is(sched({ dynamicWeights: true }), 'stride');
  t.is(sched({ loadReports: true }), 'stride');
  t.is(sched({ blackout_period: '1s' }), 'stride'); // A58 keys flat beside the policy's
  t.is(sched({ dynamicWeights: true, scheduler: 'nginx' }), 'nginx');
  t.is(sched({ loadReports: true, scheduler: 'edf' }), 'edf');
  t.is(sched({ scheduler: 'stride' }), 'stride');
  t.deepEqual(parseWeightedRoundRobin({ scheduler: 'stride' }), {
    maxFails: 1,
    failTimeoutMs: 10_000,
    scheduler: 'stride',
  });
  t.throws(() => parseWeightedRoundRobin({ scheduler: 'wfq' }), {
    instanceOf: RangeError,
    message: /scheduler.*'nginx', 'edf' or 'stride'.*wfq/,
  });
  // nginx's per-member numbers only where nginx runs
  const stats = (policy: object) =>
    new Balancer({ policy, endpoints: ['a:1', 'b:1'] }).stats().members[0]!.currentWeight;
  t.is(stats({ name: 'weighted_round_robin', dynamicWeights: true }), undefined);
  t.is(stats({ name: 'weighted_round_robin', dynamicWeights: true, scheduler: 'nginx' }), 0);
});

for (const backend of ['js', 'wasm'] as const) {
  test(`${backend}: Balancer picks = the gRPC model from random() × 2^32, continued across rebuilds`, (t) => {
    const ws = [3, 1, 2, 5, 1.5];
    const ids = ws.map((_, i) => `m${i}`);
    const clock = new VirtualClock(0);
    const lb = new Balancer({
      policy: { name: 'weighted_round_robin', dynamicWeights: true },
      backend,
      clock,
      random: () => 0.75,
      endpoints: ws.map((weight, i) => ({ id: ids[i]!, weight })),
    });
    const model = new GrpcModel(grpcMake(ws), ws.length, 0.75 * 2 ** 32);
    for (let i = 0; i < 300; i++) t.is(lb.pickOrThrow().member.id, ids[model.pick()]!);
    // m1 leaves the eligible set: the next picker continues the sequence over the 4 rows left
    lb.setAvailable('m1', false);
    const rest = [0, 2, 3, 4];
    const after = new GrpcModel(grpcMake(rest.map((i) => ws[i]!)), 4, model.seq);
    for (let i = 0; i < 300; i++) t.is(lb.pickOrThrow().member.id, ids[rest[after.pick()]!]!);
    // dynamic weights move (failures): the picker is rebuilt with the new weights, the sequence goes on
    // (excluding all but m3: skipped takers cost their sequence numbers)
    const ex = new Set(['m0', 'm2', 'm4']);
    for (let i = 0; i < 40; i++) {
      const p = lb.pickOrThrow({ exclude: ex });
      t.is(p.member.id, ids[rest[after.pick((k) => ex.has(ids[rest[k]!]!))]!]!);
      p.handle.done({ ok: false });
    }
    clock.tick(1000);
    lb.refresh();
    const now = lb.stats().members.filter((m) => m.id !== 'm1');
    t.true(now.find((m) => m.id === 'm3')!.weight < 5, JSON.stringify(now));
    const moved = new GrpcModel(grpcMake(now.map((m) => m.weight)), 4, after.seq);
    for (let i = 0; i < 300; i++) t.is(lb.pickOrThrow().member.id, now[moved.pick()]!.id);
    lb.close();
  });
}

/** Every scaled weight >= 1 (a pick then ends within M generations), or null (round robin). */
function pickable(ws: number[]): boolean {
  const s = strideWeights(ws);
  return s === null || s.every((w) => w >= 1);
}

test('weights gRPC cannot scale fall back or clamp: a pick always ends (float32 overflow, NaN, negative)', (t) => {
  const cases = [
    [1e39, 1],
    [1e308, 5e-324],
    [1e308, 1e308, 1],
    [3.4e38, 3.4e38, 3.4e38],
    [Infinity, 1],
    [NaN, 1],
    [-1, -2],
    [-1, 3],
  ];
  for (const ws of cases) {
    t.true(pickable(ws), JSON.stringify(ws)); // checked first: a regression fails here instead of hanging below
    const s = new StrideScheduler(
      Int32Array.from(ws, (_, i) => i),
      ws,
      0,
    );
    const seen = new Set<number>();
    for (let i = 0; i < 200; i++) seen.add(s.pick());
    t.false(seen.has(-1));
  }
  // above the largest float32 a weight counts as that float: still weighted, not equal
  const big = strideWeights([1e39, 3.4028234663852886e38 / 4])!;
  t.deepEqual([...big], [65535, 16384]);
  // valid weights are untouched (= gRPC)
  t.deepEqual([...strideWeights([1, 2])!], [32768, 65535]);
  fc.assert(
    fc.property(fc.array(fc.double(), { minLength: 2, maxLength: 6 }), (ws) => pickable(ws)),
    { numRuns: 500 },
  );
});

for (const backend of ['js', 'wasm'] as const) {
  test(`${backend}: stride picks with a weight above float32 range or a huge load report (no hang)`, (t) => {
    const lb = new Balancer({
      backend,
      policy: { weighted_round_robin: { scheduler: 'stride' } },
      endpoints: [
        { id: 'a', weight: 1e39 },
        { id: 'b', weight: 1 },
      ],
    });
    t.true(pickable(lb.stats().members.map((m) => m.weight)));
    const n = { a: 0, b: 0 } as Record<string, number>;
    for (let i = 0; i < 100; i++) n[lb.pickOrThrow().member.id]!++;
    t.true(n.a! > n.b!, JSON.stringify(n));
    lb.close();

    const clock = new VirtualClock(0);
    const lr = new Balancer({
      backend,
      clock,
      policy: { weighted_round_robin: { scheduler: 'stride', loadReports: { blackoutPeriodMs: 0 } } },
      endpoints: ['a', 'b', 'c'],
    });
    t.true(lr.reportLoad('a', { qps: 1e30, utilization: 1e-10 })); // qps / utilization = Infinity
    t.true(lr.reportLoad('b', { qps: 1e-300, utilization: 1e300 })); // underflows to 0
    clock.tick(2000);
    lr.refresh();
    const ws = lr.stats().members.map((m) => m.weight);
    t.deepEqual(ws.slice(0, 2), [LOAD_WEIGHT_MAX, LOAD_WEIGHT_MIN]);
    t.true(pickable(ws));
    for (let i = 0; i < 30; i++) t.is(lr.pick().type, 'pick');
    lr.close();
  });
}

test('loadReportWeight: finite and clamped to [LOAD_WEIGHT_MIN, LOAD_WEIGHT_MAX]; 0 without a signal', (t) => {
  const c = { blackoutPeriodMs: 0, weightExpirationPeriodMs: 1000, errorUtilizationPenalty: 1 };
  t.is(loadReportWeight(c, { qps: 100, utilization: 0.5 }), 200);
  t.is(loadReportWeight(c, { qps: 100, eps: 10, utilization: 0.4 }), 200);
  t.is(loadReportWeight(c, { qps: 1e30, utilization: 1e-10 }), LOAD_WEIGHT_MAX);
  t.is(loadReportWeight(c, { qps: Number.MAX_VALUE, utilization: Number.MIN_VALUE }), LOAD_WEIGHT_MAX);
  t.is(loadReportWeight(c, { qps: 1e-300, utilization: 1e300 }), LOAD_WEIGHT_MIN);
  // eps / qps = Infinity with no penalty: the penalty term is 0, not NaN
  t.is(loadReportWeight({ ...c, errorUtilizationPenalty: 0 }, { qps: 1e-5, eps: 1e305, utilization: 1 }), 1e-5);
  t.is(loadReportWeight(c, { qps: 0, utilization: 1 }), 0);
  t.is(loadReportWeight(c, { qps: 1, utilization: 0 }), 0);
});

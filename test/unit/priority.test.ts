// Envoy priority levels, panic, locality-weighted and zone-aware routing (bindings/balancing/priority.ts,
// locality.ts). Golden rows are Envoy's documentation tables (arch_overview/upstream/load_balancing: priority,
// panic_threshold, locality_weight); each is recomputed here from the formula written out in the test and
// compared with the module and with the documented figure.
import test from 'ava';
import fc from 'fast-check';
import {
  buildPriorityPicker,
  parsePriorityOptions,
  priorityLoads,
  type PriorityOptions,
  type PriorityPickerInput,
} from '../../bindings/balancing/priority.js';
import { COL_WEIGHT, type Picker, type PolicyEnv, StateTable } from '../../bindings/balancing/picker.js';
import { RoundRobinPolicy } from '../../bindings/balancing/policies/round-robin.js';
import { HashPolicy } from '../../bindings/balancing/policies/hash.js';
import { type Endpoint, parseEndpoint, parseLocality } from '../../bindings/util/endpoint.js';
import { mulberry32, type Random } from '../../bindings/util/random.js';
import { VirtualClock } from '../../bindings/util/clock.js';
import { Balancer } from '../../bindings/balancing/balancer.js';

// ---- the formulas, written out independently of the module ----------------------------------------------

/** Envoy: health(P) = min(100, ⌊140 × healthy / total⌋), integer percent (factor as Envoy's percentage). */
function envoyHealth(healthy: number, total: number, factorPercent = 140): number {
  return total === 0 ? 0 : Math.min(100, Math.floor((factorPercent * healthy) / total));
}

/** Envoy distributeLoad: load(P) = min(left, ⌊health(P) × 100 / min(100, Σ health)⌋), remainder to the first level with health. */
function envoyLoads(health: number[]): number[] {
  const total = Math.min(
    100,
    health.reduce((a, b) => a + b, 0),
  );
  if (total === 0) return health.map((_, i) => (i === 0 ? 100 : 0));
  let left = 100;
  const load = health.map((h) => {
    const l = Math.min(left, Math.floor((h * 100) / total));
    left -= l;
    return l;
  });
  load[health.findIndex((h) => h > 0)]! += left;
  return load;
}

// ---- fixtures ---------------------------------------------------------------------------------------------

/** `counts[p] = [healthy, total]` members at priority p (ids "p<priority>-<i>", the first `healthy` available). */
function fleet(
  spec: { priority: number; healthy: number; total: number; locality?: string; meta?: Record<string, unknown> }[],
): {
  members: Endpoint[];
  down: Set<number>;
} {
  const members: Endpoint[] = [];
  const down = new Set<number>();
  for (const s of spec) {
    for (let i = 0; i < s.total; i++) {
      if (i >= s.healthy) down.add(members.length);
      members.push(
        parseEndpoint({
          id: `p${s.priority}-${s.locality ?? ''}-${i}`,
          priority: s.priority,
          ...(s.locality !== undefined && { locality: parseLocality(s.locality) }),
          ...(s.meta !== undefined && { metadata: s.meta }),
        }),
      );
    }
  }
  return { members, down };
}

/** A uniform random picker over `rows`, skipping excluded ids: a stand-in for any policy. */
function uniform(rows: Int32Array, members: readonly Endpoint[], random: Random): Picker {
  return {
    rows,
    pick(ctx) {
      const n = rows.length;
      if (n === 0) return -1;
      const s = Math.floor(random() * n);
      for (let k = 0; k < n; k++) {
        const r = rows[(s + k) % n]!;
        if (ctx?.exclude === undefined || !ctx.exclude.has(members[r]!.id)) return r;
      }
      return -1;
    },
  };
}

function build(
  spec: Parameters<typeof fleet>[0],
  options: Partial<PriorityOptions> | object = {},
  seed = 1,
): ReturnType<typeof buildPriorityPicker> & { members: Endpoint[]; down: Set<number> } {
  const { members, down } = fleet(spec);
  const random = mulberry32(seed);
  const r = buildPriorityPicker({
    rows: Int32Array.from(members.keys()),
    members,
    available: (row) => !down.has(row),
    options: parsePriorityOptions(options),
    build: (rows) => uniform(rows, members, random),
    random,
  });
  return { ...r, members, down };
}

/** Share of `n` picks per value of `by(member)`, in percent; -1 results counted under 'none'. */
function shares(
  picker: Picker,
  members: readonly Endpoint[],
  by: (m: Endpoint) => string,
  n = 100_000,
): Map<string, number> {
  const c = new Map<string, number>();
  for (let i = 0; i < n; i++) {
    const r = picker.pick(undefined, NaN);
    const k = r < 0 ? 'none' : by(members[r]!);
    c.set(k, (c.get(k) ?? 0) + 1);
  }
  return new Map([...c].map(([k, v]) => [k, (100 * v) / n]));
}

const byPriority = (m: Endpoint): string => `P${m.priority}`;
const byLocality = (m: Endpoint): string => m.locality?.zone ?? '';

// ---- golden tables ----------------------------------------------------------------------------------------

test('Envoy priority table (2 levels, P=1 100% healthy): loads 100/100/99/70/35/0 from the formula', (t) => {
  // docs "Priority levels": P=0 healthy → traffic to P=0 / P=1
  const doc: [number, number, number][] = [
    [100, 100, 0],
    [72, 100, 0],
    [71, 99, 1],
    [50, 70, 30],
    [25, 35, 65],
    [0, 0, 100],
  ];
  for (const [p0, to0, to1] of doc) {
    const formula = envoyLoads([envoyHealth(p0, 100), envoyHealth(100, 100)]);
    const got = priorityLoads(
      [
        { healthy: p0, total: 100 },
        { healthy: 100, total: 100 },
      ],
      1.4,
      50,
    );
    t.deepEqual(got.load, formula, `P0 ${p0}%`);
    t.deepEqual(got.load, [to0, to1], `P0 ${p0}% (doc)`);
    t.deepEqual(got.panic, [false, false]);
  }
  // 71% → 1.4 × 71 = 99.4: Envoy's integer health is 99 (the doc: "integer health scores")
  t.is(priorityLoads([{ healthy: 71, total: 100 }], 1.4, 50).health[0], 99);
});

test('Envoy priority tables with 2 and 3 unhealthy levels (normalized total health)', (t) => {
  // the priority page leaves panic aside: threshold 0 here (panic has its own table below)
  const two: [number, number, number, number][] = [
    [100, 100, 100, 0],
    [72, 72, 100, 0],
    [71, 71, 99, 1],
    [50, 50, 70, 30],
    [25, 100, 35, 65],
    [25, 25, 50, 50],
  ];
  for (const [a, b, la, lb] of two) {
    const got = priorityLoads(
      [
        { healthy: a, total: 100 },
        { healthy: b, total: 100 },
      ],
      1.4,
      0,
    ).load;
    t.deepEqual(got, [la, lb], `${a}/${b}`);
  }
  // { 20, 30 } health → normalized total 50 → loads { 40, 60 } (doc example)
  const h = priorityLoads(
    [
      { healthy: 1, total: 7 }, // ⌊140/7⌋ = 20
      { healthy: 3, total: 14 }, // ⌊420/14⌋ = 30
    ],
    1.4,
    0,
  );
  t.deepEqual(
    [h.health, h.load],
    [
      [20, 30],
      [40, 60],
    ],
  );
  const three: [number, number, number, number[]][] = [
    [100, 100, 100, [100, 0, 0]],
    [72, 72, 100, [100, 0, 0]],
    [71, 71, 100, [99, 1, 0]],
    [50, 50, 100, [70, 30, 0]],
    [25, 100, 100, [35, 65, 0]],
    [25, 25, 100, [35, 35, 30]],
  ];
  for (const [a, b, c, want] of three) {
    const lv = [a, b, c].map((healthy) => ({ healthy, total: 100 }));
    t.deepEqual(priorityLoads(lv, 1.4, 0).load, want, `${a}/${b}/${c}`);
  }
  // The doc's last row (25/25/20 → 36/36/28) leaves panic aside and rounds real numbers. Envoy's code with panic
  // disabled truncates and gives the remainder to the first level: health 35/35/28, total 98 → ⌊3500/98⌋ = 35,
  // 35, ⌊2800/98⌋ = 28, + 2 → 37/35/28. With the default threshold (50%) every level is below it and the total is
  // under 100: total panic, loads by member counts (100 each) → 34/33/33.
  const lv = [25, 25, 20].map((healthy) => ({ healthy, total: 100 }));
  const last = priorityLoads(lv, 1.4, 0).load;
  t.deepEqual(last, envoyLoads([35, 35, 28]));
  t.deepEqual(last, [37, 35, 28]);
  t.deepEqual(priorityLoads(lv, 1.4, 50).load, [34, 33, 33]);
  [36, 36, 28].forEach((doc, i) => t.true(Math.abs(last[i]! - doc) <= 1));
});

test('Envoy panic table: panic only when normalized total health < 100, per level, total panic by member counts', (t) => {
  // docs "Panic threshold" (threshold 50%): P=0, P=1 healthy → traffic, in panic
  const rows: [number, number, number[], boolean[]][] = [
    [72, 72, [100, 0], [false, false]],
    [71, 71, [99, 1], [false, false]],
    [25, 25, [50, 50], [true, true]], // normalized total 70: both below 50% healthy → total panic, 100 + 100 members
    // doc: 7/93 (real numbers rounded); Envoy's integers: health 7 + 91 = 98 → ⌊700/98⌋ = 7, ⌊9100/98⌋ = 92, +1 → 8/92
    [5, 65, [8, 92], [true, false]],
  ];
  for (const [a, b, load, panic] of rows) {
    const got = priorityLoads(
      [
        { healthy: a, total: 100 },
        { healthy: b, total: 100 },
      ],
      1.4,
      50,
    );
    t.deepEqual(got.load, load, `${a}/${b}`);
    t.deepEqual(got.panic, panic, `${a}/${b} panic`);
    t.is(got.normalizedTotalHealth, Math.min(100, envoyHealth(a, 100) + envoyHealth(b, 100)));
  }
  // The panic page's rows 50/60 → "50/50" and 25/100 → "25/75" disagree with its own formula and with the
  // priority page (25/100 → 35/65 above); the formula gives 70/30 and 35/65, with total health 100 (no panic).
  t.deepEqual(
    priorityLoads(
      [
        { healthy: 50, total: 100 },
        { healthy: 60, total: 100 },
      ],
      1.4,
      50,
    ).load,
    envoyLoads([70, 84]),
  );
  // total panic: loads follow member counts (4 and 6 members, none healthy): 40/60
  const tp = priorityLoads(
    [
      { healthy: 0, total: 4 },
      { healthy: 0, total: 6 },
    ],
    1.4,
    50,
  );
  t.deepEqual([tp.load, tp.totalPanic], [[40, 60], true]);
  // threshold 0: no panic; nobody healthy → 100% to level 0 (Envoy), where nobody can be picked
  const off = priorityLoads(
    [
      { healthy: 0, total: 4 },
      { healthy: 0, total: 6 },
    ],
    1.4,
    0,
  );
  t.deepEqual(
    [off.load, off.panic],
    [
      [100, 0],
      [false, false],
    ],
  );
  // one level, 75% healthy, threshold 80: health min(100, 105) = 100 → total 100 → no panic (Envoy)
  t.deepEqual(priorityLoads([{ healthy: 3, total: 4 }], 1.4, 80).panic, [false]);
  t.deepEqual(priorityLoads([{ healthy: 2, total: 3 }], 1.4, 70).panic, [true]); // health 93, 66.7% < 70
});

test('Envoy locality-weighted table: X weight 1, Y weight 2 (Y all healthy) → X 33/33/32/26/15/0 %', (t) => {
  const doc: [number, number][] = [
    [100, 33],
    [70, 33],
    [69, 32],
    [50, 26],
    [25, 15],
    [0, 0],
  ];
  for (const [healthyX, pctX] of doc) {
    // effective_weight = weight × min(1, 1.4 × healthy / total); share = effective / Σ effective
    const ex = 1 * Math.min(1, (1.4 * healthyX) / 100);
    const want = (100 * ex) / (ex + 2);
    const { levels, picker, members } = build(
      [
        { priority: 0, healthy: healthyX, total: 100, locality: 'r/x', meta: { localityWeight: 1 } },
        { priority: 0, healthy: 100, total: 100, locality: 'r/y', meta: { localityWeight: 2 } },
      ],
      { localityWeighted: true, panicThresholdPercent: 0 },
    );
    const x = levels[0]!.localities!.find((l) => l.locality === 'r/x/')!;
    t.is(x.effectiveWeight, ex);
    t.true(Math.abs(x.sharePercent! - want) < 1e-9);
    t.true(Math.abs(x.sharePercent! - pctX) < 1, `X ${healthyX}%: ${x.sharePercent} vs doc ${pctX}`);
    const got = shares(picker, members, byLocality, 50_000);
    t.true(Math.abs((got.get('x') ?? 0) - want) < 1, `sampled X ${got.get('x')} vs ${want}`);
  }
});

// ---- levels and picking -----------------------------------------------------------------------------------

test('picks follow the priority loads: P0 50% healthy → 70/30, only healthy members', (t) => {
  const { picker, members, down, levels, panic } = build([
    { priority: 0, healthy: 5, total: 10 },
    { priority: 1, healthy: 10, total: 10 },
  ]);
  t.false(panic);
  t.deepEqual(
    levels.map((l) => [l.priority, l.level, l.total, l.healthy, l.healthPercent, l.loadPercent, l.panic]),
    [
      [0, 0, 10, 5, 70, 70, false],
      [1, 1, 10, 10, 100, 30, false],
    ],
  );
  const got = shares(picker, members, byPriority);
  t.true(Math.abs(got.get('P0')! - 70) < 1, String(got.get('P0')));
  t.true(Math.abs(got.get('P1')! - 30) < 1);
  t.false(got.has('none'));
  for (let i = 0; i < 1000; i++) t.false(down.has(picker.pick(undefined, NaN)));
  t.is(picker.rows.length, 15); // the union of the levels' healthy rows
});

test('priorities that skip numbers (0 and 2) work as Envoy levels 0 and 1 (an empty level 1)', (t) => {
  const a = build([
    { priority: 0, healthy: 1, total: 4 },
    { priority: 2, healthy: 4, total: 4 },
  ]);
  const b = build([
    { priority: 0, healthy: 1, total: 4 },
    { priority: 1, healthy: 4, total: 4 },
  ]);
  t.deepEqual(
    a.levels.map((l) => [l.priority, l.level, l.loadPercent]),
    [
      [0, 0, 35],
      [2, 1, 65],
    ],
  );
  t.deepEqual(
    a.levels.map((l) => l.loadPercent),
    b.levels.map((l) => l.loadPercent),
  );
  // with Envoy's empty level 1 in between: health 35, 0, 100 → same loads
  t.deepEqual(envoyLoads([35, 0, 100]), [35, 0, 65]);
  // same seed, same picks (as member indices)
  const pa = Array.from({ length: 200 }, () => a.picker.pick(undefined, NaN));
  const pb = Array.from({ length: 200 }, () => b.picker.pick(undefined, NaN));
  t.deepEqual(pa, pb);
});

test("panic 'all': a level in panic picks over all its members; 'fail' fails exactly its share", (t) => {
  // 5% / 65% healthy (20 members each: 1 and 13): health 7 + 91 = 98 < 100; P0 5% < 50% → panic
  const spec = [
    { priority: 0, healthy: 1, total: 20 },
    { priority: 1, healthy: 13, total: 20 },
  ];
  const all = build(spec);
  t.true(all.panic);
  t.deepEqual(
    all.levels.map((l) => [l.loadPercent, l.panic]),
    [
      [8, true],
      [92, false],
    ],
  );
  const seen = new Set<number>();
  for (let i = 0; i < 20_000; i++) {
    const r = all.picker.pick(undefined, NaN);
    if (all.members[r]!.priority === 0) seen.add(r);
    else t.false(all.down.has(r));
  }
  t.is(seen.size, 20); // every P0 member, healthy or not
  const fail = build(spec, { panicMode: 'fail' });
  t.true(fail.panic);
  const got = shares(fail.picker, fail.members, byPriority);
  t.true(Math.abs(got.get('none')! - 8) < 0.5, String(got.get('none')));
  t.true(Math.abs(got.get('P1')! - 92) < 0.5);
  t.false(got.has('P0'));
});

test('total panic and threshold 0 with nobody healthy', (t) => {
  const tp = build([
    { priority: 0, healthy: 0, total: 4 },
    { priority: 1, healthy: 0, total: 6 },
  ]);
  t.true(tp.panic);
  const got = shares(tp.picker, tp.members, byPriority);
  t.true(Math.abs(got.get('P0')! - 40) < 1);
  t.true(Math.abs(got.get('P1')! - 60) < 1);
  const off = build(
    [
      { priority: 0, healthy: 0, total: 4 },
      { priority: 1, healthy: 0, total: 6 },
    ],
    { panicThresholdPercent: 0 },
  );
  t.false(off.panic);
  t.deepEqual(
    off.levels.map((l) => l.loadPercent),
    [100, 0],
  );
  t.is(off.picker.pick(undefined, NaN), -1);
  t.is(off.picker.rows.length, 0);
  const failAll = build([{ priority: 0, healthy: 0, total: 3 }], { panicMode: 'fail' });
  t.true(failAll.panic);
  t.is(failAll.picker.pick(undefined, NaN), -1);
});

test('a level whose picker returns -1 falls back to the whole level, then to the next level', (t) => {
  const { picker, members } = build([
    { priority: 0, healthy: 3, total: 3 },
    { priority: 1, healthy: 2, total: 2 },
  ]);
  const p0 = new Set(members.filter((m) => m.priority === 0).map((m) => m.id));
  for (let i = 0; i < 200; i++) {
    const r = picker.pick({ exclude: p0 }, NaN);
    t.is(members[r]!.priority, 1);
  }
  t.is(picker.pick({ exclude: new Set(members.map((m) => m.id)) }, NaN), -1);
  // a locality subset with everything excluded falls back to the other localities of the level
  const loc = build(
    [
      { priority: 0, healthy: 3, total: 3, locality: 'r/a' },
      { priority: 0, healthy: 3, total: 3, locality: 'r/b' },
    ],
    { localityWeighted: true },
  );
  const a = new Set(loc.members.filter((m) => m.locality!.zone === 'a').map((m) => m.id));
  for (let i = 0; i < 200; i++) t.is(loc.members[loc.picker.pick({ exclude: a }, NaN)]!.locality!.zone, 'b');
});

test('fast path: one level and no locality step is the policy picker itself', (t) => {
  const { members } = fleet([{ priority: 0, healthy: 4, total: 4 }]);
  const built: Picker[] = [];
  const random = mulberry32(3);
  const input: PriorityPickerInput = {
    rows: Int32Array.from(members.keys()),
    members,
    available: () => true,
    options: parsePriorityOptions({}),
    build: (rows) => {
      const p = uniform(rows, members, random);
      built.push(p);
      return p;
    },
    random,
  };
  const r = buildPriorityPicker(input);
  t.is(built.length, 1);
  t.is(r.picker, built[0]!);
  t.deepEqual([...r.picker.rows], [0, 1, 2, 3]);
  // localities without locality weighting or zone routing: still the fast path
  const withLoc = fleet([
    { priority: 0, healthy: 2, total: 2, locality: 'r/a' },
    { priority: 0, healthy: 2, total: 2, locality: 'r/b' },
  ]).members;
  built.length = 0;
  const r2 = buildPriorityPicker({ ...input, members: withLoc, rows: Int32Array.from(withLoc.keys()) });
  t.is(r2.picker, built[0]!);
  t.deepEqual(
    r2.levels[0]!.localities!.map((l) => [l.locality, l.total, l.weight]),
    [
      ['r/a/', 2, 2],
      ['r/b/', 2, 2],
    ],
  );
  // no members: the policy's empty picker
  built.length = 0;
  const r3 = buildPriorityPicker({ ...input, members: [], rows: new Int32Array(0) });
  t.is(r3.picker, built[0]!);
  t.deepEqual(r3.levels, []);
});

test('keyed picks choose the level from the key hash: stable per key, shares follow the loads', (t) => {
  const { picker, members } = build([
    { priority: 0, healthy: 5, total: 10 },
    { priority: 1, healthy: 10, total: 10 },
  ]);
  // the per-subset picker here ignores keys; the level is what the key fixes
  for (let k = 0; k < 200; k++) {
    const key = `user:${k}`;
    const level = members[picker.pick({ key }, NaN)]!.priority;
    for (let i = 0; i < 5; i++) t.is(members[picker.pick({ key }, NaN)]!.priority, level);
  }
  let p0 = 0;
  const n = 20_000;
  for (let k = 0; k < n; k++) if (members[picker.pick({ key: `k${k}` }, NaN)]!.priority === 0) p0++;
  t.true(Math.abs((100 * p0) / n - 70) < 1.5, String((100 * p0) / n));
});

// ---- locality weights -------------------------------------------------------------------------------------

test('locality weights: metadata.localityWeight, else the sum of member weights; weight 0 gets nothing', (t) => {
  const { members } = fleet([]);
  const mk = (id: string, zone: string, weight: number, meta?: Record<string, unknown>): Endpoint =>
    parseEndpoint({
      id,
      weight,
      locality: { region: 'r', zone, subZone: '' },
      ...(meta !== undefined && { metadata: meta }),
    });
  members.push(mk('a1', 'a', 1), mk('a2', 'a', 3), mk('b1', 'b', 1), mk('c1', 'c', 1, { localityWeight: 0 }));
  const random = mulberry32(9);
  const r = buildPriorityPicker({
    rows: Int32Array.from(members.keys()),
    members,
    available: () => true,
    options: parsePriorityOptions({ localityWeighted: true }),
    build: (rows) => uniform(rows, members, random),
    random,
  });
  t.deepEqual(
    r.levels[0]!.localities!.map((l) => [l.locality, l.weight, l.effectiveWeight, l.sharePercent]),
    [
      ['r/a/', 4, 4, 80],
      ['r/b/', 1, 1, 20],
      ['r/c/', 0, 0, 0],
    ],
  );
  const got = shares(r.picker, members, byLocality);
  t.true(Math.abs(got.get('a')! - 80) < 1);
  t.true(Math.abs(got.get('b')! - 20) < 1);
  t.false(got.has('c'));
});

test('locality weighting with a real policy per locality: round_robin within each locality', (t) => {
  const { members } = fleet([
    { priority: 0, healthy: 2, total: 2, locality: 'r/a', meta: { localityWeight: 3 } },
    { priority: 0, healthy: 2, total: 2, locality: 'r/b', meta: { localityWeight: 1 } },
  ]);
  const random = mulberry32(5);
  const env: PolicyEnv = {
    table: new StateTable(members.length, null),
    ids: members.map((m) => m.id),
    members,
    clock: new VirtualClock(),
    random,
    now: () => 0,
    wasm: null,
  };
  const policies = new Map<string, RoundRobinPolicy>();
  const r = buildPriorityPicker({
    rows: Int32Array.from(members.keys()),
    members,
    available: () => true,
    options: parsePriorityOptions({ localityWeighted: true }),
    build: (rows, slot) => {
      if (!policies.has(slot)) policies.set(slot, new RoundRobinPolicy());
      return policies.get(slot)!.build(rows, env);
    },
    random,
  });
  t.deepEqual([...policies.keys()].sort(), ['p0', 'p0/r/a/', 'p0/r/b/']);
  const counts = new Map<string, number>();
  for (let i = 0; i < 40_000; i++) {
    const id = members[r.picker.pick(undefined, NaN)]!.id;
    counts.set(id, (counts.get(id) ?? 0) + 1);
  }
  // a: 75% split evenly by round robin (the two counts differ by at most one), b: 25%
  const [a0, a1, b0, b1] = ['p0-r/a-0', 'p0-r/a-1', 'p0-r/b-0', 'p0-r/b-1'].map((id) => counts.get(id)!);
  t.true(Math.abs(a0! - a1!) <= 1 && Math.abs(b0! - b1!) <= 1);
  t.true(Math.abs((100 * (a0! + a1!)) / 40_000 - 75) < 1);
});

test('keyed picks with a hash policy per slot stay on one member while the membership is unchanged', (t) => {
  const { members } = fleet([
    { priority: 0, healthy: 3, total: 3, locality: 'r/a' },
    { priority: 0, healthy: 3, total: 3, locality: 'r/b' },
    { priority: 1, healthy: 3, total: 3, locality: 'r/c' },
  ]);
  const env: PolicyEnv = {
    table: new StateTable(members.length, null),
    ids: members.map((m) => m.id),
    members,
    clock: new VirtualClock(),
    random: mulberry32(2),
    now: () => 0,
    wasm: null,
  };
  for (let r = 0; r < members.length; r++) env.table.set(COL_WEIGHT, r, 1);
  const policies = new Map<string, HashPolicy>();
  const make = (): ReturnType<typeof buildPriorityPicker> =>
    buildPriorityPicker({
      rows: Int32Array.from(members.keys()),
      members,
      available: () => true,
      options: parsePriorityOptions({ localityWeighted: true }),
      build: (rows, slot) => {
        if (!policies.has(slot)) policies.set(slot, new HashPolicy({}, 'xxhash_ring'));
        return policies.get(slot)!.build(rows, env);
      },
      random: mulberry32(2),
    });
  const first = make().picker;
  const second = make().picker; // a rebuild with the same membership
  const zones = new Set<string>();
  for (let k = 0; k < 500; k++) {
    const key = `session-${k}`;
    const r = first.pick({ key }, NaN);
    t.true(r >= 0);
    t.is(first.pick({ key }, NaN), r);
    t.is(second.pick({ key }, NaN), r);
    zones.add(members[r]!.locality!.zone);
  }
  t.deepEqual([...zones].sort(), ['a', 'b']); // all load on priority 0, spread over both localities
});

// ---- zone-aware routing -----------------------------------------------------------------------------------

const zones3 = (a: number, b: number, c: number, total = 3): Parameters<typeof fleet>[0] => [
  { priority: 0, healthy: a, total, locality: 'r/a' },
  { priority: 0, healthy: b, total, locality: 'r/b' },
  { priority: 0, healthy: c, total, locality: 'r/c' },
];

test('zone-aware: all local when the local zone keeps its share (default shares = member counts)', (t) => {
  const { picker, members, levels } = build(zones3(3, 3, 3), { zoneAware: { localZone: 'r/a' } });
  t.like(levels[0]!.zone, { mode: 'direct', local: 0, localPercent: [3333, 3333, 3333] });
  const got = shares(picker, members, byLocality, 10_000);
  t.is(got.get('a'), 100);
});

test('zone-aware residual: local zone loses a member → 75% local, the rest to spare capacity', (t) => {
  // healthy 2/3/3 of 3/3/3: upstream% = ⌊10000 × h / 8⌋ = 2500, 3750, 3750; local% = 3333 each
  // local routed = ⌊2500 × 10000 / 3333⌋ = 7500; residual capacity b, c = 3750 − 3333 = 417 each
  const { picker, members, levels } = build(zones3(2, 3, 3), { zoneAware: { localZone: 'r/a', minClusterSize: 6 } });
  const z = levels[0]!.zone!;
  t.deepEqual(z, {
    mode: 'residual',
    local: 0,
    localPercent: [3333, 3333, 3333],
    upstreamPercent: [2500, 3750, 3750],
    localPercentToRoute: Math.floor((2500 * 10000) / 3333),
    residual: [0, 417, 834],
  });
  const got = shares(picker, members, byLocality);
  t.true(Math.abs(got.get('a')! - 75) < 1, String(got.get('a')));
  t.true(Math.abs(got.get('b')! - 12.5) < 1);
  t.true(Math.abs(got.get('c')! - 12.5) < 1);
});

test("zone-aware with the callers' shares: Envoy's example 40/40/20 local vs 25/50/25 upstream", (t) => {
  // local% 4000/4000/2000, upstream% 2500/5000/2500 → local routed 2500 × 10000 / 4000 = 6250;
  // residual capacity: b 1000, c 500 → of the 37.5% crossing zones, b gets 2/3 (25%), c 1/3 (12.5%)
  const spec = [
    { priority: 0, healthy: 25, total: 25, locality: 'r/a' },
    { priority: 0, healthy: 50, total: 50, locality: 'r/b' },
    { priority: 0, healthy: 25, total: 25, locality: 'r/c' },
  ];
  const { picker, members, levels } = build(spec, {
    zoneAware: { localZone: 'r/a', localZoneShares: { 'r/a': 40, 'r/b': 40, 'r/c': 20 } },
  });
  t.like(levels[0]!.zone, { mode: 'residual', localPercentToRoute: 6250, residual: [0, 1000, 1500] });
  const got = shares(picker, members, byLocality);
  t.true(Math.abs(got.get('a')! - 62.5) < 1);
  t.true(Math.abs(got.get('b')! - 25) < 1);
  t.true(Math.abs(got.get('c')! - 12.5) < 1);
  // the same in Envoy's snake_case spelling, shares as a list
  const snake = build(spec, {
    zone_aware_lb_config: {
      local_zone: { region: 'r', zone: 'a' },
      routing_enabled: { value: 100 },
      min_cluster_size: '6',
      local_zone_shares: [
        { locality: 'r/a', share: 2 },
        { locality: 'r/b', share: 2 },
        { locality: 'r/c', share: 1 },
      ],
    },
  });
  t.deepEqual(snake.levels[0]!.zone, levels[0]!.zone);
});

test('zone-aware falls back to balancing the level as a whole, as Envoy does', (t) => {
  const even = (m: Map<string, number>): boolean => ['a', 'b', 'c'].every((z) => Math.abs(m.get(z)! - 100 / 3) < 1.5);
  // fewer healthy members than minClusterSize (default 6)
  const small = build(zones3(1, 2, 2, 2), { zoneAware: { localZone: 'r/a' } });
  t.deepEqual(small.levels[0]!.zone, { mode: 'none', reason: 'cluster-too-small' });
  // a local zone that matches no member: not an error, no local share → no zone routing
  const away = build(zones3(3, 3, 3), { zoneAware: { localZone: 'r/elsewhere' } });
  t.deepEqual(away.levels[0]!.zone, { mode: 'none', reason: 'no-local-share' });
  t.true(even(shares(away.picker, away.members, byLocality, 30_000)));
  // one locality
  const one = build([{ priority: 0, healthy: 8, total: 8, locality: 'r/a' }], { zoneAware: { localZone: 'r/a' } });
  t.deepEqual(one.levels[0]!.zone, { mode: 'none', reason: 'single-locality' });
  // callers all in one zone
  const lone = build(zones3(3, 3, 3), { zoneAware: { localZone: 'r/a', localZoneShares: { 'r/a': 1 } } });
  t.deepEqual(lone.levels[0]!.zone, { mode: 'none', reason: 'local-shares' });
  // routing disabled for every request
  const off = build(zones3(3, 3, 3), { zoneAware: { localZone: 'r/a', routingEnabledPercent: 0 } });
  t.is(off.levels[0]!.zone!.mode, 'direct');
  t.true(even(shares(off.picker, off.members, byLocality, 30_000)));
  // routing enabled for half: 50% direct + 50% × 1/3 → a gets 66.7%
  const half = build(zones3(3, 3, 3), { zoneAware: { localZone: 'r/a', routingEnabledPercent: 50 } });
  t.true(Math.abs(shares(half.picker, half.members, byLocality).get('a')! - (50 + 50 / 3)) < 1);
});

test('zone-aware: local zone down spills by residual capacity; only the first level is zone-routed', (t) => {
  // a: 0/3 healthy, b, c 3/3: upstream% 0, 5000, 5000; local% 0 (no healthy), 3333, 3333 → b, c by 1667 each
  const down = build(zones3(0, 3, 3), { zoneAware: { localZone: 'r/a' }, panicThresholdPercent: 0 });
  t.like(down.levels[0]!.zone, { mode: 'residual', localPercentToRoute: 0, residual: [0, 1667, 3334] });
  const got = shares(down.picker, down.members, byLocality);
  t.false(got.has('a'));
  t.true(Math.abs(got.get('b')! - 50) < 1);
  // Envoy routes by zone at its P=0 only: here the first level present (SRV priorities such as 10 and 20 are
  // levels 0 and 1); the next level is balanced as a whole
  const two = build(
    [...zones3(0, 0, 0).map((s) => ({ ...s, priority: 10 })), ...zones3(3, 3, 3).map((s) => ({ ...s, priority: 20 }))],
    { zoneAware: { localZone: 'r/a' } },
  );
  t.deepEqual(
    two.levels.map((l) => [l.priority, l.loadPercent, l.zone?.mode]),
    [
      [10, 0, 'none'], // total health 100: no panic; no healthy member: cluster-too-small
      [20, 100, undefined],
    ],
  );
  t.like(two.levels[0]!.zone, { reason: 'cluster-too-small' });
  t.true(Math.abs(shares(two.picker, two.members, byLocality, 30_000).get('a')! - 100 / 3) < 1.5);
  const srv = build(
    zones3(3, 3, 3).map((s) => ({ ...s, priority: 10 })),
    { zoneAware: { localZone: 'r/a' } },
  );
  t.is(srv.levels[0]!.zone!.mode, 'direct');
  t.is(shares(srv.picker, srv.members, byLocality, 10_000).get('a'), 100);
});

// ---- properties -------------------------------------------------------------------------------------------

const levelsArb = fc.array(
  fc
    .integer({ min: 1, max: 30 })
    .chain((total) => fc.record({ total: fc.constant(total), healthy: fc.integer({ min: 0, max: total }) })),
  { minLength: 1, maxLength: 5 },
);

test('property: loads are integers summing to 100, equal to the formula; no load on a level without health', (t) => {
  fc.assert(
    fc.property(
      levelsArb,
      fc.integer({ min: 100, max: 1000 }),
      fc.integer({ min: 0, max: 100 }),
      (levels, factorPercent, threshold) => {
        const got = priorityLoads(levels, factorPercent / 100, threshold);
        const health = levels.map((l) => envoyHealth(l.healthy, l.total, factorPercent));
        if (got.load.reduce((a, b) => a + b, 0) !== 100) return false;
        if (!got.load.every((l) => Number.isInteger(l) && l >= 0)) return false;
        if (got.health.join() !== health.join()) return false;
        if (got.totalPanic) return got.panic.every(Boolean);
        if (got.load.join() !== envoyLoads(health).join()) return false;
        return got.load.every((l, i) => l === 0 || health[i]! > 0 || (i === 0 && got.normalizedTotalHealth === 0));
      },
    ),
    { numRuns: 500 },
  );
  t.pass();
});

test('property: 100k seeded picks land on each level within 1 point of its load', (t) => {
  fc.assert(
    fc.property(levelsArb, fc.integer({ min: 0, max: 2 ** 31 - 1 }), (spec, seed) => {
      const r = build(
        spec.map((s, p) => ({ priority: p, ...s })),
        {},
        seed,
      );
      if (r.levels.reduce((a, l) => a + l.loadPercent, 0) !== 100) return false;
      const got = shares(r.picker, r.members, byPriority);
      const anyHealthy = spec.some((s) => s.healthy > 0);
      if (anyHealthy && got.has('none')) return false;
      return r.levels.every((l) => Math.abs((got.get(`P${l.priority}`) ?? 0) - l.loadPercent) < 1);
    }),
    { numRuns: 15 },
  );
  t.pass();
});

// ---- options ----------------------------------------------------------------------------------------------

test('the priority option panic settings apply on one level too (no member leveled), not only once one is', (t) => {
  const counts = (lb: Balancer) => {
    const c: Record<string, number> = {};
    for (let i = 0; i < 200; i++) {
      const p = lb.pick();
      const k = p.type === 'pick' ? p.member.id : p.reason;
      c[k] = (c[k] ?? 0) + 1;
      if (p.type === 'pick') p.handle.done({ ok: true });
    }
    return c;
  };
  // threshold 0: no panic with 1 of 4 available, whether or not a member has a locality
  for (const locality of [undefined, 'r/z']) {
    const lb = new Balancer({
      endpoints: ['a', 'b', 'c', 'd'].map((x) => ({ id: `${x}:80`, ...(locality && { locality }) })),
      priority: { panicThresholdPercent: 0, panicMode: 'all' },
    });
    for (const x of ['b', 'c', 'd']) lb.setAvailable(`${x}:80`, false);
    t.deepEqual(counts(lb), { 'a:80': 200 }, String(locality));
    t.false(lb.stats().panic);
  }
  // the only member of priority 1 leaving does not switch to the top-level panicMode
  const eps = [...['a', 'b', 'c', 'd'].map((x) => ({ id: `${x}:80`, priority: 0 })), { id: 'e:80', priority: 1 }];
  const lb = new Balancer({
    endpoints: eps,
    panicMode: 'fail',
    priority: { panicThresholdPercent: 0, panicMode: 'all' },
  });
  for (const x of ['b', 'c', 'd', 'e']) lb.setAvailable(`${x}:80`, false);
  t.deepEqual(counts(lb), { 'a:80': 200 });
  lb.reset(eps.slice(0, 4));
  t.deepEqual(counts(lb), { 'a:80': 200 });
  t.is(lb.panicThresholdPercent, 0, 'the effective threshold');
});

test('parsePriorityOptions: defaults, camelCase, Envoy snake_case, and the defaults argument', (t) => {
  t.deepEqual(parsePriorityOptions(undefined), {
    overprovisioningFactor: 1.4,
    localityWeighted: false,
    zoneAware: null,
    panicThresholdPercent: 50,
    panicMode: 'all',
  });
  t.deepEqual(parsePriorityOptions({}, 'priority', { panicThresholdPercent: 0, panicMode: 'fail' }), {
    overprovisioningFactor: 1.4,
    localityWeighted: false,
    zoneAware: null,
    panicThresholdPercent: 0,
    panicMode: 'fail',
  });
  const snake = parsePriorityOptions({
    overprovisioning_factor: 200,
    healthy_panic_threshold: { value: 30 },
    locality_weighted_lb_config: {},
  });
  t.deepEqual(snake, {
    overprovisioningFactor: 2,
    localityWeighted: true,
    zoneAware: null,
    panicThresholdPercent: 30,
    panicMode: 'all',
  });
  t.is(parsePriorityOptions({ overprovisioning_factor: { value: 140 } }).overprovisioningFactor, 1.4);
  const z = parsePriorityOptions({ zone_aware_lb_config: { local_zone: 'r/a', fail_traffic_on_panic: true } });
  t.is(z.panicMode, 'fail');
  t.deepEqual(z.zoneAware, {
    localZone: { region: 'r', zone: 'a', subZone: '' },
    minClusterSize: 6,
    routingEnabledPercent: 100,
    localZoneShares: null,
  });
  t.deepEqual(
    [
      ...parsePriorityOptions({ zoneAware: { localZone: 'r/a', localZoneShares: { 'r/a': 1, 'r/a/': 2 } } }).zoneAware!
        .localZoneShares!,
    ],
    [['r/a/', 3]],
  );
});

test('bad options: typed errors naming the field and the value', (t) => {
  const bad: [unknown, new (...a: never[]) => Error, RegExp][] = [
    [
      { overprovisioningFactor: 0.5 },
      RangeError,
      /^priority\.overprovisioningFactor must be a number in \[1, 10\], got 0\.5/,
    ],
    [{ overprovisioningFactor: 11 }, RangeError, /^priority\.overprovisioningFactor .*got 11/],
    [{ overprovisioningFactor: Number.NaN }, RangeError, /^priority\.overprovisioningFactor/],
    [{ overprovisioningFactor: '1.4' }, TypeError, /^priority\.overprovisioningFactor .*got "1\.4"/],
    [
      { overprovisioning_factor: 99 },
      RangeError,
      /^priority\.overprovisioning_factor must be an integer in \[100, 1000\], got 99/,
    ],
    [{ overprovisioning_factor: 1.4 }, RangeError, /^priority\.overprovisioning_factor/],
    [{ panicThresholdPercent: 101 }, RangeError, /^priority\.panicThresholdPercent/],
    [{ healthy_panic_threshold: { value: -1 } }, RangeError, /^priority\.healthy_panic_threshold/],
    [{ panicMode: 'none' }, RangeError, /^priority\.panicMode .*got "none"/],
    [{ localityWeighted: 1 }, TypeError, /^priority\.localityWeighted must be a boolean, got 1/],
    [{ locality_weighted_lb_config: true }, TypeError, /^priority\.locality_weighted_lb_config must be an object/],
    [{ zoneAware: {} }, TypeError, /^priority\.zoneAware\.localZone/],
    [{ zoneAware: { localZone: 'a/b/c/d' } }, RangeError, /^priority\.zoneAware\.localZone .*at most 3 parts/],
    [{ zoneAware: { localZone: 'r/a', minClusterSize: -1 } }, RangeError, /^priority\.zoneAware\.minClusterSize/],
    [{ zoneAware: { localZone: 'r/a', routingEnabledPercent: 150 } }, RangeError, /routingEnabledPercent/],
    [
      { zoneAware: { localZone: 'r/a', localZoneShares: { 'r/a': -1 } } },
      RangeError,
      /^priority\.zoneAware\.localZoneShares\.r\/a must be a finite number >= 0, got -1/,
    ],
    [{ zoneAware: { localZone: 'r/a', localZoneShares: { 'a/b/c/d': 1 } } }, RangeError, /localZoneShares key must be/],
    [
      { zoneAware: { localZone: 'r/a', localZoneShares: [{ locality: 'r/a', share: '1' }] } },
      TypeError,
      /localZoneShares\[0\]\.share/,
    ],
    [{ zoneAware: { localZone: 'r/a', zone: 'x' } }, RangeError, /^priority\.zoneAware\.zone must be one of/],
    [
      { localityWeighted: true, zoneAware: { localZone: 'r/a' } },
      RangeError,
      /^priority\.zoneAware must be null when localityWeighted/,
    ],
    [{ overprovisioningfactor: 2 }, RangeError, /^priority\.overprovisioningfactor must be one of/],
    ['fast', TypeError, /^priority must be an object, got "fast"/],
  ];
  for (const [input, type, message] of bad)
    t.throws(() => parsePriorityOptions(input), { instanceOf: type, message }, JSON.stringify(input));
  t.throws(() => parsePriorityOptions({ overprovisioningFactor: 0 }, 'lb.priority'), {
    message: /^lb\.priority\.overprovisioningFactor/,
  });
  t.throws(() => buildPriorityPicker({} as never), { instanceOf: TypeError, message: /^input\.rows/ });
});

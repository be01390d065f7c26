// least_request (P2C over in-flight requests; Envoy's EDF with differing weights) and latency_aware (docs/design.md,
// "Latency-aware score").
import test from 'ava';
import fc from 'fast-check';
import { Balancer, VirtualClock, mulberry32 } from '../../bindings/index.js';
import { wasmHandle } from '../../bindings/core/backend.js';
import { BALANCING_WASM } from '../../bindings/core/families.js';
import { COL_ACTIVE, COL_AVG_RTT, COLS } from '../../bindings/balancing/picker.js';
import {
  latencyAwareScanTs,
  parseLatencyAware,
  TREE_MIN_MEMBERS,
} from '../../bindings/balancing/policies/latency-aware.js';
import { parseLeastRequest } from '../../bindings/balancing/policies/least-request.js';

test('P2C never compares a member with itself: of two members the less loaded always wins, for any random source', (t) => {
  fc.assert(
    fc.property(
      fc.array(fc.double({ min: 0, max: 0.9999999, noNaN: true }), { minLength: 2, maxLength: 200 }),
      (rs) => {
        for (const policy of ['least_request', 'peak_ewma']) {
          let i = 0;
          const lb = new Balancer({
            policy,
            endpoints: ['busy:1', 'idle:1'],
            random: () => rs[i++ % rs.length]!,
            clock: new VirtualClock(),
          });
          // load 'busy' with 3 requests (picks that land on idle are ended at once)
          let busy = 0;
          for (let k = 0; k < 100 && busy < 3; k++) {
            const p = lb.pickOrThrow({ exclude: new Set(['idle:1']) });
            if (p.member.id === 'busy:1') busy++;
          }
          for (let k = 0; k < 20; k++) {
            const p = lb.pickOrThrow();
            if (p.member.id !== 'idle:1') return false;
            p.handle.done({ ok: true, rttMs: 30 });
          }
        }
        return true;
      },
    ),
    { numRuns: 200 },
  );
  t.pass();
});

test('least_request keeps in-flight counts balanced under a constant load', (t) => {
  const lb = new Balancer({ policy: 'least_request', endpoints: ['a:1', 'b:1', 'c:1', 'd:1'], random: mulberry32(9) });
  const open = Array.from({ length: 400 }, () => lb.pickOrThrow());
  const active = lb.stats().members.map((m) => m.active);
  t.true(Math.max(...active) - Math.min(...active) <= 2, JSON.stringify(active));
  for (const p of open) p.handle.done({ ok: true });
});

test("least_request with differing weights: Envoy's EDF over weight / (active + 1)^bias", (t) => {
  const shares = (policy: unknown, picks: number, hold: boolean) => {
    const lb = new Balancer({
      policy: policy as never,
      endpoints: [{ id: 'big', weight: 3 }, 'small'],
      random: mulberry32(2),
    });
    const count = { big: 0, small: 0 };
    for (let i = 0; i < picks; i++) {
      const p = lb.pickOrThrow();
      count[p.member.id as 'big' | 'small']++;
      if (!hold) p.handle.done({ ok: true });
    }
    return count;
  };
  // idle members: picks in proportion to the weights (the P2C form gave the lighter member none)
  t.deepEqual(shares('least_request', 400, false), { big: 300, small: 100 });
  t.deepEqual(shares({ name: 'least_request', choiceCount: 4 }, 400, false), { big: 300, small: 100 });
  // bias 0: weights only, Envoy's plain weighted round robin, requests in flight or not
  t.deepEqual(shares({ least_request: { active_request_bias: 0 } }, 400, true), { big: 300, small: 100 });
  // requests held: a member's rate goes as weight / (active + 1), so its in-flight count as √weight
  const held = shares('least_request', 400, true);
  t.true(held.big / held.small > 1.6 && held.big / held.small < 1.9, JSON.stringify(held));
});

test("weighted least_request picks what a literal model of Envoy's EDF picks, with exclusions and completions", (t) => {
  fc.assert(
    fc.property(
      fc.array(fc.integer({ min: 1, max: 5 }), { minLength: 2, maxLength: 6 }),
      fc.array(fc.tuple(fc.nat(9), fc.nat(7)), { minLength: 1, maxLength: 120 }),
      fc.constantFrom(0, 0.5, 1, 2),
      (weights, ops, bias) => {
        if (weights.every((w) => w === weights[0])) weights[0]! += 1; // differing weights: the EDF path
        const ids = weights.map((_, i) => `m${i}`);
        const lb = new Balancer({
          policy: { least_request: { activeRequestBias: bias } },
          endpoints: ids.map((id, i) => ({ id, weight: weights[i]! })),
        });
        // the model: deadlines 1/weight in member order, pick the earliest (ties: earliest queued), queue it again
        // at its deadline + 1 / (weight / (active + 1)^bias) with its active count at the pick
        const deadline = weights.map((w) => 1 / w);
        const order = ids.map((_, i) => i);
        let queued = ids.length;
        const active = ids.map(() => 0);
        const open: { i: number; done: () => void }[] = [];
        for (const [op, arg] of ops) {
          if (op < 6) {
            const exclude = op < 2 ? new Set([ids[arg % ids.length]!]) : undefined;
            let best = -1;
            for (let i = 0; i < ids.length; i++) {
              if (exclude?.has(ids[i]!)) continue;
              if (
                best < 0 ||
                deadline[i]! < deadline[best]! ||
                (deadline[i] === deadline[best] && order[i]! < order[best]!)
              )
                best = i;
            }
            const load = bias === 1 ? active[best]! + 1 : bias === 0 ? 1 : Math.pow(active[best]! + 1, bias);
            deadline[best] = deadline[best]! + 1 / (weights[best]! / load);
            order[best] = queued++;
            const p = lb.pickOrThrow(exclude === undefined ? undefined : { exclude });
            if (p.member.id !== ids[best]) return false;
            active[best]!++;
            open.push({ i: best, done: () => p.handle.done({ ok: true }) });
          } else if (open.length > 0) {
            const [o] = open.splice(arg % open.length, 1);
            o!.done();
            active[o!.i]!--;
          }
        }
        lb.close();
        return true;
      },
    ),
    { numRuns: 300 },
  );
  t.pass();
});

test('least_request config: choiceCount >= 2, bias >= 0', (t) => {
  t.deepEqual(parseLeastRequest({}), { choiceCount: 2, activeRequestBias: 1 });
  t.throws(() => parseLeastRequest({ choiceCount: 1 }), { instanceOf: RangeError, message: /choiceCount.*1/ });
  t.throws(() => parseLeastRequest({ choiceCount: 2.5 }), { instanceOf: RangeError, message: /choiceCount/ });
  t.throws(() => parseLeastRequest({ active_request_bias: -1 }), {
    instanceOf: RangeError,
    message: /active_request_bias/,
  });
});

test('latency_aware: the lowest 0.6·active/1000 + 0.4·avgRtt/500 wins', (t) => {
  const lb = new Balancer({ policy: 'latency_aware', endpoints: ['a:1', 'b:1'], clock: new VirtualClock() });
  // a: avgRtt 100 → 0.08; b: avgRtt 20 → 0.016
  const pa = lb.pickOrThrow();
  const pb = lb.pickOrThrow();
  t.deepEqual([pa.member.id, pb.member.id], ['a:1', 'b:1']);
  pa.handle.done({ ok: true, rttMs: 100 });
  pb.handle.done({ ok: true, rttMs: 20 });
  // b wins until its connections outweigh: 0.6·k/1000 + 0.016 > 0.08 → k > 106
  const open = Array.from({ length: 106 }, () => lb.pickOrThrow());
  t.true(open.every((p) => p.member.id === 'b:1'));
  t.is(lb.pickOrThrow().member.id, 'b:1'); // k = 106 ties at 0.0796 < 0.08
  t.is(lb.pickOrThrow().member.id, 'a:1');
  t.deepEqual(parseLatencyAware({ max_rtt: '0.2s', conn_weight: 0.5 }), {
    connWeight: 0.5,
    maxConn: 1000,
    rttWeight: 0.4,
    maxRttMs: 200,
    rttSmoothing: 0.2,
  });
  t.throws(() => parseLatencyAware({ maxConn: 0 }), { instanceOf: RangeError, message: /maxConn/ });
});

test('latency_aware: WASM latencyAwareScan = TS twin (differential), and a large WASM balancer agrees with JS', (t) => {
  const h = wasmHandle(BALANCING_WASM)!;
  const scan = h.exports.latencyAwareScan as (...a: number[]) => number;
  const c = parseLatencyAware({});
  fc.assert(
    fc.property(
      fc.array(fc.record({ a: fc.nat(50), r: fc.nat(1000), ex: fc.boolean() }), { minLength: 1, maxLength: 60 }),
      fc.nat(),
      (ms, s) => {
        const n = ms.length;
        const start = s % n;
        const ptr = h.mem.alloc(n * COLS * 8 + n * 4 + n);
        const wf = new Float64Array(h.mem.memory.buffer, ptr, n * COLS).fill(0);
        const tf = new Float64Array(n * COLS);
        const mask = Uint8Array.from(ms, (m) => (m.ex ? 1 : 0));
        ms.forEach((m, i) => {
          for (const f of [wf, tf]) {
            f[COL_ACTIVE * n + i] = m.a;
            f[COL_AVG_RTT * n + i] = m.r;
          }
        });
        const rows = Int32Array.from(ms, (_, i) => n - 1 - i);
        new Int32Array(h.mem.memory.buffer, ptr + n * COLS * 8, n).set(rows);
        new Uint8Array(h.mem.memory.buffer, ptr + n * COLS * 8 + n * 4, n).set(mask);
        const a = scan(
          ptr,
          n,
          ptr + n * COLS * 8,
          n,
          ptr + n * COLS * 8 + n * 4,
          start,
          c.connWeight,
          c.maxConn,
          c.rttWeight,
          c.maxRttMs,
        );
        const b = latencyAwareScanTs(tf, n, rows, n, mask, start, c);
        h.mem.release(ptr);
        return a === b;
      },
    ),
    { numRuns: 500 },
  );
  // 300 members: the WASM backend runs the scan in WASM (>= WASM_MIN_MEMBERS); same picks as JS
  const endpoints = Array.from({ length: 300 }, (_, i) => `m${i}:1`);
  const seq = (backend: 'js' | 'wasm') => {
    const lb = new Balancer({ policy: 'latency_aware', backend, endpoints, clock: new VirtualClock() });
    const rnd = mulberry32(5);
    const out: string[] = [];
    const open = [];
    for (let i = 0; i < 2000; i++) {
      const p = lb.pickOrThrow(i % 7 === 0 ? { exclude: new Set([`m${i % 300}:1`]) } : undefined);
      out.push(p.member.id);
      open.push(p);
      if (rnd() < 0.7)
        open.splice(Math.floor(rnd() * open.length), 1)[0]!.handle.done({ ok: true, rttMs: Math.floor(rnd() * 200) });
    }
    return out;
  };
  t.deepEqual(seq('wasm'), seq('js'));
});

test('weighted_round_robin: a 300-member WASM balancer (live WASM step) agrees with JS through failures', (t) => {
  const endpoints = Array.from({ length: 300 }, (_, i) => ({ id: `m${i}`, weight: 1 + (i % 5) }));
  const seq = (backend: 'js' | 'wasm') => {
    const clock = new VirtualClock(0);
    const lb = new Balancer({ policy: 'weighted_round_robin', backend, endpoints, clock });
    const rnd = mulberry32(11);
    const out: string[] = [];
    for (let i = 0; i < 3000; i++) {
      const p = lb.pickOrThrow();
      out.push(p.member.id);
      clock.tick(5);
      p.handle.done({ ok: rnd() > 0.02 });
    }
    return out;
  };
  t.deepEqual(seq('wasm'), seq('js'));
});

test('latency_aware: the score tree picks what the scan over the state table picks, pick for pick', (t) => {
  // sets of >= TREE_MIN_MEMBERS keep scores in a tree; the scan from after the last pick is the reference
  fc.assert(
    fc.property(
      fc.integer({ min: TREE_MIN_MEMBERS, max: 90 }),
      fc.array(fc.integer({ min: 0, max: 60 }), { minLength: 90, maxLength: 90 }),
      fc.array(fc.record({ done: fc.nat(3), rtt: fc.integer({ min: 0, max: 40 }) }), { minLength: 1, maxLength: 400 }),
      fc.constantFrom('js' as const, 'wasm' as const),
      (n, warm, steps, backend) => {
        const endpoints = Array.from({ length: n }, (_, i) => `m${i}:1`);
        const lb = new Balancer({ policy: 'latency_aware', backend, endpoints, clock: new VirtualClock() });
        const c = parseLatencyAware({});
        const rows = Int32Array.from({ length: n }, (_, i) => i);
        const open: { handle: { done(o: { ok: boolean; rttMs?: number }): void } }[] = [];
        // distinct average RTTs first (a completion without a pick), so that low-RTT members take several picks
        for (let r = 0; r < n; r++) lb.completeIndex(r, true, warm[r]!);
        let start = 0; // a scan starts after the member picked last
        for (let i = 0; i < steps.length; i++) {
          const want = latencyAwareScanTs(lb.table.f, lb.table.cap, rows, n, null, start, c);
          const p = lb.pickOrThrow();
          if (p.index !== want) return false;
          start = (p.index + 1) % n;
          open.push(p);
          // complete 0..3 of the open picks, oldest first; rtt 0 included (equal scores tie often)
          for (let k = 0; k < steps[i]!.done && open.length > 0; k++)
            open.shift()!.handle.done({ ok: true, rttMs: steps[i]!.rtt });
        }
        lb.close();
        return true;
      },
    ),
    { numRuns: 60 },
  );
  t.pass();
});

test('latency_aware: in-flight counts of a previous policy completing after setPolicy are caught up in one pass', (t) => {
  const n = 40;
  const endpoints = Array.from({ length: n }, (_, i) => `m${i}:1`);
  const lb = new Balancer({ policy: 'round_robin', endpoints, clock: new VirtualClock() });
  const old = Array.from({ length: 3 * n }, () => lb.pickOrThrow()); // 3 in flight on every member
  lb.setPolicy('latency_aware');
  for (const p of old.slice(0, 2 * n)) p.handle.done({ ok: true, rttMs: 5 }); // unseen by latency_aware's hooks
  const c = parseLatencyAware({});
  const rows = Int32Array.from({ length: n }, (_, i) => i);
  let start = 0;
  for (let i = 0; i < n; i++) start = (lb.pickOrThrow().index + 1) % n; // one pass: each position re-read once
  let same = 0;
  for (let i = n; i < 3 * n; i++) {
    const want = latencyAwareScanTs(lb.table.f, lb.table.cap, rows, n, null, start, c);
    const got = lb.pickOrThrow().index;
    if (got === want) same++;
    start = (got + 1) % n;
  }
  t.is(same, 2 * n);
});

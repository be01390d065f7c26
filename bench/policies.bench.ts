// Balancing policy benchmarks (issues 4 and 16): pick + done of every policy at 8/64/1024 members, interleaved
// with round robin's in the same run (bench/common.ts `interleave`), so each is read as a ratio to round robin
// (goal: within 3x); state table in WASM memory ('wasm' backend) or on the JS heap ('js'); pick alone for the
// round-robin family; and the kernels, TS twin against the WASM call, which decide the path each policy takes
// (see the policy headers). Standalone: npx tsx bench/policies.bench.ts (BENCH_ROUNDS=5 for a quick run).
import { Balancer, type Clock, type Picked, systemClock } from '../bindings/index.js';
import { wasmHandle } from '../bindings/core/backend.js';
import { BALANCING_WASM } from '../bindings/core/families.js';
import { COL_ACTIVE, COL_AVG_RTT, COL_EW, COL_WEIGHT, COLS } from '../bindings/balancing/picker.js';
import { latencyAwareScanTs, parseLatencyAware } from '../bindings/balancing/policies/latency-aware.js';
import { peakEwmaCostTs, PENALTY_MS } from '../bindings/balancing/policies/peak-ewma.js';
import { swrrStepTs } from '../bindings/balancing/policies/weighted-round-robin.js';
import { mulberry32 } from '../bindings/util/random.js';
import { type Case, consume, fmt, interleave, machine, save, type Row } from './common.js';

const rows: Row[] = [];
const SIZES = [8, 64, 1024];
const POLICIES: (string | { name: string; [k: string]: unknown })[] = [
  'round_robin',
  'weighted_round_robin',
  { name: 'weighted_round_robin', scheduler: 'edf' },
  { name: 'weighted_round_robin', dynamicWeights: true }, // fractional weights: the default, gRPC's stride
  { name: 'weighted_round_robin', scheduler: 'nginx', dynamicWeights: true }, // nginx live step, no table
  { name: 'weighted_round_robin', scheduler: 'edf', dynamicWeights: true }, // the same weights by EDF
  'least_request',
  'peak_ewma',
  'latency_aware',
  'ring_hash',
  'xxhash_ring',
];
const label = (p: (typeof POLICIES)[number]) =>
  typeof p === 'string'
    ? p
    : `${p.name}(${Object.keys(p)
        .filter((k) => k !== 'name')
        .map((k) => `${k}=${String(p[k])}`)
        .join(',')})`;
const LOOP = 1000;
// a clock that moves 10 µs per reading, so RTT-driven policies see time pass
let tMs = 0;
const clock: Clock = { ...systemClock, now: () => (tMs += 0.01) };
const keys = Array.from({ length: 4096 }, (_, i) => `user:${i}`);

// pick + done of every policy, interleaved with round robin's in the same run (its ratio is the one to read)
for (const n of SIZES) {
  for (const backend of ['wasm', 'js'] as const) {
    const endpoints = Array.from({ length: n }, (_, i) => ({
      id: `10.0.${i >> 8}.${i & 255}:80`,
      weight: 1 + (i % 4),
    }));
    const balancers: Balancer[] = [];
    const cases: Case[] = POLICIES.map((policy) => {
      const lb = new Balancer({ policy, backend, endpoints, clock, random: mulberry32(1) });
      balancers.push(lb);
      const useKey = policy === 'ring_hash' || policy === 'xxhash_ring';
      const ctx = { key: '' };
      let k = 0;
      // pick + done: the steady state of a client (in-flight stays near 0..1)
      return {
        name: label(policy),
        ops: LOOP,
        fn: useKey
          ? () => {
              for (let i = 0; i < LOOP; i++) {
                ctx.key = keys[k++ & 4095]!;
                lb.pickOrThrow(ctx).handle.done({ ok: true, rttMs: 1 + (i & 7) });
              }
            }
          : () => {
              for (let i = 0; i < LOOP; i++) {
                const p: Picked = lb.pickOrThrow();
                p.handle.done({ ok: true, rttMs: 1 + (i & 7) });
              }
            },
      };
    });
    rows.push(...interleave(`pick+done ${backend} ${n}`, cases));
    // pick alone, and the allocation-free pair (no handle object), for the round-robin family
    const rr = balancers[0]!;
    const wrr = balancers[1]!;
    rows.push(
      ...interleave(`pick ${backend} ${n}`, [
        { name: 'round_robin pick', fn: () => pickLoop(rr), ops: LOOP },
        { name: 'weighted_round_robin pick', fn: () => pickLoop(wrr), ops: LOOP },
        { name: 'round_robin pickIndex+completeIndex', fn: () => indexLoop(rr), ops: LOOP },
        { name: 'weighted_round_robin pickIndex+completeIndex', fn: () => indexLoop(wrr), ops: LOOP },
      ]),
    );
    for (const lb of balancers) lb.close();
  }
}

function pickLoop(lb: Balancer): void {
  for (let i = 0; i < LOOP; i++) consume(lb.pick());
}

function indexLoop(lb: Balancer): void {
  for (let i = 0; i < LOOP; i++) lb.completeIndex(lb.pickIndex(), true, 1 + (i & 7));
}

// kernels: WASM call vs TS twin
const h = wasmHandle(BALANCING_WASM)!;
const x = h.exports as Record<string, (...a: number[]) => number>;
const lac = parseLatencyAware({});
for (const n of SIZES) {
  const ptr = h.mem.alloc(n * COLS * 8 + n * 4);
  const rowsPtr = ptr + n * COLS * 8;
  const wf = new Float64Array(h.mem.memory.buffer, ptr, n * COLS).fill(0);
  const tf = new Float64Array(n * COLS);
  const r = Int32Array.from({ length: n }, (_, i) => i);
  new Int32Array(h.mem.memory.buffer, rowsPtr, n).set(r);
  for (const f of [wf, tf])
    for (let i = 0; i < n; i++) {
      f[COL_WEIGHT * n + i] = f[COL_EW * n + i] = 1 + (i % 4);
      f[COL_ACTIVE * n + i] = i % 3;
      f[COL_AVG_RTT * n + i] = 10 + (i % 17);
    }
  const suite = `kernel ${n}`;
  let t = 0;
  rows.push(
    ...interleave(suite, [
      {
        name: 'swrrStep: ts',
        fn: () => {
          for (let i = 0; i < 100; i++) consume(swrrStepTs(tf, n, r, n, null, 1, 10_000, 0));
        },
        ops: 100,
      },
      {
        name: 'swrrStep: wasm',
        fn: () => {
          for (let i = 0; i < 100; i++) consume(x.swrrStep!(ptr, n, rowsPtr, n, 0, 1, 10_000, 0));
        },
        ops: 100,
      },
    ]),
    ...interleave(suite, [
      {
        name: 'latencyAwareScan: ts',
        fn: () => {
          for (let i = 0; i < 100; i++) consume(latencyAwareScanTs(tf, n, r, n, null, i % n, lac));
        },
        ops: 100,
      },
      {
        name: 'latencyAwareScan: wasm',
        fn: () => {
          for (let i = 0; i < 100; i++)
            consume(
              x.latencyAwareScan!(
                ptr,
                n,
                rowsPtr,
                n,
                0,
                i % n,
                lac.connWeight,
                lac.maxConn,
                lac.rttWeight,
                lac.maxRttMs,
              ),
            );
        },
        ops: 100,
      },
    ]),
    ...interleave(suite, [
      {
        name: 'peakEwmaCost: ts',
        fn: () => {
          for (let i = 0; i < LOOP; i++) consume(peakEwmaCostTs(tf, n, i % n, (t += 0.01), 10_000));
        },
        ops: LOOP,
      },
      {
        name: 'peakEwmaCost: wasm',
        fn: () => {
          for (let i = 0; i < LOOP; i++) consume(x.peakEwmaCost!(ptr, n, i % n, (t += 0.01), 10_000, PENALTY_MS));
        },
        ops: LOOP,
      },
    ]),
  );
  h.mem.release(ptr);
}

const table = [
  '| suite | case | ops/s | ns/op | ±% |',
  '|---|---|---:|---:|---:|',
  ...rows.map(
    (r) =>
      `| ${r.suite} | ${r.name} | ${fmt(r.opsPerSec)} | ${(1e9 / r.opsPerSec).toFixed(1)} | ${r.rmePercent.toFixed(1)} |`,
  ),
].join('\n');
console.log(`policies on ${JSON.stringify(machine())}\n\n${table}`);
save('policies', { rows });

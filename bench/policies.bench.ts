// Balancing policy benchmarks (issue 4): picks/s for each policy at 8/64/1024 members, pick only and pick
// plus completion, with the state table in WASM memory ('wasm' backend) or on the JS heap ('js'); and the
// kernels themselves, WASM call vs TS twin, which decide the path each policy takes (see the policy headers).
// Standalone: npx tsx bench/policies.bench.ts (BENCH_SECONDS=0.5 for a quick run).
import { Balancer, type Clock, type Picked, systemClock } from '../bindings/index.js';
import { wasmHandle } from '../bindings/core/backend.js';
import { COL_ACTIVE, COL_AVG_RTT, COL_EW, COL_WEIGHT, COLS } from '../bindings/balancing/picker.js';
import { latencyAwareScanTs, parseLatencyAware } from '../bindings/balancing/policies/latency-aware.js';
import { peakEwmaCostTs, PENALTY_MS } from '../bindings/balancing/policies/peak-ewma.js';
import { swrrStepTs } from '../bindings/balancing/policies/weighted-round-robin.js';
import { mulberry32 } from '../bindings/util/random.js';
import { consume, fmt, machine, measure, save, type Row } from './common.js';

const rows: Row[] = [];
const SIZES = [8, 64, 1024];
const POLICIES: (string | { name: string; [k: string]: unknown })[] = [
  'round_robin',
  'weighted_round_robin',
  { name: 'weighted_round_robin', scheduler: 'edf' },
  { name: 'weighted_round_robin', dynamicWeights: true }, // fractional weights: nginx live step, no table
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

for (const n of SIZES) {
  for (const policy of POLICIES) {
    for (const backend of ['wasm', 'js'] as const) {
      const endpoints = Array.from({ length: n }, (_, i) => ({
        id: `10.0.${i >> 8}.${i & 255}:80`,
        weight: 1 + (i % 4),
      }));
      const lb = new Balancer({ policy, backend, endpoints, clock, random: mulberry32(1) });
      const suite = `${label(policy)} ${n}`;
      let k = 0;
      const ctx = { key: '' };
      const useKey = policy === 'ring_hash' || policy === 'xxhash_ring';
      // pick + done: the steady state of a client (in-flight stays near 0..1)
      rows.push(
        measure(
          suite,
          `${backend} pick+done`,
          () => {
            for (let i = 0; i < LOOP; i++) {
              let p: Picked;
              if (useKey) {
                ctx.key = keys[k++ & 4095]!;
                p = lb.pickOrThrow(ctx);
              } else p = lb.pickOrThrow();
              p.handle.done({ ok: true, rttMs: 1 + (i & 7) });
            }
          },
          LOOP,
        ),
      );
      if (typeof policy === 'string' && (policy === 'weighted_round_robin' || policy === 'round_robin')) {
        rows.push(
          measure(
            suite,
            `${backend} pick`,
            () => {
              for (let i = 0; i < LOOP; i++) consume(lb.pick());
            },
            LOOP,
          ),
        );
      }
      if (!useKey) {
        // the allocation-free pair (no handle object)
        rows.push(
          measure(
            suite,
            `${backend} pickIndex+completeIndex`,
            () => {
              for (let i = 0; i < LOOP; i++) lb.completeIndex(lb.pickIndex(), true, 1 + (i & 7));
            },
            LOOP,
          ),
        );
      }
      lb.close();
    }
  }
}

// kernels: WASM call vs TS twin
const h = wasmHandle()!;
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
  rows.push(
    measure(
      suite,
      'swrrStep wasm',
      () => {
        for (let i = 0; i < 100; i++) consume(x.swrrStep!(ptr, n, rowsPtr, n, 0, 1, 10_000, 0));
      },
      100,
    ),
  );
  rows.push(
    measure(
      suite,
      'swrrStep ts',
      () => {
        for (let i = 0; i < 100; i++) consume(swrrStepTs(tf, n, r, n, null, 1, 10_000, 0));
      },
      100,
    ),
  );
  rows.push(
    measure(
      suite,
      'latencyAwareScan wasm',
      () => {
        for (let i = 0; i < 100; i++)
          consume(
            x.latencyAwareScan!(ptr, n, rowsPtr, n, 0, i % n, lac.connWeight, lac.maxConn, lac.rttWeight, lac.maxRttMs),
          );
      },
      100,
    ),
  );
  rows.push(
    measure(
      suite,
      'latencyAwareScan ts',
      () => {
        for (let i = 0; i < 100; i++) consume(latencyAwareScanTs(tf, n, r, n, null, i % n, lac));
      },
      100,
    ),
  );
  let t = 0;
  rows.push(
    measure(
      suite,
      'peakEwmaCost wasm',
      () => {
        for (let i = 0; i < LOOP; i++) consume(x.peakEwmaCost!(ptr, n, i % n, (t += 0.01), 10_000, PENALTY_MS));
      },
      LOOP,
    ),
  );
  rows.push(
    measure(
      suite,
      'peakEwmaCost ts',
      () => {
        for (let i = 0; i < LOOP; i++) consume(peakEwmaCostTs(tf, n, i % n, (t += 0.01), 10_000));
      },
      LOOP,
    ),
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

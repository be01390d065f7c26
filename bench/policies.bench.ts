// Balancing policy benchmarks (issues 4 and 16): pick + done of every policy at 8/64/1024 members, interleaved
// with round robin's in the same run (bench/common.ts `interleave`), so each is read as a ratio to round robin
// (goal: within 3x); state table in WASM memory ('wasm' backend) or on the JS heap ('js'). Two views: all
// eleven Balancers in one process, and each (policy, backend, size) in a fresh process beside one round robin
// (bench/policies-one.ts says why). Then pick alone for the round-robin family; and the kernels, TS twin against
// the WASM call, which decide the path each policy takes (see the policy headers).
// Standalone: npx tsx bench/policies.bench.ts (BENCH_ROUNDS=5 for a quick run; about 3 minutes at the default).
import { execFileSync } from 'node:child_process';
import { type Balancer } from '../bindings/index.js';
import { wasmHandle } from '../bindings/core/backend.js';
import { BALANCING_WASM } from '../bindings/core/families.js';
import { COL_ACTIVE, COL_AVG_RTT, COL_EW, COL_WEIGHT, COLS } from '../bindings/balancing/picker.js';
import { latencyAwareScanTs, parseLatencyAware } from '../bindings/balancing/policies/latency-aware.js';
import { peakEwmaCostTs, PENALTY_MS } from '../bindings/balancing/policies/peak-ewma.js';
import { swrrStepTs } from '../bindings/balancing/swrr-step.js';
import { type Case, consume, fmt, interleave, machine, quantileIndex, save, type Row } from './common.js';
import { endpointsOf, label, LOOP, pickDone, POLICIES, SIZES } from './policies-one.js';

const rows: Row[] = [];
// pick + done, one policy per process: PROCESSES[backend] children per (policy, backend, size), one after
// another (the repeats outermost, so a slow spell of the machine does not hit every process of one case). A
// process's JIT state is one sample (the same case read 0.30-0.51 in three processes): the rows kept are those
// of the process with the median ratio to its round robin, and every process's ratio goes to `onePerProcess`
// in the results. Three for the WASM table, the goal's; one for the JS table keeps the bench near 3 minutes.
const env = process.env.POLICIES_PROCESSES;
const PROCESSES = { wasm: Number(env ?? 3), js: Number(env ?? 1) };
if (!(Number.isInteger(PROCESSES.wasm) && PROCESSES.wasm >= 1))
  throw new RangeError(`POLICIES_PROCESSES: expected an integer >= 1, got '${env}'`);

// pick + done of every policy, interleaved with round robin's in the same run (its ratio is the one to read)
for (const n of SIZES) {
  for (const backend of ['wasm', 'js'] as const) {
    const endpoints = endpointsOf(n);
    const balancers: Balancer[] = [];
    const cases: Case[] = POLICIES.map((policy) => {
      const { lb, c } = pickDone(policy, backend, endpoints);
      balancers.push(lb);
      return c;
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

// pick + done, one policy per process (PROCESSES above)
const here = new URL('.', import.meta.url).pathname;
const pairs = (['wasm', 'js'] as const).flatMap((backend) =>
  SIZES.flatMap((n) => POLICIES.map((policy) => ({ backend, n, policy, runs: [] as Row[][] }))),
);
for (let r = 0; r < Math.max(PROCESSES.wasm, PROCESSES.js); r++)
  for (const p of pairs) {
    if (r >= PROCESSES[p.backend]) continue;
    const out = execFileSync(
      process.execPath,
      ['--import', 'tsx', `${here}policies-one.ts`, JSON.stringify({ policy: p.policy, backend: p.backend, n: p.n })],
      { cwd: `${here}..`, stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8' },
    );
    p.runs.push((JSON.parse(out.trim().split('\n').at(-1)!) as { rows: Row[] }).rows);
  }
const ratioOf = (run: Row[]) => run[1]!.opsPerSec / run[0]!.opsPerSec;
const onePerProcess = pairs.map((p) => {
  const runs = p.runs.sort((x, y) => ratioOf(x) - ratioOf(y));
  rows.push(...runs[quantileIndex(runs.length, 0.5)]!);
  return { backend: p.backend, members: p.n, policy: label(p.policy), ratios: runs.map(ratioOf) };
});

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
          for (let i = 0; i < LOOP; i++) consume(peakEwmaCostTs(tf, n, i % n, (t += 0.01), 1e-4));
        },
        ops: LOOP,
      },
      {
        name: 'peakEwmaCost: wasm',
        fn: () => {
          for (let i = 0; i < LOOP; i++) consume(x.peakEwmaCost!(ptr, n, i % n, (t += 0.01), 1e-4, PENALTY_MS));
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
const notes =
  `Own-process cells (bench/policies-one.ts): the process with the median ratio of ${PROCESSES.wasm} per case ` +
  `for the WASM table, of ${PROCESSES.js} for the JS table; every process's ratio is in bench/results/policies.json.`;
save('policies', { rows, onePerProcess, notes });

// The policies bench's pick + done case (bench/policies.bench.ts), shared by its two views, and the child
// process of the second one. All in one process, eleven Balancers make the Balancer's call sites (picker.pick,
// the policy hooks) megamorphic and the ratios move with that process's JIT state; a program usually runs one
// policy, so the second view runs each (policy, backend, size) in a fresh process that builds exactly two
// Balancers, round_robin and the policy, and interleaves their pick + done loops as the first view does (same
// endpoints, clock, random, LOOP and rounds). Sizes and backends get a process each too: some policies take a
// different path by size (a WASM kernel from a crossover, latency_aware's tree from 16 members) and the
// backends use different state-table code.
//   node --import tsx bench/policies-one.ts '{"policy":"peak_ewma","backend":"wasm","n":64}'
// prints one JSON line, {"rows":[round_robin's Row, the policy's Row]} (BENCH_ROUNDS and BENCH_ROUND_MS apply).
import { pathToFileURL } from 'node:url';
import { Balancer, type Clock, type Picked, systemClock } from '../bindings/index.js';
import { mulberry32 } from '../bindings/util/random.js';
import { type Case, interleave } from './common.js';

export type PolicyConfig = string | { name: string; [k: string]: unknown };
export type Backend = 'wasm' | 'js';

export const SIZES = [8, 64, 1024];
export const POLICIES: PolicyConfig[] = [
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
export const label = (p: PolicyConfig) =>
  typeof p === 'string'
    ? p
    : `${p.name}(${Object.keys(p)
        .filter((k) => k !== 'name')
        .map((k) => `${k}=${String(p[k])}`)
        .join(',')})`;
export const LOOP = 1000;
// a clock that moves 10 µs per reading, so RTT-driven policies see time pass
let tMs = 0;
const clock: Clock = { ...systemClock, now: () => (tMs += 0.01) };
const keys = Array.from({ length: 4096 }, (_, i) => `user:${i}`);

export const endpointsOf = (n: number) =>
  Array.from({ length: n }, (_, i) => ({ id: `10.0.${i >> 8}.${i & 255}:80`, weight: 1 + (i % 4) }));

/** A Balancer of `policy` over `endpoints` and its pick + done case: the steady state of a client. */
export function pickDone(
  policy: PolicyConfig,
  backend: Backend,
  endpoints: ReturnType<typeof endpointsOf>,
): { lb: Balancer; c: Case } {
  const lb = new Balancer({ policy, backend, endpoints, clock, random: mulberry32(1) });
  const useKey = policy === 'ring_hash' || policy === 'xxhash_ring';
  const ctx = { key: '' };
  let k = 0;
  // in-flight stays near 0..1
  const fn = useKey
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
      };
  return { lb, c: { name: label(policy), ops: LOOP, fn } };
}

/** The name of round robin's row beside `policy` in the one-per-process suites. */
export const besideName = (policy: string) => `round_robin beside ${policy}`;

// The child: round_robin, then the policy, interleaved; one JSON line on stdout.
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const arg = JSON.parse(process.argv[2] ?? 'null') as { policy: PolicyConfig; backend: Backend; n: number } | null;
  if (arg === null || !SIZES.includes(arg.n) || (arg.backend !== 'wasm' && arg.backend !== 'js'))
    throw new TypeError(
      `policies-one: expected '{"policy":...,"backend":"wasm"|"js","n":8|64|1024}', got ${process.argv[2]}`,
    );
  const endpoints = endpointsOf(arg.n);
  const rr = pickDone('round_robin', arg.backend, endpoints);
  const p = pickDone(arg.policy, arg.backend, endpoints);
  const suite = `pick+done one-per-process ${arg.backend} ${arg.n}`;
  const name = label(arg.policy);
  const rows = interleave(suite, [
    { ...rr.c, name: besideName(name) },
    { ...p.c, name },
  ]);
  rr.lb.close();
  p.lb.close();
  process.stdout.write(JSON.stringify({ rows }) + '\n');
}

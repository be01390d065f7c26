// gRPC through @grpc/grpc-js with switchyard's policies (switchyard/grpc) against grpc-js's own, on loopback.
// Echo servers (test/fixtures/grpc/echo.proto) run in child processes (test/helpers/grpc.ts), one per
// server; the client is this process, one channel per policy and round, over a static: target.
//
// 1. Throughput: 4 servers answering at once; a closed loop of 32 concurrent unary calls for ROUND_MS per
//    policy; rounds interleaved (A, B, C, ... then again), median calls/s per policy, ratio to grpc-js
//    round_robin.
// 2. One slow server: 4 servers, one 10x slower (5 ms vs 50 ms, listed first), concurrency 16, CALLS calls
//    after WARMUP; p50/p99 and the slow server's share, median over the rounds.
// Results: bench/results/grpc.json (`rows`: calls/s; `tail`: the slow-server table); docs/grpc.md has both.
// Standalone: npx tsx bench/grpc.bench.ts [round ms, default 1500] [rounds, default 3]
import * as grpc from '@grpc/grpc-js';
import { registerSwitchyard } from '../bindings/grpc/index.js';
import { echo, echoService, startEchoProcess, type EchoClient, type EchoProcess } from '../test/helpers/grpc.js';
import { median, quantile, save, type Row } from './common.js';

const ROUND_MS = Number(process.argv[2] ?? 1500);
const ROUNDS = Number(process.argv[3] ?? 3);
const CALLS = 1600;
const WARMUP = 200;

registerSwitchyard(grpc);

const THROUGHPUT = ['round_robin', 'switchyard_round_robin', 'least_request', 'peak_ewma', 'latency_aware'];
const TAIL = ['round_robin', 'pick_first', 'peak_ewma', 'least_request', 'latency_aware'];

function client(servers: EchoProcess[], policy: string): EchoClient {
  const { Client } = echoService();
  return new Client(`static:///${servers.map((s) => s.addr).join(',')}`, grpc.credentials.createInsecure(), {
    'grpc.service_config': JSON.stringify({ loadBalancingConfig: [{ [policy]: {} }] }),
    'grpc.use_local_subchannel_pool': 1, // a fresh connection set per channel: no state shared between policies
  });
}

async function warm(c: EchoClient): Promise<void> {
  await echo(c, {}, { waitForReady: true });
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      for (let i = 0; i < WARMUP / 8; i++) await echo(c);
    }),
  );
}

/** Calls/s of a closed loop of `concurrency` callers for `ms`. */
async function throughput(c: EchoClient, ms: number, concurrency = 32): Promise<number> {
  let done = 0;
  const end = performance.now() + ms;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < end) {
        await echo(c);
        done++;
      }
    }),
  );
  return done / ((performance.now() - t0) / 1000);
}

/** Latencies (ms) of `n` calls from `concurrency` callers, and who answered. */
async function latencies(c: EchoClient, n: number, concurrency = 16): Promise<{ ms: number[]; servers: string[] }> {
  const ms: number[] = [];
  const servers: string[] = [];
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (ms.length < n) {
        const t = performance.now();
        const r = await echo(c);
        ms.push(performance.now() - t);
        servers.push(r.server);
      }
    }),
  );
  return { ms, servers };
}

const procs: EchoProcess[] = [];
try {
  // 1. throughput
  const fast = await Promise.all([0, 1, 2, 3].map(() => startEchoProcess(0, 0)));
  procs.push(...fast);
  const rates = new Map<string, number[]>(THROUGHPUT.map((p) => [p, []]));
  for (let r = 0; r < ROUNDS; r++) {
    for (const policy of r % 2 === 0 ? THROUGHPUT : [...THROUGHPUT].reverse()) {
      const c = client(fast, policy);
      await warm(c);
      const rate = await throughput(c, ROUND_MS);
      c.close();
      rates.get(policy)!.push(rate);
      process.stderr.write(`  grpc throughput | ${policy}: ${rate.toFixed(0)} calls/s\n`);
    }
  }
  const rows: Row[] = THROUGHPUT.map((p) => ({
    suite: 'grpc calls/s',
    name: p === 'round_robin' ? 'round_robin (grpc-js)' : p,
    opsPerSec: median(rates.get(p)!),
    rmePercent: 0,
    samples: ROUNDS,
  }));
  const ref = rows[0]!.opsPerSec;
  for (const p of fast) await p.kill();

  // 2. one slow server (listed first)
  const tailProcs = [
    await startEchoProcess(0, 50),
    ...(await Promise.all([0, 1, 2].map(() => startEchoProcess(0, 5)))),
  ];
  procs.push(...tailProcs);
  const slow = tailProcs[0]!.addr;
  const tail = new Map<string, { p50: number[]; p99: number[]; share: number[] }>(
    TAIL.map((p) => [p, { p50: [], p99: [], share: [] }]),
  );
  for (let r = 0; r < Math.max(2, ROUNDS - 1); r++) {
    for (const policy of r % 2 === 0 ? TAIL : [...TAIL].reverse()) {
      const c = client(tailProcs, policy);
      await warm(c);
      const { ms, servers } = await latencies(c, CALLS);
      c.close();
      const t = tail.get(policy)!;
      ms.sort((a, b) => a - b);
      t.p50.push(quantile(ms, 0.5));
      t.p99.push(quantile(ms, 0.99));
      t.share.push(servers.filter((s) => s === slow).length / servers.length);
      process.stderr.write(`  grpc slow server | ${policy}: p99 ${t.p99.at(-1)!.toFixed(1)} ms\n`);
    }
  }
  const rrP99 = median(tail.get('round_robin')!.p99);
  const tailRows = TAIL.map((p) => {
    const t = tail.get(p)!;
    return {
      policy: p === 'round_robin' || p === 'pick_first' ? `${p} (grpc-js)` : p,
      p99VsRoundRobin: median(t.p99) / rrP99,
      p50Ms: median(t.p50),
      p99Ms: median(t.p99),
      slowShare: median(t.share),
    };
  });
  save('grpc', {
    rows,
    ratios: rows.map((r) => ({ name: r.name, vsGrpcRoundRobin: r.opsPerSec / ref })),
    tail: tailRows,
    tables: [
      {
        title: 'one of 4 servers 10x slower: p99 vs grpc-js round_robin',
        header: ['policy', 'p99 ratio', 'p99 ms', 'p50 ms', 'slow share'],
        rows: tailRows.map((r) => [
          r.policy,
          `${r.p99VsRoundRobin.toFixed(2)}×`,
          r.p99Ms.toFixed(1),
          r.p50Ms.toFixed(1),
          `${(r.slowShare * 100).toFixed(1)}%`,
        ]),
        ratio: true,
      },
    ],
    setup: {
      roundMs: ROUND_MS,
      rounds: ROUNDS,
      throughputConcurrency: 32,
      tailConcurrency: 16,
      tailCalls: CALLS,
      fastMs: 5,
      slowMs: 50,
      grpcJs: (await import('@grpc/grpc-js/package.json', { with: { type: 'json' } })).default.version,
    },
  });
  for (const r of rows)
    process.stderr.write(`  ${r.name}: ${(r.opsPerSec / ref).toFixed(2)}x (${r.opsPerSec.toFixed(0)} calls/s)\n`);
  for (const r of tailRows)
    process.stderr.write(
      `  ${r.policy}: p99 ${r.p99VsRoundRobin.toFixed(2)}x (${r.p99Ms.toFixed(1)} ms), p50 ${r.p50Ms.toFixed(1)} ms, slow share ${(r.slowShare * 100).toFixed(1)}%\n`,
    );
} finally {
  for (const p of procs) await p.kill();
}

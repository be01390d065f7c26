// A small loopback load test (bench/tail-latency.bench.ts): 4 HTTP backends in a child process, one 10x slower.
// Latency percentiles are too noisy on a loaded 2-core machine to assert, so this checks the robust
// property: the latency-aware policies send the slow backend well under 10% of the traffic (round robin: 25%).
import test from 'ava';
import { runTailLatency } from '../../bench/tail-latency.bench.js';

test('peak_ewma and latency_aware starve the 10x slower backend; round_robin gives it a quarter', async (t) => {
  const rows = await runTailLatency({
    requests: 1200,
    concurrency: 4,
    fastMs: 5,
    slowMs: 50,
    policies: ['round_robin', 'peak_ewma', 'latency_aware'],
    maxSecondsPerPolicy: 40,
  });
  const by = Object.fromEntries(rows.map((r) => [r.policy, r]));
  t.log(
    rows
      .map(
        (r) =>
          `${r.policy}: p50 ${r.p50Ms.toFixed(1)} p99 ${r.p99Ms.toFixed(1)} slow ${(r.share[0]! * 100).toFixed(1)}%`,
      )
      .join('\n'),
  );
  for (const r of rows) t.true(r.requests >= 200, `${r.policy} completed ${r.requests}`);
  t.true(Math.abs(by.round_robin!.share[0]! - 0.25) < 0.01);
  t.true(by.peak_ewma!.share[0]! < 0.1);
  t.true(by.latency_aware!.share[0]! < 0.1);
});

// Shared benchmark plumbing: runs benchmark.js cases, reports the median ops/s (1 / median sample period,
// times the operations each call performs), and writes bench/results/<suite>.json with the machine.
import Benchmark from 'benchmark';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';

export interface Row {
  suite: string;
  name: string;
  opsPerSec: number;
  rmePercent: number;
  samples: number;
}

/** Where a result was measured; every results file records it. */
export interface Machine {
  node: string;
  cpu: string;
  cores: number;
}

export const machine = (): Machine => ({
  node: process.version,
  cpu: cpus()[0]?.model ?? 'unknown',
  cores: cpus().length,
});

/** Runs `fn` (which performs `opsPerCall` operations) and returns median ops/s. */
export function measure(
  suite: string,
  name: string,
  fn: () => void,
  opsPerCall = 1,
  maxTime = Number(process.env.BENCH_SECONDS ?? 1.5),
): Row {
  const b = new Benchmark(name, fn, { maxTime, minSamples: 10 });
  b.run();
  if (b.error) throw b.error;
  const sample = [...b.stats.sample].sort((x, y) => x - y);
  const median = sample[Math.floor(sample.length / 2)]!;
  const row = { suite, name, opsPerSec: opsPerCall / median, rmePercent: b.stats.rme, samples: sample.length };
  process.stderr.write(`  ${suite} | ${name}: ${fmt(row.opsPerSec)} ops/s ±${row.rmePercent.toFixed(1)}%\n`);
  return row;
}

/** Times a one-shot operation (e.g. a build) `runs` times and returns the median in milliseconds. */
export function medianMs(fn: () => void, runs = 15): number {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = process.hrtime.bigint();
    fn();
    times.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)]!;
}

export function fmt(n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(2)}G`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)}M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)}k`;
  return n.toFixed(1);
}

export function save(suite: string, data: object): void {
  mkdirSync(new URL('./results/', import.meta.url), { recursive: true });
  writeFileSync(
    new URL(`./results/${suite}.json`, import.meta.url),
    JSON.stringify({ suite, machine: machine(), at: new Date().toISOString(), ...data }, null, 2) + '\n',
  );
}

/** Keeps the optimizer from discarding results. */
export let sink = 0;
export function consume(x: unknown): void {
  sink = (sink + (typeof x === 'number' ? x : typeof x === 'string' ? x.length : 1)) | 0;
}

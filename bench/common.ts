// Shared benchmark plumbing: runs benchmark.js cases, reports the median ops/s (1 / median sample period,
// times the operations each call performs), and writes bench/results/<suite>.json with the machine.
import Benchmark from 'benchmark';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { mulberry32 } from '../bindings/util/random.js';

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
  const row = {
    suite,
    name,
    opsPerSec: opsPerCall / median(b.stats.sample),
    rmePercent: b.stats.rme,
    samples: b.stats.sample.length,
  };
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
  return median(times);
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

/** One case of an interleaved comparison: `fn` performs `ops` operations per call. */
export interface Case {
  name: string;
  fn: () => void;
  ops?: number;
}

/**
 * Interleaved measurement, for ratios on a noisy shared machine: every round runs each case once for about
 * `roundMs` (A, B, C, A, B, C, ...), so a slow spell hits all cases alike; each case's ops/s is the median
 * over `rounds` rounds. Calls per round are calibrated per case on warm code (below). Returns one Row per
 * case (rmePercent: half the interquartile range, as % of the median); `ratio` divides two of them.
 */
export function interleave(
  suite: string,
  cases: Case[],
  { rounds = Number(process.env.BENCH_ROUNDS ?? 25), roundMs = Number(process.env.BENCH_ROUND_MS ?? 10) } = {},
): Row[] {
  // Calls per round, from warm code: the first pass runs every case (its first calls are interpreted and
  // allocate its buffers), the second sets the counts. A batch is only ever slowed (GC, preemption), so the
  // fastest of three estimates the rate. Calibrating on cold code gave rounds of 1-4 calls (~0.1 ms) that
  // measured cold caches and single hiccups: 'group 10 members' fell from ~20 to 6-10 M/s in 1 run of 3.
  const timeOf = (c: Case, n: number): number => {
    const t0 = performance.now();
    for (let i = 0; i < n; i++) c.fn();
    return performance.now() - t0;
  };
  const calibrate = (c: Case): number => {
    let n = 1;
    let dt = timeOf(c, n);
    while (dt < roundMs / 4) dt = timeOf(c, (n *= 2));
    dt = Math.min(dt, timeOf(c, n), timeOf(c, n));
    return Math.max(1, Math.round((n * roundMs) / dt));
  };
  cases.forEach(calibrate);
  const calls = cases.map(calibrate);
  const rates: number[][] = cases.map(() => []);
  for (let r = 0; r < rounds; r++) {
    cases.forEach((c, i) => {
      const n = calls[i]!;
      const t0 = performance.now();
      for (let k = 0; k < n; k++) c.fn();
      const dt = performance.now() - t0;
      rates[i]!.push((n * (c.ops ?? 1) * 1000) / dt);
      if (dt > 0 && dt < roundMs / 2) calls[i] = Math.round((n * roundMs) / dt); // under-calibrated: lengthen later rounds
    });
  }
  return cases.map((c, i) => {
    const s = rates[i]!.sort((a, b) => a - b);
    const q = (f: number) => quantile(s, f);
    const median = q(0.5);
    const row = {
      suite,
      name: c.name,
      opsPerSec: median,
      rmePercent: ((q(0.75) - q(0.25)) / 2 / median) * 100,
      samples: s.length,
    };
    process.stderr.write(`  ${suite} | ${c.name}: ${fmt(median)} ops/s ±${row.rmePercent.toFixed(1)}% (interleaved)\n`);
    return row;
  });
}

/** Interleaved one-shot timings (builds): `runs` rounds of A, B, ...; the median ms of each. */
export function interleaveMs(cases: { name: string; fn: () => void }[], runs = 9): number[] {
  const times: number[][] = cases.map(() => []);
  for (let r = 0; r < runs; r++)
    cases.forEach((c, i) => {
      const t0 = process.hrtime.bigint();
      c.fn();
      times[i]!.push(Number(process.hrtime.bigint() - t0) / 1e6);
    });
  return times.map(median);
}

/** A seeded shuffle (Fisher-Yates over mulberry32): the same sequence of orders on every run. */
export function seededShuffle(seed: number): <T>(xs: readonly T[]) => T[] {
  const random = mulberry32(seed);
  return <T>(xs: readonly T[]): T[] => {
    const out = [...xs];
    for (let i = out.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [out[i], out[j]] = [out[j]!, out[i]!];
    }
    return out;
  };
}

/**
 * The `f`-quantile (0..1) of an ascending sample: s[floor(n × f)], the last for f = 1, NaN when empty. The one
 * convention of every bench (so the median of an even count is the upper of the middle two).
 */
export function quantile(sorted: readonly number[], f: number): number {
  return sorted.length === 0 ? NaN : sorted[quantileIndex(sorted.length, f)]!;
}

/** Where `quantile` reads the `f`-quantile of an ascending sample of `n` (> 0) items: floor(n × f), at most n - 1. */
export function quantileIndex(n: number, f: number): number {
  return Math.min(n - 1, Math.floor(n * f));
}

/** The median of a sample in any order (`quantile` 0.5). */
export function median(xs: readonly number[]): number {
  return quantile(
    [...xs].sort((a, b) => a - b),
    0.5,
  );
}

/** Median, interquartile range and a distribution-free 95% confidence interval of the median of a sample. */
export interface Spread {
  median: number;
  q25: number;
  q75: number;
  ciLow: number;
  ciHigh: number;
}

/** The Spread of a sample: `quantile`s; the CI's ranks n/2 ± 0.98√n (normal approximation). */
export function spread(xs: readonly number[]): Spread {
  const s = [...xs].sort((a, b) => a - b);
  const n = s.length;
  const at = (i: number) => s[Math.max(0, Math.min(n - 1, i))]!;
  const h = Math.ceil(0.98 * Math.sqrt(n));
  return {
    median: quantile(s, 0.5),
    q25: quantile(s, 0.25),
    q75: quantile(s, 0.75),
    ciLow: at(Math.floor(n / 2) - h),
    ciHigh: at(Math.ceil(n / 2) + h - 1),
  };
}

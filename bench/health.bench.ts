// Health-check overhead (issue 5 "Numbers"), a standalone script: `npx tsx bench/health.bench.ts` (~30 s).
// 1. Real time, loopback: 1000 members probed every second (HTTP fetch probe, TCP connect probe, and a no-op
//    user function for the scheduler alone). Lag = actual start − scheduled time of each probe; "keeping up"
//    means every member gets ~1 probe per (interval + probe duration) and the lag p99 stays small.
// 2. Virtual clock: 10 000 probe rounds over 20 members (200k probes, members flapping so every transition
//    runs); heap after GC sampled along the way must stay flat.
// Prints a markdown table and writes bench/results/health.json. Numbers are provisional (shared machine).
import { spawn } from 'node:child_process';
import { machine, quantile, save } from './common.js';
import { VirtualClock } from '../bindings/util/clock.js';
import { HealthChecker, type HealthMember, type HealthProbe } from '../bindings/health/checker.js';
import { httpProbe } from '../bindings/health/http-probe.js';
import { tcpProbe } from '../bindings/health/tcp-probe.js';

const MEMBERS = 1000;
const SERVERS = 20;
const INTERVAL_MS = 1000;
const RUN_MS = Number(process.env.HEALTH_BENCH_RUN_MS ?? 4000);
const WARMUP_MS = 1000;

const pct = (sorted: number[], p: number) => quantile(sorted, p / 100);

/** Loopback HTTP servers in a child process, so the measured process only does the probing. */
async function startServers(n: number): Promise<{ ports: number[]; close(): Promise<void> }> {
  const code = `
    const http = require('node:http'); const ports = []; let up = 0;
    for (let i = 0; i < ${n}; i++) {
      const s = http.createServer((q, r) => r.end('ok'));
      s.listen(0, '127.0.0.1', () => { ports[i] = s.address().port; if (++up === ${n}) console.log(JSON.stringify(ports)); });
    }`;
  const child = spawn(process.execPath, ['-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
  const ports = await new Promise<number[]>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += String(d);
      if (out.includes('\n')) resolve(JSON.parse(out) as number[]);
    });
    child.once('exit', (c) => reject(new Error(`server process exited with ${c}`)));
  });
  return {
    ports,
    close: async () => {
      if (child.exitCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill();
      await exited;
    },
  };
}

interface RealRow {
  probe: string;
  members: number;
  probes: number;
  probesPerMemberPerSec: number;
  lagP50Ms: number;
  lagP99Ms: number;
  lagMaxMs: number;
  durationP50Ms: number;
  durationP99Ms: number;
  failures: number;
  cpuPercentOfOneCore: number;
}

async function realTime(name: string, probe: HealthProbe, ports: number[], members = MEMBERS): Promise<RealRow> {
  const hc = new HealthChecker({
    probe,
    intervalMs: INTERVAL_MS,
    timeoutMs: 500,
    initialJitterMs: INTERVAL_MS, // spread the fleet over the first second
    startHealthy: true,
  });
  for (let i = 0; i < members; i++) hc.add({ id: `m${i}`, host: '127.0.0.1', port: ports[i % ports.length]! });
  const lags: number[] = [];
  const durations: number[] = [];
  let failures = 0;
  let measuring = false;
  hc.on('probe', (e) => {
    if (!measuring) return;
    lags.push(e.startedAt - e.scheduledAt);
    durations.push(e.durationMs);
    if (!e.ok) failures++;
  });
  hc.start();
  await new Promise((r) => setTimeout(r, WARMUP_MS));
  measuring = true;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, RUN_MS));
  const elapsed = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  measuring = false;
  hc.stop();
  lags.sort((a, b) => a - b);
  durations.sort((a, b) => a - b);
  return {
    probe: name,
    members,
    probes: lags.length,
    probesPerMemberPerSec: lags.length / members / (elapsed / 1000),
    lagP50Ms: pct(lags, 50),
    lagP99Ms: pct(lags, 99),
    lagMaxMs: lags.at(-1) ?? NaN,
    durationP50Ms: pct(durations, 50),
    durationP99Ms: pct(durations, 99),
    failures,
    cpuPercentOfOneCore: ((cpu.user + cpu.system) / 1000 / elapsed) * 100,
  };
}

interface MemRow {
  members: number;
  rounds: number;
  probes: number;
  transitions: number;
  heapMiB: Array<{ round: number; heapUsedMiB: number }>;
  growthMiB: number;
  wallMs: number;
}

async function memory(rounds = 10_000, members = 20): Promise<MemRow> {
  const gc = (globalThis as { gc?: () => void }).gc;
  const clock = new VirtualClock(0);
  let round = 0;
  // Member i fails for 5 rounds out of every 40: healthy -> suspect -> failed -> healthy, again and again.
  const probe: HealthProbe<HealthMember & { i: number }> = (m) => Promise.resolve((round + m.i) % 40 >= 5);
  const hc = new HealthChecker<HealthMember & { i: number }>({ probe, clock, intervalMs: 1000, timeoutMs: 100 });
  let transitions = 0;
  hc.on('transition', () => transitions++);
  for (let i = 0; i < members; i++) hc.add({ id: `m${i}`, host: '127.0.0.1', port: 1, i });
  hc.start();
  const heap: MemRow['heapMiB'] = [];
  const sample = () => {
    gc?.();
    heap.push({ round, heapUsedMiB: process.memoryUsage().heapUsed / 2 ** 20 });
  };
  const t0 = performance.now();
  for (round = 0; round < rounds; round++) {
    await clock.advance(1000);
    if (round === 500 || (round > 0 && round % 2000 === 0) || round === rounds - 1) sample();
  }
  const wallMs = performance.now() - t0;
  hc.stop();
  return {
    members,
    rounds,
    probes: hc.stats().probes,
    transitions,
    heapMiB: heap,
    growthMiB: heap.at(-1)!.heapUsedMiB - heap[0]!.heapUsedMiB,
    wallMs,
  };
}

const f = (n: number, d = 1) => (Number.isFinite(n) ? n.toFixed(d) : '-');

async function main() {
  process.stderr.write(
    `health bench: ${MEMBERS} members over ${SERVERS} loopback servers (child process), ${RUN_MS} ms per row\n`,
  );
  const srv = await startServers(SERVERS);
  const rows: RealRow[] = [];
  try {
    const noop: HealthProbe = () => Promise.resolve(true);
    rows.push(await realTime('user function (no I/O)', noop, srv.ports));
    rows.push(await realTime('tcp connect', tcpProbe(), srv.ports));
    rows.push(await realTime('http GET (fetch)', httpProbe({ path: '/healthz' }), srv.ports));
    rows.push(await realTime('http GET (fetch)', httpProbe({ path: '/healthz' }), srv.ports, 250));
  } finally {
    await srv.close();
  }
  const mem = await memory();
  const lines = [
    `| probe | members | probes | probes/member/s | lag p50 ms | lag p99 ms | lag max ms | duration p50 ms | duration p99 ms | failures | CPU % of 1 core |`,
    `|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|`,
    ...rows.map(
      (r) =>
        `| ${r.probe} | ${r.members} | ${r.probes} | ${f(r.probesPerMemberPerSec, 3)} | ${f(r.lagP50Ms, 2)} | ${f(r.lagP99Ms, 2)} | ${f(r.lagMaxMs, 1)} | ${f(r.durationP50Ms, 2)} | ${f(r.durationP99Ms, 2)} | ${r.failures} | ${f(r.cpuPercentOfOneCore)} |`,
    ),
    '',
    `Memory, virtual clock: ${mem.rounds} rounds × ${mem.members} members = ${mem.probes} probes, ${mem.transitions} transitions, ${f(mem.wallMs / 1000, 1)} s wall${(globalThis as { gc?: unknown }).gc ? '' : ' (no --expose-gc: heap not forced)'}`,
    '',
    `| round | heap used MiB |`,
    `|---:|---:|`,
    ...mem.heapMiB.map((h) => `| ${h.round} | ${f(h.heapUsedMiB, 2)} |`),
    '',
    `heap growth from round ${mem.heapMiB[0]!.round} to ${mem.heapMiB.at(-1)!.round}: ${f(mem.growthMiB, 2)} MiB`,
  ];
  console.log(lines.join('\n'));
  save('health', { machine: machine(), intervalMs: INTERVAL_MS, runMs: RUN_MS, realTime: rows, memory: mem });
}

await main();

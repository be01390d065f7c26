// Tail latency on loopback (issue 4): 4 HTTP backends in a child process, one 10x slower (default 5 ms vs
// 50 ms); a closed loop of `concurrency` clients sends `requests` requests through a Balancer per policy and
// records p50/p99 latency and each backend's share of traffic. Bounded in count and time.
// Standalone: npx tsx bench/tail-latency.bench.ts [requests] [concurrency]; writes bench/results/tail-latency.json.
import { spawn } from 'node:child_process';
import { Agent, request } from 'node:http';
import { createServer } from 'node:net';
import { pathToFileURL } from 'node:url';
import { Balancer } from '../bindings/index.js';
import { mulberry32 } from '../bindings/util/random.js';

export interface TailRow {
  policy: string;
  requests: number;
  p50Ms: number;
  p99Ms: number;
  /** Share of requests per backend, the slow one first. */
  share: number[];
  seconds: number;
}

export interface TailOptions {
  requests?: number;
  concurrency?: number;
  fastMs?: number;
  slowMs?: number;
  /** Policy names or `{ name, ...options }` (default the four of the issue). */
  policies?: (string | { name: string; [option: string]: unknown })[];
  /** Stop a policy's run after this long even if requests remain (default 60 s). */
  maxSecondsPerPolicy?: number;
}

const BACKEND = `
const http = require('http');
const [fast, slow, ...ports] = process.argv.slice(1).map(Number);
ports.forEach((p, i) => http.createServer((req, res) => setTimeout(() => res.end(String(i)), i === 0 ? slow : fast)).listen(p, '127.0.0.1'));
process.stdin.on('end', () => process.exit(0)); process.stdin.resume();
`;

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => resolve(typeof a === 'object' && a !== null ? a.port : 0));
    });
  });
}

async function waitFor(port: number, deadline: number): Promise<void> {
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const r = request({ host: '127.0.0.1', port, path: '/', agent: false }, (res) => {
        res.resume();
        res.on('end', () => resolve(true));
      });
      r.on('error', () => resolve(false));
      r.end();
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`backend on ${port} did not start`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function quantile(sorted: number[], q: number): number {
  return sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

export async function runTailLatency(o: TailOptions = {}): Promise<TailRow[]> {
  const requests = o.requests ?? 4000;
  const concurrency = o.concurrency ?? 16;
  const fastMs = o.fastMs ?? 5;
  const slowMs = o.slowMs ?? 10 * fastMs;
  const policies = o.policies ?? ['round_robin', 'least_request', 'peak_ewma', 'latency_aware'];
  const ports: number[] = [];
  while (ports.length < 4) {
    const p = await freePort();
    if (!ports.includes(p)) ports.push(p);
  }
  // the backends run in their own process so that the client's event loop does not delay them
  const child = spawn(process.execPath, ['-e', BACKEND, String(fastMs), String(slowMs), ...ports.map(String)], {
    stdio: ['pipe', 'ignore', 'inherit'],
  });
  const rows: TailRow[] = [];
  try {
    for (const p of ports) await waitFor(p, Date.now() + 15_000);
    for (const policy of policies) {
      const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
      const label = typeof policy === 'string' ? policy : JSON.stringify(policy);
      const lb = new Balancer({ policy, random: mulberry32(1), endpoints: ports.map((p) => `127.0.0.1:${p}`) });
      // warm up: `concurrency` keep-alive connections per backend, so that no sample carries a TCP connect
      // (Peak-EWMA keeps a peak for about decayMs: one 30 ms connect would skew a whole short run)
      for (let round = 0; round < 2; round++) {
        await Promise.all(ports.flatMap((p) => Array.from({ length: concurrency }, () => get(agent, p))));
      }
      const lat: number[] = [];
      const counts = new Map<number, number>();
      let sent = 0;
      const t0 = Date.now();
      const deadline = t0 + (o.maxSecondsPerPolicy ?? 60) * 1000;
      const worker = async () => {
        while (sent < requests && Date.now() < deadline) {
          sent++;
          const p = lb.pickOrThrow();
          const start = performance.now();
          let ok = true;
          try {
            await get(agent, p.member.port);
          } catch {
            ok = false;
          }
          const ms = performance.now() - start;
          p.handle.done({ ok, rttMs: ms });
          lat.push(ms);
          counts.set(p.member.port, (counts.get(p.member.port) ?? 0) + 1);
        }
      };
      await Promise.all(Array.from({ length: concurrency }, worker));
      agent.destroy();
      lat.sort((a, b) => a - b);
      rows.push({
        policy: label,
        requests: lat.length,
        p50Ms: quantile(lat, 0.5),
        p99Ms: quantile(lat, 0.99),
        share: ports.map((p) => (counts.get(p) ?? 0) / lat.length),
        seconds: (Date.now() - t0) / 1000,
      });
      lb.close();
    }
  } finally {
    child.stdin!.end();
    child.kill();
  }
  return rows;
}

function get(agent: Agent, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const r = request({ host: '127.0.0.1', port, path: '/', agent, timeout: 10_000 }, (res) => {
      res.resume();
      res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(String(res.statusCode)))));
    });
    r.on('timeout', () => r.destroy(new Error('timeout')));
    r.on('error', reject);
    r.end();
  });
}

export function tailTable(rows: TailRow[]): string {
  return [
    '| policy | requests | p50 ms | p99 ms | slow backend share | fast backends share |',
    '|---|---:|---:|---:|---:|---|',
    ...rows.map(
      (r) =>
        `| ${r.policy} | ${r.requests} | ${r.p50Ms.toFixed(1)} | ${r.p99Ms.toFixed(1)} | ${(r.share[0]! * 100).toFixed(1)}% | ${r.share
          .slice(1)
          .map((s) => `${(s * 100).toFixed(1)}%`)
          .join(' / ')} |`,
    ),
  ].join('\n');
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const requests = Number(process.argv[2] ?? 4000);
  const concurrency = Number(process.argv[3] ?? 16);
  const rows = await runTailLatency({ requests, concurrency });
  console.log(tailTable(rows));
  const { save } = await import('./common.js');
  save('tail-latency', { requests, concurrency, fastMs: 5, slowMs: 50, rows });
}

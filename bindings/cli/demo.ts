// `switchyard demo` / `npm start`: a live, self-contained demonstration on loopback. Four HTTP backends
// start in-process (api-3 is ten times slower, api-4 dies a quarter of the way in and comes back later); a
// steady stream of requests goes through createFetch with the peak_ewma policy, active health checks and
// outlier detection. A table refreshes in place on a terminal (plain periodic lines otherwise): per backend
// its state, share of traffic, in-flight requests, Peak-EWMA estimate and p99; events print as they happen;
// a summary closes the run. Node only.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Balancer } from '../balancing/balancer.js';
import { createFetch } from '../http/fetch.js';
import { HealthChecker, type HealthState } from '../health/checker.js';
import { httpProbe } from '../health/http-probe.js';
import { connectHealth } from '../health/connect.js';
import { OutlierDetector } from '../health/outlier.js';
import { systemClock } from '../util/clock.js';
import { positive } from '../util/validate.js';

export interface DemoOptions {
  durationS?: number;
  /** Concurrent request loops (default 8). */
  concurrency?: number;
  out?: (line: string) => void;
  /** Refresh the table in place with ANSI escapes (default: stdout is a TTY). */
  tty?: boolean;
}

export interface DemoSummary {
  durationS: number;
  requests: number;
  tries: number;
  retries: number;
  failures: number;
  /** Backend id → fraction of successful requests it served. */
  share: Record<string, number>;
  /** Ids taken out of rotation (health Failed or ejected) at least once, and those let back in. */
  removed: string[];
  readmitted: string[];
  events: string[];
}

interface Backend {
  id: string;
  port: number;
  server: Server;
  latencyMs: [number, number];
  up: boolean;
}

async function listen(b: Backend): Promise<void> {
  b.server = createServer((req, res) => {
    if (req.url === '/healthz') {
      res.end('ok');
      return;
    }
    const [lo, hi] = b.latencyMs;
    systemClock.setTimeout(() => res.end(b.id), lo + Math.random() * (hi - lo));
  });
  await new Promise<void>((resolve, reject) => {
    b.server.once('error', reject);
    b.server.listen(b.port, '127.0.0.1', () => resolve());
  });
  b.port = (b.server.address() as AddressInfo).port;
  b.up = true;
}

function close(b: Backend): Promise<void> {
  b.up = false;
  return new Promise((resolve) => {
    b.server.close(() => resolve());
    b.server.closeAllConnections();
  });
}

function p99(samples: number[]): number {
  if (samples.length === 0) return 0;
  const s = [...samples].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(s.length * 0.99))]!;
}

export async function runDemo(options: DemoOptions = {}): Promise<DemoSummary> {
  const durationS = options.durationS === undefined ? 30 : positive('durationS', options.durationS);
  const concurrency = options.concurrency ?? 8;
  const out = options.out ?? ((l: string) => process.stdout.write(`${l}\n`));
  const tty = options.tty ?? process.stdout.isTTY === true;
  // One clock for the Balancer, health checks, outlier detection, fetch and the demo's own timeline.
  const clock = systemClock;
  const sleep = (ms: number) => new Promise<void>((r) => clock.setTimeout(r, ms));
  const started = clock.now();
  const elapsed = () => (clock.now() - started) / 1000;
  const events: string[] = [];
  const event = (msg: string) => {
    const line = `${elapsed().toFixed(1).padStart(5)}s  ${msg}`;
    events.push(line);
    if (!tty) out(line);
  };

  const backends: Backend[] = [
    { id: 'api-1', port: 0, server: undefined as unknown as Server, latencyMs: [2, 6], up: false },
    { id: 'api-2', port: 0, server: undefined as unknown as Server, latencyMs: [2, 6], up: false },
    { id: 'api-3', port: 0, server: undefined as unknown as Server, latencyMs: [20, 60], up: false },
    { id: 'api-4', port: 0, server: undefined as unknown as Server, latencyMs: [2, 6], up: false },
  ];
  for (const b of backends) await listen(b);

  const balancer = new Balancer({
    policy: 'peak_ewma',
    clock,
    endpoints: backends.map((b) => ({ id: b.id, host: '127.0.0.1', port: b.port })),
  });
  const checker = new HealthChecker({
    probe: httpProbe({ path: '/healthz' }),
    intervalMs: 500,
    timeoutMs: 250,
    startHealthy: true,
    clock,
  });
  const detector = new OutlierDetector({
    consecutive5xx: 3,
    intervalMs: 500,
    baseEjectionTimeMs: 2000,
    maxEjectionPercent: 50,
    clock,
  });
  const wiring = connectHealth(balancer as unknown as Parameters<typeof connectHealth>[0], {
    checker,
    detector,
    clock,
  });
  const states = new Map<string, HealthState | 'ejected'>(backends.map((b) => [b.id, 'healthy']));
  const removed = new Set<string>();
  const readmitted = new Set<string>();
  checker.on('transition', (e) => {
    states.set(e.member.id, e.to);
    event(`health ${e.member.id}: ${e.from} -> ${e.to} (${e.reason})`);
  });
  detector.on('ejection', (e) => {
    if (e.ejected) states.set(e.id, 'ejected');
    event(`outlier ${e.id}: ${e.ejected ? `ejected for ${e.ejectionMs} ms` : 'returned'} (${e.reason})`);
  });
  balancer.on('availability', (e: { id: string; available: boolean; reason?: string }) => {
    if (!e.available) removed.add(e.id);
    else if (removed.has(e.id)) readmitted.add(e.id);
    if (e.available && states.get(e.id) === 'ejected') states.set(e.id, 'healthy');
    event(
      `balancer ${e.id}: ${e.available ? 'back in rotation' : 'out of rotation'}${e.reason ? ` (${e.reason})` : ''}`,
    );
  });
  const served = new Map<string, number>();
  const latency = new Map<string, number[]>();
  balancer.on('outcome', (e: { id: string; ok: boolean; rttMs: number }) => {
    const l = latency.get(e.id) ?? [];
    l.push(e.rttMs);
    if (l.length > 2000) l.splice(0, l.length - 2000);
    latency.set(e.id, l);
  });

  const f = createFetch({
    balancer,
    perTryTimeoutMs: 1000,
    retry: { maxAttempts: 4, initialBackoffMs: 5, maxBackoffMs: 50 },
    retryThrottling: { maxTokens: 100, tokenRatio: 0.5 },
    clock,
  });
  const endAt = clock.now() + durationS * 1000;
  const dying = backends[3]!;
  const killAt = durationS * 0.25;
  const reviveAt = durationS * 0.55;
  let failures = 0;

  let renderedAt = -Infinity;
  const render = () => {
    renderedAt = clock.now();
    const st = balancer.stats();
    const total = [...served.values()].reduce((s, n) => s + n, 0) || 1;
    const lines = [
      `switchyard demo: peak_ewma over 4 loopback backends (${elapsed().toFixed(1)}s / ${durationS}s)`,
      `requests ${f.stats().requests}  tries ${f.stats().tries}  retries ${f.stats().retries}  failures ${failures}`,
      'backend  state      share   in-flight  ewma ms   p99 ms',
    ];
    for (const m of st.members) {
      const ewma = typeof m.rttEstimateMs === 'number' ? m.rttEstimateMs.toFixed(1) : '-';
      lines.push(
        `${m.id.padEnd(8)} ${String(states.get(m.id)).padEnd(10)} ${(((served.get(m.id) ?? 0) / total) * 100).toFixed(1).padStart(5)}%  ${String(m.active).padStart(9)}  ${ewma.padStart(7)}  ${p99(
          latency.get(m.id) ?? [],
        )
          .toFixed(1)
          .padStart(7)}`,
      );
    }
    if (tty) {
      lines.push('', 'events:', ...events.slice(-8));
      process.stdout.write(`\x1b[H\x1b[2J${lines.join('\n')}\n`);
    } else out(lines.join('\n'));
  };

  const worker = async () => {
    while (clock.now() < endAt) {
      try {
        const res = await f('/work');
        const who = await res.text();
        if (res.ok) served.set(who, (served.get(who) ?? 0) + 1);
        else failures++;
      } catch {
        failures++;
      }
      await sleep(2);
    }
  };
  const scenario = async () => {
    await sleep(killAt * 1000);
    event(`chaos: ${dying.id} is killed`);
    await close(dying);
    await sleep((reviveAt - killAt) * 1000);
    await listen(dying);
    event(`chaos: ${dying.id} is back on the same port`);
  };
  const ticker = setInterval(render, tty ? 250 : Math.max(1000, (durationS * 1000) / 6));
  try {
    await Promise.all([scenario(), ...Array.from({ length: concurrency }, worker)]);
    if (tty || clock.now() - renderedAt > 500) render(); // no second identical table in plain output
  } finally {
    clearInterval(ticker);
    wiring.close();
    await Promise.all(backends.filter((b) => b.up).map(close));
    balancer.close();
  }
  const s = f.stats();
  const total = [...served.values()].reduce((a, n) => a + n, 0) || 1;
  const summary: DemoSummary = {
    durationS,
    requests: s.requests,
    tries: s.tries,
    retries: s.retries,
    failures,
    share: Object.fromEntries(backends.map((b) => [b.id, (served.get(b.id) ?? 0) / total])),
    removed: [...removed].sort(),
    readmitted: [...readmitted].sort(),
    events,
  };
  out(
    `summary: ${summary.requests} requests, ${summary.retries} retries, ${summary.failures} failures; ` +
      `taken out of rotation: ${summary.removed.join(', ') || 'none'}; readmitted: ${summary.readmitted.join(', ') || 'none'}; ` +
      `share: ${Object.entries(summary.share)
        .map(([id, x]) => `${id} ${(x * 100).toFixed(1)}%`)
        .join(', ')}`,
  );
  return summary;
}

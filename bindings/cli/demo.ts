// `switchyard demo` / `npm start`: a live, self-contained demonstration on loopback. Six HTTP backends start
// in-process in two regions: api-1..4 in region us (priority 0; api-3 is ten times slower) and eu-1, eu-2 in
// region eu (priority 1, the failover region, a little farther away). A steady stream of requests goes through
// createFetch with the peak_ewma policy, active health checks and outlier detection, while the story unfolds
// (fractions of the duration):
//   0.25  api-4 is killed: us keeps 3 of 4 members, 1.4 × 75 % ≥ 100 %: no spill (Envoy's overprovisioning)
//   0.40  api-1 and api-2 are killed: us has 1 of 4 healthy: health ⌊1.4 × 100 × 1/4⌋ = 35, 65 % fails over to eu
//   0.55  api-4 is back on the same port: 2 of 4, health 70: 30 % on eu
//   0.70  api-1 and api-2 are back: us healthy, traffic returns (100 / 0)
// (docs/priorities.md has the formula.) A table refreshes in place on a terminal (plain periodic lines
// otherwise): the load per priority, and per backend its region, priority, state, share of traffic (overall and
// recent), in-flight requests, Peak-EWMA estimate and p99; events print as they happen; a summary closes the
// run, with the phases of the priority loads and the traffic each priority actually served in each. Health
// probes run every durationS / 40 s (150 to 500 ms), so short runs see the whole story. With prom-client
// installed, Prometheus metrics (observability/metrics.ts) are served on a loopback port at /metrics for the
// length of the run (the address is printed first). Node only.
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
import { CommandError } from './args.js';

export interface DemoOptions {
  durationS?: number;
  /** Concurrent request loops (default 8). */
  concurrency?: number;
  out?: (line: string) => void;
  /** Refresh the table in place with ANSI escapes (default: stdout is a TTY). */
  tty?: boolean;
  /** Loopback port for /metrics (default 0: any free port; false: no metrics endpoint). */
  metricsPort?: number | false;
  /** Ends the run early (the CLI's Ctrl-C): the requests stop, the chaos too, and the summary covers the run so far. */
  signal?: AbortSignal;
}

/** A span of the run with one set of priority loads (Envoy's formula over the healthy members). */
export interface DemoPhase {
  /** Seconds since the start. */
  atS: number;
  /** Per priority level, in order (0 first): healthy and total members, load in percent. */
  healthy: number[];
  total: number[];
  loadPercent: number[];
  /**
   * Successful requests answered during the phase, and the share of them each level served, percent (counted
   * on the answer: a request picked just before a change counts for the next phase).
   */
  requests: number;
  observedPercent: number[];
}

export interface DemoSummary {
  durationS: number;
  /** The /metrics URL served during the run, if any. */
  metricsUrl?: string;
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
  /** The members: region and priority (0 preferred). */
  members: { id: string; region: string; priority: number }[];
  /** Region → fraction of successful requests it served. */
  regionShare: Record<string, number>;
  /** The priority loads, each time they changed. */
  phases: DemoPhase[];
  /**
   * When traffic first spilled from priority 0 to the failover region (null: never), the largest load it got
   * there (percent), and when all traffic was back on priority 0 after that (null: it did not come back).
   */
  failover: { spilledAtS: number | null; maxSpillPercent: number; returnedAtS: number | null };
}

interface Backend {
  id: string;
  region: string;
  zone: string;
  priority: number;
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
    b.server.once('error', (err: NodeJS.ErrnoException) =>
      reject(new CommandError(`demo: ${b.id} cannot listen on 127.0.0.1:${b.port}: ${err.message}`, { cause: err })),
    );
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

/** The /metrics endpoint: listening from the start, answering once `attach` gave it the demo's stack. */
interface MetricsEndpoint {
  url: string;
  attach(sources: Record<string, unknown>): void;
  close(): Promise<void>;
}

/**
 * Serves Prometheus metrics of the demo's stack on 127.0.0.1:port/metrics. prom-client is an optional peer
 * dependency: without it the demo runs without the endpoint and says so. A port that cannot be bound (in use)
 * is a CommandError naming it.
 */
async function serveMetrics(port: number, out: (line: string) => void): Promise<MetricsEndpoint | undefined> {
  let m: typeof import('../observability/metrics.js');
  let prom: typeof import('prom-client');
  try {
    m = await import('../observability/metrics.js');
    prom = await import('prom-client');
  } catch {
    out('metrics: install prom-client to serve /metrics during the demo');
    return undefined;
  }
  const registry = new prom.Registry();
  let collector: { close(): void } | undefined;
  let handler: ReturnType<typeof m.metricsHandler> | undefined;
  const server = createServer((req, res) => {
    if (req.url === '/metrics' && handler !== undefined) handler(req, res);
    else {
      res.statusCode = 404;
      res.end('see /metrics\n');
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => {
      const why = err.code === 'EADDRINUSE' ? 'the port is in use' : err.message;
      reject(
        new CommandError(
          `demo: cannot serve metrics on 127.0.0.1:${port}: ${why} (choose another --metrics-port, or --no-metrics)`,
          { cause: err },
        ),
      );
    });
    server.listen(port, '127.0.0.1', () => resolve());
  });
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/metrics`;
  out(`metrics: ${url} (Prometheus format, during the run)`);
  return {
    url,
    attach(sources) {
      collector = m.collectMetrics({ ...sources, registry } as Parameters<typeof m.collectMetrics>[0]);
      handler = m.metricsHandler(registry);
    },
    close: () =>
      new Promise<void>((resolve) => {
        collector?.close();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

export async function runDemo(options: DemoOptions = {}): Promise<DemoSummary> {
  const durationS = options.durationS === undefined ? 30 : positive('durationS', options.durationS);
  const opened: (() => unknown)[] = [];
  try {
    return await run(options, durationS, opened);
  } finally {
    // the run closes what it started; after a failure on the way (a port in use, a backend that cannot
    // listen), the rest is closed here, and the error is the news, not a failure to close
    await closeAll(opened).catch(() => undefined);
  }
}

/** Calls the closers of what was started, newest first, each even if one before it throws (then rethrown). */
async function closeAll(opened: (() => unknown)[]): Promise<void> {
  let failed = false;
  let failure: unknown;
  for (let c = opened.pop(); c !== undefined; c = opened.pop()) {
    try {
      await c();
    } catch (err) {
      if (!failed) [failed, failure] = [true, err];
    }
  }
  if (failed) throw failure;
}

/** The demo; pushes a closer to `opened` for everything it starts, as it starts it. */
async function run(options: DemoOptions, durationS: number, opened: (() => unknown)[]): Promise<DemoSummary> {
  const concurrency = options.concurrency ?? 8;
  const out = options.out ?? ((l: string) => process.stdout.write(`${l}\n`));
  const tty = options.tty ?? process.stdout.isTTY === true;
  // One clock for the Balancer, health checks, outlier detection, fetch and the demo's own timeline.
  const clock = systemClock;
  const signal = options.signal;
  // ends early when the run is interrupted
  const sleep = (ms: number) =>
    new Promise<void>((r) => {
      if (signal?.aborted) return r();
      const done = () => {
        signal?.removeEventListener('abort', done);
        clock.clearTimeout(timer);
        r();
      };
      const timer = clock.setTimeout(done, ms);
      signal?.addEventListener('abort', done, { once: true });
    });
  const started = clock.now();
  const elapsed = () => (clock.now() - started) / 1000;
  const events: string[] = [];
  const event = (msg: string) => {
    const line = `${elapsed().toFixed(1).padStart(5)}s  ${msg}`;
    events.push(line);
    if (!tty) out(line);
  };

  const backend = (id: string, region: string, zone: string, priority: number, latencyMs: [number, number]) =>
    ({ id, region, zone, priority, latencyMs, port: 0, server: undefined as unknown as Server, up: false }) as Backend;
  const backends: Backend[] = [
    backend('api-1', 'us', 'us-1', 0, [2, 6]),
    backend('api-2', 'us', 'us-2', 0, [2, 6]),
    backend('api-3', 'us', 'us-1', 0, [20, 60]),
    backend('api-4', 'us', 'us-2', 0, [2, 6]),
    backend('eu-1', 'eu', 'eu-1', 1, [6, 12]),
    backend('eu-2', 'eu', 'eu-2', 1, [6, 12]),
  ];
  // the metrics port first: a port in use stops the demo before anything else starts
  const metrics = options.metricsPort === false ? undefined : await serveMetrics(options.metricsPort ?? 0, out);
  if (metrics !== undefined) opened.push(() => metrics.close());
  opened.push(() => Promise.all(backends.filter((b) => b.up).map(close)));
  for (const b of backends) await listen(b);
  const byId = new Map(backends.map((b) => [b.id, b]));
  /** Region of each priority level, in level order. */
  const regions = [...new Set(backends.map((b) => b.priority))]
    .sort((a, b) => a - b)
    .map((p) => backends.find((b) => b.priority === p)!.region);

  const balancer = new Balancer({
    policy: 'peak_ewma',
    clock,
    endpoints: backends.map((b) => ({
      id: b.id,
      host: '127.0.0.1',
      port: b.port,
      priority: b.priority,
      locality: `${b.region}/${b.zone}`,
    })),
  });
  opened.push(() => balancer.close());
  // probes often enough that a 5 s run sees members fail and recover (3 probes each way)
  const intervalMs = Math.round(Math.min(500, Math.max(150, (durationS * 1000) / 40)));
  const checker = new HealthChecker({
    probe: httpProbe({ path: '/healthz' }),
    intervalMs,
    timeoutMs: Math.round(intervalMs * 0.6),
    startHealthy: true,
    clock,
  });
  const detector = new OutlierDetector({
    consecutive5xx: 3,
    intervalMs,
    baseEjectionTimeMs: 4 * intervalMs,
    maxEjectionPercent: 50,
    clock,
  });
  const wiring = connectHealth(balancer as unknown as Parameters<typeof connectHealth>[0], {
    checker,
    detector,
    clock,
  });
  opened.push(() => wiring.close());
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

  // The priority loads: a new phase each time they change (an availability change republishes the picker).
  const phases: DemoPhase[] = [];
  /** Successful requests per level in the current phase. */
  let phaseServed: number[] = regions.map(() => 0);
  const levelOf = new Map(backends.map((b) => [b.id, regions.indexOf(b.region)]));
  const closePhase = () => {
    const ph = phases[phases.length - 1];
    if (ph === undefined) return;
    ph.requests = phaseServed.reduce((a, n) => a + n, 0);
    ph.observedPercent = phaseServed.map((n) => (ph.requests === 0 ? 0 : (100 * n) / ph.requests));
  };
  const loadsText = (ph: DemoPhase) =>
    regions.map((r, i) => `${r} ${ph.loadPercent[i]}% (${ph.healthy[i]}/${ph.total[i]} healthy)`).join(' / ');
  const onPicker = () => {
    const levels = balancer.stats().levels ?? [];
    const loadPercent = regions.map((_, i) => levels[i]?.loadPercent ?? 0);
    const last = phases[phases.length - 1];
    if (last !== undefined && last.loadPercent.every((l, i) => l === loadPercent[i])) return;
    closePhase();
    phaseServed = regions.map(() => 0);
    const ph: DemoPhase = {
      atS: Math.round(elapsed() * 10) / 10,
      healthy: regions.map((_, i) => levels[i]?.healthy ?? 0),
      total: regions.map((_, i) => levels[i]?.total ?? 0),
      loadPercent,
      requests: 0,
      observedPercent: [],
    };
    phases.push(ph);
    event(`priority loads: ${loadsText(ph)}`);
  };
  balancer.on('picker', onPicker);
  onPicker();

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
  opened.push(() => f.close());
  metrics?.attach({ balancer, checker, detector, fetch: f });
  const endAt = clock.now() + durationS * 1000;
  const [api1, api2, , api4] = backends as [Backend, Backend, Backend, Backend];
  let failures = 0;
  /** Set when the scenario fails: the request loops stop. */
  let stopping = false;

  // "recent" shares: served counts now minus the newest snapshot at least a window old (plain output: the
  // previous table; a terminal: about 2 s)
  const periodMs = tty ? 250 : Math.max(1000, (durationS * 1000) / 6);
  const windowMs = tty ? 2000 : periodMs / 2;
  const snapshots: { at: number; counts: Map<string, number> }[] = [{ at: clock.now(), counts: new Map() }];
  let renderedAt = -Infinity;
  const render = () => {
    const now = clock.now();
    renderedAt = now;
    while (snapshots.length > 1 && snapshots[1]!.at <= now - windowMs) snapshots.shift();
    const base = snapshots[0]!.counts;
    const recent = new Map(backends.map((b) => [b.id, (served.get(b.id) ?? 0) - (base.get(b.id) ?? 0)]));
    const recentTotal = [...recent.values()].reduce((s, n) => s + n, 0) || 1;
    snapshots.push({ at: now, counts: new Map(served) });
    const st = balancer.stats();
    const total = [...served.values()].reduce((s, n) => s + n, 0) || 1;
    const pct = (x: number) => `${(x * 100).toFixed(1).padStart(5)}%`;
    const levels = st.levels ?? [];
    const lines = [
      `switchyard demo: peak_ewma over ${backends.length} loopback backends in ${regions.length} regions (${elapsed().toFixed(1)}s / ${durationS}s)`,
      `requests ${f.stats().requests}  tries ${f.stats().tries}  retries ${f.stats().retries}  failures ${failures}`,
      `priority loads: ${levels
        .map(
          (l, i) =>
            `${regions[i]} (priority ${l.priority}) ${l.loadPercent}% [${l.healthy}/${l.total} healthy, health ${l.healthPercent}%${l.panic ? ', panic' : ''}]`,
        )
        .join('  ')}`,
      'backend  region prio  state      share  recent  in-flight  ewma ms   p99 ms',
    ];
    for (const m of st.members) {
      const b = byId.get(m.id)!;
      const ewma = typeof m.rttEstimateMs === 'number' ? m.rttEstimateMs.toFixed(1) : '-';
      lines.push(
        `${m.id.padEnd(8)} ${b.region.padEnd(6)} ${String(b.priority).padStart(4)}  ${String(states.get(m.id)).padEnd(9)} ${pct(
          (served.get(m.id) ?? 0) / total,
        )} ${pct(recent.get(m.id)! / recentTotal)}  ${String(m.active).padStart(9)}  ${ewma.padStart(7)}  ${p99(
          latency.get(m.id) ?? [],
        )
          .toFixed(1)
          .padStart(7)}`,
      );
    }
    if (tty) {
      if (metrics !== undefined) lines.push('', `metrics: ${metrics.url}`);
      lines.push('', 'events:', ...events.slice(-8));
      process.stdout.write(`\x1b[H\x1b[2J${lines.join('\n')}\n`);
    } else out(lines.join('\n'));
  };

  const worker = async () => {
    while (!stopping && !signal?.aborted && clock.now() < endAt) {
      try {
        const res = await f('/work');
        const who = await res.text();
        if (res.ok) {
          served.set(who, (served.get(who) ?? 0) + 1);
          const level = levelOf.get(who);
          if (level !== undefined) phaseServed[level]!++;
        } else failures++;
      } catch {
        failures++;
      }
      await sleep(2);
    }
  };
  const at = async (fraction: number) => {
    const wait = started + fraction * durationS * 1000 - clock.now();
    if (wait > 0) await sleep(wait);
  };
  const kill = async (bs: Backend[], why: string) => {
    event(`chaos: ${bs.map((b) => b.id).join(' and ')} ${bs.length > 1 ? 'are' : 'is'} killed${why}`);
    await Promise.all(bs.map(close));
  };
  const revive = async (bs: Backend[]) => {
    for (const b of bs) await listen(b);
    event(`chaos: ${bs.map((b) => b.id).join(' and ')} ${bs.length > 1 ? 'are' : 'is'} back on the same port`);
  };
  const scenario = async () => {
    const steps: [number, () => Promise<void>][] = [
      [0.25, () => kill([api4], '')],
      [0.4, () => kill([api1, api2], ': region us is down to 1 of 4')],
      [0.55, () => revive([api4])],
      [0.7, () => revive([api1, api2])],
    ];
    for (const [fraction, step] of steps) {
      await at(fraction);
      if (signal?.aborted) return;
      await step();
    }
  };
  const ticker = setInterval(render, periodMs);
  opened.push(() => clearInterval(ticker));
  const workers = Array.from({ length: concurrency }, worker);
  try {
    await scenario();
  } catch (err) {
    stopping = true;
    throw err;
  } finally {
    await Promise.all(workers); // each catches its own errors: nothing is in flight once they return
  }
  if (tty || clock.now() - renderedAt > 500) render(); // no second identical table in plain output
  await closeAll(opened);
  closePhase();
  const s = f.stats();
  const total = [...served.values()].reduce((a, n) => a + n, 0) || 1;
  const regionShare: Record<string, number> = {};
  for (const b of backends) regionShare[b.region] = (regionShare[b.region] ?? 0) + (served.get(b.id) ?? 0) / total;
  const spill = phases.findIndex((p) => p.loadPercent[0]! < 100);
  const back = spill < 0 ? -1 : phases.findIndex((p, i) => i > spill && p.loadPercent[0] === 100);
  const summary: DemoSummary = {
    durationS,
    ...(metrics !== undefined && { metricsUrl: metrics.url }),
    requests: s.requests,
    tries: s.tries,
    retries: s.retries,
    failures,
    share: Object.fromEntries(backends.map((b) => [b.id, (served.get(b.id) ?? 0) / total])),
    removed: [...removed].sort(),
    readmitted: [...readmitted].sort(),
    events,
    members: backends.map((b) => ({ id: b.id, region: b.region, priority: b.priority })),
    regionShare,
    phases,
    failover: {
      spilledAtS: spill < 0 ? null : phases[spill]!.atS,
      maxSpillPercent: Math.max(0, ...phases.map((p) => 100 - p.loadPercent[0]!)),
      returnedAtS: back < 0 ? null : phases[back]!.atS,
    },
  };
  if (signal?.aborted)
    out(`interrupted at ${elapsed().toFixed(1)}s of ${durationS}s: the summary covers the run so far`);
  out(
    `summary: ${summary.requests} requests, ${summary.retries} retries, ${summary.failures} failures; ` +
      `taken out of rotation: ${summary.removed.join(', ') || 'none'}; readmitted: ${summary.readmitted.join(', ') || 'none'}; ` +
      `share: ${Object.entries(summary.share)
        .map(([id, x]) => `${id} ${(x * 100).toFixed(1)}%`)
        .join(', ')}`,
  );
  for (const ph of phases) {
    out(
      `phase ${ph.atS.toFixed(1)}s: load ${regions.map((r, i) => `${r} ${ph.loadPercent[i]}%`).join(' / ')}; ` +
        `served ${regions.map((r, i) => `${r} ${(ph.observedPercent[i] ?? 0).toFixed(1)}%`).join(' / ')} of ${ph.requests}`,
    );
  }
  const fo = summary.failover;
  out(
    fo.spilledAtS === null
      ? `failover: none; region share: ${regions.map((r) => `${r} ${((regionShare[r] ?? 0) * 100).toFixed(1)}%`).join(', ')}`
      : `failover: spilled to ${regions.slice(1).join(', ')} at ${fo.spilledAtS.toFixed(1)}s (up to ${fo.maxSpillPercent}%), ` +
          `${fo.returnedAtS === null ? 'not back' : `back to ${regions[0]} at ${fo.returnedAtS.toFixed(1)}s`}; ` +
          `region share: ${regions.map((r) => `${r} ${((regionShare[r] ?? 0) * 100).toFixed(1)}%`).join(', ')}`,
  );
  return summary;
}

// Tail latency on loopback (issues 4 and 15). HTTP backends run in a child process (bench/tail-backend.ts) and
// answer Prequal probes; a closed loop of `concurrency` clients sends requests through a Balancer per policy.
//
// 1. Static skew: 4 backends, one 10x slower (5 ms vs 50 ms, unlimited concurrency); concurrency 16 and 64;
//    p50/p99/p99.9, each backend's share, and for prequal the probes per request and their share of the
//    backends' load (probes / (probes + requests)).
// 2. Changing load: 4 backends serving 5 ms with 8 requests in service at most (FIFO queue beyond); backend 0
//    becomes 10x slower at t=5 s and recovers at t=15 s; backend 1 shares its slots with an antagonist (16
//    jobs in a closed loop) during [2, 4) s, [8, 11) s and [17, 19) s. Per policy: time until backend 0's share
//    of a 250 ms window falls under 1% and stays there for 4 windows (react), time until it is back to 80% of
//    its fair share for 2 windows after recovery (restore), p99 per phase.
// Charts: bench/charts/tail-cdf-c<concurrency>.svg (latency CDF per policy), bench/charts/tail-share-<policy>.svg
// (share over time per member). Results: bench/results/tail-latency.json (`rows`: static skew at concurrency
// 16, the shape bench/run.ts reads; `tables`: everything).
// Standalone: npx tsx bench/tail-latency.bench.ts [requests per static run, default 3000] [seconds per changing
// run, default 20]
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync, mkdirSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { createServer } from 'node:net';
import { createInterface } from 'node:readline';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Balancer } from '../bindings/index.js';
import { mulberry32 } from '../bindings/util/random.js';
import { createNodeHttpProber } from '../bindings/http/prequal-probe-node.js';
import type { PrequalPolicy } from '../bindings/balancing/policies/prequal.js';
import { cdfPoints, lineChart } from './tail-charts.js';
import { quantile } from './common.js';

export interface TailRow {
  policy: string;
  requests: number;
  p50Ms: number;
  p99Ms: number;
  p999Ms?: number;
  /** Share of requests per backend, the slow one first. */
  share: number[];
  seconds: number;
  /** Probes the backends answered per request sent (prequal; 0 for the others). */
  probesPerRequest?: number;
  /** probes / (probes + requests) at the backends. */
  probeLoadShare?: number;
}

type PolicySpec = string | { name: string; [option: string]: unknown };

export interface TailOptions {
  requests?: number;
  concurrency?: number;
  fastMs?: number;
  slowMs?: number;
  /** Policy names or `{ name, ...options }` (default the five of issue 15). */
  policies?: PolicySpec[];
  /** Stop a policy's run after this long even if requests remain (default 60 s). */
  maxSecondsPerPolicy?: number;
}

export const POLICIES = ['round_robin', 'least_request', 'peak_ewma', 'latency_aware', 'prequal'];
const root = fileURLToPath(new URL('..', import.meta.url));

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

interface Backends {
  ports: number[];
  send(msg: object): void;
  stats(): Promise<{ requests: number[]; probes: number[] }>;
  stop(): void;
}

async function startBackends(ms: number[], capacity: number): Promise<Backends> {
  const ports: number[] = [];
  while (ports.length < ms.length) {
    const p = await freePort();
    if (!ports.includes(p)) ports.push(p);
  }
  const child: ChildProcess = spawn(
    process.execPath,
    ['--import', 'tsx', 'bench/tail-backend.ts', JSON.stringify({ ports, ms, capacity })],
    { cwd: root, stdio: ['pipe', 'pipe', 'inherit'] },
  );
  const lines: ((l: string) => void)[] = [];
  createInterface({ input: child.stdout! }).on('line', (l) => lines.shift()?.(l));
  const next = () => new Promise<string>((r) => lines.push(r));
  const ready = next();
  const timeout = new Promise<never>((_, reject) =>
    setTimeout(() => reject(new Error('backends did not start')), 30_000).unref(),
  );
  await Promise.race([ready, timeout]);
  const send = (m: object) => child.stdin!.write(JSON.stringify(m) + '\n');
  return {
    ports,
    send,
    async stats() {
      const l = next();
      send({ op: 'stats' });
      return JSON.parse(await l) as { requests: number[]; probes: number[] };
    },
    stop() {
      child.stdin!.end();
      child.kill();
    },
  };
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

const labelOf = (p: PolicySpec) => (typeof p === 'string' ? p : JSON.stringify(p));
const nameOf = (p: PolicySpec) => (typeof p === 'string' ? p : p.name);

function balancer(policy: PolicySpec, ports: number[]): Balancer {
  const spec =
    nameOf(policy) === 'prequal'
      ? { ...(typeof policy === 'string' ? { name: policy } : policy), probe: createNodeHttpProber() }
      : policy;
  return new Balancer({ policy: spec, random: mulberry32(1), endpoints: ports.map((p) => `127.0.0.1:${p}`) });
}

function closeBalancer(lb: Balancer): void {
  if (lb.policy.name === 'prequal') {
    const pol = lb.policy as PrequalPolicy;
    if (process.env.TAIL_DEBUG) process.stderr.write(`  prequal ${JSON.stringify(pol.probeStats())}\n`);
    pol.abortProbes();
  }
  lb.close();
}

interface Sample {
  atMs: number;
  ms: number;
  member: number;
}

/** A closed loop of `concurrency` workers until `stop()` says so; every completed request is a Sample. */
async function drive(
  lb: Balancer,
  agent: Agent,
  ports: number[],
  concurrency: number,
  stop: (sent: number) => boolean,
  t0: number,
): Promise<Sample[]> {
  const out: Sample[] = [];
  const index = new Map(ports.map((p, i) => [p, i]));
  let sent = 0;
  const worker = async () => {
    while (!stop(sent)) {
      sent++;
      const p = lb.pickOrThrow();
      const start = performance.now();
      let ok = true;
      try {
        await get(agent, p.member.port);
      } catch {
        ok = false;
      }
      const end = performance.now();
      p.handle.done({ ok, rttMs: end - start });
      out.push({ atMs: end - t0, ms: end - start, member: index.get(p.member.port)! });
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return out;
}

async function warm(agent: Agent, ports: number[], concurrency: number): Promise<void> {
  // `concurrency` keep-alive connections per backend, so that no sample carries a TCP connect
  for (let round = 0; round < 2; round++)
    await Promise.all(ports.flatMap((p) => Array.from({ length: concurrency }, () => get(agent, p))));
}

/** Static skew (the issue 4 setup): one row per policy. */
export async function runTailLatency(o: TailOptions = {}): Promise<TailRow[]> {
  return (await runStatic(o)).rows;
}

async function runStatic(o: TailOptions): Promise<{ rows: TailRow[]; latencies: Map<string, number[]> }> {
  const requests = o.requests ?? 3000;
  const concurrency = o.concurrency ?? 16;
  const fastMs = o.fastMs ?? 5;
  const slowMs = o.slowMs ?? 10 * fastMs;
  const policies = o.policies ?? POLICIES;
  const be = await startBackends([slowMs, fastMs, fastMs, fastMs], 0);
  const rows: TailRow[] = [];
  const latencies = new Map<string, number[]>();
  try {
    for (const policy of policies) {
      const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
      const lb = balancer(policy, be.ports);
      await warm(agent, be.ports, concurrency);
      const before = await be.stats();
      const t0 = performance.now();
      const deadline = t0 + (o.maxSecondsPerPolicy ?? 60) * 1000;
      const s = await drive(lb, agent, be.ports, concurrency, (n) => n >= requests || performance.now() > deadline, t0);
      const seconds = (performance.now() - t0) / 1000;
      closeBalancer(lb);
      agent.destroy();
      await new Promise((r) => setTimeout(r, 50)); // let probes in flight land before counting
      const after = await be.stats();
      const req = after.requests.reduce((a, b, i) => a + b - before.requests[i]!, 0);
      const probes = after.probes.reduce((a, b, i) => a + b - before.probes[i]!, 0);
      const lat = s.map((x) => x.ms).sort((a, b) => a - b);
      latencies.set(labelOf(policy), lat);
      rows.push({
        policy: labelOf(policy),
        requests: lat.length,
        p50Ms: quantile(lat, 0.5),
        p99Ms: quantile(lat, 0.99),
        p999Ms: quantile(lat, 0.999),
        share: be.ports.map((_, i) => s.filter((x) => x.member === i).length / lat.length),
        seconds,
        probesPerRequest: req > 0 ? probes / req : 0,
        probeLoadShare: probes + req > 0 ? probes / (probes + req) : 0,
      });
    }
  } finally {
    be.stop();
  }
  return { rows, latencies };
}

export interface ChangingRow {
  policy: string;
  requests: number;
  /** Seconds after backend 0 turned slow until its share stayed < 1% (NaN: never within the phase). */
  reactS: number;
  /** Seconds after it recovered until it had 80% of its fair share again (NaN: never within the run). */
  restoreS: number;
  p99Ms: [number, number, number];
  /** Backend 0's share during the slow phase. */
  slowPhaseShare: number;
  probesPerRequest: number;
  probeLoadShare: number;
  /** Share per member per window. */
  windows: number[][];
}

const WINDOW_MS = 250;

export async function runChanging(
  policies: PolicySpec[] = POLICIES,
  seconds = 20,
  concurrency = 16,
): Promise<ChangingRow[]> {
  const slowAt = 5_000;
  const recoverAt = 15_000;
  const endAt = seconds * 1000;
  const antagonist: [number, number][] = [
    [2_000, 4_000],
    [8_000, 11_000],
    [17_000, 19_000],
  ];
  const be = await startBackends([5, 5, 5, 5], 8);
  const out: ChangingRow[] = [];
  try {
    for (const policy of policies) {
      be.send({ op: 'reset' });
      const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
      const lb = balancer(policy, be.ports);
      await warm(agent, be.ports, 4);
      const before = await be.stats();
      const t0 = performance.now();
      const timers = [
        setTimeout(() => be.send({ op: 'ms', i: 0, ms: 50 }), slowAt),
        setTimeout(() => be.send({ op: 'ms', i: 0, ms: 5 }), recoverAt),
        ...antagonist.flatMap(([a, b]) => [
          setTimeout(() => be.send({ op: 'antagonist', i: 1, n: 16 }), a),
          setTimeout(() => be.send({ op: 'antagonist', i: 1, n: 0 }), b),
        ]),
      ];
      const s = await drive(lb, agent, be.ports, concurrency, () => performance.now() - t0 > endAt, t0);
      timers.forEach(clearTimeout);
      closeBalancer(lb);
      agent.destroy();
      await new Promise((r) => setTimeout(r, 50));
      const after = await be.stats();
      be.send({ op: 'reset' });
      const req = after.requests.reduce((a, b, i) => a + b - before.requests[i]!, 0);
      const probes = after.probes.reduce((a, b, i) => a + b - before.probes[i]!, 0);
      const nw = Math.ceil(endAt / WINDOW_MS);
      const counts = Array.from({ length: nw }, () => [0, 0, 0, 0]);
      for (const x of s) {
        const w = Math.min(nw - 1, Math.floor(x.atMs / WINDOW_MS));
        counts[w]![x.member]!++;
      }
      const windows = counts.map((c) => {
        const n = c.reduce((a, b) => a + b, 0);
        return c.map((k) => (n > 0 ? k / n : 0));
      });
      const first = (from: number, to: number, ok: (w: number) => boolean, run: number) => {
        for (let w = Math.floor(from / WINDOW_MS); w + run <= Math.floor(to / WINDOW_MS); w++) {
          let all = true;
          for (let k = 0; k < run; k++) if (!ok(w + k)) all = false;
          if (all) return (w * WINDOW_MS - from) / 1000;
        }
        return NaN;
      };
      const reactS = first(slowAt, recoverAt, (w) => windows[w]![0]! < 0.01, 4);
      const restoreS = first(recoverAt, endAt, (w) => windows[w]![0]! >= 0.8 * 0.25, 2);
      const phase = (a: number, b: number) =>
        quantile(
          s
            .filter((x) => x.atMs >= a && x.atMs < b)
            .map((x) => x.ms)
            .sort((p, q) => p - q),
          0.99,
        );
      const slowPhase = s.filter((x) => x.atMs >= slowAt && x.atMs < recoverAt);
      out.push({
        policy: labelOf(policy),
        requests: s.length,
        reactS,
        restoreS,
        p99Ms: [phase(0, slowAt), phase(slowAt, recoverAt), phase(recoverAt, endAt)],
        slowPhaseShare: slowPhase.filter((x) => x.member === 0).length / Math.max(1, slowPhase.length),
        probesPerRequest: req > 0 ? probes / req : 0,
        probeLoadShare: probes + req > 0 ? probes / (probes + req) : 0,
        windows,
      });
    }
  } finally {
    be.stop();
  }
  return out;
}

const pct = (x: number, d = 1) => `${(x * 100).toFixed(d)}%`;
const f1 = (x: number) => (x === x ? x.toFixed(1) : '—');
const ratio = (x: number) => (x === x ? `${x.toFixed(2)}x` : '—');

export function tailTable(rows: TailRow[]): string {
  return [
    '| policy | requests | p50 ms | p99 ms | slow backend share | fast backends share |',
    '|---|---:|---:|---:|---:|---|',
    ...rows.map(
      (r) =>
        `| ${r.policy} | ${r.requests} | ${r.p50Ms.toFixed(1)} | ${r.p99Ms.toFixed(1)} | ${pct(r.share[0]!)} | ${r.share
          .slice(1)
          .map((s) => pct(s))
          .join(' / ')} |`,
    ),
  ].join('\n');
}

interface Table {
  title: string;
  header: string[];
  rows: (string | number)[][];
}

function staticTables(c: number, rows: TailRow[]): Table[] {
  const rr = rows.find((r) => r.policy === 'round_robin');
  return [
    {
      title: `static skew, concurrency ${c}: relative to round_robin (lower is better)`,
      header: ['policy', 'p99', 'p99.9', 'p50', 'slow share'],
      rows: rows.map((r) => [
        r.policy,
        ratio(r.p99Ms / (rr?.p99Ms ?? NaN)),
        ratio(r.p999Ms! / (rr?.p999Ms ?? NaN)),
        ratio(r.p50Ms / (rr?.p50Ms ?? NaN)),
        pct(r.share[0]!, 2),
      ]),
    },
    {
      title: `static skew, concurrency ${c}: absolute`,
      header: ['policy', 'requests', 'p50 ms', 'p99 ms', 'p99.9 ms', 'slow share', 'probes/request', 'probe load'],
      rows: rows.map((r) => [
        r.policy,
        r.requests,
        f1(r.p50Ms),
        f1(r.p99Ms),
        f1(r.p999Ms!),
        pct(r.share[0]!, 2),
        r.probesPerRequest!.toFixed(2),
        pct(r.probeLoadShare!),
      ]),
    },
  ];
}

function changingTable(rows: ChangingRow[]): Table {
  return {
    title:
      'changing load: backend 0 10x slower during [5, 15) s; backend 1 shares its slots with an antagonist in [2, 4), [8, 11), [17, 19) s',
    header: ['policy', 'react s', 'restore s', 'slow share', 'p99 0-5 s', 'p99 5-15 s', 'p99 15-20 s', 'probes/req'],
    rows: rows.map((r) => [
      r.policy,
      f1(r.reactS),
      f1(r.restoreS),
      pct(r.slowPhaseShare, 2),
      f1(r.p99Ms[0]),
      f1(r.p99Ms[1]),
      f1(r.p99Ms[2]),
      r.probesPerRequest.toFixed(2),
    ]),
  };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const requests = Number(process.argv[2] ?? 3000);
  const seconds = Number(process.argv[3] ?? 20);
  const { machine, save } = await import('./common.js');
  const m = machine();
  const sub = `Node ${m.node}, ${m.cpu}, ${m.cores} cores (shared), loopback`;
  const charts = new URL('./charts/', import.meta.url);
  mkdirSync(charts, { recursive: true });
  const statics: { concurrency: number; rows: TailRow[] }[] = [];
  const tables: Table[] = [];
  for (const c of [16, 64]) {
    process.stderr.write(`  static skew, concurrency ${c}\n`);
    const { rows, latencies } = await runStatic({ requests, concurrency: c });
    statics.push({ concurrency: c, rows });
    tables.push(...staticTables(c, rows));
    process.stderr.write(tailTable(rows) + '\n');
    writeFileSync(
      new URL(`tail-cdf-c${c}.svg`, charts),
      lineChart(
        `Latency CDF, one backend of 4 ten times slower, concurrency ${c}`,
        sub,
        [...latencies].map(([label, lat]) => ({ label, points: cdfPoints(lat) })),
        { xLabel: 'latency ms (log)', yLabel: 'fraction of requests', xLog: true, yMin: 0, yMax: 1 },
      ),
    );
  }
  process.stderr.write(`  changing load, ${seconds} s per policy\n`);
  const changing = await runChanging(POLICIES, seconds);
  tables.push(changingTable(changing));
  for (const r of changing) {
    writeFileSync(
      new URL(`tail-share-${r.policy}.svg`, charts),
      lineChart(
        `${r.policy}: share of each backend per ${WINDOW_MS} ms`,
        `${sub}; backend 0 10x slower in [5, 15) s, antagonist on backend 1`,
        [0, 1, 2, 3].map((i) => ({
          label: `backend ${i}`,
          points: r.windows.map((w, k): [number, number] => [((k + 0.5) * WINDOW_MS) / 1000, w[i]!]),
        })),
        {
          xLabel: 'seconds',
          yLabel: 'share',
          yMin: 0,
          yMax: 1,
          marks: [
            { x: 5, label: 'slow' },
            { x: 15, label: 'recovered' },
          ],
        },
      ),
    );
  }
  process.stderr.write(
    changingTable(changing)
      .rows.map((r) => r.join(' | '))
      .join('\n') + '\n',
  );
  save('tail-latency', {
    requests,
    concurrency: 16,
    fastMs: 5,
    slowMs: 50,
    rows: statics[0]!.rows,
    statics,
    changing: changing.map(({ windows: _w, ...r }) => r),
    tables,
    notes:
      'Static skew and changing load (issue 15): ratios to round_robin first; probes/request and probe load ' +
      '(probes / (probes + requests) at the backends) are the price of prequal. Charts: ' +
      'bench/charts/tail-cdf-c16.svg, tail-cdf-c64.svg, tail-share-<policy>.svg.',
  });
}

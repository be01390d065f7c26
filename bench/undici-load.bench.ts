// Load test (issue 16): 10 loopback HTTP backends in a child process (so this process measures only the
// client), a short steady run at concurrency 64, 256 and 1024 through each client:
//   raw undici Pool to one backend, undici BalancedPool over the 10, createFetch (round_robin, Node's fetch),
//   and createDispatcher with round_robin (with and without retries), weighted_round_robin and peak_ewma.
// Every client is driven the same way (`request(url, { dispatcher })` + `body.dump()`, or `fetch` +
// `arrayBuffer()` for createFetch) by `concurrency` loops. Every client gets the same connections: undici's
// Pool defaults (unlimited connections, pipelining 1, keep-alive) per origin, and each opens about twice the
// concurrency in all (counted from 'connect' events and reported). Rounds are interleaved: at each concurrency,
// every round runs each client for WINDOW_MS, after a full GC when run with --expose-gc (bench/run.ts does) and
// a ramp long enough for V8 to re-optimize what that GC deoptimized (see RAMP_MS), in a seeded shuffled order,
// and every second round in the reverse of the one before: each client takes each position equally often and a
// linear drift of the machine's speed cancels within a pair. (A fixed rotation made createDispatcher round_robin
// always follow createFetch, whose garbage V8 collects partly on background threads that process.cpuUsage
// counts; five seeded shuffles still put it first in four rounds of five at c=64.)
// Ratios are paired: each round divides a client's figure by raw undici's (and BalancedPool's) of the same round;
// reported as the median over the rounds with the interquartile range, since the machine's speed varies several
// fold between rounds. Reported: requests/s ratios, client CPU µs per request (process.cpuUsage over the window /
// completed requests) ratio to raw undici, then the absolute medians: requests/s, p50/p99 latency, client CPU %
// of one core, process RSS and connections opened.
// Writes bench/results/undici-load.json and the table in docs/undici.md (between the undici-load markers).
// Standalone: npx tsx bench/undici-load.bench.ts [windowMs] [rounds]   (defaults 300 ms, 10 rounds: about 3.5 minutes)
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { loadavg } from 'node:os';
import * as prettier from 'prettier';
import { BalancedPool, Pool, request, type Dispatcher } from 'undici';
import { createFetch } from '../bindings/http/fetch.js';
import { createDispatcher } from '../bindings/http/dispatcher.js';
import { machine, median, quantile, save, seededShuffle, type Spread, spread } from './common.js';

const WINDOW_MS = Number(process.argv[2] ?? 300);
const ROUNDS = Number(process.argv[3] ?? 10);
const WARM_MS = 300;
/**
 * The ramp after the forced GC. That GC deoptimizes much of the optimized code (--trace-deopt: "weak objects",
 * the objects it embedded were freed), so the ramp lasts until the code is optimized again. With short ramps
 * the windows measured re-optimization, and more of it for clients with more code of their own: 60 ms windows
 * after a 30 ms ramp cost 3.3× the CPU per request of the same loop without the GC, and createDispatcher
 * 1.25-1.38× BalancedPool's CPU per request (0.97-1.01× after a 300 ms ramp, or without the GC).
 */
const RAMP_MS = 300;
const RAMP_REQUESTS = 3000;
/** The ramp also lasts until every loop has completed about two requests, at most this long. */
const MAX_RAMP_MS = 5000;
const CONCURRENCY = [64, 256, 1024];
const BACKENDS = 10;

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => resolve(typeof a === 'object' && a !== null ? a.port : 0));
    });
  });
}

const SERVERS = `
const http = require('http');
for (const port of JSON.parse(process.argv[1])) {
  const s = http.createServer((req, res) => res.end('ok'));
  s.keepAliveTimeout = 60000;
  s.listen(port, '127.0.0.1');
}
process.stdin.on('end', () => process.exit(0)); process.stdin.resume();
`;

const ports: number[] = [];
for (let i = 0; i < BACKENDS; i++) ports.push(await freePort());
const child = spawn(process.execPath, ['-e', SERVERS, JSON.stringify(ports)], { stdio: ['pipe', 'ignore', 'inherit'] });
for (const port of ports) {
  for (;;) {
    try {
      await (await fetch(`http://127.0.0.1:${port}/`)).arrayBuffer();
      break;
    } catch {
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}
const origins = ports.map((p) => `http://127.0.0.1:${p}`);
const endpoints = ports.map((p, i) => ({ id: `b${i}`, host: '127.0.0.1', port: p }));

/** One request, awaited to the end of its body. */
type Send = () => Promise<void>;
interface Client {
  name: string;
  send: Send;
  close(): Promise<void> | void;
  /** Connections opened so far (undefined: not observable, Node's fetch). */
  connections?: () => number;
}

const URL_ = 'http://api/';
const viaDispatcher = (name: string, d: Dispatcher): Client => {
  let connections = 0;
  d.on('connect', () => connections++);
  return {
    name,
    send: async () => {
      const r = await request(URL_, { dispatcher: d });
      await r.body.dump();
    },
    close: () => d.close(),
    connections: () => connections,
  };
};
const balancedFetch = createFetch({ endpoints, policy: 'round_robin' });
const clients: Client[] = [
  viaDispatcher('undici Pool (1 backend)', new Pool(origins[0]!)),
  viaDispatcher('undici BalancedPool', new BalancedPool(origins)),
  {
    name: 'createFetch round_robin',
    send: async () => {
      const r = await balancedFetch('/');
      await r.arrayBuffer();
    },
    close: () => balancedFetch.close(),
  },
  viaDispatcher('createDispatcher round_robin', createDispatcher({ endpoints, policy: 'round_robin' })),
  viaDispatcher(
    'createDispatcher round_robin, retry: false',
    createDispatcher({ endpoints, policy: 'round_robin', retry: false }),
  ),
  viaDispatcher(
    'createDispatcher weighted_round_robin',
    createDispatcher({ endpoints, policy: 'weighted_round_robin' }),
  ),
  viaDispatcher('createDispatcher peak_ewma', createDispatcher({ endpoints, policy: 'peak_ewma' })),
];
const RAW = clients[0]!.name;
const BP = clients[1]!.name;

interface Window {
  rps: number;
  p50: number;
  p99: number;
  cpuPercent: number;
  cpuUsPerReq: number;
  rssMB: number;
  errors: number;
}

/**
 * Runs `concurrency` loops for a ramp (RAMP_MS, and until RAMP_REQUESTS and 2 × concurrency requests completed)
 * plus `ms`, and measures the last `ms` (steady state: every loop busy); counts only requests completed inside
 * that window.
 */
async function run(c: Client, concurrency: number, ms: number): Promise<Window> {
  (globalThis as { gc?: () => void }).gc?.(); // the previous client's garbage is not this one's cost
  let running = true;
  let done = 0;
  let ramped = 0;
  let errors = 0;
  const lat: number[] = [];
  let start = Infinity;
  let end = Infinity;
  const loops = Array.from({ length: concurrency }, async () => {
    while (running) {
      const s = performance.now();
      try {
        await c.send();
      } catch {
        errors++;
        continue;
      }
      const e = performance.now();
      if (e >= start && e <= end) {
        done++;
        lat.push(e - s);
      } else ramped++;
    }
  });
  const r0 = performance.now();
  await new Promise((r) => setTimeout(r, RAMP_MS));
  const rampRequests = Math.max(RAMP_REQUESTS, 2 * concurrency);
  while (ramped < rampRequests && performance.now() - r0 < MAX_RAMP_MS) await new Promise((r) => setTimeout(r, 10));
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  start = t0;
  end = t0 + ms;
  await new Promise((r) => setTimeout(r, ms));
  const cpu = process.cpuUsage(cpu0);
  const wallMs = performance.now() - t0;
  end = t0 + wallMs;
  running = false;
  const rssMB = process.memoryUsage.rss() / 2 ** 20;
  await Promise.all(loops);
  lat.sort((a, b) => a - b);
  const cpuUs = cpu.user + cpu.system;
  return {
    rps: (done / wallMs) * 1000,
    p50: quantile(lat, 0.5),
    p99: quantile(lat, 0.99),
    cpuPercent: (cpuUs / (wallMs * 1000)) * 100,
    cpuUsPerReq: cpuUs / Math.max(1, done),
    rssMB,
    errors,
  };
}

interface Cell extends Window {
  concurrency: number;
  name: string;
  rounds: number;
  /** Per-round requests/s ratios to raw undici's and to BalancedPool's in the same round. */
  rpsXPool: Spread;
  rpsXBalancedPool: Spread;
  /** Per-round client CPU per request, ratio to raw undici's in the same round. */
  cpuXPool: Spread;
  /** Connections the client had opened by the end of this concurrency (null: not observable). */
  connections: number | null;
}
/** The same orders on every run, a different predecessor from round to round. */
const shuffled = seededShuffle(0x5eed);

const cells: Cell[] = [];
const loadAtStart = loadavg()[0]!;
const t0 = performance.now();
for (const concurrency of CONCURRENCY) {
  for (const c of clients) await run(c, concurrency, WARM_MS); // connections opened, code warm
  const windows = new Map<string, Window[]>(clients.map((c) => [c.name, []]));
  let order: Client[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    // pairs of rounds: a shuffled order, then the same reversed
    order = round % 2 === 0 ? shuffled(clients) : [...order].reverse();
    for (const c of order) windows.get(c.name)!.push(await run(c, concurrency, WINDOW_MS));
  }
  const raw = windows.get(RAW)!;
  const bp = windows.get(BP)!;
  for (const c of clients) {
    const ws = windows.get(c.name)!;
    const cell: Cell = {
      concurrency,
      name: c.name,
      rounds: ws.length,
      rpsXPool: spread(ws.map((w, i) => w.rps / raw[i]!.rps)),
      rpsXBalancedPool: spread(ws.map((w, i) => w.rps / bp[i]!.rps)),
      cpuXPool: spread(ws.map((w, i) => w.cpuUsPerReq / raw[i]!.cpuUsPerReq)),
      connections: c.connections?.() ?? null,
      rps: median(ws.map((w) => w.rps)),
      p50: median(ws.map((w) => w.p50)),
      p99: median(ws.map((w) => w.p99)),
      cpuPercent: median(ws.map((w) => w.cpuPercent)),
      cpuUsPerReq: median(ws.map((w) => w.cpuUsPerReq)),
      rssMB: Math.max(...ws.map((w) => w.rssMB)),
      errors: ws.reduce((s, w) => s + w.errors, 0),
    };
    cells.push(cell);
    process.stderr.write(
      `  c=${concurrency} ${c.name}: ${cell.rpsXPool.median.toFixed(3)}× Pool (${cell.rpsXPool.q25.toFixed(2)}-${cell.rpsXPool.q75.toFixed(2)}), ` +
        `${cell.rpsXBalancedPool.median.toFixed(3)}× BalancedPool, CPU/req ${cell.cpuXPool.median.toFixed(3)}× Pool; ` +
        `${cell.rps.toFixed(0)} req/s, p50 ${cell.p50.toFixed(2)} ms, p99 ${cell.p99.toFixed(2)} ms, ` +
        `CPU ${cell.cpuPercent.toFixed(0)}% (${cell.cpuUsPerReq.toFixed(1)} µs/req), RSS ${cell.rssMB.toFixed(0)} MB` +
        (cell.errors > 0 ? `, ${cell.errors} errors` : '') +
        '\n',
    );
  }
}
const seconds = (performance.now() - t0) / 1000;
for (const c of clients) await c.close();
child.stdin!.end();

// ---- ratios and tables ----------------------------------------------------------------------------------

const at = (concurrency: number, name: string) => cells.find((c) => c.concurrency === concurrency && c.name === name)!;
/** A paired ratio: median over the rounds (interquartile range). */
const x = (v: Spread) => `${v.median.toFixed(2)}× (${v.q25.toFixed(2)}–${v.q75.toFixed(2)})`;
const ratioRows = clients.map((c) => [
  c.name,
  ...CONCURRENCY.flatMap((n) => [x(at(n, c.name).rpsXPool), x(at(n, c.name).rpsXBalancedPool)]),
]);
const cpuRows = clients.map((c) => [c.name, ...CONCURRENCY.map((n) => x(at(n, c.name).cpuXPool))]);
const absRows = cells.map((c) => [
  c.concurrency,
  c.name,
  c.rps.toFixed(0),
  c.p50.toFixed(2),
  c.p99.toFixed(2),
  c.cpuPercent.toFixed(0),
  c.cpuUsPerReq.toFixed(1),
  c.rssMB.toFixed(0),
  c.connections ?? '–',
]);
const tables = [
  {
    title:
      'requests/s, × raw undici Pool and × undici BalancedPool (ratios within each round; median over the rounds, interquartile range in parentheses)',
    header: ['client', ...CONCURRENCY.flatMap((n) => [`c=${n} × Pool`, `c=${n} × BalancedPool`])],
    rows: ratioRows,
    right: [false, ...CONCURRENCY.flatMap(() => [true, true])],
    ratio: true,
  },
  {
    title: 'client CPU per request, × raw undici Pool (lower is cheaper; per-round ratios as above)',
    header: ['client', ...CONCURRENCY.map((n) => `c=${n}`)],
    rows: cpuRows,
    right: [false, ...CONCURRENCY.map(() => true)],
    ratio: true,
  },
  {
    title:
      'absolute figures (medians over the rounds; RSS is the whole client process; connections opened by the end of that concurrency, cumulative)',
    header: [
      'concurrency',
      'client',
      'req/s',
      'p50 ms',
      'p99 ms',
      'CPU % of a core',
      'CPU µs/req',
      'RSS MB',
      'connections',
    ],
    rows: absRows,
    right: [true, false, true, true, true, true, true, true, true],
  },
];
const load = [loadAtStart, loadavg()[0]!];
save('undici-load', {
  loadAverage1m: load,
  windowMs: WINDOW_MS,
  rounds: ROUNDS,
  backends: BACKENDS,
  seconds,
  cells,
  tables,
});

const m = machine();
const md = (t: (typeof tables)[number]) => [
  `#### ${t.title}`,
  '',
  `| ${t.header.join(' | ')} |`,
  `|${t.right.map((r) => (r ? '---:' : '---')).join('|')}|`,
  ...t.rows.map((r) => `| ${r.join(' | ')} |`),
  '',
];
const block = [
  '<!-- undici-load:start (generated by bench/undici-load.bench.ts; do not edit) -->',
  '',
  `Measured ${new Date().toISOString().slice(0, 16)}Z on ${m.cpu}, ${m.cores} cores (shared), Node ${m.node}, ` +
    `undici ${JSON.parse(readFileSync('node_modules/undici/package.json', 'utf8')).version}; ${BACKENDS} backends, ` +
    `${ROUNDS} interleaved rounds of ${WINDOW_MS} ms per client and concurrency (${seconds.toFixed(0)} s in all); ` +
    `1-minute load average ${load.map((l) => l.toFixed(1)).join(' at the start, ')} at the end.`,
  '',
  ...tables.flatMap(md),
  '<!-- undici-load:end -->',
].join('\n');
const docPath = 'docs/undici.md';
const doc = readFileSync(docPath, 'utf8');
const re = /<!-- undici-load:start[\s\S]*?<!-- undici-load:end -->/;
const options = { ...(await prettier.resolveConfig(docPath)), filepath: docPath };
if (re.test(doc)) writeFileSync(docPath, await prettier.format(doc.replace(re, block), options));
else process.stderr.write(`${docPath} has no undici-load markers; table not written\n`);
process.exit(0);

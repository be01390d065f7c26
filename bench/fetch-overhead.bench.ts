// Wrapper overhead (issues 7, 14 and 16): raw `fetch` to one loopback keep-alive backend against createFetch
// over a one-member round_robin Balancer, and against createFetch with a no-op instrumentation attached (what
// tracing costs before a tracer does any work), sequentially and with 16 concurrent loops. The variants run
// interleaved, in short rounds (raw, wrapped, traced, then rotated), so the machine's slow spells hit all of
// them; each round gives a throughput ratio to raw, and the table reports the median ratio and the median
// req/s, plus the client's CPU time per request as a ratio (steadier on a shared machine). Then the
// tail-latency run of the policies issue, through the wrapper. The backend runs in a child process so its
// CPU is not the client's. Standalone: npx tsx bench/fetch-overhead.bench.ts [requests per round] [rounds];
// writes bench/results/fetch.json.
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { Balancer } from '../bindings/balancing/balancer.js';
import { createFetch, type FetchInstrumentation } from '../bindings/http/fetch.js';
import { machine, save } from './common.js';

const N = Number(process.argv[2] ?? 500);
const ROUNDS = Number(process.argv[3] ?? 15);

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => resolve(typeof a === 'object' && a !== null ? a.port : 0));
    });
  });
}

const BACKENDS = `
const http = require('http');
const specs = JSON.parse(process.argv[1]);
for (const [port, delayMs] of specs) http.createServer((req, res) => delayMs ? setTimeout(() => res.end(String(port)), delayMs) : res.end(String(port))).listen(port, '127.0.0.1');
process.stdin.on('end', () => process.exit(0)); process.stdin.resume();
`;

async function startBackends(specs: [number, number][]) {
  const child = spawn(process.execPath, ['-e', BACKENDS, JSON.stringify(specs)], {
    stdio: ['pipe', 'ignore', 'inherit'],
  });
  for (const [port] of specs) {
    for (;;) {
      try {
        await fetch(`http://127.0.0.1:${port}/`);
        break;
      } catch {
        await new Promise((r) => setTimeout(r, 20));
      }
    }
  }
  return () => child.stdin!.end();
}

async function loop(f: (u: string) => Promise<Response>, url: string, total: number, concurrency: number) {
  let next = 0;
  const lat: number[] = [];
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < total) {
        next++;
        const s = performance.now();
        const r = await f(url);
        await r.arrayBuffer();
        lat.push(performance.now() - s);
      }
    }),
  );
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  lat.sort((a, b) => a - b);
  return {
    rps: total / seconds,
    p50: lat[Math.floor(lat.length / 2)]!,
    p99: lat[Math.floor(lat.length * 0.99)]!,
    cpuUs: (cpu.user + cpu.system) / total,
  };
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 === 1 ? s[s.length >> 1]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

const port = await freePort();
const stop = await startBackends([[port, 0]]);
const balancer = new Balancer({ endpoints: [{ id: 'one', host: '127.0.0.1', port }] });
const noop: FetchInstrumentation = { request: () => ({ try: () => ({ end() {} }), end() {} }) };
const variants = {
  raw: (u: string) => fetch(`http://127.0.0.1:${port}${u}`),
  wrapped: createFetch({ balancer, retryThrottling: false }),
  traced: createFetch({ balancer, retryThrottling: false, instrumentation: noop }),
};
type Variant = keyof typeof variants;
const names = Object.keys(variants) as Variant[];
const ratioRows: (string | number)[][] = [];
const absRows: (string | number)[][] = [];
for (const concurrency of [1, 16]) {
  for (const n of names) await loop(variants[n], '/', 300, concurrency); // warm every variant
  const rps = { raw: [] as number[], wrapped: [] as number[], traced: [] as number[] };
  const cpu = { raw: [] as number[], wrapped: [] as number[], traced: [] as number[] };
  const ratio = { wrapped: [] as number[], traced: [] as number[] };
  const cpuRatio = { wrapped: [] as number[], traced: [] as number[] };
  for (let round = 0; round < ROUNDS; round++) {
    const got = {} as Record<Variant, Awaited<ReturnType<typeof loop>>>;
    for (let i = 0; i < names.length; i++) {
      const n = names[(i + round) % names.length]!;
      got[n] = await loop(variants[n], '/', N, concurrency);
    }
    for (const n of names) {
      rps[n].push(got[n].rps);
      cpu[n].push(got[n].cpuUs);
    }
    for (const n of ['wrapped', 'traced'] as const) {
      ratio[n].push(got[n].rps / got.raw.rps);
      cpuRatio[n].push(got[n].cpuUs / got.raw.cpuUs);
    }
  }
  for (const n of ['wrapped', 'traced'] as const) {
    const r = median(ratio[n]);
    ratioRows.push([
      concurrency,
      n === 'wrapped' ? 'createFetch' : 'createFetch + no-op instrumentation',
      `${r.toFixed(3)}x`,
      `${((1 - r) * 100).toFixed(1)}%`,
      `${median(cpuRatio[n]).toFixed(3)}x`,
    ]);
  }
  absRows.push([
    concurrency,
    ...names.map((n) => median(rps[n]).toFixed(0)),
    ...names.map((n) => median(cpu[n]).toFixed(1)),
  ]);
  console.log(
    `concurrency ${concurrency}: ` +
      names.map((n) => `${n} ${median(rps[n]).toFixed(0)} req/s ${median(cpu[n]).toFixed(1)} µs CPU`).join(', ') +
      `; wrapped/raw ${median(ratio.wrapped).toFixed(3)}x, traced/raw ${median(ratio.traced).toFixed(3)}x`,
  );
}
stop();

// The wrapper's own CPU per request, without the network: a stub fetch that answers at once, called directly
// and through createFetch (plain and with the no-op instrumentation), interleaved rounds, median ns/request.
const stubResponse = new Response(null);
const stub = (() => Promise.resolve(stubResponse)) as unknown as typeof fetch;
const stubbed = {
  direct: (u: string) => stub(`http://127.0.0.1:${port}${u}`),
  wrapped: createFetch({ balancer, retryThrottling: false, fetch: stub }),
  traced: createFetch({ balancer, retryThrottling: false, fetch: stub, instrumentation: noop }),
};
const stubNs = { direct: [] as number[], wrapped: [] as number[], traced: [] as number[] };
const STUB_N = 20_000;
for (let round = 0; round < 11; round++) {
  for (const n of Object.keys(stubbed) as (keyof typeof stubbed)[]) {
    const f = stubbed[n];
    const t0 = performance.now();
    for (let i = 0; i < STUB_N; i++) await f('/');
    if (round > 0) stubNs[n].push(((performance.now() - t0) * 1e6) / STUB_N); // round 0 warms up
  }
}
const stubRows = (['wrapped', 'traced'] as const).map((n) => [
  n === 'wrapped' ? 'createFetch' : 'createFetch + no-op instrumentation',
  (median(stubNs[n]) - median(stubNs.direct)).toFixed(0),
]);
console.log(`wrapper CPU per request (stub fetch): ${stubRows.map((r) => `${r[0]} +${r[1]} ns`).join(', ')}`);

// tail latency through the wrapper: 4 backends, one 10x slower
const ports = [await freePort(), await freePort(), await freePort(), await freePort()];
const stop2 = await startBackends(ports.map((p, i) => [p, i === 0 ? 50 : 5] as [number, number]));
const tail: (string | number)[][] = [];
for (const policy of ['round_robin', 'least_request', 'peak_ewma', 'latency_aware']) {
  const f = createFetch({
    endpoints: ports.map((p, i) => ({ id: `b${i}`, host: '127.0.0.1', port: p })),
    policy,
    outlierDetection: false,
  });
  await loop(f, '/', 200, 8);
  const counts = new Map<string, number>();
  let next = 0;
  const lat: number[] = [];
  const total = 2000;
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      while (next < total) {
        next++;
        const s = performance.now();
        const r = await f('/');
        const who = await r.text();
        lat.push(performance.now() - s);
        counts.set(who, (counts.get(who) ?? 0) + 1);
      }
    }),
  );
  f.close();
  lat.sort((a, b) => a - b);
  tail.push([
    policy,
    lat[Math.floor(lat.length / 2)]!.toFixed(1),
    lat[Math.floor(lat.length * 0.99)]!.toFixed(1),
    `${(((counts.get(String(ports[0])) ?? 0) / total) * 100).toFixed(1)}%`,
  ]);
  console.log(`${policy}: p50 ${tail.at(-1)![1]} ms, p99 ${tail.at(-1)![2]} ms, slow share ${tail.at(-1)![3]}`);
}
stop2();

const m = machine();
save('fetch', {
  notes:
    `Interleaved rounds (${ROUNDS} × ${N} requests per variant and concurrency; raw, wrapped, traced, rotated each ` +
    `round); the ratio is the median of the per-round ratios to raw \`fetch\`. Node ${m.node}, ${m.cpu}, ` +
    `${m.cores} cores shared with other work.`,
  tables: [
    {
      title: 'throughput and client CPU against raw fetch, one loopback backend (median of interleaved rounds)',
      header: ['concurrency', 'client', 'req/s ratio', 'throughput loss', 'CPU per request ratio'],
      rows: ratioRows,
      ratio: true,
    },
    {
      title: 'req/s and client CPU µs per request (medians)',
      header: [
        'concurrency',
        'raw req/s',
        'wrapped req/s',
        'traced req/s',
        'raw CPU µs',
        'wrapped CPU µs',
        'traced CPU µs',
      ],
      rows: absRows,
    },
    {
      title: 'the wrapper alone: ns added per request over calling a stub fetch directly (median of 10 rounds)',
      header: ['client', 'ns added per request'],
      rows: stubRows,
    },
    {
      title: 'tail latency through createFetch, 8 concurrent loops, backends 5 ms and one at 50 ms',
      header: ['policy', 'p50 ms', 'p99 ms', 'slow backend share'],
      rows: tail,
    },
  ],
});

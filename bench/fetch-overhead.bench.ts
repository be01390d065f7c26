// Wrapper overhead (issue 7): raw `fetch` to one loopback backend against createFetch over a one-member
// Balancer, sequentially (added µs per request) and with 16 concurrent loops (throughput loss); then the
// tail-latency run of the policies issue, through the wrapper. The backend runs in a child process so its CPU
// is not the client's. Standalone: npx tsx bench/fetch-overhead.bench.ts [requests]; writes bench/results/fetch.json.
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { Balancer } from '../bindings/balancing/balancer.js';
import { createFetch } from '../bindings/http/fetch.js';
import { save } from './common.js';

const N = Number(process.argv[2] ?? 4000);

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
  lat.sort((a, b) => a - b);
  return {
    rps: total / seconds,
    p50: lat[Math.floor(lat.length / 2)]!,
    p99: lat[Math.floor(lat.length * 0.99)]!,
    meanUs: (seconds * 1e6 * concurrency) / total,
  };
}

const port = await freePort();
const stop = await startBackends([[port, 0]]);
const balancer = new Balancer({ endpoints: [{ id: 'one', host: '127.0.0.1', port }] });
const wrapped = createFetch({ balancer, retryThrottling: false });
const raw = (u: string) => fetch(`http://127.0.0.1:${port}${u}`);
const rows: (string | number)[][] = [];
for (const concurrency of [1, 16]) {
  await loop(raw, '/', 500, concurrency); // warm both
  await loop(wrapped, '/', 500, concurrency);
  const results = { raw: [] as Awaited<ReturnType<typeof loop>>[], wrapped: [] as Awaited<ReturnType<typeof loop>>[] };
  for (let round = 0; round < 3; round++) {
    results.raw.push(await loop(raw, '/', N, concurrency));
    results.wrapped.push(await loop(wrapped, '/', N, concurrency));
  }
  const med = (xs: number[]) => xs.sort((a, b) => a - b)[1]!;
  const rawRps = med(results.raw.map((r) => r.rps));
  const wRps = med(results.wrapped.map((r) => r.rps));
  const addedUs = med(results.wrapped.map((r) => r.meanUs)) - med(results.raw.map((r) => r.meanUs));
  rows.push([
    concurrency,
    rawRps.toFixed(0),
    wRps.toFixed(0),
    `${(((rawRps - wRps) / rawRps) * 100).toFixed(1)}%`,
    (addedUs / concurrency).toFixed(1),
  ]);
  console.log(
    `concurrency ${concurrency}: raw ${rawRps.toFixed(0)} req/s, wrapped ${wRps.toFixed(0)} req/s, added ${(addedUs / concurrency).toFixed(1)} µs/request`,
  );
}
stop();

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
  const total = Math.min(N, 3000);
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

save('fetch', {
  tables: [
    {
      title: `wrapper overhead vs raw fetch, one loopback backend (${N} requests × 3 rounds, medians)`,
      header: ['concurrency', 'raw req/s', 'wrapped req/s', 'throughput loss', 'added µs per request'],
      rows,
    },
    {
      title: 'tail latency through createFetch, 8 concurrent loops, backends 5 ms and one at 50 ms',
      header: ['policy', 'p50 ms', 'p99 ms', 'slow backend share'],
      rows: tail,
    },
  ],
});

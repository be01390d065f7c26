// Cost of observability on the request path (issue 14): createFetch bare against the same fetch with
// Prometheus metrics (collectMetrics on a prom-client Registry), with OpenTelemetry metrics (a MeterProvider
// with a reader), with OpenTelemetry tracing (a registered tracer provider and a span processor whose exporter
// drops the spans), and with the tracing instrumentation but no provider registered (the API's no-op).
// Interleaved (A, B, C, D, E per round, each round starting one further; medians over rounds), sequential requests, in two settings:
// an in-process `fetch` stub (no network: the wrapper's own cost, where the instrumentation shows most) and
// a loopback backend in a child process. Standalone: npx tsx bench/observability.bench.ts; writes
// bench/results/observability.json.
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { Registry } from 'prom-client';
import { BasicTracerProvider, SimpleSpanProcessor, type SpanExporter } from '@opentelemetry/sdk-trace-base';
import { MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';
import { Balancer } from '../bindings/balancing/balancer.js';
import { createFetch, type BalancedFetch } from '../bindings/http/fetch.js';
import { collectMetrics } from '../bindings/observability/metrics.js';
import { collectOtelMetrics } from '../bindings/observability/otel-metrics.js';
import { otelInstrumentation } from '../bindings/observability/tracing.js';
import { median, save } from './common.js';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 41);

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => resolve(typeof a === 'object' && a !== null ? a.port : 0));
    });
  });
}

async function startBackend(port: number): Promise<() => void> {
  const src = `require('http').createServer((q, s) => s.end('ok')).listen(${port}, '127.0.0.1');
process.stdin.on('end', () => process.exit(0)); process.stdin.resume();`;
  const child = spawn(process.execPath, ['-e', src], { stdio: ['pipe', 'ignore', 'inherit'] });
  for (;;) {
    try {
      await fetch(`http://127.0.0.1:${port}/`);
      return () => child.stdin!.end();
    } catch {
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}

/** Spans are built, ended and handed to the processor, then dropped. */
const dropping: SpanExporter = { export: (_spans, done) => done({ code: 0 }), shutdown: async () => {} };
/** A reader that is never asked to collect (instruments record; nothing is exported). */
class IdleReader extends MetricReader {
  protected async onForceFlush(): Promise<void> {}
  protected async onShutdown(): Promise<void> {}
}

interface Variant {
  name: string;
  make(base: { port: number; fetch?: typeof fetch }): { f: BalancedFetch; close(): void };
}

const VARIANTS: Variant[] = [
  {
    name: 'bare createFetch',
    make: (b) => plain(b),
  },
  {
    name: 'collectMetrics (prom-client)',
    make(b) {
      const p = plain(b);
      const c = collectMetrics({ fetch: p.f, balancer: p.balancer, registry: new Registry() });
      return { f: p.f, close: () => (c.close(), p.close()) };
    },
  },
  {
    name: 'collectOtelMetrics (SDK MeterProvider)',
    make(b) {
      const p = plain(b);
      const provider = new MeterProvider({ readers: [new IdleReader()] });
      const c = collectOtelMetrics({ fetch: p.f, balancer: p.balancer, meter: provider.getMeter('bench') });
      return { f: p.f, close: () => (c.close(), p.close()) };
    },
  },
  {
    name: 'otelInstrumentation, provider registered',
    make(b) {
      const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(dropping)] });
      return plain(b, otelInstrumentation({ tracerProvider: provider }));
    },
  },
  {
    name: 'otelInstrumentation, no provider (API no-op)',
    make: (b) => plain(b, otelInstrumentation()),
  },
];

function plain(b: { port: number; fetch?: typeof fetch }, instrumentation?: ReturnType<typeof otelInstrumentation>) {
  const balancer = new Balancer({ endpoints: [{ id: 'one', host: '127.0.0.1', port: b.port }] });
  const f = createFetch({
    balancer,
    retryThrottling: false,
    ...(b.fetch !== undefined && { fetch: b.fetch }),
    ...(instrumentation !== undefined && { instrumentation }),
  });
  return { f, balancer, close: () => (f.close(), balancer.close()) };
}

async function run(f: BalancedFetch, n: number): Promise<number> {
  const t0 = performance.now();
  for (let i = 0; i < n; i++) await (await f('/x')).arrayBuffer();
  return ((performance.now() - t0) * 1000) / n; // µs per request
}

async function compare(setting: string, base: { port: number; fetch?: typeof fetch }, n: number) {
  const built = VARIANTS.map((v) => v.make(base));
  for (const b of built) await run(b.f, Math.min(n, 500)); // warm-up
  const us: number[][] = built.map(() => []);
  // short rounds, each starting at the next variant, so a slow spell or a GC hits every variant alike
  for (let r = 0; r < ROUNDS; r++)
    for (let k = 0; k < built.length; k++) {
      const i = (r + k) % built.length;
      us[i]!.push(await run(built[i]!.f, n));
    }
  for (const b of built) b.close();
  const m = us.map(median);
  const rows = VARIANTS.map((v, i) => [
    v.name,
    `${(m[0]! / m[i]!).toFixed(2)}×`,
    `${(m[i]! - m[0]!).toFixed(1)}`,
    m[i]!.toFixed(1),
  ]);
  for (const r of rows) process.stderr.write(`  ${setting} | ${r[0]}: ${r[3]} µs/request (${r[1]} of bare)\n`);
  return {
    title: `${setting}: sequential requests, ${n} per round × ${ROUNDS} interleaved rounds, medians`,
    header: ['variant', 'throughput vs bare', 'added µs per request', 'µs per request'],
    rows,
  };
}

const stub = (async () => new Response('ok')) as unknown as typeof fetch;
const inProcess = await compare('in-process fetch stub (no network)', { port: 1, fetch: stub }, 400);
const port = await freePort();
const stop = await startBackend(port);
const loopback = await compare('loopback HTTP backend (child process)', { port }, 60);
stop();

save('observability', { tables: [{ ...inProcess, ratio: true }, loopback] });

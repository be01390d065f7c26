// OpenTelemetry traces of the balanced fetch and the proxy (observability/tracing.ts), recorded by the real
// OpenTelemetry SDK into an InMemorySpanExporter; loopback servers record the headers each try carried.
import test from 'ava';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { context, propagation, SpanKind, SpanStatusCode, trace, type TextMapPropagator } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
  type ReadableSpan,
} from '@opentelemetry/sdk-trace-base';
import { Balancer } from '../../bindings/balancing/balancer.js';
import { createFetch } from '../../bindings/http/fetch.js';
import { createProxy } from '../../bindings/http/proxy.js';
import { otelInstrumentation } from '../../bindings/observability/tracing.js';

interface Seen {
  member: string;
  headers: IncomingHttpHeaders;
}

/** Three loopback members answering, in the order requests arrive (whichever member), with `script`'s statuses. */
async function members(script: number[]) {
  const seen: Seen[] = [];
  const servers: Server[] = [];
  let n = 0;
  for (const name of ['m1', 'm2', 'm3']) {
    const s = createServer((req, res) => {
      seen.push({ member: name, headers: req.headers });
      res.statusCode = script[n++] ?? 200;
      res.end(name);
    });
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
    servers.push(s);
  }
  const endpoints = servers.map((s, i) => ({
    id: `m${i + 1}`,
    host: '127.0.0.1',
    port: (s.address() as AddressInfo).port,
  }));
  const close = () =>
    Promise.all(
      servers.map(
        (s) =>
          new Promise<void>((r) => {
            s.close(() => r());
            s.closeAllConnections();
          }),
      ),
    );
  return { seen, endpoints, close };
}

function sdk() {
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  return { exporter, provider };
}

const FAST_RETRY = { maxAttempts: 3, initialBackoffMs: 1, maxBackoffMs: 2 };
const parentId = (s: ReadableSpan) => s.parentSpanContext?.spanId;

test.serial(
  '503, 503, 200: one request span, three try spans with semconv attributes, one trace, traceparent downstream',
  async (t) => {
    const { seen, endpoints, close } = await members([503, 503, 200]);
    const { exporter, provider } = sdk();
    const balancer = new Balancer({ policy: 'round_robin', endpoints });
    const f = createFetch({
      balancer,
      retry: FAST_RETRY,
      instrumentation: otelInstrumentation({ tracerProvider: provider }),
    });
    try {
      const res = await f('/items/7');
      t.is(res.status, 200);
      await res.text();
      const spans = exporter.getFinishedSpans();
      t.is(spans.length, 4);
      const parents = spans.filter((s) => s.parentSpanContext === undefined);
      t.is(parents.length, 1, 'one request span');
      const req = parents[0]!;
      const tries = spans
        .filter((s) => s !== req)
        .sort(
          (a, b) =>
            Number(a.attributes['http.request.resend_count'] ?? 0) -
            Number(b.attributes['http.request.resend_count'] ?? 0),
        );
      t.is(tries.length, 3);
      t.is(req.kind, SpanKind.CLIENT);
      t.is(req.name, 'GET');
      t.is(req.attributes['http.request.method'], 'GET');
      t.is(req.attributes['http.response.status_code'], 200);
      t.is(req.attributes['switchyard.policy'], 'round_robin');
      t.is(req.attributes['switchyard.tries'], 3);
      t.is(req.status.code, SpanStatusCode.UNSET);
      const traceId = req.spanContext().traceId;
      t.true(
        spans.every((s) => s.spanContext().traceId === traceId),
        'one trace id',
      );
      // every try: a CLIENT child of the request span on the member that answered it
      const byPort = new Map(endpoints.map((e) => [e.port, e.id]));
      tries.forEach((s, i) => {
        t.is(s.kind, SpanKind.CLIENT);
        t.is(s.name, 'GET');
        t.is(parentId(s), req.spanContext().spanId);
        t.is(s.attributes['http.request.method'], 'GET');
        t.is(s.attributes['server.address'], '127.0.0.1');
        t.is(s.attributes['switchyard.policy'], 'round_robin');
        t.is(byPort.get(s.attributes['server.port'] as number), s.attributes['switchyard.member'] as string);
        t.is(s.attributes['switchyard.member'], seen[i]!.member);
        t.is(s.attributes['http.response.status_code'], [503, 503, 200][i]);
        t.is(s.attributes['http.request.resend_count'], i === 0 ? undefined : i, 'resend count from the second try on');
        t.is(s.attributes['error.type'], i < 2 ? '503' : undefined);
        t.is(s.status.code, i < 2 ? SpanStatusCode.ERROR : SpanStatusCode.UNSET);
      });
      // the downstream servers saw W3C traceparent: this trace, the try's own span, sampled
      t.is(seen.length, 3);
      seen.forEach((s, i) => {
        t.is(s.headers.traceparent, `00-${traceId}-${tries[i]!.spanContext().spanId}-01`);
      });
    } finally {
      f.close();
      balancer.close();
      await close();
    }
  },
);

test.serial('a network error is an error try span (error.type) and the retry succeeds elsewhere', async (t) => {
  const { endpoints, close } = await members([]);
  const { exporter, provider } = sdk();
  // first member: a port nothing listens on
  const dead = { id: 'dead', host: '127.0.0.1', port: 1 };
  const balancer = new Balancer({ policy: 'round_robin', endpoints: [dead, endpoints[0]!] });
  const f = createFetch({
    balancer,
    retry: FAST_RETRY,
    instrumentation: otelInstrumentation({ tracerProvider: provider }),
  });
  try {
    // round robin over two members: one of two requests starts on the dead one and is retried on the other
    for (let i = 0; i < 2; i++) t.is((await f('/x')).status, 200);
    const spans = exporter.getFinishedSpans();
    t.is(spans.filter((s) => s.parentSpanContext === undefined).length, 2);
    const tries = spans.filter((s) => s.parentSpanContext !== undefined);
    const failed = tries.filter((s) => s.attributes['switchyard.member'] === 'dead');
    t.true(failed.length >= 1);
    t.is(
      tries.length,
      2 + failed.length,
      'each request: one successful try, after a failed one if it started on the dead member',
    );
    for (const s of failed) {
      t.is(s.status.code, SpanStatusCode.ERROR);
      t.is(typeof s.attributes['error.type'], 'string');
      t.is(s.attributes['http.response.status_code'], undefined);
      t.is(s.attributes['server.port'], 1);
    }
  } finally {
    f.close();
    balancer.close();
    await close();
  }
});

test.serial('the proxy: a request span and a try span per forwarded request, traceparent to the member', async (t) => {
  const { seen, endpoints, close } = await members([]);
  const { exporter, provider } = sdk();
  const balancer = new Balancer({ endpoints: [endpoints[0]!] });
  const proxy = createProxy({ balancer, instrumentation: otelInstrumentation({ tracerProvider: provider }) });
  const server = createServer(proxy);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  try {
    const res = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/p?q=1`);
    t.is(await res.text(), 'm1');
    const spans = exporter.getFinishedSpans();
    t.is(spans.length, 2);
    const child = spans.find((s) => s.parentSpanContext !== undefined)!;
    t.is(child.attributes['switchyard.member'], 'm1');
    t.is(seen[0]!.headers.traceparent, `00-${child.spanContext().traceId}-${child.spanContext().spanId}-01`);
  } finally {
    proxy.fetch.close();
    balancer.close();
    await new Promise<void>((r) => server.close(() => r()));
    await close();
  }
});

test.serial('a registered propagator is used instead of the direct traceparent', async (t) => {
  const { seen, endpoints, close } = await members([]);
  const { provider } = sdk();
  const custom: TextMapPropagator = {
    inject(ctx, carrier, setter) {
      setter.set(carrier, 'x-test-trace', trace.getSpanContext(ctx)!.traceId);
    },
    extract: (ctx) => ctx,
    fields: () => ['x-test-trace'],
  };
  t.true(propagation.setGlobalPropagator(custom));
  const balancer = new Balancer({ endpoints: [endpoints[0]!] });
  const f = createFetch({ balancer, instrumentation: otelInstrumentation({ tracerProvider: provider }) });
  try {
    await (await f('/')).text();
    t.regex(String(seen[0]!.headers['x-test-trace']), /^[0-9a-f]{32}$/);
    t.is(seen[0]!.headers.traceparent, undefined);
  } finally {
    propagation.disable();
    f.close();
    balancer.close();
    await close();
  }
});

test.serial('no tracer provider registered: no scope, no header, the request goes through', async (t) => {
  const { seen, endpoints, close } = await members([]);
  const inst = otelInstrumentation();
  t.is(inst.request({ method: 'GET', url: '/', path: '/', service: '', policy: 'round_robin' }), undefined);
  const balancer = new Balancer({ endpoints: [endpoints[0]!] });
  const f = createFetch({ balancer, instrumentation: inst });
  try {
    t.is((await f('/')).status, 200);
    t.is(seen[0]!.headers.traceparent, undefined);
  } finally {
    f.close();
    balancer.close();
    await close();
  }
});

test.serial('the globally registered provider is used when none is given; the user span is the parent', async (t) => {
  const { seen, endpoints, close } = await members([]);
  const { exporter, provider } = sdk();
  t.true(trace.setGlobalTracerProvider(provider));
  t.true(context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable()));
  const balancer = new Balancer({ endpoints: [endpoints[0]!] });
  const f = createFetch({ balancer, service: 'http://api', instrumentation: otelInstrumentation() });
  try {
    const handler = await trace.getTracer('app').startActiveSpan('handler', async (span) => {
      await (await f('http://api/a')).text();
      span.end();
      return span;
    });
    const spans = exporter.getFinishedSpans();
    t.is(spans.length, 3);
    const req = spans.find((s) => s.name === 'GET http://api')!;
    t.truthy(req);
    t.is(parentId(req), handler.spanContext().spanId, "the active span is the request span's parent");
    t.is(req.attributes['switchyard.service'], 'http://api');
    t.is(String(seen[0]!.headers.traceparent).split('-')[1], handler.spanContext().traceId);
  } finally {
    trace.disable();
    context.disable();
    f.close();
    balancer.close();
    await close();
  }
});

test('bad options: TypeError naming the field', (t) => {
  t.throws(() => otelInstrumentation({ tracerProvider: {} as never }), {
    instanceOf: TypeError,
    message: /tracerProvider/,
  });
  t.throws(() => otelInstrumentation(null as never), { instanceOf: TypeError, message: /options/ });
  t.throws(() => otelInstrumentation({ name: 3 as never }), { instanceOf: TypeError, message: /name/ });
});

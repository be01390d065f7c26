// OpenTelemetry traces for the balanced fetch and the proxy, through @opentelemetry/api (an optional peer
// dependency, loaded only by this entry point). `otelInstrumentation()` is a FetchInstrumentation
// (http/fetch-options.ts): a span per request and a child span per try, after the OpenTelemetry HTTP
// semantic conventions (https://opentelemetry.io/docs/specs/semconv/http/http-spans/): each try is an HTTP
// client span named by its method with server.address, server.port, http.request.method,
// http.response.status_code, error.type and, from the second try on, http.request.resend_count; the
// request span (kind CLIENT as well, the logical call) carries the method, the service and the final status.
// Both carry switchyard.policy; tries carry switchyard.member (and switchyard.hedge for hedged tries).
//
// Propagation: the try's context is injected into its request headers through the global propagator
// (`propagation.inject`). When none is registered (the API's default is a no-op), the W3C `traceparent`
// (and `tracestate`) is written directly, so the downstream service always joins the trace; register a
// propagator (e.g. W3CTraceContextPropagator, or B3) to choose another format.
//
// Cost: with no tracer provider registered, the API's tracer hands out non-recording spans with an invalid
// context; `request()` then returns undefined and the fetch does no per-try work.
//
//   const fetch = createFetch({ target, instrumentation: otelInstrumentation() });
import {
  context,
  propagation,
  SpanKind,
  SpanStatusCode,
  trace,
  TraceFlags,
  type Attributes,
  type Context,
  type Span,
  type TextMapSetter,
  type Tracer,
  type TracerProvider,
} from '@opentelemetry/api';
import type { FetchInstrumentation } from '../http/fetch-options.js';
import { checkKeys, str, typeError } from '../util/validate.js';

export interface OtelInstrumentationOptions {
  /** Default: the globally registered provider (`trace.getTracerProvider()`), looked up at each request. */
  tracerProvider?: TracerProvider;
  /** Instrumentation scope name (default 'switchyard'). */
  name?: string;
  version?: string;
}

const setter: TextMapSetter<Headers> = { set: (h, k, v) => h.set(k, v) };
const hex2 = (n: number) => (n & 0xff).toString(16).padStart(2, '0');

function inject(ctx: Context, span: Span, headers: Headers): void {
  if (propagation.fields().length > 0) {
    propagation.inject(ctx, headers, setter);
    return;
  }
  // no propagator registered: W3C Trace Context (https://www.w3.org/TR/trace-context/), version 00
  const sc = span.spanContext();
  headers.set('traceparent', `00-${sc.traceId}-${sc.spanId}-${hex2(sc.traceFlags & TraceFlags.SAMPLED)}`);
  const ts = sc.traceState?.serialize();
  if (ts) headers.set('tracestate', ts);
}

/** error.type: the status code for HTTP errors, else the error's name. */
function errorType(status: number | undefined, error: unknown): string | undefined {
  if (error !== undefined) return (error as { name?: unknown })?.name ? String((error as Error).name) : '_OTHER';
  if (status !== undefined && status >= 400) return String(status);
  return undefined;
}

function finish(span: Span, status: number | undefined, error: unknown): void {
  if (status !== undefined) span.setAttribute('http.response.status_code', status);
  const type = errorType(status, error);
  if (type !== undefined) {
    span.setAttribute('error.type', type);
    span.setStatus(
      error === undefined
        ? { code: SpanStatusCode.ERROR }
        : { code: SpanStatusCode.ERROR, message: String((error as Error)?.message ?? error) },
    );
  }
  span.end();
}

/** A FetchInstrumentation emitting OpenTelemetry spans; pass it as `createFetch({ instrumentation })` or to createProxy. */
export function otelInstrumentation(options: OtelInstrumentationOptions = {}): FetchInstrumentation {
  if (options === null || typeof options !== 'object') throw typeError('options', 'an object', options);
  checkKeys('options', options, ['tracerProvider', 'name', 'version']);
  const { tracerProvider, name = 'switchyard', version } = options;
  if (tracerProvider !== undefined && typeof tracerProvider?.getTracer !== 'function')
    throw typeError('tracerProvider', 'a TracerProvider (getTracer)', tracerProvider);
  str('name', name);
  if (version !== undefined) str('version', version);
  // The global API hands out a ProxyTracer that follows a provider registered later, so one lookup is enough.
  let cached: Tracer | undefined;
  const tracer = (): Tracer => (cached ??= (tracerProvider ?? trace.getTracerProvider()).getTracer(name, version));

  return {
    request(info) {
      const parent = context.active();
      const method = info.method;
      const attributes: Attributes = { 'http.request.method': method, 'switchyard.policy': info.policy };
      if (info.service) attributes['switchyard.service'] = info.service;
      const span = tracer().startSpan(
        info.service ? `${method} ${info.service}` : method,
        { kind: SpanKind.CLIENT, attributes },
        parent,
      );
      if (!span.isRecording() && !trace.isSpanContextValid(span.spanContext())) return undefined;
      const ctx = trace.setSpan(parent, span);
      return {
        try(t) {
          const a: Attributes = {
            'http.request.method': method,
            'server.address': t.member.host,
            'server.port': t.member.port,
            'switchyard.member': t.member.id,
            'switchyard.policy': info.policy,
          };
          if (t.attempt > 1) a['http.request.resend_count'] = t.attempt - 1;
          if (t.hedge) a['switchyard.hedge'] = true;
          const child = tracer().startSpan(method, { kind: SpanKind.CLIENT, attributes: a }, ctx);
          inject(trace.setSpan(ctx, child), child, t.headers);
          return { end: (r) => finish(child, r.status, r.error) };
        },
        end(r) {
          span.setAttribute('switchyard.tries', r.tries);
          finish(span, r.status, r.error);
        },
      };
    },
  };
}

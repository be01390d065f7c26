// `switchyard/observability/otel`: the OpenTelemetry half of the observability entry point (needs
// @opentelemetry/api only): metrics through a Meter, traces through a FetchInstrumentation.
export { collectOtelMetrics, type CollectOtelMetricsOptions, type OtelMetricsCollector } from './otel-metrics.js';
export { otelInstrumentation, type OtelInstrumentationOptions } from './tracing.js';

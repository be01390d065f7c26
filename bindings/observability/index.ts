// `switchyard/observability`: Prometheus metrics (prom-client), OpenTelemetry metrics and traces
// (@opentelemetry/api). Both are optional peer dependencies, loaded only through this entry point; the core
// entry points never import it. To depend on one of them only, import `switchyard/observability/prometheus`
// or `switchyard/observability/otel`. Guide: docs/observability.md.
export * from './prometheus.js';
export * from './otel.js';

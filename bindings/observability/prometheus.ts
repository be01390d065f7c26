// `switchyard/observability/prometheus`: the Prometheus half of the observability entry point (needs
// prom-client only): everything metrics.ts exports.
export * from './metrics.js';

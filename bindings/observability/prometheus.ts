// `switchyard/observability/prometheus`: the Prometheus half of the observability entry point (needs
// prom-client only).
export {
  collectMetrics,
  metricsHandler,
  DEFAULT_BUCKETS_S,
  INSTRUMENTS,
  type CollectMetricsOptions,
  type MetricsCollector,
  type InstrumentSpec,
  type Labels,
  type SourceOptions,
  type BalancerSource,
  type CheckerSource,
  type DetectorSource,
  type ResolverSource,
  type FetchSource,
  type FetchEventLike,
  type Off,
} from './metrics.js';

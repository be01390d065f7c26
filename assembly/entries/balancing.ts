// The balancing family: the Balancer's state table lives in this module's memory, and the policy kernels
// (weighted round robin, latency-aware, Peak-EWMA) read it in place.
export { swrrStep, swrrPlainStep } from '../weighted-round-robin';
export { latencyAwareScan } from '../latency-aware';
export { peakEwmaCost, peakEwmaObserve, expNeg } from '../peak-ewma';

/** First byte the bindings may allocate. */
export function heapBase(): usize {
  return __heap_base;
}

// `switchyard/lite`: the whole API of `switchyard`, with lean defaults for browser bundles (docs/browsers.md).
// What resolves by name is only what the page names: round_robin and the policies passed to `registerPolicy`,
// `static:///` targets and the schemes passed to `registerResolver`; createFetch builds no health checks nor
// outlier detection. A bundle then carries none of the rest (test/unit/bundle-size.test.ts):
//
//   import { createFetch, registerPolicy, peakEwmaPolicy } from 'switchyard/lite';
//   registerPolicy('peak_ewma', peakEwmaPolicy);
//   const fetch = createFetch({ target: 'static:///10.0.0.1:80,10.0.0.2:80', policy: 'peak_ewma' });
//
// Members with priorities or localities (and the `priority` option) need `registerPriorityRouting()`; the
// Balancer's state table is in JS until a built-in policy or `registerBalancingWasm()` registers the balancing
// WebAssembly module (round_robin needs no kernel); run-time weights come with the weighted built-ins or
// `registerRunTimeWeights()`; gRPC service configs need `registerServiceConfigs()`; createFetch's `hedge` and
// `instrumentation` options need `registerHedging()` and `registerInstrumentation()`. HashRing runs on WebAssembly only until `registerJsFallback()` adds the pure-TS
// core for pages without it (a CSP lacking 'wasm-unsafe-eval'); without that, such a page gets a TypeError naming
// it. Its `preference` and `stats`, and `hash: 'xxh64'` on WebAssembly, come with `registerRingExtras()` (a
// TypeError naming it before), which also makes group, getMany, getManyByHash and getManyBytes batch in
// WebAssembly (before, they loop single lookups). A Balancer's `stats()`, `pickIndex()` and `completeIndex()`
// come with `registerBalancerExtras()` (a TypeError naming it before; the metrics collectors register it).
//
// The classes and functions shared with `switchyard` are the same objects; a registration serves both entries.
import { BalancerCore } from './balancing/balancer.js';
import { BALANCING_TABLE } from './balancing/wasm-table.js';
import type { BalancerOptions, ServiceConfigOptions } from './balancing/options.js';
import { registeredPolicies, setServiceConfigs, setTableFamily, setWeightRunner } from './balancing/registry.js';
import { WEIGHT_RUNNER } from './balancing/weight-runner.js';
import {
  connectResolverWith,
  type ConnectOptions,
  type ConnectedResolver,
  type ResettableMembership,
} from './discovery/connect.js';
import {
  createResolverWith,
  registeredSchemes,
  type Resolver,
  type ResolverListener,
  type ResolverOptions,
} from './discovery/resolver.js';
import { createFetchWith, type BalancedFetch } from './http/fetch.js';
import { LITE_STACK, parseInstrumentation, type CreateFetchOptions } from './http/fetch-options.js';
import { hedged } from './http/hedge.js';

export * from './index.js';
export { registerJsFallback } from './core/backend.js';
/**
 * HashRing on WebAssembly, with the pure-TS core only once `registerJsFallback()` was called; `preference`,
 * `stats`, WASM batches and `hash: 'xxh64'` on WebAssembly (the constructor's TypeError before) once
 * `registerRingExtras()` was.
 */
export { HashRingCore as HashRing, registerRingExtras } from './hashing/ring.js';
export { registerPriorityRouting } from './balancing/priority.js';
export { registerBalancerExtras } from './balancing/balancer-extras.js';

/**
 * Makes Balancers created afterwards keep their state table in the balancing WebAssembly module (as
 * `switchyard`'s do, and as registering any built-in policy does) instead of JS.
 */
export function registerBalancingWasm(): void {
  setTableFamily(BALANCING_TABLE);
}

/**
 * Lets Balancers created afterwards run policies with run-time weights (slow start, dynamic weights, load
 * reports: a Policy object carrying a `weighting`). Registering weightedRoundRobinPolicy or leastRequestPolicy
 * does it too.
 */
export function registerRunTimeWeights(): void {
  setWeightRunner(WEIGHT_RUNNER);
}

/**
 * Lets Balancers created afterwards take gRPC service configs (`createBalancer({ loadBalancingConfig })`,
 * `applyServiceConfig`, and those resolvers deliver), which are refused before.
 */
export function registerServiceConfigs(): void {
  setServiceConfigs();
}

/** Lets createFetch calls made afterwards take the `hedge` option (hedged requests), which is refused before. */
export function registerHedging(): void {
  LITE_STACK.hedge = hedged;
}

/** Lets createFetch calls made afterwards take the `instrumentation` option (tracing), which is refused before. */
export function registerInstrumentation(): void {
  LITE_STACK.instrumentation = parseInstrumentation;
}

/** The Balancer over round_robin and the registered policies. */
export { BalancerCore as Balancer };

/** `new Balancer(options | serviceConfig)` over round_robin and the registered policies. */
export function createBalancer(options?: BalancerOptions | ServiceConfigOptions): BalancerCore {
  return new BalancerCore(options);
}

/** Names that resolve here: round_robin and the registered policies. */
export function policyNames(): string[] {
  return registeredPolicies.names();
}

/** A balanced fetch over round_robin, static targets and what was registered; no health checks. */
export function createFetch(options: CreateFetchOptions): BalancedFetch {
  return createFetchWith(LITE_STACK, options);
}

/** The resolver of a `static:///` target or of a registered scheme. */
export function createResolver(target: string | ResolverOptions, listener: ResolverListener): Resolver {
  return createResolverWith(registeredSchemes, target, listener);
}

/** connectResolver for `static:///` targets and the registered schemes. */
export function connectResolver(
  target: string | ResolverOptions,
  balancer: ResettableMembership,
  options?: ConnectOptions,
): ConnectedResolver {
  return connectResolverWith(registeredSchemes, target, balancer, options);
}

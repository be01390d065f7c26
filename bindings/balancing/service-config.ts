// Every built-in policy by name: the table the complete Balancer (balancer.ts), createFetch and the
// `switchyard` entry resolve names with, after the registered ones (registry.ts, which also parses specs and
// gRPC service configs). Each factory is exported alone, so `switchyard/lite` users register only what they
// name: `registerPolicy('peak_ewma', peakEwmaPolicy)`. Each names the balancing WebAssembly module (`wasm`), so
// that a lite Balancer with any built-in registered runs its table and kernels there, as the complete one does.
import type { Policy } from './picker.js';
import { BALANCING_TABLE } from './wasm-table.js';
import { WEIGHT_RUNNER } from './weight-runner.js';
import {
  type PolicyFactory,
  type PolicyLookup,
  policyFromConfig,
  policyFromSpec,
  roundRobinPolicy,
  type ServiceConfigJson,
  withTable,
} from './registry.js';
import { HashPolicy, parseXxhashRing } from './policies/hash.js';
import {
  ketamaPolicy as ketama,
  maglevPolicy as maglev,
  parseKetamaPolicy,
  parseMaglevPolicy,
  parseRingHashPolicy,
  ringHashPolicy as ringHash,
} from './policies/hash-tables.js';
import { LatencyAwarePolicy, parseLatencyAware } from './policies/latency-aware.js';
import { LeastRequestPolicy, parseLeastRequest } from './policies/least-request.js';
import { parsePeakEwma, PeakEwmaPolicy } from './policies/peak-ewma.js';
import { parsePrequal, PrequalPolicy } from './policies/prequal.js';
import { parsePickFirst, PickFirstPolicy } from './policies/pick-first.js';
import { parseWeightedRoundRobin, WeightedRoundRobinPolicy } from './policies/weighted-round-robin.js';

export {
  isServiceConfig,
  registerPolicy,
  roundRobinPolicy,
  type PolicyFactory,
  type PolicyLookup,
  type ServiceConfigJson,
} from './registry.js';

export const weightedRoundRobinPolicy: PolicyFactory = {
  wasm: BALANCING_TABLE,
  weights: WEIGHT_RUNNER,
  parse: parseWeightedRoundRobin,
  create: (c) => new WeightedRoundRobinPolicy(c as never),
};
export const leastRequestPolicy: PolicyFactory = {
  wasm: BALANCING_TABLE,
  weights: WEIGHT_RUNNER,
  parse: parseLeastRequest,
  create: (c) => new LeastRequestPolicy(c as never),
};
export const peakEwmaPolicy: PolicyFactory = {
  wasm: BALANCING_TABLE,
  parse: parsePeakEwma,
  create: (c) => new PeakEwmaPolicy(c as never),
};
export const latencyAwarePolicy: PolicyFactory = {
  wasm: BALANCING_TABLE,
  parse: parseLatencyAware,
  create: (c) => new LatencyAwarePolicy(c as never),
};
export const prequalPolicy: PolicyFactory = {
  wasm: BALANCING_TABLE,
  parse: parsePrequal,
  create: (c) => new PrequalPolicy(c as never),
};
export const ringHashPolicy: PolicyFactory = {
  wasm: BALANCING_TABLE,
  parse: parseRingHashPolicy,
  create: (c) => ringHash(c as never),
};
export const xxhashRingPolicy: PolicyFactory = {
  wasm: BALANCING_TABLE,
  parse: parseXxhashRing,
  create: (c) => new HashPolicy(c as never, 'xxhash_ring'),
};
export const maglevPolicy: PolicyFactory = {
  wasm: BALANCING_TABLE,
  parse: parseMaglevPolicy,
  create: (c) => maglev(c as never),
};
export const ketamaPolicy: PolicyFactory = {
  wasm: BALANCING_TABLE,
  parse: parseKetamaPolicy,
  create: (c) => ketama(c as never),
};
export const pickFirstPolicy: PolicyFactory = {
  wasm: BALANCING_TABLE,
  parse: parsePickFirst,
  create: (c) => new PickFirstPolicy(c as never),
};

/** The built-in policies by name. */
export const BUILTIN_POLICIES: Readonly<Record<string, PolicyFactory>> = {
  round_robin: roundRobinPolicy,
  weighted_round_robin: weightedRoundRobinPolicy,
  least_request: leastRequestPolicy,
  peak_ewma: peakEwmaPolicy,
  latency_aware: latencyAwarePolicy,
  prequal: prequalPolicy,
  ring_hash: ringHashPolicy,
  xxhash_ring: xxhashRingPolicy,
  maglev: maglevPolicy,
  ketama: ketamaPolicy,
  pick_first: pickFirstPolicy,
};

/** The registered policies, then the built-ins. */
export const allPolicies: PolicyLookup = /* @__PURE__ */ withTable(BUILTIN_POLICIES);

/** Names that resolve: the built-ins and the registered policies. */
export function policyNames(): string[] {
  return allPolicies.names();
}

/** A Policy from the TS `policy` option (registry.ts), any built-in or registered name. Default round_robin. */
export function policyFrom(spec: unknown, field = 'policy'): Policy {
  return policyFromSpec(allPolicies, spec, field);
}

/** The Policy a gRPC service config selects, any built-in or registered name. */
export function policyFromServiceConfig(sc: ServiceConfigJson): Policy {
  return policyFromConfig(allPolicies, sc);
}

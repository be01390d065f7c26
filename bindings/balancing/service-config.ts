// Policy selection: the registry of policies and gRPC service-config parsing.
//
// Accepted forms (grpc-js `service-config.ts`, `load-balancer.ts`):
//   { "loadBalancingConfig": [{ "least_request": { "choice_count": 3 } }, { "round_robin": {} }] }
//     → the first entry whose policy is registered; its options in snake_case as grpc-js reads them
//   { "loadBalancingPolicy": "round_robin" }  (legacy; ignored when loadBalancingConfig is present)
// and, in the TS API, `policy: 'peak_ewma'`, `policy: { name: 'peak_ewma', decayMs: 5000 }`,
// `policy: { peak_ewma: { decay: '5s' } }` or a `Policy` object.
import type { Policy } from './picker.js';
import { asObject } from './policy-config.js';
import { HashPolicy, parseXxhashRing } from './policies/hash.js';
import {
  ketamaPolicy,
  maglevPolicy,
  parseKetamaPolicy,
  parseMaglevPolicy,
  parseRingHashPolicy,
  ringHashPolicy,
} from './policies/hash-tables.js';
import { LatencyAwarePolicy, parseLatencyAware } from './policies/latency-aware.js';
import { LeastRequestPolicy, parseLeastRequest } from './policies/least-request.js';
import { parsePeakEwma, PeakEwmaPolicy } from './policies/peak-ewma.js';
import { parsePrequal, PrequalPolicy } from './policies/prequal.js';
import { parsePickFirst, PickFirstPolicy } from './policies/pick-first.js';
import { parseRoundRobin, RoundRobinPolicy } from './policies/round-robin.js';
import { parseWeightedRoundRobin, WeightedRoundRobinPolicy } from './policies/weighted-round-robin.js';
import { rangeError, typeError } from '../util/validate.js';

export interface PolicyFactory {
  /** Validates options (camelCase or snake_case); throws TypeError/RangeError naming `field.option`. */
  parse(json: unknown, field: string): unknown;
  create(config: unknown): Policy;
}

const registry = new Map<string, PolicyFactory>();

/** Registers a policy under `name` (replacing any). Built in: see `policyNames()`. */
export function registerPolicy(name: string, factory: PolicyFactory): void {
  if (typeof name !== 'string' || name === '') throw typeError('name', 'a non-empty string', name);
  registry.set(name, factory);
}

export function policyNames(): string[] {
  return [...registry.keys()];
}

registerPolicy('round_robin', { parse: parseRoundRobin, create: (c) => new RoundRobinPolicy(c as never) });
registerPolicy('weighted_round_robin', {
  parse: parseWeightedRoundRobin,
  create: (c) => new WeightedRoundRobinPolicy(c as never),
});
registerPolicy('least_request', { parse: parseLeastRequest, create: (c) => new LeastRequestPolicy(c as never) });
registerPolicy('peak_ewma', { parse: parsePeakEwma, create: (c) => new PeakEwmaPolicy(c as never) });
registerPolicy('latency_aware', { parse: parseLatencyAware, create: (c) => new LatencyAwarePolicy(c as never) });
registerPolicy('prequal', { parse: parsePrequal, create: (c) => new PrequalPolicy(c as never) });
registerPolicy('ring_hash', { parse: parseRingHashPolicy, create: (c) => ringHashPolicy(c as never) });
registerPolicy('xxhash_ring', { parse: parseXxhashRing, create: (c) => new HashPolicy(c as never, 'xxhash_ring') });
registerPolicy('maglev', { parse: parseMaglevPolicy, create: (c) => maglevPolicy(c as never) });
registerPolicy('ketama', { parse: parseKetamaPolicy, create: (c) => ketamaPolicy(c as never) });
registerPolicy('pick_first', { parse: parsePickFirst, create: (c) => new PickFirstPolicy(c as never) });

export interface ServiceConfigJson {
  loadBalancingConfig?: readonly Record<string, unknown>[];
  loadBalancingPolicy?: string;
}

export function isServiceConfig(o: unknown): boolean {
  return o !== null && typeof o === 'object' && ('loadBalancingConfig' in o || 'loadBalancingPolicy' in o);
}

function isPolicy(o: unknown): o is Policy {
  return o !== null && typeof o === 'object' && typeof (o as Policy).build === 'function';
}

function create(name: string, options: unknown, field: string): Policy {
  const f = registry.get(name);
  if (f === undefined) throw rangeError(field, `a registered policy (${policyNames().join(', ')})`, name);
  return f.create(f.parse(options, field));
}

/** A Policy from the TS `policy` option (see the header). Default round_robin. */
export function policyFrom(spec: unknown, field = 'policy'): Policy {
  if (spec === undefined) return create('round_robin', {}, field);
  if (typeof spec === 'string') return create(spec, {}, field);
  if (isPolicy(spec)) return spec;
  const o = asObject(field, spec);
  if (typeof o.name === 'string') return create(o.name, o, field);
  const keys = Object.keys(o);
  if (keys.length !== 1) throw typeError(field, 'a policy name, { name, ...options } or { <name>: options }', spec);
  return create(keys[0]!, o[keys[0]!], `${field}.${keys[0]}`);
}

/** The Policy a gRPC service config selects. */
export function policyFromServiceConfig(sc: ServiceConfigJson): Policy {
  const list = sc.loadBalancingConfig;
  if (list !== undefined) {
    if (!Array.isArray(list)) throw typeError('loadBalancingConfig', 'an array', list);
    list.forEach((entry, i) => {
      const o = asObject(`loadBalancingConfig[${i}]`, entry);
      if (Object.keys(o).length !== 1)
        throw typeError(`loadBalancingConfig[${i}]`, 'an object with exactly one policy name', entry);
    });
    for (let i = 0; i < list.length; i++) {
      const [name, options] = Object.entries(list[i]!)[0]!;
      if (registry.has(name)) return create(name, options, `loadBalancingConfig[${i}].${name}`);
    }
    throw rangeError(
      'loadBalancingConfig',
      `to name a registered policy (${policyNames().join(', ')})`,
      list.map((e) => Object.keys(e)[0]).join(','),
    );
  }
  const legacy = sc.loadBalancingPolicy;
  if (legacy === undefined) return create('round_robin', {}, 'loadBalancingPolicy');
  if (typeof legacy !== 'string') throw typeError('loadBalancingPolicy', 'a string', legacy);
  return create(legacy.toLowerCase(), {}, 'loadBalancingPolicy');
}

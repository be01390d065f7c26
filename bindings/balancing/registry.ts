// The policy registry and the parsing of policy specs and gRPC service configs, over a `PolicyLookup` (which
// names resolve). It holds round_robin (the default) and what `registerPolicy` adds; the built-in table
// (service-config.ts) is only bundled where code names it: the complete Balancer (balancer.ts) and the
// `switchyard` entry; `switchyard/lite` resolves the registry alone (docs/browsers.md).
//
// Accepted forms (grpc-js `service-config.ts`, `load-balancer.ts`):
//   { "loadBalancingConfig": [{ "least_request": { "choice_count": 3 } }, { "round_robin": {} }] }
//     → the first entry whose policy is registered; its options in snake_case as grpc-js reads them
//   { "loadBalancingPolicy": "round_robin" }  (legacy; ignored when loadBalancingConfig is present)
// and, in the TS API, `policy: 'peak_ewma'`, `policy: { name: 'peak_ewma', decayMs: 5000 }`,
// `policy: { peak_ewma: { decay: '5s' } }` or a `Policy` object.
import type { Policy } from './picker.js';
import type { WasmTable } from './wasm-table.js';
import type { LevelRouting } from './levels.js';
import type { WeightRunner } from './weight-runner.js';
import { asObject } from './policy-config.js';
import { parseRoundRobin, RoundRobinPolicy } from './policies/round-robin.js';
import { rangeError, str, typeError, unregistered } from '../util/validate.js';

export interface PolicyFactory {
  /** Validates options (camelCase or snake_case); throws TypeError/RangeError naming `field.option`. */
  parse(json: unknown, field: string): unknown;
  create(config: unknown): Policy;
  /**
   * The WebAssembly module the policy's state table and kernels run in (wasm-table.ts). Registering such a
   * factory makes `switchyard/lite` Balancers created afterwards use that module, as `switchyard`'s always do;
   * without one they keep the state table in JS (round_robin needs no kernel).
   */
  readonly wasm?: WasmTable;
  /** The run-time weights code (weight-runner.ts) of a policy that may carry a `weighting`; registered likewise. */
  readonly weights?: WeightRunner;
}

/** Which policy names resolve, and to what. */
export interface PolicyLookup {
  get(name: string): PolicyFactory | undefined;
  names(): string[];
}

export const roundRobinPolicy: PolicyFactory = {
  parse: parseRoundRobin,
  create: (c) => new RoundRobinPolicy(c as never),
};

const registry = new Map<string, PolicyFactory>([['round_robin', roundRobinPolicy]]);
/**
 * What `switchyard/lite` Balancers created afterwards reach besides the policy names (their BalancerParts of the
 * same names), as registered: `levels`, priority levels and localities (levels.ts `setLevelRouting`; undefined:
 * members must have neither); `table`, the module of the registered policies' tables and kernels
 * (PolicyFactory.wasm; undefined: a JS table); `weights`, their run-time weights code (PolicyFactory.weights;
 * undefined: policies with a `weighting` are refused); `configs`, gRPC service configs (undefined: refused).
 */
export const registrations: {
  levels?: LevelRouting;
  table?: WasmTable;
  weights?: WeightRunner;
  configs?: ServiceConfigs;
} = {};

/** Makes `family` the module of `switchyard/lite` Balancers' state tables (see PolicyFactory.wasm). */
export function setTableFamily(family: WasmTable): void {
  registrations.table = family;
}

/** Makes `runner` the run-time weights code of `switchyard/lite` Balancers (see PolicyFactory.weights). */
export function setWeightRunner(runner: WeightRunner): void {
  registrations.weights = runner;
}

/** gRPC service configs in a Balancer (BalancerParts): the policy a config selects, and applying one. */
export interface ServiceConfigs {
  readonly policy: typeof policyFromConfig;
  readonly apply: typeof applyServiceConfig;
}

/** What `switchyard`'s Balancers have, and `switchyard/lite`'s once registerServiceConfigs() was called. */
export const SERVICE_CONFIGS: ServiceConfigs = { policy: policyFromConfig, apply: applyServiceConfig };

/** Lets `switchyard/lite` Balancers take gRPC service configs (registerServiceConfigs()). */
export function setServiceConfigs(): void {
  registrations.configs = SERVICE_CONFIGS;
}

/**
 * BalancerCore.applyServiceConfig's work: the policy `json` selects is parsed (its error returned, naming the
 * field) and, unless its key (the policy part as JSON) is `last`'s, handed to `install` with that key. Null when
 * applied, or when `json` selects no policy or the same one as last time.
 */
function applyServiceConfig(
  policies: PolicyLookup,
  json: unknown,
  last: string | undefined,
  install: (policy: Policy, key: string) => void,
): Error | null {
  try {
    if (json === null || typeof json !== 'object' || Array.isArray(json))
      throw typeError('serviceConfig', 'a service config object', json);
    if (!isServiceConfig(json)) return null;
    const sc = json as ServiceConfigJson;
    const policy = policyFromConfig(policies, sc); // parsed first: a bad value is named before anything else
    const key = JSON.stringify([sc.loadBalancingConfig, sc.loadBalancingPolicy]);
    if (key !== last) install(policy, key);
    return null;
  } catch (e) {
    return e instanceof Error ? e : new TypeError(String(e));
  }
}

/** The TypeError of a service config given to a Balancer without `configs` (BalancerParts). */
export function serviceConfigRefused(sc: unknown): TypeError {
  return unregistered('loadBalancingConfig', 'registerServiceConfigs()', sc);
}

/**
 * Registers a policy under `name` (replacing any, built-ins included) for every Balancer, createFetch and
 * service config, in both entries. `switchyard/lite` exports each built-in's factory for this:
 * `registerPolicy('peak_ewma', peakEwmaPolicy)`.
 */
export function registerPolicy(name: string, factory: PolicyFactory): void {
  if (typeof name !== 'string' || name === '') throw typeError('name', 'a non-empty string', name);
  if (factory === null || typeof factory !== 'object' || typeof factory.parse !== 'function')
    throw typeError('factory', 'an object with parse() and create()', factory);
  if (typeof factory.create !== 'function') throw typeError('factory.create', 'a function', factory.create);
  registry.set(name, factory);
  if (factory.wasm !== undefined) registrations.table = factory.wasm;
  if (factory.weights !== undefined) registrations.weights = factory.weights;
}

/** round_robin and the registered policies. */
export const registeredPolicies: PolicyLookup = {
  get: (name) => registry.get(name),
  names: () => [...registry.keys()],
};

/** The registered policies, then `table` (a name registered replaces the table's entry). */
export function withTable(table: Readonly<Record<string, PolicyFactory>>): PolicyLookup {
  return {
    get: (name) => registry.get(name) ?? (Object.hasOwn(table, name) ? table[name] : undefined),
    names: () => [...new Set([...Object.keys(table), ...registry.keys()])],
  };
}

export interface ServiceConfigJson {
  loadBalancingConfig?: readonly Record<string, unknown>[];
  loadBalancingPolicy?: string;
}

export function isServiceConfig(o: unknown): boolean {
  const sc = o as ServiceConfigJson | null;
  return (
    sc !== null &&
    typeof sc === 'object' &&
    (sc.loadBalancingConfig !== undefined || sc.loadBalancingPolicy !== undefined)
  );
}

/** How a name becomes registered, for the refusals (switchyard/lite registers round_robin alone). */
const REGISTER = '; registerPolicy() adds others';

function isPolicy(o: unknown): o is Policy {
  return o !== null && typeof o === 'object' && typeof (o as Policy).build === 'function';
}

function create(policies: PolicyLookup, name: string, options: unknown, field: string): Policy {
  const f = policies.get(name);
  if (f === undefined) throw rangeError(field, `a registered policy (${policies.names().join(', ')}${REGISTER})`, name);
  return f.create(f.parse(options, field));
}

/** A Policy from the TS `policy` option (see the header), names resolved by `policies`. Default round_robin. */
export function policyFromSpec(policies: PolicyLookup, spec: unknown, field = 'policy'): Policy {
  if (spec === undefined) return create(policies, 'round_robin', {}, field);
  if (typeof spec === 'string') return create(policies, spec, {}, field);
  if (isPolicy(spec)) return spec;
  const want = 'a policy name, { name, ...options } or { <name>: options }';
  if (spec === null || typeof spec !== 'object') throw typeError(field, want, spec);
  const o = asObject(field, spec);
  if (o.name !== undefined) return create(policies, str(`${field}.name`, o.name), o, field);
  const keys = Object.keys(o);
  if (keys.length !== 1) throw typeError(field, want, spec);
  return create(policies, keys[0]!, o[keys[0]!], `${field}.${keys[0]}`);
}

/** The Policy a gRPC service config selects, names resolved by `policies`. */
export function policyFromConfig(policies: PolicyLookup, sc: ServiceConfigJson): Policy {
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
      if (policies.get(name) !== undefined) return create(policies, name, options, `loadBalancingConfig[${i}].${name}`);
    }
    throw rangeError(
      'loadBalancingConfig',
      `a list naming a registered policy (${policies.names().join(', ')}${REGISTER})`,
      list.map((e) => Object.keys(e)[0]).join(','),
    );
  }
  const legacy = sc.loadBalancingPolicy;
  if (legacy === undefined) return create(policies, 'round_robin', {}, 'loadBalancingPolicy');
  str('loadBalancingPolicy', legacy);
  return create(policies, legacy.toLowerCase(), {}, 'loadBalancingPolicy');
}

// Balancer options: names, defaults and validation. Each bad option is a TypeError/RangeError naming it and
// the value (util/validate.ts); an unknown (misspelt) key is a RangeError naming it (OPTION_KEYS). The policy
// comes from `policy` or, in a gRPC service config, from `loadBalancingConfig` / `loadBalancingPolicy`
// (service-config.ts), never from both.
import type { WasmHandle } from '../core/core-wasm.js';
import { type Clock, systemClock, validateClock } from '../util/clock.js';
import type { EndpointInput } from '../util/endpoint.js';
import { defaultRandom, type Random, validateRandom } from '../util/random.js';
import { asObject, bool, nonNegativeMs, numberError, rangeError, str, typeError } from '../util/validate.js';
import type { Policy } from './picker.js';
import type { WasmTable } from './wasm-table.js';
import { DEFAULT_OVERPROVISIONING_FACTOR, LEVELS_HINT, type LevelRouting } from './levels.js';
import type { PriorityOptions } from './priority-config.js';
import {
  isServiceConfig,
  type ServiceConfigs,
  serviceConfigRefused,
  policyFromSpec,
  type PolicyLookup,
  type ServiceConfigJson,
} from './registry.js';

export interface BalancerOptions {
  /**
   * A policy name, `{ name, ...options }`, `{ <name>: options }` or a Policy object (default round_robin). A Policy
   * object runs in one Balancer (another one refuses it with a TypeError): it keeps state for that Balancer.
   */
  policy?: string | object;
  /** Initial members. */
  endpoints?: readonly EndpointInput[];
  /** Time source for RTTs, EWMA decay, fail timeouts and run-time weights (default systemClock). */
  clock?: Clock;
  /** Uniform in [0, 1): random starts, P2C samples, keyless hash picks (default Math.random). */
  random?: Random;
  /** Envoy's healthy panic threshold, 0..100 (default 50). */
  panicThresholdPercent?: number;
  /** What to do in panic: pick over all members (default, Envoy) or return/throw "no healthy". */
  panicMode?: 'all' | 'fail';
  /**
   * Where the state table and policy kernels live (default: 'wasm' when available). `switchyard/lite` keeps
   * them in JS until a built-in policy or `registerBalancingWasm()` registers the module.
   */
  backend?: 'wasm' | 'js';
  /**
   * Time every pick so that done() without rttMs still reports one. Default: only when the policy uses RTTs
   * or an 'outcome' listener is registered (a clock read costs more than a round-robin pick). A policy with
   * run-time weights (slow start, dynamic weights, load reports) times picks even with `false`: its weights are
   * updated from the pick's clock reading every `weightUpdatePeriodMs`.
   */
  measureRtt?: boolean;
  /**
   * Priority levels and localities (priority.ts, Envoy): `overprovisioningFactor` (default 1.4),
   * `localityWeighted`, `zoneAware: { localZone, minClusterSize, ... }`, or Envoy's snake_case fields. Used when
   * members carry priorities other than 0 or localities; the panic settings above are its defaults. In
   * `switchyard/lite` only after `registerPriorityRouting()` (a TypeError otherwise).
   */
  priority?: Record<string, unknown>;
  /** What the balancer serves (e.g. the resolver target), named in UnavailableError messages. */
  target?: string;
  /** How long `ready()` and `pickAsync()` wait by default, ms (default 10 000; Infinity: no limit). */
  readyTimeoutMs?: number;
}

/**
 * The keys of BalancerOptions and of a service config (ServiceConfigOptions): the complete Balancer refuses a
 * misspelt one (balancer.ts); a switchyard/lite Balancer leaves the list out of its bundle.
 */
export const OPTION_KEYS = [
  'policy',
  'endpoints',
  'clock',
  'random',
  'panicThresholdPercent',
  'panicMode',
  'backend',
  'measureRtt',
  'priority',
  'target',
  'readyTimeoutMs',
  'loadBalancingConfig',
  'loadBalancingPolicy',
] satisfies (keyof (BalancerOptions & ServiceConfigJson))[];

/** How the lite refusal of `backend: 'wasm'` names the registration. */
const WASM_HINT = 'switchyard/lite: registerBalancingWasm(), or register a built-in policy';

/** Default wait of `ready()` / `pickAsync()`. */
export const DEFAULT_READY_TIMEOUT_MS = 10_000;

/** A gRPC service config selecting the policy, with the other Balancer options beside it. */
export type ServiceConfigOptions = ServiceConfigJson & Omit<BalancerOptions, 'policy'>;

export interface ResolvedOptions {
  /** The Balancer's fields of the same names, in the order it defines them (it assigns them as they are). */
  fields: {
    pol: Policy;
    clock: Clock;
    random: Random;
    panicThresholdPercent: number;
    panicMode: 'all' | 'fail';
    backend: 'wasm' | 'js';
    /** The WASM core when `backend` is 'wasm'. */
    wasm: WasmHandle | null;
    /** Whether every pick is timed (see measureRtt). */
    timed: boolean;
    target: string | undefined;
    readyTimeoutMs: number;
  };
  /** `measureRtt` as given (undefined: follow the policy). */
  measureRtt: boolean | undefined;
  priority: PriorityOptions;
  endpoints: readonly EndpointInput[] | undefined;
}

/**
 * Validates `options` and fills in the defaults; policy names resolve through `policies`, the `priority` option
 * is read by `levels` (levels.ts; undefined: the option is refused), the state table lives in `table`'s
 * WebAssembly module (undefined: in JS, and `backend: 'wasm'` is refused).
 */
export function resolveOptions(
  options: BalancerOptions | ServiceConfigOptions,
  policies: PolicyLookup,
  levels: LevelRouting | undefined,
  table: WasmTable | undefined,
  configs: ServiceConfigs | undefined,
): ResolvedOptions {
  const o = asObject<BalancerOptions & ServiceConfigJson>('options', options);
  const sc = isServiceConfig(o); // a key present but undefined is absent
  if (sc && o.policy !== undefined)
    throw typeError('policy', 'absent when a service config selects the policy', o.policy);
  if (sc && configs === undefined) throw serviceConfigRefused(o);
  const policy = sc ? configs!.policy(policies, o) : policyFromSpec(policies, o.policy);
  const clock = o.clock === undefined ? systemClock : validateClock('clock', o.clock);
  const random = o.random === undefined ? defaultRandom : validateRandom('random', o.random);
  const pt = o.panicThresholdPercent === undefined ? 50 : o.panicThresholdPercent; // null is a wrong value
  if (typeof pt !== 'number' || !(pt >= 0 && pt <= 100))
    throw numberError('panicThresholdPercent', 'a number in [0, 100]', pt);
  const pm = o.panicMode === undefined ? 'all' : o.panicMode;
  if (pm !== 'all' && pm !== 'fail') throw rangeError('panicMode', "'all' or 'fail'", pm);
  // default: where the core runs in WASM, the table lives in its memory
  let backend: 'wasm' | 'js' = 'js';
  let wasm: WasmHandle | null = null;
  if (table !== undefined) ({ backend, wasm } = table.resolve(o));
  else if (o.backend === 'wasm')
    throw typeError('backend', `'js' without the balancing module (${WASM_HINT})`, o.backend);
  else if (o.backend !== undefined && o.backend !== 'js') throw rangeError('backend', "'wasm' or 'js'", o.backend);
  if (o.measureRtt !== undefined) bool('measureRtt', o.measureRtt);
  const timed = policy.weighting !== undefined || (o.measureRtt ?? policy.usesRtt === true);
  if (o.endpoints !== undefined && !Array.isArray(o.endpoints)) throw typeError('endpoints', 'an array', o.endpoints);
  if (o.target !== undefined) str('target', o.target);
  const rt = nonNegativeMs(
    'readyTimeoutMs',
    o.readyTimeoutMs === undefined ? DEFAULT_READY_TIMEOUT_MS : o.readyTimeoutMs,
  );
  const panic = { panicThresholdPercent: pt, panicMode: pm };
  let priority: PriorityOptions;
  if (levels !== undefined) priority = levels.parse(o.priority, 'priority', panic);
  else if (o.priority === undefined)
    priority = {
      overprovisioningFactor: DEFAULT_OVERPROVISIONING_FACTOR,
      localityWeighted: false,
      zoneAware: null,
      ...panic,
    };
  else throw typeError('priority', `absent without priority routing (${LEVELS_HINT})`, o.priority);
  return {
    fields: {
      pol: policy,
      clock,
      random,
      // the `priority` option's panic settings win (the top-level ones are their defaults), on one level too
      panicThresholdPercent: priority.panicThresholdPercent,
      panicMode: priority.panicMode,
      backend,
      wasm,
      timed,
      target: o.target,
      readyTimeoutMs: rt,
    },
    measureRtt: o.measureRtt,
    priority,
    endpoints: o.endpoints,
  };
}

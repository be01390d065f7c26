// registerSwitchyard: one call plugs switchyard's resolvers and policies into @grpc/grpc-js through its
// plug-in API (`experimental.registerResolver`, `experimental.registerLoadBalancerType`). After it, the usual
// grpc-js code works unchanged:
//
//   registerSwitchyard(grpc, { resolver: { endpoints: ['http://127.0.0.1:2379'] } });
//   const client = new Greeter('etcd:///services/greeter', grpc.credentials.createInsecure(), {
//     'grpc.service_config': JSON.stringify({ loadBalancingConfig: [{ peak_ewma: {} }] }),
//   });
//
// Resolvers: etcd, consul, dns+srv, static (resolver.ts); grpc-js's dns stays its own. Policies: every
// policy of balancing/service-config.ts but prequal, as `switchyard_<name>` and, unless grpc-js has a policy
// of that name (pick_first, round_robin, weighted_round_robin), as `<name>` (config.ts). Registering again
// (other options) replaces our earlier registrations.
import * as grpcJs from '@grpc/grpc-js';
import { systemClock, validateClock, type Clock } from '../util/clock.js';
import { defaultRandom, validateRandom, type Random } from '../util/random.js';
import { checkKeys, rangeError, typeError } from '../util/validate.js';
import {
  bridgedPolicies,
  GRPC_BUILTIN_POLICIES,
  parseLbConfig,
  SWITCHYARD_POLICY_PREFIX,
  SwitchyardLbConfig,
} from './config.js';
import { loadBalancerClass, type LoadBalancerStats } from './load-balancer.js';
import { resolverClass, SWITCHYARD_SCHEMES, type ResolverBridgeOptions } from './resolver.js';

type Grpc = typeof grpcJs;

export interface SwitchyardGrpcOptions extends ResolverBridgeOptions {
  /** URI schemes to register (default etcd, consul, dns+srv, static). */
  schemes?: readonly string[];
  /** Our policies to register (default every bridged one: `bridgedPolicies()`). */
  policies?: readonly string[];
  /** Time for RTTs, EWMA decay and outlier ejection (default systemClock). */
  clock?: Clock;
  /** Randomness for P2C samples and random picks (default Math.random). */
  random?: Random;
  /** Where the policies' state table lives (default: WASM when available). */
  backend?: 'wasm' | 'js';
}

const OPTIONS = ['schemes', 'policies', 'clock', 'random', 'backend', 'resolver', 'onResolverError'];

/** A live bridged load balancer (one per channel using one of our policies), for diagnostics. */
export interface BridgedLoadBalancer {
  /** The registered name (`peak_ewma`, `switchyard_round_robin`). */
  readonly name: string;
  /** The Balancer's stats and each address's connectivity state. */
  stats(): LoadBalancerStats;
}

export interface SwitchyardRegistration {
  /** The bridged load balancers alive in this grpc-js module (one per channel using one of our policies). */
  loadBalancers(): BridgedLoadBalancer[];
  /** The URI schemes registered. */
  schemes: string[];
  /** For each of our policies, the service-config names it answers to (`['peak_ewma', 'switchyard_peak_ewma']`). */
  policies: Record<string, string[]>;
}

/** Names we registered, per grpc-js module (so a second registration may replace them). */
const registered = new WeakMap<object, Set<string>>();
/** Live bridged load balancers, per grpc-js module (shared by every registration with it). */
const alive = new WeakMap<object, Set<BridgedLoadBalancer>>();

function stringList(field: string, v: unknown, allowed: readonly string[]): string[] {
  if (!Array.isArray(v)) throw typeError(field, 'an array of names', v);
  return v.map((x, i) => {
    if (typeof x !== 'string' || !allowed.includes(x))
      throw rangeError(`${field}[${i}]`, `one of ${allowed.join(', ')}`, x);
    return x;
  });
}

/**
 * Registers switchyard's resolvers and policies with `grpc` (default: the `@grpc/grpc-js` this package
 * resolves; pass yours when your application has its own copy). Throws a TypeError/RangeError naming a bad
 * option.
 */
export function registerSwitchyard(grpc: Grpc = grpcJs, options: SwitchyardGrpcOptions = {}): SwitchyardRegistration {
  if (grpc === null || typeof grpc !== 'object' || typeof grpc.experimental?.registerLoadBalancerType !== 'function')
    throw typeError('grpc', 'the @grpc/grpc-js module', grpc);
  if (options === null || typeof options !== 'object') throw typeError('options', 'an object', options);
  checkKeys('options', options, OPTIONS);
  const schemes =
    options.schemes === undefined
      ? [...SWITCHYARD_SCHEMES]
      : stringList('schemes', options.schemes, SWITCHYARD_SCHEMES);
  const all = bridgedPolicies();
  const policies = options.policies === undefined ? all : stringList('policies', options.policies, all);
  const clock = options.clock === undefined ? systemClock : validateClock('clock', options.clock);
  const random = options.random === undefined ? defaultRandom : validateRandom('random', options.random);
  if (options.backend !== undefined && options.backend !== 'wasm' && options.backend !== 'js')
    throw rangeError('backend', "'wasm' or 'js'", options.backend);
  if (options.resolver !== undefined && (options.resolver === null || typeof options.resolver !== 'object'))
    throw typeError('resolver', 'resolver options (an object)', options.resolver);
  if (options.onResolverError !== undefined && typeof options.onResolverError !== 'function')
    throw typeError('onResolverError', 'a function', options.onResolverError);

  const ex = grpc.experimental;
  const Resolver = resolverClass(grpc, options);
  for (const s of schemes) ex.registerResolver(s, Resolver);

  const ours = registered.get(grpc) ?? new Set<string>();
  registered.set(grpc, ours);
  const live = alive.get(grpc) ?? new Set<BridgedLoadBalancer>();
  alive.set(grpc, live);
  const ctx = { grpc, clock, random, live, ...(options.backend !== undefined && { backend: options.backend }) };
  const out: Record<string, string[]> = {};
  for (const policy of policies) {
    const names = [`${SWITCHYARD_POLICY_PREFIX}${policy}`];
    const plainFree = !ex.isLoadBalancerNameRegistered(policy) || ours.has(policy);
    if (!GRPC_BUILTIN_POLICIES.includes(policy) && plainFree) names.unshift(policy);
    for (const name of names) {
      const Config = class extends SwitchyardLbConfig {
        static createFromJson(json: unknown): SwitchyardLbConfig {
          return parseLbConfig(name, policy, json);
        }
      };
      ex.registerLoadBalancerType(name, loadBalancerClass(ctx, name), Config);
      ours.add(name);
    }
    out[policy] = names;
  }
  return { schemes, policies: out, loadBalancers: () => [...live] };
}

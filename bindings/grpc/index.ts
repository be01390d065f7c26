// switchyard/grpc: switchyard's discovery, policies and outlier detection inside @grpc/grpc-js (an optional
// peer dependency: only this entry imports it). See docs/grpc.md.
//
//   import * as grpc from '@grpc/grpc-js';
//   import { registerSwitchyard } from 'switchyard/grpc';
//   registerSwitchyard(grpc, { resolver: { endpoints: ['http://127.0.0.1:2379'] } });
//   new Greeter('etcd:///services/greeter', grpc.credentials.createInsecure(), {
//     'grpc.service_config': JSON.stringify({ loadBalancingConfig: [{ peak_ewma: {} }] }),
//   });
export {
  registerSwitchyard,
  type BridgedLoadBalancer,
  type SwitchyardGrpcOptions,
  type SwitchyardRegistration,
} from './register.js';
export {
  bridgedPolicies,
  GRPC_BUILTIN_POLICIES,
  parseLbConfig,
  SWITCHYARD_POLICY_PREFIX,
  SwitchyardLbConfig,
  UNBRIDGED_POLICIES,
} from './config.js';
export { endpointInfo, SWITCHYARD_SCHEMES, validateTarget, type ResolverBridgeOptions } from './resolver.js';
export { hashKeyFromMetadata, parseHashHeader, type MetadataLike } from './metadata-key.js';
export { httpStatusOf, UNSTARTED_PICK_TIMEOUT_MS } from './picker.js';
export type { LoadBalancerStats } from './load-balancer.js';

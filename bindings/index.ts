// switchyard: exact, fast traffic routing with a WebAssembly core and a pure-TS twin.
export { init, initSync, backend, backendError, setBackend, type WasmSource } from './core/backend.js';
export type { Backend, RingHash } from './core/core.js';
export type { WasmHandle } from './core/core-wasm.js';
export type { WasmMemory } from './core/memory.js';
export { xxh32, xxh64, type HashInput } from './hashing/hash.js';
export {
  NO_MEMBER,
  type Key,
  type MemberInput,
  type RouterMemberStats,
  type RouterStats,
  type KeyLookup,
  type KeyRouter,
  type OrderedKeyRouter,
  type MutableKeyRouter,
  type BucketKeyRouter,
} from './hashing/key-router.js';
export {
  HashRing,
  DEFAULT_VNODES,
  MAX_VNODES,
  MAX_MEMBERS,
  MAX_POINTS,
  type HashRingOptions,
  type RingStats,
  type RingMemberStats,
} from './hashing/ring.js';
export { planChange, type Plan, type PlanMember, type Router } from './hashing/plan.js';
export {
  jumpHash,
  JumpHash,
  JUMP_MAX_BUCKETS,
  JUMP_NO_MEMBER,
  type U64,
  type JumpHashOptions,
  type JumpStats,
  type JumpMemberStats,
} from './hashing/jump.js';
export {
  NginxConsistentHash,
  NGINX_POINTS_PER_WEIGHT,
  NGINX_NO_MEMBER,
  type NginxServerInput,
  type NginxConsistentHashOptions,
  type NginxStats,
  type NginxMemberStats,
} from './hashing/nginx-hash.js';
export {
  Rendezvous,
  RENDEZVOUS_NO_MEMBER,
  type RendezvousOptions,
  type RendezvousStats,
  type RendezvousMemberStats,
} from './hashing/rendezvous.js';
export { Balancer, createBalancer, normalizeEndpoint, type BalancerParts } from './balancing/balancer.js';
export type { LevelRouting } from './balancing/levels.js';
export type { WasmTable } from './balancing/wasm-table.js';
export type { WeightRunner } from './balancing/weight-runner.js';
export { NoHealthyMembersError, UnavailableError } from './balancing/errors.js';
export type { WaitOptions } from './balancing/ready.js';
export { PickFirstPolicy, parsePickFirst, type PickFirstConfig } from './balancing/policies/pick-first.js';
export type { BalancerOptions, ServiceConfigOptions } from './balancing/options.js';
export type {
  BalancerStats,
  MemberStats,
  Outcome,
  PickHandle,
  PickResult,
  Picked,
  OutcomeEvent,
  MembershipEvent,
  AvailabilityEvent,
  PickerEvent,
  NoneReason,
} from './balancing/events.js';
export type { Policy, Picker, PolicyEnv, PickContext, StateTable } from './balancing/picker.js';
export { NONE_BUILT } from './balancing/picker.js';
export {
  registerPolicy,
  policyNames,
  roundRobinPolicy,
  weightedRoundRobinPolicy,
  leastRequestPolicy,
  peakEwmaPolicy,
  latencyAwarePolicy,
  prequalPolicy,
  ringHashPolicy,
  xxhashRingPolicy,
  maglevPolicy,
  ketamaPolicy,
  pickFirstPolicy,
  type PolicyFactory,
  type PolicyLookup,
  type ServiceConfigJson,
} from './balancing/service-config.js';
export type { KeyHasher, HasherFactory } from './balancing/policies/hash.js';
export type { ServiceConfigs } from './balancing/registry.js';
export { mulberry32, validateRandom, type Random } from './util/random.js';
export {
  systemClock,
  VirtualClock,
  validateClock,
  type Clock,
  type TimerHandle,
  type TimerOptions,
} from './util/clock.js';
export {
  KetamaRing,
  KETAMA_COMPATS,
  KETAMA_KEY_HASHES,
  MEMCACHED_DEFAULT_PORT,
  type KetamaCompat,
  type KetamaKeyHash,
  type KetamaOptions,
  type KetamaServer,
  type KetamaKey,
  type KetamaStats,
  type KetamaMemberStats,
  type KetamaLocation,
} from './hashing/ketama/ketama.js';
export {
  HealthChecker,
  type HealthListener,
  DEFAULT_INTERVAL_MS,
  DEFAULT_TIMEOUT_MS,
  DEFAULT_HEALTHY_THRESHOLD,
  DEFAULT_UNHEALTHY_THRESHOLD,
  DEFAULT_MAX_CONCURRENT_PROBES,
  type HealthCheckerOptions,
  type HealthMember,
  type HealthProbe,
  type HealthState,
  type HealthTransition,
  type ProbeResult,
  type HealthStats,
  type MemberHealthStats,
} from './health/checker.js';
export { httpProbe, type HttpProbeOptions, type StatusRange } from './health/http-probe.js';
export { tcpProbe, type TcpProbeOptions } from './health/tcp-probe.js';
export {
  OutlierDetector,
  isFailure as isOutlierFailure,
  type OutlierDetectorOptions,
  type OutlierOutcome,
  type EjectionEvent,
  type EjectionKind,
  type OutlierStats,
  type MemberOutlierStats,
} from './health/outlier.js';
export {
  connectHealth,
  type HealthWiring,
  type HealthWiringOptions,
  type HealthTarget,
  type ObservedOutcome,
} from './health/connect.js';
export {
  EnvoyRingHash,
  ENVOY_MIN_RING_SIZE,
  ENVOY_MAX_RING_SIZE,
  type EnvoyRingHashOptions,
  type EnvoyRingHashFunction,
  type EnvoyMemberInput,
  type EnvoyRingStats,
  type EnvoyRingMemberStats,
} from './hashing/envoy/ring-hash.js';
export {
  Maglev,
  MAGLEV_DEFAULT_TABLE_SIZE,
  MAGLEV_MAX_TABLE_SIZE,
  maglevOffsetSkip,
  type MaglevOptions,
  type MaglevStats,
  type MaglevMemberStats,
} from './hashing/envoy/maglev.js';
export {
  BoundedLoad,
  boundedCapacity,
  type BoundedLoadOptions,
  type BoundedLoadTarget,
  type BoundedPick,
} from './hashing/bounded-load.js';
export {
  EnvoyBoundedLoad,
  type EnvoyBoundedLoadOptions,
  type EnvoyHashingTarget,
} from './hashing/envoy/hash-balance.js';
export {
  createResolver,
  parseTarget,
  registerResolver,
  staticScheme,
  dnsScheme,
  dohScheme,
  etcdScheme,
  consulScheme,
  type ResolverScheme,
  type SchemeLookup,
  type Resolver,
  type ResolverListener,
  type ResolverOptions,
  type CommonResolverOptions,
  type ParsedTarget,
  type FetchLike,
} from './discovery/resolver.js';
export { StaticResolver } from './discovery/static.js';
export {
  DnsResolver,
  type DnsResolverOptions,
  type DnsLookup,
  type AddressRecord,
  type SrvRecord,
} from './discovery/dns.js';
export { dohLookup, parseTxtData, type DohOptions } from './discovery/doh.js';
export { EtcdResolver, type EtcdResolverOptions, type EtcdResolverStats } from './discovery/etcd/resolver.js';
export type { EtcdAuth } from './discovery/etcd/client.js';
export { EtcdRegistration, registerEtcd, type EtcdRegistrationOptions } from './discovery/etcd/registration.js';
export { ConsulResolver, type ConsulResolverOptions, type ConsulResolverStats } from './discovery/consul.js';
export {
  connectResolver,
  type ConnectOptions,
  type ResettableMembership,
  type ConnectedResolver,
  type ResolverUpdate,
} from './discovery/connect.js';
export { ResolverError } from './discovery/errors.js';
export {
  selectServiceConfig,
  serviceConfigFromTxt,
  serviceConfigFromValue,
  GRPC_CONFIG_TXT_PREFIX,
  ETCD_SERVICE_CONFIG_KEY,
  type ServiceConfigResolverOptions,
  type ServiceConfig,
  type ChoiceContext,
} from './discovery/service-config.js';
export { RoundRobinPolicy, type RoundRobinConfig } from './balancing/policies/round-robin.js';
export {
  WeightedRoundRobinPolicy,
  type WeightedRoundRobinConfig,
  type WrrScheduler,
} from './balancing/policies/weighted-round-robin.js';
export { LeastRequestPolicy, type LeastRequestConfig } from './balancing/policies/least-request.js';
export { PeakEwmaPolicy, type PeakEwmaConfig } from './balancing/policies/peak-ewma.js';
export { LatencyAwarePolicy, type LatencyAwareConfig } from './balancing/policies/latency-aware.js';
export {
  PrequalPolicy,
  parsePrequal,
  readProbeAnswer,
  type PrequalConfig,
  type PrequalProbe,
  type PrequalStats,
  type ProbeAnswer,
} from './balancing/policies/prequal.js';
export {
  PrequalTracker,
  prequalHandler,
  prequalFetchHandler,
  DEFAULT_PREQUAL_PATH,
  type PrequalTrackerOptions,
  type PrequalHandlerOptions,
  type PrequalProbeAnswer,
  type NodeListener,
  type NodeReq,
  type NodeRes,
} from './http/prequal-handler.js';
export { createHttpProber, type HttpProberOptions } from './http/prequal-probe.js';
export { HashPolicy, type HashConfig, type SlotHasher } from './balancing/policies/hash.js';
export { P2CPicker, type LoadMetric } from './balancing/p2c.js';
export type { LoadReport, Weighting, DynamicWeightsConfig, LoadReportConfig } from './balancing/dynamic-weights.js';
export type { SlowStartConfig } from './balancing/slow-start.js';
export { EdfScheduler } from './balancing/edf.js';
export {
  buildPriorityPicker,
  parsePriorityOptions,
  priorityLoads,
  type LocalityStats,
  type PriorityLevelStats,
  type PriorityLoads,
  type PriorityOptions,
  type PriorityPickerInput,
  type PriorityPickerResult,
  type ZoneAwareOptions,
  type ZoneRouting,
  type LevelCounts,
} from './balancing/priority.js';
export type { ZoneRoutingReason } from './balancing/locality.js';
export {
  createHasher,
  ALGORITHMS,
  type Algorithm,
  type HasherOptions,
  type HasherTypes,
} from './hashing/create-hasher.js';
export {
  createFetch,
  NoMemberError,
  DeadlineExceededError,
  InvalidRequestError,
  type BalancedFetch,
  type CreateFetchOptions,
  type SwitchyardRequestInit,
  type RetryOptions,
  type HedgeOptions,
  type FetchEvent,
  type FetchStats,
  type PickSource,
  type FetchPick,
  type FetchMember,
  type FetchOutcome,
  type FetchInstrumentation,
  type FetchRequestInfo,
  type FetchRequestResult,
  type FetchTryInfo,
  type FetchTryResult,
  type RequestScope,
  type TryScope,
  type PickWaitOptions,
} from './http/fetch.js';
export { UnsafeTargetError } from './http/url-guard.js';
export { RetryThrottle, type ThrottleOptions } from './http/retry.js';
export { Backoff, type BackoffOptions } from './util/backoff.js';
export {
  parseEndpoint,
  parseEndpoints,
  parseHostPort,
  formatHostPort,
  sameEndpoint,
  type Endpoint,
  type EndpointInput,
  type ParseEndpointOptions,
  parseLocality,
  localityKey,
  type Locality,
} from './util/endpoint.js';

// The resolver bridge: switchyard's resolvers (discovery/resolver.ts) as grpc-js resolvers
// (grpc-js `resolver.ts`: `registerResolver(scheme, class)`, a `Resolver` with `updateResolution()` /
// `destroy()` reporting to a `ResolverListener(endpoints, attributes, serviceConfig, note)`).
//
// - `etcd:`, `consul:`, `dns+srv:` and `static:` targets are handed to `createResolver` as written
//   (`etcd://127.0.0.1:2379/services/greeter`, `consul:///greeter?passing=true`, `static:///a:50051,b:50051`);
//   grpc-js's own `dns:` is left alone. Options for every target (etcd `endpoints`, a clock, ...) come from
//   `registerSwitchyard(grpc, { resolver })`.
// - A malformed target throws from the channel's constructor (grpc-js asks `getDefaultAuthority` there), a
//   TypeError/RangeError naming the field and the value.
// - The resolver starts on the first `updateResolution()` (grpc-js resolves when the channel leaves IDLE);
//   later calls are our rate-limited `refresh()`; `destroy()` closes it, and a later `updateResolution()`
//   starts a new one.
// - Each list becomes one grpc-js endpoint per member (`{ addresses: [{ host, port }] }`); the member's
//   weight, priority, locality and metadata travel beside it (`endpointInfo`) for our load balancers.
// - A service config from the resolver (DNS TXT, etcd `_grpc_config`) is validated by grpc-js's own rules and
//   then the `loadBalancingConfig` entry grpc-js would select (`selectLbConfigFromList`: the first entry whose
//   policy is registered and parses) is checked: when it is one of ours, our parser (config.ts) must accept
//   it; a list naming no registered policy is invalid too (gRPC's rule; grpc-js would fall back to pick_first). The config is sent with every later list (grpc-js falls back to the channel's default config when a
//   list comes without one); one that arrives after a list was delivered is sent at once, with that list
//   again (the core resolver does not report an unchanged list twice). An invalid one is reported to
//   `onResolverError`; the last good config from this resolver stays in force (gRFC A21), later lists going
//   with it. Without one it is sent as an error status, with the last list and every later one until a good
//   config arrives: grpc-js 1.14 (resolving-load-balancer.js) never records a "previous" config, so it rejects
//   every result carrying an error: a channel whose load balancer is running keeps its config and list (lists
//   sent with the error are ignored meanwhile); one that has none yet (IDLE) goes to TRANSIENT_FAILURE and
//   fails calls with UNAVAILABLE and our message.
// - A resolver failure (`ResolverError`: etcd unreachable, NXDOMAIN...) is reported as UNAVAILABLE carrying
//   our message: the channel fails calls with it while no list has arrived, and keeps the last list otherwise.
//   Skipped entries and other notices go to `onResolverError` only. An exception thrown by `onResolverError`
//   is logged (grpc-js log, ERROR) and changes nothing: the channel still hears the failure.
import type * as grpcJs from '@grpc/grpc-js';
import { validateServiceConfig } from '@grpc/grpc-js/build/src/service-config.js';
import { createResolver, parseTarget, type Resolver, type ResolverOptions } from '../discovery/resolver.js';
import { ResolverError } from '../discovery/errors.js';
import { checkEndpoints } from '../discovery/etcd/client.js';
import { type Endpoint, parseEndpoint, parseHostPort } from '../util/endpoint.js';
import { typeError } from '../util/validate.js';
import { SwitchyardLbConfig } from './config.js';

type Grpc = typeof grpcJs;
type GrpcUri = grpcJs.experimental.GrpcUri;
type GrpcEndpoint = grpcJs.experimental.Endpoint;
type GrpcListener = grpcJs.experimental.ResolverListener;
type ServiceConfigResult = Parameters<GrpcListener>[2];
type ResolverConstructor = Parameters<Grpc['experimental']['registerResolver']>[1];

/** The schemes registered by default. */
export const SWITCHYARD_SCHEMES: readonly string[] = Object.freeze(['etcd', 'consul', 'dns+srv', 'static']);

/** Our endpoint behind each grpc-js endpoint a bridged resolver reported (weights, priorities, localities). */
const info = new WeakMap<object, Endpoint>();

/** The switchyard endpoint a bridged resolver reported as `e`, if any. */
export function endpointInfo(e: GrpcEndpoint): Endpoint | undefined {
  return info.get(e);
}

export interface ResolverBridgeOptions {
  /** Options for every target (etcd `endpoints`, Consul `address`, `clock`, back-off...); the target wins. */
  resolver?: Partial<ResolverOptions>;
  /** Every error a resolver reports (failures and skipped entries), with the target. What it throws is logged. */
  onResolverError?: (target: string, error: Error) => void;
}

/** Checks a target the way the resolver will read it, without starting anything. */
export function validateTarget(target: string, options: Partial<ResolverOptions> = {}): void {
  const t = parseTarget(target);
  if (!SWITCHYARD_SCHEMES.includes(t.scheme)) throw typeError('target scheme', SWITCHYARD_SCHEMES.join(', '), t.scheme);
  if (t.scheme === 'static') {
    if (t.path.length === 0) throw typeError('target', 'static:///host:port[,host:port...]', target);
    t.path.split(',').forEach((a, i) => parseEndpoint(a, `target[${i}]`, { address: 'required' }));
    return;
  }
  if (t.path.length === 0) throw typeError('target', `${t.scheme}:///<name> with a non-empty name`, target);
  if (t.scheme === 'etcd') {
    if (t.authority.length > 0) t.authority.split(',').forEach((a, i) => parseHostPort(`target authority[${i}]`, a));
    else if (options.endpoints === undefined)
      throw typeError('endpoints', 'etcd client URLs (in the target authority or the resolver options)', undefined);
    else checkEndpoints(options.endpoints); // refused here, not by every call
  }
}

/** The :authority grpc-js sends: the static list's first address, else the last path segment. */
function authorityOf(target: string): string {
  const t = parseTarget(target);
  if (t.scheme === 'static') return t.path.split(',')[0]!;
  const parts = t.path.split('/').filter((p) => p.length > 0);
  return parts[parts.length - 1] ?? t.path;
}

function toGrpcEndpoint(e: Endpoint): GrpcEndpoint {
  const g: GrpcEndpoint = { addresses: [{ host: e.host, port: e.port }] };
  info.set(g, e);
  return g;
}

/** A grpc-js resolver class for our schemes, bound to `grpc` and the registration's options. */
export function resolverClass(grpc: Grpc, options: ResolverBridgeOptions): ResolverConstructor {
  const { status, Metadata } = grpc;
  const { uriToString, log, selectLbConfigFromList } = grpc.experimental;
  const base = options.resolver ?? {};
  /** Hands an error to `onResolverError`: what it throws is logged, not thrown at grpc-js (the failure goes on). */
  const report = (target: string, error: Error): void => {
    try {
      options.onResolverError?.(target, error);
    } catch (e) {
      log?.(grpc.logVerbosity?.ERROR, `switchyard: onResolverError threw for ${target}: ${(e as Error)?.message ?? e}`);
    }
  };
  return class SwitchyardResolver {
    private inner: Resolver | null = null;
    /** Bumped by destroy(): a failure scheduled before it is dropped. */
    private gen = 0;
    /** The last service config delivered, validated for grpc-js (or the error it failed with). */
    private serviceConfig: ServiceConfigResult = null;
    /** The last list delivered (reported again with a config that arrives after it), or null before the first. */
    private endpoints: GrpcEndpoint[] | null = null;
    private readonly target: string;

    constructor(
      target: GrpcUri,
      private readonly listener: GrpcListener,
    ) {
      this.target = uriToString(target);
      validateTarget(this.target, base);
    }

    static getDefaultAuthority(target: GrpcUri): string {
      const s = uriToString(target);
      validateTarget(s, base);
      return authorityOf(s);
    }

    updateResolution(): void {
      if (this.inner !== null) {
        this.inner.refresh();
        return;
      }
      try {
        this.inner = this.start();
      } catch (e) {
        const error = ResolverError.wrap(this.target, e);
        const gen = this.gen;
        report(this.target, error);
        setImmediate(() => {
          if (gen === this.gen) this.failed(error);
        });
      }
    }

    destroy(): void {
      this.gen++;
      this.inner?.close();
      this.inner = null;
      this.serviceConfig = null;
      this.endpoints = null;
    }

    private start(): Resolver {
      let live = true;
      const r = createResolver({ ...base, target: this.target } as ResolverOptions, {
        onEndpoints: (list) => {
          if (!live) return;
          this.endpoints = list.map(toGrpcEndpoint);
          this.deliver();
        },
        onError: (error) => {
          if (!live) return;
          report(this.target, error);
          if (error instanceof ResolverError) this.failed(error);
        },
        onServiceConfig: (config) => {
          if (!live) return;
          try {
            const value = validateServiceConfig(config);
            const lbs = value.loadBalancingConfig;
            const selected = selectLbConfigFromList(lbs, false);
            if (selected instanceof SwitchyardLbConfig && selected.error !== undefined) throw selected.error;
            // gRPC: a list none of whose policies is supported makes the config invalid (grpc-js would pick_first)
            if (selected === null && lbs.length > 0)
              throw new RangeError(
                `loadBalancingConfig names no registered policy: ${lbs.map((c) => Object.keys(c)[0]).join(', ')}`,
              );
            this.serviceConfig = { ok: true, value };
          } catch (e) {
            const details = `switchyard: invalid service config from ${this.target}: ${(e as Error).message}`;
            report(this.target, new TypeError(details, { cause: e }));
            // a good config from this resolver stays in force (later lists go with it); without one, the error
            if (this.serviceConfig?.ok === true) return;
            this.serviceConfig = { ok: false, error: { code: status.UNAVAILABLE, details, metadata: new Metadata() } };
          }
          if (this.endpoints !== null) this.deliver();
        },
      });
      const close = r.close.bind(r);
      return {
        refresh: () => r.refresh(),
        close: () => {
          live = false;
          close();
        },
      };
    }

    /** Reports the last list with the current service config. */
    private deliver(): void {
      this.listener(
        { ok: true, value: this.endpoints! },
        {},
        this.serviceConfig,
        `resolved by switchyard (${this.target})`,
      );
    }

    private failed(error: ResolverError): void {
      this.listener(
        {
          ok: false,
          error: { code: status.UNAVAILABLE, details: `switchyard: ${error.message}`, metadata: new Metadata() },
        },
        {},
        this.serviceConfig,
        error.message,
      );
    }
  };
}

// Connects a resolver to a Balancer, as grpc-js's resolving load balancer feeds its child policy:
//  - every full list becomes `balancer.reset(list)` (the Balancer diffs it into adds and removes and
//    rebuilds nothing when nothing changed, as tower's discover stream feeds its balancer), preceded by
//    `setResolverError(null)`: the resolver is fine again;
//  - a resolver FAILURE (a `ResolverError`, errors.ts) becomes `setResolverError(error)`: the membership
//    stays, and while no list has arrived yet the Balancer fails its queued picks with that error (grpc-js:
//    UNAVAILABLE with the resolution error). Skipped entries and other notices are only reported;
//  - a service config (gRFC A2 TXT record, etcd key) becomes `applyServiceConfig(config)`; an error it
//    returns (a bad policy) is reported and the Balancer keeps its policy.
// The Balancer methods other than `reset` are used when present. The result is the resolver plus events
// and counters for metrics: `on('update')`, `on('error')`, `updates`, `errors`, `lastUpdateAtMs`. A bad
// target, balancer, options object or callback (`onError`, `onUpdate`, `onServiceConfig`) is a TypeError
// naming it, thrown by connectResolver. After close() no listener hears anything, not even the rest of the
// update or error whose listener called it.
//
//   const r = connectResolver('etcd:///services/api', balancer, { endpoints: ['http://10.0.0.1:2379'] });
//   r.on('error', (e) => log(e)); ... r.close();
import type { Endpoint, EndpointInput } from '../util/endpoint.js';
import { systemClock, validateClock } from '../util/clock.js';
import { typeError } from '../util/validate.js';
import { allSchemes, resolveWith, type Resolver, type ResolverOptions, type SchemeLookup } from './resolver.js';
import { RESOLVER_FAILURE } from './errors.js';

/** What the wiring needs from a Balancer: `reset`, and the resolver-facing methods when it has them. */
export interface ResettableMembership {
  reset(list: EndpointInput[]): boolean;
  /** The resolver's failure state; null once a list arrives. */
  setResolverError?(error: Error | null): void;
  /** A resolver-delivered gRPC service config; returns the typed error when it is rejected. */
  applyServiceConfig?(json: unknown): Error | null;
}

export interface ResolverUpdate {
  /** The complete list, as passed to `reset`. */
  endpoints: Endpoint[];
  /** Whether the membership changed. */
  changed: boolean;
  /** When it was applied (the clock's milliseconds). */
  atMs: number;
}

export interface ConnectOptions extends Partial<ResolverOptions> {
  onError?: (error: Error) => void;
  /** Called after each reset with the list and whether the membership changed. */
  onUpdate?: (endpoints: Endpoint[], changed: boolean) => void;
  /** Called after each service config was handed to the Balancer, with the error it returned (or null). */
  onServiceConfig?: (config: Record<string, unknown>, error: Error | null) => void;
}

/** A resolver wired to a Balancer, with events and counters. */
export interface ConnectedResolver extends Resolver {
  /** The target URI. */
  readonly target: string;
  /** The resolver itself (for `stats()` of the etcd and Consul resolvers). */
  readonly resolver: Resolver;
  /** Lists applied. */
  readonly updates: number;
  /** Errors reported: failures, skipped entries, rejected service configs. */
  readonly errors: number;
  /** Resolver failures (`ResolverError`s) among them. */
  readonly failures: number;
  /** Service configs handed to the Balancer. */
  readonly serviceConfigs: number;
  /** When the last list was applied (the clock's milliseconds); undefined before the first. */
  readonly lastUpdateAtMs: number | undefined;
  readonly lastError: Error | undefined;
  /** Subscribes; returns the unsubscribe function. A throwing 'update' listener is reported as an 'error'. */
  on(event: 'update', fn: (update: ResolverUpdate) => void): () => void;
  on(event: 'error', fn: (error: Error) => void): () => void;
}

class Connected implements ConnectedResolver {
  resolver!: Resolver;
  updates = 0;
  errors = 0;
  failures = 0;
  serviceConfigs = 0;
  lastUpdateAtMs: number | undefined;
  lastError: Error | undefined;
  readonly #updateFns = new Set<(u: ResolverUpdate) => void>();
  readonly #errorFns = new Set<(e: Error) => void>();
  /** close() was called: no listener hears anything more (not even the rest of the emit that closed it). */
  #closed?: true;

  declare readonly target: string;

  constructor(target: string) {
    this.target = target;
  }

  on(event: 'update', fn: (update: ResolverUpdate) => void): () => void;
  on(event: 'error', fn: (error: Error) => void): () => void;
  on(event: 'update' | 'error', fn: ((u: ResolverUpdate) => void) | ((e: Error) => void)): () => void {
    if (typeof fn !== 'function') throw typeError('listener', 'a function', fn);
    const set = event === 'update' ? this.#updateFns : event === 'error' ? this.#errorFns : undefined;
    if (set === undefined) throw typeError('event', '"update" or "error"', event);
    (set as Set<unknown>).add(fn);
    return () => void (set as Set<unknown>).delete(fn);
  }

  emitUpdate(u: ResolverUpdate): void {
    for (const fn of [...this.#updateFns]) {
      if (this.#closed) return;
      try {
        fn(u);
      } catch (e) {
        this.emitError(e instanceof Error ? e : new Error(String(e)));
      }
    }
  }

  emitError(e: Error): void {
    this.errors++;
    this.lastError = e;
    for (const fn of [...this.#errorFns]) {
      if (this.#closed) return;
      try {
        fn(e);
      } catch {
        // dropped: an error listener's failure has nowhere to go
      }
    }
  }

  refresh(): void {
    this.resolver.refresh();
  }

  close(): void {
    this.#closed = true;
    this.resolver.close();
    this.#updateFns.clear();
    this.#errorFns.clear();
  }
}

/** `connectResolver` over every built-in scheme and the registered ones (resolver.ts). */
export function connectResolver(
  target: string | ResolverOptions,
  balancer: ResettableMembership,
  options: ConnectOptions = {},
): ConnectedResolver {
  return connectResolverWith(allSchemes, target, balancer, options);
}

/** `connectResolver` with the target's scheme resolved by `schemes` (`switchyard/lite`: static and the registered). */
export function connectResolverWith(
  schemes: SchemeLookup,
  target: string | ResolverOptions,
  balancer: ResettableMembership,
  options: ConnectOptions = {},
): ConnectedResolver {
  if (balancer === null || typeof balancer !== 'object' || typeof balancer.reset !== 'function')
    throw typeError('balancer', 'an object with reset(list)', balancer);
  if (Object(options) !== options) throw typeError('options', 'an object', options);
  for (const k of ['onError', 'onUpdate', 'onServiceConfig'] as const)
    if (options[k] !== undefined && typeof options[k] !== 'function') throw typeError(k, 'a function', options[k]);
  const { onError, onUpdate, onServiceConfig, ...rest } = options;
  const c = wireResolver(schemes, target, balancer, rest, onServiceConfig);
  // resolvers call their listener asynchronously: nothing was emitted yet
  if (onUpdate !== undefined) c.on('update', (u) => onUpdate(u.endpoints, u.changed));
  if (onError !== undefined) c.on('error', onError);
  return c;
}

/**
 * connectResolverWith once its arguments are known to be valid: createFetch's stack calls it directly (its
 * Balancer and `{ clock }` need no checks), so that switchyard/lite bundles leave the checks out.
 */
export function wireResolver(
  schemes: SchemeLookup,
  target: string | ResolverOptions,
  balancer: ResettableMembership,
  rest: Partial<ResolverOptions>,
  onServiceConfig?: ConnectOptions['onServiceConfig'],
): ConnectedResolver {
  // Anything but an options object is kept as the target, so the error names it as given.
  const opts: ResolverOptions =
    typeof target === 'object' && target !== null ? { ...rest, ...target } : ({ ...rest, target } as ResolverOptions);
  const clock = opts.clock === undefined ? systemClock : validateClock('clock', opts.clock);
  // A target that is not a string fails resolveWith below (a TypeError naming it), before c is used.
  const c = new Connected(opts.uri ?? opts.target);
  const setResolverError = (e: Error | null) => {
    if (typeof balancer.setResolverError === 'function') balancer.setResolverError(e);
  };
  c.resolver = resolveWith(schemes, opts, {
    onEndpoints(endpoints) {
      setResolverError(null);
      const changed = balancer.reset(endpoints);
      c.updates++;
      c.lastUpdateAtMs = clock.now();
      c.emitUpdate({ endpoints, changed, atMs: c.lastUpdateAtMs });
    },
    onError(error) {
      // a ResolverError (errors.ts: its brand, which does not bring the class into bundles)
      if ((error as { [RESOLVER_FAILURE]?: true } | null)?.[RESOLVER_FAILURE] === true) {
        c.failures++;
        setResolverError(error);
      }
      c.emitError(error);
    },
    onServiceConfig(config) {
      let err: Error | null = null;
      if (typeof balancer.applyServiceConfig === 'function') {
        try {
          err = balancer.applyServiceConfig(config);
        } catch (e) {
          err = e instanceof Error ? e : new Error(String(e));
        }
      }
      c.serviceConfigs++;
      if (err !== null && err !== undefined) c.emitError(err);
      onServiceConfig?.(config, err ?? null);
    },
  });
  return c;
}

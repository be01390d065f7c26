// Connects a resolver to a Balancer: every full list a resolver reports becomes `balancer.reset(list)`
// (the Balancer diffs it into adds and removes and rebuilds nothing when nothing changed, as tower's
// discover stream feeds its balancer); errors leave the membership as it was and go to `onError`.
//
//   const r = connectResolver('etcd:///services/api', balancer, { endpoints: ['http://10.0.0.1:2379'] });
//   r.close();
import type { Endpoint, EndpointInput } from '../util/endpoint.js';
import { createResolver, type Resolver, type ResolverOptions } from './resolver.js';
import { typeError } from '../util/validate.js';

/** What the wiring needs from a Balancer. */
export interface ResettableMembership {
  reset(list: EndpointInput[]): boolean;
}

export interface ConnectOptions extends Partial<ResolverOptions> {
  onError?: (error: Error) => void;
  /** Called after each reset with the list and whether the membership changed. */
  onUpdate?: (endpoints: Endpoint[], changed: boolean) => void;
}

export function connectResolver(
  target: string | ResolverOptions,
  balancer: ResettableMembership,
  options: ConnectOptions = {},
): Resolver {
  if (balancer === null || typeof balancer !== 'object' || typeof balancer.reset !== 'function')
    throw typeError('balancer', 'an object with reset(list)', balancer);
  const { onError, onUpdate, ...rest } = options;
  const opts: ResolverOptions =
    typeof target === 'string' ? ({ ...rest, target } as ResolverOptions) : { ...rest, ...target };
  return createResolver(opts, {
    onEndpoints(endpoints) {
      const changed = balancer.reset(endpoints);
      onUpdate?.(endpoints, changed);
    },
    onError(error) {
      onError?.(error);
    },
  });
}

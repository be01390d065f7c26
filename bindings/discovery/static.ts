// The static resolver: a fixed list, replaceable by hand with `set()`. It follows the resolver contract
// (discovery/resolver.ts, after grpc-js): reports are asynchronous, bad entries and duplicates are
// skipped with an error event (util/endpoint.ts `parseEndpoints`, addresses required).
//
//   const r = new StaticResolver(['a:80', 'b:80'], listener);
//   r.set(['a:80', 'c:80']);
import { parseEndpoints, type EndpointInput } from '../util/endpoint.js';
import type { Resolver, ResolverListener } from './resolver.js';
import { Delivery } from './base.js';
import { typeError } from '../util/validate.js';

export class StaticResolver implements Resolver {
  declare private readonly out: Delivery;
  declare private list: readonly EndpointInput[];

  constructor(list: readonly EndpointInput[], listener: ResolverListener) {
    if (!Array.isArray(list)) throw typeError('endpoints', 'an array', list);
    this.out = new Delivery(listener);
    this.list = list.slice();
    this.publish();
  }

  /** Replaces the list; the listener hears about it asynchronously. */
  set(list: readonly EndpointInput[]): void {
    if (!Array.isArray(list)) throw typeError('endpoints', 'an array', list);
    this.list = list.slice();
    this.publish();
  }

  /** Re-reports the current list (a no-op for the listener when it is unchanged). */
  refresh(): void {
    this.publish();
  }

  close(): void {
    this.out.close();
  }

  private publish(): void {
    this.out.endpoints(parseEndpoints('endpoints', this.list, (e) => this.out.error(e), { address: 'required' }));
  }
}

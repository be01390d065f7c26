// The static resolver: a fixed list, replaceable by hand with `set()`. It follows the resolver contract
// (discovery/resolver.ts, after grpc-js): reports are asynchronous, bad entries and duplicates are
// skipped with an error event (util/endpoint.ts `parseEndpoints`, addresses required). A first list with no
// valid member (`static:///`, `static:///h:0`) is refused by the constructor, a TypeError/RangeError naming
// `target` (the list as a `static:///` target) with the first entry's error: requests would wait in vain.
//
//   const r = new StaticResolver(['a:80', 'b:80'], listener);
//   r.set(['a:80', 'c:80']);
import { parseEndpoints, type EndpointInput } from '../util/endpoint.js';
import type { Resolver, ResolverListener } from './resolver.js';
import { Delivery } from './base.js';
import { rangeError, typeError } from '../util/validate.js';

export class StaticResolver implements Resolver {
  declare private readonly out: Delivery;
  declare private list: readonly EndpointInput[];

  constructor(list: readonly EndpointInput[], listener: ResolverListener) {
    this.out = new Delivery(listener);
    this.set(list);
  }

  /** Replaces the list; the listener hears about it asynchronously (after `close()`, it hears nothing). */
  set(list: readonly EndpointInput[]): void {
    if (!Array.isArray(list)) throw typeError('endpoints', 'an array', list);
    this.list = list.slice();
    this.#publish();
  }

  /** Re-reports the current list (a no-op for the listener when it is unchanged). */
  refresh(): void {
    this.#publish();
  }

  close(): void {
    this.out.close();
  }

  #publish(): void {
    let e: Error | undefined;
    const list = parseEndpoints('endpoints', this.list, (x) => this.out.error(((e ??= x), x)), { address: 'required' });
    // the constructor's list (none reported yet) with no valid member: refused
    if (list.length === 0 && this.out.current === undefined) {
      this.out.close();
      throw (e instanceof RangeError ? rangeError : typeError)(
        'target',
        `static:///host:port,... with a valid member${e ? ` (${e.message})` : ''}`,
        `static:///${this.list}`,
      );
    }
    this.out.endpoints(list);
  }
}

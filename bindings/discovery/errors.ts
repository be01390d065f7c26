// Resolver failures, told apart from skipped entries.
//
// A resolver's listener hears two kinds of errors (resolver.ts):
//  - a FAILURE: the resolution itself failed (NXDOMAIN, a timeout, etcd or Consul unreachable, an HTTP
//    error, a broken watch). Nothing new was learnt; the last good list stays in force. Always a
//    `ResolverError` naming the target URI, with the underlying error as `cause` and its `code` (e.g.
//    'ENOTFOUND'). A cause without a code of its own lends the one of its own cause, up to two levels down:
//    fetch's "fetch failed" TypeError carries ECONNREFUSED at `cause.cause.code`, etcd wraps that TypeError
//    once more (naming the member); the message then says what and where: "fetch failed (ECONNREFUSED
//    127.0.0.1:2379)". The Balancer hears it through `setResolverError` (connect.ts): while no list has
//    arrived, queued picks fail with it, like grpc-js's UNAVAILABLE carrying the resolution error.
//  - anything else: a skipped entry (a TypeError/RangeError naming the field and value), a bad service
//    config, or a notice (an etcd watch compacted, listing afresh; one etcd member of several unreachable,
//    the next one tried at once). The resolution succeeded otherwise.
//
//   if (e instanceof ResolverError) console.warn(e.target, e.code, e.cause);
import { codedError, describeFailure, ownCode } from '../util/failure.js';

/**
 * Set (non-enumerable) on every ResolverError: connect.ts tells failures apart by it rather than by
 * `instanceof`, so that a bundle whose resolvers never fail (switchyard/lite's static targets) leaves the class out.
 */
export const RESOLVER_FAILURE: unique symbol = Symbol('ResolverError');

export class ResolverError extends Error {
  override readonly name = 'ResolverError';
  /** The target URI (`dns:///api.internal:8080`, `etcd://127.0.0.1:2379/services/api`, ...). */
  declare readonly target: string;
  /**
   * The underlying error's code ('ENOTFOUND', 'ECONNREFUSED', an etcd gRPC status...): the cause's, else its
   * cause's (fetch's "fetch failed" keeps ECONNREFUSED there), else one level further down.
   */
  declare readonly code: string | number | undefined;

  constructor(target: string, cause: unknown) {
    super(`resolver ${target}: ${describeFailure(cause)}`, { cause });
    Object.defineProperty(this, RESOLVER_FAILURE, { value: true });
    this.target = target;
    this.code = ownCode(codedError(cause));
  }

  /** `e` when it already is a ResolverError, else `e` wrapped as one. */
  static wrap(target: string, e: unknown): ResolverError {
    return e instanceof ResolverError ? e : new ResolverError(target, e);
  }
}

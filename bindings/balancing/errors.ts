// Named errors of the balancing API. "No member available" is normally a typed result
// (`{ type: 'none', reason }`); `Balancer.pickOrThrow()` turns it into one of these, and the waiting picks
// (`pickAsync()`, `ready()`) reject with UnavailableError when their deadline passes (grpc-js: a queued pick
// fails with UNAVAILABLE).
import type { NoneReason } from './events.js';

/** Thrown by `pickOrThrow()` when no member can be picked (`reason`: see NoneReason). */
export class NoHealthyMembersError extends Error {
  override name = 'NoHealthyMembersError';
  declare readonly reason: NoneReason;
  constructor(
    reason: NoneReason,
    message = reason === 'empty'
      ? 'switchyard: the balancer has no members'
      : reason === 'pending'
        ? 'switchyard: no member has passed its first health check'
        : reason === 'closed'
          ? 'switchyard: the balancer was closed'
          : 'switchyard: no healthy member available',
  ) {
    super(message);
    this.reason = reason;
  }
}

/**
 * A waiting pick (`pickAsync`, `ready`) found no member within its time, or the balancer was closed. `cause`
 * is the resolver's last error, if any (gRPC: UNAVAILABLE carrying the resolution error).
 */
export class UnavailableError extends Error {
  override name = 'UnavailableError';
  readonly code = 'UNAVAILABLE' as const;
  declare readonly target: string | undefined;
  constructor(message: string, options: { target?: string; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.target = options.target;
  }
}

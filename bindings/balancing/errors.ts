// Named errors of the balancing API. "No member available" is normally a typed result
// (`{ type: 'none', reason }`); `Balancer.pickOrThrow()` turns it into one of these.

/** Thrown by `pickOrThrow()` when no member can be picked (empty set, all unavailable, or panic mode 'fail'). */
export class NoHealthyMembersError extends Error {
  override name = 'NoHealthyMembersError';
  constructor(
    readonly reason: 'empty' | 'no-healthy',
    message = reason === 'empty'
      ? 'switchyard: the balancer has no members'
      : 'switchyard: no healthy member available',
  ) {
    super(message);
  }
}

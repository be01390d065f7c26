// A Balancer-like metrics source without `members` (bindings/observability/collect.ts reads the members of
// `stats()` and follows its membership events): `state.ids` are its members, `emit` sends an event.
export function fakeBalancer(ids: string[]) {
  const listeners = new Map<string, ((e: unknown) => void)[]>();
  const state = { ids };
  const fake = {
    on(event: string, fn: (e: unknown) => void) {
      listeners.set(event, [...(listeners.get(event) ?? []), fn]);
      return () => {};
    },
    stats: () => ({ members: state.ids.map((id) => ({ id, active: 0, weight: 1, available: true })), eligible: 1 }),
  };
  const emit = (event: string, e: unknown) => {
    for (const fn of listeners.get(event) ?? []) fn(e);
  };
  return { fake, emit, state };
}

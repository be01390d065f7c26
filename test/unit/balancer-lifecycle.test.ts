// A Balancer's lifecycle: after close() nothing comes back to life (no picker, no event, no policy hook on the
// freed rows), and a policy replaced by setPolicy frees its pickers' WebAssembly state at once (not when it is
// collected), so a policy churn does not grow linear memory.
import test from 'ava';
import { Balancer } from '../../bindings/balancing/balancer.js';
import type { Policy, PolicyEnv } from '../../bindings/balancing/picker.js';
import { policyFrom } from '../../bindings/balancing/service-config.js';
import { wasmHandle } from '../../bindings/core/backend.js';
import { BALANCING_WASM, HASH_WASM, RING_WASM } from '../../bindings/core/families.js';
import { VirtualClock } from '../../bindings/util/clock.js';

const endpoints = Array.from({ length: 40 }, (_, i) => `10.0.0.${i}:80`);

/** Wraps a real policy, counting what reaches it. */
class Counted implements Policy {
  builds = 0;
  done = 0;
  readonly name: string;
  constructor(readonly inner: Policy) {
    this.name = inner.name;
  }
  build(rows: Int32Array, env: PolicyEnv, slot?: string) {
    this.builds++;
    return this.inner.build(rows, env, slot);
  }
  releaseSlots(keep: ReadonlySet<string>) {
    this.inner.releaseSlots?.(keep);
  }
  onMembership(env: PolicyEnv, added: readonly number[], now: number) {
    this.inner.onMembership?.(env, added, now);
  }
  onDone(env: PolicyEnv, row: number, ok: boolean, rttMs: number, now: number) {
    this.done++;
    this.inner.onDone?.(env, row, ok, rttMs, now);
  }
}

test('a pick completed after close() is a no-op, as completeIndex(): no outcome event, no policy hook on freed rows', (t) => {
  for (const name of ['latency_aware', 'peak_ewma', 'weighted_round_robin']) {
    const policy = new Counted(policyFrom(name));
    const lb = new Balancer({ endpoints, policy, backend: 'wasm', clock: new VirtualClock() });
    let outcomes = 0;
    lb.on('outcome', () => outcomes++);
    const a = lb.pickOrThrow();
    const b = lb.pickOrThrow();
    lb.close();
    a.handle.done({ ok: false, rttMs: 5 });
    b.handle.cancel();
    t.is(outcomes, 0, name);
    t.is(policy.done, 0, name);
  }
});

test('after close() refresh, setPolicy and applyServiceConfig build nothing and emit nothing', (t) => {
  const policy = new Counted(policyFrom('round_robin'));
  const lb = new Balancer({ endpoints, policy, clock: new VirtualClock() });
  let pickers = 0;
  lb.on('picker', () => pickers++);
  lb.close();
  const builds = policy.builds;
  lb.refresh();
  lb.setPolicy('least_request');
  t.is(lb.applyServiceConfig({ loadBalancingConfig: [{ ring_hash: {} }] }), null);
  t.is(pickers, 0);
  t.is(policy.builds, builds);
  t.is(lb.policy, policy, 'the policy is not switched either');
  t.deepEqual(lb.pick(), { type: 'none', reason: 'closed' });
});

test('a listener that closes the balancer mid-change leaves it closed: no picker is built after close()', (t) => {
  for (const event of ['membership', 'availability'] as const) {
    const policy = new Counted(policyFrom('round_robin'));
    const lb = new Balancer({ endpoints, policy, clock: new VirtualClock() });
    let pickers = 0;
    lb.on('picker', () => pickers++);
    if (event === 'membership') lb.on(event, () => lb.close());
    else lb.on(event, () => lb.close());
    const builds = policy.builds;
    if (event === 'membership') lb.add('10.0.1.1:80');
    else lb.setAvailable(endpoints[0]!, false);
    t.is(policy.builds, builds, event);
    t.is(pickers, 0, event);
    t.deepEqual(lb.pick(), { type: 'none', reason: 'closed' });
    t.is(lb.stats().eligible, 0);
  }
});

test('a listener that closes the balancer and then throws: its error still reaches the caller', (t) => {
  for (const event of ['membership', 'availability'] as const) {
    const lb = new Balancer({ endpoints, clock: new VirtualClock() });
    const fail = () => {
      lb.close();
      throw new Error(`${event} listener failed`);
    };
    if (event === 'membership') lb.on(event, fail);
    else lb.on(event, fail);
    const change = () => (event === 'membership' ? lb.add('10.0.1.1:80') : lb.setAvailable(endpoints[0]!, false));
    t.throws(change, { message: `${event} listener failed` });
    t.deepEqual(lb.pick(), { type: 'none', reason: 'closed' });
  }
});

test('setPolicy churn frees each replaced policy at once: live WebAssembly allocations stay flat', (t) => {
  const held = () =>
    [BALANCING_WASM, RING_WASM, HASH_WASM].map((f) => wasmHandle(f)!.mem.allocatedBytes).reduce((a, b) => a + b);
  const lb = new Balancer({ endpoints, backend: 'wasm', clock: new VirtualClock() });
  // WASM kernel rows (>= 32 members), HashRing, Maglev, Envoy ring and ketama tables
  const cycle = [
    'latency_aware',
    'xxhash_ring',
    'weighted_round_robin',
    'maglev',
    'ring_hash',
    'ketama',
    'round_robin',
  ];
  const round = (i: number) => {
    for (const p of cycle) {
      lb.setPolicy(p);
      lb.pickOrThrow({ key: `k${i}` }).handle.done({ ok: true, rttMs: 1 });
    }
  };
  round(0); // io regions reach their size
  const before = held();
  for (let i = 1; i <= 20; i++) round(i);
  t.is(held(), before);
  lb.setPolicy('xxhash_ring');
  const withRing = held();
  lb.close();
  t.true(held() < withRing, 'close() frees the ring and the state table');
});

test('a policy whose picker cannot be built is freed when the previous one comes back', (t) => {
  const lb = new Balancer({ endpoints, backend: 'wasm', clock: new VirtualClock() });
  const held = () => wasmHandle(BALANCING_WASM)!.mem.allocatedBytes;
  lb.setPolicy('latency_aware');
  lb.setPolicy('round_robin');
  const before = held();
  const inner = policyFrom('latency_aware');
  const failing: Policy = {
    name: 'failing',
    build(rows, env, slot) {
      inner.build(rows, env, slot); // WASM rows allocated, then the build fails
      throw new RangeError('cannot build');
    },
    releaseSlots: (keep) => inner.releaseSlots?.(keep),
  };
  t.throws(() => lb.setPolicy(failing), { message: 'cannot build' });
  t.is(lb.policy.name, 'round_robin');
  t.is(held(), before);
  lb.close();
});

// switchyard/lite (bindings/lite.ts): the same API with lean defaults. Names resolve only once registered
// (round_robin and static:/// always), createFetch builds no health checks, and a registration serves both
// entries. Runs in its own process (ava), so the registrations below touch no other test file.
import test from 'ava';
import * as lite from '../../bindings/lite.js';
import * as full from '../../bindings/index.js';
import { VirtualClock } from '../../bindings/util/clock.js';

test('lite: round_robin and static targets work without registration', (t) => {
  const lb = new lite.Balancer({ endpoints: ['a:80', 'b:80'] });
  const picks = [0, 1, 2, 3].map(() => {
    const p = lb.pick();
    if (p.type !== 'pick') throw new Error('no pick');
    p.handle.done({ ok: true });
    return p.member.id;
  });
  t.deepEqual([...new Set(picks)].sort(), ['a:80', 'b:80']);
  t.is(lb.backend, 'wasm', 'the state table lives in the balancing module');
  t.deepEqual(lite.policyNames(), ['round_robin']);
  const f = lite.createFetch({ target: 'static:///10.0.0.1:80,10.0.0.2:80', clock: new VirtualClock() });
  t.is(f.detector, undefined, 'no outlier detection in lite');
  t.is(f.resolver?.target, 'static:///10.0.0.1:80,10.0.0.2:80');
  f.close();
});

test('lite: a policy or scheme that was not registered is a RangeError/TypeError naming the field', (t) => {
  t.throws(() => new lite.Balancer({ policy: 'least_request' }), {
    instanceOf: RangeError,
    message: /^policy must be a registered policy \(round_robin\), got "least_request"/,
  });
  t.throws(() => lite.createBalancer({ loadBalancingConfig: [{ maglev: {} }] }), {
    instanceOf: RangeError,
    message: /^loadBalancingConfig must .*registered policy/,
  });
  t.throws(() => lite.createResolver('consul:///api', { onEndpoints: () => {}, onError: () => {} }), {
    instanceOf: TypeError,
    message: /^target scheme must be one of static/,
  });
  t.throws(() => lite.createFetch({ endpoints: ['a:80'], healthCheck: { path: '/h' } }), {
    instanceOf: TypeError,
    message: /^healthCheck must be absent from switchyard\/lite/,
  });
  t.throws(() => lite.createFetch({ endpoints: ['a:80'], outlierDetection: {} }), {
    instanceOf: TypeError,
    message: /^outlierDetection must be absent from switchyard\/lite/,
  });
  t.notThrows(() => lite.createFetch({ endpoints: ['a:80'], outlierDetection: false }).close());
  // the full entry resolves every built-in by name
  t.is(new full.Balancer({ policy: 'least_request' }).policy.name, 'least_request');
  t.true(full.policyNames().includes('prequal'));
});

test('lite: registered policies and schemes resolve, in both entries', (t) => {
  lite.registerPolicy('peak_ewma', lite.peakEwmaPolicy);
  const lb = new lite.Balancer({ policy: { peak_ewma: { decay: '5s' } }, endpoints: ['a:80'] });
  t.is(lb.policy.name, 'peak_ewma');
  t.is(lb.applyServiceConfig({ loadBalancingConfig: [{ ketama: {} }, { peak_ewma: {} }] }), null);
  t.deepEqual(lite.policyNames(), ['round_robin', 'peak_ewma']);
  let listed: unknown;
  lite.registerResolver('mem', (target, _opts, _uri, listener) => {
    listed = target.path;
    queueMicrotask(() => listener.onEndpoints([]));
    return { refresh() {}, close() {} };
  });
  const r = lite.createResolver('mem:///svc', { onEndpoints: () => {}, onError: () => {} });
  t.is(listed, 'svc');
  r.close();
  t.notThrows(() => full.createResolver('mem:///x', { onEndpoints: () => {}, onError: () => {} }).close());
  t.throws(() => lite.registerPolicy('x', {} as never), { instanceOf: TypeError, message: /^factory must be/ });
  t.throws(() => lite.registerResolver('Bad Scheme', () => ({ refresh() {}, close() {} })), {
    instanceOf: TypeError,
    message: /^scheme must be a lower-case URI scheme/,
  });
});

// Configuration parsing of bad input (a bad-input sweep's findings): misspelt Balancer and OutlierDetector
// option keys, protobuf Durations read with Number(), null read as "the default", and service configs whose
// policy keys are present but undefined. Each is a TypeError/RangeError naming the field and the value.
import test from 'ava';
import { Balancer } from '../../bindings/balancing/balancer.js';
import type { BalancerOptions } from '../../bindings/balancing/options.js';
import type { ServiceConfigJson } from '../../bindings/balancing/registry.js';
import { durationMs } from '../../bindings/balancing/policy-config.js';
import { parseSlowStart } from '../../bindings/balancing/slow-start.js';
import { parsePriorityOptions } from '../../bindings/balancing/priority-config.js';
import { parsePickFirst } from '../../bindings/balancing/policies/pick-first.js';
import { parseKetamaPolicy } from '../../bindings/balancing/policies/hash-tables.js';
import { parseWeightedRoundRobin } from '../../bindings/balancing/policies/weighted-round-robin.js';
import { OutlierDetector, type OutlierDetectorOptions } from '../../bindings/health/outlier.js';
import { HealthChecker } from '../../bindings/health/checker.js';
import { httpProbe } from '../../bindings/health/http-probe.js';
import { createFetch } from '../../bindings/http/fetch.js';
import { parseEndpoint } from '../../bindings/util/endpoint.js';
import { VirtualClock } from '../../bindings/util/clock.js';
import { mulberry32 } from '../../bindings/util/random.js';

type Case = [unknown, new (...a: never[]) => Error, RegExp];

test('Balancer options: a misspelt key is a RangeError naming it and listing the keys; an array a TypeError', (t) => {
  for (const [o, type, message] of [
    [{ endpiont: ['a:1'] }, RangeError, /^options\.endpiont must be one of policy, endpoints, .*, got "endpiont"/],
    [{ polcy: 'ring_hash' }, RangeError, /^options\.polcy must be one of/],
    [{ panicThreshold: 0 }, RangeError, /^options\.panicThreshold must be one of .*panicThresholdPercent/],
    [{ readyTimeout: 5 }, RangeError, /^options\.readyTimeout must be one of .*readyTimeoutMs/],
    [{ loadBalancingConfig: [{ round_robin: {} }], methodConfig: [] }, RangeError, /^options\.methodConfig/],
    [[], TypeError, /^options must be an object, got \[object Array\]/],
    [null, TypeError, /^options must be an object, got null/],
  ] as Case[])
    t.throws(() => new Balancer(o as never), { instanceOf: type, message }, JSON.stringify(o));
});

test('Balancer options: every key of BalancerOptions and of a service config is accepted', (t) => {
  // one entry per key (the type fails to compile when a key is added without an entry here)
  type All = BalancerOptions & ServiceConfigJson;
  const oneEach: { [K in keyof All]-?: Pick<All, K> } = {
    policy: { policy: 'peak_ewma' },
    endpoints: { endpoints: ['a:1'] },
    clock: { clock: new VirtualClock(0) },
    random: { random: mulberry32(1) },
    panicThresholdPercent: { panicThresholdPercent: 10 },
    panicMode: { panicMode: 'fail' },
    backend: { backend: 'js' },
    measureRtt: { measureRtt: true },
    priority: { priority: { overprovisioningFactor: 2 } },
    target: { target: 'svc' },
    readyTimeoutMs: { readyTimeoutMs: 5 },
    loadBalancingConfig: { loadBalancingConfig: [{ least_request: {} }] },
    loadBalancingPolicy: { loadBalancingPolicy: 'pick_first' },
  };
  for (const [k, o] of Object.entries(oneEach)) t.notThrows(() => new Balancer(o).close(), k);
  // and all of them at once (a service config and `policy` exclude each other)
  const all = Object.assign({}, ...Object.values(oneEach)) as All;
  delete all.policy;
  t.is(new Balancer(all).policy.name, 'least_request');
});

test('OutlierDetector options: a misspelt key (Envoy snake_case) is a RangeError naming it; every known key is accepted', (t) => {
  t.throws(() => new OutlierDetector({ consecutive_5xx: 2 } as never), {
    instanceOf: RangeError,
    message: /^options\.consecutive_5xx must be one of consecutive5xx, .*, got "consecutive_5xx"/,
  });
  t.throws(() => new OutlierDetector({ baseEjectionTime: 1000 } as never), {
    instanceOf: RangeError,
    message: /^options\.baseEjectionTime must be one of .*baseEjectionTimeMs/,
  });
  t.throws(() => new OutlierDetector([] as never), { instanceOf: TypeError, message: /^options must be an object/ });
  const all: Required<OutlierDetectorOptions> = {
    consecutive5xx: 2,
    enforcingConsecutive5xx: 50,
    intervalMs: 1000,
    baseEjectionTimeMs: 1000,
    maxEjectionTimeMs: 2000,
    maxEjectionPercent: 20,
    alwaysEjectOneHost: false,
    enforcingSuccessRate: 50,
    successRateMinimumHosts: 3,
    successRateRequestVolume: 10,
    successRateStdevFactor: 1000,
    successfulActiveHealthCheckUnejectHost: false,
    clock: new VirtualClock(0),
    random: mulberry32(1),
  };
  const od = new OutlierDetector(all);
  t.is(od.consecutive5xx, 2);
  t.is(od.baseEjectionTimeMs, 1000);
});

test('protobuf Durations: { seconds, nanos } checked (integer or decimal-string seconds, nanos in range and of the same sign)', (t) => {
  const ms = (v: unknown, min = 0) => durationMs('p', { d: v }, 'dMs', 'd', -1, min);
  t.is(ms({ seconds: 5, nanos: 500_000_000 }), 5500);
  t.is(ms({ seconds: '5' }), 5000, 'int64 as a JSON string');
  t.is(ms({ nanos: 250_000_000 }), 250);
  t.is(ms({ seconds: -1, nanos: -500_000_000 }, -Infinity), -1500);
  t.is(ms({ seconds: 0, nanos: -5 }, -Infinity), -0.000005, 'below a second nanos carry the sign');
  t.is(ms('1.5s'), 1500);
  t.is(ms(2), 2000);
  for (const [v, type, message] of [
    [{ seconds: true }, TypeError, /^p\.d\.seconds must be an integer in \[-315576000000, 315576000000\], got true/],
    [{ seconds: [5] }, TypeError, /^p\.d\.seconds must be an integer .*got \[object Array\]/],
    [{ seconds: '0x10' }, TypeError, /^p\.d\.seconds must be an integer .*got "0x10"/],
    [{ seconds: '' }, TypeError, /^p\.d\.seconds .*got ""/],
    [{ seconds: null }, TypeError, /^p\.d\.seconds .*got null/],
    [{ seconds: 1.5 }, RangeError, /^p\.d\.seconds .*got 1\.5/],
    [
      { seconds: 1, nanos: 5e9 },
      RangeError,
      /^p\.d\.nanos must be an integer in \[-999999999, 999999999\], got 5000000000/,
    ],
    [{ seconds: -1, nanos: 2e9 }, RangeError, /^p\.d\.nanos must be an integer in/],
    [{ seconds: 1, nanos: -5 }, RangeError, /^p\.d\.nanos must be of the sign of seconds \(1\), got -5/],
    [{ seconds: -1, nanos: 5 }, RangeError, /^p\.d\.nanos must be of the sign of seconds \(-1\), got 5/],
    [{}, TypeError, /^p\.d must be a Duration \{ seconds, nanos \}/],
    [{ sec: 30 }, RangeError, /^p\.d\.sec must be one of seconds, nanos, got "sec"/],
    [[5], TypeError, /^p\.d must be a duration like "10s"/],
    [null, TypeError, /^p\.d must be a duration like "10s", got null/],
  ] as Case[])
    t.throws(() => ms(v), { instanceOf: type, message }, JSON.stringify(v));
  // through a policy, as the sweep found them
  t.throws(() => new Balancer({ policy: { peak_ewma: { decay: { seconds: true } } } }), {
    instanceOf: TypeError,
    message: /^policy\.peak_ewma\.decay\.seconds/,
  });
  t.throws(() => new Balancer({ policy: { weighted_round_robin: { fail_timeout: {} } } }), {
    instanceOf: TypeError,
    message: /^policy\.weighted_round_robin\.fail_timeout must be a Duration/,
  });
});

test('a positive minimum reads "> 0" (not ">= 0s"); others as given', (t) => {
  for (const [spec, message] of [
    [{ peak_ewma: { decay: '0s' } }, /^policy\.peak_ewma\.decay must be a duration > 0s, got "0s"/],
    [{ latency_aware: { max_rtt: '0s' } }, /^policy\.latency_aware\.max_rtt must be a duration > 0s/],
    [{ peak_ewma: { decayMs: 0 } }, /^policy\.peak_ewma\.decayMs must be a number of milliseconds > 0, got 0/],
    [{ prequal: { probe_timeout: '0.0005s' } }, /^policy\.prequal\.probe_timeout must be a duration >= 0\.001s/],
    [{ peak_ewma: { default_rtt: '-1s' } }, /^policy\.peak_ewma\.default_rtt must be a duration >= 0s/],
  ] as const)
    t.throws(() => new Balancer({ policy: spec }), { instanceOf: RangeError, message });
});

test('endpoints: null weight, priority, metadata or locality part is a TypeError naming the field, not the default', (t) => {
  for (const [e, message] of [
    [{ id: 'a:1', weight: null }, /^endpoints\[0\]\.weight must be a finite number > 0, got null/],
    [{ id: 'a:1', priority: null }, /^endpoints\[0\]\.priority must be an integer >= 0, got null/],
    [{ id: 'a:1', metadata: null }, /^endpoints\[0\]\.metadata must be an object, got null/],
    [{ id: 'a:1', metadata: [] }, /^endpoints\[0\]\.metadata must be an object, got \[object Array\]/],
    [{ id: 'a:1', locality: { region: null } }, /^endpoints\[0\]\.locality\.region must be a string, got null/],
  ] as const) {
    t.throws(() => new Balancer().reset([e as never]), { instanceOf: TypeError, message });
    t.throws(() => parseEndpoint(e as never, 'e'), { instanceOf: TypeError, message: /^e\./ });
  }
  // undefined is still "left out"
  const ep = parseEndpoint({ id: 'a:1', weight: undefined, priority: undefined, metadata: undefined });
  t.deepEqual([ep.weight, ep.priority, ep.metadata], [1, 0, {}]);
  t.deepEqual(parseEndpoint({ id: 'a:1', locality: { zone: 'z' } as never }).locality, {
    region: '',
    zone: 'z',
    subZone: '',
  });
});

test('policy options: null is a TypeError naming the key (slowStart, dynamicWeights, loadReports, shuffle_address_list, compat)', (t) => {
  for (const [o, message] of [
    [{ slowStart: null }, /^w\.slowStart must be an object, got null/],
    [{ slow_start_config: null }, /^w\.slow_start_config must be an object, got null/],
    [{ dynamicWeights: null }, /^w\.dynamicWeights must be an object, got null/],
    [{ dynamic_weights: null }, /^w\.dynamic_weights must be an object, got null/],
    [{ loadReports: null }, /^w\.loadReports must be an object, got null/],
  ] as const)
    t.throws(() => parseWeightedRoundRobin(o, 'w'), { instanceOf: TypeError, message });
  t.is(parseWeightedRoundRobin({ dynamicWeights: false }, 'w').weighting, undefined, 'false still turns it off');
  t.throws(() => parsePickFirst({ shuffle_address_list: null }), {
    instanceOf: TypeError,
    message: /^pick_first\.shuffle_address_list must be a boolean, got null/,
  });
  t.deepEqual(parsePickFirst({}), { shuffleAddressList: false });
  t.deepEqual(parsePickFirst({ shuffle_address_list: true }), { shuffleAddressList: true });
  t.throws(() => parseKetamaPolicy({ compat: null }), {
    instanceOf: RangeError,
    message: /^ketama\.compat .*got null/,
  });
});

test('an option given in both spellings (camelCase and snake_case) is a TypeError naming the second, not a silent choice', (t) => {
  // the key named is the snake_case one (or, for ring sizes, the later one in the names' order)
  for (const [policy, key] of [
    [{ name: 'least_request', choiceCount: 3, choice_count: 4 }, 'choice_count'],
    [{ name: 'peak_ewma', decayMs: 100, decay: '1s' }, 'decay'],
    [{ name: 'ring_hash', minRingSize: 64, minimum_ring_size: 128 }, 'minRingSize'],
    [{ name: 'pick_first', shuffleAddressList: true, shuffle_address_list: false }, 'shuffle_address_list'],
    [{ name: 'weighted_round_robin', dynamicWeights: {}, dynamic_weights: {} }, 'dynamic_weights'],
    [{ name: 'prequal', warmupProbes: true, warmup_probes: false }, 'warmup_probes'],
  ] as const)
    t.throws(
      () => new Balancer({ policy, endpoints: ['a:1'] }),
      {
        instanceOf: TypeError,
        message: new RegExp(`^policy\\.${key} must be left out beside \\w+ \\(the same option\\)`),
      },
      key,
    );
  for (const [o, key] of [
    [{ overprovisioningFactor: 2, overprovisioning_factor: 300 }, 'overprovisioning_factor'],
    [{ localityWeighted: true, locality_weighted_lb_config: {} }, 'locality_weighted_lb_config'],
    [{ zoneAware: null, zone_aware_lb_config: {} }, 'zone_aware_lb_config'],
    [{ panicThresholdPercent: 10, healthy_panic_threshold: 20 }, 'healthy_panic_threshold'],
  ] as const)
    t.throws(() => parsePriorityOptions(o), { instanceOf: TypeError, message: new RegExp(`^priority\\.${key} `) });
  t.is(
    parsePriorityOptions({ overprovisioning_factor: 300 }).overprovisioningFactor,
    3,
    'one spelling alone still reads',
  );
  // panicMode and Envoy's fail_traffic_on_panic are one setting too
  t.throws(
    () =>
      parsePriorityOptions({
        panicMode: 'fail',
        zone_aware_lb_config: { local_zone: 'r/z', fail_traffic_on_panic: false },
      }),
    {
      instanceOf: TypeError,
      message: /^priority\.zone_aware_lb_config\.fail_traffic_on_panic must be left out beside panicMode/,
    },
  );
  for (const z of [
    { localZone: 'r/a', local_zone: 'r/b' },
    { localZone: 'r/a', localZoneShares: {}, local_zone_shares: {} },
  ])
    t.throws(() => parsePriorityOptions({ zoneAware: z }), {
      instanceOf: TypeError,
      message: /^priority\.zoneAware\.local_zone(_shares)? must be left out beside/,
    });
  // min_cluster_size as its protobuf wrapper, as overprovisioning_factor and routing_enabled are read
  t.is(
    parsePriorityOptions({ zone_aware_lb_config: { local_zone: 'r/z', min_cluster_size: { value: 3 } } }).zoneAware
      ?.minClusterSize,
    3,
  );
});

test('protobuf wrappers: { value } (RuntimeDouble: { default_value, runtime_key }) required and alone', (t) => {
  const ss = (o: object) => parseSlowStart({ slow_start_window: '1s', ...o }, 's');
  t.deepEqual(
    ss({ aggression: { default_value: 2, runtime_key: 'lb.aggression' }, min_weight_percent: { value: 5 } }),
    {
      windowMs: 1000,
      aggression: 2,
      minWeightPercent: 5,
    },
  );
  t.deepEqual(ss({ aggression: 2, min_weight_percent: 5 }), { windowMs: 1000, aggression: 2, minWeightPercent: 5 });
  for (const [o, type, message] of [
    [{ aggression: {} }, TypeError, /^s\.aggression\.default_value must be a number, got undefined/],
    [{ aggression: { value: 2 } }, RangeError, /^s\.aggression\.value must be one of default_value, runtime_key/],
    [{ aggression: null }, TypeError, /^s\.aggression must be a number/],
    [{ aggression: [2] }, TypeError, /^s\.aggression must be a number/],
    [{ min_weight_percent: { val: 50 } }, RangeError, /^s\.min_weight_percent\.val must be one of value, got "val"/],
    [{ min_weight_percent: {} }, TypeError, /^s\.min_weight_percent\.value must be a number, got undefined/],
    [{ min_weight_percent: { value: 'x' } }, TypeError, /^s\.min_weight_percent must be a number in \[0, 100\]/],
  ] as Case[])
    t.throws(() => ss(o as object), { instanceOf: type, message }, JSON.stringify(o));
  // the priority options' wrappers follow the same rule
  t.is(parsePriorityOptions({ healthy_panic_threshold: { value: 5 } }).panicThresholdPercent, 5);
  t.is(parsePriorityOptions({ overprovisioning_factor: { value: '150' } }).overprovisioningFactor, 1.5);
  t.throws(() => parsePriorityOptions({ healthy_panic_threshold: { value: 5, x: 1 } }), {
    instanceOf: RangeError,
    message: /^priority\.healthy_panic_threshold\.x must be one of value/,
  });
  t.throws(() => parsePriorityOptions({ overprovisioning_factor: {} }), {
    instanceOf: TypeError,
    message: /^priority\.overprovisioning_factor\.value must be a number, got undefined/,
  });
});

test('service config keys present but undefined are absent (constructor)', (t) => {
  t.is(new Balancer({ policy: 'peak_ewma', loadBalancingConfig: undefined } as never).policy.name, 'peak_ewma');
  t.is(new Balancer({ policy: 'pick_first', loadBalancingPolicy: undefined } as never).policy.name, 'pick_first');
  t.is(new Balancer({ loadBalancingPolicy: undefined }).policy.name, 'round_robin');
  t.throws(() => new Balancer({ policy: 'peak_ewma', loadBalancingPolicy: 'round_robin' } as never), {
    instanceOf: TypeError,
    message: /^policy must be absent when a service config selects the policy/,
  });
});

test('applyServiceConfig: a policy key present but undefined changes nothing', (t) => {
  const lb = new Balancer({ policy: 'pick_first', endpoints: ['a:1'] });
  t.is(lb.applyServiceConfig({ loadBalancingPolicy: undefined }), null);
  t.is(lb.policy.name, 'pick_first');
});

test('applyServiceConfig: a BigInt or a cycle in the options is an error naming the field', (t) => {
  const lb = new Balancer({ endpoints: ['a:1'] });
  const e1 = lb.applyServiceConfig({ loadBalancingConfig: [{ peak_ewma: { decay: 1n } }] });
  t.regex(e1?.message ?? '', /^loadBalancingConfig\[0\]\.peak_ewma\.decay/);
  const cyc: Record<string, unknown> = { decay: '1s' };
  cyc.self = cyc;
  const e2 = lb.applyServiceConfig({ loadBalancingConfig: [{ peak_ewma: cyc }] });
  t.regex(e2?.message ?? '', /^loadBalancingConfig\[0\]\.peak_ewma\.self/);
});

test('health options: misspelt keys refused where they are given (healthCheck, outlierDetection, HealthChecker, httpProbe); null is no default', (t) => {
  const probe = async () => true;
  t.throws(() => new HealthChecker({ probe, intervalMs: 1000, intervalMS: 5 } as never), {
    instanceOf: RangeError,
    message: /^options\.intervalMS must be one of probe, intervalMs/,
  });
  t.throws(() => httpProbe({ pth: '/h' } as never), { instanceOf: RangeError, message: /^options\.pth/ });
  t.throws(() => new OutlierDetector({ consecutive5xx: null } as never), {
    instanceOf: TypeError,
    message: /^consecutive5xx/,
  });
  t.throws(
    () => createFetch({ endpoints: ['127.0.0.1:1'], healthCheck: { path: '/h', intervalMs: 1000, pth: 1 } as never }),
    {
      instanceOf: RangeError,
      message: /^healthCheck\.pth/,
    },
  );
  t.throws(() => createFetch({ endpoints: ['127.0.0.1:1'], outlierDetection: { consecutive_5xx: 2 } as never }), {
    instanceOf: RangeError,
    message: /^outlierDetection\.consecutive_5xx/,
  });
  // probe and timing keys together are fine, each going where it belongs
  const f = createFetch({
    endpoints: ['127.0.0.1:1'],
    healthCheck: { path: '/h', expectedStatuses: [200], intervalMs: 60_000, unhealthyThreshold: 2 },
  });
  t.truthy(f.checker);
  f.close();
  for (const [k, v] of [
    ['panicThresholdPercent', null],
    ['panicMode', null],
    ['readyTimeoutMs', null],
  ] as const)
    t.throws(() => new Balancer({ [k]: v } as never), { message: new RegExp(`^${k}`) });
});

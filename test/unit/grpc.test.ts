// switchyard inside @grpc/grpc-js without etcd: real grpc-js servers and channels on loopback, targets from
// the static: resolver. Registration names, policies driving subchannels, ring_hash keys from metadata
// against EnvoyRingHash, connectivity and outlier ejection leaving the picker, bad input as UNAVAILABLE or
// a thrown TypeError/RangeError, and the pick bookkeeping on a virtual clock.
import test from 'ava';
import * as grpc from '@grpc/grpc-js';
import {
  GRPC_BUILTIN_POLICIES,
  hashKeyFromMetadata,
  parseHashHeader,
  parseLbConfig,
  registerSwitchyard,
  UNSTARTED_PICK_TIMEOUT_MS,
  type SwitchyardRegistration,
} from '../../bindings/grpc/index.js';
import { PickTracker, SwitchyardPicker } from '../../bindings/grpc/picker.js';
import { resolverClass, validateTarget } from '../../bindings/grpc/resolver.js';
import { Balancer } from '../../bindings/balancing/balancer.js';
import { EnvoyRingHash } from '../../bindings/hashing/envoy/ring-hash.js';
import { VirtualClock } from '../../bindings/util/clock.js';
import { echo, echoService, startEchoServer, type EchoClient, type EchoServer } from '../helpers/grpc.js';

let reg: SwitchyardRegistration;
const servers: EchoServer[] = [];
const clients: EchoClient[] = [];

test.before(() => {
  reg = registerSwitchyard(grpc);
});

test.after.always(async () => {
  for (const c of clients) c.close();
  for (const s of servers) await s.stop();
});

async function start(n: number, delayMs = 0): Promise<EchoServer[]> {
  const out = await Promise.all(Array.from({ length: n }, () => startEchoServer({ delayMs })));
  servers.push(...out);
  return out;
}

function client(target: string, serviceConfig?: object, extra: grpc.ChannelOptions = {}): EchoClient {
  const { Client } = echoService();
  const c = new Client(target, grpc.credentials.createInsecure(), {
    ...(serviceConfig !== undefined && { 'grpc.service_config': JSON.stringify(serviceConfig) }),
    'grpc.initial_reconnect_backoff_ms': 100,
    'grpc.max_reconnect_backoff_ms': 500,
    ...extra,
  });
  clients.push(c);
  return c;
}

const staticTarget = (ss: EchoServer[]) => `static:///${ss.map((s) => s.addr).join(',')}`;
const lbConfig = (name: string, options: object = {}) => ({ loadBalancingConfig: [{ [name]: options }] });

/** The live load balancer whose members are exactly `ss`. */
function lbOf(ss: EchoServer[]) {
  const want = ss
    .map((s) => s.addr)
    .sort()
    .join(',');
  return reg.loadBalancers().find((lb) => Object.keys(lb.stats().states).sort().join(',') === want);
}

function allReady(ss: EchoServer[]): boolean {
  const lb = lbOf(ss);
  return lb !== undefined && Object.values(lb.stats().states).every((s) => s === 'READY');
}

async function until(what: string, cond: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

test('registration: plain names unless grpc-js has the policy, switchyard_ names always; grpc-js round_robin stays its own', async (t) => {
  t.deepEqual(reg.schemes, ['etcd', 'consul', 'dns+srv', 'static']);
  t.deepEqual(reg.policies.peak_ewma, ['peak_ewma', 'switchyard_peak_ewma']);
  t.deepEqual(reg.policies.ring_hash, ['ring_hash', 'switchyard_ring_hash']);
  for (const builtin of ['pick_first', 'round_robin', 'weighted_round_robin'])
    t.deepEqual(reg.policies[builtin], [`switchyard_${builtin}`], builtin);
  t.false('prequal' in reg.policies);
  t.true(GRPC_BUILTIN_POLICIES.includes('round_robin'));
  // a second registration keeps its plain names (they are ours) and replaces the classes
  const again = registerSwitchyard(grpc, { policies: ['least_request'], schemes: ['static'] });
  t.deepEqual(again.policies, { least_request: ['least_request', 'switchyard_least_request'] });
  // grpc-js's round_robin is still grpc-js's: no switchyard load balancer appears for its channel
  const ss = await start(2);
  const c = client(staticTarget(ss), lbConfig('round_robin'));
  const seen = new Set<string>();
  for (let i = 0; i < 6; i++) seen.add((await echo(c, { message: 'x' })).server);
  t.deepEqual([...seen].sort(), ss.map((s) => s.addr).sort());
  t.is(lbOf(ss), undefined);
});

test('registerSwitchyard: bad arguments are TypeError/RangeError naming the option', (t) => {
  t.throws(() => registerSwitchyard({} as never), { instanceOf: TypeError, message: /grpc/ });
  t.throws(() => registerSwitchyard(grpc, { schemes: ['dns'] }), {
    instanceOf: RangeError,
    message: /schemes\[0\].*"dns"/,
  });
  t.throws(() => registerSwitchyard(grpc, { policies: ['prequal'] }), {
    instanceOf: RangeError,
    message: /policies\[0\].*"prequal"/,
  });
  t.throws(() => registerSwitchyard(grpc, { backend: 'gpu' as never }), { instanceOf: RangeError, message: /backend/ });
  t.throws(() => registerSwitchyard(grpc, { polices: ['peak_ewma'] } as never), {
    instanceOf: RangeError,
    message: /^options\.polices must be one of schemes, policies, /,
  });
  // the resolver options every etcd:/// target uses: refused when a channel is made, not by each call
  t.throws(() => validateTarget('etcd:///svc/m', { endpoints: 'nope' as never }), {
    instanceOf: TypeError,
    message: 'endpoints must be a non-empty array of etcd URLs, got "nope"',
  });
  t.throws(() => validateTarget('etcd:///svc/m', { endpoints: ['127.0.0.1:2379'] }), {
    instanceOf: TypeError,
    message: 'endpoints[0] must be an http(s) URL, got "127.0.0.1:2379"',
  });
  t.notThrows(() => validateTarget('etcd:///svc/m', { endpoints: ['http://127.0.0.1:2379'] }));
});

test('switchyard_round_robin over the static: resolver: every server in turn, exactly', async (t) => {
  const ss = await start(3);
  const c = client(staticTarget(ss), lbConfig('switchyard_round_robin'));
  await echo(c, {}, { waitForReady: true });
  await until('all READY', () => allReady(ss));
  const counts = new Map<string, number>();
  for (let i = 0; i < 30; i++) {
    const r = await echo(c, { message: `m${i}` });
    t.is(r.message, `m${i}`);
    counts.set(r.server, (counts.get(r.server) ?? 0) + 1);
  }
  t.deepEqual([...counts.values()], [10, 10, 10]);
  const st = lbOf(ss)!.stats().balancer!;
  t.is(st.policy, 'round_robin');
  t.true(st.members.every((m) => m.active === 0 && m.available));
});

test('ring_hash with request_hash_header: every key lands on the server EnvoyRingHash picks for it, from the first call', async (t) => {
  const ss = await start(4);
  const c = client(staticTarget(ss), lbConfig('ring_hash', { request_hash_header: 'x-user' }));
  const envoy = new EnvoyRingHash(ss.map((s) => s.addr));
  const owners = new Set<string>();
  for (let i = 0; i < 120; i++) {
    const key = `user-${i}`;
    const r = await echo(c, {}, { key, header: 'x-user' });
    t.is(r.server, envoy.get(key)!, key);
    owners.add(r.server);
  }
  t.is(owners.size, 4);
  envoy.dispose();
});

test('maglev keyed by metadata: the same key always reaches the same server; keyless calls spread', async (t) => {
  const ss = await start(3);
  const c = client(staticTarget(ss), lbConfig('maglev', { requestHashHeader: 'x-tenant' }));
  const first = (await echo(c, {}, { key: 'tenant-7', header: 'x-tenant' })).server;
  for (let i = 0; i < 20; i++) t.is((await echo(c, {}, { key: 'tenant-7', header: 'x-tenant' })).server, first);
  const spread = new Set<string>();
  for (let i = 0; i < 60; i++) spread.add((await echo(c)).server);
  t.true(spread.size >= 2, `keyless calls went to ${[...spread].join(', ')}`);
});

test('peak_ewma: call completions feed RTTs, so a server 75x slower gets a small share', async (t) => {
  const fast = await start(2, 2);
  // a wide gap: the assertion is about the policy, not this machine's scheduling (under load, timer lag inflates
  // every RTT alike, which narrowed a 30x gap to a 22 % share once)
  const [slow] = await start(1, 150);
  const ss = [...fast, slow!];
  const c = client(staticTarget(ss), lbConfig('peak_ewma'));
  await echo(c, {}, { waitForReady: true });
  await until('all READY', () => allReady(ss));
  const counts = new Map<string, number>();
  const worker = async () => {
    for (let i = 0; i < 50; i++) {
      const r = await echo(c);
      counts.set(r.server, (counts.get(r.server) ?? 0) + 1);
    }
  };
  await Promise.all([worker(), worker(), worker(), worker()]);
  const slowShare = (counts.get(slow!.addr) ?? 0) / 200;
  t.true(slowShare < 0.2, `slow server share ${slowShare}`);
  for (const f of fast) t.true((counts.get(f.addr) ?? 0) > (counts.get(slow!.addr) ?? 0), JSON.stringify([...counts]));
  // the estimates come from our RTTs (the Balancer does not time picks itself: measureRtt false)
  const st = lbOf(ss)!.stats().balancer!;
  t.true(
    st.members.every((m) => (m.rttEstimateMs as number) > 0 && m.active === 0),
    JSON.stringify(st.members),
  );
});

test('a stopped server leaves the picker (TRANSIENT_FAILURE is not picked) and calls keep succeeding', async (t) => {
  const ss = await start(3);
  const sc = {
    ...lbConfig('least_request'),
    methodConfig: [
      {
        name: [{ service: 'switchyard.test.Echo' }],
        retryPolicy: {
          maxAttempts: 4,
          initialBackoff: '0.01s',
          maxBackoff: '0.1s',
          backoffMultiplier: 2,
          retryableStatusCodes: ['UNAVAILABLE'],
        },
      },
    ],
  };
  const c = client(staticTarget(ss), sc);
  await echo(c, {}, { waitForReady: true });
  await until('all READY', () => allReady(ss));
  const lb = lbOf(ss)!;
  await ss[0]!.stop();
  await until('the stopped server to leave the picker', () => {
    const m = lb.stats().balancer!.members.find((x) => x.id === ss[0]!.addr)!;
    return !m.available;
  });
  t.not(lb.stats().states[ss[0]!.addr], 'READY');
  const seen = new Set<string>();
  for (let i = 0; i < 40; i++) seen.add((await echo(c)).server);
  t.deepEqual([...seen].sort(), [ss[1]!.addr, ss[2]!.addr].sort());
});

test('outlier_detection: a server failing every call is ejected after consecutive_5xx failures and gets no more calls', async (t) => {
  const ss = await start(3);
  ss[2]!.failCode = grpc.status.INTERNAL;
  const c = client(
    staticTarget(ss),
    lbConfig('switchyard_round_robin', { outlier_detection: { consecutive_5xx: 3, base_ejection_time: '60s' } }),
  );
  await echo(c, {}, { waitForReady: true }).catch(() => undefined);
  await until('all READY', () => allReady(ss));
  let failures = 0;
  for (let i = 0; i < 30; i++) await echo(c).catch(() => failures++);
  t.true(failures >= 3 && failures <= 4, `failures ${failures}`); // 3 to eject (+1 picked before the first connected)
  const before = ss[2]!.calls;
  for (let i = 0; i < 30; i++) t.not((await echo(c)).server, ss[2]!.addr);
  t.is(ss[2]!.calls, before);
  const m = lbOf(ss)!
    .stats()
    .balancer!.members.find((x) => x.id === ss[2]!.addr)!;
  t.false(m.available);
});

test('bad input: an unknown policy option fails calls with UNAVAILABLE carrying our message (no hang, no silent pick_first)', async (t) => {
  const ss = await start(1);
  const c = client(staticTarget(ss), lbConfig('peak_ewma', { decay_ms: 5 }));
  const e = await t.throwsAsync(echo(c, {}, { deadlineMs: 10_000 }));
  t.is((e as grpc.ServiceError).code, grpc.status.UNAVAILABLE);
  t.regex(e!.message, /switchyard peak_ewma: invalid load balancing config: peak_ewma\.decay_ms must be one of/);
  const c2 = client(staticTarget(ss), lbConfig('switchyard_round_robin', { request_hash_header: 'x-k' }));
  const e2 = await t.throwsAsync(echo(c2, {}, { deadlineMs: 10_000 }));
  t.is((e2 as grpc.ServiceError).code, grpc.status.UNAVAILABLE);
  t.regex(e2!.message, /request_hash_header.*hash policies only/);
  const c3 = client(staticTarget(ss), lbConfig('ring_hash', { request_hash_header: 'x-key-bin' }));
  const e3 = await t.throwsAsync(echo(c3, {}, { deadlineMs: 10_000 }));
  t.regex(e3!.message, /ring_hash\.request_hash_header must be a text metadata key/);
  const c4 = client(staticTarget(ss), lbConfig('least_request', { outlier_detection: { consecutive5xx: 0 } }));
  const e4 = await t.throwsAsync(echo(c4, {}, { deadlineMs: 10_000 }));
  t.regex(e4!.message, /least_request\.outlier_detection\.consecutive5xx/);
});

test('bad input: malformed targets throw from the channel constructor, naming the field', (t) => {
  const { Client } = echoService();
  const make = (target: string) => () => new Client(target, grpc.credentials.createInsecure());
  t.throws(make('static:///'), { instanceOf: TypeError, message: /target/ });
  t.throws(make('static:///127.0.0.1:99999'), { instanceOf: RangeError, message: /target\[0\]/ });
  t.throws(make('static:///127.0.0.1'), { message: /target\[0\]/ });
  t.throws(make('etcd:///services/echo'), { instanceOf: TypeError, message: /endpoints/ });
  t.throws(make('etcd://127.0.0.1:notaport/services/echo'), { message: /target authority\[0\]/ });
  t.throws(make('consul:///'), { instanceOf: TypeError, message: /consul:\/\/\/<name>/ });
});

test('bad input: a static: target with no server listening fails with UNAVAILABLE naming the policy, not a hang', async (t) => {
  const ss = await start(1);
  const addr = ss[0]!.addr;
  await ss[0]!.stop();
  const c = client(`static:///${addr}`, lbConfig('peak_ewma'));
  const e = await t.throwsAsync(echo(c, {}, { deadlineMs: 15_000 }));
  t.is((e as grpc.ServiceError).code, grpc.status.UNAVAILABLE);
  t.regex(e!.message, /switchyard peak_ewma: no connection established/);
});

test('hashKeyFromMetadata / parseHashHeader: values joined with commas, binary keys rejected', (t) => {
  const md = new grpc.Metadata();
  t.is(hashKeyFromMetadata(md, 'x-k'), undefined);
  md.add('x-k', 'a');
  t.is(hashKeyFromMetadata(md, 'x-k'), 'a');
  md.add('x-k', 'b');
  t.is(hashKeyFromMetadata(md, 'x-k'), 'a,b');
  t.is(parseHashHeader('f', 'X-User'), 'x-user');
  t.throws(() => parseHashHeader('f', 'x-user-bin'), { instanceOf: RangeError, message: /^f / });
  t.throws(() => parseHashHeader('f', 'x user'), { instanceOf: RangeError });
  t.throws(() => parseHashHeader('f', 7), { instanceOf: TypeError });
  t.is(parseLbConfig('ring_hash', 'ring_hash', { requestHashHeader: 'X-K', minRingSize: 64 }).hashHeader, 'x-k');
  const bad = parseLbConfig('ring_hash', 'ring_hash', { outlier_detection: { interval: 'soon' } }).error;
  t.true(bad instanceof RangeError && /ring_hash\.outlier_detection\.interval/.test(bad.message), String(bad));
  // one option in both spellings is refused, not settled silently
  for (const [cfg, key] of [
    [{ requestHashHeader: 'a', request_hash_header: 'b' }, 'ring_hash.request_hash_header'],
    [{ outlierDetection: {}, outlier_detection: {} }, 'ring_hash.outlier_detection'],
    [{ outlier_detection: { consecutive5xx: 3, consecutive_5xx: 4 } }, 'ring_hash.outlier_detection.consecutive_5xx'],
  ] as const) {
    const e = parseLbConfig('ring_hash', 'ring_hash', cfg).error;
    t.true(e instanceof TypeError && e.message.startsWith(`${key} must be left out beside`), String(e));
  }
});

test('picks grpc-js never starts are released by a timer UNSTARTED_PICK_TIMEOUT_MS after the pick, no further pick needed: in-flight count only', (t) => {
  const clock = new VirtualClock(0);
  const lb = new Balancer({ policy: 'least_request', clock, measureRtt: false, endpoints: ['a:1', 'b:1'] });
  const outcomes: number[] = [];
  lb.on('outcome', (e) => outcomes.push(e.rttMs));
  const fakeSub = { getConnectivityState: () => grpc.connectivityState.READY } as never;
  const ended: [string, number][] = [];
  const tracker = new PickTracker({
    balancer: lb,
    clock,
    subchannelOf: () => fakeSub,
    callEnded: (id, code) => ended.push([id, code]),
  });
  const picker = new SwitchyardPicker(tracker, undefined);
  const args = { metadata: new grpc.Metadata(), extraPickInfo: {} };
  const md = new grpc.Metadata();
  const dropped = picker.pick(args); // never started (grpc-js picked again)
  const used = picker.pick(args);
  t.is(dropped.pickResultType, 0);
  const active = () => lb.stats().members.reduce((s, m) => s + m.active, 0);
  t.is(active(), 2);
  used.onCallStarted!();
  clock.tick(7);
  used.onCallEnded!(grpc.status.OK, '', md);
  t.is(active(), 1);
  t.deepEqual(outcomes, [7]);
  clock.tick(UNSTARTED_PICK_TIMEOUT_MS - 8);
  t.is(active(), 1);
  clock.tick(1); // no pick: the timer releases it
  t.is(active(), 0);
  t.is(tracker.unstarted.size, 0);
  t.deepEqual(outcomes, [7], 'a release records no outcome or RTT');
  // a call starting after the release: its status reaches the outlier detector only
  dropped.onCallStarted!();
  dropped.onCallEnded!(grpc.status.UNAVAILABLE, 'down', md);
  t.is(active(), 0);
  t.deepEqual(outcomes, [7]);
  t.deepEqual(
    ended.map(([, code]) => code),
    [0, 14],
  );
  // the timer re-arms for the oldest pick left
  picker.pick(args); // at 2000
  clock.tick(1000);
  picker.pick(args); // at 3000
  t.is(active(), 2);
  clock.tick(1000);
  t.is(active(), 1);
  clock.tick(999);
  t.is(active(), 1);
  clock.tick(1);
  t.is(active(), 0);
  // destroy: clear() releases at once and stops the timer
  picker.pick(args);
  tracker.clear();
  t.is(active(), 0);
  t.is(clock.pending, 0, 'no timer left');
  lb.close();
});

test('a pick grpc-js never starts (call cancelled while its credentials are generated) leaves the in-flight count of an idle channel after UNSTARTED_PICK_TIMEOUT_MS, with no further pick', async (t) => {
  const ss = await start(1);
  const c = client(staticTarget(ss), lbConfig('least_request'));
  await echo(c);
  const lb = lbOf(ss)!;
  const member = () => lb.stats().balancer!.members[0]!;
  t.is(member().active, 0);
  let release: (() => void) | undefined;
  const held = grpc.credentials.createFromMetadataGenerator((_o, cb) => {
    release = () => cb(null, new grpc.Metadata());
  });
  let call!: grpc.ClientUnaryCall;
  const failed = new Promise<grpc.ServiceError | null>((res) => {
    call = c.Echo({}, new grpc.Metadata(), { credentials: held }, (e) => res(e));
  });
  await until('the pick', () => member().active === 1);
  const pickedAt = Date.now();
  call.cancel();
  t.is((await failed)?.code, grpc.status.CANCELLED);
  release!(); // the credentials arrive after the cancellation: grpc-js drops the pick
  await new Promise((r) => setTimeout(r, 50));
  t.is(member().active, 1, 'counted in flight until the timeout');
  const picks = member().picks;
  await until('the release', () => member().active === 0, UNSTARTED_PICK_TIMEOUT_MS + 5_000);
  t.true(Date.now() - pickedAt >= UNSTARTED_PICK_TIMEOUT_MS - 100);
  t.is(member().picks, picks, 'no pick in between');
  t.is(ss[0]!.calls, 1);
});

test('onCallEnded maps the gRPC status: ok only for OK, the HTTP equivalent as status, the RTT from onCallStarted', (t) => {
  const clock = new VirtualClock(100);
  const lb = new Balancer({ policy: 'round_robin', clock, measureRtt: false, endpoints: ['a:1'] });
  const outcomes: { ok: boolean; rttMs: number; status: number | undefined }[] = [];
  lb.on('outcome', (e) => outcomes.push({ ok: e.ok, rttMs: e.rttMs, status: e.status }));
  const tracker = new PickTracker({
    balancer: lb,
    clock,
    subchannelOf: () => ({ getConnectivityState: () => grpc.connectivityState.READY }) as never,
    callEnded: () => {},
  });
  const picker = new SwitchyardPicker(tracker, undefined);
  const args = { metadata: new grpc.Metadata(), extraPickInfo: {} };
  const p1 = picker.pick(args);
  clock.tick(5);
  p1.onCallStarted!();
  clock.tick(12);
  p1.onCallEnded!(grpc.status.UNAVAILABLE, 'down', new grpc.Metadata());
  p1.onCallEnded!(grpc.status.OK, '', new grpc.Metadata()); // a second end is ignored
  const p2 = picker.pick(args);
  p2.onCallStarted!();
  clock.tick(3);
  p2.onCallEnded!(grpc.status.OK, '', new grpc.Metadata());
  t.deepEqual(outcomes, [
    { ok: false, rttMs: 12, status: 503 },
    { ok: true, rttMs: 3, status: 200 },
  ]);
  lb.close();
});

test('an onResolverError that throws is logged: the channel still hears the failure, nothing is thrown at grpc-js', async (t) => {
  const logs: string[] = [];
  const g = { ...grpc, experimental: { ...grpc.experimental, log: (_: unknown, m: string) => logs.push(m) } };
  const heard: string[] = [];
  const onResolverError = (_target: string, e: Error) => {
    heard.push(e.message);
    throw new Error('callback bug');
  };
  const failures: string[] = [];
  const listener = ((list: { ok: boolean; error?: { details: string } }) => {
    if (!list.ok) failures.push(list.error!.details);
    return true;
  }) as never;
  const target = (s: string) => ({ scheme: 'consul', authority: '', path: s.slice('consul:///'.length) }) as never;
  t.is(grpc.experimental.uriToString(target('consul:///greeter')), 'consul:///greeter');
  // a failure of the running resolver (fetch refuses port 1 at once)
  const Failing = resolverClass(g, { resolver: { address: 'http://127.0.0.1:1' }, onResolverError });
  const r1 = new Failing(target('consul:///greeter'), listener, {});
  r1.updateResolution();
  await until('the failure', () => failures.length > 0);
  r1.destroy();
  t.regex(failures[0]!, /^switchyard: resolver consul:\/\/\/greeter: .*fetch failed/);
  // a resolver that cannot start (bad options): updateResolution returns, the failure follows
  const Broken = resolverClass(g, { resolver: { minRefreshIntervalMs: -5 }, onResolverError });
  const r2 = new Broken(target('consul:///greeter'), listener, {});
  failures.length = 0;
  t.notThrows(() => r2.updateResolution());
  await until('the failure', () => failures.length > 0);
  r2.destroy();
  t.regex(failures[0]!, /minRefreshIntervalMs/);
  t.true(heard.length >= 2);
  t.true(logs.length >= 2);
  t.true(
    logs.every((m) => m === 'switchyard: onResolverError threw for consul:///greeter: callback bug'),
    logs.join('\n'),
  );
});

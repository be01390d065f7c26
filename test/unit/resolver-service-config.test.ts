// Service configs from resolvers (gRFC A2 choice selection, DNS TXT `_grpc_config.<name>`, DoH TXT data),
// resolver failures as typed `ResolverError`s, and `connectResolver` wiring them to a Balancer's
// `setResolverError` / `applyServiceConfig` with its events and counters. Live counterparts: dns.test.ts,
// etcd.test.ts, first-request.test.ts.
import test from 'ava';
import { VirtualClock } from '../../bindings/util/clock.js';
import type { Endpoint, EndpointInput } from '../../bindings/util/endpoint.js';
import { DnsResolver, type DnsLookup } from '../../bindings/discovery/dns.js';
import { parseTxtData } from '../../bindings/discovery/doh.js';
import { ResolverError } from '../../bindings/discovery/errors.js';
import type { ResolverListener } from '../../bindings/discovery/resolver.js';
import { connectResolver, type ResolverUpdate } from '../../bindings/discovery/connect.js';
import {
  selectServiceConfig,
  serviceConfigFromTxt,
  serviceConfigFromValue,
  ServiceConfigTracker,
} from '../../bindings/discovery/service-config.js';

const RR = { loadBalancingConfig: [{ round_robin: {} }] };
const LR = { loadBalancingConfig: [{ least_request: { choice_count: 3 } }] };
const ctx = (percentage: number, hostname?: string) => ({ percentage, hostname });

test('A2 choices: the first choice whose criteria all match wins; absent or empty criteria match all', (t) => {
  t.deepEqual(selectServiceConfig([{ serviceConfig: RR }], ctx(99.9)), RR);
  t.deepEqual(selectServiceConfig([{ serviceConfig: LR }, { serviceConfig: RR }], ctx(0)), LR);
  // clientLanguage: case-insensitive; "node" (grpc-js's name) and "switchyard" select us.
  const langs = (l: string[]) =>
    selectServiceConfig([{ clientLanguage: l, serviceConfig: LR }, { serviceConfig: RR }], ctx(0));
  t.deepEqual(langs(['go', 'java']), RR);
  t.deepEqual(langs(['NODE']), LR);
  t.deepEqual(langs(['c++', 'SwitchYard']), LR);
  t.deepEqual(langs([]), LR, 'an empty list matches every client');
  // percentage: this client's draw in [0, 100) must be below it.
  const pct = (p: number, draw: number) =>
    selectServiceConfig([{ percentage: p, serviceConfig: LR }, { serviceConfig: RR }], ctx(draw));
  t.deepEqual(pct(25, 24.999), LR);
  t.deepEqual(pct(25, 25), RR, 'exactly on the boundary is out');
  t.deepEqual(pct(0, 0), RR, '0% selects nobody');
  t.deepEqual(pct(100, 99.999), LR, '100% selects everybody');
  // clientHostname: exact, case-sensitive; no host name known: no match.
  const host = (h: string | undefined) =>
    selectServiceConfig([{ clientHostname: ['web-1', 'web-2'], serviceConfig: LR }, { serviceConfig: RR }], ctx(0, h));
  t.deepEqual(host('web-2'), LR);
  t.deepEqual(host('WEB-2'), RR);
  t.deepEqual(host(undefined), RR);
  // All criteria must match.
  t.deepEqual(
    selectServiceConfig(
      [{ clientLanguage: ['node'], percentage: 50, clientHostname: ['h'], serviceConfig: LR }, { serviceConfig: RR }],
      ctx(10, 'other'),
    ),
    RR,
  );
  t.is(selectServiceConfig([{ clientLanguage: ['go'], serviceConfig: LR }], ctx(0)), null, 'no match: null');
  t.is(selectServiceConfig([], ctx(0)), null);
});

test('A2 choices: any invalid choice invalidates the whole list, with a typed error naming the field', (t) => {
  const bad = (json: unknown, type: typeof TypeError | typeof RangeError, message: RegExp) =>
    t.throws(() => selectServiceConfig(json, ctx(0)), { instanceOf: type, message });
  bad({ serviceConfig: RR }, TypeError, /^grpc_config must be a JSON array/);
  bad([RR], TypeError, /^grpc_config\[0\]\.loadBalancingConfig must be absent/);
  bad([{ clientLanguage: ['node'] }], TypeError, /^grpc_config\[0\]\.serviceConfig must be an object/);
  bad([{ serviceConfig: [RR] }], TypeError, /^grpc_config\[0\]\.serviceConfig/);
  bad([{ serviceConfig: RR, clientLanguage: 'node' }], TypeError, /^grpc_config\[0\]\.clientLanguage must be an array/);
  bad(
    [{ serviceConfig: RR, clientHostname: [7] }],
    TypeError,
    /^grpc_config\[0\]\.clientHostname\[0\] must be a string/,
  );
  bad([{ serviceConfig: RR, percentage: '50' }], TypeError, /^grpc_config\[0\]\.percentage/);
  bad(
    [{ serviceConfig: RR, percentage: 101 }],
    RangeError,
    /^grpc_config\[0\]\.percentage must be an integer in \[0, 100\], got 101/,
  );
  bad([{ serviceConfig: RR, percentage: 12.5 }], RangeError, /percentage/);
  // A matching first choice does not excuse a broken later one (the whole config is discarded).
  bad([{ serviceConfig: RR }, { serviceConfig: RR, color: 'red' }], TypeError, /^grpc_config\[1\]\.color/);
});

test('TXT: the grpc_config= record, its strings concatenated; other records ignored; bad JSON is a TypeError', (t) => {
  const json = JSON.stringify([{ serviceConfig: LR }]);
  const cut = 10;
  const records = [['v=spf1 -all'], [`grpc_config=${json.slice(0, cut)}`, json.slice(cut)]];
  t.deepEqual(serviceConfigFromTxt(records, ctx(0)), LR);
  t.is(serviceConfigFromTxt([['v=spf1 -all'], []], ctx(0)), undefined, 'no grpc_config record');
  t.is(
    serviceConfigFromTxt([[`grpc_config=${JSON.stringify([{ clientLanguage: ['go'], serviceConfig: LR }])}`]], ctx(0)),
    null,
  );
  t.throws(() => serviceConfigFromTxt([['grpc_config=[{"serviceConfig":']], ctx(0)), {
    instanceOf: TypeError,
    message: /^grpc_config must be a JSON array/,
  });
  // etcd values: an object is the config itself; a list is A2's choices; the field is named.
  t.deepEqual(serviceConfigFromValue(JSON.stringify(RR), ctx(0), 'k'), RR);
  t.deepEqual(serviceConfigFromValue(`grpc_config=${json}`, ctx(0), 'k'), LR);
  t.throws(() => serviceConfigFromValue('round_robin', ctx(0), 'etcd key "s/_grpc_config"'), {
    instanceOf: TypeError,
    message: /^etcd key "s\/_grpc_config" must be a JSON service config/,
  });
  t.throws(() => serviceConfigFromValue('[{"x":1}]', ctx(0), 'key'), {
    instanceOf: TypeError,
    message: /^key\[0\]\.x/,
  });
});

test('tracker: the draw comes from the injected random, once; bad options are typed errors', (t) => {
  let calls = 0;
  const tr = new ServiceConfigTracker({
    random: () => {
      calls++;
      return 0.25;
    },
    clientHostname: 'h1',
  });
  t.deepEqual(tr.ctx, { percentage: 25, hostname: 'h1' });
  t.is(calls, 1);
  t.true(tr.changed(RR));
  t.false(tr.changed({ ...RR }), 'an equal config is not new');
  t.true(tr.changed(LR));
  t.throws(() => new ServiceConfigTracker({ random: () => 1 }), { instanceOf: RangeError, message: /^random\(\)/ });
  t.throws(() => new ServiceConfigTracker({ clientHostname: 5 as never }), {
    instanceOf: TypeError,
    message: /^clientHostname/,
  });
  t.throws(() => new ServiceConfigTracker({ disableServiceConfig: 'yes' as never }), {
    instanceOf: TypeError,
    message: /^disableServiceConfig/,
  });
});

test('DoH TXT data: quoted strings with escapes, or one unquoted string', (t) => {
  t.deepEqual(parseTxtData('"grpc_config=[{\\"a\\":1}]"'), ['grpc_config=[{"a":1}]']);
  t.deepEqual(parseTxtData('"part one" "part two"'), ['part one', 'part two']);
  t.deepEqual(parseTxtData('"a\\\\b\\065"'), ['a\\bA']);
  t.deepEqual(parseTxtData('v=spf1 -all'), ['v=spf1 -all']);
  t.deepEqual(parseTxtData('"unterminated'), ['"unterminated']);
});

/** A scripted DNS lookup with TXT records; counts queries per name. */
function txtLookup() {
  const state = {
    a: new Map<string, string[] | Error>([['svc', ['10.0.0.1']]]),
    txt: new Map<string, string[][] | Error>(),
    queries: [] as string[],
  };
  const err = (code: string) => Object.assign(new Error(`query ${code}`), { code });
  const get = <T>(m: Map<string, T | Error>, kind: string, n: string): T => {
    state.queries.push(`${kind} ${n}`);
    const v = m.get(n);
    if (v === undefined) throw err('ENOTFOUND');
    if (v instanceof Error) throw v;
    return v;
  };
  const lookup: DnsLookup = {
    a: async (n) => get(state.a, 'A', n).map((address) => ({ address, ttlS: 60 })),
    aaaa: async () => {
      throw err('ENODATA');
    },
    srv: async () => {
      throw err('ENODATA');
    },
    txt: async (n) => get(state.txt, 'TXT', n),
  };
  return { state, lookup };
}

/** A listener recording every call in order: ['list', ids] | ['config', json] | ['error', name: message]. */
function journal() {
  const log: Array<[string, string]> = [];
  const errors: Error[] = [];
  const listener: ResolverListener = {
    onEndpoints: (l: Endpoint[]) => log.push(['list', l.map((e) => e.id).join()]),
    onError: (e) => {
      errors.push(e);
      log.push(['error', `${e.name}: ${e.message}`]);
    },
    onServiceConfig: (c) => log.push(['config', JSON.stringify(c)]),
  };
  return { log, errors, listener };
}

const grpcConfig = (choices: unknown) => [[`grpc_config=${JSON.stringify(choices)}`]];

test('dns: the TXT service config goes to onServiceConfig before its list, once per change; bad ones keep the old', async (t) => {
  const clock = new VirtualClock(0);
  const { state, lookup } = txtLookup();
  state.txt.set('_grpc_config.svc', grpcConfig([{ serviceConfig: LR }]));
  const j = journal();
  const d = new DnsResolver(
    { target: 'svc:80', lookup, clock, minTtlMs: 1000, maxTtlMs: 1000, random: () => 0 },
    j.listener,
  );
  await clock.advance(0);
  t.true(state.queries.includes('TXT _grpc_config.svc'), 'queried at _grpc_config.<name> (gRFC A2)');
  t.deepEqual(j.log, [
    ['config', JSON.stringify(LR)],
    ['list', '10.0.0.1:80'],
  ]);
  // Unchanged: nothing new.
  await clock.advance(1000);
  t.is(j.log.length, 2);
  // Changed: delivered again, before the (unchanged, so unreported) list.
  state.txt.set('_grpc_config.svc', grpcConfig([{ serviceConfig: RR }]));
  await clock.advance(1000);
  t.deepEqual(j.log.slice(2), [['config', JSON.stringify(RR)]]);
  // Malformed: one TypeError naming grpc_config (not a resolver failure), reported once; nothing delivered.
  state.txt.set('_grpc_config.svc', [['grpc_config={"serviceConfig":']]);
  await clock.advance(1000);
  await clock.advance(1000);
  const errors = j.log.slice(3).filter(([k]) => k === 'error');
  t.is(errors.length, 1);
  t.regex(errors[0]![1], /^TypeError: grpc_config must be/);
  t.false(j.errors[0] instanceof ResolverError);
  t.false(j.log.slice(3).some(([k]) => k === 'config'));
  // The TXT record going away (NXDOMAIN) or timing out changes nothing and fails nothing.
  const before = j.log.length;
  state.txt.delete('_grpc_config.svc');
  await clock.advance(1000);
  state.txt.set('_grpc_config.svc', Object.assign(new Error('timeout'), { code: 'ETIMEOUT' }));
  await clock.advance(1000);
  t.deepEqual(
    j.log.slice(before).filter(([k]) => k !== 'list'),
    [],
  );
  // Back to the config in force: not re-delivered (the Balancer already has it).
  state.txt.set('_grpc_config.svc', grpcConfig([{ serviceConfig: RR }]));
  await clock.advance(1000);
  t.false(j.log.slice(before).some(([k]) => k === 'config'));
  state.txt.set('_grpc_config.svc', grpcConfig([{ clientLanguage: ['go'], serviceConfig: LR }]));
  await clock.advance(1000);
  t.false(
    j.log.slice(before).some(([k]) => k === 'config'),
    'no matching choice: nothing delivered',
  );
  d.close();
});

test('dns: disableServiceConfig and IP literals make no TXT query; the percentage draw selects a canary', async (t) => {
  const clock = new VirtualClock(0);
  const { state, lookup } = txtLookup();
  state.txt.set('_grpc_config.svc', grpcConfig([{ percentage: 30, serviceConfig: LR }, { serviceConfig: RR }]));
  const off = journal();
  new DnsResolver({ target: 'svc:80', lookup, clock, disableServiceConfig: true }, off.listener).close();
  const lit = journal();
  const d1 = new DnsResolver({ target: '10.0.0.9:80', lookup, clock }, lit.listener);
  await clock.advance(0);
  t.false(state.queries.some((q) => q.startsWith('TXT')));
  t.deepEqual(lit.log, [['list', '10.0.0.9:80']]);
  d1.close();
  const picks: string[] = [];
  for (const draw of [0.29, 0.3, 0.95]) {
    const j = journal();
    const d = new DnsResolver({ target: 'svc:80', lookup, clock, random: () => draw }, j.listener);
    await clock.advance(0);
    picks.push(j.log[0]![1]);
    d.close();
  }
  t.deepEqual(picks, [JSON.stringify(LR), JSON.stringify(RR), JSON.stringify(RR)]);
});

test('failures are ResolverErrors naming the target, with the cause and its code; skipped entries are not', async (t) => {
  const clock = new VirtualClock(0);
  const { state, lookup } = txtLookup();
  state.a.set('svc', Object.assign(new Error('queryA ENOTFOUND svc'), { code: 'ENOTFOUND' }));
  const j = journal();
  const d = new DnsResolver({ target: 'svc:80', lookup, clock, uri: 'dns://127.0.0.1:53/svc:80' }, j.listener);
  await clock.advance(0);
  const e = j.errors[0] as ResolverError;
  t.true(e instanceof ResolverError);
  t.is(e.name, 'ResolverError');
  t.is(e.target, 'dns://127.0.0.1:53/svc:80');
  t.is(e.code, 'ENOTFOUND');
  t.is((e.cause as Error).message, 'queryA ENOTFOUND svc');
  t.regex(e.message, /^resolver dns:\/\/127\.0\.0\.1:53\/svc:80: queryA ENOTFOUND svc$/);
  d.close();
  // Without `uri`: the target is built from the options.
  const j2 = journal();
  const d2 = new DnsResolver({ target: 'svc:80', lookup, clock }, j2.listener);
  await clock.advance(0);
  t.is((j2.errors[0] as ResolverError).target, 'dns:///svc:80');
  d2.close();
});

/** A Balancer stand-in recording the resolver-facing calls in order. */
function fakeBalancer(opts: { rejectPolicy?: string } = {}) {
  const calls: string[] = [];
  let members: string[] = [];
  return {
    calls,
    reset(list: EndpointInput[]) {
      const ids = list.map((e) => (typeof e === 'string' ? e : e.id!));
      const changed = ids.join() !== members.join();
      members = ids;
      calls.push(`reset ${ids.join()}`);
      return changed;
    },
    setResolverError(e: Error | null) {
      calls.push(`setResolverError ${e === null ? 'null' : e.name}`);
    },
    applyServiceConfig(json: unknown) {
      const text = JSON.stringify(json);
      calls.push(`applyServiceConfig ${text}`);
      return opts.rejectPolicy !== undefined && text.includes(opts.rejectPolicy)
        ? new RangeError(`policy must be a registered policy, got "${opts.rejectPolicy}"`)
        : null;
    },
  };
}

async function flush(): Promise<void> {
  for (let i = 0; i < 20; i++) await new Promise<void>((r) => setImmediate(r));
}

test('connectResolver: failures → setResolverError(err); lists → setResolverError(null) + reset; configs → applyServiceConfig', async (t) => {
  const clock = new VirtualClock(5000);
  const { state, lookup } = txtLookup();
  state.a.set('svc', Object.assign(new Error('down'), { code: 'ECONNREFUSED' }));
  const b = fakeBalancer({ rejectPolicy: 'no_such_policy' });
  const updates: ResolverUpdate[] = [];
  const errors: Error[] = [];
  const configs: Array<[string, string | null]> = [];
  const r = connectResolver(
    { target: 'dns:///svc:80', lookup, clock, initialBackoffMs: 100, minTtlMs: 1000, maxTtlMs: 1000 },
    b,
    {
      onServiceConfig: (c, err) => configs.push([JSON.stringify(c), err === null ? null : err.name]),
    },
  );
  t.is(r.target, 'dns:///svc:80');
  const offUpdate = r.on('update', (u) => updates.push(u));
  r.on('error', (e) => errors.push(e));
  t.is(r.lastUpdateAtMs, undefined);
  await clock.advance(0);
  t.deepEqual(b.calls, ['setResolverError ResolverError']);
  t.is((errors[0] as ResolverError).target, 'dns:///svc:80');
  t.deepEqual([r.updates, r.errors, r.failures], [0, 1, 1]);
  // Recovery with a service config: the config first, then the resolver is fine again and the list applied.
  state.a.set('svc', ['10.0.0.1', '10.0.0.1']); // a duplicate: a skipped entry
  state.txt.set('_grpc_config.svc', grpcConfig([{ serviceConfig: LR }]));
  await clock.advance(100);
  t.deepEqual(b.calls.slice(1), [
    `applyServiceConfig ${JSON.stringify(LR)}`,
    'setResolverError null',
    'reset 10.0.0.1:80',
  ]);
  t.is(errors.length, 2, 'the skipped entry is reported...');
  t.false(errors[1] instanceof ResolverError, '...as what it is');
  t.deepEqual(
    updates.map((u) => [u.endpoints.map((e) => e.id).join(), u.changed, u.atMs]),
    [['10.0.0.1:80', true, 5100]],
  );
  t.deepEqual([r.updates, r.errors, r.failures, r.serviceConfigs, r.lastUpdateAtMs], [1, 2, 1, 1, 5100]);
  t.deepEqual(configs, [[JSON.stringify(LR), null]]);
  // A config the Balancer rejects: reported as an error, counted; the resolver is not failed for it.
  const bad = { loadBalancingConfig: [{ no_such_policy: {} }] };
  state.txt.set('_grpc_config.svc', grpcConfig([{ serviceConfig: bad }]));
  offUpdate();
  await clock.advance(1000);
  t.true(b.calls.includes(`applyServiceConfig ${JSON.stringify(bad)}`));
  const rejected = errors.filter((e) => e instanceof RangeError);
  t.is(rejected.length, 1);
  t.regex(rejected[0]!.message, /^policy must be/);
  t.deepEqual(configs.at(-1), [JSON.stringify(bad), 'RangeError']);
  t.is(r.failures, 1, 'a rejected config is not a resolver failure');
  t.is(r.lastError, errors.at(-1));
  t.is(updates.length, 1, 'unsubscribed');
  t.false(b.calls.includes('setResolverError RangeError'));
  r.close();
  t.throws(() => r.on('nope' as never, () => {}), { instanceOf: TypeError, message: /^event/ });
});

test('connectResolver: works with a Balancer that has only reset(); a throwing update listener becomes an error', async (t) => {
  const lists: string[][] = [];
  const r = connectResolver('static:///a:80,b:80', {
    reset: (l: EndpointInput[]) => {
      lists.push(l.map((e) => (typeof e === 'string' ? e : e.id!)));
      return true;
    },
  });
  const errors: Error[] = [];
  r.on('error', (e) => errors.push(e));
  r.on('update', () => {
    throw new Error('listener bug');
  });
  await flush();
  t.deepEqual(lists, [['a:80', 'b:80']]);
  t.deepEqual(
    errors.map((e) => e.message),
    ['listener bug'],
  );
  t.is(r.updates, 1);
  r.close();
});

test('connectResolver: once a listener closes the connection, no listener hears anything more', async (t) => {
  // an 'update' listener closing (and then throwing): the other listeners do not hear that update, nor the error
  const r = connectResolver('static:///a:80,b:80', { reset: () => true });
  const heard: string[] = [];
  r.on('update', () => {
    heard.push('update 1');
    r.close();
    throw new Error('after close');
  });
  r.on('update', () => heard.push('update 2'));
  r.on('error', (e) => heard.push(`error ${e.message}`));
  await flush();
  t.deepEqual(heard, ['update 1']);
  // an 'error' listener closing: the other error listeners do not hear that error
  const s = connectResolver('static:///a:80,bad', { reset: () => true });
  const errors: string[] = [];
  s.on('error', () => {
    errors.push('error 1');
    s.close();
  });
  s.on('error', () => errors.push('error 2'));
  await flush();
  t.deepEqual(errors, ['error 1']);
});

// switchyard/lite (bindings/lite.ts): the same API with lean defaults. Names resolve only once registered
// (round_robin and static:/// always), createFetch builds no health checks, and a registration serves both
// entries. Runs in its own process (ava), so the registrations below touch no other test file.
import test from 'ava';
import { execFileSync } from 'node:child_process';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
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
  t.is(lb.backend, 'js', 'round_robin alone keeps the state table in JS: no balancing module in the bundle');
  t.deepEqual(lite.policyNames(), ['round_robin']);
  const f = lite.createFetch({ target: 'static:///10.0.0.1:80,10.0.0.2:80', clock: new VirtualClock() });
  t.is(f.detector, undefined, 'no outlier detection in lite');
  t.is(f.resolver?.target, 'static:///10.0.0.1:80,10.0.0.2:80');
  f.close();
});

test('lite: priorities, localities and a WASM table need their registration, with a TypeError saying which', (t) => {
  t.throws(() => new lite.Balancer({ endpoints: ['a:80', { id: 'b:80', priority: 1 }] }), {
    instanceOf: TypeError,
    message:
      /^endpoints\[1\]\.priority must be 0 without priority routing \(registerPriorityRouting\(\) from switchyard\/lite\), got 1/,
  });
  const lb = new lite.Balancer({ endpoints: ['a:80'] });
  t.throws(() => lb.add({ id: 'c:80', locality: 'eu/eu-1/' }), {
    instanceOf: TypeError,
    message: /^endpoint\.locality must be absent without priority routing/,
  });
  t.false(lb.reset(['a:80']), 'a refused change leaves the members as they were');
  t.deepEqual(
    lb.members.map((m) => m.id),
    ['a:80'],
  );
  t.throws(() => new lite.Balancer({ priority: { overprovisioningFactor: 2 } }), {
    instanceOf: TypeError,
    message: /^priority must be absent without priority routing/,
  });
  t.throws(() => new lite.Balancer({ backend: 'wasm' }), {
    instanceOf: TypeError,
    message: /^backend must be 'js' without the balancing module \(switchyard\/lite: registerBalancingWasm\(\)/,
  });
  t.throws(() => new lite.Balancer({ backend: 'gpu' as never }), {
    instanceOf: RangeError,
    message: /^backend must be/,
  });
  // the complete Balancer always has both
  const full1 = new full.Balancer({ endpoints: ['a:80', { id: 'b:80', priority: 1 }] });
  t.is(full1.stats().levels?.length, 2);
  t.is(full1.backend, 'wasm');
});

test('lite: a policy with run-time weights needs registerRunTimeWeights(); then slow start applies', (t) => {
  const clock = new VirtualClock();
  const slowStart = { windowMs: 1000, aggression: 1, minWeightPercent: 10 };
  // a Policy object runs in one Balancer: one per Balancer
  const weightedRr = () => {
    const rr = lite.roundRobinPolicy.create(lite.roundRobinPolicy.parse({}, 'policy'));
    return Object.assign(Object.create(rr) as typeof rr, { weighting: { updatePeriodMs: 100, slowStart } });
  };
  const weighted = weightedRr();
  const lb = new lite.Balancer({ endpoints: ['a:80'], clock });
  const before = lb.policy;
  t.throws(() => lb.setPolicy(weighted), {
    instanceOf: TypeError,
    message: /^policy\.weighting must be absent without registerRunTimeWeights\(\) \(switchyard\/lite\)/,
  });
  t.is(lb.policy, before, 'the current policy is kept');
  t.throws(() => new lite.Balancer({ policy: weighted }), { instanceOf: TypeError, message: /^policy\.weighting/ });
  lite.registerRunTimeWeights();
  const ok = new lite.Balancer({ policy: weighted, endpoints: ['a:80'], clock });
  const ref = new full.Balancer({ policy: weightedRr(), endpoints: ['a:80'], clock });
  for (const b of [ok, ref]) b.add('b:80'); // added after the first list: it ramps up
  clock.tick(500);
  ok.refresh();
  ref.refresh();
  t.is(ok.stats().members[1]!.weight, 0.5, 'half way through the slow-start window');
  t.deepEqual(
    ok.stats().members.map((m) => m.weight),
    ref.stats().members.map((m) => m.weight),
  );
});

test('lite: registerPriorityRouting() routes priorities as the complete Balancer does', (t) => {
  lite.registerPriorityRouting();
  const eps = [
    { id: 'a:80', priority: 0 },
    { id: 'b:80', priority: 1, locality: 'eu/eu-1/' },
  ];
  const lb = new lite.Balancer({ endpoints: eps, priority: { overprovisioningFactor: 1 }, panicThresholdPercent: 0 });
  const ref = new full.Balancer({ endpoints: eps, priority: { overprovisioningFactor: 1 }, panicThresholdPercent: 0 });
  for (const b of [lb, ref]) b.setAvailable('a:80', false);
  t.deepEqual(lb.stats().levels, ref.stats().levels);
  const p = lb.pick();
  t.true(p.type === 'pick' && p.member.id === 'b:80', 'level 0 down: priority 1 serves');
  t.is(lb.backend, 'js', 'priority routing does not bring the WASM table');
});

test('lite: a policy or scheme that was not registered is a RangeError/TypeError naming the field', (t) => {
  t.throws(() => new lite.Balancer({ policy: 'least_request' }), {
    instanceOf: RangeError,
    message: /^policy must be a registered policy \(round_robin; registerPolicy\(\) adds others\), got "least_request"/,
  });
  t.throws(() => lite.createBalancer({ loadBalancingConfig: [{ round_robin: {} }] }), {
    instanceOf: TypeError,
    message: /^loadBalancingConfig must be absent without registerServiceConfigs\(\) \(switchyard\/lite\)/,
  });
  const plain = new lite.Balancer({ endpoints: ['a:80'] });
  t.regex(String(plain.applyServiceConfig({ loadBalancingConfig: [{ round_robin: {} }] })), /registerServiceConfigs/);
  t.throws(() => lite.createFetch({ endpoints: ['a:80'], hedge: { delayMs: 5 } }), {
    instanceOf: TypeError,
    message: /^hedge must be absent without registerHedging\(\) \(switchyard\/lite\)/,
  });
  t.throws(() => lite.createFetch({ endpoints: ['a:80'], instrumentation: { request: () => undefined } }), {
    instanceOf: TypeError,
    message: /^instrumentation must be absent without registerInstrumentation\(\) \(switchyard\/lite\)/,
  });
  t.throws(() => lite.createResolver('consul:///api', { onEndpoints: () => {}, onError: () => {} }), {
    instanceOf: TypeError,
    message: /^target scheme must be one of static \(registerResolver\(\) adds others\), got "consul"/,
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
  lite.registerServiceConfigs(); // for Balancers created afterwards
  const lb = new lite.Balancer({ policy: { peak_ewma: { decay: '5s' } }, endpoints: ['a:80'] });
  t.is(lb.policy.name, 'peak_ewma');
  t.is(lb.backend, 'wasm', 'a registered built-in brings the balancing module, as in the complete entry');
  t.throws(() => lite.createBalancer({ loadBalancingConfig: [{ maglev: {} }] }), {
    instanceOf: RangeError,
    message: /^loadBalancingConfig must .*registered policy/,
  });
  t.is(lb.applyServiceConfig({ loadBalancingConfig: [{ ketama: {} }, { peak_ewma: {} }] }), null);
  // hedging and instrumentation once registered
  lite.registerHedging();
  lite.registerInstrumentation();
  const scopes: string[] = [];
  const f = lite.createFetch({
    endpoints: ['a:80', 'b:80'],
    hedge: { delayMs: 1 },
    fetch: async () => new Response('ok'),
    instrumentation: { request: () => (scopes.push('request'), undefined) },
  });
  t.is(typeof f, 'function');
  f.close();
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

// HashRing without the pure-TS fallback, in child processes (a registration is global: a switchyard HashRing
// made here registers it). `blocked` imports an entry, then blocks WebAssembly as a CSP without
// 'wasm-unsafe-eval' does (compiling throws a CompileError; nothing compiles at import time).
function child(entry: 'lite' | 'index', script: string, block = true): Record<string, unknown> {
  const url = pathToFileURL(resolve(import.meta.dirname, `../../bindings/${entry}.ts`)).href;
  const code = `const sy = await import(${JSON.stringify(url)});
    const refuse = () => new WebAssembly.CompileError('WebAssembly.Module(): Wasm code generation disallowed by embedder');
    if (${block}) {
      WebAssembly.Module = class { constructor() { throw refuse(); } };
      WebAssembly.compile = WebAssembly.instantiate = async () => { throw refuse(); };
    }
    const fails = (f) => { try { f(); return null; } catch (e) { return e.constructor.name + ': ' + e.message; } };
    const members = ['a', { id: 'b', weight: 2 }, 'c', 'd'], keys = Array.from({ length: 500 }, (_, i) => 'key:' + i);
    const owners = (options) => { sy.registerRingExtras?.(); const r = new sy.HashRing(members, options); return [r.backend, r.getMany(keys), r.preference('k', 3)]; };
    ${script}`;
  const out = execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], {
    encoding: 'utf8',
  });
  return JSON.parse(out.trim().split('\n').at(-1)!);
}

const ringMembers = ['a', { id: 'b', weight: 2 }, 'c', 'd'];
const ringKeys = Array.from({ length: 500 }, (_, i) => `key:${i}`);
const wasmOwners = (options: lite.HashRingOptions) => {
  const r = new lite.HashRing(ringMembers, options);
  return [r.backend, r.getMany(ringKeys), r.preference('k', 3)];
};

test('lite: HashRing runs on WebAssembly and routes as the complete entry does', (t) => {
  const r = new lite.HashRing(ringMembers);
  t.is(r.backend, 'wasm');
  t.deepEqual(r.getMany(ringKeys), new full.HashRing(ringMembers).getMany(ringKeys));
  t.true(new full.HashRing() instanceof lite.HashRing, "switchyard's HashRing is lite's with the fallback");
});

test('lite: without WebAssembly a HashRing is a TypeError naming registerJsFallback(); then it routes as in WASM', (t) => {
  const out = child(
    'lite',
    `const before = { ring: fails(() => new sy.HashRing(['a'])), js: fails(() => new sy.HashRing(['a'], { backend: 'js' })),
       wasm: fails(() => new sy.HashRing(['a'], { backend: 'wasm' })), backend: sy.backend() };
     sy.registerJsFallback();
     console.log(JSON.stringify({ before, x32: owners({ vnodes: 100 }), x64: owners({ hash: 'xxh64', seed: 2n ** 63n + 5n }) }));`,
  );
  const refused =
    /^TypeError: backend must be 'wasm' without the pure-TypeScript fallback \(registerJsFallback\(\) from switchyard\/lite\), got "js": WebAssembly is unavailable \(CompileError: .*disallowed by embedder\)$/;
  const before = out.before as Record<string, string>;
  t.is(before.backend, 'js');
  t.regex(before.ring!, refused);
  t.regex(before.js!, refused);
  t.regex(before.wasm!, /^Error: switchyard: WebAssembly backend unavailable/, "'wasm' where it is blocked: as before");
  const x32 = wasmOwners({ vnodes: 100 });
  const x64 = wasmOwners({ hash: 'xxh64', seed: 2n ** 63n + 5n });
  t.is(x32[0], 'wasm');
  t.deepEqual(out.x32, ['js', ...x32.slice(1)]);
  t.deepEqual(out.x64, ['js', ...x64.slice(1)]);
});

test("lite: backend 'js' without registerJsFallback() is the same TypeError where WebAssembly works", (t) => {
  const out = child(
    'lite',
    `console.log(JSON.stringify({ js: fails(() => new sy.HashRing(['a'], { backend: 'js' })), x32: owners({}) }));`,
    false,
  );
  t.regex(
    String(out.js),
    /^TypeError: backend must be 'wasm' without the pure-TypeScript fallback \(registerJsFallback\(\) from switchyard\/lite\), got "js"$/,
  );
  t.deepEqual(out.x32, wasmOwners({}));
});

test("switchyard's HashRing falls back to the pure-TS core by itself, as before", (t) => {
  const out = child('index', `console.log(JSON.stringify({ backend: sy.backend(), x32: owners({}) }));`);
  t.is(out.backend, 'js');
  t.deepEqual(out.x32, ['js', ...wasmOwners({}).slice(1)]);
});

test('lite: preference and stats need registerRingExtras(); batches answer the same with and without it', (t) => {
  const out = child(
    'lite',
    `const hashes = Uint32Array.from(keys, (_, i) => (i * 2654435761) >>> 0);
     const bytes = new TextEncoder().encode(keys.join('')), offsets = new Uint32Array(keys.length + 1);
     keys.forEach((k, i) => (offsets[i + 1] = offsets[i] + k.length));
     const batches = (r) => [r.getMany(keys), Object.fromEntries(r.group(keys)), [...r.getManyByHash(hashes)], [...r.getManyBytes(bytes, offsets)]];
     // xxh64 rings on WebAssembly come with the registration: their batches are checked against single lookups
     const loops = (r) => [keys.map((k) => r.get(k)), [...hashes].map((h) => r.members.indexOf(r.getByHash(h))), keys.map((k) => r.getIndex(new TextEncoder().encode(k)))];
     const r = new sy.HashRing(members);
     const before = { preference: fails(() => r.preference('k', 3)), stats: fails(() => r.stats()), x32: batches(r) };
     sy.registerRingExtras();
     const r64 = new sy.HashRing(members, { hash: 'xxh64', seed: 7 });
     console.log(JSON.stringify({ before, x32: batches(r), x64: batches(r64), x64loops: loops(r64), preference: r.preference('k', 3), points: r.stats().points }));`,
    false,
  );
  const before = out.before as Record<string, unknown>;
  t.is(before.preference, 'TypeError: preference() needs registerRingExtras() from switchyard/lite');
  t.is(before.stats, 'TypeError: stats() needs registerRingExtras() from switchyard/lite');
  t.deepEqual(before.x32, out.x32, 'xxh32: loops of single lookups answer as the WASM batches');
  const x64 = out.x64 as unknown[];
  t.deepEqual(out.x64loops, [x64[0], x64[2], x64[3]], 'xxh64: the WASM batches answer as single lookups');
  const full32 = new full.HashRing(ringMembers);
  t.deepEqual((out.x32 as unknown[])[0], full32.getMany(ringKeys));
  t.deepEqual(out.preference, full32.preference('k', 3));
  t.is(out.points, full32.stats().points);
});

test("lite: hash 'xxh64' on WebAssembly needs registerRingExtras(), a TypeError from the constructor; then it routes as switchyard's", (t) => {
  const out = child(
    'lite',
    `const x64 = String(sy.xxh64('key', 7)); // the function needs no registration, and gives none to HashRing
     const before = { empty: fails(() => new sy.HashRing([], { hash: 'xxh64' })),
       ring: fails(() => new sy.HashRing(members, { hash: 'xxh64', seed: 7 })), x32: owners32() };
     sy.registerJsFallback();
     const js = new sy.HashRing(members, { hash: 'xxh64', seed: 7, backend: 'js' }).getMany(keys);
     sy.registerRingExtras();
     const r = new sy.HashRing(members, { hash: 'xxh64', seed: 7 }), empty = new sy.HashRing([], { hash: 'xxh64' });
     console.log(JSON.stringify({ x64, before, js, after: [r.backend, r.getMany(keys), keys.map((k) => r.get(k)), r.preference('k', 3), empty.get('k') ?? null] }));
     function owners32() { const r = new sy.HashRing(members); return [r.backend, keys.map((k) => r.get(k))]; }`,
    false,
  );
  const refused = "TypeError: hash 'xxh64' needs registerRingExtras() from switchyard/lite";
  const before = out.before as Record<string, unknown>;
  t.is(before.empty, refused, 'refused by the constructor, members or not');
  t.is(before.ring, refused);
  const ref32 = new full.HashRing(ringMembers);
  t.deepEqual(before.x32, ['wasm', ringKeys.map((k) => ref32.get(k))], 'xxh32 rings need no registration');
  t.is(out.x64, String(full.xxh64('key', 7)));
  const ref = new full.HashRing(ringMembers, { hash: 'xxh64', seed: 7 });
  t.deepEqual(out.js, ref.getMany(ringKeys), "the 'js' backend needs only registerJsFallback()");
  t.deepEqual(out.after, [
    'wasm',
    ref.getMany(ringKeys),
    ringKeys.map((k) => ref.get(k)),
    ref.preference('k', 3),
    null,
  ]);
});

test('lite: a Balancer’s stats(), pickIndex() and completeIndex() need registerBalancerExtras(), a TypeError naming it; then they work as in switchyard', (t) => {
  const out = child(
    'lite',
    `const lb = new sy.Balancer({ endpoints: ['a:80', 'b:80', 'c:80'], random: () => 0.4 });
     const p = lb.pickOrThrow(); p.handle.done({ ok: false });
     const before = { stats: fails(() => lb.stats()), pickIndex: fails(() => lb.pickIndex()), completeIndex: fails(() => lb.completeIndex(0, true)) };
     sy.registerBalancerExtras();
     const rows = [lb.pickIndex(), lb.pickIndex()];
     const inFlight = lb.stats().members.map((m) => m.active);
     lb.completeIndex(rows[0], true); lb.completeIndex(rows[1], false);
     const s = lb.stats();
     const bad = fails(() => lb.completeIndex(3, true));
     lb.close();
     console.log(JSON.stringify({ before, first: p.member.id, rows, inFlight, s, bad, closed: fails(() => lb.completeIndex(0, true)) }));`,
    false,
  );
  const before = out.before as Record<string, unknown>;
  for (const m of ['stats', 'pickIndex', 'completeIndex'])
    t.is(before[m], `TypeError: ${m}() needs registerBalancerExtras() from switchyard/lite`);
  // the same picks and counts from switchyard's Balancer
  const ref = new full.Balancer({ endpoints: ['a:80', 'b:80', 'c:80'], random: () => 0.4 }); // the same start
  const p = ref.pickOrThrow();
  p.handle.done({ ok: false });
  t.is(out.first, p.member.id);
  const rows = [ref.pickIndex(), ref.pickIndex()];
  t.deepEqual(out.rows, rows);
  t.deepEqual(
    out.inFlight,
    ref.stats().members.map((m) => m.active),
  );
  ref.completeIndex(rows[0]!, true);
  ref.completeIndex(rows[1]!, false);
  const s = ref.stats();
  t.deepEqual({ ...(out.s as object), backend: s.backend }, s, 'the same stats, but for the state table’s home');
  t.is((out.s as typeof s).backend, 'js');
  t.regex(String(out.bad), /^RangeError: index must be a member index < 3, got 3/);
  t.is(out.closed, null, 'a closed Balancer ignores completeIndex, as a handle’s done()');
  ref.close();
});

// The resolver contract (async delivery, last good list kept, refresh rate limit, close), target parsing,
// the static resolver, DNS scheduling on a VirtualClock with a scripted lookup, the DoH JSON lookup against
// a loopback server, and the Balancer wiring. Endpoint parsing and equality: endpoint.test.ts.
import test from 'ava';
import { createServer, type Server } from 'node:http';
import { fileURLToPath } from 'node:url';
import { VirtualClock } from '../../bindings/util/clock.js';
import type { EndpointInput } from '../../bindings/util/endpoint.js';
import { createResolver, parseTarget } from '../../bindings/discovery/resolver.js';
import { StaticResolver } from '../../bindings/discovery/static.js';
import { DnsResolver, type DnsLookup } from '../../bindings/discovery/dns.js';
import { dohLookup } from '../../bindings/discovery/doh.js';
import { parseEtcdValue } from '../../bindings/discovery/etcd/members.js';
import { prefixRangeEnd, encodeKey } from '../../bindings/discovery/etcd/client.js';
import { connectResolver } from '../../bindings/discovery/connect.js';
import { recorder } from '../helpers/resolver.js';

async function flush(): Promise<void> {
  for (let i = 0; i < 20; i++) await new Promise<void>((r) => setImmediate(r));
}

test('parseTarget splits scheme, authority, path and query; malformed targets are TypeErrors naming target', (t) => {
  t.deepEqual(
    { ...parseTarget('consul://10.0.0.1:8500/api?passing=true&tag=x'), query: undefined },
    { scheme: 'consul', authority: '10.0.0.1:8500', path: 'api', query: undefined },
  );
  t.is(parseTarget('etcd:///prefix/service-name').path, 'prefix/service-name');
  t.is(parseTarget('consul:///api?tag=a&tag=b').query.getAll('tag').join(), 'a,b');
  for (const bad of ['', 'static:/a:80', 'no-scheme', '://x/y', 'dns:///%zz', 42 as unknown as string]) {
    const e = t.throws(() => parseTarget(bad), { instanceOf: TypeError });
    t.regex(e.message, /^target must be/);
  }
  t.throws(() => createResolver('gopher:///x', recorder().listener), { instanceOf: TypeError, message: /scheme/ });
});

test('static: delivery is asynchronous, never from the constructor; set() replaces; close() silences', async (t) => {
  const r = recorder();
  const s = new StaticResolver(['a:80', 'b:80'], r.listener);
  t.is(r.lists.length, 0, 'nothing synchronously');
  await flush();
  t.deepEqual(r.ids(), ['a:80', 'b:80']);
  s.refresh();
  await flush();
  t.is(r.lists.length, 1, 'an identical list is not re-reported');
  s.set(['b:80', 'c:80', 'c:80']);
  t.is(r.lists.length, 1);
  await flush();
  t.deepEqual(r.ids(), ['b:80', 'c:80']);
  t.is(r.errors.length, 1);
  s.close();
  s.set(['z:1']);
  await flush();
  t.is(r.lists.length, 2);
});

test('createResolver static:/// target; a throwing listener does not break later deliveries', async (t) => {
  const seen: string[][] = [];
  const errors: string[] = [];
  let first = true;
  const r = createResolver('static:///a:80,[::1]:81', {
    onEndpoints(l) {
      seen.push(l.map((e) => e.id));
      if (first) {
        first = false;
        throw new Error('listener bug');
      }
    },
    onError: (e) => errors.push(e.message),
  }) as StaticResolver;
  await flush();
  r.set(['x:1']);
  await flush();
  t.deepEqual(seen, [['a:80', '[::1]:81'], ['x:1']]);
  t.deepEqual(errors, ['listener bug'], 'an exception from onEndpoints goes to onError');
  r.close();
});

test('a listener that closes the resolver, then throws, hears nothing more (no onError after close())', async (t) => {
  const calls: string[] = [];
  const s: StaticResolver = new StaticResolver(['a:80'], {
    onEndpoints() {
      calls.push('endpoints');
      s.close();
      throw new Error('after close');
    },
    onError: (e) => calls.push(`error ${e.message}`),
  });
  await flush();
  t.deepEqual(calls, ['endpoints']);
});

test('a throwing onError is not handed its own exception, minified too (function names are not kept)', async (t) => {
  const { build } = await import('esbuild');
  const out = await build({
    stdin: {
      contents: "export { StaticResolver } from './bindings/discovery/static.ts'",
      resolveDir: fileURLToPath(new URL('../..', import.meta.url)),
      loader: 'ts',
    },
    bundle: true,
    minify: true,
    write: false,
    format: 'esm',
    logLevel: 'silent',
  });
  const url = `data:text/javascript;base64,${Buffer.from(out.outputFiles[0]!.contents).toString('base64')}`;
  const bundled = (await import(url)) as { StaticResolver: typeof StaticResolver };
  for (const Static of [StaticResolver, bundled.StaticResolver]) {
    const seen: string[] = [];
    const s = new Static(['a:80', 'b:0'], {
      onEndpoints: () => {},
      onError(e) {
        seen.push(e.message);
        throw new Error('handler bug');
      },
    });
    await flush();
    t.deepEqual(seen, ['endpoints[1] port must be an integer in [1, 65535], got 0']);
    s.close();
  }
});

test('static://a:80,b:80/ (two slashes: the members would be the authority and the list empty) is a RangeError naming the target', (t) => {
  const listener = { onEndpoints: () => {}, onError: () => {} };
  t.throws(() => createResolver('static://a:80,b:80/', listener), {
    instanceOf: RangeError,
    message: /^target must be static:\/\/\/host:port,\.\.\. \(members in the path\), got "static:\/\/a:80,b:80\/"$/,
  });
  t.throws(() => createResolver('static://x/a:80', listener), { instanceOf: RangeError, message: /^target/ });
  createResolver('static:///a:80', listener).close();
  t.pass();
});

test('wiring: each list becomes balancer.reset(list); errors keep the membership', async (t) => {
  const resets: string[][] = [];
  const errors: Error[] = [];
  const balancer = {
    members: [] as string[],
    reset(list: EndpointInput[]) {
      const ids = list.map((e) => (typeof e === 'string' ? e : e.id!));
      const changed = ids.join() !== this.members.join();
      this.members = ids;
      resets.push(ids);
      return changed;
    },
  };
  const r = connectResolver('static:///a:80,b:80,bad', balancer, { onError: (e) => errors.push(e) });
  await flush();
  t.deepEqual(balancer.members, ['a:80', 'b:80']);
  t.is(errors.length, 1);
  (r.resolver as StaticResolver).set(['b:80']);
  await flush();
  t.deepEqual(resets, [['a:80', 'b:80'], ['b:80']]);
  r.close();
  t.throws(() => connectResolver('static:///a:1', {} as never), { instanceOf: TypeError, message: /balancer/ });
});

function scriptedLookup() {
  const state = {
    a: new Map<string, string[] | Error>(),
    aaaa: new Map<string, string[] | Error>(),
    srv: new Map<string, Array<{ name: string; port: number; priority: number; weight: number }> | Error>(),
    ttlS: 60,
    calls: 0,
  };
  const err = (code: string) => Object.assign(new Error(code), { code });
  const get = <T>(m: Map<string, T | Error>, name: string): T => {
    state.calls++;
    const v = m.get(name);
    if (v === undefined) throw err('ENODATA');
    if (v instanceof Error) throw v;
    return v;
  };
  const lookup: DnsLookup = {
    a: async (n) => get(state.a, n).map((address) => ({ address, ttlS: state.ttlS })),
    aaaa: async (n) => get(state.aaaa, n).map((address) => ({ address, ttlS: state.ttlS })),
    srv: async (n) => get(state.srv, n),
  };
  return { state, lookup, err };
}

test('dns: TTL drives re-resolution, clamped to [minTtlMs, maxTtlMs]; failures keep the last list', async (t) => {
  const clock = new VirtualClock(0);
  const { state, lookup, err } = scriptedLookup();
  state.a.set('svc', ['10.0.0.2', '10.0.0.1']);
  state.aaaa.set('svc', ['::1']);
  const r = recorder();
  const d = new DnsResolver(
    { target: 'svc:8080', lookup, clock, minTtlMs: 30_000, maxTtlMs: 120_000, initialBackoffMs: 1000 },
    r.listener,
  );
  t.is(r.lists.length, 0);
  await clock.advance(0);
  t.deepEqual(r.ids(), ['10.0.0.1:8080', '10.0.0.2:8080', '[::1]:8080']);
  t.is(d.resolutions, 1);
  // TTL 60 s: nothing at 59.999 s, a re-resolution at 60 s.
  state.a.set('svc', ['10.0.0.3']);
  await clock.advance(59_999);
  t.is(d.resolutions, 1);
  await clock.advance(1);
  t.is(d.resolutions, 2);
  t.deepEqual(r.ids(), ['10.0.0.3:8080', '[::1]:8080']);
  // TTL 0 is floored at 30 s, TTL 1 day capped at 120 s.
  state.ttlS = 0;
  await clock.advance(60_000);
  t.is(d.resolutions, 3);
  await clock.advance(29_999);
  t.is(d.resolutions, 3);
  await clock.advance(1);
  t.is(d.resolutions, 4);
  state.ttlS = 86_400;
  await clock.advance(30_000);
  t.is(d.resolutions, 5);
  await clock.advance(120_000);
  t.is(d.resolutions, 6);
  // NXDOMAIN: error, last list kept, retries back off 1 s, 2 s, 4 s.
  const listsBefore = r.lists.length;
  state.a.set('svc', err('ENOTFOUND'));
  state.aaaa.set('svc', err('ENOTFOUND'));
  await clock.advance(120_000);
  t.is(r.errors.length, 1);
  t.is((r.errors[0] as Error & { code: string }).code, 'ENOTFOUND');
  await clock.advance(1000);
  t.is(r.errors.length, 2);
  await clock.advance(1999);
  t.is(r.errors.length, 2);
  await clock.advance(1);
  t.is(r.errors.length, 3);
  t.is(r.lists.length, listsBefore, 'no empty list reported');
  state.a.set('svc', ['10.0.0.3']);
  state.aaaa.set('svc', ['::1']);
  await clock.advance(4000);
  t.deepEqual(r.ids(), ['10.0.0.3:8080', '[::1]:8080'], 'the same list is re-reported after errors');
  t.is(r.lists.length, listsBefore + 1);
  d.close();
  t.is(clock.pending, 0, 'close() clears every timer');
});

test('dns: back-off takes the fetch retry options (initialBackoffMs, backoffMultiplier, maxBackoffMs)', async (t) => {
  const clock = new VirtualClock(0);
  const { state, lookup, err } = scriptedLookup();
  state.a.set('svc', err('ENOTFOUND'));
  state.aaaa.set('svc', err('ENOTFOUND'));
  const r = recorder();
  const opts = { target: 'svc:80', lookup, clock, initialBackoffMs: 100, backoffMultiplier: 3, maxBackoffMs: 500 };
  const d = new DnsResolver(opts, r.listener);
  // Every failure is reported when it happens; sample the error count every 50 ms of virtual time.
  const errorsAt: number[] = [];
  for (let step = 0; clock.now() < 1_500; step = 50) {
    await clock.advance(step);
    while (errorsAt.length < r.errors.length) errorsAt.push(clock.now());
  }
  t.deepEqual(errorsAt, [0, 100, 400, 900, 1400], 'waits 100, 300, then capped at 500');
  d.close();
  const l = recorder().listener;
  t.throws(() => new DnsResolver({ target: 'svc:80', initialBackoffMs: 0 }, l), {
    instanceOf: RangeError,
    message: /^initialBackoffMs/,
  });
  t.throws(() => new DnsResolver({ target: 'svc:80', initialBackoffMs: 10, maxBackoffMs: 5 }, l), {
    instanceOf: RangeError,
    message: /^maxBackoffMs/,
  });
});

test('dns: refresh() is rate-limited to one resolution per minRefreshIntervalMs', async (t) => {
  const clock = new VirtualClock(0);
  const { state, lookup } = scriptedLookup();
  state.a.set('svc', ['10.0.0.1']);
  const r = recorder();
  const d = new DnsResolver({ target: 'svc:80', lookup, clock, minRefreshIntervalMs: 10_000 }, r.listener);
  await clock.advance(0);
  t.is(d.resolutions, 1);
  for (let i = 0; i < 5; i++) d.refresh();
  await clock.advance(9_999);
  t.is(d.resolutions, 1);
  await clock.advance(1);
  t.is(d.resolutions, 2, 'the burst collapsed into one resolution at the end of the interval');
  await clock.advance(10_000);
  d.refresh();
  await flush();
  t.is(d.resolutions, 3, 'after the interval a refresh runs at once');
  d.close();
});

test('dns+srv: priorities and weights from SRV, weight 0 becomes 1, unresolvable targets skipped', async (t) => {
  const clock = new VirtualClock(0);
  const { state, lookup, err } = scriptedLookup();
  state.srv.set('_http._tcp.svc', [
    { name: 'b.svc', port: 81, priority: 10, weight: 5 },
    { name: 'a.svc', port: 80, priority: 0, weight: 0 },
    { name: '10.9.9.9', port: 82, priority: 0, weight: 3 },
    { name: 'gone.svc', port: 80, priority: 0, weight: 1 },
    { name: 'c.svc', port: 70000, priority: 0, weight: 1 },
  ]);
  state.a.set('a.svc', ['10.0.0.1']);
  state.a.set('b.svc', ['10.0.0.2']);
  state.a.set('c.svc', ['10.0.0.3']);
  state.a.set('gone.svc', err('ENOTFOUND'));
  state.aaaa.set('gone.svc', err('ENOTFOUND'));
  const r = recorder();
  const d = createResolver(
    { target: 'dns+srv:///_http._tcp.svc', lookup, clock } as Parameters<typeof createResolver>[0],
    r.listener,
  );
  await clock.advance(0);
  t.deepEqual(
    r.lists.at(-1)!.map((e) => [e.id, e.priority, e.weight]),
    [
      ['10.0.0.1:80', 0, 1],
      ['10.9.9.9:82', 0, 3],
      ['10.0.0.2:81', 10, 5],
    ],
  );
  t.deepEqual(
    r.errors.map((e) => e.constructor.name),
    ['Error', 'RangeError'],
    'NXDOMAIN target and port out of range',
  );
  d.close();
});

test('dns: bad options are typed errors naming the field', (t) => {
  const l = recorder().listener;
  t.throws(() => new DnsResolver({ target: 'svc' }, l), { instanceOf: TypeError, message: /^target must be/ });
  t.throws(() => new DnsResolver({ target: 'svc:0' }, l), { instanceOf: RangeError, message: /^target port/ });
  t.throws(() => new DnsResolver({ target: 'svc:80', minTtlMs: -1 }, l), {
    instanceOf: RangeError,
    message: /minTtlMs/,
  });
  t.throws(() => new DnsResolver({ target: 'svc:80', servers: ['1.2.3.4:99999'] }, l), {
    instanceOf: RangeError,
    message: /servers\[0\]/,
  });
  t.throws(() => createResolver('doh:///svc:80', l), { instanceOf: TypeError, message: /dohUrl/ });
});

test('etcd values: naming-convention JSON and host:port; non-JSON, missing ports, bad ports are typed errors', (t) => {
  t.deepEqual(parseEtcdValue('s/a', '{"Op":0,"Addr":"10.0.0.1:80","Metadata":{"weight":3,"zone":"b"}}'), {
    id: '10.0.0.1:80',
    host: '10.0.0.1',
    port: 80,
    weight: 3,
    priority: 0,
    metadata: { weight: 3, zone: 'b', key: 's/a' },
  });
  t.is(parseEtcdValue('s/a', '{"Op":1,"Addr":"10.0.0.1:80"}'), null);
  t.is(parseEtcdValue('s/b', '10.0.0.2:81')!.id, '10.0.0.2:81');
  t.throws(() => parseEtcdValue('s/c', '{not json'), { instanceOf: TypeError, message: /etcd value of "s\/c"/ });
  t.throws(() => parseEtcdValue('s/c', '{"Addr":5}'), { instanceOf: TypeError, message: /Addr/ });
  t.throws(() => parseEtcdValue('s/c', '10.0.0.3'), { instanceOf: TypeError, message: /port/ });
  t.throws(() => parseEtcdValue('s/c', '10.0.0.3:0'), { instanceOf: RangeError });
  t.throws(() => parseEtcdValue('s/c', '{"Op":0,"Addr":"h:1","Metadata":{"weight":0}}'), { instanceOf: RangeError });
  // Locality (Envoy's region/zone/subZone) from Metadata.locality, or region (+ zone, subZone); priority.
  const loc = (md: unknown) => parseEtcdValue('s/l', JSON.stringify({ Op: 0, Addr: '10.0.0.5:80', Metadata: md }));
  t.deepEqual(loc({ locality: 'us-east/us-east-1a', priority: 1 })!.locality, {
    region: 'us-east',
    zone: 'us-east-1a',
    subZone: '',
  });
  t.is(loc({ locality: 'us-east/us-east-1a', priority: 1 })!.priority, 1);
  t.deepEqual(loc({ locality: { region: 'eu', zone: 'eu-1b', subZone: 'rack7' } })!.locality, {
    region: 'eu',
    zone: 'eu-1b',
    subZone: 'rack7',
  });
  t.deepEqual(loc({ region: 'eu', zone: 'eu-1c' })!.locality, { region: 'eu', zone: 'eu-1c', subZone: '' });
  t.is(loc({ zone: 'eu-1c' })!.locality, undefined, 'a zone without a region stays metadata');
  t.is(loc({})!.locality, undefined);
  // Bad values skip the entry with a typed error naming the key and the field (never a silent default).
  t.throws(() => loc({ locality: 'a/b/c/d' }), { instanceOf: RangeError, message: /^etcd value of "s\/l"\.locality/ });
  t.throws(() => loc({ locality: { region: 'eu', planet: 'earth' } }), {
    instanceOf: RangeError,
    message: /locality\.planet/,
  });
  t.throws(() => loc({ region: 7 }), { instanceOf: TypeError, message: /locality\.region must be a string/ });
  t.throws(() => loc({ priority: -1 }), { instanceOf: RangeError, message: /\.priority/ });
  t.throws(() => loc({ priority: '1' }), { instanceOf: TypeError, message: /\.priority/ });
  t.throws(() => loc({ weight: '3' }), { instanceOf: TypeError, message: /\.weight/ });
  t.throws(() => loc([1]), { instanceOf: TypeError, message: /\.Metadata must be an object/ });
  t.is(prefixRangeEnd('a/'), encodeKey('a0'));
  t.is(
    Buffer.from(prefixRangeEnd('a\xff'), 'base64').toString('latin1'),
    'a\xc3\xc0',
    'UTF-8 bytes, last one incremented',
  );
});

async function listen(handler: Parameters<typeof createServer>[1]): Promise<{ server: Server; url: string }> {
  const server = createServer(handler);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const addr = server.address() as { port: number };
  return { server, url: `http://127.0.0.1:${addr.port}` };
}

test('doh: JSON answers for A, AAAA and SRV; NXDOMAIN keeps the last list; HTTP 500 is an error', async (t) => {
  const zone: Record<string, { Status: number; Answer?: unknown[] }> = {
    'A svc.example': {
      Status: 0,
      Answer: [
        { name: 'svc.example', type: 5, TTL: 30, data: 'real.example.' },
        { name: 'real.example', type: 1, TTL: 30, data: '10.0.0.1' },
      ],
    },
    'AAAA svc.example': { Status: 0, Answer: [] },
    'SRV _h._tcp.svc.example': {
      Status: 0,
      Answer: [
        { name: '_h._tcp.svc.example', type: 33, TTL: 30, data: '1 7 8080 svc.example.' },
        { name: '_h._tcp.svc.example', type: 33, TTL: 30, data: 'garbage' },
      ],
    },
  };
  let fail500 = false;
  const accepts: string[] = [];
  const { server, url } = await listen((req, res) => {
    const u = new URL(req.url!, 'http://x');
    accepts.push(String(req.headers.accept));
    if (fail500) {
      res.writeHead(500).end('oops');
      return;
    }
    const ans = zone[`${u.searchParams.get('type')} ${u.searchParams.get('name')}`] ?? { Status: 3 };
    res.writeHead(200, { 'content-type': 'application/dns-json' }).end(JSON.stringify(ans));
  });
  t.teardown(() => server.close());
  const r = recorder();
  const d = createResolver(
    { target: 'doh:///svc.example:443', dohUrl: `${url}/dns-query`, minTtlMs: 50, maxTtlMs: 100 },
    r.listener,
  );
  for (let i = 0; i < 200 && r.lists.length === 0; i++) await new Promise((res) => setTimeout(res, 10));
  t.deepEqual(r.ids(), ['10.0.0.1:443']);
  t.true(accepts.every((a) => a === 'application/dns-json'));
  fail500 = true;
  for (let i = 0; i < 300 && r.errors.length === 0; i++) await new Promise((res) => setTimeout(res, 10));
  t.regex(r.errors[0]!.message, /HTTP 500/);
  t.deepEqual(r.ids(), ['10.0.0.1:443']);
  d.close();

  fail500 = false;
  const lookup = dohLookup({ url });
  t.deepEqual(await lookup.srv('_h._tcp.svc.example'), [
    { priority: 1, weight: 7, port: 8080, name: 'svc.example', ttlS: 30 },
  ]);
  await t.throwsAsync(lookup.a('nope.example'), { message: /ENOTFOUND/ });
  await t.throwsAsync(lookup.aaaa('svc.example'), { message: /no AAAA/ });
  t.throws(() => dohLookup({ url: 'ftp://x' }), { instanceOf: TypeError, message: /dohUrl/ });
});

test('a DoH server that stalls fails the query with ETIMEOUT after queryTimeoutMs, and the resolver keeps its list', async (t) => {
  let stall = false;
  const held: import('node:http').ServerResponse[] = [];
  const { server, url } = await listen((req, res) => {
    if (stall) {
      held.push(res); // never answered: headers never come
      return;
    }
    const type = new URL(req.url!, 'http://x').searchParams.get('type');
    const ans =
      type === 'A' ? { Status: 0, Answer: [{ name: 's.example', type: 1, TTL: 1, data: '10.0.0.9' }] } : { Status: 0 };
    res.writeHead(200, { 'content-type': 'application/dns-json' }).end(JSON.stringify(ans));
  });
  t.teardown(() => {
    for (const res of held) res.destroy();
    server.close();
  });
  const r = recorder();
  const d = createResolver(
    { target: 'doh:///s.example:80', dohUrl: url, queryTimeoutMs: 100, minTtlMs: 20, maxTtlMs: 40 },
    r.listener,
  );
  for (let i = 0; i < 200 && r.lists.length === 0; i++) await new Promise((res) => setTimeout(res, 10));
  t.deepEqual(r.ids(), ['10.0.0.9:80']);
  stall = true;
  for (let i = 0; i < 300 && r.errors.length === 0; i++) await new Promise((res) => setTimeout(res, 10));
  t.regex(r.errors[0]!.message, /ETIMEOUT|no answer within 100 ms/);
  t.deepEqual(r.ids(), ['10.0.0.9:80']);
  d.close();

  const lookup = dohLookup({ url, queryTimeoutMs: 50 });
  const e = await t.throwsAsync(lookup.a('s.example'));
  t.is((e as Error & { code?: string }).code, 'ETIMEOUT');
  t.regex(e!.message, /no answer within 50 ms for A s\.example/);
  t.throws(() => dohLookup({ url, queryTimeoutMs: -1 }), { instanceOf: RangeError, message: /queryTimeoutMs/ });
  t.throws(() => dohLookup({ url, queryTimeoutMs: '5' as never }), {
    instanceOf: TypeError,
    message: /queryTimeoutMs/,
  });
});

test('renamed options are TypeErrors naming the old field, never silently ignored', (t) => {
  const r = recorder();
  const dns = (extra: object) => () =>
    new DnsResolver({ target: 'example.test:80', lookup: async () => [], ...extra } as never, r.listener);
  t.throws(dns({ errorBackoffMs: 10 }), { instanceOf: TypeError, message: /errorBackoffMs .*initialBackoffMs.*10/ });
  t.throws(dns({ backoffMs: 10 }), { instanceOf: TypeError, message: /backoffMs .*initialBackoffMs.*10/ });
  t.throws(dns({ timers: {} }), { instanceOf: TypeError, message: /timers .*renamed clock/ });
  t.throws(() => createResolver({ target: 'consul:///api', backoffMs: 5 } as never, r.listener), {
    instanceOf: TypeError,
    message: /backoffMs .*initialBackoffMs/,
  });
});

test('dns: a record without a usable TTL (missing, NaN, negative, a string) waits minTtlMs, never loops', async (t) => {
  const records: unknown[] = [
    { address: '10.0.0.1' },
    { address: '10.0.0.1', ttlS: NaN },
    { address: '10.0.0.1', ttlS: -5 },
    { address: '10.0.0.1', ttlS: '30' },
  ];
  for (const rec of records) {
    const clock = new VirtualClock(0);
    let calls = 0;
    // After 20 calls a valid long TTL ends what would otherwise be an endless loop at one instant.
    const lookup = {
      a: async () => (++calls > 20 ? [{ address: '10.0.0.1', ttlS: 3600 }] : [rec]),
      aaaa: async () => [],
      srv: async () => [],
    } as unknown as DnsLookup;
    const r = recorder();
    const d = new DnsResolver({ target: 'svc:80', lookup, clock, minTtlMs: 5000 }, r.listener);
    await clock.advance(0);
    t.is(calls, 1, `one lookup for ${JSON.stringify(rec)}`);
    t.deepEqual(r.ids(), ['10.0.0.1:80']);
    await clock.advance(4999);
    t.is(calls, 1);
    await clock.advance(1);
    t.is(calls, 2, 'the next one at minTtlMs');
    d.close();
  }
});

test('dns: a custom lookup is checked at construction; only undefined means node:dns', (t) => {
  const l = recorder().listener;
  const srv = async () => [];
  for (const [lookup, re] of [
    [5, /^lookup must be a DnsLookup.*got 5/],
    [null, /^lookup must be a DnsLookup.*got null/],
    [{}, /^lookup\.a must be a function, got undefined/],
    [{ a: srv, aaaa: srv }, /^lookup\.srv must be a function/],
    [{ a: srv, aaaa: srv, srv, txt: 'x' }, /^lookup\.txt must be a function, got "x"/],
  ] as const) {
    t.throws(() => new DnsResolver({ target: 'svc:80', lookup: lookup as never }, l), {
      instanceOf: TypeError,
      message: re,
    });
    t.throws(() => createResolver({ target: 'dns:///svc:80', lookup: lookup as never }, l), {
      instanceOf: TypeError,
      message: re,
    });
  }
});

test('dns: srv must be a boolean that agrees with the scheme; TTL bounds meet a lone bound, clash when both', (t) => {
  const l = recorder().listener;
  const lookup = scriptedLookup().lookup;
  t.throws(() => new DnsResolver({ target: 'svc:80', lookup, srv: 'yes' as never }, l), {
    instanceOf: TypeError,
    message: /^srv must be a boolean, got "yes"/,
  });
  t.throws(() => createResolver({ target: 'dns:///svc:80', lookup, srv: 'yes' as never }, l), {
    instanceOf: TypeError,
    message: /^srv must be a boolean, got "yes"/,
  });
  t.throws(() => createResolver({ target: 'dns:///svc:80', lookup, srv: true }, l), {
    instanceOf: RangeError,
    message: /^srv must be unset or false for a dns: target.*got true/,
  });
  createResolver({ target: 'dns+srv:///_x._tcp.svc', lookup, srv: true }, l).close();
  const clock = new VirtualClock(0);
  const d = new DnsResolver({ target: 'svc:80', lookup, clock, maxTtlMs: 10 }, l);
  t.is((d as unknown as { minTtlMs: number }).minTtlMs, 10, 'the default floor is lowered to maxTtlMs');
  d.close();
  t.throws(() => new DnsResolver({ target: 'svc:80', lookup, minTtlMs: 1000, maxTtlMs: 10 }, l), {
    instanceOf: RangeError,
    message: /^maxTtlMs must be >= minTtlMs \(1000\), got 10/,
  });
  t.throws(() => new DnsResolver({ target: 'svc:80', lookup, maxTtlMs: 0 }, l), {
    instanceOf: RangeError,
    message: /^maxTtlMs must be a finite number > 0, got 0/,
  });
});

test('dns: a malformed lookup answer is a failure naming the query, not an internal message', async (t) => {
  for (const [answer, re] of [
    [undefined, /lookup\.a\(\) result must be an array of records, got undefined/],
    [[null], /lookup\.a\(\) result\[0\] must be a record object, got null/],
  ] as const) {
    const clock = new VirtualClock(0);
    const r = recorder();
    const lookup = { a: async () => answer, aaaa: async () => [], srv: async () => [] } as unknown as DnsLookup;
    const d = new DnsResolver({ target: 'svc:80', lookup, clock }, r.listener);
    await clock.advance(0);
    t.is(r.errors.length, 1);
    t.regex(r.errors[0]!.message, re);
    t.is((r.errors[0]!.cause as Error).constructor, TypeError);
    d.close();
  }
});

test('dns+srv: a skipped SRV entry is named by its target and port (servers rotate answers), a bad name by its index', async (t) => {
  const clock = new VirtualClock(0);
  const r = recorder();
  const srv = [
    { name: '10.0.0.1', port: 80, priority: 5, weight: 1 },
    { name: '10.0.0.2', port: 80, priority: -1, weight: 1 },
    { name: '10.0.0.3', port: 0, priority: 0, weight: 1 },
    { name: '10.0.0.4', port: 80, priority: 0, weight: -3 },
    { name: 5, port: 80, priority: 0, weight: 1 },
    { name: '10.0.0.1', port: 80, priority: 0, weight: 2 },
  ];
  const lookup = { a: async () => [], aaaa: async () => [], srv: async () => srv } as unknown as DnsLookup;
  const d = new DnsResolver({ target: '_x._tcp.svc', srv: true, lookup, clock }, r.listener);
  await clock.advance(0);
  t.deepEqual(
    r.lists.at(-1)!.map((e) => [e.id, e.priority, e.weight]),
    [['10.0.0.1:80', 0, 2]],
    'the first of the duplicates in priority order is kept',
  );
  t.deepEqual(
    r.errors.map((e) => `${e.constructor.name} ${e.message.split(' must')[0]}`),
    [
      'TypeError dns+srv[4].name',
      'RangeError dns+srv[10.0.0.2:80].priority',
      'RangeError dns+srv[10.0.0.3:0].port',
      'RangeError dns+srv[10.0.0.4:80].weight',
      'TypeError dns+srv[10.0.0.1:80].id',
    ],
  );
  d.close();
});

test('doh, etcd, consul: fetch, headers, auth and the target authority are checked at construction', (t) => {
  const l = recorder().listener;
  const doh = 'doh:///svc:443?url=http://127.0.0.1:1/dns';
  const etcd = { target: 'etcd:///services/api', endpoints: ['http://127.0.0.1:1'] };
  const cases: Array<[() => unknown, new (...a: never[]) => Error, RegExp]> = [
    [() => createResolver({ target: doh, fetch: 5 as never }, l), TypeError, /^fetch must be a fetch function.*got 5/],
    [() => createResolver({ target: doh, headers: 5 as never }, l), TypeError, /^headers must be an object.*got 5/],
    [() => createResolver({ target: doh, headers: { 'a b': 'x' } }, l), TypeError, /^headers must .*got "a b"/],
    [() => createResolver({ target: doh, headers: { x: 5 as never } }, l), TypeError, /^headers\["x"\] .*got 5/],
    [() => dohLookup({ url: 'http://127.0.0.1:1/dns', fetch: null as never }), TypeError, /^fetch .*got null/],
    [() => createResolver({ ...etcd, fetch: 5 as never }, l), TypeError, /^fetch must be a fetch function.*got 5/],
    [() => createResolver({ ...etcd, auth: 5 as never }, l), TypeError, /^auth must be an object.*got 5/],
    [() => createResolver({ ...etcd, auth: null as never }, l), TypeError, /^auth must be an object.*got null/],
    [() => createResolver({ ...etcd, auth: {} as never }, l), TypeError, /^auth\.username .*got undefined/],
    [() => createResolver({ ...etcd, requireLeader: 'x' as never }, l), TypeError, /^requireLeader .*got "x"/],
    [() => createResolver('etcd://a b/services/api', l), TypeError, /^target must be etcd:\/\/host.*got "etcd:\/\/a b/],
    [() => createResolver({ ...etcd, endpoints: ['http://a b'] }, l), TypeError, /^endpoints\[0\] .*"http:\/\/a b"/],
    [() => createResolver({ target: 'consul:///api', fetch: 5 as never }, l), TypeError, /^fetch .*got 5/],
  ];
  for (const [fn, type, re] of cases) t.throws(fn, { instanceOf: type, message: re });
});

test('static: endpointsStatic must be an array (a string is not split into characters)', (t) => {
  const l = recorder().listener;
  for (const v of [5, '127.0.0.1:81', null])
    t.throws(() => createResolver({ target: 'static:///', endpointsStatic: v as never }, l), {
      instanceOf: TypeError,
      message: /^endpointsStatic must be an array, got/,
    });
});

test('connectResolver: target, options and callbacks are checked; errors name the option', (t) => {
  const balancer = { reset: () => true };
  const target = 'static:///127.0.0.1:80';
  const cases: Array<[() => unknown, RegExp]> = [
    [() => connectResolver(5 as never, balancer), /^target must be a string URI, got 5/],
    [() => connectResolver(null as never, balancer), /^target must be a string URI, got null/],
    [() => connectResolver({ target: 5 } as never, balancer), /^target must be a string URI, got 5/],
    [() => connectResolver(target, balancer, null as never), /^options must be an object, got null/],
    [() => connectResolver(target, balancer, 5 as never), /^options must be an object, got 5/],
    [() => connectResolver(target, balancer, { onError: 5 as never }), /^onError must be a function, got 5/],
    [() => connectResolver(target, balancer, { onUpdate: 5 as never }), /^onUpdate must be a function, got 5/],
    [() => connectResolver(target, balancer, { onServiceConfig: 5 as never }), /^onServiceConfig must be a function/],
  ];
  for (const [fn, re] of cases) t.throws(fn, { instanceOf: TypeError, message: re });
});

// The one endpoint parser and equality rule (bindings/util/endpoint.ts) shared by the Balancer (address
// optional: plain names allowed, port 0) and the resolvers (address required): host:port parsing, both modes,
// boundary ports and priorities, list parsing that skips bad entries, and equality with metadata by value,
// including what it means for a resolver's re-reports.
import test from 'ava';
import {
  formatHostPort,
  parseEndpoint,
  parseEndpoints,
  parseHostPort,
  sameEndpoint,
  sameEndpoints,
  type Endpoint,
  type EndpointInput,
} from '../../bindings/util/endpoint.js';
import { StaticResolver } from '../../bindings/discovery/static.js';
import { Balancer } from '../../bindings/index.js';

const REQUIRED = { address: 'required' } as const;
const OPTIONAL = { address: 'optional' } as const;

async function flush(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise<void>((r) => setImmediate(r));
}

test('parseHostPort: ports required and in range, IPv6 in brackets', (t) => {
  t.deepEqual(parseHostPort('a', 'h:80'), { host: 'h', port: 80 });
  t.deepEqual(parseHostPort('a', '[::1]:443'), { host: '::1', port: 443 });
  t.deepEqual(parseHostPort('a', 'h', 8080), { host: 'h', port: 8080 });
  t.throws(() => parseHostPort('addr', 'h'), { instanceOf: TypeError, message: /addr must be .*port.*"h"/ });
  t.throws(() => parseHostPort('addr', 'h:0'), { instanceOf: RangeError, message: /addr port .*got 0/ });
  t.throws(() => parseHostPort('addr', 'h:65536'), { instanceOf: RangeError, message: /65536/ });
  t.throws(() => parseHostPort('addr', 'h:http'), { instanceOf: TypeError });
  t.throws(() => parseHostPort('addr', ':80'), { instanceOf: TypeError });
  t.is(formatHostPort('::1', 443), '[::1]:443');
  t.is(formatHostPort('h', 80), 'h:80');
});

test('parseEndpoints skips bad entries and duplicates with one error each, keeping the rest in order', (t) => {
  const errors: Error[] = [];
  const inputs: EndpointInput[] = [
    'a:80',
    'b',
    'c:99999',
    'a:80',
    { host: 'd', port: 81, weight: 2, priority: 1 },
    { host: 'e', port: 82, weight: -1 },
  ];
  const out = parseEndpoints('endpoints', inputs, (e) => errors.push(e), REQUIRED);
  t.deepEqual(
    out.map((e) => [e.id, e.weight, e.priority]),
    [
      ['a:80', 1, 0],
      ['d:81', 2, 1],
    ],
  );
  t.deepEqual(
    errors.map((e) => [e.constructor.name, e.message.split(' ')[0]]),
    [
      ['TypeError', 'endpoints[1]'],
      ['RangeError', 'endpoints[2]'],
      ['TypeError', 'endpoints[3].id'],
      ['RangeError', 'endpoints[5].weight'],
    ],
  );
  // The default mode of parseEndpoints is 'required' (resolvers); 'optional' keeps the plain name.
  const errs2: Error[] = [];
  t.deepEqual(
    parseEndpoints('e', ['a:80', 'b'], (e) => errs2.push(e)).map((e) => e.id),
    ['a:80'],
  );
  t.is(errs2.length, 1);
  t.deepEqual(
    parseEndpoints('e', ['a:80', 'b'], (e) => errs2.push(e), OPTIONAL).map((e) => e.id),
    ['a:80', 'b'],
  );
  t.is(errs2.length, 1);
});

test('both modes: a plain name is a member without an address where optional, a TypeError where required', (t) => {
  t.deepEqual(parseEndpoint('cache-a', 'e', OPTIONAL), {
    id: 'cache-a',
    host: 'cache-a',
    port: 0,
    weight: 1,
    priority: 0,
    metadata: {},
  });
  t.deepEqual(parseEndpoint('cache-a'), parseEndpoint('cache-a', 'e', OPTIONAL), "'optional' is the default");
  t.throws(() => parseEndpoint('cache-a', 'endpoints[0]', REQUIRED), {
    instanceOf: TypeError,
    message: /^endpoints\[0\] must be .*port.*"cache-a"/,
  });
  t.like(parseEndpoint({ id: 'cache-b', weight: 2 }, 'e', OPTIONAL), { id: 'cache-b', host: 'cache-b', port: 0 });
  t.throws(() => parseEndpoint({ id: 'cache-b' }, 'e', REQUIRED), { instanceOf: TypeError, message: /^e\.id/ });
  // An address parses the same in both modes.
  for (const mode of [REQUIRED, OPTIONAL]) {
    t.deepEqual(parseEndpoint('10.0.0.1:8080', 'e', mode), {
      id: '10.0.0.1:8080',
      host: '10.0.0.1',
      port: 8080,
      weight: 1,
      priority: 0,
      metadata: {},
    });
    t.like(parseEndpoint({ host: '::1', port: 9, weight: 3 }, 'e', mode), { id: '[::1]:9', host: '::1', port: 9 });
    t.like(parseEndpoint({ id: 'x', host: 'h', port: 1 }, 'e', mode), { id: 'x', host: 'h', port: 1 });
    t.throws(() => parseEndpoint('', 'e', mode), { instanceOf: RangeError, message: /^e must be/ });
    t.throws(() => parseEndpoint(42 as never, 'e', mode), { instanceOf: TypeError, message: /^e must be/ });
    t.throws(() => parseEndpoint({ weight: 1 } as never, 'e', mode), { instanceOf: TypeError, message: /^e must/ });
  }
});

test('boundary ports: 1 and 65535 accepted, 0 and 65536 RangeErrors naming the field, in both modes', (t) => {
  for (const mode of [REQUIRED, OPTIONAL]) {
    t.is(parseEndpoint('h:1', 'e', mode).port, 1);
    t.is(parseEndpoint('h:65535', 'e', mode).port, 65535);
    t.is(parseEndpoint({ host: 'h', port: 1 }, 'e', mode).port, 1);
    t.is(parseEndpoint({ host: 'h', port: 65535 }, 'e', mode).port, 65535);
    t.throws(() => parseEndpoint('h:0', 'e', mode), { instanceOf: RangeError, message: /^e port .*got 0$/ });
    t.throws(() => parseEndpoint('h:65536', 'e', mode), { instanceOf: RangeError, message: /got 65536$/ });
    t.throws(() => parseEndpoint({ host: 'h', port: 0 }, 'e', mode), {
      instanceOf: RangeError,
      message: /^e\.port must be an integer in \[1, 65535\], got 0$/,
    });
    t.throws(() => parseEndpoint({ host: 'h', port: 65536 }, 'e', mode), {
      instanceOf: RangeError,
      message: /^e\.port .*got 65536$/,
    });
    t.throws(() => parseEndpoint({ host: 'h', port: 80.5 }, 'e', mode), { instanceOf: RangeError });
    t.throws(() => parseEndpoint({ host: 'h', port: '80' as never }, 'e', mode), {
      instanceOf: TypeError,
      message: /^e\.port/,
    });
  }
});

test('priorities: integers >= 0 (0 and 3 accepted; -1 and 1.5 RangeErrors, "1" a TypeError)', (t) => {
  for (const mode of [REQUIRED, OPTIONAL]) {
    t.is(parseEndpoint({ host: 'h', port: 1, priority: 0 }, 'e', mode).priority, 0);
    t.is(parseEndpoint({ host: 'h', port: 1, priority: 3 }, 'e', mode).priority, 3);
    t.is(parseEndpoint({ host: 'h', port: 1 }, 'e', mode).priority, 0, 'default 0');
    t.throws(() => parseEndpoint({ host: 'h', port: 1, priority: -1 }, 'e', mode), {
      instanceOf: RangeError,
      message: /^e\.priority must be an integer >= 0, got -1$/,
    });
    t.throws(() => parseEndpoint({ host: 'h', port: 1, priority: 1.5 }, 'e', mode), {
      instanceOf: RangeError,
      message: /^e\.priority .*got 1\.5$/,
    });
    t.throws(() => parseEndpoint({ host: 'h', port: 1, priority: '1' as never }, 'e', mode), {
      instanceOf: TypeError,
      message: /^e\.priority/,
    });
    t.throws(() => parseEndpoint({ host: 'h', port: 1, weight: 0 }, 'e', mode), {
      instanceOf: RangeError,
      message: /^e\.weight/,
    });
    t.throws(() => parseEndpoint({ host: 'h', port: 1, metadata: [] as never }, 'e', mode), {
      instanceOf: TypeError,
      message: /^e\.metadata/,
    });
  }
});

test('unknown keys: a misspelt field is a RangeError naming it, in both modes, the Balancer and static lists', (t) => {
  for (const mode of [REQUIRED, OPTIONAL]) {
    t.throws(() => parseEndpoint({ id: 'a:1', wieght: 5 } as never, 'e', mode), {
      instanceOf: RangeError,
      message: /^e\.wieght must be one of id, host, port, weight, priority, metadata, locality, got "wieght"$/,
    });
    // every documented key is accepted, an Endpoint read back included
    const ep = parseEndpoint(
      { id: 'a', host: 'h', port: 1, weight: 2, priority: 1, metadata: { x: 1 }, locality: 'r/z' },
      'e',
      mode,
    );
    t.deepEqual(parseEndpoint(ep, 'e', mode), ep);
  }
  t.throws(() => new Balancer({ endpoints: ['a:1', { id: 'b:1', prio: 1 } as never] }), {
    instanceOf: RangeError,
    message: /^endpoints\[1\]\.prio must be one of/,
  });
  t.throws(() => parseEndpoint({ id: 'a:1', locality: { region: 'r', zon: 'z' } } as never, 'e'), {
    instanceOf: RangeError,
    message: /^e\.locality\.zon must be one of region, zone, subZone/,
  });
  const errors: Error[] = [];
  const eps = parseEndpoints('endpoints', ['a:1', { host: 'b', port: 1, Weight: 3 } as never], (e) => errors.push(e));
  t.deepEqual(
    eps.map((e) => e.id),
    ['a:1'],
  );
  t.regex(errors[0]!.message, /^endpoints\[1\]\.Weight must be one of/);
});

test('equality: every field, metadata by value (a change of value is a change, a new equal object is not)', (t) => {
  const ep = (over: Partial<Endpoint> = {}): Endpoint => ({
    ...parseEndpoint({ host: 'h', port: 80, metadata: { zone: 'a', tags: ['x', 'y'], n: { k: 1 } } }),
    ...over,
  });
  const a = ep();
  t.true(sameEndpoint(a, a));
  t.true(sameEndpoint(a, ep()), 'a fresh but equal metadata object is the same');
  t.true(sameEndpoint(a, ep({ metadata: { n: { k: 1 }, tags: ['x', 'y'], zone: 'a' } })), 'key order ignored');
  t.false(sameEndpoint(a, ep({ metadata: { zone: 'b', tags: ['x', 'y'], n: { k: 1 } } })), 'metadata value');
  t.false(sameEndpoint(a, ep({ metadata: { zone: 'a', tags: ['y', 'x'], n: { k: 1 } } })), 'array order');
  t.false(sameEndpoint(a, ep({ metadata: { zone: 'a', tags: ['x', 'y'], n: { k: 2 } } })), 'nested value');
  t.false(sameEndpoint(a, ep({ metadata: { zone: 'a', tags: ['x', 'y'] } })), 'a key removed');
  t.false(sameEndpoint(a, ep({ metadata: { zone: 'a', tags: { 0: 'x', 1: 'y' }, n: { k: 1 } } })), 'array vs object');
  t.false(sameEndpoint(a, ep({ weight: 2 })));
  t.false(sameEndpoint(a, ep({ priority: 1 })));
  t.false(sameEndpoint(a, ep({ host: 'g' })));
  t.false(sameEndpoint(a, ep({ port: 81 })));
  t.false(sameEndpoint(a, ep({ id: 'other' })));
  t.true(sameEndpoints([a, ep({ id: 'b' })], [ep(), ep({ id: 'b' })]));
  t.false(sameEndpoints([a, ep({ id: 'b' })], [ep({ id: 'b' }), a]), 'order matters');
  t.false(sameEndpoints([a], [a, a]));
  t.true(sameEndpoints([], []));
});

test('resolvers use the shared equality: a metadata change is re-reported, an equal list is not', async (t) => {
  const lists: Endpoint[][] = [];
  const r = new StaticResolver([{ host: 'a', port: 80, metadata: { zone: 'z1' } }], {
    onEndpoints: (l) => lists.push(l),
    onError: (e) => t.fail(e.message),
  });
  await flush();
  t.is(lists.length, 1);
  r.set([{ host: 'a', port: 80, metadata: { zone: 'z1' } }]);
  await flush();
  t.is(lists.length, 1, 'equal by value: not re-reported');
  r.set([{ host: 'a', port: 80, metadata: { zone: 'z2' } }]);
  await flush();
  t.is(lists.length, 2, 'metadata changed: re-reported');
  t.deepEqual(lists[1]![0]!.metadata, { zone: 'z2' });
  r.close();
});

test('host:port strings and ids get the host check that { host } objects get: nothing a URL would send elsewhere', (t) => {
  // a backslash or a bracket moved the rest of the address into the path (a request to port 80), a %-escape
  // decodes to '/', a numeric last label is read as IPv4 by URL parsers and fails there
  for (const s of [
    '127.0.0.1\\x:9',
    'a[b:9',
    'a]b:9',
    '127.0.0.1%2f:9',
    '999.0.0.1:80',
    'a.123:80',
    '127.1:80',
    '256.0.0.1:80',
  ])
    for (const input of [s, { id: s }])
      t.throws(() => parseEndpoint(input, 'endpoints[0]', { address: 'required' }), {
        instanceOf: TypeError,
        message: /^endpoints\[0\](\.id)? must be an address with a host name or an IP address/,
      });
  for (const s of ['1.2.3.4:80', '10.0.0.255:80', '[::ffff:1.2.3.4]:80', '[::1]:80', 'cache-1.svc:80', 'localhost:80'])
    t.is(parseEndpoint(s, 'e', { address: 'required' }).id, s);
});

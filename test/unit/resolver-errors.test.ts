// ResolverError names what failed: a cause without a code lends its own cause's (fetch's "fetch failed"
// TypeError keeps ECONNREFUSED at cause.cause.code), and the message says it with the peer. etcd, Consul and
// DoH resolvers against a loopback port nothing listens on: typed errors with the code, etcd naming its member.
import test from 'ava';
import { ResolverError } from '../../bindings/discovery/errors.js';
import { createResolver } from '../../bindings/discovery/resolver.js';
import { freePort } from '../helpers/process.js';

const refused = (address: string, port: number) =>
  Object.assign(new Error(`connect ECONNREFUSED ${address}:${port}`), {
    errno: -111,
    code: 'ECONNREFUSED',
    syscall: 'connect',
    address,
    port,
  });

test('ResolverError: the code and the peer of a cause one or two levels down', (t) => {
  const fetchFailed = new TypeError('fetch failed', { cause: refused('127.0.0.1', 37055) });
  const e = new ResolverError('consul:///api', fetchFailed);
  t.is(e.code, 'ECONNREFUSED');
  t.is(e.message, 'resolver consul:///api: fetch failed (ECONNREFUSED 127.0.0.1:37055)');
  t.is(e.cause, fetchFailed);
  // IPv6 peers in brackets; a host name when there is no address (getaddrinfo).
  const v6 = new ResolverError('x:///', new TypeError('fetch failed', { cause: refused('::1', 80) }));
  t.is(v6.message, 'resolver x:///: fetch failed (ECONNREFUSED [::1]:80)');
  const dnsFail = Object.assign(new Error('getaddrinfo ENOTFOUND etcd.test'), {
    code: 'ENOTFOUND',
    hostname: 'etcd.test',
  });
  const nf = new ResolverError('x:///', new TypeError('fetch failed', { cause: dnsFail }));
  t.is(nf.code, 'ENOTFOUND');
  t.is(nf.message, 'resolver x:///: fetch failed (ENOTFOUND etcd.test)');
  // A cause without any code: its message.
  const bad = new ResolverError('x:///', new TypeError('fetch failed', { cause: new Error('bad port') }));
  t.is(bad.code, undefined);
  t.is(bad.message, 'resolver x:///: fetch failed (bad port)');
  // Two levels down (a wrapper naming the member around fetch's TypeError), told once.
  const wrapped = new Error('etcd http://127.0.0.1:2379: fetch failed (ECONNREFUSED 127.0.0.1:2379)', {
    cause: new TypeError('fetch failed', { cause: refused('127.0.0.1', 2379) }),
  });
  const w = new ResolverError('etcd:///svc', wrapped);
  t.is(w.code, 'ECONNREFUSED');
  t.is(w.message, 'resolver etcd:///svc: etcd http://127.0.0.1:2379: fetch failed (ECONNREFUSED 127.0.0.1:2379)');
  // A cause with its own code: unchanged, as before.
  const own = new ResolverError('dns:///a:80', Object.assign(new Error('queryA ENOTFOUND a'), { code: 'ENOTFOUND' }));
  t.is(own.code, 'ENOTFOUND');
  t.is(own.message, 'resolver dns:///a:80: queryA ENOTFOUND a');
  t.is(new ResolverError('x:///', 'boom').message, 'resolver x:///: "boom"');
  t.is(ResolverError.wrap('y:///', e), e);
});

test('etcd, Consul and DoH connection failures: ResolverErrors with the code; etcd names its member', async (t) => {
  const port = await freePort(); // nothing listens
  const at = `127\\.0\\.0\\.1:${port}`;
  const cases: Array<[string, RegExp]> = [
    [
      `etcd://127.0.0.1:${port}/svc`,
      new RegExp(`: etcd http://${at}: /v3/kv/range: fetch failed \\(ECONNREFUSED ${at}\\)$`),
    ],
    [`consul://127.0.0.1:${port}/svc`, new RegExp(`: fetch failed \\(ECONNREFUSED ${at}\\)$`)],
    [
      `doh:///api.test:80?url=http://127.0.0.1:${port}/q`,
      new RegExp(`: doh: fetch failed \\(ECONNREFUSED ${at}\\) for A{1,4} api\\.test$`),
    ],
  ];
  for (const [target, re] of cases) {
    const e = await new Promise<Error>((resolve) => {
      const r = createResolver(
        { target, disableServiceConfig: true },
        {
          onEndpoints: () => {},
          onError: (err) => {
            r.close();
            resolve(err);
          },
        },
      );
    });
    t.true(e instanceof ResolverError, target);
    t.is((e as ResolverError).code, 'ECONNREFUSED', target);
    t.regex(e.message, re, target);
  }
  // Endpoints given as options (the target names no member): the message does.
  const e = await new Promise<Error>((resolve) => {
    const r = createResolver(
      { target: 'etcd:///svc', endpoints: [`http://127.0.0.1:${port}`] },
      {
        onEndpoints: () => {},
        onError: (err) => {
          r.close();
          resolve(err);
        },
      },
    );
  });
  t.regex(e.message, new RegExp(`^resolver etcd:///svc: etcd http://${at}: `));
  t.is((e as ResolverError).code, 'ECONNREFUSED');
});

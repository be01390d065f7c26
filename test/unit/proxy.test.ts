// createProxy: a real node:http proxy in front of loopback backends: forwards paths, streams bodies, keeps
// hop-by-hop headers out, retries idempotent requests on another member, answers 502/400 on failure, and
// 405/400 to a client's request fetch cannot send, without counting it against any member.
import test from 'ava';
import { createServer, request, type IncomingHttpHeaders, type Server } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import type { Balancer } from '../../bindings/balancing/balancer.js';
import type { FetchPick, PickSource } from '../../bindings/http/fetch.js';
import { createProxy } from '../../bindings/http/proxy.js';
import { startBackend, type Backend } from '../helpers/backends.js';

class Rotate implements PickSource {
  i = 0;
  constructor(readonly backends: Backend[]) {}
  pick(ctx: { exclude?: ReadonlySet<string> } = {}): FetchPick {
    for (let j = 0; j < this.backends.length; j++) {
      const b = this.backends[(this.i + j) % this.backends.length]!;
      if (ctx.exclude?.has(b.name)) continue;
      this.i = (this.i + j + 1) % this.backends.length;
      return { type: 'pick', member: { id: b.name, host: '127.0.0.1', port: b.port }, handle: { done() {} } };
    }
    return { type: 'none', reason: 'empty' };
  }
}

let backends: Backend[] = [];
let proxy: Server;
let port = 0;
let seenHeaders: IncomingHttpHeaders[] = [];
let echo: Server;
let echoPort = 0;

test.before(async () => {
  backends = await Promise.all(['a', 'b'].map((n) => startBackend(n)));
  echo = createServer((req, res) => {
    seenHeaders.push(req.headers);
    res.setHeader('connection', 'keep-alive, x-hop');
    res.setHeader('x-hop', 'secret');
    res.setHeader('x-end', 'kept');
    req.pipe(res);
  });
  await new Promise<void>((r) => echo.listen(0, '127.0.0.1', () => r()));
  echoPort = (echo.address() as AddressInfo).port;
  proxy = createServer(
    createProxy({ balancer: new Rotate(backends), retry: { initialBackoffMs: 1, maxBackoffMs: 2 } }),
  );
  await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', () => r()));
  port = (proxy.address() as AddressInfo).port;
});

test.after.always(async () => {
  await Promise.all(backends.map((b) => b.stop()));
  proxy.close();
  echo.close();
});

function call(
  p: number,
  path: string,
  opts: { method?: string; headers?: Record<string, string>; body?: string } = {},
) {
  return new Promise<{ status: number; headers: IncomingHttpHeaders; body: string }>((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port: p, path, method: opts.method ?? 'GET', headers: opts.headers },
      (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
      },
    );
    req.on('error', reject);
    req.end(opts.body);
  });
}

test.serial('forwards to members, retrying an idempotent request on another member', async (t) => {
  backends[0]!.mode = { kind: 'status', status: 502 };
  const r = await call(port, '/v1/items?id=3');
  t.is(r.status, 200);
  t.is(r.body, 'b');
  t.is(backends[1]!.requests.at(-1)!.url, '/v1/items?id=3');
  backends[0]!.mode = { kind: 'ok' };
});

test.serial('a DELETE or OPTIONS without Content-Length has no body (RFC 9112 6.3): retried like a GET', async (t) => {
  backends[0]!.mode = { kind: 'status', status: 502 };
  for (const method of ['DELETE', 'OPTIONS']) {
    backends[1]!.requests.length = 0;
    // raw, so that no client adds a Content-Length: 0 (curl -X DELETE sends none)
    const raw = await new Promise<string>((resolve, reject) => {
      const sock = connect(port, '127.0.0.1', () =>
        sock.write(`${method} /r HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`),
      );
      let text = '';
      sock.on('data', (c: Buffer) => (text += c.toString()));
      sock.on('end', () => resolve(text));
      sock.on('error', reject);
    });
    t.regex(raw, /^HTTP\/1\.1 200 /, method);
    t.is(backends[1]!.requests.at(-1)?.method, method);
  }
  backends[0]!.mode = { kind: 'ok' };
});

test.serial('streams bodies, drops hop-by-hop headers both ways, sets X-Forwarded-*', async (t) => {
  seenHeaders = [];
  const px = createServer(
    createProxy({
      balancer: {
        pick: () => ({
          type: 'pick',
          member: { id: 'echo', host: '127.0.0.1', port: echoPort },
          handle: { done() {} },
        }),
      },
    }),
  );
  await new Promise<void>((r) => px.listen(0, '127.0.0.1', () => r()));
  const p = (px.address() as AddressInfo).port;
  const body = 'x'.repeat(200_000);
  const r = await call(p, '/echo', {
    method: 'POST',
    body,
    headers: {
      connection: 'x-client-hop',
      'x-client-hop': '1',
      'proxy-authorization': 'Basic abc',
      'x-keep': 'yes',
      te: 'trailers',
    },
  });
  t.is(r.status, 200);
  t.is(r.body.length, body.length);
  const h = seenHeaders[0]!;
  t.is(h['x-keep'], 'yes');
  t.is(h['x-client-hop'], undefined);
  t.is(h['proxy-authorization'], undefined);
  t.is(h['x-forwarded-for'], '127.0.0.1');
  t.is(h['x-forwarded-host'], `127.0.0.1:${p}`);
  t.is(h['accept-encoding'], 'identity', 'the client asked for no coding: fetch must not ask for gzip');
  t.is(r.headers['x-hop'], undefined);
  t.is(r.headers['x-end'], 'kept');
  px.close();
});

test.serial('hostile targets get 400, dead members 502', async (t) => {
  t.is((await call(port, '//evil.example/x')).status, 400);
  const dead = await startBackend('dead');
  await dead.stop();
  const px = createServer(createProxy({ balancer: new Rotate([dead]), retry: false }));
  await new Promise<void>((r) => px.listen(0, '127.0.0.1', () => r()));
  const r = await call((px.address() as AddressInfo).port, '/x');
  t.is(r.status, 502);
  // fetch's bare 'fetch failed' with its cause's code: what failed, not where (no member address for clients)
  t.is(r.body, 'switchyard proxy: fetch failed (ECONNREFUSED)\n');
  px.close();
});

/** One raw HTTP/1.1 request (bytes Node's client would not send): the status line of the answer. */
function raw(p: number, head: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const c = connect(p, '127.0.0.1', () => c.write(Buffer.from(`${head}\r\nConnection: close\r\n\r\n`, 'latin1')));
    let got = '';
    c.on('data', (d: Buffer) => (got += d.toString('latin1')));
    c.on('end', () => resolve(got.split('\r\n')[0]!));
    c.on('error', reject);
  });
}

test.serial('a method fetch forbids gets 405, a header it refuses 400; no member is picked nor blamed', async (t) => {
  const bs = await Promise.all(['t1', 't2'].map((n) => startBackend(n)));
  // default outlier detection: 5 consecutive failures eject a member
  const handler = createProxy({ endpoints: bs.map((b) => `127.0.0.1:${b.port}`) });
  const ejections: string[] = [];
  handler.fetch.detector!.on('ejection', (e) => ejections.push(e.id));
  // insecureHTTPParser lets a NUL through in a header value, which fetch's Headers refuses
  const px = createServer({ insecureHTTPParser: true }, handler);
  await new Promise<void>((r) => px.listen(0, '127.0.0.1', () => r()));
  const p = (px.address() as AddressInfo).port;
  try {
    for (let i = 0; i < 10; i++) {
      const r = await call(p, '/x', { method: 'TRACE' });
      t.deepEqual([r.status, r.body], [405, 'switchyard proxy: method TRACE is not forwarded\n']);
    }
    t.is(await raw(p, 'GET /x HTTP/1.1\r\nHost: api\r\nX-Bad: a\0b'), 'HTTP/1.1 400 Bad Request');
    t.like(handler.fetch.stats(), { requests: 0, tries: 0, failures: 0 });
    t.deepEqual(
      (handler.fetch.balancer as Balancer).stats().members.map((m) => [m.picks, m.failures, m.available]),
      [
        [0, 0, true],
        [0, 0, true],
      ],
    );
    t.deepEqual(ejections, []);
    t.deepEqual(
      bs.map((b) => b.requests.length),
      [0, 0],
    );
    t.is((await call(p, '/x')).status, 200);
  } finally {
    handler.fetch.close();
    px.close();
    await Promise.all(bs.map((b) => b.stop()));
  }
});

// The caller's signal through createFetch, as with fetch: an already-aborted one sends nothing (hedged or not),
// an abort after the response headers errors the body read with its reason (with or without a per-try timeout,
// hedging or a deadline), a long-lived signal keeps no listener once a body is done, and createProxy releases
// the member's connection when its client goes away mid-body. `deadlineMs` bounds the request up to its
// headers only. Loopback servers only.
import test from 'ava';
import { createServer, request, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { getEventListeners } from 'node:events';
import { createFetch, type CreateFetchOptions } from '../../bindings/http/fetch.js';
import { createProxy } from '../../bindings/http/proxy.js';

interface Streamer {
  port: number;
  hits: number;
  /** Responses whose connection closed before they ended (the client went away). */
  cut: number;
  server: Server;
}

/** /stream: headers and a first chunk, then nothing; /done: a whole body; /slow: the body after 300 ms. */
async function streamer(): Promise<Streamer> {
  const s: Streamer = { port: 0, hits: 0, cut: 0, server: undefined as unknown as Server };
  s.server = createServer((req, res: ServerResponse) => {
    s.hits++;
    res.on('close', () => {
      if (!res.writableFinished) s.cut++;
    });
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.flushHeaders();
    if (req.url === '/done') res.end('whole body');
    else if (req.url === '/slow') setTimeout(() => res.end('late body'), 300);
    else if (req.url === '/broken') {
      res.write('half');
      setTimeout(() => res.destroy(), 20);
    } else res.write('first chunk');
  });
  await new Promise<void>((r) => s.server.listen(0, '127.0.0.1', () => r()));
  s.port = (s.server.address() as AddressInfo).port;
  return s;
}

let srv: Streamer;
test.before(async () => {
  srv = await streamer();
});
test.after.always(async () => {
  srv.server.closeAllConnections();
  await new Promise<void>((r) => srv.server.close(() => r()));
});

const until = async (cond: () => boolean, ms = 2000) => {
  for (const end = Date.now() + ms; !cond() && Date.now() < end;) await new Promise((r) => setTimeout(r, 5));
};

const CONFIGS: [string, Partial<CreateFetchOptions>][] = [
  ['plain', {}],
  ['perTryTimeoutMs', { perTryTimeoutMs: 5000 }],
  ['hedge', { hedge: { delayMs: 1000 } }],
  ['deadlineMs', { deadlineMs: 5000 }],
];

test.serial('an aborted signal rejects with its reason and sends nothing, hedged or not', async (t) => {
  for (const [name, extra] of CONFIGS) {
    const f = createFetch({
      endpoints: [`127.0.0.1:${srv.port}`],
      service: 'http://x',
      outlierDetection: false,
      ...extra,
    });
    const before = srv.hits;
    const reason = new Error(`gave up (${name})`);
    await t.throwsAsync(f('/done', { signal: AbortSignal.abort(reason) }), { is: reason }, name);
    const req = new Request('http://x/done', { signal: AbortSignal.abort(reason) });
    await t.throwsAsync(f(req), { is: reason }, `${name}, a Request's signal`);
    await new Promise((r) => setTimeout(r, 50));
    t.is(srv.hits, before, `${name}: nothing sent`);
    f.close();
  }
});

test.serial("an abort after the headers errors the body read with the caller's reason, as fetch's", async (t) => {
  for (const [name, extra] of CONFIGS) {
    const f = createFetch({ endpoints: [`127.0.0.1:${srv.port}`], outlierDetection: false, ...extra });
    const ac = new AbortController();
    const res = await f('/stream', { signal: ac.signal });
    t.is(res.url, `http://127.0.0.1:${srv.port}/stream`, `${name}: the response still says where it came from`);
    t.false(res.redirected);
    t.is(res.type, 'basic');
    const reader = res.body!.getReader();
    t.is(new TextDecoder().decode((await reader.read()).value), 'first chunk', name);
    const cut = srv.cut;
    const reason = new Error(`caller gave up (${name})`);
    ac.abort(reason);
    await t.throwsAsync(reader.read(), { is: reason }, name);
    await until(() => srv.cut > cut);
    t.is(srv.cut, cut + 1, `${name}: the member's connection is closed`);
    f.close();
  }
});

test.serial('a long-lived signal keeps no listener once each body ended, failed or was cancelled', async (t) => {
  const signal = new AbortController().signal;
  // removed as the body settles (a few ticks after the reader sees it)
  const listeners = async () => {
    await new Promise((r) => setImmediate(r));
    return getEventListeners(signal, 'abort').length;
  };
  // a per-try timeout: the try's own AbortController follows the caller's signal (its listener is ours)
  const f = createFetch({ endpoints: [`127.0.0.1:${srv.port}`], outlierDetection: false, perTryTimeoutMs: 5000 });
  for (let i = 0; i < 20; i++) t.is(await (await f('/done', { signal })).text(), 'whole body');
  t.is(await listeners(), 0, 'bodies read to the end');
  const open = await f('/stream', { signal });
  t.is(await listeners(), 1, 'while a body is open the abort still reaches it');
  const cut = srv.cut;
  await open.body!.cancel();
  t.is(await listeners(), 0, 'a cancelled body');
  await until(() => srv.cut > cut);
  t.is(srv.cut, cut + 1, "a cancelled body ends the member's response");
  const broken = await f('/broken', { signal });
  await t.throwsAsync(broken.text());
  t.is(await listeners(), 0, 'a body cut off by the member');
  const noBody = await f('/done', { signal, method: 'HEAD' });
  t.is(noBody.body, null);
  t.is(await listeners(), 0, 'no body');
  // several at once, each body read: none left
  await Promise.all(Array.from({ length: 10 }, async () => (await f('/done', { signal })).text()));
  t.is(await listeners(), 0, '10 concurrent requests');
  f.close();
});

test.serial('deadlineMs bounds the request up to its headers, not the reading of the body', async (t) => {
  const f = createFetch({ endpoints: [`127.0.0.1:${srv.port}`], outlierDetection: false, deadlineMs: 100 });
  const res = await f('/slow');
  t.is(await res.text(), 'late body', 'read 300 ms after the headers');
  f.close();
});

test.serial("createProxy: a client gone mid-body ends the member's response", async (t) => {
  for (const extra of [{}, { perTryTimeoutMs: 5000 }]) {
    const handler = createProxy({ endpoints: [`127.0.0.1:${srv.port}`], outlierDetection: false, ...extra });
    const proxy = createServer(handler);
    await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', () => r()));
    const cut = srv.cut;
    await new Promise<void>((resolve, reject) => {
      const req = request(
        { host: '127.0.0.1', port: (proxy.address() as AddressInfo).port, path: '/stream' },
        (res) => {
          res.once('data', () => {
            req.destroy();
            resolve();
          });
        },
      );
      req.on('error', () => {});
      req.once('response', (res) => res.on('error', () => {}));
      req.setTimeout(2000, () => reject(new Error('no first chunk')));
      req.end();
    });
    await until(() => srv.cut > cut);
    t.is(srv.cut, cut + 1, JSON.stringify(extra));
    handler.fetch.close();
    proxy.closeAllConnections();
    await new Promise<void>((r) => proxy.close(() => r()));
  }
});

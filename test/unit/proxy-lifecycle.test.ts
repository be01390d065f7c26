// createProxy's lifecycle (a lifecycle sweep's findings): an upload whose try fails before its body is read (the
// member refuses the connection, or no member comes within readyTimeoutMs) is answered and its body drained, so
// the next request on the same keep-alive connection is heard instead of waiting behind the unread body forever;
// so is one whose member cuts it mid-body.
// A raw socket as the client (one connection, two requests); loopback only.
import test from 'ava';
import { createServer } from 'node:http';
import { connect } from 'node:net';
import { createProxy, type ProxyHandler } from '../../bindings/http/proxy.js';
import type { CreateFetchOptions } from '../../bindings/http/fetch.js';
import { closedPort, listen } from '../helpers/process.js';

/** 100 000 bytes of body: more than the body stream handed to fetch buffers on its own. */
const chunk = `${(100_000).toString(16)}\r\n${'x'.repeat(100_000)}\r\n`;

/**
 * On one connection: a chunked POST whose first chunk is sent, then (once its answer is in) the rest of its body
 * and a GET. Returns the status lines received within 2 s.
 */
function uploadThenGet(port: number): Promise<string[]> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let text = '';
    let rest = false;
    const statuses = () => text.match(/^HTTP\/1\.1 \d+/gm) ?? [];
    const done = () => {
      clearTimeout(timer);
      socket.destroy();
      resolve(statuses());
    };
    const timer = setTimeout(done, 2000);
    socket.on('error', done);
    socket.on('data', (c: Buffer) => {
      text += c.toString('latin1');
      if (!rest && statuses().length === 1 && /\r\n\r\n[^]*\n$/.test(text)) {
        rest = true; // the first answer is in: the rest of the upload, then a second request
        socket.write(`${chunk}0\r\n\r\nGET /second HTTP/1.1\r\nHost: a\r\n\r\n`);
      }
      if (statuses().length === 2) done();
    });
    socket.write(`POST /up HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n${chunk}`);
  });
}

async function withProxy(options: CreateFetchOptions, run: (port: number) => Promise<void>): Promise<void> {
  const handler: ProxyHandler = createProxy(options);
  const proxy = createServer(handler);
  const port = await listen(proxy);
  try {
    await run(port);
  } finally {
    handler.fetch.close();
    proxy.closeAllConnections();
    await new Promise<void>((r) => proxy.close(() => r()));
  }
}

test('an upload refused by its member: 502, and the next request on the connection is answered', async (t) => {
  const port = await closedPort();
  await withProxy({ endpoints: [`127.0.0.1:${port}`], outlierDetection: false }, async (proxyPort) => {
    t.deepEqual(await uploadThenGet(proxyPort), ['HTTP/1.1 502', 'HTTP/1.1 502']);
  });
});

test('an upload with no member within readyTimeoutMs: 503, and the next request on the connection is answered', async (t) => {
  await withProxy({ endpoints: [], readyTimeoutMs: 50, outlierDetection: false }, async (proxyPort) => {
    t.deepEqual(await uploadThenGet(proxyPort), ['HTTP/1.1 503', 'HTTP/1.1 503']);
  });
});

test('an upload its member cuts mid-body: 502, and the next request on the connection is answered', async (t) => {
  const member = createServer((req, res) => {
    if (req.method === 'GET') res.end('ok');
    else req.once('data', () => req.socket.destroy());
  });
  const port = await listen(member);
  try {
    await withProxy({ endpoints: [`127.0.0.1:${port}`], outlierDetection: false }, async (proxyPort) => {
      t.deepEqual(await uploadThenGet(proxyPort), ['HTTP/1.1 502', 'HTTP/1.1 200']);
    });
  } finally {
    member.closeAllConnections();
    await new Promise<void>((r) => member.close(() => r()));
  }
});

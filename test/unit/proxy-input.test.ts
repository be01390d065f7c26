// createProxy under client input that fetch cannot carry as is, with a real Balancer over loopback members:
// `Expect: 100-continue` (Node's server answers the 100; the header is not forwarded, the upload goes through),
// a client that goes away mid-upload (its try is cancelled: no member failure, no ejection), and a GET or HEAD
// with a body (400 naming it, before any member is picked, rather than forwarded without its body). Also the
// caller's abort in createFetch generally: no member is blamed, hedged or not, while a hedge that lost (aborted
// by createFetch itself) still counts as its member's failure.
import test from 'ava';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
import type { Balancer } from '../../bindings/balancing/balancer.js';
import { createFetch, type CreateFetchOptions } from '../../bindings/http/fetch.js';
import { createProxy, type ProxyHandler } from '../../bindings/http/proxy.js';

interface Member {
  port: number;
  server: Server;
  /** Requests that reached the member (at their headers), and what each carried once its body ended. */
  started: number;
  seen: { method: string; url: string; headers: IncomingHttpHeaders; body: string }[];
  /** When set, requests get no answer. */
  hang: boolean;
}

async function member(): Promise<Member> {
  const m: Member = { port: 0, server: undefined as unknown as Server, started: 0, seen: [], hang: false };
  m.server = createServer((req, res) => {
    m.started++;
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      m.seen.push({ method: req.method!, url: req.url!, headers: req.headers, body: Buffer.concat(chunks).toString() });
      if (!m.hang) res.end(`ok ${req.method} ${chunks.reduce((n, c) => n + c.length, 0)}`);
    });
  });
  await new Promise<void>((r) => m.server.listen(0, '127.0.0.1', () => r()));
  m.port = (m.server.address() as AddressInfo).port;
  return m;
}

async function stop(m: Member): Promise<void> {
  m.server.closeAllConnections();
  await new Promise<void>((r) => m.server.close(() => r()));
}

/** A proxy (its own Balancer, default outlier detection) in front of `members`. */
async function proxyFor(members: Member[], extra: Partial<CreateFetchOptions> = {}) {
  const handler: ProxyHandler = createProxy({ endpoints: members.map((m) => `127.0.0.1:${m.port}`), ...extra });
  const ejections: string[] = [];
  handler.fetch.detector?.on('ejection', (e) => ejections.push(e.id));
  const server = createServer(handler);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const balancer = handler.fetch.balancer as Balancer;
  return {
    port: (server.address() as AddressInfo).port,
    ejections,
    members: () => balancer.stats().members.map((s) => ({ picks: s.picks, failures: s.failures, active: s.active })),
    async close() {
      handler.fetch.close();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

const until = async (cond: () => boolean, ms = 3000) => {
  for (const end = Date.now() + ms; !cond() && Date.now() < end;) await new Promise((r) => setTimeout(r, 5));
};

/** Reads everything a raw connection gets until it closes. */
function collect(s: Socket): Promise<string> {
  return new Promise((resolve, reject) => {
    let got = '';
    s.on('data', (d: Buffer) => (got += d.toString('latin1')));
    s.on('end', () => resolve(got));
    s.on('error', reject);
  });
}

test.serial('Expect: 100-continue: the client gets its 100, the member the upload without Expect', async (t) => {
  const m = await member();
  const px = await proxyFor([m]);
  try {
    const body = 'u'.repeat(2048); // curl adds Expect: 100-continue to uploads over 1 KiB
    const s = connect(px.port, '127.0.0.1');
    const all = collect(s);
    let got = '';
    s.on('data', (d: Buffer) => (got += d.toString('latin1')));
    s.write(
      `POST /upload HTTP/1.1\r\nHost: api\r\nExpect: 100-continue\r\nContent-Length: ${body.length}\r\n` +
        'Connection: close\r\n\r\n',
    );
    await until(() => got.includes('\r\n\r\n'));
    t.is(got.split('\r\n')[0], 'HTTP/1.1 100 Continue', 'the 100 comes from Node before the body is sent');
    s.write(body);
    const answer = (await all).split('HTTP/1.1 ').at(-1)!;
    t.is(answer.split('\r\n')[0], '200 OK', answer);
    t.true(answer.endsWith(`ok POST ${body.length}`));
    t.is(m.seen.length, 1);
    t.is(m.seen[0]!.body, body);
    t.is(m.seen[0]!.headers.expect, undefined, 'Expect is hop-by-hop here');
    t.deepEqual(px.members(), [{ picks: 1, failures: 0, active: 0 }]);
  } finally {
    await px.close();
    await stop(m);
  }
});

test.serial('clients that go away mid-upload are not failures of the member (no ejection)', async (t) => {
  const m = await member();
  m.hang = true;
  const px = await proxyFor([m]);
  try {
    // 6 in a row: old behaviour counted each as a failure, and 5 consecutive failures eject a member
    for (let i = 0; i < 6; i++) {
      const s = connect(px.port, '127.0.0.1');
      s.on('error', () => {});
      s.write('POST /up HTTP/1.1\r\nHost: api\r\nContent-Length: 100000\r\n\r\n' + 'z'.repeat(1000));
      await until(() => m.started === i + 1);
      t.is(m.started, i + 1, 'the upload was on its way to the member');
      s.destroy();
      await until(() => px.members()[0]!.active === 0);
    }
    t.deepEqual(px.members(), [{ picks: 6, failures: 0, active: 0 }]);
    t.deepEqual(px.ejections, []);
    m.hang = false;
    const s = connect(px.port, '127.0.0.1');
    const all = collect(s);
    s.write('GET /after HTTP/1.1\r\nHost: api\r\nConnection: close\r\n\r\n');
    t.is((await all).split('\r\n')[0], 'HTTP/1.1 200 OK', 'the member still serves');
  } finally {
    await px.close();
    await stop(m);
  }
});

test.serial('a GET or HEAD with a body gets 400 naming it; no member is picked', async (t) => {
  const m = await member();
  const px = await proxyFor([m]);
  const send = async (head: string, body = '') => {
    const s = connect(px.port, '127.0.0.1');
    const all = collect(s);
    s.write(`${head}\r\nHost: api\r\nConnection: close\r\n\r\n${body}`);
    const got = await all;
    return { status: got.split('\r\n')[0], body: got.slice(got.indexOf('\r\n\r\n') + 4) };
  };
  try {
    t.deepEqual(await send('GET /g HTTP/1.1\r\nContent-Length: 5', 'hello'), {
      status: 'HTTP/1.1 400 Bad Request',
      body: 'switchyard proxy: a GET request with a body (Content-Length: 5) is not forwarded: fetch cannot send one\n',
    });
    t.deepEqual(await send('GET /g HTTP/1.1\r\nTransfer-Encoding: chunked', '5\r\nhello\r\n0\r\n\r\n'), {
      status: 'HTTP/1.1 400 Bad Request',
      body: 'switchyard proxy: a GET request with a body (Transfer-Encoding) is not forwarded: fetch cannot send one\n',
    });
    t.is((await send('HEAD /h HTTP/1.1\r\nContent-Length: 3', 'abc')).status, 'HTTP/1.1 400 Bad Request');
    t.deepEqual(m.seen, [], 'nothing reached the member');
    t.deepEqual(px.members(), [{ picks: 0, failures: 0, active: 0 }]);
    // an empty body is no body
    const ok = await send('GET /g HTTP/1.1\r\nContent-Length: 0');
    t.deepEqual(ok, { status: 'HTTP/1.1 200 OK', body: 'ok GET 0' });
    t.is(m.seen.length, 1);
  } finally {
    await px.close();
    await stop(m);
  }
});

const CONFIGS: [string, Partial<CreateFetchOptions>][] = [
  ['plain', {}],
  ['perTryTimeoutMs', { perTryTimeoutMs: 5000 }],
  ['hedge', { hedge: { delayMs: 1000 } }],
  ['deadlineMs', { deadlineMs: 5000 }],
];

test.serial("createFetch: the caller's abort of a try in flight blames no member", async (t) => {
  const m = await member();
  m.hang = true;
  try {
    for (const [name, extra] of CONFIGS) {
      const f = createFetch({ endpoints: [`127.0.0.1:${m.port}`], service: 'http://api', retry: false, ...extra });
      const balancer = f.balancer as Balancer;
      const started = m.started;
      try {
        for (let i = 0; i < 6; i++) {
          const ctl = new AbortController();
          const reason = new Error('caller left');
          const res = f('/slow', { method: 'POST', body: 'x', signal: ctl.signal });
          await until(() => m.started === started + i + 1);
          ctl.abort(reason);
          await t.throwsAsync(res, { is: reason }, name);
        }
        const [s] = balancer.stats().members;
        t.deepEqual([s!.picks, s!.failures, s!.active, s!.available], [6, 0, 0, true], name);
      } finally {
        f.close();
      }
    }
  } finally {
    await stop(m);
  }
});

test.serial('createFetch: a hedge that lost is still its member’s failure', async (t) => {
  const slow = await member();
  const fast = await member();
  slow.hang = true;
  let f: ReturnType<typeof createFetch> | undefined;
  try {
    f = createFetch({
      endpoints: [`127.0.0.1:${slow.port}`, `127.0.0.1:${fast.port}`],
      service: 'http://api',
      policy: 'pick_first',
      outlierDetection: false,
      hedge: { delayMs: 50 },
    });
    const res = await f('/h');
    t.is(await res.text(), 'ok GET 0');
    const balancer = f.balancer as Balancer;
    const stats = () => balancer.stats().members.map((s) => [s.picks, s.failures, s.active]);
    await until(() => stats()[0]![2] === 0);
    t.deepEqual(stats(), [
      [1, 1, 0],
      [1, 0, 0],
    ]);
  } finally {
    f?.close();
    await stop(slow);
    await stop(fast);
  }
});

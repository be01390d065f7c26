// Prequal's server side (bindings/http/prequal-handler.ts) and HTTP prober (bindings/http/prequal-probe.ts):
// RIF counting and the per-RIF median latency on a virtual clock, the probe wire format over real loopback
// node:http servers, the fetch-style handler, and a Balancer with prequal over two real servers, one slow.
import test from 'ava';
import { createServer, request, type IncomingMessage, type Server } from 'node:http';
import { Balancer, VirtualClock, mulberry32, parseEndpoint, type Endpoint } from '../../bindings/index.js';
import { PrequalTracker, prequalFetchHandler, prequalHandler, rifBucket } from '../../bindings/http/prequal-handler.js';
import { createHttpProber } from '../../bindings/http/prequal-probe.js';
import { createNodeHttpProber } from '../../bindings/http/prequal-probe-node.js';
import type { PrequalPolicy } from '../../bindings/balancing/policies/prequal.js';
import { listen } from '../helpers/process.js';

const close = (s: Server) => new Promise<void>((r) => s.close(() => r()));
const member = (port: number) => parseEndpoint(`127.0.0.1:${port}`);
const get = (port: number, path = '/') =>
  new Promise<{ status: number; body: string; type?: string }>((resolve, reject) => {
    request({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode!, body, type: res.headers['content-type'] }));
    })
      .on('error', reject)
      .end();
  });

test('tracker: RIF counts requests in flight; latency is kept under the RIF found on arrival', (t) => {
  const clock = new VirtualClock(0);
  const tr = new PrequalTracker({ clock });
  t.deepEqual(tr.answer(), { rif: 0, latencyMs: null });
  const e1 = tr.begin(); // arrives at RIF 0
  const e2 = tr.begin(); // arrives at RIF 1
  t.is(tr.rif, 2);
  clock.tick(10);
  e1();
  e1(); // a second end is ignored
  clock.tick(20);
  e2();
  t.is(tr.rif, 0);
  t.is(tr.estimateMs(0), 10);
  t.is(tr.estimateMs(1), 30);
  t.is(tr.estimateMs(5), 30); // the nearest bucket with fresh samples (lower first)
  // median of the bucket: 10, 30, 12 → 12
  tr.record(0, 30);
  tr.record(0, 12);
  t.is(tr.estimateMs(0), 12);
  clock.tick(1001); // samples older than maxSampleAgeMs are not used
  t.is(tr.estimateMs(0), null);
  t.is(tr.stats().probes, 1);
  t.is(rifBucket(31), 31);
  t.is(rifBucket(32), 32);
  t.is(rifBucket(64), 33);
  t.throws(() => new PrequalTracker({ maxSampleAgeMs: 0 }), { instanceOf: RangeError, message: /maxSampleAgeMs/ });
  t.throws(() => new PrequalTracker({ samplesPerBucket: 0 }), { instanceOf: RangeError, message: /samplesPerBucket/ });
});

test('node:http handler: probes answer JSON {rif, latencyMs}; other requests are counted and passed on', async (t) => {
  let release: () => void = () => {};
  const app = prequalHandler((req, res) => {
    if (req.url === '/hold') release = () => res.end('held');
    else setTimeout(() => res.end('ok'), 5);
  });
  const s = createServer(app);
  const port = await listen(s);
  try {
    await get(port, '/work');
    const held = get(port, '/hold');
    await new Promise((r) => setTimeout(r, 50));
    const probe = await get(port, '/prequal');
    t.is(probe.status, 200);
    t.is(probe.type, 'application/json');
    const body = JSON.parse(probe.body) as { rif: number; latencyMs: number };
    t.is(body.rif, 1);
    t.true(body.latencyMs >= 4 && body.latencyMs < 1000, String(body.latencyMs));
    release();
    t.is((await held).body, 'held');
    t.like(app.tracker.stats(), { rif: 0, requests: 2, probes: 1 });
    const prober = createHttpProber();
    const answer = await prober(member(port), new AbortController().signal);
    t.is(typeof answer, 'string');
    t.is(JSON.parse(answer as string).rif, 0);
  } finally {
    await close(s);
  }
  t.throws(() => prequalHandler(undefined, { path: 'prequal' }), { instanceOf: TypeError, message: /path/ });
});

test('prober: a status other than 200 rejects; an oversized body is cut and then rejected by the policy', async (t) => {
  const handler = (req: { url?: string }, res: { statusCode: number; end(b?: string): void }) => {
    if (req.url === '/prequal') res.end(`{"rif":1,"pad":"${'x'.repeat(100_000)}"}`);
    else {
      res.statusCode = 404;
      res.end();
    }
  };
  const s = createServer(handler);
  const s2 = createServer(handler);
  const port = await listen(s);
  const port2 = await listen(s2);
  try {
    await t.throwsAsync(createHttpProber({ path: '/nope' })(member(port), new AbortController().signal), {
      message: /status 404/,
    });
    const text = (await createHttpProber()(member(port), new AbortController().signal)) as string;
    t.true(text.length <= 4097, String(text.length));
    const lb = new Balancer({
      policy: { name: 'prequal', probe: createHttpProber(), probeRate: 2 },
      endpoints: [`127.0.0.1:${port}`, `127.0.0.1:${port2}`],
    });
    lb.pickOrThrow().handle.done({ ok: true });
    await new Promise((r) => setTimeout(r, 200));
    const st = (lb.policy as PrequalPolicy).probeStats();
    t.is(st.answered, 0);
    t.is(st.rejected, 2, JSON.stringify(st)); // r = 2 over two members: each probed once, each answer cut
    lb.close();
  } finally {
    await close(s);
    await close(s2);
  }
  t.throws(() => createHttpProber({ scheme: 'ftp' as never }), { instanceOf: TypeError, message: /scheme/ });
});

test('node prober: an answer, a status other than 200 (its endless body dropped), a cut body, an abort', async (t) => {
  let endlessClosed: Promise<void> | undefined;
  const s = createServer((req, res) => {
    if (req.url === '/prequal') return void res.end('{"rif":3,"latencyMs":1.5}');
    if (req.url === '/big') return void res.end(`{"rif":1,"pad":"${'x'.repeat(100_000)}"}`);
    if (req.url === '/hang') return; // never answers
    if (req.url === '/short503') {
      res.writeHead(503);
      res.write('b');
      return void setTimeout(() => res.end('y'), 5);
    }
    // a 503 whose body never ends: the prober must not read it for ever
    res.writeHead(503);
    const chunk = 'y'.repeat(16_384);
    const timer = setInterval(() => res.write(chunk), 2);
    endlessClosed = new Promise((resolve) =>
      res.on('close', () => {
        clearInterval(timer);
        resolve();
      }),
    );
  });
  let connections = 0;
  s.on('connection', () => connections++);
  const port = await listen(s);
  const probe = createNodeHttpProber();
  try {
    t.is(await probe(member(port), new AbortController().signal), '{"rif":3,"latencyMs":1.5}');
    const cut = (await createNodeHttpProber({ path: '/big' })(member(port), new AbortController().signal)) as string;
    t.is(cut.length, 4097);
    await t.throwsAsync(createNodeHttpProber({ path: '/endless' })(member(port), new AbortController().signal), {
      message: /status 503/,
    });
    const dropped = await Promise.race([
      endlessClosed!.then(() => true),
      new Promise<boolean>((r) => setTimeout(() => r(false), 2000)),
    ]);
    t.true(dropped, 'the connection of an endless error body was dropped');
    // a short error body is read before the probe settles, so the policy's abort of a settled probe (as
    // PrequalPolicy does) leaves the keep-alive connection to the next probe
    const before = connections;
    const p503 = createNodeHttpProber({ path: '/short503' });
    for (let i = 0; i < 3; i++) {
      const ac = new AbortController();
      await t.throwsAsync(p503(member(port), ac.signal), { message: /status 503/ });
      ac.abort();
    }
    t.is(connections - before, 1, 'three probes of a short 503 body over one connection');
    p503.agent.destroy();
    const ac = new AbortController();
    const hanging = createNodeHttpProber({ path: '/hang' })(member(port), ac.signal);
    ac.abort(new Error('stop'));
    await t.throwsAsync(hanging);
    t.throws(() => createNodeHttpProber({ path: 'x' }), { instanceOf: TypeError, message: /path/ });
  } finally {
    probe.agent.destroy();
    s.closeAllConnections();
    await close(s);
  }
});

test('fetch-style handler: probes, counting until the body is read, 404 without an app', async (t) => {
  const h = prequalFetchHandler(async () => new Response('hello'));
  const r = await h(new Request('http://x/work'));
  t.is(h.tracker.rif, 1); // the body has not been read yet
  t.is(await r.text(), 'hello');
  t.is(h.tracker.rif, 0);
  const p = await h(new Request('http://x/prequal'));
  t.is(p.headers.get('cache-control'), 'no-store');
  const body = (await p.json()) as { rif: number; latencyMs: number };
  t.is(body.rif, 0);
  t.true(body.latencyMs >= 0);
  t.is((await prequalFetchHandler()(new Request('http://x/other'))).status, 404);
});

test('a Balancer with prequal over two real servers, one 10x slower, sends the slow one almost nothing', async (t) => {
  const mk = (ms: number) => createServer(prequalHandler((_req, res) => setTimeout(() => res.end('ok'), ms)));
  const fast = mk(2);
  const slow = mk(20);
  const [pf, ps] = [await listen(fast), await listen(slow)];
  const lb = new Balancer({
    policy: { name: 'prequal', probe: createHttpProber() },
    random: mulberry32(5),
    endpoints: [`127.0.0.1:${pf}`, `127.0.0.1:${ps}`],
  });
  try {
    let slowCount = 0;
    const worker = async () => {
      for (let i = 0; i < 60; i++) {
        const p = lb.pickOrThrow();
        if (p.member.port === ps) slowCount++;
        await get(p.member.port);
        p.handle.done({ ok: true });
      }
    };
    await Promise.all([worker(), worker(), worker(), worker()]);
    const st = (lb.policy as PrequalPolicy).probeStats();
    t.log(`slow ${slowCount}/240`, JSON.stringify(st));
    t.true(st.answered > 100);
    t.true(slowCount < 24, `slow member got ${slowCount} of 240 (round robin: 120)`);
  } finally {
    lb.close(); // aborts the probes in flight
    await close(fast);
    await close(slow);
  }
});

test('close() and setPolicy away from prequal end its probes at once: the server sees them close long before probeTimeoutMs', async (t) => {
  // servers that never answer a probe: only an abort ends one before probeTimeoutMs (60 s)
  const open = new Set<IncomingMessage>();
  let changed = () => {};
  const hold = (req: IncomingMessage) => {
    open.add(req);
    req.socket.once('close', () => {
      open.delete(req);
      changed();
    });
    changed();
  };
  const until = (ok: () => boolean, ms = 3000) =>
    new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(ok()), ms);
      changed = () => {
        if (ok()) {
          clearTimeout(timer);
          resolve(true);
        }
      };
      changed();
    });
  const servers = [createServer(hold), createServer(hold)];
  const endpoints = [];
  for (const s of servers) endpoints.push(`127.0.0.1:${await listen(s)}`);
  const signals: AbortSignal[] = [];
  const http = createHttpProber();
  const probe = (m: Endpoint, signal: AbortSignal) => {
    signals.push(signal);
    return http(m, signal);
  };
  try {
    for (const retire of [(lb: Balancer) => lb.close(), (lb: Balancer) => lb.setPolicy('round_robin')]) {
      signals.length = 0;
      const lb = new Balancer({ policy: { name: 'prequal', probe, probeTimeoutMs: 60_000 }, endpoints });
      const policy = lb.policy as PrequalPolicy;
      t.true(await until(() => open.size === 2), 'each member holds its start-up probe');
      retire(lb);
      t.true(signals.length === 2 && signals.every((s) => s.aborted));
      t.like(policy.probeStats(), { inFlight: 0, timedOut: 0 });
      t.true(await until(() => open.size === 0), `${open.size} probe connections still open`);
      if (lb.policy !== policy) {
        lb.setPolicy(policy); // back again: it probes again
        t.true(await until(() => open.size === 2));
        t.is(policy.probeStats().sent, 4);
        lb.close();
        t.true(await until(() => open.size === 0));
      }
      lb.close();
    }
  } finally {
    for (const s of servers) s.closeAllConnections();
    await Promise.all(servers.map(close));
  }
});

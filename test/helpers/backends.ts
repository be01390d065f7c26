// Loopback HTTP backends for tests (fetch, proxy, health probes, pages in Chromium): each answers with its
// own name, and its behaviour can be switched at run time (ok, fail with a status, flap, hang, delay, close
// the socket). They send CORS headers and `cache-control: no-store` for page tests. `stop()` closes every
// connection, hanging ones too; `start()` listens again on the same port.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export type Mode =
  | { kind: 'ok' }
  | { kind: 'status'; status: number; retryAfter?: string }
  /** 200 and 503 alternately (by request count). */
  | { kind: 'flap' }
  | { kind: 'hang' }
  | { kind: 'delay'; ms: number }
  | { kind: 'reset' };

export interface Backend {
  name: string;
  port: number;
  mode: Mode;
  requests: { method: string; url: string; body: string }[];
  server: Server;
  stop(): Promise<void>;
  start(): Promise<void>;
}

export async function startBackend(name: string, port = 0): Promise<Backend> {
  let flaps = 0;
  const b: Backend = {
    name,
    port,
    mode: { kind: 'ok' },
    requests: [],
    server: undefined as unknown as Server,
    async stop() {
      await new Promise<void>((resolve) => {
        b.server.close(() => resolve());
        b.server.closeAllConnections();
      });
    },
    async start() {
      b.server = createServer((req, res) => handle(b, req, res, () => flaps++ % 2 === 0));
      await new Promise<void>((resolve, reject) => {
        b.server.once('error', reject);
        b.server.listen(b.port, '127.0.0.1', () => resolve());
      });
      b.port = (b.server.address() as AddressInfo).port;
    },
  };
  await b.start();
  return b;
}

function handle(b: Backend, req: IncomingMessage, res: ServerResponse, flapOk: () => boolean): void {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    b.requests.push({ method: req.method ?? '', url: req.url ?? '', body: Buffer.concat(chunks).toString() });
    res.setHeader('access-control-allow-origin', '*');
    res.setHeader('cache-control', 'no-store');
    res.setHeader('x-backend', b.name);
    let m: Mode = b.mode;
    if (m.kind === 'flap') m = flapOk() ? { kind: 'ok' } : { kind: 'status', status: 503 };
    if (m.kind === 'hang') return;
    if (m.kind === 'reset') {
      req.socket.destroy();
      return;
    }
    if (m.kind === 'status') {
      if (m.retryAfter !== undefined) res.setHeader('retry-after', m.retryAfter);
      res.statusCode = m.status;
      res.end(`${b.name} ${m.status}`);
      return;
    }
    const send = () => res.end(b.name);
    if (m.kind === 'delay') setTimeout(send, m.ms);
    else send();
  });
}

/** Runs `fn` with a backend per name, started together and stopped afterwards whatever happens. */
export async function withBackends<T>(names: string[], fn: (bs: Backend[]) => Promise<T>): Promise<T> {
  const started = await Promise.allSettled(names.map((n) => startBackend(n)));
  const bs = started.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  try {
    for (const r of started) if (r.status === 'rejected') throw r.reason;
    return await fn(bs);
  } finally {
    await Promise.all(bs.map((b) => b.stop().catch(() => {})));
  }
}

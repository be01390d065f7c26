// A loopback HTTP server implementing the part of Consul's HTTP API the resolver uses, written from
// Consul's API documentation (no Consul server is packaged for this machine):
//  - GET /v1/health/service/:service with `passing` (only instances whose checks all pass), `tag`
//    (repeatable; every tag required), `dc` (unknown datacenter: 500 "No path to datacenter"),
//  - entries shaped `{ Node, Service, Checks }` as in "List Service Instances for Service",
//  - blocking queries: `X-Consul-Index` on every answer; with `index=N` (N > 0) the request hangs while the
//    index is <= N, until it moves past N (or is forced, even backwards) or `wait` (default 5m, max 10m, units ms/s/m/h) runs out, then answers
//    with the current state (possibly unchanged).
// Test controls: change instances (bumping the index), force the index (e.g. backwards, as after a
// snapshot restore), and make the next requests fail with a status code.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';

export interface FakeInstance {
  node: string;
  nodeAddress: string;
  datacenter?: string;
  id: string;
  address?: string;
  port: number;
  tags?: string[];
  meta?: Record<string, string>;
  /** The node's meta (`Node.Meta`). */
  nodeMeta?: Record<string, string>;
  weights?: { Passing: number; Warning: number };
  /** Service check status (a node-level serfHealth check, passing, is added). */
  status?: 'passing' | 'warning' | 'critical';
}

export interface ConsulFake {
  url: string;
  /** Replaces a service's instances; bumps the index. */
  setService(name: string, instances: FakeInstance[]): void;
  /** Forces the index (answers after this use it); wakes blocked queries. */
  forceIndex(index: number): void;
  /** The next `count` requests answer `status` (e.g. 500). */
  failNext(count: number, status?: number): void;
  /** Every request's query parameters, in order. */
  requests: Array<{
    index: string | null;
    wait: string | null;
    passing: string | null;
    tags: string[];
    dc: string | null;
  }>;
  close(): Promise<void>;
}

function parseWaitMs(s: string | null): number {
  if (s === null) return 5 * 60_000;
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(s);
  if (m === null) return 5 * 60_000;
  const n = Number(m[1]);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] ?? 's']!;
  return Math.min(n * unit, 10 * 60_000);
}

export async function startConsulFake(): Promise<ConsulFake> {
  const services = new Map<string, FakeInstance[]>();
  let index = 1;
  let failures = 0;
  let failStatus = 500;
  const waiters = new Set<() => void>();
  const requests: ConsulFake['requests'] = [];
  const wake = () => {
    for (const w of [...waiters]) w();
  };

  const entries = (name: string, passing: boolean, tags: string[], dc: string) =>
    (services.get(name) ?? [])
      .filter((i) => (i.datacenter ?? 'dc1') === dc)
      .filter((i) => tags.every((t) => (i.tags ?? []).includes(t)))
      .filter((i) => !passing || (i.status ?? 'passing') === 'passing')
      .map((i) => ({
        Node: {
          ID: `node-${i.node}`,
          Node: i.node,
          Address: i.nodeAddress,
          Datacenter: dc,
          TaggedAddresses: { lan: i.nodeAddress, wan: i.nodeAddress },
          Meta: i.nodeMeta ?? {},
          CreateIndex: 1,
          ModifyIndex: index,
        },
        Service: {
          ID: i.id,
          Service: name,
          Tags: i.tags ?? [],
          Address: i.address ?? '',
          Meta: i.meta ?? {},
          Port: i.port,
          Weights: i.weights ?? { Passing: 1, Warning: 1 },
          EnableTagOverride: false,
          CreateIndex: 1,
          ModifyIndex: index,
        },
        Checks: [
          {
            Node: i.node,
            CheckID: 'serfHealth',
            Name: 'Serf Health Status',
            Status: 'passing',
            ServiceID: '',
            ServiceName: '',
          },
          {
            Node: i.node,
            CheckID: `service:${i.id}`,
            Name: `Service '${name}' check`,
            Status: i.status ?? 'passing',
            ServiceID: i.id,
            ServiceName: name,
            ServiceTags: i.tags ?? [],
          },
        ],
      }));

  const handle = (req: IncomingMessage, res: ServerResponse) => {
    const u = new URL(req.url ?? '/', 'http://x');
    const m = /^\/v1\/health\/service\/([^/]+)$/.exec(u.pathname);
    if (req.method !== 'GET' || m === null) {
      res.writeHead(404).end('not found');
      return;
    }
    const q = u.searchParams;
    requests.push({
      index: q.get('index'),
      wait: q.get('wait'),
      passing: q.get('passing'),
      tags: q.getAll('tag'),
      dc: q.get('dc'),
    });
    if (failures > 0) {
      failures--;
      res.writeHead(failStatus, { 'content-type': 'text/plain' }).end('rpc error: internal failure');
      return;
    }
    const dc = q.get('dc') ?? 'dc1';
    if (dc !== 'dc1' && dc !== 'dc2') {
      res.writeHead(500, { 'content-type': 'text/plain' }).end('No path to datacenter');
      return;
    }
    const name = decodeURIComponent(m[1]!);
    const passing = q.has('passing') && q.get('passing') !== 'false';
    const answer = () => {
      res.writeHead(200, {
        'content-type': 'application/json',
        'x-consul-index': String(index),
        'x-consul-knownleader': 'true',
      });
      res.end(JSON.stringify(entries(name, passing, q.getAll('tag'), dc)));
    };
    const want = Number(q.get('index') ?? '0');
    // Consul blocks while the index has not moved past the requested one.
    if (!(want > 0) || index > want) {
      answer();
      return;
    }
    // Blocking: hang until the index changes or the wait runs out.
    const timer = setTimeout(done, parseWaitMs(q.get('wait')));
    function done() {
      clearTimeout(timer);
      waiters.delete(done);
      if (!res.writableEnded && !res.destroyed) answer();
    }
    waiters.add(done);
    req.on('close', () => {
      clearTimeout(timer);
      waiters.delete(done);
    });
  };

  const server: Server = createServer(handle);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    setService(name, instances) {
      services.set(name, instances);
      index++;
      wake();
    },
    forceIndex(i) {
      index = i;
      wake();
    },
    failNext(count, status = 500) {
      failures = count;
      failStatus = status;
      wake();
    },
    async close() {
      wake();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

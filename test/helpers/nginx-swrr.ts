// A literal model of nginx's round-robin peer selection (ngx_http_upstream_get_peer and
// ngx_http_upstream_free_round_robin_peer, nginx commit 52327e062 onwards), written as plainly as possible to
// check the Balancer against. Times in ms; nginx uses seconds, which only scales fail_timeout.
export interface NginxPeer {
  id: string;
  weight: number;
  currentWeight: number;
  effectiveWeight: number;
  fails: number;
  accessed: number;
  checked: number;
  down: boolean;
}

export class NginxRoundRobin {
  readonly peers: NginxPeer[];
  constructor(
    weights: readonly [string, number][],
    readonly maxFails = 1,
    readonly failTimeoutMs = 10_000,
  ) {
    this.peers = weights.map(([id, weight]) => ({
      id,
      weight,
      currentWeight: 0,
      effectiveWeight: weight,
      fails: 0,
      accessed: 0,
      checked: 0,
      down: false,
    }));
  }

  get(now: number, tried: ReadonlySet<string> = new Set()): NginxPeer | null {
    if (this.peers.length === 1) {
      const p = this.peers[0]!;
      return p.down || tried.has(p.id) ? null : p;
    }
    let best: NginxPeer | null = null;
    let total = 0;
    for (const peer of this.peers) {
      if (tried.has(peer.id) || peer.down) continue;
      if (this.maxFails && peer.fails >= this.maxFails && now - peer.checked <= this.failTimeoutMs) continue;
      peer.currentWeight += peer.effectiveWeight;
      total += peer.effectiveWeight;
      if (peer.effectiveWeight < peer.weight) peer.effectiveWeight++;
      if (best === null || peer.currentWeight > best.currentWeight) best = peer;
    }
    if (best === null) return null;
    best.currentWeight -= total;
    if (now - best.checked > this.failTimeoutMs) best.checked = now;
    return best;
  }

  free(peer: NginxPeer, ok: boolean, now: number): void {
    if (this.peers.length === 1) return;
    if (!ok) {
      peer.fails++;
      peer.accessed = now;
      peer.checked = now;
      if (this.maxFails) peer.effectiveWeight -= Math.trunc(peer.weight / this.maxFails);
      if (peer.effectiveWeight < 0) peer.effectiveWeight = 0;
    } else if (peer.accessed < peer.checked) peer.fails = 0;
  }
}

// --- a running nginx with plain (smooth weighted round robin) upstream blocks ---
import { Agent, request } from 'node:http';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, removeDir, startServer, tempDir, waitForPort, type Server } from './process.js';

export interface SwrrUpstream {
  name: string;
  /** Backend index (into the shared list) and nginx server parameters. */
  servers: { backend: number; weight: number; maxFails?: number }[];
}

export interface SwrrNginx {
  /** "127.0.0.1:PORT" per backend; `dead` backends have a port nothing listens on. */
  backends: string[];
  get(path: string): Promise<string>;
  output(): string;
  stop(): Promise<void>;
}

/** One nginx process (master_process off, so one worker's state): /<name>/ proxies to upstream <name>. */
export async function startSwrrNginx(live: number, dead: number, upstreams: SwrrUpstream[]): Promise<SwrrNginx> {
  const dir = tempDir('nginx-swrr');
  const ports: number[] = [];
  while (ports.length < live + dead + 1) ports.push(await freePort()); // distinct (freePort)
  const [front, ...rest] = ports as [number, ...number[]];
  const backends = rest.map((p) => `127.0.0.1:${p}`);
  const conf = [
    `pid ${dir}/nginx.pid;`,
    `error_log ${dir}/error.log warn;`,
    'events { worker_connections 256; }',
    'http {',
    '  access_log off;',
    ...['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((t) => `  ${t}_temp_path ${dir}/${t};`),
    ...upstreams.map(
      (u) =>
        `  upstream ${u.name} { ${u.servers
          .map((s) => `server ${backends[s.backend]} weight=${s.weight} max_fails=${s.maxFails ?? 1} fail_timeout=60s;`)
          .join(' ')} }`,
    ),
    `  server { listen 127.0.0.1:${front}; keepalive_requests 100000;`,
    ...upstreams.map((u) => `    location /${u.name}/ { proxy_pass http://${u.name}; proxy_connect_timeout 5s; }`),
    '  }',
    ...backends.slice(0, live).map((b) => `  server { listen ${b}; location / { return 200 "${b}"; } }`),
    '}',
  ].join('\n');
  const confPath = join(dir, 'nginx.conf');
  writeFileSync(confPath, conf + '\n');
  const server: Server = startServer('/usr/sbin/nginx', [
    '-p',
    dir,
    '-e',
    join(dir, 'error.log'),
    '-c',
    confPath,
    '-g',
    'daemon off; master_process off;',
  ]);
  try {
    await waitForPort(front);
    for (const b of backends.slice(0, live)) await waitForPort(Number(b.split(':')[1]));
  } catch (err) {
    await server.stop();
    removeDir(dir);
    throw new Error(`nginx did not start: ${String(err)}\n${server.output()}`, { cause: err });
  }
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const get = (path: string) =>
    new Promise<string>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port: front, path, agent, timeout: 30_000 }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (body += d));
        res.on('end', () => resolve(res.statusCode === 200 ? body : `status ${res.statusCode}`));
      });
      req.on('timeout', () => req.destroy(new Error(`GET ${path}: timeout`)));
      req.on('error', reject);
      req.end();
    });
  return {
    backends,
    get,
    output: () => server.output(),
    async stop() {
      agent.destroy();
      await server.stop();
      removeDir(dir);
    },
  };
}

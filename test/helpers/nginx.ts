// A real nginx on loopback for agreement tests: one process (`master_process off`) whose front server
// proxies /<upstream>/ to `upstream` blocks using `hash $arg_k consistent`, and whose backend servers,
// also server blocks of the same nginx on free ports, answer with their own name ("127.0.0.1:PORT").
// Everything (pid, logs, temp paths) lives in a temp dir; stop() ends the process by PID and removes it.
import { request, Agent } from 'node:http';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, removeDir, startServer, tempDir, waitForPort, type Server } from './process.js';

export const NGINX_BIN = '/usr/sbin/nginx';

export interface NginxUpstream {
  /** Location prefix and upstream block name, e.g. 'u0'. */
  name: string;
  /** Directive inside the block, e.g. 'hash $arg_k consistent'. */
  balance: string;
  /** Indices into the shared backend list, with nginx `weight=`. */
  servers: { backend: number; weight: number; down?: boolean }[];
}

export interface NginxInstance {
  port: number;
  /** Backend names as written in the upstream blocks ("127.0.0.1:PORT"). */
  backends: string[];
  server: Server;
  dir: string;
  /** GET path on the front server over keep-alive; resolves to the body. */
  get(path: string): Promise<string>;
  stop(): Promise<void>;
}

export async function startNginx(
  backendCount: number,
  upstreams: (backends: string[]) => NginxUpstream[],
): Promise<NginxInstance> {
  const dir = tempDir('nginx');
  const port = await freePort();
  const backendPorts: number[] = [];
  while (backendPorts.length < backendCount) backendPorts.push(await freePort()); // distinct (freePort)
  const backends = backendPorts.map((p) => `127.0.0.1:${p}`);
  const ups = upstreams(backends);
  const conf = [
    `pid ${dir}/nginx.pid;`,
    `error_log ${dir}/error.log warn;`,
    'events { worker_connections 512; }',
    'http {',
    '  access_log off;',
    ...['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((t) => `  ${t}_temp_path ${dir}/${t};`),
    ...ups.map(
      (u) =>
        `  upstream ${u.name} { ${u.balance}; ${u.servers.map((s) => `server ${backends[s.backend]} weight=${s.weight}${s.down === true ? ' down' : ''};`).join(' ')} keepalive 8; }`,
    ),
    `  server { listen 127.0.0.1:${port}; keepalive_requests 100000;`,
    ...ups.map(
      (u) =>
        `    location /${u.name}/ { proxy_pass http://${u.name}; proxy_http_version 1.1; proxy_set_header Connection ""; }`,
    ),
    '  }',
    ...backends.map((b) => `  server { listen ${b}; keepalive_requests 100000; location / { return 200 "${b}"; } }`),
    '}',
  ].join('\n');
  const confPath = join(dir, 'nginx.conf');
  writeFileSync(confPath, conf + '\n');
  const server = startServer(NGINX_BIN, [
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
    await waitForPort(port);
    for (const p of backendPorts) await waitForPort(p);
  } catch (err) {
    await server.stop();
    throw new Error(`nginx did not start: ${String(err)}\n${server.output()}`, { cause: err });
  }
  const agent = new Agent({ keepAlive: true, maxSockets: 8 });
  const get = (path: string) =>
    new Promise<string>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, path, agent, timeout: 30_000 }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (body += d));
        res.on('end', () =>
          res.statusCode === 200 ? resolve(body) : reject(new Error(`GET ${path}: ${res.statusCode} ${body}`)),
        );
      });
      req.on('timeout', () => req.destroy(new Error(`GET ${path}: timeout`)));
      req.on('error', reject);
      req.end();
    });
  return {
    port,
    backends,
    server,
    dir,
    get,
    async stop() {
      agent.destroy();
      await server.stop('SIGQUIT');
      await server.stop();
      removeDir(dir);
    },
  };
}

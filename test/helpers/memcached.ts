// Real memcached servers and a real twemproxy (nutcracker) for the live ketama tests, plus a minimal
// memcached text-protocol client over node:net (set / get, one request in flight per connection).
import { writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { freePort, startServer, waitForPort, type Server } from './process.js';

export interface Memcached {
  port: number;
  server: Server;
}

/** memcached on 127.0.0.1 (or the given loopback addresses), TCP only, in the foreground. */
export async function startMemcached(listen: string[] = ['127.0.0.1']): Promise<Memcached> {
  const port = await freePort();
  const args = ['-l', listen.join(','), '-p', String(port), '-U', '0', '-m', '64'];
  if (userInfo().uid === 0) args.push('-u', 'root'); // memcached refuses to run as root without -u
  const server = startServer('memcached', args);
  try {
    await waitForPort(port);
  } catch (err) {
    await server.stop();
    throw new Error(`memcached did not start: ${String(err)}\n${server.output()}`, { cause: err });
  }
  return { port, server };
}

export interface TwemproxyPool {
  name: string;
  hash: string;
  /** `servers:` lines, e.g. `127.0.0.1:21211:1` or `127.0.0.1:21211:2 alpha`. */
  servers: string[];
  /** `hash_tag:`, e.g. '{}'. */
  hashTag?: string;
}

export interface Twemproxy {
  server: Server;
  /** Listen port per pool name. */
  ports: Record<string, number>;
  conf: string;
}

/** nutcracker in the foreground with one ketama pool per entry, logs and pid file in `dir`. */
export async function startTwemproxy(dir: string, pools: TwemproxyPool[]): Promise<Twemproxy> {
  const ports: Record<string, number> = {};
  let conf = '';
  for (const p of pools) {
    ports[p.name] = await freePort();
    conf += `${p.name}:\n  listen: 127.0.0.1:${ports[p.name]}\n  hash: ${p.hash}\n  distribution: ketama\n  timeout: 5000\n  auto_eject_hosts: false\n`;
    if (p.hashTag !== undefined) conf += `  hash_tag: "${p.hashTag}"\n`;
    conf += '  servers:\n';
    for (const s of p.servers) conf += `    - ${s}\n`;
  }
  const confPath = join(dir, 'nutcracker.yml');
  writeFileSync(confPath, conf);
  const statsPort = await freePort();
  const server = startServer('nutcracker', [
    '-c',
    confPath,
    '-o',
    join(dir, 'nutcracker.log'),
    '-s',
    String(statsPort),
    '-a',
    '127.0.0.1',
    '-p',
    join(dir, 'nutcracker.pid'),
  ]);
  try {
    for (const p of pools) await waitForPort(ports[p.name]!);
  } catch (err) {
    await server.stop();
    throw new Error(`nutcracker did not start: ${String(err)}\n${server.output()}\n${conf}`, { cause: err });
  }
  return { server, ports, conf };
}

/** A memcached text-protocol connection: requests are serialized, responses parsed from a byte buffer. */
export class McConn {
  private buf = Buffer.alloc(0);
  private waiting: (() => void) | null = null;
  private error: Error | null = null;
  private chain: Promise<unknown> = Promise.resolve();

  private constructor(private readonly sock: Socket) {
    sock.on('data', (d: Buffer) => {
      this.buf = Buffer.concat([this.buf, d]);
      this.wake();
    });
    sock.on('error', (e) => {
      this.error = e;
      this.wake();
    });
    sock.on('close', () => {
      this.error ??= new Error('connection closed');
      this.wake();
    });
  }

  static open(port: number): Promise<McConn> {
    return new Promise((resolve, reject) => {
      const s = connect({ port, host: '127.0.0.1' }, () => {
        s.off('error', reject);
        resolve(new McConn(s));
      });
      s.once('error', reject);
    });
  }

  /** `set` with flags 0 and no expiry; resolves with the reply line (`STORED` on success). */
  set(key: Uint8Array | string, value: string): Promise<string> {
    const k = typeof key === 'string' ? Buffer.from(key) : Buffer.from(key);
    const v = Buffer.from(value);
    const req = Buffer.concat([Buffer.from('set '), k, Buffer.from(` 0 0 ${v.length}\r\n`), v, Buffer.from('\r\n')]);
    return this.serial(async () => {
      this.sock.write(req);
      return (await this.line()).toString();
    });
  }

  /** `get`; resolves with the value, or undefined on a miss. */
  get(key: Uint8Array | string): Promise<string | undefined> {
    const k = typeof key === 'string' ? Buffer.from(key) : Buffer.from(key);
    return this.serial(async () => {
      this.sock.write(Buffer.concat([Buffer.from('get '), k, Buffer.from('\r\n')]));
      let value: string | undefined;
      for (;;) {
        const l = (await this.line()).toString();
        if (l === 'END') return value;
        const m = /^VALUE \S+ \d+ (\d+)$/.exec(l);
        if (m === null) throw new Error(`unexpected reply to get: ${l}`);
        const data = await this.bytes(Number(m[1]) + 2);
        value = data.subarray(0, data.length - 2).toString();
      }
    });
  }

  close(): void {
    this.sock.destroy();
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const p = this.chain.then(fn);
    this.chain = p.catch(() => {});
    return p;
  }

  private wake(): void {
    const w = this.waiting;
    this.waiting = null;
    w?.();
  }

  private async until(ready: () => number): Promise<Buffer> {
    for (;;) {
      const n = ready();
      if (n >= 0) {
        const out = this.buf.subarray(0, n);
        this.buf = this.buf.subarray(n);
        return out;
      }
      if (this.error !== null) throw this.error;
      await new Promise<void>((r) => (this.waiting = r));
    }
  }

  private async line(): Promise<Buffer> {
    const l = await this.until(() => {
      const i = this.buf.indexOf('\r\n');
      return i < 0 ? -1 : i + 2;
    });
    return l.subarray(0, l.length - 2);
  }

  private bytes(n: number): Promise<Buffer> {
    return this.until(() => (this.buf.length >= n ? n : -1));
  }
}

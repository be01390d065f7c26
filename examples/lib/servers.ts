// Starts throwaway servers on free loopback ports for the examples, and stops them.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const a = srv.address();
      srv.close(() => resolve(typeof a === 'object' && a !== null ? a.port : 0));
    });
  });
}

async function waitForPort(port: number, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (
    !(await new Promise<boolean>((r) =>
      connect({ port, host: '127.0.0.1' }, function (this: import('node:net').Socket) {
        this.destroy();
        r(true);
      }).once('error', () => r(false)),
    ))
  ) {
    if (Date.now() > deadline) throw new Error(`127.0.0.1:${port} did not open`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export interface Daemon {
  port: number;
  stop(): Promise<void>;
}

/** Starts `redis-server` in the foreground with no persistence, in a temp dir. */
export async function startRedis(): Promise<Daemon> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'switchyard-redis-'));
  const proc = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir],
    { stdio: 'ignore' },
  );
  return daemon(proc, port, dir);
}

/** Starts `memcached` in the foreground on 127.0.0.1. */
export async function startMemcached(): Promise<Daemon> {
  const port = await freePort();
  const proc = spawn('memcached', ['-l', '127.0.0.1', '-p', String(port), '-U', '0', '-u', 'root', '-m', '64'], {
    stdio: 'ignore',
  });
  return daemon(proc, port);
}

/** Starts twemproxy (`nutcracker`) in the foreground with one ketama pool over `servers` (`host:port:weight`). */
export async function startTwemproxy(servers: string[], hash = 'md5'): Promise<Daemon> {
  const port = await freePort();
  const statsPort = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'switchyard-twemproxy-'));
  const conf = join(dir, 'nutcracker.yml');
  writeFileSync(
    conf,
    `pool:\n  listen: 127.0.0.1:${port}\n  hash: ${hash}\n  distribution: ketama\n  auto_eject_hosts: false\n  timeout: 5000\n  servers:\n${servers.map((s) => `    - ${s}\n`).join('')}`,
  );
  const proc = spawn(
    'nutcracker',
    [
      '-c',
      conf,
      '-o',
      join(dir, 'nutcracker.log'),
      '-s',
      String(statsPort),
      '-a',
      '127.0.0.1',
      '-p',
      join(dir, 'nutcracker.pid'),
    ],
    { stdio: 'ignore' },
  );
  return daemon(proc, port, dir);
}

async function daemon(proc: ChildProcess, port: number, dir?: string): Promise<Daemon> {
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  proc.once('error', () => {});
  await waitForPort(port);
  return {
    port,
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
      await exited;
      if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
    },
  };
}

// Starting real servers for tests: free loopback ports, spawn with a temp dir, wait until a port accepts
// connections, stop by PID. Every server a test starts is stopped in `test.after.always`.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, connect, type AddressInfo, type Server as NetServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Ports freePort() handed out in this process. */
const handedOut = new Set<number>();
/** Ports handed out by any test process: one file per port, created exclusively (ava runs files in processes). */
const claims = join(tmpdir(), `switchyard-test-ports-${process.getuid?.() ?? 0}`);
/** A claim older than this is stale (a process that died without removing its files). */
const CLAIM_TTL_MS = 30 * 60_000;

/**
 * A loopback port nothing listens on, never one this process or another test process running now was given:
 * a port handed out and not yet bound is free again, so two servers started together (twemproxy's pools, etcd's
 * members, or two test files at once) could get the same one (nutcracker then refuses its file as "syntax is
 * invalid").
 */
export async function freePort(): Promise<number> {
  for (;;) {
    const port = await anyFreePort();
    if (!handedOut.has(port) && claim(port)) {
      handedOut.add(port);
      return port;
    }
  }
}

/** Claims `port` for this process; true when no other test process holds it (or claims cannot be written). */
function claim(port: number): boolean {
  const file = join(claims, String(port));
  try {
    mkdirSync(claims, { recursive: true });
    writeFileSync(file, String(process.pid), { flag: 'wx' });
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') return true; // no shared claims here: this process's own
  }
  try {
    if (Date.now() - statSync(file).mtimeMs < CLAIM_TTL_MS) return false;
    writeFileSync(file, String(process.pid)); // stale: take it over
    return true;
  } catch {
    return false;
  }
}

process.once('exit', () => {
  for (const port of handedOut) rmSync(join(claims, String(port)), { force: true });
});

function anyFreePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `switchyard-${prefix}-`));
}

export async function waitForPort(port: number, timeoutMs = 15_000, host = '127.0.0.1'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect({ port, host }, () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`port ${host}:${port} did not open within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export interface Server {
  proc: ChildProcess;
  stop(signal?: NodeJS.Signals): Promise<void>;
  output(): string;
}

/** Spawns a daemon in the foreground (no daemonizing flags), capturing its output for failure messages. */
export function startServer(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Server {
  const proc = spawn(cmd, args, {
    cwd: opts.cwd,
    env: { ...process.env, ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const keep = (d: Buffer) => {
    out = (out + d.toString()).slice(-20_000);
  };
  proc.stdout!.on('data', keep);
  proc.stderr!.on('data', keep);
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  return {
    proc,
    output: () => out,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (proc.exitCode === null && proc.signalCode === null) {
        proc.kill(signal);
        const t = setTimeout(() => proc.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(t);
      }
    },
  };
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/** Starts `server` on a free loopback port; returns the port. */
export async function listen(server: NetServer): Promise<number> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return (server.address() as AddressInfo).port;
}

/** A loopback port nothing listens on (bound, then closed): connections to it are refused. */
export async function closedPort(): Promise<number> {
  const s = createServer();
  const port = await listen(s);
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

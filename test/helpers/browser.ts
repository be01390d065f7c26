// Health-check test helpers: loopback HTTP backends whose behaviour can be switched (ok, fail with 500, hang,
// flap, killed and restarted on the same port; CORS headers for page tests), headless Debian Chromium via
// playwright-core, an esbuild browser bundle written to a temp dir, and a loopback server for the page.
import { build } from 'esbuild';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { join } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { removeDir, tempDir } from './process.js';

export type BackendMode = 'ok' | 'fail' | 'hang' | 'flap';

export interface HealthBackend {
  readonly port: number;
  mode: BackendMode;
  /** Requests answered or held since start. */
  hits: number;
  /** Closes the listener and every connection (hanging ones too). */
  kill(): Promise<void>;
  /** Listens again on the same port. */
  restart(): Promise<void>;
}

/** `flap` answers 200 and 503 alternately (by request count). */
export async function startHealthBackend(port = 0): Promise<HealthBackend> {
  let server: Server;
  const sockets = new Set<Socket>();
  let flip = 0;
  const b = {
    port,
    mode: 'ok' as BackendMode,
    hits: 0,
    async kill() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
        server.closeAllConnections();
      });
    },
    async restart() {
      server = createServer((req, res) => {
        b.hits++;
        res.setHeader('access-control-allow-origin', '*');
        res.setHeader('cache-control', 'no-store');
        if (b.mode === 'hang') return;
        const ok = b.mode === 'ok' || (b.mode === 'flap' && flip++ % 2 === 0);
        res.statusCode = ok ? 200 : b.mode === 'flap' ? 503 : 500;
        res.end(ok ? 'ok' : 'fail');
      });
      server.on('connection', (s) => {
        sockets.add(s);
        s.once('close', () => sockets.delete(s));
      });
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(b.port, '127.0.0.1', () => resolve());
      });
      b.port = (server.address() as AddressInfo).port;
    },
  };
  await b.restart();
  return b;
}

export function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-quic',
      '--no-first-run',
      '--disable-sync',
    ],
  });
}

/**
 * Bundles page source `contents` (imports resolved from `resolveDir`) for browsers with esbuild (ESM,
 * platform browser) into a temp dir and returns the code.
 */
export async function bundleForBrowser(contents: string, resolveDir: string): Promise<string> {
  const dir = tempDir('health-bundle');
  try {
    const outfile = join(dir, 'app.js');
    await build({
      stdin: { contents, resolveDir, loader: 'ts', sourcefile: 'page.ts' },
      bundle: true,
      format: 'esm',
      platform: 'browser',
      target: 'es2022',
      outfile,
      logLevel: 'silent',
    });
    return readFileSync(outfile, 'utf8');
  } finally {
    removeDir(dir);
  }
}

export interface PageHost {
  url: string;
  close(): Promise<void>;
}

/** Serves a page that loads `/app.js` (the bundle) on loopback. */
export async function hostPage(js: string): Promise<PageHost> {
  const server = createServer((req, res) => {
    if (req.url === '/app.js') {
      res.setHeader('content-type', 'text/javascript');
      res.end(js);
    } else if (req.url === '/' || req.url?.startsWith('/?') === true) {
      res.setHeader('content-type', 'text/html');
      res.end(
        '<!doctype html><meta charset="utf-8"><title>health</title><script type="module" src="/app.js"></script>',
      );
    } else {
      res.statusCode = 404;
      res.end();
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/`,
    close: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      }),
  };
}

/** Polls `cond` every 10 ms until true or `timeoutMs`; returns the elapsed ms or throws. */
export async function waitFor(what: string, cond: () => boolean, timeoutMs = 15_000): Promise<number> {
  const t0 = performance.now();
  for (let i = 0; ; i++) {
    if (cond()) return performance.now() - t0;
    if (performance.now() - t0 > timeoutMs || i > timeoutMs / 5) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

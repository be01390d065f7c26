// Headless Debian Chromium via playwright-core, and a loopback page server for bundles built with esbuild.
import { build } from 'esbuild';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { chromium, type Browser } from 'playwright-core';

export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-quic',
  '--no-first-run',
  '--disable-sync',
];

export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS, headless: true });
}

/** Bundles `entry` for browsers (ESM, one file) and returns the code. */
export async function bundle(entry: string, define: Record<string, string> = {}): Promise<string> {
  const out = await build({
    entryPoints: [entry],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    write: false,
    define,
  });
  return out.outputFiles[0]!.text;
}

export interface PageServer {
  url: string;
  close(): Promise<void>;
}

/** Serves `/` (a page loading /app.js) and `/app.js`, with an optional Content-Security-Policy. */
export async function servePage(js: string, csp?: string): Promise<PageServer> {
  const server: Server = createServer((req, res) => {
    if (csp !== undefined) res.setHeader('content-security-policy', csp);
    if (req.url === '/app.js') {
      res.setHeader('content-type', 'text/javascript');
      res.end(js);
    } else if (req.url === '/' || req.url?.startsWith('/?')) {
      res.setHeader('content-type', 'text/html');
      res.end(
        '<!doctype html><meta charset="utf-8"><title>switchyard</title><script type="module" src="/app.js"></script>',
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

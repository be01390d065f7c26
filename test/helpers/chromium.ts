// Pages in headless Chromium for the browser tests: the one launcher (Debian's /usr/bin/chromium through
// playwright-core), the one esbuild bundler for browser code (a file, or an inline source), and the one
// loopback page server (`/` loads `/app.js`, the bundle, as a module script).
import { build } from 'esbuild';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { chromium, type Browser } from 'playwright-core';

/** Flags beyond playwright's defaults: no sandbox (containers, root) and no GPU (headless servers). */
export const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu'];

export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS, headless: true });
}

/** An inline TypeScript module whose imports resolve from `resolveDir`. */
export interface InlineSource {
  contents: string;
  resolveDir: string;
}

/** Bundles `entry` (a file path or an inline source) for browsers (ESM, one file) and returns the code. */
export async function bundle(entry: string | InlineSource, define: Record<string, string> = {}): Promise<string> {
  const out = await build({
    ...(typeof entry === 'string'
      ? { entryPoints: [entry] }
      : { stdin: { contents: entry.contents, resolveDir: entry.resolveDir, loader: 'ts', sourcefile: 'page.ts' } }),
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

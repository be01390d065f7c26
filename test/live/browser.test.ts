// The library in headless Chromium: the WASM backend loads from the inlined bytes; 10 000 keys route exactly
// as in Node (cross-runtime determinism); with a CSP that lacks 'wasm-unsafe-eval' it falls back to the
// pure-TS backend and still routes identically.
import { mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Browser } from 'playwright-core';
import { build as viteBuild } from 'vite';
import * as sy from '../../bindings/index.js';
import { ringRoutes } from './browser/ring-routes.js';
import { bundle, launchChromium, servePage } from '../helpers/chromium.js';
import { removeDir, tempDir } from '../helpers/process.js';
import { live } from '../helpers/live.js';

const test = live(['chromium'], import.meta.url);

let browser: Browser;
let js = '';

test.before(async () => {
  browser = await launchChromium();
  js = await bundle(new URL('./browser/page-ring.ts', import.meta.url).pathname);
});

test.after.always(async () => {
  await browser?.close();
});

const nodeResult = () => ringRoutes(sy);

async function runPage(csp?: string, code = js) {
  const server = await servePage(code, csp);
  const page = await browser.newPage();
  try {
    await page.goto(server.url);
    await page.waitForFunction(() => window.__result !== undefined, undefined, { timeout: 30_000 });
    return (await page.evaluate(() => window.__result)) as { backend: string; error: string } & ReturnType<
      typeof nodeResult
    >;
  } finally {
    await page.close();
    await server.close();
  }
}

test('in Chromium the WASM backend is active and 10 000 keys route as in Node', async (t) => {
  const r = await runPage();
  t.is(r.backend, 'wasm');
  const n = nodeResult();
  t.is(r.routes, n.routes);
  t.is(r.routes64, n.routes64);
  t.is(r.byHash, n.byHash);
  t.is(r.h32, n.h32);
  t.is(r.h64, n.h64);
});

test("with a CSP lacking 'wasm-unsafe-eval' it falls back to pure TS and routes identically", async (t) => {
  const r = await runPage("default-src 'self'; script-src 'self'");
  t.is(r.backend, 'js');
  t.regex(r.error, /CompileError|EvalError|Content Security Policy|unsafe-eval/i);
  const n = nodeResult();
  t.is(r.routes, n.routes);
  t.is(r.routes64, n.routes64);
  t.is(r.byHash, n.byHash);
  t.is(r.h64, n.h64);
  const allowed = await runPage("default-src 'self'; script-src 'self' 'wasm-unsafe-eval'");
  t.is(allowed.backend, 'wasm');
});

test('the packed package bundled by Vite (library build, package exports) routes identically in Chromium', async (t) => {
  const root = resolve(import.meta.dirname, '../..');
  const dir = tempDir('vite');
  try {
    mkdirSync(join(dir, 'node_modules'));
    symlinkSync(root, join(dir, 'node_modules/switchyard'), 'dir');
    const logic = join(root, 'test/live/browser/ring-routes.ts');
    writeFileSync(
      join(dir, 'main.ts'),
      `import * as sy from 'switchyard';\nimport { ringRoutes } from ${JSON.stringify(logic)};\n` +
        `(window as any).__result = { backend: sy.backend(), error: String(sy.backendError() ?? ''), ...ringRoutes(sy as any) };\n`,
    );
    await viteBuild({
      root: dir,
      configFile: false,
      logLevel: 'silent',
      build: {
        outDir: join(dir, 'out'),
        lib: { entry: join(dir, 'main.ts'), formats: ['es'], fileName: 'app' },
        minify: true,
      },
    });
    const out = readdirSync(join(dir, 'out')).find((f) => /\.m?js$/.test(f))!;
    const code = readFileSync(join(dir, 'out', out), 'utf8');
    t.notRegex(
      code,
      /from\s*["']node:|import\(\s*["']node:|require\(\s*["']node:/,
      'no static Node built-in imports in the browser bundle',
    );
    const r = await runPage(undefined, code);
    t.is(r.backend, 'wasm');
    t.deepEqual({ routes: r.routes, routes64: r.routes64, byHash: r.byHash, h32: r.h32, h64: r.h64 }, nodeResult());
  } finally {
    removeDir(dir);
  }
});

test('in Chromium, createFetch balances over three loopback backends and survives one being killed mid-run', async (t) => {
  const { startBackend } = await import('../helpers/backends.js');
  const backends = await Promise.all(['a', 'b', 'c'].map((n) => startBackend(n)));
  const code = await bundle(new URL('./browser/page-fetch.ts', import.meta.url).pathname);
  const server = await servePage(code);
  const page = await browser.newPage();
  type Progress = {
    done: number;
    failed: number;
    cutFrom: string[];
    errors: string[];
    served: Record<string, number>;
    after: Record<string, number>;
    backend: string;
  };
  const progress = () => page.evaluate(() => window.__progress as unknown as Progress);
  try {
    await page.goto(`${server.url}?n=300&ports=${backends.map((b) => b.port).join(',')}`);
    await page.waitForFunction(() => (window.__progress?.done ?? 0) >= 100, undefined, { timeout: 60_000 });
    await backends[1]!.stop();
    await page.evaluate(() => window.__kill!());
    await page.waitForFunction(() => (window.__progress?.done ?? 0) >= 300, undefined, { timeout: 60_000 });
    const p = await progress();
    t.is(p.backend, 'wasm');
    // every request the wrapper answered succeeded; a response from the killed backend already returned when
    // the kill reset its connection may lose its body in the page (committed: no retry can happen), at most
    // the one in flight
    t.is(p.failed, 0, p.errors.join('; '));
    t.true(p.cutFrom.length <= 1, p.errors.join('; '));
    for (const url of p.cutFrom) t.true(new URL(url).port === String(backends[1]!.port), url);
    if (p.errors.length > 0) t.log(p.errors.join('; '));
    t.is(p.done, 300);
    t.deepEqual(Object.keys(p.served).sort(), ['a', 'b', 'c']);
    t.is(p.after['b'] ?? 0, 0);
    t.true((p.after['a'] ?? 0) > 50 && (p.after['c'] ?? 0) > 50, JSON.stringify(p.after));
  } finally {
    await page.close();
    await server.close();
    await Promise.all([backends[0]!.stop(), backends[2]!.stop()]);
  }
});

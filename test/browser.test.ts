// The library in headless Chromium: the WASM backend loads from the inlined bytes; 10 000 keys route exactly
// as in Node (cross-runtime determinism); with a CSP that lacks 'wasm-unsafe-eval' it falls back to the
// pure-TS backend and still routes identically.
import test from 'ava';
import type { Browser } from 'playwright-core';
import { HashRing, xxh32, xxh64 } from '../bindings/index.js';
import { bundle, launchChromium, servePage } from './helpers/chromium.js';

let browser: Browser;
let js = '';

test.before(async () => {
  browser = await launchChromium();
  js = await bundle(new URL('./browser/page-ring.ts', import.meta.url).pathname);
});

test.after.always(async () => {
  await browser?.close();
});

function nodeResult() {
  const ids = ['cache-a:11211', 'cache-b:11211', 'cache-c:11211', 'cache-d:11211'];
  const ring = new HashRing([...ids.slice(0, 3), { id: ids[3]!, weight: 2 }]);
  const ring64 = new HashRing(ids, { hash: 'xxh64', vnodes: 100 });
  const keys = Array.from({ length: 10_000 }, (_, i) => (i % 7 === 0 ? `ключ-${i}-😀` : `user:${i}`));
  return {
    routes: keys.map((k) => ring.getIndex(k)).join(''),
    routes64: keys.map((k) => ring64.getIndex(k)).join(''),
    h32: xxh32('hello'),
    h64: xxh64('hello').toString(),
  };
}

async function runPage(csp?: string) {
  const server = await servePage(js, csp);
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
  t.is(r.h64, n.h64);
  const allowed = await runPage("default-src 'self'; script-src 'self' 'wasm-unsafe-eval'");
  t.is(allowed.backend, 'wasm');
});

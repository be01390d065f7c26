// The etcd resolver running in headless Chromium (fetch + streamed response bodies) against a real etcd
// 3.4 started with `--cors '*'`, from a page served on another loopback origin, so the CORS preflight of
// the JSON POSTs is part of the test. The module is bundled with esbuild for the browser platform.
import { build } from 'esbuild';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser } from 'playwright-core';
import { removeDir, tempDir } from '../helpers/process.js';
import { etcdDelete, etcdPut, startEtcdCluster, type EtcdCluster } from '../helpers/etcd.js';
import { live } from '../helpers/live.js';

const test = live(['chromium', 'etcd'], import.meta.url);

let etcd: EtcdCluster;
let browser: Browser;
let page: Server;
let pageUrl = '';
let dir = '';

test.before(async () => {
  etcd = await startEtcdCluster(1);
  dir = tempDir('browser-etcd');
  await build({
    entryPoints: [fileURLToPath(new URL('../../bindings/discovery/etcd/resolver.ts', import.meta.url))],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    outfile: join(dir, 'resolver-etcd.js'),
    logLevel: 'silent',
  });
  const bundle = readFileSync(join(dir, 'resolver-etcd.js'), 'utf8');
  page = createServer((req, res) => {
    if (req.url === '/resolver-etcd.js') {
      res.writeHead(200, { 'content-type': 'text/javascript' }).end(bundle);
      return;
    }
    res
      .writeHead(200, { 'content-type': 'text/html' })
      .end('<!doctype html><title>etcd</title><body>etcd resolver</body>');
  });
  await new Promise<void>((r) => page.listen(0, '127.0.0.1', r));
  pageUrl = `http://127.0.0.1:${(page.address() as { port: number }).port}/`;
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
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
});

test.after.always(async () => {
  await browser?.close();
  await new Promise<void>((r) => (page ? page.close(() => r()) : r()));
  await etcd?.stop();
  if (dir) removeDir(dir);
});

test('Chromium: list, then watched puts and deletes, cross-origin against etcd --cors', async (t) => {
  const urls = etcd.clientUrls;
  await etcdPut(urls, 'browser/api/a', JSON.stringify({ Op: 0, Addr: '10.6.0.1:80' }));
  await etcdPut(urls, 'browser/api/b', '10.6.0.2:80');
  const p = await browser.newPage();
  const consoleLines: string[] = [];
  p.on('console', (m) => consoleLines.push(m.text()));
  // tsx compiles this file with esbuild's keepNames, whose `__name` helper the evaluated callbacks reference.
  await p.addInitScript('globalThis.__name = (f) => f;');
  await p.goto(pageUrl);
  t.not(new URL(pageUrl).origin, new URL(urls[0]!).origin, 'cross-origin');
  await p.evaluate(async (endpoints) => {
    const mod = (await import(
      '/resolver-etcd.js' as string
    )) as typeof import('../../bindings/discovery/etcd/resolver.js');
    const w = window as unknown as {
      lists: string[][];
      errors: string[];
      resolver: { close(): void; stats(): unknown };
    };
    w.lists = [];
    w.errors = [];
    w.resolver = new mod.EtcdResolver(
      { endpoints, prefix: 'browser/api' },
      {
        onEndpoints: (l) => w.lists.push(l.map((e) => e.id).sort()),
        onError: (e) => w.errors.push(e.message),
      },
    );
  }, urls);
  const last = () =>
    p.evaluate(() => {
      const w = window as unknown as { lists: string[][] };
      return (w.lists.at(-1) ?? []).join(',');
    });
  const waitFor = async (want: string) => {
    for (let i = 0; i < 600; i++) {
      if ((await last()) === want) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    const errors = await p.evaluate(() => (window as unknown as { errors: string[] }).errors);
    throw new Error(
      `browser list never became ${want}; last ${await last()}; errors ${errors.join('; ')}; console ${consoleLines.join('; ')}`,
    );
  };
  await waitFor('10.6.0.1:80,10.6.0.2:80');
  // Wait for the watch to be open (the resolver counts created watches), then change the prefix.
  for (let i = 0; i < 600; i++) {
    const opened = await p.evaluate(
      () => (window as unknown as { resolver: { stats(): { watchesOpened: number } } }).resolver.stats().watchesOpened,
    );
    if (opened >= 1) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  await etcdPut(urls, 'browser/api/c', '10.6.0.3:80');
  await waitFor('10.6.0.1:80,10.6.0.2:80,10.6.0.3:80');
  await etcdDelete(urls, 'browser/api/a');
  await waitFor('10.6.0.2:80,10.6.0.3:80');
  const errors = await p.evaluate(() => (window as unknown as { errors: string[] }).errors);
  t.deepEqual(errors, []);
  await p.evaluate(() => (window as unknown as { resolver: { close(): void } }).resolver.close());
  await p.close();
});

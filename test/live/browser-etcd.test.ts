// The etcd resolver running in headless Chromium (fetch + streamed response bodies) against a real etcd
// 3.4 started with `--cors '*'`, from a page served on another loopback origin, so the CORS preflight of
// the JSON POSTs is part of the test. The module is bundled with esbuild for the browser platform.
import { fileURLToPath } from 'node:url';
import type { Browser } from 'playwright-core';
import { bundle, launchChromium, servePage, type PageServer } from '../helpers/chromium.js';
import { etcdDelete, etcdPut, startEtcdCluster, type EtcdCluster } from '../helpers/etcd.js';
import { live } from '../helpers/live.js';

const test = live(['chromium', 'etcd'], import.meta.url);

let etcd: EtcdCluster;
let browser: Browser;
let page: PageServer;
let pageUrl = '';

test.before(async () => {
  etcd = await startEtcdCluster(1);
  // The page loads the bundle (the resolver module) as /app.js; the test imports it again by that URL.
  page = await servePage(
    await bundle(fileURLToPath(new URL('../../bindings/discovery/etcd/resolver.ts', import.meta.url))),
  );
  pageUrl = page.url;
  browser = await launchChromium();
});

test.after.always(async () => {
  await browser?.close();
  await page?.close();
  await etcd?.stop();
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
    const mod = (await import('/app.js' as string)) as typeof import('../../bindings/discovery/etcd/resolver.js');
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

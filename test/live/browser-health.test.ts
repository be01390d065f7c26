// The HealthChecker with the fetch probe in headless Chromium: a page (bindings/health/checker.ts and
// bindings/health/http-probe.ts bundled by esbuild for the browser, plus tcp-probe.ts to prove it does not pull
// node:net) probes loopback backends on other origins (they send CORS headers); the transitions observed in the
// page follow the backends: healthy, failing (HTTP 500), hanging (timeout), recovering after 3 successes. The TCP
// probe and a dns:/// resolver fail there saying what to use instead.
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { startBackend, type Backend } from '../helpers/backends.js';
import { bundle, launchChromium, servePage, type PageServer } from '../helpers/chromium.js';
import { live } from '../helpers/live.js';

const test = live(['chromium'], import.meta.url);

const PAGE = `
import { HealthChecker } from '../../bindings/health/checker.ts';
import { httpProbe } from '../../bindings/health/http-probe.ts';
import { tcpProbe } from '../../bindings/health/tcp-probe.ts';
import { createResolver } from '../../bindings/discovery/resolver.ts';

const ports = new URLSearchParams(location.search).get('ports').split(',').map(Number);
const w = window as any;
w.__events = [];
w.__probes = 0;
const hc = new HealthChecker({ probe: httpProbe({ path: '/healthz' }), intervalMs: 1000, timeoutMs: 900 });
hc.on('transition', (e) => w.__events.push({ id: e.member.id, from: e.from, to: e.to, reason: e.reason }));
hc.on('probe', () => w.__probes++);
ports.forEach((port, i) => hc.add({ id: 'b' + i, host: '127.0.0.1', port }));
hc.start();
w.__state = (id: string) => hc.state(id);
w.__stats = () => hc.stats();
tcpProbe()({ id: 'x', host: '127.0.0.1', port: 1 }, new AbortController().signal).then(
  () => (w.__tcp = 'resolved'),
  (e: Error) => (w.__tcp = 'rejected: ' + e.message),
);
const dns = createResolver('dns:///api.test:80', {
  onEndpoints: () => (w.__dns = 'a list'),
  onError: (e: Error) => {
    w.__dns ??= e.message;
    dns.close();
  },
});
`;

let browser: Browser;
let host: PageServer;
const backends: Backend[] = [];

test.before(async () => {
  const js = await bundle({ contents: PAGE, resolveDir: fileURLToPath(new URL('.', import.meta.url)) });
  host = await servePage(js);
  browser = await launchChromium();
  for (let i = 0; i < 3; i++) backends.push(await startBackend(`b${i}`));
});

test.after.always(async () => {
  await browser?.close();
  await host?.close();
  await Promise.all(backends.map((b) => b.stop().catch(() => undefined)));
});

type Ev = { id: string; from: string; to: string; reason: string };
interface PageGlobals {
  __state(id: string): string | undefined;
  __events: Ev[];
  __tcp: string | undefined;
  __dns: string | undefined;
}

async function until(page: Page, id: string, state: string): Promise<void> {
  await page.waitForFunction(([i, s]) => (window as unknown as PageGlobals).__state(i) === s, [id, state] as const, {
    timeout: 20_000,
    polling: 20,
  });
}

test('in Chromium: healthy, failing, hanging and recovering backends produce the expected transitions', async (t) => {
  const page = await browser.newPage();
  const consoleErrors: string[] = [];
  page.on('pageerror', (e) => consoleErrors.push(String(e)));
  try {
    const [ok, failing, hanging] = backends as [Backend, Backend, Backend];
    await page.goto(`${host.url}?ports=${ok.port},${failing.port},${hanging.port}`);
    for (const id of ['b0', 'b1', 'b2']) await until(page, id, 'healthy');
    const mark = await page.evaluate(() => (window as unknown as PageGlobals).__events.length);
    failing.mode = { kind: 'status', status: 500 };
    hanging.mode = { kind: 'hang' };
    await until(page, 'b1', 'failed');
    await until(page, 'b2', 'failed');
    failing.mode = { kind: 'ok' };
    await until(page, 'b1', 'healthy');
    const events = (await page.evaluate(() => (window as unknown as PageGlobals).__events)) as Ev[];
    const of = (id: string) => events.filter((e) => e.id === id);
    t.deepEqual(
      of('b0').map((e) => `${e.from}->${e.to}`),
      [
        'pending->healthy',
        ...of('b0')
          .slice(1)
          .map((e) => `${e.from}->${e.to}`),
      ],
    );
    t.false(
      of('b0').some((e) => e.to === 'failed'),
      'the healthy backend never fails',
    );
    const after = (id: string) =>
      events
        .slice(mark)
        .filter((e) => e.id === id)
        .map((e) => `${e.from}->${e.to}: ${e.reason}`);
    t.deepEqual(after('b1'), [
      'healthy->suspect: HTTP 500',
      'suspect->failed: 3 consecutive failed probes, last: HTTP 500',
      'failed->healthy: 3 consecutive successful probes',
    ]);
    t.deepEqual(after('b2'), [
      'healthy->suspect: timeout after 900 ms',
      'suspect->failed: 3 consecutive failed probes, last: timeout after 900 ms',
    ]);
    const tcp = await page.evaluate(() => (window as unknown as PageGlobals).__tcp);
    t.is(tcp, 'rejected: tcpProbe needs node:net (Node); in a browser use httpProbe', 'rejects, saying why');
    // dns:/// likewise: a ResolverError that says what to use instead
    const dns = await page.evaluate(() => (window as unknown as PageGlobals).__dns);
    t.regex(
      String(dns),
      /^resolver dns:\/\/\/api\.test:80: dns:\/\/\/ needs node:dns \(Node\); in a browser use doh:\/\/\/ \(/,
    );
    t.deepEqual(consoleErrors, []);
  } finally {
    await page.close();
  }
});

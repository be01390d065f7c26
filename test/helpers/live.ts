// Live suites (test/live/) start real servers: nginx, twemproxy, memcached, Redis, etcd, dnsmasq, Chromium.
// Each suite names what it needs:
//
//   const test = live(['etcd'], import.meta.url);
//   test('a watch follows puts', async (t) => { ... });
//
// When every binary is present, `live` returns ava's `test` unchanged. When one is missing:
// - with CI set (CI=true, as `.ci/run` does), one failing test per suite names the missing binaries: a CI run
//   never passes without its live suites;
// - otherwise the suite's tests are registered as skipped (its hooks do not run), and the suite is appended to
//   the skip log that `scripts/test.mjs` prints, loudly, at the end of `npm test` with the install command.
import anyTest, { type TestFn } from 'ava';
import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The binaries live suites may need, each with the Debian package that provides it (scripts/system-deps.sh
 * installs from the same list). */
export const BINARIES: Readonly<Record<string, string>> = JSON.parse(
  readFileSync(new URL('../live/binaries.json', import.meta.url), 'utf8'),
);
export type Binary =
  'nginx' | 'memcached' | 'nutcracker' | 'redis-server' | 'etcd' | 'etcdctl' | 'dnsmasq' | 'chromium' | 'prometheus';

const SEARCH = [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/sbin', '/usr/bin'];

/** Whether an executable named `bin` is on PATH (or in the sbin directories Debian installs daemons to). */
export function hasBinary(bin: string): boolean {
  return SEARCH.some((dir) => dir !== '' && existsSync(join(dir, bin)));
}

/** The Debian packages that provide `bins` (a binary with no known package stands for itself). */
function packagesFor(bins: readonly Binary[]): string[] {
  return [...new Set(bins.map((b) => BINARIES[b] ?? b))];
}

export function live(bins: readonly Binary[], moduleUrl: string): TestFn {
  const suite = suiteName(moduleUrl);
  const missing = bins.filter((b) => !hasBinary(b));
  if (missing.length === 0) return anyTest;
  const packages = packagesFor(missing);
  const why = `needs ${missing.join(', ')}: sudo apt-get install -y ${packages.join(' ')}`;
  if (process.env.CI !== undefined && process.env.CI !== '' && process.env.CI !== 'false') {
    anyTest(`${suite}: required binaries are installed`, (t) => t.fail(`CI is set and ${suite} ${why}`));
  } else {
    const log = process.env.SWITCHYARD_SKIP_LOG;
    if (log) appendFileSync(log, `${JSON.stringify({ suite, missing, packages })}\n`);
  }
  return skipping();
}

/** A stand-in for ava's `test` that registers every test as skipped and every hook as nothing. */
function skipping(): TestFn {
  const noop = Object.assign(() => {}, { always: () => {}, skip: () => {} });
  const skip = (title: string, ...rest: unknown[]) =>
    (anyTest.skip as (t: string, ...r: unknown[]) => void)(title, ...(rest.length > 0 ? rest : [() => {}]));
  const fn = Object.assign(skip, {
    skip,
    only: skip,
    failing: skip,
    before: noop,
    after: noop,
    beforeEach: noop,
    afterEach: noop,
    todo: anyTest.todo,
    meta: anyTest.meta,
    macro: anyTest.macro,
  });
  return Object.assign(fn, { serial: fn }) as unknown as TestFn;
}

function suiteName(moduleUrl: string): string {
  const path = moduleUrl.startsWith('file:') ? fileURLToPath(moduleUrl) : moduleUrl;
  const at = path.lastIndexOf('/test/');
  return at >= 0 ? path.slice(at + 1) : path;
}

// The built package, packed with `npm pack` and installed into a temporary project, imports from ESM and CJS,
// type-checks under node16 resolution for both, exposes the .wasm subpath and the CLI, and routes keys.
// Needs an up-to-date `npm run build` first (the test command does it): `prepack` refuses a missing or stale build.
// That refusal, and build:js's on a tree without the generated WASM bindings, are tested on temporary trees.
import test from 'ava';
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, utimesSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { HashRing } from '../../bindings/index.js';
import { removeDir, tempDir } from '../helpers/process.js';

const root = resolve(import.meta.dirname, '../..');
const temps: string[] = [];
let dir = '';
let packError: unknown;

// Packed once, for the tests that install it (not a before hook: the script tests below need no build).
function packed(): void {
  if (packError !== undefined) throw packError;
  if (dir !== '') return;
  try {
    pack();
  } catch (e) {
    packError = e;
    throw e;
  }
}

function pack(): void {
  if (!existsSync(join(root, 'dist/esm/index.js'))) throw new Error('dist/ is missing: run `npm run build` first');
  dir = tempDir('pack');
  temps.push(dir);
  execFileSync('npm', ['pack', '--pack-destination', dir, '--silent'], { cwd: root, stdio: 'pipe' });
  const tgz = readdirSync(dir).find((f) => f.endsWith('.tgz'))!;
  const app = join(dir, 'app');
  mkdirSync(app);
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', private: true, version: '1.0.0' }));
  execFileSync('npm', ['install', '--offline', '--no-audit', '--no-fund', '--silent', join(dir, tgz)], {
    cwd: app,
    stdio: 'pipe',
  });
}

test.after.always(() => {
  for (const d of temps) removeDir(d);
});

/** A temporary tree laid out as the package: sources, the real package.json scripts, the script under test. */
function fakeTree(name: string): string {
  const d = tempDir(name);
  temps.push(d);
  for (const sub of ['scripts', 'bindings/core', 'assembly']) mkdirSync(join(d, sub), { recursive: true });
  copyFileSync(join(root, 'scripts/ensure-built.mjs'), join(d, 'scripts/ensure-built.mjs'));
  const { scripts } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { scripts: object };
  writeFileSync(join(d, 'package.json'), JSON.stringify({ name: 'fake', version: '1.0.0', scripts, files: ['dist'] }));
  writeFileSync(join(d, 'bindings/a.ts'), 'export const a = 1;\n');
  writeFileSync(join(d, 'assembly/b.ts'), 'export const b = 1;\n');
  return d;
}

const OUT = ['dist/esm/cli/bin.js', 'dist/cjs/index.js', 'dist/switchyard.wasm'];

test('prepack refuses to pack a missing or stale build, naming `npm run build`; it builds nothing', (t) => {
  const d = fakeTree('prepack');
  const check = () =>
    spawnSync(process.execPath, ['scripts/ensure-built.mjs', '--check'], { cwd: d, encoding: 'utf8' });
  let r = check();
  t.is(r.status, 1);
  t.is(r.stderr, 'switchyard: the build is missing (no dist/esm/cli/bin.js): run `npm run build` first.\n');
  t.false(existsSync(join(d, 'dist')), 'nothing was built');
  // npm pack runs it as prepack, and packs nothing
  const p = spawnSync('npm', ['pack', '--dry-run', '--silent'], { cwd: d, encoding: 'utf8' });
  t.not(p.status, 0);
  t.regex(p.stderr, /the build is missing \(no dist\/esm\/cli\/bin\.js\): run `npm run build` first/);
  // built after the sources: packs
  const past = new Date(Date.now() - 60_000);
  for (const f of ['bindings/a.ts', 'assembly/b.ts', 'package.json']) utimesSync(join(d, f), past, past);
  for (const f of [...OUT, 'build/switchyard.wasm']) {
    mkdirSync(join(d, f, '..'), { recursive: true });
    writeFileSync(join(d, f), '');
  }
  r = check();
  t.is(r.status, 0, r.stderr);
  t.is(spawnSync('npm', ['pack', '--dry-run', '--silent'], { cwd: d, encoding: 'utf8' }).status, 0);
  // a source changed since: stale, named
  const future = new Date(Date.now() + 60_000);
  utimesSync(join(d, 'bindings/a.ts'), future, future);
  r = check();
  t.is(r.status, 1);
  t.is(r.stderr, 'switchyard: the build is older than bindings/a.ts: run `npm run build` first.\n');
  t.true(readdirSync(join(d, 'dist')).length === 3 && readFileSync(join(d, OUT[0]!), 'utf8') === '', 'not rebuilt');
  // dist/ fresh (`npm run build:js` alone) but the WebAssembly older than an assembly/ source: stale too
  utimesSync(join(d, 'bindings/a.ts'), past, past);
  utimesSync(join(d, 'assembly/b.ts'), new Date(Date.now() - 30_000), new Date(Date.now() - 30_000));
  utimesSync(join(d, 'build/switchyard.wasm'), past, past);
  r = check();
  t.is(r.status, 1);
  t.is(r.stderr, 'switchyard: the WebAssembly build is older than assembly/b.ts: run `npm run build` first.\n');
});

test('build:js without the generated WASM bindings fails in one line naming `npm run build`, before touching dist/', (t) => {
  const d = fakeTree('buildjs');
  mkdirSync(join(d, 'dist'));
  writeFileSync(join(d, 'dist/keep'), '');
  const r = spawnSync(process.execPath, [join(root, 'scripts/build.mjs')], { cwd: d, encoding: 'utf8' });
  t.is(r.status, 1);
  t.is(
    r.stderr,
    'build:js: bindings/core/wasm-ring.generated.ts is missing: run `npm run build` (it builds the WebAssembly first).\n',
  );
  t.true(existsSync(join(d, 'dist/keep')), 'dist/ left alone');
});

const expected = () => {
  const ring = new HashRing(['a', { id: 'b', weight: 2 }, 'c']);
  return ['k1', 'k2', 'user:42'].map((k) => ring.get(k)).join(',');
};

test('ESM import routes keys with the wasm backend and exposes the .wasm subpath', (t) => {
  packed();
  const app = join(dir, 'app');
  writeFileSync(
    join(app, 'esm.mjs'),
    `import { HashRing, backend, init } from 'switchyard';
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
const ring = new HashRing(['a', { id: 'b', weight: 2 }, 'c']);
const out = ['k1', 'k2', 'user:42'].map((k) => ring.get(k)).join(',');
const wasmPath = createRequire(import.meta.url).resolve('switchyard/wasm');
const bytes = readFileSync(wasmPath);
const node = await import('switchyard/node');
console.log(JSON.stringify({ out, backend: backend(), wasm: WebAssembly.validate(bytes), init: await init(bytes), proxy: typeof node.createProxy, fetch: typeof node.createFetch }));`,
  );
  const r = JSON.parse(execFileSync(process.execPath, ['esm.mjs'], { cwd: app, encoding: 'utf8' }));
  t.deepEqual(r, { out: expected(), backend: 'wasm', wasm: true, init: 'wasm', proxy: 'function', fetch: 'function' });
});

test('CJS require routes keys the same way', (t) => {
  packed();
  const app = join(dir, 'app');
  writeFileSync(
    join(app, 'cjs.cjs'),
    `const { HashRing, backend, xxh32, createHasher, initSync } = require('switchyard');
const { createProxy } = require('switchyard/node');
// the installed .wasm carries the build id the installed JS expects
const sync = initSync(require('node:fs').readFileSync(require.resolve('switchyard/wasm')));
const ring = new HashRing(['a', { id: 'b', weight: 2 }, 'c']);
const k = createHasher(['127.0.0.1:11211'], { algorithm: 'ketama', compat: 'twemproxy' }).get('x');
console.log(JSON.stringify({ sync, out: ['k1', 'k2', 'user:42'].map((k) => ring.get(k)).join(','), backend: backend(), h: xxh32('abc'), k, proxy: typeof createProxy }));`,
  );
  const r = JSON.parse(execFileSync(process.execPath, ['cjs.cjs'], { cwd: app, encoding: 'utf8' }));
  t.deepEqual(r, {
    sync: 'wasm',
    out: expected(),
    backend: 'wasm',
    h: 0x32d153ff,
    k: '127.0.0.1:11211',
    proxy: 'function',
  });
});

test('type declarations resolve for ESM and CJS consumers (node16)', (t) => {
  packed();
  const app = join(dir, 'app');
  writeFileSync(
    join(app, 'a.mts'),
    `import { HashRing, type RingStats } from 'switchyard';\nconst s: RingStats = new HashRing(['a']).stats();\nexport const n: number = s.points;\n`,
  );
  writeFileSync(
    join(app, 'b.cts'),
    `import sy = require('switchyard');\nexport const id: string | undefined = new sy.HashRing(['a']).get('k');\n`,
  );
  const tsc = join(root, 'node_modules/typescript/bin/tsc');
  execFileSync(
    process.execPath,
    [
      tsc,
      '--noEmit',
      '--strict',
      '--module',
      'node16',
      '--moduleResolution',
      'node16',
      '--types',
      'node',
      '--typeRoots',
      join(root, 'node_modules/@types'),
      'a.mts',
      'b.cts',
    ],
    { cwd: app, stdio: 'pipe' },
  );
  t.pass();
});

test('the installed CLI routes keys from arguments and stdin', (t) => {
  packed();
  const app = join(dir, 'app');
  const bin = join(app, 'node_modules/.bin/switchyard');
  const out = execFileSync(bin, ['route', '--nodes', 'a,b=2,c', 'k1', 'k2', 'user:42'], { encoding: 'utf8' });
  t.is(out, ['k1', 'k2', 'user:42'].map((k, i) => `${k}\t${expected().split(',')[i]}`).join('\n') + '\n');
  const viaStdin = execFileSync(bin, ['route', '--nodes', 'a,b=2,c'], { input: 'k1\nk2\nuser:42\n', encoding: 'utf8' });
  t.is(viaStdin, out);
});

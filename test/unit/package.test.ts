// The built package, packed with `npm pack` and installed into a temporary project, imports from ESM and CJS,
// type-checks under node16 resolution for both, exposes the .wasm subpath and the CLI, and routes keys.
// Needs `npm run build` first (the test command does it).
import test from 'ava';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { HashRing } from '../../bindings/index.js';
import { removeDir, tempDir } from '../helpers/process.js';

const root = resolve(import.meta.dirname, '../..');
let dir = '';

test.before(() => {
  if (!existsSync(join(root, 'dist/esm/index.js'))) throw new Error('dist/ is missing: run `npm run build` first');
  dir = tempDir('pack');
  execFileSync('npm', ['pack', '--pack-destination', dir, '--silent'], { cwd: root, stdio: 'pipe' });
  const tgz = readdirSync(dir).find((f) => f.endsWith('.tgz'))!;
  const app = join(dir, 'app');
  mkdirSync(app);
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', private: true, version: '1.0.0' }));
  execFileSync('npm', ['install', '--offline', '--no-audit', '--no-fund', '--silent', join(dir, tgz)], {
    cwd: app,
    stdio: 'pipe',
  });
});

test.after.always(() => {
  if (dir) removeDir(dir);
});

const expected = () => {
  const ring = new HashRing(['a', { id: 'b', weight: 2 }, 'c']);
  return ['k1', 'k2', 'user:42'].map((k) => ring.get(k)).join(',');
};

test('ESM import routes keys with the wasm backend and exposes the .wasm subpath', (t) => {
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
  const app = join(dir, 'app');
  const bin = join(app, 'node_modules/.bin/switchyard');
  const out = execFileSync(bin, ['route', '--nodes', 'a,b=2,c', 'k1', 'k2', 'user:42'], { encoding: 'utf8' });
  t.is(out, ['k1', 'k2', 'user:42'].map((k, i) => `${k}\t${expected().split(',')[i]}`).join('\n') + '\n');
  const viaStdin = execFileSync(bin, ['route', '--nodes', 'a,b=2,c'], { input: 'k1\nk2\nuser:42\n', encoding: 'utf8' });
  t.is(viaStdin, out);
});

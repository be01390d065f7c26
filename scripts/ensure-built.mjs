// Builds the package only if dist/ is missing or older than the sources (used by `npm start`, so the demo
// works right after `npm install` and does not rebuild under tests running in parallel).
// With --check (`prepack`) it builds nothing: it exits 1 with a one-line message naming `npm run build` when the
// build is missing or stale, so that `npm pack` / `npm publish` never pack a tree without dist/ (no .wasm, no CJS)
// and never rebuild dist/ under tests that read it. Paths are relative to the working directory (npm runs
// scripts in the package root).
import { execSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

const check = process.argv.includes('--check');

/** The newest file under `dir` (generated sources left out: `npm run build` rewrites them), or null. */
const newest = (dir) => {
  if (!existsSync(dir)) return null;
  let best = null;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    const f = e.isDirectory() ? newest(p) : e.name.endsWith('.generated.ts') ? null : { p, t: statSync(p).mtimeMs };
    if (f !== null && (best === null || f.t > best.t)) best = f;
  }
  return best;
};

const out = ['dist/esm/cli/bin.js', 'dist/cjs/index.js', 'dist/switchyard.wasm'];
const missing = out.filter((f) => !existsSync(f));
const built = missing.length === 0 ? Math.min(...out.map((f) => statSync(f).mtimeMs)) : 0;
const source = [newest('assembly'), newest('bindings'), { p: 'package.json', t: statSync('package.json').mtimeMs }]
  .filter((f) => f !== null)
  .reduce((a, b) => (b.t > a.t ? b : a));
// the WebAssembly too: `npm run build:js` alone copies a stale build/switchyard.wasm into a fresh dist/
const asm = newest('assembly');
const wasmAt = existsSync('build/switchyard.wasm') ? statSync('build/switchyard.wasm').mtimeMs : 0;
const staleWasm = asm !== null && wasmAt < asm.t;
if (built < source.t || staleWasm) {
  if (check) {
    const why =
      missing.length > 0
        ? `the build is missing (no ${missing[0]})`
        : staleWasm
          ? `the WebAssembly build is older than ${asm.p}`
          : `the build is older than ${source.p}`;
    process.stderr.write(`switchyard: ${why}: run \`npm run build\` first.\n`);
    process.exit(1);
  }
  execSync('npm run build', { stdio: ['ignore', 'ignore', 'inherit'] });
}

// Builds the package only if dist/ is missing or older than the sources (used by `npm start`, so the demo
// works right after `npm install` and does not rebuild under tests running in parallel).
import { execSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

const newest = (dir) =>
  readdirSync(dir, { withFileTypes: true }).reduce((m, e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return Math.max(m, newest(p));
    return e.name.endsWith('.generated.ts') ? m : Math.max(m, statSync(p).mtimeMs);
  }, 0);

const out = ['dist/esm/cli/bin.js', 'dist/cjs/index.js', 'dist/switchyard.wasm'];
const built = out.every((f) => existsSync(f)) ? Math.min(...out.map((f) => statSync(f).mtimeMs)) : 0;
if (built < Math.max(newest('assembly'), newest('bindings'), statSync('package.json').mtimeMs)) {
  execSync('npm run build', { stdio: ['ignore', 'ignore', 'inherit'] });
}

// Builds the publishable package: ESM and CJS with declarations, and the .wasm file as a subpath export.
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';

const tsc = (project) =>
  execFileSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', project], { stdio: 'inherit' });
rmSync('dist', { recursive: true, force: true });
tsc('tsconfig.build.json');
tsc('tsconfig.cjs.json');
writeFileSync('dist/cjs/package.json', '{ "type": "commonjs" }\n');
mkdirSync('dist', { recursive: true });
copyFileSync('build/switchyard.wasm', 'dist/switchyard.wasm');
const cli = 'dist/esm/cli/bin.js';
const src = readFileSync(cli, 'utf8');
if (!src.startsWith('#!')) writeFileSync(cli, `#!/usr/bin/env node\n${src}`);
chmodSync(cli, 0o755);

// Builds the publishable package: ESM and CJS with declarations, and the .wasm file as a subpath export.
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';

// What `npm run build:wasm` makes (asc, then scripts/gen-wasm.mjs) and this script compiles or copies: without
// them (a fresh clone) say so in one line, before dist/ is removed, rather than with tsc's import errors.
const wasmOutputs = [
  ...['ring', 'ring-batch', 'hash', 'balancing', 'id'].map((f) => `bindings/core/wasm-${f}.generated.ts`),
  'build/switchyard.wasm',
];
const absent = wasmOutputs.find((f) => !existsSync(f));
if (absent !== undefined) {
  process.stderr.write(`build:js: ${absent} is missing: run \`npm run build\` (it builds the WebAssembly first).\n`);
  process.exit(1);
}

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

// The layout as a contract (CONTRIBUTING.md, docs/design.md): subsystems import only from the ones before them;
// every AssemblyScript file has a TypeScript twin of the same name; nothing reads or cites a path outside the
// repository.
import test from 'ava';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';

const root = resolve(import.meta.dirname, '../..');
const ORDER = ['util', 'core', 'hashing', 'balancing', 'discovery', 'health', 'http', 'observability', 'grpc', 'cli'];

function walk(dir: string, out: string[] = []): string[] {
  for (const f of readdirSync(dir)) {
    const p = join(dir, f);
    if (statSync(p).isDirectory()) walk(p, out);
    else out.push(p);
  }
  return out;
}

const sources = walk(join(root, 'bindings')).filter((f) => f.endsWith('.ts') && !f.endsWith('.generated.ts'));

test('a subsystem imports only from the subsystems listed before it', (t) => {
  const bad: string[] = [];
  for (const file of sources) {
    const from = relative(join(root, 'bindings'), file).split(sep)[0]!;
    if (!ORDER.includes(from)) continue; // index.ts, node.ts: the entry points
    for (const m of readFileSync(file, 'utf8').matchAll(/from '(\.[^']+)'/g)) {
      const to = relative(join(root, 'bindings'), resolve(dirname(file), m[1]!)).split(sep)[0]!;
      if (ORDER.includes(to) && ORDER.indexOf(to) > ORDER.indexOf(from))
        bad.push(`${relative(root, file)} imports ${m[1]}`);
    }
  }
  t.deepEqual(bad, []);
  t.true(sources.length > 50);
});

test('every assembly/ file has a TypeScript twin of the same name under bindings/', (t) => {
  const names = new Set(sources.map((f) => f.split(sep).pop()));
  const missing = readdirSync(join(root, 'assembly'))
    .filter((f) => f.endsWith('.ts') && f !== 'index.ts')
    .filter((f) => !names.has(f));
  t.deepEqual(missing, []);
});

test('nothing in the repository reads or cites a path outside it', (t) => {
  const skip = new Set(['node_modules', '.git', 'dist', 'build', 'api']);
  const files: string[] = [];
  (function collect(dir: string) {
    for (const f of readdirSync(dir)) {
      if (skip.has(f)) continue;
      const p = join(dir, f);
      if (statSync(p).isDirectory()) collect(p);
      else if (/\.(ts|mjs|js|json|md|sh)$/.test(f) || f === 'run') files.push(p);
    }
  })(root);
  const outside = files.filter((f) =>
    /\bshared\/(vectors|seed|STYLE)|\.\.\/\.\.\/\.\.\/shared/.test(readFileSync(f, 'utf8')),
  );
  t.deepEqual(
    outside.map((f) => relative(root, f)),
    [],
  );
  t.true(files.length > 100);
});

// The CLI as a thin layer: route (arguments and stdin), plan, and bad arguments (one line, exit code 2).
import test from 'ava';
import { main } from '../../bindings/cli/cli.js';
import { HashRing } from '../../bindings/index.js';
import { ALGORITHMS, createHasher, type Algorithm } from '../../bindings/hashing/create-hasher.js';
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import ts from 'typescript';
import { packageVersion } from '../../bindings/cli/version.js';

const root = resolve(import.meta.dirname, '../..');

async function run(argv: string[], stdin: string[] = []) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(argv, {
    out: (l) => out.push(l),
    outBytes: (b) => out.push(...new TextDecoder().decode(b).split('\n').slice(0, -1)),
    err: (l) => err.push(l),
    async *readLineBatches() {
      yield stdin;
    },
  });
  return { code, out, err };
}

test('route prints key<TAB>member for argument keys and stdin keys', async (t) => {
  const ring = new HashRing(['a', { id: 'b', weight: 2 }, 'c'], { vnodes: 50, hash: 'xxh64' });
  const keys = ['k1', 'k2', 'user:42', 'é'];
  const want = keys.map((k) => `${k}\t${ring.get(k)}`);
  const args = ['route', '--nodes', 'a,b=2,c', '--vnodes', '50', '--hash', 'xxh64'];
  t.deepEqual(await run([...args, ...keys]), { code: 0, out: want, err: [] });
  t.deepEqual(await run(args, keys), { code: 0, out: want, err: [] });
  t.deepEqual((await run(['route', '--nodes=x', 'k'])).out, ['k\tx']);
  // a value that starts with -- is written --name=value (`--nodes --x` is refused: cli/args.ts)
  t.deepEqual((await run(['route', '--nodes=--x', 'k'])).out, ['k\t--x']);
});

test('plan reports the fraction moved and shares before/after', async (t) => {
  const r = await run(['plan', '--from', 'a,b,c', '--to', 'a,b,c,d', '--keys', '20000']);
  t.is(r.code, 0);
  const moved = Number(r.out.find((l) => l.startsWith('moved'))!.split('\t')[1]) / 20000;
  t.true(moved > 0.18 && moved < 0.32, `moved ${moved}`);
  const d = r.out.find((l) => l.startsWith('d '))!;
  t.regex(d, /^d\s+0\.00%\s+\d+\.\d+%/);
  t.is(r.out.filter((l) => /^[abcd] /.test(l)).length, 4);
  // ideal: the fewest keys any placement could move, from the shares before and after
  const ideal = (argv: string[]) =>
    run(['plan', ...argv, '--keys', '20000']).then((x) => /\(ideal (\d+\.\d+)%\)/.exec(x.out.join('\n'))![1]);
  t.is(await ideal(['--from', 'a', '--to', 'b']), '100.00', 'every key moves when every member is replaced');
  // from the target shares (weights), not the shares a run happened to produce (those equal what moved)
  t.is(/\(ideal (\d+\.\d+)%\)/.exec(r.out.join('\n'))![1], '25.00', 'a fourth equal member: 1/4');
  t.is(await ideal(['--from', 'a,b=3', '--to', 'a,b']), '25.00', 'b from 3/4 to 1/2');
});

test('bad arguments: one line on stderr, exit code 2', async (t) => {
  const cases: [string[], RegExp][] = [
    [['route'], /--nodes is required/],
    [['route', '--nodes', 'a,,b'], /empty node id/],
    [['route', '--nodes', 'a,b=0'], /weight of "b".*"0"/],
    [['route', '--nodes', 'a,b=x'], /weight of "b"/],
    [['route', '--nodes', 'a,a'], /^switchyard: --nodes: node ids must be unique, got "a" more than once in "a,a"$/],
    [['route', '--nodes', 'a=1,b,a=2', '--algo', 'jump'], /^switchyard: --nodes: node ids must be unique, got "a"/],
    [['plan', '--from', 'a,b,b', '--to', 'a'], /^switchyard: --from: node ids must be unique, got "b" more than once/],
    [['plan', '--from', 'a', '--to', 'c,c'], /^switchyard: --to: node ids must be unique, got "c" more than once/],
    [['route', '--nodes', 'a', '--vnodes', '0'], /--vnodes.*"0"/],
    [['route', '--nodes', 'a', '--vnodes', 'abc'], /--vnodes/],
    [
      ['route', '--nodes', 'a', '--hash', 'md5'],
      /hash must be 'xxh32' or 'xxh64' for algorithm 'xxhash-ring', got "md5"/,
    ],
    [
      ['route', '--nodes', 'a', '--algo', 'crush'],
      /--algo must be one of xxhash-ring\|ketama\|ring-hash\|maglev\|jump\|nginx\|rendezvous, got "crush"/,
    ],
    [['route', '--nodes', 'a', '--compat', 'memcachedx'], /--compat must be one of/],
    [
      ['route', '--nodes', 'a', '--algo', 'xxhash-ring', '--compat', 'twemproxy'],
      /compat must be unset for algorithm 'xxhash-ring'/,
    ],
    [['route', '--nodes', 'a,b=2', '--algo', 'jump'], /nodes\[1\]\.weight.*jump/],
    [['route', '--nodes', 'a', '--algo', 'maglev', '--table-size', '100'], /tableSize.*100/],
    [['route', '--nodes', 'a', '--algo', 'ketama', '--compat', 'twemproxy', '--hash', 'sha1'], /hash must be/],
    [['route', '--nodes', 'a', '--bogus', '1'], /unknown option --bogus/],
    [['route', '--nodes'], /--nodes needs a value/],
    [
      ['route', '--nodes', '--algo', 'maglev'],
      /^switchyard: --nodes needs a value, got the option "--algo" \(write --nodes=--algo if/,
    ],
    [['route', '--nodes', 'a', '--algo', '--compat'], /--algo needs a value, got the option "--compat"/],
    [['demo', '--duration', '--plain'], /--duration needs a value, got the option "--plain"/],
    [['plan', '--from', 'a'], /--to is required/],
    [['plan', '--from', 'a', '--to', 'b', '--keys', '0'], /--keys/],
    [['frobnicate'], /unknown command "frobnicate"/],
  ];
  for (const [argv, re] of cases) {
    const r = await run(argv);
    t.is(r.code, 2, argv.join(' '));
    t.is(r.err.length, 1);
    t.regex(r.err[0]!, re);
    t.false(r.err[0]!.includes('\n'));
  }
  t.is((await run([])).code, 2);
  t.is((await run(['--help'])).code, 0);
});

test('<command> --help prints the usage (exit 0); after -- it is a key', async (t) => {
  for (const argv of [
    ['pick', '--help'],
    ['route', '--nodes', 'a,b', '--help'],
    ['plan', '--help'],
    ['bench', '--help'],
  ]) {
    const r = await run(argv);
    t.is(r.code, 0, argv.join(' '));
    t.regex(r.out.join('\n'), /^usage: switchyard <command>/, argv.join(' '));
  }
  const r = await run(['route', '--nodes', 'a,b', '--', '--help']);
  t.is(r.code, 0);
  t.regex(r.out.join(''), /^--help\t[ab]\n?$/);
});

test('route and plan work for every algorithm, as the library routes', async (t) => {
  const nodes = ['127.0.0.1:21311', '127.0.0.1:21312', '127.0.0.1:21313'];
  const keys = ['alpha', 'beta', 'user:42', 'ключ'];
  const variants: [Algorithm, string[]][] = [
    ['xxhash-ring', []],
    ['ketama', ['--compat', 'libketama']],
    ['ketama', ['--compat', 'libmemcached']],
    ['ketama', ['--compat', 'spymemcached']],
    ['ketama', ['--compat', 'twemproxy', '--hash', 'fnv1a_64']],
    ['ketama', ['--compat', 'hashring']],
    ['ring-hash', []],
    ['maglev', ['--table-size', '251']],
    ['jump', []],
    ['nginx', []],
    ['rendezvous', []],
  ];
  t.deepEqual([...new Set(variants.map(([a]) => a))].sort(), [...ALGORITHMS].sort());
  for (const [algo, extra] of variants) {
    const opts: Record<string, string> = {};
    for (let i = 0; i < extra.length; i += 2) opts[extra[i]!.slice(2)] = extra[i + 1]!;
    const h = createHasher(nodes, {
      algorithm: algo,
      ...(opts.compat && { compat: opts.compat as 'libketama' }),
      ...(opts.hash && { hash: opts.hash }),
      ...(opts['table-size'] && { tableSize: Number(opts['table-size']) }),
    });
    const r = await run(['route', '--algo', algo, ...extra, '--nodes', nodes.join(','), ...keys]);
    t.deepEqual(r, { code: 0, out: keys.map((k) => `${k}\t${h.get(k)}`), err: [] }, `${algo} ${extra.join(' ')}`);
    const p = await run([
      'plan',
      '--algo',
      algo,
      ...extra,
      '--from',
      nodes.join(','),
      '--to',
      [...nodes, '127.0.0.1:21314'].join(','),
      '--keys',
      '5000',
    ]);
    t.is(p.code, 0);
    const moved = Number(p.out.find((l) => l.startsWith('moved'))!.split('\t')[1]) / 5000;
    t.true(moved > 0.15 && moved < 0.45, `${algo}: moved ${moved}`);
  }
});

test('an internal error (not an argument) exits 1 with its message and stack, never as a usage error', async (t) => {
  const err: string[] = [];
  const code = await main(['route', '--nodes', 'a'], {
    out: () => undefined,
    err: (l) => err.push(l),
    outBytes: () => undefined,
    readLineBatches: () => ({
      [Symbol.asyncIterator]: () => ({ next: () => Promise.reject(new TypeError('stdin exploded')) }),
    }),
  });
  t.is(code, 1);
  t.is(err.length, 1);
  t.regex(err[0]!, /^switchyard: TypeError: stdin exploded\n\s+at /);
  // A library TypeError/RangeError about an argument's value is still a usage error.
  const bad = await run(['pick', '--nodes', 'a:99999']);
  t.is(bad.code, 2);
  t.deepEqual(bad.err, ['switchyard: --nodes: endpoints[0].id port must be an integer in [1, 65535], got 99999']);
  // a refusal of the library names the flag the value came from
  for (const [argv, line] of [
    [
      ['route', '--algo', 'maglev', '--table-size', '4', '--nodes', 'a,b', 'k'],
      /^switchyard: --table-size: tableSize must be a prime/,
    ],
    [['route', '--algo', 'jump', '--nodes', 'a=2,b', 'k'], /^switchyard: --nodes: nodes\[0\]\.weight /],
    [['plan', '--algo', 'jump', '--from', 'a,b', '--to', 'a=2,b'], /^switchyard: --to: nodes\[0\]\.weight /],
  ] as const) {
    const r = await run([...argv]);
    t.is(r.code, 2, argv.join(' '));
    t.regex(r.err[0]!, line);
  }
});

test('a command that fails sets the exit code: bench passes on its runner’s (2 for an unknown option)', async (t) => {
  // bench/run.ts refuses --bogus before running anything.
  t.is((await run(['bench', '--bogus'])).code, 2);
  // The executable keeps it: bin.ts does not overwrite a command's code with 0.
  const { spawnSync } = await import('node:child_process');
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'bindings/cli/bin.ts', 'bench', '--bogus'], {
    encoding: 'utf8',
  });
  t.is(r.status, 2, r.stderr);
  t.regex(r.stderr, /unknown option --bogus/);
  // outside a checkout: where it runs is the problem, not how it was called (1, not a usage error's 2)
  const { tmpdir } = await import('node:os');
  const bin = new URL('../../bindings/cli/bin.ts', import.meta.url).pathname;
  const out = spawnSync(process.execPath, ['--import', import.meta.resolve('tsx'), bin, 'bench'], {
    encoding: 'utf8',
    cwd: tmpdir(),
  });
  t.is(out.status, 1, out.stderr);
  t.regex(out.stderr, /^switchyard: bench runs from a switchyard checkout/);
});

test('weights are decimal numbers (no hex, exponent, sign or space); an option given twice is refused', async (t) => {
  for (const w of ['0x10', '1e3', '1e-300', '+2', '-1', ' 2', 'Infinity', '0', '0.0', '.', '1_000'] as const) {
    const r = await run(['route', '--nodes', `a=${w},b`, 'k']);
    t.is(r.code, 2, w);
    t.is(r.err[0], `switchyard: --nodes: weight of "a" must be a decimal number > 0, got ${JSON.stringify(w)}`, w);
  }
  for (const w of ['16', '2.5', '.5', '3.', '0.75'])
    t.is((await run(['route', '--nodes', `a=${w},b`, 'k'])).code, 0, w);
  t.is((await run(['pick', '--policy', 'weighted_round_robin', '--nodes', 'a=0x10,b'])).code, 2);
  for (const argv of [
    ['route', '--nodes', 'a', '--nodes', 'b', 'k'],
    ['route', '--nodes=a', '--nodes=b', 'k'],
    ['pick', '--nodes', 'a', '--count', '1', '--count', '2'],
    ['demo', '--plain', '--plain'],
  ]) {
    const r = await run(argv);
    t.is(r.code, 2, argv.join(' '));
    t.regex(r.err[0]!, /^switchyard: --(nodes|count|plain) is given more than once$/, argv.join(' '));
  }
});

/** The executable (bin.ts, from source), with piped stdio. */
function spawnCli(argv: string[]) {
  return spawn(process.execPath, ['--import', 'tsx', 'bindings/cli/bin.ts', ...argv], { cwd: root });
}

/** `key<TAB>member\n` for each key, as bytes: members from the library, given fresh copies of the bytes. */
function expectedRoutes(router: { getMany(keys: Uint8Array[]): (string | undefined)[] }, keys: Uint8Array[]) {
  const members = router.getMany(keys.map((k) => new Uint8Array(k)));
  return Buffer.concat(keys.flatMap((k, i) => [k, Buffer.from(`\t${members[i]}\n`)]));
}

test('route takes stdin keys as bytes: invalid UTF-8 is routed on its bytes and printed unchanged, for every algorithm', async (t) => {
  // the bug: stdin went through readline, which turns invalid bytes into U+FFFD, so these two were one key
  const nodes = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'];
  const lib = createHasher(nodes, { algorithm: 'ketama', compat: 'libmemcached' });
  const ff = Uint8Array.of(0x61, 0xff, 0x62);
  const fe = Uint8Array.of(0x61, 0xfe, 0x62);
  t.not(lib.get(ff), lib.get(fe), 'these two keys live on different members');
  const hosts = ['127.0.0.1:21311', '127.0.0.1:21312', '127.0.0.1:21313', '127.0.0.1:21314'];
  const raw = [
    [0x61, 0xff, 0x62],
    [0x61, 0xfe, 0x62],
    [0xff],
    [],
    [0xc3, 0x28],
    [0xed, 0xa0, 0x80],
    [0x61, 0x0d, 0x62],
    [...Buffer.from('é user:42')],
    [0xf0, 0x9f, 0x98, 0x80],
  ];
  // lines as the executable hands them over: views into one buffer, at odd offsets
  const pool = new Uint8Array(1 + raw.reduce((n, k) => n + k.length + 1, 0));
  let o = 1;
  const keys = raw.map((k) => {
    pool.set(k, o);
    const view = pool.subarray(o, o + k.length);
    o += k.length + 1;
    return view;
  });
  const variants: [Algorithm, string[], string[]][] = [
    ['ketama', ['--compat', 'libmemcached'], nodes],
    ['xxhash-ring', [], nodes],
    ['ketama', ['--compat', 'libketama'], hosts],
    ['ketama', ['--compat', 'spymemcached'], hosts],
    ['ketama', ['--compat', 'twemproxy', '--hash', 'fnv1a_64'], hosts],
    ['ketama', ['--compat', 'hashring'], hosts],
    ['ring-hash', [], hosts],
    ['maglev', ['--table-size', '251'], hosts],
    ['jump', [], hosts],
    ['nginx', [], hosts],
    ['rendezvous', [], hosts],
  ];
  for (const [algo, extra, members] of variants) {
    const opts: Record<string, string> = {};
    for (let i = 0; i < extra.length; i += 2) opts[extra[i]!.slice(2)] = extra[i + 1]!;
    const h = createHasher(members, {
      algorithm: algo,
      ...(opts.compat && { compat: opts.compat as 'libketama' }),
      ...(opts.hash && { hash: opts.hash }),
      ...(opts['table-size'] && { tableSize: Number(opts['table-size']) }),
    });
    const chunks: Uint8Array[] = [];
    const err: string[] = [];
    const code = await main(['route', '--algo', algo, ...extra, '--nodes', members.join(',')], {
      out: () => t.fail('stdin keys are written as bytes'),
      outBytes: (b) => chunks.push(b),
      err: (l) => err.push(l),
      async *readLineBatches() {
        yield keys.slice(0, 4);
        yield [];
        yield keys.slice(4);
      },
    });
    t.deepEqual([code, err], [0, []], `${algo} ${extra.join(' ')}`);
    // the empty line (raw[3]) is skipped
    t.deepEqual(
      Buffer.concat(chunks),
      expectedRoutes(
        h,
        keys.filter((k) => k.length > 0),
      ),
      `${algo} ${extra.join(' ')}`,
    );
  }
});

test('the executable splits stdin on \\n, drops a \\r before it, skips blank lines, keeps every other byte, and streams long lines', async (t) => {
  const nodes = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'];
  const h = createHasher(nodes, { algorithm: 'ketama', compat: 'libmemcached' });
  const long = Buffer.alloc(200_000, 0x78); // spans several reads
  const input = Buffer.concat([
    Buffer.from([0x61, 0xff, 0x62, 0x0a]),
    Buffer.from([0x61, 0xfe, 0x62, 0x0d, 0x0a]),
    Buffer.from([0x0a]),
    Buffer.from('z\r\rw\n'),
    long,
    Buffer.from('\nlast\r'),
  ]);
  const keys = [
    Uint8Array.of(0x61, 0xff, 0x62),
    Uint8Array.of(0x61, 0xfe, 0x62),
    Buffer.from('z\r\rw'),
    long,
    Buffer.from('last'),
  ];
  const r = spawnSync(
    process.execPath,
    ['--import', 'tsx', 'bindings/cli/bin.ts', 'route', '--compat', 'libmemcached', '--nodes', nodes.join(',')],
    { cwd: root, input, timeout: 60_000 },
  );
  t.is(r.stderr.toString(), '');
  t.is(r.status, 0);
  t.true(r.stdout.equals(expectedRoutes(h, keys)), r.stdout.subarray(0, 200).toString('latin1'));
});

test('route | head: the executable exits quietly with code 0 when the reader closes stdout', async (t) => {
  const child = spawnCli(['route', '--nodes', 'a,b,c']);
  const input = Buffer.from(Array.from({ length: 300_000 }, (_, i) => `key:${i}\n`).join(''));
  child.stdin.on('error', () => undefined); // the child may leave before reading it all
  child.stdin.end(input);
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  let first = '';
  child.stdout.once('data', (d: Buffer) => {
    first = d.toString();
    child.stdout.destroy();
  });
  const [code, signal] = (await once(child, 'close')) as [number | null, NodeJS.Signals | null];
  t.regex(first, /^key:0\t[abc]\n/);
  t.is(stderr, '');
  t.deepEqual([code, signal], [0, null]);
});

test('route skips blank stdin lines (a \\r\\n one too): a blank line at the end is no key; the empty key is an argument', async (t) => {
  const args = ['route', '--nodes', 'a,b,c'];
  const ring = createHasher(['a', 'b', 'c'], { algorithm: 'xxhash-ring' });
  t.deepEqual(await run(args, ['', 'k1', '', '', 'k2', '']), {
    code: 0,
    out: [`k1\t${ring.get('k1')}`, `k2\t${ring.get('k2')}`],
    err: [],
  });
  t.deepEqual(await run(args, ['', '']), { code: 0, out: [], err: [] });
  t.deepEqual(await run([...args, '']), { code: 0, out: [`\t${ring.get('')}`], err: [] });
  const cases: [string, string[]][] = [
    ['k1\n\nk2\r\n\r\n\n', ['k1', 'k2']],
    ['\n\n', []],
    ['k1\n', ['k1']],
    [' \n\rk2\r', [' ', '\rk2']], // not blank
  ];
  for (const [input, keys] of cases) {
    const r = spawnSync(process.execPath, ['--import', 'tsx', 'bindings/cli/bin.ts', ...args], {
      cwd: root,
      input,
      encoding: 'utf8',
    });
    t.is(r.stderr, '', JSON.stringify(input));
    t.is(r.status, 0);
    t.is(r.stdout, keys.map((k) => `${k}\t${ring.get(k)}\n`).join(''), JSON.stringify(input));
  }
});

const version = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string }).version;

test('--version and -V print the version in package.json, exit 0 (also the executable, from source)', async (t) => {
  t.regex(version, /^\d+\.\d+\.\d+/);
  for (const flag of ['--version', '-V']) t.deepEqual(await run([flag]), { code: 0, out: [version], err: [] }, flag);
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'bindings/cli/bin.ts', '--version'], {
    cwd: root,
    encoding: 'utf8',
  });
  t.deepEqual([r.status, r.stdout, r.stderr], [0, `${version}\n`, '']);
  t.regex((await run(['--help'])).out[0]!, /\n {2}--version, -V /);
});

test('--version from the built package: the switchyard package.json above dist/esm/cli or dist/cjs/cli', async (t) => {
  // the layout scripts/build.mjs makes, each file compiled as tsc does (isolatedModules), run from elsewhere
  const dir = mkdtempSync(join(tmpdir(), 'switchyard-version-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(
    join(dir, 'package.json'),
    JSON.stringify({ name: 'switchyard', version: '9.8.7-test', type: 'module' }),
  );
  for (const [format, module] of [
    ['esm', ts.ModuleKind.ES2022],
    ['cjs', ts.ModuleKind.CommonJS],
  ] as const) {
    mkdirSync(join(dir, 'dist', format, 'cli'), { recursive: true });
    for (const f of ['version', 'args']) {
      const src = readFileSync(join(root, 'bindings/cli', `${f}.ts`), 'utf8');
      const compilerOptions = { module, target: ts.ScriptTarget.ES2022, esModuleInterop: true };
      writeFileSync(
        join(dir, 'dist', format, 'cli', `${f}.js`),
        ts.transpileModule(src, { compilerOptions }).outputText,
      );
    }
  }
  writeFileSync(join(dir, 'dist/cjs/package.json'), '{ "type": "commonjs" }\n');
  const esm = pathToFileURL(join(dir, 'dist/esm/cli/version.js')).href;
  const cjs = join(dir, 'dist/cjs/cli/version.js');
  for (const argv of [
    ['--input-type=module', '-e', `console.log((await import(${JSON.stringify(esm)})).packageVersion())`],
    ['-e', `console.log(require(${JSON.stringify(cjs)}).packageVersion())`],
  ]) {
    const r = spawnSync(process.execPath, argv, { cwd: tmpdir(), encoding: 'utf8' });
    t.deepEqual([r.status, r.stdout, r.stderr], [0, '9.8.7-test\n', ''], argv[0]);
  }
  // not under a switchyard package.json (another package's is passed by): a CommandError naming the file
  const app = mkdtempSync(join(tmpdir(), 'switchyard-app-'));
  t.teardown(() => rmSync(app, { recursive: true, force: true }));
  mkdirSync(join(app, 'lib'));
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', version: '1.0.0' }));
  const bundle = join(app, 'lib/bundle.js');
  const e = t.throws(() => packageVersion(bundle));
  t.is(e?.name, 'CommandError');
  t.is(e?.message, `no package.json of switchyard above ${bundle}`);
});

test('route --compat hashring --default-port 11211 places keys as the memcached npm client (hashring with its default port)', async (t) => {
  const { default: NpmHashRing } = (await import('hashring')) as unknown as {
    default: new (s: string[], algo: string, o: object) => { get(k: string): string };
  };
  const nodes = ['127.0.0.1:11211', '127.0.0.2:11211', '127.0.0.3:11212'];
  // as node_modules/memcached/lib/memcached.js builds its ring (compatibility 'ketama', the default)
  const npm = new NpmHashRing(nodes, 'md5', { compatibility: 'ketama', 'default port': 11211 });
  const keys = Array.from({ length: 300 }, (_, i) => `session:${i}`);
  const routed = async (extra: string[]) => {
    const r = await run(['route', '--compat', 'hashring', ...extra, '--nodes', nodes.join(','), ...keys]);
    t.is(r.code, 0);
    return new Map(r.out.map((l) => l.split('\t') as [string, string]));
  };
  const withPort = await routed(['--default-port', '11211']);
  t.deepEqual(
    keys.filter((k) => withPort.get(k) !== npm.get(k)),
    [],
  );
  const lib = createHasher(nodes, { algorithm: 'ketama', compat: 'hashring', defaultPort: 11211 });
  t.true(keys.every((k) => lib.get(k) === npm.get(k)));
  // without it, servers on 11211 are hashed by host:port, not host alone: many keys elsewhere
  const without = await routed([]);
  t.true(keys.filter((k) => without.get(k) !== npm.get(k)).length > 50);
  t.throws(() => createHasher(nodes, { algorithm: 'maglev', defaultPort: 11211 }), {
    instanceOf: RangeError,
    message: /^defaultPort must be unset for algorithm 'maglev'/,
  });
});

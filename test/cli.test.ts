// The CLI as a thin layer: route (arguments and stdin), plan, and bad arguments (one line, exit code 2).
import test from 'ava';
import { main } from '../bindings/cli.js';
import { HashRing } from '../bindings/index.js';

async function run(argv: string[], stdin: string[] = []) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(argv, {
    out: (l) => out.push(l),
    err: (l) => err.push(l),
    async *readLines() {
      yield* stdin;
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
});

test('plan reports the fraction moved and shares before/after', async (t) => {
  const r = await run(['plan', '--from', 'a,b,c', '--to', 'a,b,c,d', '--keys', '20000']);
  t.is(r.code, 0);
  const moved = Number(r.out[1]!.split('\t')[1]) / 20000;
  t.true(moved > 0.18 && moved < 0.32, `moved ${moved}`);
  const d = r.out.find((l) => l.startsWith('d '))!;
  t.regex(d, /^d\s+0\.00%\s+\d+\.\d+%/);
  t.is(r.out.filter((l) => /^[abcd] /.test(l)).length, 4);
});

test('bad arguments: one line on stderr, exit code 2', async (t) => {
  const cases: [string[], RegExp][] = [
    [['route'], /--nodes is required/],
    [['route', '--nodes', 'a,,b'], /empty node id/],
    [['route', '--nodes', 'a,b=0'], /weight of "b".*"0"/],
    [['route', '--nodes', 'a,b=x'], /weight of "b"/],
    [['route', '--nodes', 'a,a'], /unique.*"a"/],
    [['route', '--nodes', 'a', '--vnodes', '0'], /--vnodes.*"0"/],
    [['route', '--nodes', 'a', '--vnodes', 'abc'], /--vnodes/],
    [['route', '--nodes', 'a', '--hash', 'md5'], /--hash must be one of xxh32\|xxh64, got "md5"/],
    [['route', '--nodes', 'a', '--bogus', '1'], /unknown option --bogus/],
    [['route', '--nodes'], /--nodes needs a value/],
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

// The live-suite guard (test/helpers/live.ts) and the test runner's summary (scripts/test.mjs), run for real on
// a fixture suite that needs a binary no machine has: skipped loudly without CI, a failure with CI=true.
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';

const root = resolve(import.meta.dirname, '../..');

function runFixture(ci: boolean) {
  const env = { ...process.env };
  delete env.CI;
  if (ci) env.CI = 'true';
  const r = spawnSync(
    process.execPath,
    ['scripts/test.mjs', '--tap', '--config', 'test/fixtures/live-guard/ava.config.mjs'],
    { cwd: root, env, encoding: 'utf8', timeout: 120_000 },
  );
  return { status: r.status, out: r.stdout, err: r.stderr };
}

test('without CI a suite whose binary is missing is skipped, its hooks never run, and the run ends with the list', (t) => {
  const r = runFixture(false);
  t.is(r.status, 0, r.out + r.err);
  t.regex(r.out, /^# skip 2$/m);
  t.regex(r.out, /^# pass 0$/m);
  t.notRegex(r.out + r.err, /hook of a skipped suite ran/);
  t.regex(r.err, /1 live suite\(s\) SKIPPED/);
  t.regex(r.err, /test\/fixtures\/live-guard\/missing\.test\.ts: missing switchyard-no-such-binary/);
  t.regex(r.err, /sudo apt-get install -y switchyard-no-such-binary/);
});

test('with CI=true a missing binary fails the run, naming the suite and the binary', (t) => {
  const r = runFixture(true);
  t.not(r.status, 0);
  t.regex(r.out, /^not ok \d+ - .*missing\.test\.ts: required binaries are installed/m);
  t.regex(r.out, /switchyard-no-such-binary/);
  t.regex(r.out, /^# fail 1$/m);
  t.notRegex(r.err, /SKIPPED/);
});

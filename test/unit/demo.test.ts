// The main job a newcomer runs: `npm start -- --duration 5` (README's first command) and its summary.
import test from 'ava';
import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
import { promisify } from 'node:util';

test('npm start -- --duration 5: requests flow, no failures, the dying backend is taken out and readmitted', async (t) => {
  const root = resolve(import.meta.dirname, '../..');
  const { stdout } = await promisify(execFile)('npm', ['start', '--silent', '--', '--duration', '5', '--plain'], {
    cwd: root,
    timeout: 180_000,
    maxBuffer: 16 << 20,
  });
  const summary = stdout.split('\n').find((l) => l.startsWith('summary: '));
  t.truthy(summary, stdout.slice(-2000));
  const m =
    /summary: (\d+) requests, (\d+) retries, (\d+) failures; taken out of rotation: ([^;]*); readmitted: ([^;]*); share: (.*)$/.exec(
      summary!,
    )!;
  t.truthy(m, summary);
  t.true(Number(m[1]) > 100, `requests ${m[1]}`);
  t.is(Number(m[3]), 0, 'no failed requests');
  t.true(m[4]!.split(', ').includes('api-4'), `taken out: ${m[4]}`);
  t.true(m[5]!.split(', ').includes('api-4'), `readmitted: ${m[5]}`);
  // the slow backend gets less traffic than the fast ones under peak_ewma
  const share = Object.fromEntries(m[6]!.split(', ').map((s) => [s.split(' ')[0], parseFloat(s.split(' ')[1]!)]));
  t.true(share['api-3']! < share['api-1']!, m[6]);
  t.regex(stdout, /chaos: api-4 is killed/);
  t.regex(stdout, /health api-4: .* -> (suspect|failed)|outlier api-4: ejected/);
});

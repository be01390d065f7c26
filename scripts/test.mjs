// Runs ava over test/unit and test/live (arguments are passed through, e.g. `npm test -- --tap`), then
// prints, loudly, every live suite that was skipped because a binary is missing and the one command that
// installs them all. With CI set a missing binary is a failure instead (test/helpers/live.ts).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const dir = mkdtempSync(join(tmpdir(), 'switchyard-test-'));
const log = join(dir, 'skipped.jsonl');
const ava = join('node_modules', 'ava', 'entrypoints', 'cli.mjs');
const r = spawnSync(process.execPath, [ava, ...process.argv.slice(2)], {
  stdio: 'inherit',
  env: { ...process.env, SWITCHYARD_SKIP_LOG: log },
});
const skipped = existsSync(log)
  ? readFileSync(log, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l))
  : [];
rmSync(dir, { recursive: true, force: true });
if (skipped.length > 0) {
  const packages = new Set(skipped.flatMap((s) => s.packages));
  const bar = '!'.repeat(78);
  const out = process.stderr;
  out.write(`\n${bar}\n!! ${skipped.length} live suite(s) SKIPPED: their binaries are not installed.\n`);
  for (const s of skipped) out.write(`!!   ${s.suite}: missing ${s.missing.join(', ')}\n`);
  out.write(`!! Install them all with:\n!!   sudo apt-get install -y ${[...packages].join(' ')}\n${bar}\n`);
}
process.exit(r.status ?? 1);

// `switchyard bench`: runs the benchmark suites of a switchyard checkout (bench/run.ts, with tsx), which write
// bench/results.json, bench/charts/*.svg and docs/benchmarks.md. Suites need the dev dependencies
// (the npm peers they compare against), so this works from a clone, not from an installed package. The exit
// code is run.ts's (2 for an argument it refuses).
import { CommandError } from './args.js';
import type { CliIO } from './cli.js';

export async function benchCommand(argv: string[], io: CliIO): Promise<number> {
  const { existsSync } = await import('node:fs');
  const { spawnSync } = await import('node:child_process');
  if (!existsSync('bench/run.ts') || !existsSync('node_modules/tsx')) {
    // where it runs, not how it was called: exit 1, as for the other environment problems
    throw new CommandError(
      'bench runs from a switchyard checkout with dev dependencies installed (npm ci), in its top folder',
    );
  }
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'bench/run.ts', ...argv], { stdio: 'inherit' });
  if (r.error !== undefined) throw r.error;
  if (r.status === null) {
    io.err(`switchyard: bench/run.ts ended by ${r.signal ?? 'a signal'}`);
    return 1;
  }
  return r.status; // bench/run.ts's own code: 2 for an unknown option, which it has printed
}

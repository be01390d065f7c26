// `switchyard demo`: the live loopback demo (cli/demo.ts), loaded only when asked for.
import { intOption, parseArgs, UsageError } from './args.js';
import type { CliIO } from './cli.js';

/** Exit code 1 when any demo request failed; 130 when Ctrl-C ended it early (after its summary). */
export async function demoCommand(argv: string[], io: CliIO): Promise<number> {
  const { options, positionals } = parseArgs(
    argv,
    ['duration', 'concurrency', 'metrics-port'],
    ['plain', 'no-metrics'],
  );
  if (positionals.length > 0)
    throw new UsageError(`demo takes no positional arguments, got ${JSON.stringify(positionals[0])}`);
  const durationS = intOption(options, 'duration', 1, 3600) ?? 30;
  const concurrency = intOption(options, 'concurrency', 1, 256) ?? 8;
  const metricsPort = options.has('no-metrics') ? false : (intOption(options, 'metrics-port', 0, 65535) ?? 0);
  const { runDemo } = await import('./demo.js');
  // the first Ctrl-C ends the run and prints its summary; a second one (the default handler again) kills it
  const interrupt = new AbortController();
  const onSigint = () => interrupt.abort();
  process.once('SIGINT', onSigint);
  try {
    const summary = await runDemo({
      durationS,
      concurrency,
      metricsPort,
      out: io.out,
      tty: options.has('plain') ? false : undefined,
      signal: interrupt.signal,
    });
    if (interrupt.signal.aborted) return 130;
    return summary.failures > 0 ? 1 : 0;
  } finally {
    process.off('SIGINT', onSigint);
  }
}

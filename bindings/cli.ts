// The `switchyard` command: a thin layer over the library. Each subcommand lives in its own cli-*.ts.
import { UsageError } from './cli-args.js';
import { planCommand, routeCommand } from './cli-route.js';

type Command = (argv: string[], io: CliIO) => Promise<void> | void;

export interface CliIO {
  out(line: string): void;
  readLines(): AsyncIterable<string>;
}

const COMMANDS: Record<string, Command> = {
  route: routeCommand,
  plan: planCommand,
};

const USAGE = `usage: switchyard <command> [options]
  route --nodes a,b=2,c [--vnodes N] [--hash xxh32|xxh64] [--seed N] [key ...]   (keys from stdin if none)
  plan  --from a,b,c --to a,b,c,d [--keys N] [--vnodes N] [--hash xxh32|xxh64]`;

export async function main(argv: string[], io: CliIO): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    io.out(USAGE);
    return name === undefined ? 2 : 0;
  }
  const cmd = COMMANDS[name];
  try {
    if (cmd === undefined) throw new UsageError(`unknown command ${JSON.stringify(name)} (try --help)`);
    await cmd(rest, io);
    return 0;
  } catch (err) {
    if (err instanceof UsageError || err instanceof TypeError || err instanceof RangeError) {
      process.stderr.write(`switchyard: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
}

async function* stdinLines(): AsyncIterable<string> {
  const { createInterface } = await import('node:readline');
  const rl = createInterface({ input: process.stdin, crlfDelay: Infinity });
  for await (const line of rl) yield line;
}

const isMain = typeof process !== 'undefined' && process.argv[1] !== undefined && /cli\.(js|ts)$/.test(process.argv[1]);
if (isMain) {
  const lines: string[] = [];
  const flush = () => {
    if (lines.length > 0) process.stdout.write(lines.join('\n') + '\n');
    lines.length = 0;
  };
  main(process.argv.slice(2), {
    out(line) {
      lines.push(line);
      if (lines.length >= 4096) flush();
    },
    readLines: stdinLines,
  }).then(
    (code) => {
      flush();
      process.exitCode = code;
    },
    (err: unknown) => {
      flush();
      process.stderr.write(`switchyard: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exitCode = 1;
    },
  );
}

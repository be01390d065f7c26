// The `switchyard` command: a thin layer over the library. Each subcommand lives in its own cli-*.ts.
import { UsageError } from './cli-args.js';
import { planCommand, routeCommand } from './cli-route.js';

type Command = (argv: string[], io: CliIO) => Promise<void> | void;

export interface CliIO {
  out(line: string): void;
  err(line: string): void;
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
      io.err(`switchyard: ${err.message}`);
      return 2;
    }
    throw err;
  }
}

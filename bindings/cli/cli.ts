// The `switchyard` command: a thin layer over the library. Each subcommand lives in its own file.
// Exit codes (main's result): 0 success; 2 a usage error (a UsageError, cli/args.ts: one line on stderr);
// 1 anything else: a command that failed (it returns its code: bench passes on its child's, demo 1 when
// requests failed; or it throws a CommandError, one line: a port in use, unreadable input) or an unexpected
// error (printed with its stack: a bug, never dressed up as a usage error).
import { CommandError, UsageError } from './args.js';
import { planCommand, routeCommand } from './route.js';
import { demoCommand } from './demo-command.js';
import { benchCommand } from './bench.js';
import { DEFAULT_POLICY, pickCommand } from './pick.js';

/** A subcommand: returns its exit code (undefined: 0) or throws (UsageError: 2, anything else: 1). */
type Command = (argv: string[], io: CliIO) => Promise<number | void> | number | void;

export interface CliIO {
  out(line: string): void;
  /** Output as bytes, written unchanged, in order with `out`'s lines: whole lines, each ending in \n. */
  outBytes(chunk: Uint8Array): void;
  err(line: string): void;
  /**
   * Standard input as lines, in batches (the executable: the complete lines of each chunk read), each without
   * its \n (nor a \r before it). The executable gives bytes, as read: a key is routed and printed byte for byte.
   */
  readLineBatches(): AsyncIterable<readonly (string | Uint8Array)[]>;
}

const COMMANDS: Record<string, Command> = {
  route: routeCommand,
  plan: planCommand,
  demo: demoCommand,
  bench: benchCommand,
  pick: pickCommand,
};

/** `--version`, `-V` (as `--help`, `-h`: what follows is ignored). */
async function versionCommand(_argv: string[], io: CliIO): Promise<void> {
  const { packageVersion } = await import('./version.js');
  io.out(packageVersion());
}

const USAGE = `usage: switchyard <command> [options]
  route --nodes id[=weight],... [--algo xxhash-ring|ketama|ring-hash|maglev|jump|nginx|rendezvous]
        [--compat libketama|libmemcached|spymemcached|twemproxy|hashring] [--default-port N] [--hash H]
        [--vnodes N] [--seed N] [--table-size PRIME] [key ...]   (keys from stdin if none: one a line, taken as
        bytes, blank lines skipped; prints key<TAB>member; --default-port 11211 with hashring: the memcached client)
  plan  --from a,b,c --to a,b,c,d [--keys N] [same options as route]   (keys moved, shares before/after)
  demo  [--duration SECONDS] [--concurrency N] [--plain] [--metrics-port N] [--no-metrics]   (live demo on loopback backends)
  bench [suite ...]                                       (from a checkout: run benchmarks, write docs/benchmarks.md)
  pick  [--policy NAME] --nodes a=5,b=1,c [--count N] [--seed N] [key ...]   (one member per line)
        --policy default ${DEFAULT_POLICY}; ring_hash|xxhash_ring|maglev|ketama pick by key: give at least one key
  --version, -V                                           (print switchyard's version; <command> --help: this text)`;

export async function main(argv: string[], io: CliIO): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    io.out(USAGE);
    return name === undefined ? 2 : 0;
  }
  const cmd =
    name === '--version' || name === '-V' ? versionCommand : Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  // `<command> --help` (before a `--`, after which every word is a key)
  const end = rest.indexOf('--');
  if (cmd !== undefined && (end < 0 ? rest : rest.slice(0, end)).includes('--help')) {
    io.out(USAGE);
    return 0;
  }
  try {
    if (cmd === undefined) throw new UsageError(`unknown command ${JSON.stringify(name)} (try --help)`);
    return (await cmd(rest, io)) ?? 0;
  } catch (err) {
    if (err instanceof UsageError || err instanceof CommandError) {
      io.err(`switchyard: ${err.message}`);
      return err instanceof UsageError ? 2 : 1;
    }
    io.err(`switchyard: ${err instanceof Error ? (err.stack ?? `${err.name}: ${err.message}`) : String(err)}`);
    return 1;
  }
}

// Argument parsing for the CLI: `--name value`, `--name=value`, flags, positionals; an option given twice is
// refused (the second would silently win), and so is `--name --other` (a value that starts with `--` is
// written `--name=--other`). Bad arguments raise UsageError, which the CLI prints as one line and exits with
// code 2. Only a UsageError is a usage error: a library TypeError/RangeError about an argument's value becomes
// one through `fromArgs`. A CommandError (a port in use, unreadable input) is one line and exit code 1; any
// other error (an internal failure) exits with code 1 and its stack.
import type { MemberInput } from '../hashing/ring.js';

export class UsageError extends Error {
  override name = 'UsageError';
}

/** A command that cannot do its job for a reason outside the program (a port in use): one line, exit code 1. */
export class CommandError extends Error {
  override name = 'CommandError';
}

/**
 * Runs `fn`, which builds something from argument values only: its TypeError/RangeError (a bad value, named
 * by the library) becomes a UsageError with the same message (the original as `cause`), led by the flag the
 * field it names came from (`flags`: field → option name): `--table-size: tableSize must be ...`.
 */
export function fromArgs<T>(fn: () => T, flags: Readonly<Record<string, string>> = {}): T {
  try {
    return fn();
  } catch (e) {
    if (!(e instanceof TypeError || e instanceof RangeError)) throw e;
    const field = /^[A-Za-z]+/.exec(e.message)?.[0];
    const flag = field === undefined ? undefined : flags[field];
    throw new UsageError(flag === undefined ? e.message : `--${flag}: ${e.message}`, { cause: e });
  }
}

export interface ParsedArgs {
  options: Map<string, string>;
  positionals: string[];
}

export function parseArgs(
  argv: readonly string[],
  known: readonly string[],
  flags: readonly string[] = [],
): ParsedArgs {
  const options = new Map<string, string>();
  const positionals: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (!a.startsWith('--')) {
      positionals.push(a);
      continue;
    }
    const eq = a.indexOf('=');
    const name = a.slice(2, eq < 0 ? undefined : eq);
    if (options.has(name)) throw new UsageError(`--${name} is given more than once`);
    if (flags.includes(name)) {
      if (eq >= 0) throw new UsageError(`--${name} takes no value`);
      options.set(name, 'true');
      continue;
    }
    if (!known.includes(name)) throw new UsageError(`unknown option --${name}`);
    const value = eq >= 0 ? a.slice(eq + 1) : argv[++i];
    if (value === undefined) throw new UsageError(`--${name} needs a value`);
    if (eq < 0 && value.startsWith('--')) {
      throw new UsageError(
        `--${name} needs a value, got the option ${JSON.stringify(value)} (write --${name}=${value} if that is the value)`,
      );
    }
    options.set(name, value);
  }
  return { options, positionals };
}

/** A weight as written: a decimal number (no sign, exponent, hex or spaces), as integers elsewhere are digits only. */
const DECIMAL = /^(?:\d+(?:\.\d*)?|\.\d+)$/;

/**
 * `a,b=2,c` → members; weights must be decimal numbers > 0, and ids unique: an id given twice (`a=1,a=2`) is a
 * UsageError naming it, for every command (the Balancer would keep the last one, the hashers refuse it).
 */
export function parseNodes(spec: string | undefined, option: string): MemberInput[] {
  if (spec === undefined || spec.trim() === '')
    throw new UsageError(`--${option} is required (e.g. --${option} a,b=2,c)`);
  const nodes = spec.split(',').map((part): MemberInput => {
    const p = part.trim();
    const eq = p.lastIndexOf('=');
    if (eq < 0) {
      if (p === '') throw new UsageError(`--${option}: empty node id in ${JSON.stringify(spec)}`);
      return p;
    }
    const id = p.slice(0, eq);
    const v = p.slice(eq + 1);
    const w = Number(v);
    if (id === '') throw new UsageError(`--${option}: empty node id in ${JSON.stringify(p)}`);
    if (!DECIMAL.test(v) || !Number.isFinite(w) || w <= 0) {
      throw new UsageError(
        `--${option}: weight of ${JSON.stringify(id)} must be a decimal number > 0, got ${JSON.stringify(v)}`,
      );
    }
    return { id, weight: w };
  });
  const seen = new Set<string>();
  for (const n of nodes) {
    const id = typeof n === 'string' ? n : n.id;
    if (seen.has(id))
      throw new UsageError(
        `--${option}: node ids must be unique, got ${JSON.stringify(id)} more than once in ${JSON.stringify(spec)}`,
      );
    seen.add(id);
  }
  return nodes;
}

export function intOption(options: Map<string, string>, name: string, min: number, max: number): number | undefined {
  const v = options.get(name);
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!/^\d+$/.test(v) || !Number.isSafeInteger(n) || n < min || n > max) {
    throw new UsageError(`--${name} must be an integer in [${min}, ${max}], got ${JSON.stringify(v)}`);
  }
  return n;
}

export function choiceOption<T extends string>(
  options: Map<string, string>,
  name: string,
  choices: readonly T[],
): T | undefined {
  const v = options.get(name);
  if (v === undefined) return undefined;
  if (!(choices as readonly string[]).includes(v))
    throw new UsageError(`--${name} must be one of ${choices.join('|')}, got ${JSON.stringify(v)}`);
  return v as T;
}

// `switchyard route` and `switchyard plan`.
import { choiceOption, intOption, parseArgs, parseNodes } from './cli-args.js';
import type { CliIO } from './cli.js';
import { planChange } from './plan.js';
import { HashRing, MAX_VNODES, type HashRingOptions } from './ring.js';

const HASHES = ['xxh32', 'xxh64'] as const;

function ringOptions(options: Map<string, string>): HashRingOptions {
  const o: HashRingOptions = {};
  const vnodes = intOption(options, 'vnodes', 1, MAX_VNODES);
  if (vnodes !== undefined) o.vnodes = vnodes;
  const hash = choiceOption(options, 'hash', HASHES);
  if (hash !== undefined) o.hash = hash;
  const seed = intOption(options, 'seed', 0, 0xffffffff);
  if (seed !== undefined) o.seed = seed;
  return o;
}

export async function routeCommand(argv: string[], io: CliIO): Promise<void> {
  const { options, positionals } = parseArgs(argv, ['nodes', 'vnodes', 'hash', 'seed']);
  const ring = new HashRing(parseNodes(options.get('nodes'), 'nodes'), ringOptions(options));
  const emit = (key: string) => io.out(`${key}\t${ring.get(key) ?? ''}`);
  if (positionals.length > 0) positionals.forEach(emit);
  else for await (const line of io.readLines()) emit(line);
}

export function planCommand(argv: string[], io: CliIO): void {
  const { options, positionals } = parseArgs(argv, ['from', 'to', 'keys', 'vnodes', 'hash', 'seed']);
  if (positionals.length > 0)
    throw new RangeError(`plan takes no positional arguments, got ${JSON.stringify(positionals[0])}`);
  const ro = ringOptions(options);
  const from = new HashRing(parseNodes(options.get('from'), 'from'), ro);
  const to = new HashRing(parseNodes(options.get('to'), 'to'), ro);
  const keys = intOption(options, 'keys', 1, 10_000_000) ?? 100_000;
  const plan = planChange(from, to, keys);
  io.out(`keys\t${plan.keys}`);
  io.out(`moved\t${plan.moved}\t${(plan.movedFraction * 100).toFixed(2)}%`);
  const width = Math.max(...plan.members.map((m) => m.id.length), 6);
  const maxShare = Math.max(...plan.members.flatMap((m) => [m.before, m.after]));
  const bar = (x: number) => '#'.repeat(Math.round((x / maxShare) * 30)).padEnd(30);
  io.out(`${'member'.padEnd(width)}  before   after    before${' '.repeat(25)}  after`);
  for (const m of plan.members) {
    io.out(
      `${m.id.padEnd(width)}  ${(m.before * 100).toFixed(2).padStart(6)}%  ${(m.after * 100).toFixed(2).padStart(6)}%  ${bar(m.before)}  ${bar(m.after)}`,
    );
  }
}

// `switchyard route` and `switchyard plan`, for every algorithm createHasher knows. `route` reads keys from
// stdin as bytes (one a line): a key that is not valid UTF-8 is routed on its bytes, as a memcached or Redis
// client hashes it, and printed unchanged; each batch of lines is one `getMany` and one write. A blank line (empty
// once a \r before its \n is dropped) is skipped, as line-oriented tools do, so a blank line at the end is no
// key; the empty key is routed when given as an argument (`route --nodes a,b ''`).
import { choiceOption, fromArgs, intOption, parseArgs, parseNodes, UsageError } from './args.js';
import type { CliIO } from './cli.js';
import { ALGORITHMS, createHasher, type HasherOptions } from '../hashing/create-hasher.js';
import { KETAMA_COMPATS } from '../hashing/ketama/ketama.js';
import { planChange } from '../hashing/plan.js';
import { MAX_VNODES } from '../hashing/ring.js';

const ROUTER_OPTIONS = ['algo', 'compat', 'default-port', 'hash', 'vnodes', 'seed', 'table-size'];
/** The flag behind each createHasher option a refusal may name (`tableSize must be ...` → `--table-size: ...`). */
const ROUTER_FLAGS = {
  algorithm: 'algo',
  compat: 'compat',
  defaultPort: 'default-port',
  hash: 'hash',
  vnodes: 'vnodes',
  seed: 'seed',
  tableSize: 'table-size',
};
const withNodes = (option: string) => ({ ...ROUTER_FLAGS, nodes: option, endpoints: option, members: option });

function hasherOptions(options: Map<string, string>): HasherOptions {
  const o: HasherOptions = {
    algorithm: choiceOption(options, 'algo', ALGORITHMS) ?? (options.has('compat') ? 'ketama' : 'xxhash-ring'),
  };
  const compat = choiceOption(options, 'compat', KETAMA_COMPATS);
  if (compat !== undefined) o.compat = compat;
  const hash = options.get('hash');
  if (hash !== undefined) o.hash = hash;
  const vnodes = intOption(options, 'vnodes', 1, MAX_VNODES);
  if (vnodes !== undefined) o.vnodes = vnodes;
  const seed = intOption(options, 'seed', 0, 0xffffffff);
  if (seed !== undefined) o.seed = seed;
  const defaultPort = intOption(options, 'default-port', 0, 65535);
  if (defaultPort !== undefined) o.defaultPort = defaultPort;
  const tableSize = intOption(options, 'table-size', 2, 5_000_011);
  if (tableSize !== undefined) o.tableSize = tableSize;
  return o;
}

export async function routeCommand(argv: string[], io: CliIO): Promise<void> {
  const { options, positionals } = parseArgs(argv, ['nodes', ...ROUTER_OPTIONS]);
  const nodes = parseNodes(options.get('nodes'), 'nodes');
  const ho = hasherOptions(options);
  const router = fromArgs(() => createHasher(nodes, ho), withNodes('nodes'));
  if (positionals.length > 0) {
    for (const key of positionals) io.out(`${key}\t${router.get(key) ?? ''}`);
    return;
  }
  const encoder = new TextEncoder();
  /** `\t<member>\n` per member id, encoded once. */
  const tails = new Map(router.members.map((id) => [id, encoder.encode(`\t${id}\n`)]));
  const noMember = encoder.encode('\t\n');
  for await (const lines of io.readLineBatches()) {
    const keys = lines.filter((k) => k.length > 0).map((k) => (typeof k === 'string' ? encoder.encode(k) : k));
    if (keys.length === 0) continue;
    const owners = router.getMany(keys);
    let size = 0;
    const parts = keys.map((k, i) => {
      const tail = (owners[i] === undefined ? undefined : tails.get(owners[i])) ?? noMember;
      size += k.length + tail.length;
      return tail;
    });
    const chunk = new Uint8Array(size);
    let o = 0;
    for (let i = 0; i < keys.length; i++) {
      chunk.set(keys[i]!, o);
      o += keys[i]!.length;
      chunk.set(parts[i]!, o);
      o += parts[i]!.length;
    }
    io.outBytes(chunk);
  }
}

export function planCommand(argv: string[], io: CliIO): void {
  const { options, positionals } = parseArgs(argv, ['from', 'to', 'keys', ...ROUTER_OPTIONS]);
  if (positionals.length > 0)
    throw new UsageError(`plan takes no positional arguments, got ${JSON.stringify(positionals[0])}`);
  const ho = hasherOptions(options);
  const fromNodes = parseNodes(options.get('from'), 'from');
  const toNodes = parseNodes(options.get('to'), 'to');
  const from = fromArgs(() => createHasher(fromNodes, ho), withNodes('from'));
  const to = fromArgs(() => createHasher(toNodes, ho), withNodes('to'));
  const keys = intOption(options, 'keys', 1, 10_000_000) ?? 100_000;
  const plan = planChange(from, to, keys);
  // ideal: the fewest keys any placement moves to go to the new weights (plan.ts leastMovedFraction)
  const ideal = plan.leastMovedFraction;
  io.out(`algorithm\t${ho.algorithm}${ho.compat ? ` (${ho.compat})` : ''}`);
  io.out(`keys\t${plan.keys}`);
  io.out(`moved\t${plan.moved}\t${(plan.movedFraction * 100).toFixed(2)}%\t(ideal ${(ideal * 100).toFixed(2)}%)`);
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

// `switchyard pick`: runs a policy (default round_robin) over a node list and prints one member per line. Each
// pick completes at once (ok, RTT 0). Deterministic policies need nothing more; random ones take --seed. A hash
// policy (a HashPolicy: ring_hash = Envoy's ring, xxhash_ring, maglev, ketama) needs keys, from the arguments
// (one pick per key): without any it would pick at random, so that is a usage error.
// Nodes are Balancer endpoints: 'host:port' or a plain name, optionally '=weight'.
//
//   switchyard pick --policy weighted_round_robin --nodes a=5,b=1,c=1 --count 14
//   switchyard pick --policy ring_hash --nodes 10.0.0.1:80,10.0.0.2:80 user:1 user:2
import { Balancer } from '../balancing/balancer.js';
import { fromArgs, intOption, parseArgs, parseNodes, UsageError } from './args.js';
import type { CliIO } from './cli.js';
import { mulberry32 } from '../util/random.js';
import { policyNames } from '../balancing/service-config.js';
import { HashPolicy } from '../balancing/policies/hash.js';

export const DEFAULT_POLICY = 'round_robin';

export function pickCommand(argv: string[], io: CliIO): void {
  const { options, positionals } = parseArgs(argv, ['policy', 'nodes', 'count', 'seed']);
  const policy = options.get('policy') ?? DEFAULT_POLICY;
  if (!policyNames().includes(policy)) {
    throw new UsageError(`--policy must be one of ${policyNames().join('|')}, got ${JSON.stringify(policy)}`);
  }
  const nodes = parseNodes(options.get('nodes'), 'nodes').map((m) => (typeof m === 'string' ? { id: m } : m));
  const seed = intOption(options, 'seed', 0, 0xffffffff);
  const random = seed === undefined ? Math.random : mulberry32(seed);
  const lb = fromArgs(() => new Balancer({ policy, endpoints: nodes, random }), {
    endpoints: 'nodes',
    policy: 'policy',
  });
  const keys = positionals.length > 0 ? positionals : undefined;
  if (keys === undefined && lb.policy instanceof HashPolicy) {
    throw new UsageError(
      `--policy ${policy} picks by key: give at least one key argument (pick --policy ${policy} --nodes ... KEY ...)`,
    );
  }
  const count = intOption(options, 'count', 1, 10_000_000) ?? keys?.length ?? nodes.length;
  for (let i = 0; i < count; i++) {
    const key = keys?.[i % keys.length];
    const p = lb.pickOrThrow(key === undefined ? undefined : { key });
    io.out(key === undefined ? p.member.id : `${key}\t${p.member.id}`);
    p.handle.done({ ok: true, rttMs: 0 });
  }
}

// `switchyard pick`: deterministic sequences, seeded random policies, keys, bad arguments.
import test from 'ava';
import { main } from '../../bindings/cli/cli.js';
import { Balancer } from '../../bindings/balancing/balancer.js';
import { HashPolicy } from '../../bindings/balancing/policies/hash.js';
import { policyNames } from '../../bindings/balancing/service-config.js';

async function run(argv: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(argv, {
    out: (l) => out.push(l),
    outBytes: () => undefined,
    err: (l) => err.push(l),
    async *readLineBatches() {},
  });
  return { code, out, err };
}

test('pick --policy weighted_round_robin prints the nginx sequence', async (t) => {
  const r = await run(['pick', '--policy', 'weighted_round_robin', '--nodes', 'a=5,b=1,c=1', '--count', '14']);
  t.deepEqual(r, { code: 0, out: [...'aabacaaaabacaa'], err: [] });
});

test('pick with --seed is reproducible; keys for ring_hash', async (t) => {
  const args = ['pick', '--policy', 'least_request', '--nodes', 'a,b,c', '--count', '20', '--seed', '42'];
  const a = await run(args);
  t.is(a.code, 0);
  t.is(a.out.length, 20);
  t.deepEqual((await run(args)).out, a.out);
  const h = await run(['pick', '--policy', 'ring_hash', '--nodes', 'a,b,c', 'k1', 'k2', 'k1']);
  t.is(h.out.length, 3);
  t.is(h.out[0], h.out[2]);
  t.true(h.out[0]!.startsWith('k1\t'));
});

test('pick: unknown policy and bad counts are usage errors (exit 2)', async (t) => {
  const r = await run(['pick', '--policy', 'fastest', '--nodes', 'a']);
  t.is(r.code, 2);
  t.regex(r.err[0]!, /--policy must be one of .*round_robin.*"fastest"/);
  t.is((await run(['pick', '--nodes', 'a', '--count', '0'])).code, 2);
  t.is((await run(['pick', '--nodes', 'a=-1'])).code, 2);
});

test('pick: a node id given twice in --nodes is a usage error naming it (exit 2), not a member picked twice', async (t) => {
  for (const nodes of ['a=1,a=2', 'a,a', 'a,b,a=3', '10.0.0.1:80,10.0.0.1:80']) {
    const r = await run(['pick', '--nodes', nodes]);
    const id = nodes.startsWith('10.') ? '10.0.0.1:80' : 'a';
    t.deepEqual(
      r,
      {
        code: 2,
        out: [],
        err: [`switchyard: --nodes: node ids must be unique, got "${id}" more than once in "${nodes}"`],
      },
      nodes,
    );
  }
});

test('pick --policy <a hash policy> without keys is a usage error naming the missing key (exit 2)', async (t) => {
  // the policies that pick by key, as the code knows them; the usage text names them all
  const hashing = policyNames().filter((p) => {
    const lb = new Balancer({ policy: p });
    lb.close();
    return lb.policy instanceof HashPolicy;
  });
  t.deepEqual(hashing.sort(), ['ketama', 'maglev', 'ring_hash', 'xxhash_ring']);
  const named = /([\w|]+) pick by key: give at least one key/.exec((await run(['--help'])).out[0]!)?.[1];
  t.deepEqual(named?.split('|').sort(), hashing);
  for (const policy of hashing) {
    for (const extra of [[], ['--count', '5'], ['--seed', '7']]) {
      t.deepEqual(
        await run(['pick', '--policy', policy, '--nodes', 'a,b,c', ...extra]),
        {
          code: 2,
          out: [],
          err: [
            `switchyard: --policy ${policy} picks by key: give at least one key argument (pick --policy ${policy} --nodes ... KEY ...)`,
          ],
        },
        `${policy} ${extra.join(' ')}`,
      );
    }
    const k = await run(['pick', '--policy', policy, '--nodes', 'a,b,c', '--count', '3', 'user:1']);
    t.is(k.code, 0, policy);
    t.is(new Set(k.out).size, 1, policy);
    t.regex(k.out[0]!, /^user:1\t[abc]$/);
  }
  // other policies need no key
  t.is((await run(['pick', '--nodes', 'a,b,c'])).code, 0);
});

test('pick usage: --policy is optional and its default is named; the default is what pick runs', async (t) => {
  const usage = (await run(['--help'])).out[0]!;
  const pick = usage.slice(usage.indexOf('\n  pick '));
  t.regex(pick, /^\n {2}pick {2}\[--policy NAME\] --nodes /);
  t.regex(pick, /--policy default round_robin;/);
  // round_robin (from a random start): each of n members once in every n picks
  const r = await run(['pick', '--nodes', 'a,b,c', '--count', '9']);
  t.is(r.code, 0);
  for (let i = 0; i < 9; i += 3) t.deepEqual(r.out.slice(i, i + 3).sort(), ['a', 'b', 'c']);
  t.deepEqual(r.out.slice(3), r.out.slice(0, 6));
});

// `switchyard pick`: deterministic sequences, seeded random policies, keys, bad arguments.
import test from 'ava';
import { main } from '../../bindings/cli/cli.js';

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

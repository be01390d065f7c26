// weighted_round_robin against a running nginx (Debian nginx, loopback upstreams, one process so one state):
// for random weight sets the sequence of serving backends must be the Balancer's sequence, and with dead
// backends (connection refused → nginx marks the failure and retries on another peer) the Balancer driven
// the same way (done({ ok: false }), then a pick excluding the failed member) must serve the same sequence.
import { Balancer, VirtualClock, mulberry32 } from '../../bindings/index.js';
import { startSwrrNginx, type SwrrNginx, type SwrrUpstream } from '../helpers/nginx-swrr.js';
import { live } from '../helpers/live.js';

const test = live(['nginx'], import.meta.url);

const LIVE = 6;
const DEAD = 2;
const rnd = mulberry32(20240601);
const sets: SwrrUpstream[] = [];
// five random weight sets over live backends
for (let u = 0; u < 5; u++) {
  const n = 2 + Math.floor(rnd() * (LIVE - 1));
  sets.push({
    name: `w${u}`,
    servers: Array.from({ length: n }, (_, i) => ({ backend: i, weight: 1 + Math.floor(rnd() * 9) })),
  });
}
// three sets with a dead backend in the list, max_fails 1..3
for (let u = 0; u < 3; u++) {
  const servers = Array.from({ length: 4 }, (_, i) => ({
    backend: i,
    weight: 1 + Math.floor(rnd() * 6),
    maxFails: 1 + u,
  }));
  servers.splice(1 + u, 0, { backend: LIVE + (u % DEAD), weight: 3 + u * 2, maxFails: 1 + u });
  sets.push({ name: `f${u}`, servers });
}

let nginx: SwrrNginx;
test.before(async () => {
  nginx = await startSwrrNginx(LIVE, DEAD, sets);
});
test.after.always(async () => {
  await nginx?.stop();
});

function balancerFor(u: SwrrUpstream): Balancer {
  return new Balancer({
    policy: { name: 'weighted_round_robin', maxFails: u.servers[0]!.maxFails ?? 1, failTimeoutMs: 60_000 },
    clock: new VirtualClock(1e9), // the test ends well within fail_timeout, as nginx sees it
    panicThresholdPercent: 0,
    endpoints: u.servers.map((s) => ({ id: nginx.backends[s.backend]!, weight: s.weight })),
  });
}

/** The member that serves a request: failures are retried on another member, as nginx's proxy_next_upstream. */
function serve(lb: Balancer): string {
  const tried = new Set<string>();
  for (let i = 0; i < 10; i++) {
    const p = lb.pickOrThrow({ exclude: tried });
    const dead = nginx.backends.indexOf(p.member.id) >= LIVE;
    p.handle.done({ ok: !dead });
    if (!dead) return p.member.id;
    tried.add(p.member.id);
  }
  throw new Error('no live member');
}

for (const u of sets) {
  test(`nginx agrees: ${u.name} weights ${u.servers.map((s) => `${s.weight}${s.backend >= LIVE ? '(dead)' : ''}`).join(',')}`, async (t) => {
    const period = u.servers.reduce((a, s) => a + s.weight, 0);
    const count = 2 * period + 5;
    const lb = balancerFor(u);
    const got: string[] = [];
    for (let i = 0; i < count; i++) got.push(await nginx.get(`/${u.name}/`));
    const want = Array.from({ length: count }, () => serve(lb));
    t.deepEqual(got, want, nginx.output().slice(-2000));
  });
}

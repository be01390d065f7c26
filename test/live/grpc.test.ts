// switchyard inside @grpc/grpc-js against a real etcd and real grpc-js servers on loopback: registrations
// followed during a call stream, a server killed mid-stream with no failed call (retryPolicy in the service
// config) and back when restarted, ring_hash selected by a service config stored in etcd routing keys as
// EnvoyRingHash does, an unreachable etcd failing calls with UNAVAILABLE and our message, and the example.
import * as grpc from '@grpc/grpc-js';
import { registerSwitchyard, type SwitchyardRegistration } from '../../bindings/grpc/index.js';
import { EnvoyRingHash } from '../../bindings/hashing/envoy/ring-hash.js';
import { live } from '../helpers/live.js';
import { etcdDelete, etcdPut, startEtcdCluster, type EtcdCluster } from '../helpers/etcd.js';
import { freePort } from '../helpers/process.js';
import {
  echo,
  echoService,
  startEchoProcess,
  startEchoServer,
  type EchoClient,
  type EchoProcess,
  type EchoServer,
} from '../helpers/grpc.js';

const test = live(['etcd'], import.meta.url);

let etcd: EtcdCluster;
let reg: SwitchyardRegistration;
const servers: EchoServer[] = [];
const procs: EchoProcess[] = [];
const clients: EchoClient[] = [];
/** What onResolverError heard: `target: message`. */
const resolverErrors: string[] = [];

test.before(async () => {
  etcd = await startEtcdCluster(1);
  reg = registerSwitchyard(grpc, { onResolverError: (target, e) => resolverErrors.push(`${target}: ${e.message}`) });
});

test.after.always(async () => {
  for (const c of clients) c.close();
  for (const s of servers) await s.stop();
  for (const p of procs) await p.kill();
  await etcd?.stop();
});

const authority = () => etcd.clientUrls.map((u) => u.replace('http://', '')).join(',');
const RETRY = {
  name: [{ service: 'switchyard.test.Echo' }],
  retryPolicy: {
    maxAttempts: 5,
    initialBackoff: '0.02s',
    maxBackoff: '0.2s',
    backoffMultiplier: 2,
    retryableStatusCodes: ['UNAVAILABLE'],
  },
};

function client(target: string, serviceConfig?: object): EchoClient {
  const { Client } = echoService();
  const c = new Client(target, grpc.credentials.createInsecure(), {
    ...(serviceConfig !== undefined && { 'grpc.service_config': JSON.stringify(serviceConfig) }),
    'grpc.initial_reconnect_backoff_ms': 100,
    'grpc.max_reconnect_backoff_ms': 500,
  });
  clients.push(c);
  return c;
}

function lbWith(addr: string) {
  return reg.loadBalancers().find((lb) => addr in lb.stats().states);
}

/** The names of the live load balancers holding `addr`. */
function lbNamesWith(addr: string): string[] {
  return reg
    .loadBalancers()
    .filter((lb) => addr in lb.stats().states)
    .map((lb) => lb.name);
}

async function until(what: string, cond: () => boolean, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Calls from `workers` concurrent loops until stop(); records who answered (with the call's start time) and failures. */
function callStream(c: EchoClient, workers = 4) {
  const answers: { at: number; server: string }[] = [];
  const failures: unknown[] = [];
  let running = true;
  const loops = Array.from({ length: workers }, async () => {
    while (running) {
      const at = Date.now();
      try {
        const r = await echo(c, { message: 'stream' }, { deadlineMs: 10_000 });
        answers.push({ at, server: r.server });
      } catch (e) {
        failures.push(e);
      }
    }
  });
  return {
    answers,
    failures,
    since: (t: number) => answers.filter((a) => a.at >= t),
    stop: async () => {
      running = false;
      await Promise.all(loops);
    },
  };
}

test.serial(
  'registrations added and removed in etcd during a call stream are followed, with no failed call',
  async (t) => {
    const ss = await Promise.all([0, 1, 2].map(() => startEchoServer()));
    servers.push(...ss);
    const prefix = 'services/echo-follow';
    await etcdPut(etcd.clientUrls, `${prefix}/${ss[0]!.addr}`, ss[0]!.addr);
    await etcdPut(etcd.clientUrls, `${prefix}/${ss[1]!.addr}`, ss[1]!.addr);
    const c = client(`etcd://${authority()}/${prefix}`, {
      loadBalancingConfig: [{ switchyard_round_robin: {} }],
      methodConfig: [RETRY],
    });
    const stream = callStream(c);
    await until('both registered servers answer', () => new Set(stream.answers.map((a) => a.server)).size === 2);
    await etcdPut(etcd.clientUrls, `${prefix}/${ss[2]!.addr}`, ss[2]!.addr);
    await until('the added server answers', () => stream.answers.some((a) => a.server === ss[2]!.addr));
    await etcdDelete(etcd.clientUrls, `${prefix}/${ss[0]!.addr}`);
    const lb = lbWith(ss[1]!.addr)!;
    await until('the removed server to leave the balancer', () => !(ss[0]!.addr in lb.stats().states));
    const removedAt = Date.now();
    await new Promise((r) => setTimeout(r, 800));
    await stream.stop();
    const after = stream.since(removedAt);
    t.true(after.length > 20, `${after.length} calls after the removal`);
    t.false(
      after.some((a) => a.server === ss[0]!.addr),
      'a call reached the removed server',
    );
    t.deepEqual([...new Set(after.map((a) => a.server))].sort(), [ss[1]!.addr, ss[2]!.addr].sort());
    t.deepEqual(stream.failures, []);
  },
);

test.serial(
  'one server killed mid-stream: retryPolicy retries every uncommitted call, the server leaves the picker, and comes back when restarted',
  async (t) => {
    const ps = await Promise.all([0, 1, 2].map(() => startEchoProcess()));
    procs.push(...ps);
    const prefix = 'services/echo-kill';
    for (const p of ps) await etcdPut(etcd.clientUrls, `${prefix}/${p.addr}`, p.addr);
    const c = client(`etcd://${authority()}/${prefix}`, {
      loadBalancingConfig: [{ least_request: {} }],
      methodConfig: [RETRY],
    });
    const stream = callStream(c, 8);
    await until('all three answer', () => new Set(stream.answers.map((a) => a.server)).size === 3);
    const victim = ps[0]!;
    await victim.kill('SIGKILL');
    const lb = lbWith(victim.addr)!;
    await until('the killed server to leave the picker', () => {
      const m = lb.stats().balancer!.members.find((x) => x.id === victim.addr);
      return m !== undefined && !m.available;
    });
    const killedAt = Date.now();
    await new Promise((r) => setTimeout(r, 1000));
    t.false(
      stream.since(killedAt).some((a) => a.server === victim.addr),
      'an answer from the killed server',
    );
    t.true(stream.since(killedAt).length > 20);
    const back = await startEchoProcess(victim.port);
    procs.push(back);
    const restartedAt = Date.now();
    await until('the restarted server to answer again', () =>
      stream.since(restartedAt).some((a) => a.server === victim.addr),
    );
    t.true(lb.stats().balancer!.members.find((x) => x.id === victim.addr)!.available);
    await stream.stop();
    // A call whose response headers had arrived when the kill landed is committed (gRFC A6: retries happen
    // only before commit), so no client can retry it: at most one such call per worker in flight, and only as
    // the reset of that connection. Every other call must succeed.
    const failures = stream.failures.map((e) => String(e));
    t.true(failures.length <= 8, failures.join('; '));
    for (const f of failures) t.regex(f, /^Error: 14 UNAVAILABLE: (read ECONNRESET|Connection dropped)/);
    t.true(stream.answers.length > 100 * Math.max(1, failures.length));
  },
);

test.serial(
  'ring_hash from a service config stored in etcd: keys (request_hash_header) land where EnvoyRingHash puts them',
  async (t) => {
    const ss = await Promise.all([0, 1, 2, 3].map(() => startEchoServer()));
    servers.push(...ss);
    const prefix = 'services/echo-hash';
    await etcdPut(
      etcd.clientUrls,
      `${prefix}/_grpc_config`,
      JSON.stringify({ loadBalancingConfig: [{ ring_hash: { request_hash_header: 'x-session' } }] }),
    );
    for (const s of ss) await etcdPut(etcd.clientUrls, `${prefix}/${s.addr}`, s.addr);
    const c = client(`etcd://${authority()}/${prefix}`); // no service config of its own
    const envoy = new EnvoyRingHash(ss.map((s) => s.addr));
    const owners = new Set<string>();
    for (let i = 0; i < 80; i++) {
      const key = `session-${i}`;
      const r = await echo(c, {}, { key, header: 'x-session' });
      t.is(r.server, envoy.get(key)!, key);
      owners.add(r.server);
    }
    t.is(owners.size, 4);
    t.is(lbWith(ss[0]!.addr)!.name, 'ring_hash');
    envoy.dispose();
  },
);

test.serial('a service config changed in etcd applies at once, with no change to the list', async (t) => {
  const ss = await Promise.all([0, 1].map(() => startEchoServer()));
  servers.push(...ss);
  const prefix = 'services/echo-config-change';
  const config = (lb: object) => JSON.stringify({ loadBalancingConfig: [lb] });
  await etcdPut(etcd.clientUrls, `${prefix}/_grpc_config`, config({ switchyard_round_robin: {} }));
  for (const s of ss) await etcdPut(etcd.clientUrls, `${prefix}/${s.addr}`, s.addr);
  const c = client(`etcd://${authority()}/${prefix}`);
  for (let i = 0; i < 4; i++) await echo(c, {});
  t.deepEqual(lbNamesWith(ss[0]!.addr), ['switchyard_round_robin']);
  await etcdPut(etcd.clientUrls, `${prefix}/_grpc_config`, config({ peak_ewma: {} }));
  await until('peak_ewma to replace switchyard_round_robin', () => lbNamesWith(ss[0]!.addr).join() === 'peak_ewma');
  for (let i = 0; i < 4; i++) await echo(c, {});
  t.deepEqual(lbNamesWith(ss[1]!.addr), ['peak_ewma']);
});

test.serial(
  'a _grpc_config naming no registered policy is invalid: reported, the last valid config stays',
  async (t) => {
    const ss = await Promise.all([0, 1].map(() => startEchoServer()));
    servers.push(...ss);
    const prefix = 'services/echo-unknown-policy';
    const config = (lb: object) => JSON.stringify({ loadBalancingConfig: [lb] });
    await etcdPut(etcd.clientUrls, `${prefix}/_grpc_config`, config({ switchyard_round_robin: {} }));
    for (const s of ss) await etcdPut(etcd.clientUrls, `${prefix}/${s.addr}`, s.addr);
    const c = client(`etcd://${authority()}/${prefix}`);
    for (let i = 0; i < 4; i++) await echo(c, {});
    resolverErrors.length = 0;
    await etcdPut(etcd.clientUrls, `${prefix}/_grpc_config`, config({ peak_ewmaa: {} }));
    await until('the error to be reported', () => resolverErrors.some((m) => m.includes('no registered policy')));
    t.regex(resolverErrors.join('\n'), /names no registered policy: peak_ewmaa/);
    // grpc-js alone would have switched to pick_first: the channel stays on the last valid config
    const answered = new Set<string>();
    for (let i = 0; i < 6; i++) answered.add((await echo(c, {})).server);
    t.is(answered.size, 2);
    t.deepEqual(lbNamesWith(ss[0]!.addr), ['switchyard_round_robin']);
  },
);

test.serial(
  'a bad _grpc_config (an unknown option of our policy) is reported and the previous config stays; a good one then applies at once',
  async (t) => {
    const ss = await Promise.all([0, 1].map(() => startEchoServer()));
    servers.push(...ss);
    const prefix = 'services/echo-bad-config';
    const target = `etcd://${authority()}/${prefix}`;
    await etcdPut(
      etcd.clientUrls,
      `${prefix}/_grpc_config`,
      JSON.stringify({ loadBalancingConfig: [{ round_robin: {} }] }),
    );
    for (const s of ss) await etcdPut(etcd.clientUrls, `${prefix}/${s.addr}`, s.addr);
    const c = client(target);
    const answered = new Set<string>();
    for (let i = 0; i < 4; i++) answered.add((await echo(c, {})).server);
    t.is(answered.size, 2); // grpc-js's round_robin: not one of ours
    t.deepEqual(lbNamesWith(ss[0]!.addr), []);
    resolverErrors.length = 0;
    // grpc-js's validateServiceConfig accepts it; our parser does not
    await etcdPut(
      etcd.clientUrls,
      `${prefix}/_grpc_config`,
      JSON.stringify({ loadBalancingConfig: [{ peak_ewma: { bogus: 1 } }] }),
    );
    // until the bad config arrives (reported, or failing calls), then on: every call still succeeds
    const failures: string[] = [];
    const deadline = Date.now() + 10_000;
    let after = 0;
    while (after < 20 && Date.now() < deadline) {
      await echo(c, {}, { deadlineMs: 5_000 }).catch((e: Error) => failures.push(e.message));
      if (resolverErrors.some((m) => m.includes('invalid service config')) || failures.length > 0) after++;
    }
    t.deepEqual(failures, []); // still grpc-js's round_robin
    t.deepEqual(lbNamesWith(ss[0]!.addr), []);
    // the last good config (round_robin) stays in force, so the list still updates: a third server is used
    const s3 = await startEchoServer();
    servers.push(s3);
    await etcdPut(etcd.clientUrls, `${prefix}/${s3.addr}`, s3.addr);
    let reached = false;
    for (const end = Date.now() + 15_000; !reached && Date.now() < end;)
      reached = (await echo(c, {})).server === s3.addr;
    t.true(reached, 'a server added while the bad config is in etcd answers');
    t.regex(
      resolverErrors.join('\n'),
      new RegExp(`^${target}: switchyard: invalid service config from ${target}: .*bogus`, 'm'),
    );
    // a channel with no previous config fails calls with the config error, not our load balancer's
    const fresh = client(target);
    const e = await t.throwsAsync(echo(fresh, {}, { deadlineMs: 10_000 }));
    t.is((e as grpc.ServiceError).code, grpc.status.UNAVAILABLE, e!.message);
    t.regex(e!.message, /switchyard: invalid service config from .*bogus/);
    // a good config applies at once to both channels, the list unchanged
    await etcdPut(
      etcd.clientUrls,
      `${prefix}/_grpc_config`,
      JSON.stringify({ loadBalancingConfig: [{ peak_ewma: {} }] }),
    );
    await until('peak_ewma to take over', () => lbNamesWith(ss[0]!.addr).length === 2);
    t.deepEqual(lbNamesWith(ss[0]!.addr), ['peak_ewma', 'peak_ewma']);
    for (let i = 0; i < 4; i++) await echo(c, {});
    for (let i = 0; i < 4; i++) await echo(fresh, {});
  },
);

test.serial(
  'an etcd that cannot be reached: calls fail with UNAVAILABLE carrying the resolver error, never hang',
  async (t) => {
    const port = await freePort();
    const c = client(`etcd://127.0.0.1:${port}/services/nowhere`, { loadBalancingConfig: [{ peak_ewma: {} }] });
    const started = Date.now();
    const e = await t.throwsAsync(echo(c, {}, { deadlineMs: 20_000 }));
    t.is((e as grpc.ServiceError).code, grpc.status.UNAVAILABLE, e!.message);
    t.regex(e!.message, new RegExp(`switchyard peak_ewma: resolver etcd://127\\.0\\.0\\.1:${port}/services/nowhere`));
    t.notRegex(e!.message, /switchyard: switchyard|switchyard[^:]*: switchyard/); // one prefix, not two
    t.true(Date.now() - started < 10_000, `took ${Date.now() - started} ms`);
  },
);

test.serial(
  'examples/grpc-etcd.ts runs: discovery through etcd, peak_ewma avoiding the slow server, a new registration followed',
  async (t) => {
    const { run } = await import('../../examples/grpc-etcd.js');
    const r = await run(() => {});
    t.is(r.failed, 0);
    t.is(r.servers, 3);
    t.true(r.slowShare < 0.2, `slow share ${r.slowShare}`);
    t.true(r.newcomerCalls > 0);
  },
);

// Discovery numbers against a real etcd 3.4 (one member on loopback, started here):
//  1. latency from an etcd put to the Balancer publishing the new picker (p50/p99 over 1000 sequential puts),
//     measured from before the put request and from the put's acknowledgement;
//  2. CPU and memory of a watch over 10 000 members while a separate writer process applies 100 updates/s
//     (weight changes), for the resolver alone and for resolver + Balancer.
// Standalone and bounded in time: `npx tsx bench/discovery.bench.ts` (DISCOVERY_SECONDS sets the load phase,
// default 10 s per run). Prints a markdown table and writes bench/results/discovery.json.
import { spawn } from 'node:child_process';
import { Balancer } from '../bindings/balancing/balancer.js';
import type { Endpoint } from '../bindings/util/endpoint.js';
import { EtcdResolver } from '../bindings/discovery/etcd/resolver.js';
import { b64, etcdCall, etcdPut, startEtcdCluster } from '../test/helpers/etcd.js';
import { quantile, save } from './common.js';

const LATENCY_UPDATES = Number(process.env.DISCOVERY_UPDATES ?? 1000);
const MEMBERS = 10_000;
const RATE = 100;
const SECONDS = Number(process.env.DISCOVERY_SECONDS ?? 10);

const nowMs = () => Number(process.hrtime.bigint()) / 1e6;
const pct = (xs: number[], p: number) =>
  quantile(
    [...xs].sort((a, b) => a - b),
    p / 100,
  );
const addr = (i: number) => `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}:80`;
const value = (i: number, weight: number) => JSON.stringify({ Op: 0, Addr: addr(i), Metadata: { weight } });

async function latency(urls: string[]) {
  const prefix = 'bench/lat/';
  const balancer = new Balancer();
  let waiting: { id: string; resolve: (t: number) => void } | undefined;
  balancer.on('picker', () => {
    if (waiting !== undefined && balancer.members.some((m) => m.id === waiting!.id)) {
      const w = waiting;
      waiting = undefined;
      w.resolve(nowMs());
    }
  });
  const res = new EtcdResolver(
    { endpoints: urls, prefix },
    { onEndpoints: (l) => balancer.reset(l), onError: (e) => process.stderr.write(`resolver error: ${e.message}\n`) },
  );
  for (let i = 0; i < 500 && res.stats().watchesOpened === 0; i++) await new Promise((r) => setTimeout(r, 10));
  const fromPut: number[] = [];
  const fromAck: number[] = [];
  for (let i = 0; i < LATENCY_UPDATES; i++) {
    const seen = new Promise<number>((resolve) => (waiting = { id: addr(i), resolve }));
    const t0 = nowMs();
    await etcdPut(urls, prefix + addr(i), value(i, 1));
    const t1 = nowMs();
    const t2 = await Promise.race([seen, new Promise<number>((r) => setTimeout(() => r(NaN), 10_000))]);
    if (Number.isNaN(t2)) throw new Error(`update ${i} never reached the Balancer`);
    fromPut.push(t2 - t0);
    fromAck.push(Math.max(0, t2 - t1));
  }
  res.close();
  return {
    updates: LATENCY_UPDATES,
    putToPickerMs: { p50: pct(fromPut, 50), p99: pct(fromPut, 99), max: pct(fromPut, 100) },
    ackToPickerMs: { p50: pct(fromAck, 50), p99: pct(fromAck, 99), max: pct(fromAck, 100) },
  };
}

async function load(urls: string[], prefix: string) {
  // 100 puts per transaction (etcd's default --max-txn-ops is 128).
  for (let i = 0; i < MEMBERS; i += 100) {
    const ops = [];
    for (let j = i; j < Math.min(MEMBERS, i + 100); j++)
      ops.push({ request_put: { key: b64(prefix + addr(j)), value: b64(value(j, 1)) } });
    await etcdCall(urls, '/v3/kv/txn', { success: ops });
  }
}

/** A writer in its own process (so its CPU is not counted): RATE weight changes per second for `seconds`. */
function writer(url: string, prefix: string, seconds: number): Promise<number> {
  const code = `
    const url = ${JSON.stringify(url)}, prefix = ${JSON.stringify(prefix)}, rate = ${RATE}, seconds = ${seconds};
    const addr = ${addr.toString()};
    const b64 = (s) => Buffer.from(s).toString('base64');
    const t0 = Date.now(); let n = 0; let seed = 7; let inFlight = 0;
    while (Date.now() - t0 < seconds * 1000) {
      const due = t0 + (n * 1000) / rate;
      if (Date.now() < due) await new Promise((r) => setTimeout(r, due - Date.now()));
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      const i = seed % ${MEMBERS};
      const v = JSON.stringify({ Op: 0, Addr: addr(i), Metadata: { weight: 1 + (n % 3) } });
      // Not awaited (up to 64 in flight), so etcd's commit latency does not lower the rate.
      while (inFlight >= 64) await new Promise((r) => setTimeout(r, 1));
      inFlight++;
      fetch(url + '/v3/kv/put', { method: 'POST', body: JSON.stringify({ key: b64(prefix + addr(i)), value: b64(v) }) })
        .then((r) => r.arrayBuffer())
        .finally(() => inFlight--);
      n++;
    }
    while (inFlight > 0) await new Promise((r) => setTimeout(r, 5));
    console.log(n);`;
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, ['--input-type=module', '-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.on('exit', (c) => (c === 0 ? resolve(Number(out.trim())) : reject(new Error(`writer exited ${c}`))));
  });
}

async function watchCost(urls: string[], withBalancer: boolean) {
  const prefix = `bench/big${withBalancer ? 'b' : 'r'}/`;
  await load(urls, prefix);
  global.gc?.();
  const heap0 = process.memoryUsage();
  const balancer = withBalancer ? new Balancer() : undefined;
  let lists = 0;
  let last: Endpoint[] = [];
  const t0 = nowMs();
  let firstListMs = 0;
  const res = new EtcdResolver(
    { endpoints: urls, prefix },
    {
      onEndpoints: (l) => {
        if (lists++ === 0) firstListMs = nowMs() - t0;
        last = l;
        balancer?.reset(l);
      },
      onError: (e) => process.stderr.write(`resolver error: ${e.message}\n`),
    },
  );
  for (let i = 0; i < 3000 && (lists === 0 || res.stats().watchesOpened === 0); i++)
    await new Promise((r) => setTimeout(r, 10));
  if (last.length !== MEMBERS) throw new Error(`listed ${last.length} members, want ${MEMBERS}`);
  const cpu0 = process.cpuUsage();
  const w0 = nowMs();
  const lists0 = lists;
  const applied0 = res.stats().eventsApplied;
  const written = await writer(urls[0]!, prefix, SECONDS);
  const rev = (await etcdCall(urls, '/v3/kv/range', { key: b64('x'), limit: '1' })).header.revision as string;
  for (let i = 0; i < 1000 && res.stats().revision < Number(rev); i++) await new Promise((r) => setTimeout(r, 10));
  const wallMs = nowMs() - w0;
  const cpu = process.cpuUsage(cpu0);
  const mem = process.memoryUsage();
  const applied = res.stats().eventsApplied - applied0;
  res.close();
  return {
    members: MEMBERS,
    withBalancer,
    firstListMs,
    updatesWritten: written,
    eventsApplied: applied,
    listsDelivered: lists - lists0,
    seconds: wallMs / 1000,
    cpuPercentOfOneCore: ((cpu.user + cpu.system) / 1000 / wallMs) * 100,
    cpuUsPerUpdate: (cpu.user + cpu.system) / Math.max(1, applied),
    rssMB: mem.rss / 2 ** 20,
    heapUsedMB: mem.heapUsed / 2 ** 20,
    heapGrowthMB: (mem.heapUsed - heap0.heapUsed) / 2 ** 20,
  };
}

const cluster = await startEtcdCluster(1, ['--quota-backend-bytes', String(2 ** 31)]);
try {
  const urls = cluster.clientUrls;
  process.stderr.write(`etcd at ${urls[0]}; latency over ${LATENCY_UPDATES} puts...\n`);
  const lat = await latency(urls);
  process.stderr.write(`watch cost, ${MEMBERS} members, ${RATE} updates/s for ${SECONDS}s (resolver only)...\n`);
  const r1 = await watchCost(urls, false);
  process.stderr.write(`... (resolver + Balancer)\n`);
  const r2 = await watchCost(urls, true);
  const f = (n: number) => n.toFixed(2);
  console.log('| measure | value |');
  console.log('|---|---|');
  console.log(
    `| etcd put → picker published, p50 / p99 (ms, ${lat.updates} puts, from request) | ${f(lat.putToPickerMs.p50)} / ${f(lat.putToPickerMs.p99)} |`,
  );
  console.log(
    `| etcd put acknowledged → picker published, p50 / p99 (ms) | ${f(lat.ackToPickerMs.p50)} / ${f(lat.ackToPickerMs.p99)} |`,
  );
  for (const r of [r1, r2]) {
    const who = r.withBalancer ? 'resolver + Balancer' : 'resolver only';
    console.log(`| ${who}: first list of ${r.members} members (ms) | ${f(r.firstListMs)} |`);
    console.log(
      `| ${who}: CPU at ${RATE} updates/s (% of one core; µs per update) | ${f(r.cpuPercentOfOneCore)} %; ${f(r.cpuUsPerUpdate)} µs |`,
    );
    console.log(`| ${who}: RSS / heap used (MB) | ${f(r.rssMB)} / ${f(r.heapUsedMB)} |`);
    console.log(
      `| ${who}: updates written / events applied / lists delivered | ${r.updatesWritten} / ${r.eventsApplied} / ${r.listsDelivered} |`,
    );
  }
  save('discovery', { etcd: '3.4 (Debian etcd-server), 1 member, loopback', latency: lat, watch: [r1, r2] });
} finally {
  await cluster.stop();
}

// A real etcd (Debian etcd-server 3.4) cluster on free loopback ports with temp data dirs, for tests and
// benchmarks; plus tiny JSON-gateway helpers (put / delete / range / compact) that retry over members.
import { freePort, removeDir, startServer, tempDir, waitForPort, type Server } from './process.js';

export interface EtcdMember {
  name: string;
  clientUrl: string;
  server: Server;
  dataDir: string;
}

export interface EtcdCluster {
  members: EtcdMember[];
  clientUrls: string[];
  /** SIGKILLs one member (by index) and waits for its exit. */
  kill(i: number): Promise<void>;
  stop(): Promise<void>;
  output(): string;
}

/** `ports`: members' client (and peer) ports, default free ones: to start a member again at its address. */
export async function startEtcdCluster(
  size: number,
  extraArgs: string[] = [],
  ports: { client?: number; peer?: number }[] = [],
): Promise<EtcdCluster> {
  const specs = [];
  for (let i = 0; i < size; i++) {
    const client = ports[i]?.client ?? (await freePort());
    const peer = ports[i]?.peer ?? (await freePort());
    specs.push({ name: `m${i}`, client, peer, dir: tempDir(`etcd-m${i}`) });
  }
  const token = `switchyard-${specs[0]!.client}`;
  const initial = specs.map((s) => `${s.name}=http://127.0.0.1:${s.peer}`).join(',');
  const members: EtcdMember[] = specs.map((s) => ({
    name: s.name,
    clientUrl: `http://127.0.0.1:${s.client}`,
    dataDir: s.dir,
    server: startServer('etcd', [
      '--name',
      s.name,
      '--data-dir',
      s.dir,
      '--listen-client-urls',
      `http://127.0.0.1:${s.client}`,
      '--advertise-client-urls',
      `http://127.0.0.1:${s.client}`,
      '--listen-peer-urls',
      `http://127.0.0.1:${s.peer}`,
      '--initial-advertise-peer-urls',
      `http://127.0.0.1:${s.peer}`,
      '--initial-cluster',
      initial,
      '--initial-cluster-state',
      'new',
      '--initial-cluster-token',
      token,
      '--heartbeat-interval',
      '100',
      '--election-timeout',
      '1000',
      '--cors',
      '*',
      ...extraArgs,
    ]),
  }));
  const cluster: EtcdCluster = {
    members,
    clientUrls: members.map((m) => m.clientUrl),
    async kill(i) {
      await members[i]!.server.stop('SIGKILL');
    },
    async stop() {
      await Promise.all(members.map((m) => m.server.stop('SIGKILL')));
      for (const m of members) removeDir(m.dataDir);
    },
    output: () => members.map((m) => `--- ${m.name}\n${m.server.output().slice(-3000)}`).join('\n'),
  };
  try {
    for (const s of specs) await waitForPort(s.client, 30_000);
    // Healthy means a leader is elected and a linearizable read succeeds.
    for (const m of members) {
      const deadline = Date.now() + 60_000;
      for (;;) {
        const ok = await fetch(`${m.clientUrl}/health`)
          .then((r) => r.json() as Promise<{ health?: string }>)
          .then((j) => j.health === 'true')
          .catch(() => false);
        if (ok) break;
        if (Date.now() > deadline) throw new Error(`etcd ${m.name} not healthy:\n${cluster.output()}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  } catch (e) {
    await cluster.stop();
    throw e;
  }
  return cluster;
}

export const b64 = (s: string): string => Buffer.from(s, 'utf8').toString('base64');
export const unb64 = (s: string | undefined): string => Buffer.from(s ?? '', 'base64').toString('utf8');

/** A gateway answer, loosely typed (int64 fields are strings). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type EtcdJson = any;

/** POSTs to the first member that answers (retrying over members for up to `timeoutMs`). */
export async function etcdCall(urls: string[], path: string, body: unknown, timeoutMs = 30_000): Promise<EtcdJson> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (let attempt = 0; Date.now() < deadline; attempt++) {
    const url = urls[attempt % urls.length]!;
    try {
      const res = await fetch(url + path, {
        method: 'POST',
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(5000),
      });
      const json = (await res.json()) as { error?: unknown };
      if (res.ok && json.error === undefined) return json;
      last = new Error(`${path}: ${JSON.stringify(json)}`);
    } catch (e) {
      last = e;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw last;
}

export async function etcdPut(urls: string[], key: string, value: string, lease?: string): Promise<number> {
  const r = await etcdCall(urls, '/v3/kv/put', { key: b64(key), value: b64(value), ...(lease ? { lease } : {}) });
  return Number(r.header.revision);
}

export async function etcdDelete(urls: string[], key: string): Promise<number> {
  const r = await etcdCall(urls, '/v3/kv/deleterange', { key: b64(key) });
  return Number(r.header.revision);
}

function rangeEnd(prefix: string): string {
  const b = Buffer.from(prefix, 'utf8');
  b[b.length - 1]!++;
  return b.toString('base64');
}

/** Keys and values under a prefix, and the revision of the read. */
export async function etcdRange(
  urls: string[],
  prefix: string,
): Promise<{ revision: number; kvs: Map<string, string> }> {
  const r = await etcdCall(urls, '/v3/kv/range', { key: b64(prefix), range_end: rangeEnd(prefix) });
  const kvs = new Map<string, string>();
  for (const kv of r.kvs ?? []) kvs.set(unb64(kv.key), unb64(kv.value));
  return { revision: Number(r.header.revision), kvs };
}

export async function etcdCompact(urls: string[], revision: number): Promise<void> {
  await etcdCall(urls, '/v3/kv/compaction', { revision: String(revision), physical: true });
}

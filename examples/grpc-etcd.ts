// gRPC services discovered through etcd and balanced by switchyard inside @grpc/grpc-js: three echo servers
// register themselves in a real etcd (leases kept alive, the etcd naming convention), one of them 10x slower;
// a plain grpc-js client on `etcd://.../services/echo` with `peak_ewma` in its service config sends most calls
// to the fast ones; a fourth server registers and starts taking calls, without touching the client.
// Run: npx tsx examples/grpc-etcd.ts   (needs `etcd` on PATH and `npm run build` first)
import * as grpc from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { registerEtcd, type EtcdRegistration } from 'switchyard';
import { registerSwitchyard } from 'switchyard/grpc';
import { freePort } from './lib/servers.js';

const PROTO = fileURLToPath(new URL('../test/fixtures/grpc/echo.proto', import.meta.url));

export interface GrpcEtcdResult {
  servers: number;
  calls: number;
  failed: number;
  perServer: Record<string, number>;
  /** Share of 400 calls (after 100 warm-up calls) answered by the slow server. */
  slowShare: number;
  /** Calls the fourth server answered after it registered. */
  newcomerCalls: number;
}

type Reply = { server: string };
type EchoClient = grpc.Client & {
  Echo(req: object, cb: (e: grpc.ServiceError | null, r?: Reply) => void): grpc.ClientUnaryCall;
};

function echoClientClass(): new (target: string, creds: grpc.ChannelCredentials, o?: object) => EchoClient {
  const pkg = grpc.loadPackageDefinition(loadSync(PROTO, { keepCase: true })) as unknown as {
    switchyard: { test: { Echo: grpc.ServiceClientConstructor } };
  };
  return pkg.switchyard.test.Echo as never;
}

export async function run(log: (line: string) => void = console.log): Promise<GrpcEtcdResult> {
  const Echo = echoClientClass();
  const service = (Echo as unknown as grpc.ServiceClientConstructor).service;
  const servers: grpc.Server[] = [];
  const regs: EtcdRegistration[] = [];
  const dataDir = mkdtempSync(join(tmpdir(), 'switchyard-example-etcd-'));
  const [clientPort, peerPort] = [await freePort(), await freePort()];
  const etcdUrl = `http://127.0.0.1:${clientPort}`;
  const etcd = spawn(
    'etcd',
    [
      '--data-dir',
      dataDir,
      '--listen-client-urls',
      etcdUrl,
      '--advertise-client-urls',
      etcdUrl,
      '--listen-peer-urls',
      `http://127.0.0.1:${peerPort}`,
      '--initial-advertise-peer-urls',
      `http://127.0.0.1:${peerPort}`,
      '--initial-cluster',
      `default=http://127.0.0.1:${peerPort}`,
    ],
    { stdio: 'ignore' },
  );
  let client: EchoClient | undefined;
  try {
    const deadline = Date.now() + 30_000;
    while (
      !(await fetch(`${etcdUrl}/health`).then(
        (r) => r.ok,
        () => false,
      ))
    ) {
      if (Date.now() > deadline) throw new Error('etcd did not become healthy');
      await new Promise((r) => setTimeout(r, 100));
    }
    log(`etcd at ${etcdUrl}`);

    // 1. echo servers that register themselves under services/echo (the last one 10x slower)
    const serve = async (delayMs: number): Promise<string> => {
      const server = new grpc.Server();
      let addr = '';
      server.addService(service, {
        Echo: (_call: unknown, cb: grpc.sendUnaryData<Reply>) => setTimeout(() => cb(null, { server: addr }), delayMs),
      });
      const port = await new Promise<number>((res, rej) =>
        server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? rej(e) : res(p))),
      );
      addr = `127.0.0.1:${port}`;
      servers.push(server);
      const reg = registerEtcd({ endpoints: [etcdUrl], prefix: 'services/echo', addr, ttlS: 10 });
      regs.push(reg);
      await reg.ready;
      log(`server ${addr} (${delayMs} ms) registered`);
      return addr;
    };
    await serve(2);
    await serve(2);
    const slow = await serve(20);

    // 2. a plain grpc-js client: the target names etcd, the service config names the policy
    registerSwitchyard(grpc);
    client = new Echo(`etcd://127.0.0.1:${clientPort}/services/echo`, grpc.credentials.createInsecure(), {
      'grpc.service_config': JSON.stringify({
        loadBalancingConfig: [{ peak_ewma: {} }],
        methodConfig: [
          {
            name: [{ service: 'switchyard.test.Echo' }],
            retryPolicy: {
              maxAttempts: 3,
              initialBackoff: '0.05s',
              maxBackoff: '0.5s',
              backoffMultiplier: 2,
              retryableStatusCodes: ['UNAVAILABLE'],
            },
          },
        ],
      }),
    });
    const perServer: Record<string, number> = {};
    let failed = 0;
    const call = () =>
      new Promise<string | undefined>((res) =>
        client!.Echo({}, (e, r) => {
          if (e) failed++;
          else perServer[r!.server] = (perServer[r!.server] ?? 0) + 1;
          res(r?.server);
        }),
      );
    const burst = async (n: number, concurrency = 4) => {
      const answered: string[] = [];
      await Promise.all(
        Array.from({ length: concurrency }, async () => {
          for (let i = 0; i < n / concurrency; i++) {
            const s = await call();
            if (s !== undefined) answered.push(s);
          }
        }),
      );
      return answered;
    };
    const first = await burst(300);
    const slowShare = first.filter((s) => s === slow).length / 300;
    log(
      `300 calls with peak_ewma: ${JSON.stringify(perServer)}; the slow server answered ${(slowShare * 100).toFixed(1)}%`,
    );

    // 3. a fourth server registers: the client follows the etcd watch
    const newcomer = await serve(2);
    const deadline2 = Date.now() + 10_000;
    let newcomerCalls = 0;
    while (newcomerCalls === 0 && Date.now() < deadline2)
      newcomerCalls = (await burst(40)).filter((s) => s === newcomer).length;
    log(`the new server ${newcomer} answered ${newcomerCalls} calls`);
    const calls = Object.values(perServer).reduce((a, b) => a + b, 0) + failed;
    return { servers: 3, calls, failed, perServer, slowShare, newcomerCalls };
  } finally {
    client?.close();
    for (const r of regs) await r.close().catch(() => undefined);
    for (const s of servers) s.forceShutdown();
    etcd.kill('SIGKILL');
    await new Promise((r) => etcd.once('exit', r));
    rmSync(dataDir, { recursive: true, force: true });
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  await run();
}

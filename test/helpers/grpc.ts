// grpc-js echo servers on loopback for the gRPC tests, example and benchmark (test/fixtures/grpc/echo.proto):
// each answers with its own address, after its configured delay plus the request's `delay_ms`, or fails with
// the request's `fail_code`. In-process (`startEchoServer`) or in a child process (`startEchoProcess`, to kill
// with SIGKILL and restart on the same port). Run directly, this file is that child:
//   node --import tsx test/helpers/grpc.ts <port> [delayMs]   → prints "listening <port>"
import * as grpc from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { spawn, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ECHO_PROTO = fileURLToPath(new URL('../fixtures/grpc/echo.proto', import.meta.url));
const ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));

export interface EchoRequest {
  message?: string;
  delay_ms?: number;
  fail_code?: number;
}
export interface EchoReply {
  message: string;
  server: string;
}
export interface EchoClient extends grpc.Client {
  Echo(
    req: EchoRequest,
    metadata: grpc.Metadata,
    options: grpc.CallOptions,
    cb: (err: grpc.ServiceError | null, reply?: EchoReply) => void,
  ): grpc.ClientUnaryCall;
}
export type EchoClientConstructor = new (
  target: string,
  creds: grpc.ChannelCredentials,
  options?: grpc.ChannelOptions,
) => EchoClient;

let loaded: { Client: EchoClientConstructor; service: grpc.ServiceDefinition } | undefined;

/** The Echo service: its client constructor and service definition, loaded with @grpc/proto-loader. */
export function echoService(): { Client: EchoClientConstructor; service: grpc.ServiceDefinition } {
  if (loaded === undefined) {
    const def = loadSync(ECHO_PROTO, { keepCase: true, defaults: true });
    const pkg = grpc.loadPackageDefinition(def) as unknown as {
      switchyard: { test: { Echo: grpc.ServiceClientConstructor } };
    };
    const Client = pkg.switchyard.test.Echo;
    loaded = { Client: Client as unknown as EchoClientConstructor, service: Client.service };
  }
  return loaded;
}

export interface EchoServer {
  port: number;
  addr: string;
  /** Added to every answer's delay (settable). */
  delayMs: number;
  /** Calls answered. */
  calls: number;
  /** When non-zero, every call fails with this gRPC status code (settable). */
  failCode: number;
  stop(): Promise<void>;
}

/** An Echo server in this process on `port` (default: a free one). */
export async function startEchoServer(opts: { port?: number; delayMs?: number } = {}): Promise<EchoServer> {
  const server = new grpc.Server();
  const state = { delayMs: opts.delayMs ?? 0, calls: 0, failCode: 0 };
  let addr = '';
  server.addService(echoService().service, {
    Echo(call: grpc.ServerUnaryCall<EchoRequest, EchoReply>, cb: grpc.sendUnaryData<EchoReply>) {
      const req = call.request;
      const wait = state.delayMs + (req.delay_ms ?? 0);
      const answer = () => {
        state.calls++;
        const fail = req.fail_code || state.failCode;
        if (fail) cb({ code: fail, details: `failed by ${addr}` });
        else cb(null, { message: req.message ?? '', server: addr });
      };
      if (wait > 0) setTimeout(answer, wait);
      else answer();
    },
  });
  const port = await new Promise<number>((res, rej) =>
    server.bindAsync(`127.0.0.1:${opts.port ?? 0}`, grpc.ServerCredentials.createInsecure(), (e, p) =>
      e ? rej(e) : res(p),
    ),
  );
  addr = `127.0.0.1:${port}`;
  return {
    port,
    addr,
    get delayMs() {
      return state.delayMs;
    },
    set delayMs(v: number) {
      state.delayMs = v;
    },
    get calls() {
      return state.calls;
    },
    get failCode() {
      return state.failCode;
    },
    set failCode(v: number) {
      state.failCode = v;
    },
    stop: () =>
      new Promise<void>((res) => {
        server.forceShutdown();
        res();
      }),
  };
}

export interface EchoProcess {
  port: number;
  addr: string;
  proc: ChildProcess;
  /** Sends `signal` (default SIGKILL) and waits for the exit. */
  kill(signal?: NodeJS.Signals): Promise<void>;
}

/** An Echo server in a child process (this file run directly), on `port` (a free one when 0). */
export async function startEchoProcess(port = 0, delayMs = 0): Promise<EchoProcess> {
  const proc = spawn(
    process.execPath,
    ['--import', 'tsx', fileURLToPath(import.meta.url), String(port), String(delayMs)],
    {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let out = '';
  const exited = new Promise<void>((res) => proc.once('exit', () => res()));
  const bound = await new Promise<number>((res, rej) => {
    const t = setTimeout(() => rej(new Error(`echo server did not start within 30 s:\n${out}`)), 30_000);
    proc.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /listening (\d+)/.exec(out);
      if (m !== null) {
        clearTimeout(t);
        res(Number(m[1]));
      }
    });
    proc.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    proc.once('exit', (code) => {
      clearTimeout(t);
      rej(new Error(`echo server exited with ${code}:\n${out}`));
    });
  });
  return {
    port: bound,
    addr: `127.0.0.1:${bound}`,
    proc,
    async kill(signal: NodeJS.Signals = 'SIGKILL') {
      if (proc.exitCode === null && proc.signalCode === null) {
        proc.kill(signal);
        await exited;
      }
    },
  };
}

/** One Echo call; `key` goes in metadata `header` (default 'x-key'). Rejects with the grpc-js ServiceError. */
export function echo(
  client: EchoClient,
  req: EchoRequest = {},
  opts: { key?: string; header?: string; deadlineMs?: number; waitForReady?: boolean } = {},
): Promise<EchoReply> {
  const md = new grpc.Metadata();
  if (opts.key !== undefined) md.set(opts.header ?? 'x-key', opts.key);
  if (opts.waitForReady !== undefined) md.setOptions({ waitForReady: opts.waitForReady });
  const callOpts: grpc.CallOptions = {};
  if (opts.deadlineMs !== undefined) callOpts.deadline = Date.now() + opts.deadlineMs;
  return new Promise((res, rej) => client.Echo(req, md, callOpts, (e, r) => (e ? rej(e) : res(r!))));
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const s = await startEchoServer({ port: Number(process.argv[2] ?? 0), delayMs: Number(process.argv[3] ?? 0) });
  process.stdout.write(`listening ${s.port}\n`);
  process.on('SIGTERM', () => void s.stop().then(() => process.exit(0)));
}

// A real dnsmasq (Debian dnsmasq-base) on a free loopback port, authoritative for `.test` (`--local`, so
// unknown names are NXDOMAIN), serving A/AAAA from a hosts directory (`--hostsdir`: new or changed files
// are read automatically; SIGHUP re-reads everything, which is how an address is removed), SRV records
// and TXT records given at start (TXT through a config file, where dnsmasq honours quotes; a text longer
// than 255 bytes is split into several strings of one record). `port` restarts a server on a known port.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { userInfo } from 'node:os';
import { freePort, removeDir, startServer, tempDir, waitForPort, type Server } from './process.js';

export interface Dnsmasq {
  port: number;
  server: Server;
  /** `127.0.0.1:<port>`, for `servers`. */
  address: string;
  /** Writes (or replaces) one hosts file in the hosts directory: lines of "ip name". */
  writeHosts(file: string, lines: string[]): void;
  /** SIGHUP: clears the cache and re-reads every hosts file (removals take effect). */
  reload(): void;
  stop(): Promise<void>;
}

/** A dnsmasq config line: `txt-record=name,"s1","s2"` with quotes and backslashes escaped. */
function txtRecordLine(name: string, texts: string[]): string {
  const strings: string[] = [];
  for (const text of texts) {
    for (let i = 0; i < Math.max(text.length, 1); i += 255) strings.push(text.slice(i, i + 255));
  }
  return `txt-record=${name},${strings.map((s) => `"${s.replace(/[\\"]/g, (c) => `\\${c}`)}"`).join(',')}`;
}

export async function startDnsmasq(
  opts: {
    srv?: string[];
    hosts?: Record<string, string[]>;
    localTtlS?: number;
    /** name → the texts of one TXT record. */
    txt?: Record<string, string[]>;
    port?: number;
  } = {},
): Promise<Dnsmasq> {
  const port = opts.port ?? (await freePort());
  const dir = tempDir('dnsmasq');
  const hostsDir = join(dir, 'hosts');
  const { mkdirSync } = await import('node:fs');
  mkdirSync(hostsDir);
  const writeHosts = (file: string, lines: string[]) => writeFileSync(join(hostsDir, file), lines.join('\n') + '\n');
  for (const [f, lines] of Object.entries(opts.hosts ?? {})) writeHosts(f, lines);
  const conf = join(dir, 'dnsmasq.conf');
  writeFileSync(
    conf,
    Object.entries(opts.txt ?? {})
      .map(([n, texts]) => `${txtRecordLine(n, texts)}\n`)
      .join(''),
  );
  const server = startServer('/usr/sbin/dnsmasq', [
    '--keep-in-foreground',
    `--port=${port}`,
    '--listen-address=127.0.0.1',
    '--bind-interfaces',
    '--no-resolv',
    '--no-hosts',
    `--hostsdir=${hostsDir}`,
    '--local=/test/',
    `--local-ttl=${opts.localTtlS ?? 0}`,
    `--conf-file=${conf}`,
    `--pid-file=${join(dir, 'dnsmasq.pid')}`,
    '--log-facility=-',
    `--user=${userInfo().username}`,
    ...(opts.srv ?? []).map((s) => `--srv-host=${s}`),
  ]);
  try {
    // dnsmasq also listens on TCP for the same port.
    await waitForPort(port, 15_000);
  } catch (e) {
    await server.stop('SIGKILL');
    throw new Error(`${(e as Error).message}\n${server.output()}`, { cause: e });
  }
  return {
    port,
    server,
    address: `127.0.0.1:${port}`,
    writeHosts,
    reload: () => server.proc.kill('SIGHUP'),
    async stop() {
      await server.stop('SIGKILL');
      removeDir(dir);
    },
  };
}

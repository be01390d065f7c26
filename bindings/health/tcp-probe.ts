// TCP connect health probe for HealthChecker (Node only): healthy when a TCP connection to host:port is
// established; it is closed at once (Envoy's `tcp_health_check` with empty send/receive payloads). `node:net`
// is loaded on first use through a computed specifier, so importing this module (or the package index) in a
// browser bundle does not pull Node built-ins; calling the probe there rejects.
//
//   new HealthChecker({ probe: tcpProbe(), intervalMs: 2000, timeoutMs: 500 });
import type { HealthMember, HealthProbe } from './checker.js';
import { checkKeys, typeError } from '../util/validate.js';

type Net = typeof import('node:net');
let net: Promise<Net> | null = null;

function loadNet(): Promise<Net> {
  // A computed specifier keeps bundlers (esbuild platform=browser) from resolving node:net.
  const spec = ['node', 'net'].join(':');
  net ??= (import(/* @vite-ignore */ spec) as Promise<Net>).catch((e: unknown) => {
    net = null;
    // a browser's "Failed to fetch dynamically imported module" says what failed, not why
    throw new Error('tcpProbe needs node:net (Node); in a browser use httpProbe', { cause: e });
  });
  return net;
}

export interface TcpProbeOptions<M extends HealthMember = HealthMember> {
  /** Address to connect to instead of the member's host/port. */
  address?: (member: M) => { host: string; port: number };
}

export function tcpProbe<M extends HealthMember = HealthMember>(options: TcpProbeOptions<M> = {}): HealthProbe<M> {
  if (typeof options !== 'object' || options === null) throw typeError('options', 'an object', options);
  // the probe's time limit is the checker's timeoutMs: a misspelt or misplaced option is refused, not ignored
  checkKeys('options', options, ['address']);
  if (options.address !== undefined && typeof options.address !== 'function')
    throw typeError('address', 'a function', options.address);
  const addressOf = options.address ?? ((m: M) => ({ host: m.host, port: m.port }));
  return async (member, signal) => {
    const { connect } = await loadNet();
    const { host, port } = addressOf(member);
    signal.throwIfAborted();
    return new Promise<boolean>((resolve, reject) => {
      const sock = connect({ host, port });
      const onAbort = () => {
        sock.destroy();
        reject(signal.reason instanceof Error ? signal.reason : new Error('aborted'));
      };
      signal.addEventListener('abort', onAbort, { once: true });
      sock.once('connect', () => {
        signal.removeEventListener('abort', onAbort);
        sock.destroy();
        resolve(true);
      });
      sock.once('error', (e: Error) => {
        signal.removeEventListener('abort', onAbort);
        sock.destroy();
        reject(new Error(`connect ${host}:${port}: ${(e as NodeJS.ErrnoException).code ?? e.message}`));
      });
    });
  };
}

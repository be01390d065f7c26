// Prequal's HTTP prober over node:http with a keep-alive agent (Node only; exported from bindings/node.ts).
// Same wire format and limits as prequal-probe.ts `createHttpProber`, about 3-4x less CPU per probe than
// Node's fetch (undici) on loopback (measured in bench/tail-latency.bench.ts' setup: 0.14 vs 0.59 ms per
// probe, client and server together, Node 20). Probing costs CPU on every pick, so under Node pass it as the
// policy's `probe` (createFetch installs the fetch-based one, which runs everywhere, when none is given).
//
//   const lb = new Balancer({ policy: { name: 'prequal', probe: createNodeHttpProber() }, endpoints });
import { Agent, request } from 'node:http';
import type { Endpoint } from '../util/endpoint.js';
import { typeError } from '../util/validate.js';
import { MAX_ANSWER_CHARS, type PrequalProbe } from '../balancing/policies/prequal.js';
import { DEFAULT_PREQUAL_PATH } from './prequal-handler.js';

export interface NodeHttpProberOptions {
  /** Probe path (default /prequal). */
  path?: string;
  /** The agent (default: keep-alive, at most 16 sockets per member). */
  agent?: Agent;
  /** Extra request headers. */
  headers?: Record<string, string>;
}

export function createNodeHttpProber(o: NodeHttpProberOptions = {}): PrequalProbe & { agent: Agent } {
  if (o === null || typeof o !== 'object') throw typeError('options', 'an object', o);
  const path = o.path ?? DEFAULT_PREQUAL_PATH;
  if (typeof path !== 'string' || !path.startsWith('/') || path.startsWith('//'))
    throw typeError('path', 'a path starting with one /', path);
  const agent = o.agent ?? new Agent({ keepAlive: true, maxSockets: 16 });
  const headers = { accept: 'application/json', ...o.headers };
  const limit = MAX_ANSWER_CHARS + 1;
  const probe = (member: Endpoint, signal: AbortSignal): Promise<unknown> =>
    new Promise((resolve, reject) => {
      const host = member.host.startsWith('[') ? member.host.slice(1, -1) : member.host;
      const req = request({ host, port: member.port, path, agent, headers, signal }, (res) => {
        if (res.statusCode !== 200) {
          // rejected once the body is read (the policy aborts a settled probe, which would drop the connection
          // of a short error body); one past the answer limit drops it at once
          const fail = () => reject(new Error(`prequal probe ${member.id}: status ${res.statusCode}`));
          let m = 0;
          res.on('data', (c: Buffer) => {
            if ((m += c.length) >= limit) {
              res.destroy();
              fail();
            }
          });
          res.on('end', fail);
          res.on('error', fail);
          return;
        }
        const chunks: Buffer[] = [];
        let n = 0;
        res.on('data', (c: Buffer) => {
          if (n >= limit) return;
          chunks.push(c);
          n += c.length;
          if (n >= limit) {
            resolve(Buffer.concat(chunks).subarray(0, limit).toString('utf8'));
            res.destroy();
          }
        });
        res.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end();
    });
  return Object.assign(probe, { agent });
}

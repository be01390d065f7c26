// Registers one member under a key prefix watched by EtcdResolver (resolver.ts), in etcd's naming convention
// (go.etcd.io/etcd/client/v3/naming/endpoints): key `<prefix>/<addr>`, value
// `{"Op":0,"Addr":"host:port","Metadata":{...}}`, attached to a lease so the key disappears when the
// registrant dies. Over the JSON gateway client (client.ts): POST /v3/lease/grant {TTL}, /v3/kv/put {key,
// value, lease}, then /v3/lease/keepalive {ID} every ttl/3 (a background timer); a keep-alive answer without
// TTL means the lease expired: grant and put again. `close()` revokes the lease (/v3/lease/revoke).
//
//   const reg = registerEtcd({ endpoints, prefix: 'services/api', addr: '10.0.0.7:8080', ttlS: 10 });
//   await reg.ready; ...; await reg.close();
import { parseHostPort } from '../../util/endpoint.js';
import { systemClock, validateClock, type Clock } from '../../util/clock.js';
import { intInRange, typeError } from '../../util/validate.js';
import { EtcdClient, EtcdError, encodeKey, int64, type EtcdClientOptions } from './client.js';

export interface EtcdRegistrationOptions extends EtcdClientOptions {
  /** The prefix the resolver watches; the key is `<prefix>/<addr>`. */
  prefix: string;
  /** This member's `host:port`. */
  addr: string;
  metadata?: Record<string, unknown>;
  /** Lease TTL in seconds (default 10); kept alive every ttlS / 3. */
  ttlS?: number;
  onError?: (e: Error) => void;
}

/**
 * Registers one member under a lease and keeps the lease alive (POST /v3/lease/grant, /v3/kv/put with
 * `lease`, /v3/lease/keepalive every ttl/3; a keep-alive answer without TTL means the lease expired: grant
 * and put again). If the process dies, the lease expires and the key disappears; `close()` revokes it.
 */
export class EtcdRegistration {
  readonly key: string;
  /** Resolves once the key is first written. */
  readonly ready: Promise<void>;
  private readonly client: EtcdClient;
  private readonly clock: Clock;
  private readonly value: string;
  private readonly ttlS: number;
  private readonly onError: (e: Error) => void;
  private leaseId: string | undefined;
  private timer: unknown;
  private closed = false;
  private markReady!: () => void;

  constructor(o: EtcdRegistrationOptions) {
    if (o === null || typeof o !== 'object') throw typeError('options', 'an object', o);
    this.client = new EtcdClient(o);
    this.clock = o.clock === undefined ? systemClock : validateClock('clock', o.clock);
    if (typeof o.prefix !== 'string' || o.prefix.length === 0)
      throw typeError('prefix', 'a non-empty string', o.prefix);
    parseHostPort('addr', o.addr);
    this.ttlS = o.ttlS === undefined ? 10 : intInRange('ttlS', o.ttlS, 1, 86_400);
    this.key = `${o.prefix.replace(/\/+$/, '')}/${o.addr}`;
    this.value = JSON.stringify({ Op: 0, Addr: o.addr, Metadata: o.metadata ?? {} });
    this.onError = o.onError ?? (() => {});
    this.ready = new Promise((r) => (this.markReady = r));
    void this.tick();
  }

  get lease(): string | undefined {
    return this.leaseId;
  }

  private schedule(ms: number): void {
    if (this.closed) return;
    this.timer = this.clock.setTimeout(() => void this.tick(), ms, { background: true });
  }

  private async tick(): Promise<void> {
    if (this.closed) return;
    try {
      if (this.leaseId !== undefined) {
        const r = (await this.client.callAny('/v3/lease/keepalive', { ID: this.leaseId })) as {
          result?: { TTL?: unknown };
        };
        if (int64(r.result?.TTL) <= 0) this.leaseId = undefined; // expired: register again
      }
      if (this.leaseId === undefined && !this.closed) {
        const g = (await this.client.callAny('/v3/lease/grant', { TTL: String(this.ttlS) })) as { ID?: unknown };
        if (typeof g.ID !== 'string') throw new EtcdError('lease grant without ID', undefined, this.client.current);
        this.leaseId = g.ID;
        await this.client.callAny('/v3/kv/put', {
          key: encodeKey(this.key),
          value: encodeKey(this.value),
          lease: g.ID,
        });
        this.markReady();
      }
      this.schedule((this.ttlS * 1000) / 3);
    } catch (e) {
      if (this.closed) return;
      this.onError(e as Error);
      this.schedule(Math.min(1000, (this.ttlS * 1000) / 3));
    }
  }

  /** Stops the keep-alive; revokes the lease (deleting the key) unless `revoke: false`. */
  async close(opts: { revoke?: boolean } = {}): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    this.client.abortAll();
    if (opts.revoke !== false && this.leaseId !== undefined) {
      await this.client.callAny('/v3/lease/revoke', { ID: this.leaseId }).catch((e: Error) => this.onError(e));
    }
  }
}

export function registerEtcd(o: EtcdRegistrationOptions): EtcdRegistration {
  return new EtcdRegistration(o);
}

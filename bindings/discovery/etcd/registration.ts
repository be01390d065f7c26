// Registers one member under a key prefix watched by EtcdResolver (resolver.ts), in etcd's naming convention
// (go.etcd.io/etcd/client/v3/naming/endpoints): key `<prefix>/<addr>`, value
// `{"Op":0,"Addr":"host:port","Metadata":{...}}`, attached to a lease so the key disappears when the
// registrant dies. Over the JSON gateway client (client.ts): POST /v3/lease/grant {TTL}, /v3/kv/put {key,
// value, lease}, then /v3/lease/keepalive {ID} every ttl/3 (a background timer); a keep-alive answer without
// TTL means the lease expired: grant and put again. `close()` revokes the lease (/v3/lease/revoke).
//
// `ready` resolves once the key is first written. While etcd is unreachable the registration keeps retrying
// (every min(1 s, ttl/3), each failure to `onError`) and `ready` keeps waiting: race it with a timeout if a
// start must not hang. `close()` before the key was written rejects `ready` with an EtcdError of code 1
// (CANCELLED) naming the key. `close()` aborts the requests in flight and waits for them to settle, so a
// lease granted just before it is revoked too, and no key is written after it; a second `close()` returns the
// first one's promise. A throwing `onError` is dropped: it never stops the keep-alive.
//
//   const reg = registerEtcd({ endpoints, prefix: 'services/api', addr: '10.0.0.7:8080', ttlS: 10 });
//   await reg.ready; ...; await reg.close();
import { parseHostPort } from '../../util/endpoint.js';
import { systemClock, validateClock, type Clock } from '../../util/clock.js';
import { intInRange, typeError } from '../../util/validate.js';
import { EtcdClient, EtcdError, encodeKey, int64, type EtcdClientOptions } from './client.js';
import { parseEtcdValue } from './members.js';

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
  /**
   * Resolves once the key is first written; waits (retrying) while etcd is unreachable; rejects with an
   * EtcdError of code 1 (CANCELLED) when `close()` comes first.
   */
  readonly ready: Promise<void>;
  private readonly client: EtcdClient;
  private readonly clock: Clock;
  private readonly value: string;
  private readonly ttlS: number;
  private readonly onError: (e: Error) => void;
  private leaseId: string | undefined;
  private timer: unknown;
  private closed = false;
  /** The keep-alive step running now, if any (close() waits for it). */
  private running: Promise<void> | undefined;
  /** The first close()'s promise: every close() settles with it. */
  private closing: Promise<void> | undefined;
  private markReady!: () => void;
  private failReady!: (e: Error) => void;

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
    // what the resolver would skip is refused here, naming the key and field (a member that never got traffic)
    parseEtcdValue(this.key, this.value);
    const onError = o.onError;
    if (onError !== undefined && typeof onError !== 'function') throw typeError('onError', 'a function', onError);
    // A throwing onError must not end the keep-alive (nor escape as an unhandled rejection): it is dropped.
    this.onError = (e) => {
      try {
        onError?.(e);
      } catch {
        // dropped: an error handler's failure has nowhere to go
      }
    };
    this.ready = new Promise((resolve, reject) => {
      this.markReady = resolve;
      this.failReady = reject;
    });
    // Nobody has to await `ready`: a rejection on close() must not be an unhandled one.
    this.ready.catch(() => {});
    this.run();
  }

  get lease(): string | undefined {
    return this.leaseId;
  }

  private schedule(ms: number): void {
    if (this.closed) return;
    this.timer = this.clock.setTimeout(
      () => {
        this.timer = undefined;
        this.run();
      },
      ms,
      { background: true },
    );
  }

  private run(): void {
    if (this.closed) return;
    const p = this.tick().finally(() => {
      if (this.running === p) this.running = undefined;
    });
    this.running = p;
  }

  private async tick(): Promise<void> {
    if (this.closed) return;
    try {
      if (this.leaseId !== undefined) {
        const r = (await this.client.callAny('/v3/lease/keepalive', { ID: this.leaseId })) as {
          result?: { TTL?: unknown };
        };
        if (this.closed) return;
        if (int64(r.result?.TTL) <= 0) this.leaseId = undefined; // expired: register again
      }
      if (this.leaseId === undefined && !this.closed) {
        const g = (await this.client.callAny('/v3/lease/grant', { TTL: String(this.ttlS) })) as { ID?: unknown };
        if (typeof g.ID !== 'string') throw new EtcdError('lease grant without ID', undefined, this.client.current);
        // Kept before the put, and checked after the grant: a close() that came meanwhile revokes this lease
        // (it waits for this step) and no key is written.
        this.leaseId = g.ID;
        if (this.closed) return;
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

  /**
   * Stops the keep-alive; revokes the lease (deleting the key) unless `revoke: false`. Before the key was first
   * written, `ready` rejects (code 1, CANCELLED). Idempotent: a later call returns the first call's promise
   * (its `revoke` option is the one that counts), so every caller waits for the revoke.
   */
  close(opts: { revoke?: boolean } = {}): Promise<void> {
    return (this.closing ??= this.end(opts));
  }

  private async end(opts: { revoke?: boolean }): Promise<void> {
    this.closed = true;
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
    this.failReady(
      new EtcdError(
        `registration of ${JSON.stringify(this.key)} closed before the key was written`,
        1,
        this.client.current,
      ),
    );
    this.client.abortAll();
    // A step in flight ends at once (its requests are aborted); a lease it was granted is then known.
    await this.running;
    if (opts.revoke !== false && this.leaseId !== undefined) {
      await this.client.callAny('/v3/lease/revoke', { ID: this.leaseId }).catch((e: Error) => this.onError(e));
    }
  }
}

export function registerEtcd(o: EtcdRegistrationOptions): EtcdRegistration {
  return new EtcdRegistration(o);
}

// The etcd v3 resolver: lists a key prefix and watches it over etcd's JSON gateway (client.ts), so the same
// code runs in Node, browsers and workers.
//
// Protocol: POST /v3/kv/range {key, range_end} lists the prefix and returns `header.revision`; POST
// /v3/watch {create_request: {key, range_end, start_revision: revision + 1}} then streams one JSON object
// per line, `{"result": {header, created | canceled | events}}`. etcd 3.4 quirks handled here: a PUT event
// has no `type` field (only DELETE is spelled out, proto3 omits the zero enum); a watch cancelled for
// compaction (`canceled: true, compact_revision`) leaves the HTTP stream open, so we abort it and list afresh.
//
// Values follow etcd's naming convention (go.etcd.io/etcd/client/v3/naming/endpoints):
// `{"Op":0,"Addr":"host:port","Metadata":{...}}` under `<prefix>/<addr>`; a plain `host:port` value is
// accepted too. `Metadata.weight` / `Metadata.priority` / `Metadata.locality` (or `region`, `zone`,
// `subZone`) become the endpoint's weight, priority and locality (members.ts); the endpoint is validated by
// util/endpoint.ts (address required). Values that are neither are skipped with an error event.
//
// Service config: the key `<prefix>/_grpc_config` (never read as an endpoint) holds the target's gRPC
// service config, as a JSON object or as gRFC A2's list of choices (service-config.ts). It goes to
// `onServiceConfig` when it changes, before the list it came with; a malformed value is reported (a
// TypeError naming the key) and the config in force stays; deleting the key changes nothing.
//
// Failover: with several endpoints, a watch that breaks (member killed, connection reset) resumes on the
// next member from the last applied revision + 1, and events at or below it are ignored, so no update is
// missed and none is applied twice. Rounds over all members that all fail back off exponentially (100 ms,
// doubled up to 5 s by default) and are reported as a `ResolverError` naming the target (the round's last
// failure); a member's failure while others remain to be tried is a notice (its EtcdError), so requests waiting
// for the first list are not failed while the next member answers. A watch that stood STABLE_WATCH_MS before it
// failed starts a new round; one etcd created and then cancelled or ended at once counts toward the round. A
// watch whose store is behind the revision applied (restored, or restarted with an empty data dir) lists afresh,
// as after a compaction. A hung member (SIGSTOP, a partition) never closes its TCP connection: the member
// carrying the watch is probed every `probeIntervalMs` and a failed probe fails over.
//
//   const r = new EtcdResolver({ endpoints: ['http://10.0.0.1:2379'], prefix: 'services/api' }, listener);
import type { Endpoint } from '../../util/endpoint.js';
import { bool, typeError } from '../../util/validate.js';
import { Backoff, type BackoffOptions } from '../../util/backoff.js';
import type { CommonResolverOptions, ResolverListener } from '../resolver.js';
import { msOption, Pause, ResolverBase } from '../base.js';
import {
  decodeText,
  encodeKey,
  EtcdClient,
  EtcdError,
  int64,
  prefixRangeEnd,
  type EtcdClientOptions,
  type Header,
  type Kv,
} from './client.js';
import { Membership, parseEtcdValue } from './members.js';
import {
  ETCD_SERVICE_CONFIG_KEY,
  serviceConfigFromValue,
  ServiceConfigTracker,
  type ServiceConfigResolverOptions,
} from '../service-config.js';
import { asError } from '../../util/failure.js';

export interface EtcdResolverOptions extends CommonResolverOptions, EtcdClientOptions, ServiceConfigResolverOptions {
  /** Key prefix; a trailing '/' is added when missing (`services/api` watches `services/api/`). */
  prefix: string;
  /**
   * Sends `Grpc-Metadata-hasleader: true` so a member that lost its leader cancels the watch (and we fail
   * over). Off by default: the custom header fails etcd 3.4's CORS preflight in browsers.
   */
  requireLeader?: boolean;
  /**
   * While a watch is open, the member carrying it is probed this often with a linearizable one-key
   * range (default 10 s; 0 disables). A probe that fails or times out (`requestTimeoutMs`) aborts the
   * watch and fails over: a hung member (SIGSTOP, a partition) never closes its TCP connection.
   */
  probeIntervalMs?: number;
}

/** Back-off after a round in which every member failed: 100 ms, doubled up to 5 s. */
export const DEFAULT_ETCD_BACKOFF: Readonly<Required<BackoffOptions>> = Object.freeze({
  initialBackoffMs: 100,
  maxBackoffMs: 5_000,
  backoffMultiplier: 2,
});
export const DEFAULT_ETCD_PROBE_INTERVAL_MS = 10_000;
/** A watch that stood this long before it failed resets the failover round and the back-off. */
const STABLE_WATCH_MS = 1_000;

/**
 * A notice that the watch cannot resume from the applied revision (compacted away, or a store behind it: a member
 * restored or replaced with less history), so the resolver lists afresh.
 */
class Relist extends Error {}

export interface EtcdResolverStats {
  /** The last revision applied (from the list or from an event). */
  revision: number;
  /** Watch events applied (each exactly once). */
  eventsApplied: number;
  /** Events ignored because their revision was already applied (after a reconnect). */
  eventsSkipped: number;
  lists: number;
  watchesOpened: number;
  endpoint: string;
}

export class EtcdResolver extends ResolverBase {
  private readonly client: EtcdClient;
  private readonly prefix: string;
  private readonly keyB64: string;
  private readonly endB64: string;
  private readonly backoff: Backoff;
  private readonly requireLeader: boolean;
  private readonly probeIntervalMs: number;
  private readonly pause = new Pause(this.clock);
  private readonly serviceConfig: ServiceConfigTracker;
  private readonly configKey: string;
  private members: Membership;
  private revision = -1;
  private readonly counters = { eventsApplied: 0, eventsSkipped: 0, lists: 0, watchesOpened: 0 };

  constructor(opts: EtcdResolverOptions, listener: ResolverListener) {
    super(opts, listener, `etcd:///${String(opts?.prefix)}`);
    if (typeof opts.prefix !== 'string' || opts.prefix.replace(/\/+$/, '').length === 0)
      throw typeError('prefix', 'a non-empty key prefix', opts.prefix);
    this.prefix = opts.prefix.endsWith('/') ? opts.prefix : `${opts.prefix}/`;
    this.configKey = this.prefix + ETCD_SERVICE_CONFIG_KEY;
    this.serviceConfig = new ServiceConfigTracker(opts);
    this.keyB64 = encodeKey(this.prefix);
    this.endB64 = prefixRangeEnd(this.prefix);
    this.backoff = new Backoff(opts, undefined, DEFAULT_ETCD_BACKOFF);
    this.requireLeader = opts.requireLeader === undefined ? false : bool('requireLeader', opts.requireLeader);
    this.probeIntervalMs = msOption('probeIntervalMs', opts.probeIntervalMs, DEFAULT_ETCD_PROBE_INTERVAL_MS);
    this.client = new EtcdClient({ ...opts, clock: this.clock });
    this.members = new Membership((e) => this.out.error(e));
    queueMicrotask(() => void this.run());
  }

  stats(): EtcdResolverStats {
    return { revision: this.revision, ...this.counters, endpoint: this.client.current };
  }

  /** Wakes a resolver waiting out its back-off; a live watch needs no refresh. */
  protected onRefresh(): void {
    this.pause.wake();
  }

  protected onClose(): void {
    this.client.abortAll();
    this.pause.wake();
  }

  private async run(): Promise<void> {
    let needList = true;
    // Members that failed in this round; rounds in which every member failed (they set the back-off).
    let failures = 0;
    let failedRounds = 0;
    /** When the current watch was created (NaN: not yet). */
    let createdAt = NaN;
    while (!this.closed) {
      try {
        if (needList) {
          await this.list();
          needList = false;
          // A listener may close() us on the list just delivered: no watch after that.
          if (this.closed) return;
        }
        createdAt = NaN;
        await this.watch(() => (createdAt = this.clock.now()));
        // The server ended the stream: treat it as a failure of this member and resume elsewhere.
        if (!this.closed) throw new EtcdError('watch stream ended', undefined, this.client.current);
      } catch (e) {
        if (this.closed) return;
        // a watch that stood a while: this failure starts afresh (the next member at once, the back-off reset);
        // one that etcd created and then cancelled or ended at once counts toward a failed round
        if (this.clock.now() - createdAt >= STABLE_WATCH_MS) failures = failedRounds = 0;
        if (e instanceof Relist) {
          this.out.error(e); // a notice, not a failure
          needList = true;
          continue;
        }
        this.client.failover();
        if (++failures >= this.client.endpoints.length) {
          // every member failed in this round: the resolution failed (a ResolverError, which fails waiting picks)
          failures = 0;
          this.fail(e);
          await this.pause.sleep(this.backoff.capMs(++failedRounds));
        } else this.out.error(asError(e)); // a notice: the next one at once
      }
    }
  }

  private async list(): Promise<void> {
    const r = (await this.client.call('/v3/kv/range', { key: this.keyB64, range_end: this.endB64 })) as {
      header?: Header;
      kvs?: Kv[];
    };
    if (this.closed) return;
    const rev = int64(r.header?.revision);
    if (rev < 0) throw new EtcdError('range answer without header.revision', undefined, this.client.current);
    const next = new Membership((e) => this.out.error(e));
    let config: string | undefined;
    for (const kv of r.kvs ?? []) {
      const key = decodeText(kv.key);
      if (key === this.configKey) config = decodeText(kv.value);
      else this.put(next, key, decodeText(kv.value));
    }
    if (config !== undefined) this.onConfig(config);
    else this.serviceConfig.forget();
    this.members = next;
    this.revision = rev;
    this.counters.lists++;
    this.publish();
  }

  private put(members: Membership, key: string, value: string): boolean {
    let ep: Endpoint | null;
    try {
      ep = parseEtcdValue(key, value);
    } catch (e) {
      this.out.error(e as Error);
      ep = null;
    }
    return members.set(key, ep);
  }

  private async watch(onCreated: () => void): Promise<void> {
    const body = {
      create_request: { key: this.keyB64, range_end: this.endB64, start_revision: String(this.revision + 1) },
    };
    const headers = this.requireLeader ? { 'grpc-metadata-hasleader': 'true' } : undefined;
    // The probe loop belongs to this watch: once the watch is over (`watching` false: the stream ended or
    // failed, close()), a probe still in flight neither schedules the next one nor aborts anything, and no
    // timer of this loop sends a request.
    let watching = true;
    let probeTimer: unknown;
    let probeError: Error | undefined;
    const stopProbe = () => {
      watching = false;
      if (probeTimer !== undefined) this.clock.clearTimeout(probeTimer);
      probeTimer = undefined;
    };
    const live = () => watching && !this.closed && probeError === undefined;
    const startProbe = (abort: () => void) => {
      if (this.probeIntervalMs <= 0) return;
      const tick = () => {
        probeTimer = undefined;
        if (!live()) return;
        this.client.call('/v3/kv/range', { key: this.keyB64, limit: '1', keys_only: true }).then(
          () => {
            if (live()) probeTimer = this.clock.setTimeout(tick, this.probeIntervalMs, { background: true });
          },
          (e: unknown) => {
            if (!live()) return;
            probeError = asError(e);
            abort();
          },
        );
      };
      if (live()) probeTimer = this.clock.setTimeout(tick, this.probeIntervalMs, { background: true });
    };
    try {
      for await (const msg of this.client.stream('/v3/watch', body, headers, startProbe)) {
        this.onWatchMessage(msg, onCreated);
        if (this.closed) return;
      }
    } catch (e) {
      if (probeError !== undefined && !this.closed) {
        throw new EtcdError(
          `liveness probe failed (${probeError.message}); watch abandoned`,
          undefined,
          this.client.current,
        );
      }
      throw e;
    } finally {
      stopProbe();
    }
  }

  private onWatchMessage(msg: unknown, onCreated: () => void): void {
    if (this.closed) return;
    const m = msg as {
      result?: Record<string, unknown>;
      error?: { message?: string; code?: number; grpc_code?: number };
    };
    if (m.error !== undefined) {
      // etcd 3.4's gateway names a stream error's status `grpc_code` ("transport is closing": 14), later ones `code`
      const code = m.error.code ?? m.error.grpc_code;
      throw new EtcdError(String(m.error.message ?? JSON.stringify(m.error)), code, this.client.current);
    }
    const res = m.result;
    if (res === undefined) return;
    if (res.created === true) {
      this.counters.watchesOpened++;
      // a store behind what was applied lost its history (restored from an old snapshot, or a fresh data dir):
      // the watch would wait for revisions it may never reach, missing every change until then. A member merely
      // lagging is listed afresh too (a linearizable read, at or past the revision applied): no harm done
      const head = int64((res.header as Header | undefined)?.revision);
      if (head >= 0 && head < this.revision)
        throw new Relist(
          `etcd ${this.client.current}: the store is at revision ${head}, behind the ${this.revision} applied (a member lagging, restored or replaced); listing afresh`,
        );
      if (res.canceled !== true) onCreated();
    }
    if (res.canceled === true) {
      const compact = int64(res.compact_revision);
      // etcd 3.4 keeps the HTTP stream open after a cancel: leaving the loop aborts it.
      if (compact > 0) throw new Relist(`etcd: watch revision compacted (compact_revision ${compact}); listing afresh`);
      throw new EtcdError(`watch cancelled: ${String(res.cancel_reason ?? '')}`, undefined, this.client.current);
    }
    const events = res.events as Array<{ type?: string; kv?: Kv }> | undefined;
    if (events !== undefined && events.length > 0) this.apply(events);
  }

  private apply(events: Array<{ type?: string; kv?: Kv }>): void {
    const before = this.revision;
    let top = before;
    let changed = false;
    for (const ev of events) {
      const rev = int64(ev.kv?.mod_revision);
      // Already applied (a resumed watch replays from revision + 1; this guards any overlap).
      if (rev <= before) {
        this.counters.eventsSkipped++;
        continue;
      }
      top = Math.max(top, rev);
      const key = decodeText(ev.kv?.key);
      this.counters.eventsApplied++;
      if (key === this.configKey) {
        if (ev.type === 'DELETE') this.serviceConfig.forget();
        else this.onConfig(decodeText(ev.kv?.value));
      } else if (ev.type === 'DELETE') changed = this.members.delete(key) || changed;
      else changed = this.put(this.members, key, decodeText(ev.kv?.value)) || changed;
    }
    this.revision = top;
    if (changed) this.publish();
  }

  /** A value of the service config key: delivered when it changed; a bad one reported, the old one kept. */
  private onConfig(value: string): void {
    if (!this.serviceConfig.enabled || this.serviceConfig.seen(value)) return;
    try {
      const sc = serviceConfigFromValue(value, this.serviceConfig.ctx, `etcd key ${JSON.stringify(this.configKey)}`);
      if (sc !== null && this.serviceConfig.changed(sc)) this.out.serviceConfig(sc);
    } catch (e) {
      this.out.error(e as Error);
    }
  }

  private publish(): void {
    this.out.endpoints(this.members.list.slice());
  }
}

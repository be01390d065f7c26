// The DNS resolver: A + AAAA records (`dns:///host:port`) or SRV records (`dns+srv:///_svc._tcp.name`),
// re-resolved when the shortest TTL expires, clamped to [minTtlMs, maxTtlMs] (default floor 30 s, the
// minimum re-resolution interval of grpc-js's resolver-dns.ts). A record without a usable TTL (missing, not
// a number, NaN, negative) counts as TTL 0, so the floor applies: never a hot re-resolution loop. When only
// one of the two bounds is given, the other default moves to meet it; both given with max < min: RangeError.
// The first resolution starts from a microtask (its queries keep a Node process alive until the first
// answer, as etcd's and Consul's first requests do); the re-resolutions run on background timers.
// SRV (RFC 2782): each record's priority
// becomes the endpoint's `priority` (lower is preferred; the Balancer serves the lowest class first) and
// its weight the endpoint's `weight` (weight 0, "very small chance", becomes 1, the smallest integer
// weight); each SRV target is resolved to its addresses. SRV carries no locality: endpoints have none.
// A sole target "." (RFC 2782: "the service is decidedly not available at this domain") is an answer: the
// list is empty, no error; beside other records a "." record is skipped.
// Failures (NXDOMAIN, timeouts, a dead server, an empty SRV answer, no SRV target resolving, an answer whose
// every record is skipped) keep the last good list, report a `ResolverError` and retry
// with exponential back-off (1 s, doubled up to `maxTtlMs` by default); an SRV target that does not resolve
// is a skipped entry (its error is reported, the others are delivered); skipped SRV entries are named by the
// record's index in the SRV answer (`dns+srv[i]`), A/AAAA ones by their index in the A answers then AAAA.
//
// Service config (gRFC A2, service-config.ts): each resolution also looks up the TXT record
// `_grpc_config.<name>` (not for IP literals; off with `disableServiceConfig`); a `grpc_config=` record's
// chosen config goes to `onServiceConfig` when it changed. The TXT query runs beside the address lookup, and
// the list waits for its answer at most `queryTimeoutMs` from the resolution's start (so first picks run on
// the configured policy when the server answers): an answer in time goes before the list; a later one after
// it, when it comes (unless a newer resolution's answer came first). A server that never answers TXT costs
// the first list at most the query timeout, never node:dns's retries; so does a server that answers A but not
// AAAA (or the reverse) before the first list (addresses()). As in grpc-js, a failed TXT lookup
// (none published, a timeout) changes nothing and fails nothing; a malformed one is reported once (a
// TypeError naming `grpc_config`) and the config in force stays.
//
// Lookups go through the `DnsLookup` seam: in Node, `node:dns`'s `Resolver` (servers configurable,
// imported lazily so browser bundles never load it); in browsers, `dohLookup` (doh.ts). A custom `lookup`
// is checked at construction (a, aaaa, srv functions; txt, cancel optional); an answer that is not an array
// of records fails that query with a TypeError naming it (`lookup.a()`).
//
//   new DnsResolver({ target: 'api.internal:8080', servers: ['127.0.0.1:5353'] }, listener);
import { byHostPort, parseAnswer, parseHostPort, type Endpoint, type EndpointInput } from '../util/endpoint.js';
import type { TimerHandle } from '../util/clock.js';
import { bool, intInRange, positive, rangeError, typeError } from '../util/validate.js';
import { Backoff } from '../util/backoff.js';
import type { CommonResolverOptions, ResolverListener } from './resolver.js';
import { msOption, ResolverBase } from './base.js';
import {
  GRPC_CONFIG_TXT_PREFIX,
  serviceConfigFromTxt,
  ServiceConfigTracker,
  type ServiceConfigResolverOptions,
} from './service-config.js';
import { asError } from '../util/failure.js';
import { utf8 } from '../core/utf8.js';

export interface AddressRecord {
  address: string;
  ttlS: number;
}

export interface SrvRecord {
  /** The target host; "." (or "", as node:dns reports it) is RFC 2782's "service not available". */
  name: string;
  port: number;
  priority: number;
  weight: number;
  ttlS?: number;
}

/** One DNS client. Errors carry `code` ('ENOTFOUND' for NXDOMAIN, 'ENODATA' for no record of that type). */
export interface DnsLookup {
  a(name: string): Promise<AddressRecord[]>;
  aaaa(name: string): Promise<AddressRecord[]>;
  srv(name: string): Promise<SrvRecord[]>;
  /** TXT records, each an array of its strings (node:dns `resolveTxt`); optional (no service configs). */
  txt?(name: string): Promise<string[][]>;
  /** Aborts outstanding queries (close()). */
  cancel?(): void;
}

export interface DnsResolverOptions extends CommonResolverOptions, ServiceConfigResolverOptions {
  /** `host:port` (A/AAAA) or an SRV name (`srv: true`). */
  target: string;
  srv?: boolean;
  /** DNS servers (`ip` or `ip:port`, `[v6]:port`) for the node:dns lookup; system servers when absent. */
  servers?: string[];
  /** Port used when the target has none; without it a port is required. */
  defaultPort?: number;
  /** Floor of the TTL-driven re-resolution interval (default 30 s, lowered to `maxTtlMs` when that is less). */
  minTtlMs?: number;
  /**
   * Ceiling of the re-resolution interval, > 0 (default 300 s, raised to `minTtlMs` when that is more), and of
   * the back-off unless `maxBackoffMs` is set.
   */
  maxTtlMs?: number;
  /**
   * Per-query timeout of the node:dns lookup (default 2 s; a DoH request: 5 s) and its tries (default 2).
   * Also the longest a list waits for its TXT (service config) answer (default 2 s, DoH included), and the
   * first list for the second address family once the other has answered.
   */
  queryTimeoutMs?: number;
  queryTries?: number;
  /** Replaces the node:dns lookup (DoH, tests). */
  lookup?: DnsLookup;
}

export const DEFAULT_DNS_MIN_TTL_MS = 30_000;
export const DEFAULT_DNS_MAX_TTL_MS = 300_000;
export const DEFAULT_DNS_QUERY_TIMEOUT_MS = 2_000;
/** First back-off after a failed resolution (then doubled, up to `maxTtlMs`). */
export const DEFAULT_DNS_INITIAL_BACKOFF_MS = 1_000;

const IPV4_RE = /^(?:\d{1,3}\.){3}\d{1,3}$/;

function isIpLiteral(host: string): boolean {
  return IPV4_RE.test(host) || host.includes(':');
}

/**
 * `name` when DNS can carry it (RFC 1035 2.3.4: labels of 1-63 octets, 253 in all, one trailing dot allowed), else
 * a TypeError naming `field`: `a..b` failed every query with EBADNAME instead.
 */
function checkDnsName(field: string, name: string): string {
  const bare = name.replace(/\.$/, '');
  const labels = bare.split('.');
  if (bare.length > 253 || labels.some((l) => l.length === 0 || utf8(l).length > 63))
    throw typeError(field, 'a DNS name (labels of 1-63 octets, 253 in all)', name);
  return name;
}

/** A record's TTL in seconds: a number >= 0 (Infinity: no expiry, an IP literal); anything else 0 (unknown). */
function ttlOf(v: unknown): number {
  return typeof v === 'number' && v >= 0 ? v : 0;
}

const LOOKUP_METHODS = ['a', 'aaaa', 'srv'] as const;

/** The `lookup` option: undefined (node:dns) or a DnsLookup; a TypeError naming `lookup` otherwise. */
function checkLookup(v: unknown): DnsLookup | undefined {
  if (v === undefined) return undefined;
  const o = v as Record<string, unknown> | null;
  if (o === null || typeof o !== 'object') throw typeError('lookup', 'a DnsLookup { a, aaaa, srv, txt? }', v);
  for (const m of LOOKUP_METHODS) if (typeof o[m] !== 'function') throw typeError(`lookup.${m}`, 'a function', o[m]);
  for (const m of ['txt', 'cancel'])
    if (o[m] !== undefined && typeof o[m] !== 'function') throw typeError(`lookup.${m}`, 'a function', o[m]);
  return v as DnsLookup;
}

/** A lookup answer: an array of record objects; a TypeError naming the query (`lookup.a()`) otherwise. */
function records<T>(query: string, v: unknown): T[] {
  if (!Array.isArray(v)) throw typeError(`${query} result`, 'an array of records', v);
  v.forEach((r, i) => {
    if (r === null || typeof r !== 'object') throw typeError(`${query} result[${i}]`, 'a record object', r);
  });
  return v as T[];
}

/** RFC 2782's "." target (node:dns reports it as ""). */
function isRootTarget(s: SrvRecord): boolean {
  return s.name === '.' || s.name === '';
}

/** A resolution's TXT lookup: its promise, and its answer once settled (undefined: failed). */
interface TxtLookup {
  settled: boolean;
  answer: string[][] | undefined;
  promise: Promise<string[][] | undefined>;
}

function codeOf(e: unknown): string | undefined {
  return typeof e === 'object' && e !== null ? ((e as { code?: string }).code ?? undefined) : undefined;
}

/** `localhost` and the names under it (RFC 6761 6.3): the loopback, which no DNS server answers for. */
const LOCALHOST = /(^|\.)localhost\.?$/i;

/**
 * node:dns, loaded on first use. The specifier is kept out of static analysis so bundlers leave it alone.
 * `localhost` names are answered by the system's resolver (its hosts file), as grpc-js resolves every name:
 * DNS servers have no record of them.
 */
export function nodeDnsLookup(servers: string[] | undefined, timeoutMs: number, tries: number): DnsLookup {
  const specifier = 'node:dns';
  let mod: Promise<typeof import('node:dns')> | undefined;
  const dns = () =>
    (mod ??= (import(/* @vite-ignore */ specifier) as Promise<typeof import('node:dns')>).catch((e: unknown) => {
      mod = undefined;
      // a browser's "Failed to fetch dynamically imported module" says what failed, not why
      throw new Error('dns:/// needs node:dns (Node); in a browser use doh:///', { cause: e });
    }));
  let resolver: Promise<import('node:dns').promises.Resolver> | undefined;
  const get = () =>
    (resolver ??= dns().then((d) => {
      const r = new d.promises.Resolver({ timeout: timeoutMs, tries });
      if (servers !== undefined && servers.length > 0) r.setServers(servers);
      return r;
    }));
  /** A or AAAA records; a `localhost` name from the hosts file, with no TTL (re-read at the refresh floor). */
  const addresses = async (name: string, family: 4 | 6): Promise<AddressRecord[]> => {
    if (LOCALHOST.test(name))
      return (await (await dns()).promises.lookup(name, { all: true, family })).map((r) => ({
        address: r.address,
        ttlS: 0,
      }));
    const r = await get();
    const recs = await (family === 4 ? r.resolve4(name, { ttl: true }) : r.resolve6(name, { ttl: true }));
    return recs.map((x) => ({ address: x.address, ttlS: x.ttl }));
  };
  return {
    a: (name) => addresses(name, 4),
    aaaa: (name) => addresses(name, 6),
    srv: async (name) => (await get()).resolveSrv(name),
    txt: async (name) => (await get()).resolveTxt(name),
    cancel: () => {
      // a resolver node:dns refused to build (its error went to the lookups) has nothing to cancel
      resolver?.then((r) => r.cancel()).catch(() => {});
    },
  };
}

export class DnsResolver extends ResolverBase {
  private readonly lookup: DnsLookup;
  private readonly srv: boolean;
  private readonly host: string;
  private readonly port: number;
  private readonly minTtlMs: number;
  private readonly maxTtlMs: number;
  private readonly backoff: Backoff;
  private readonly serviceConfig: ServiceConfigTracker;
  /** Consecutive failed resolutions. */
  private failures = 0;
  private timer: TimerHandle | undefined;
  private inFlight = false;
  private again = false;
  /** How long a list waits for an answer it can do without (TXT, the second address family): the query timeout. */
  private readonly lateWaitMs: number;
  /** The ends of the waits for a TXT answer or an address family (waitFor), which close() ends. */
  private readonly waits = new Set<() => void>();
  /** The resolution whose TXT answer was applied last: an older resolution's late answer is dropped. */
  private configFrom = 0;
  /** Resolutions started (for tests and stats). */
  resolutions = 0;

  constructor(opts: DnsResolverOptions, listener: ResolverListener) {
    super(opts, listener, `${opts?.srv === true ? 'dns+srv' : 'dns'}:///${String(opts?.target)}`);
    this.srv = opts.srv === undefined ? false : bool('srv', opts.srv);
    if (typeof opts.target !== 'string' || opts.target.length === 0)
      throw typeError('target', 'a DNS name', opts.target);
    if (this.srv) {
      this.host = checkDnsName('target', opts.target);
      this.port = 0;
    } else {
      const dflt = opts.defaultPort === undefined ? undefined : intInRange('defaultPort', opts.defaultPort, 1, 65535);
      const hp = parseHostPort('target', opts.target, dflt);
      this.host = isIpLiteral(hp.host) ? hp.host : checkDnsName('target', hp.host);
      this.port = hp.port;
    }
    // maxTtlMs > 0: with a floor of 0 a TTL-0 answer would re-resolve at once, forever.
    const maxTtl = opts.maxTtlMs === undefined ? undefined : positive('maxTtlMs', opts.maxTtlMs);
    this.minTtlMs = msOption('minTtlMs', opts.minTtlMs, Math.min(DEFAULT_DNS_MIN_TTL_MS, maxTtl ?? Infinity));
    this.maxTtlMs = maxTtl ?? Math.max(DEFAULT_DNS_MAX_TTL_MS, this.minTtlMs);
    if (this.maxTtlMs < this.minTtlMs) throw rangeError('maxTtlMs', `>= minTtlMs (${this.minTtlMs})`, this.maxTtlMs);
    this.backoff = new Backoff(opts, undefined, {
      initialBackoffMs: DEFAULT_DNS_INITIAL_BACKOFF_MS,
      maxBackoffMs: this.maxTtlMs,
      backoffMultiplier: 2,
    });
    if (opts.servers !== undefined) {
      if (!Array.isArray(opts.servers)) throw typeError('servers', 'an array of "ip[:port]"', opts.servers);
      opts.servers.forEach((s, i) => {
        // node:dns takes addresses only (a name would fail every query); parseHostPort refuses octets past 255
        const { host } = parseHostPort(`servers[${i}]`, s, 53);
        if (!isIpLiteral(host)) throw typeError(`servers[${i}]`, 'an IP address, "ip:port" or "[v6]:port"', s);
      });
    }
    const timeoutMs = msOption('queryTimeoutMs', opts.queryTimeoutMs, DEFAULT_DNS_QUERY_TIMEOUT_MS);
    const tries = opts.queryTries === undefined ? 2 : intInRange('queryTries', opts.queryTries, 1, 10);
    this.lookup = checkLookup(opts.lookup) ?? nodeDnsLookup(opts.servers, timeoutMs, tries);
    this.lateWaitMs = timeoutMs;
    this.serviceConfig = new ServiceConfigTracker(opts);
    this.limiter.ran();
    // The first resolution starts from a microtask, as etcd's and Consul's do: its queries keep a Node
    // process alive until the first list (a background timer would let a script exit before any query).
    queueMicrotask(() => this.resolveNow());
  }

  protected onRefresh(): void {
    this.resolveNow();
  }

  protected onClose(): void {
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
    for (const release of [...this.waits]) release();
    this.lookup.cancel?.();
  }

  private schedule(ms: number): void {
    if (this.closed) return;
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    this.timer = this.clock.setTimeout(
      () => {
        this.timer = undefined;
        this.limiter.ran();
        this.resolveNow();
      },
      ms,
      { background: true },
    );
  }

  private resolveNow(): void {
    if (this.closed) return;
    if (this.inFlight) {
      this.again = true;
      return;
    }
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
    this.inFlight = true;
    const n = ++this.resolutions;
    const startedMs = this.clock.now();
    const txt = this.txtLookup();
    void this.resolveOnce().then(
      async ({ endpoints, ttlS }) => {
        if (txt !== undefined && !txt.settled) await this.waitFor(txt.promise, startedMs + this.lateWaitMs);
        this.done(n, undefined, endpoints, ttlS, txt);
      },
      (e: unknown) => this.done(n, asError(e)),
    );
  }

  /**
   * The TXT lookup for the service config, started with the address lookup; undefined when disabled,
   * unsupported, or for an IP literal. Its answer is undefined when the lookup failed.
   */
  private txtLookup(): TxtLookup | undefined {
    const txt = this.lookup.txt;
    if (!this.serviceConfig.enabled || txt === undefined || isIpLiteral(this.host)) return undefined;
    const state: TxtLookup = { settled: false, answer: undefined, promise: Promise.resolve(undefined) };
    state.promise = Promise.resolve()
      // started a microtask later: not at all when close() came in between
      .then(() => (this.closed ? undefined : txt.call(this.lookup, GRPC_CONFIG_TXT_PREFIX + this.host)))
      .then(
        (r) => (Array.isArray(r) ? r : undefined),
        () => undefined,
      )
      .then((answer) => {
        state.settled = true;
        state.answer = answer;
        return answer;
      });
    return state;
  }

  /**
   * Waits for `p` (the TXT answer, the second address family) until `deadlineMs`: neither is needed for a list,
   * so it never holds the list longer (node:dns retries a lost query with back-off, 3× the timeout in all).
   * Until the first list this timer keeps a Node process alive; after, it is background. close() ends it.
   */
  private waitFor(p: Promise<unknown>, deadlineMs: number): Promise<void> {
    const waitMs = deadlineMs - this.clock.now();
    if (waitMs <= 0 || this.closed) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const release = () => {
        this.clock.clearTimeout(timer);
        this.waits.delete(release);
        resolve();
      };
      const timer = this.clock.setTimeout(release, waitMs, { background: this.out.current !== undefined });
      this.waits.add(release);
      void p.then(release, release);
    });
  }

  /** Resolution `n`'s TXT answer: its config goes out unless a later resolution's answer already did. */
  private applyTxt(n: number, records: string[][] | undefined): void {
    if (this.closed || records === undefined || n < this.configFrom) return;
    this.configFrom = n;
    this.deliverServiceConfig(records);
  }

  private deliverServiceConfig(records: string[][]): void {
    if (this.serviceConfig.seen(JSON.stringify(records))) return;
    try {
      const sc = serviceConfigFromTxt(records, this.serviceConfig.ctx);
      if (sc !== null && sc !== undefined && this.serviceConfig.changed(sc)) this.out.serviceConfig(sc);
    } catch (e) {
      this.out.error(e as Error);
    }
  }

  private done(n: number, err: Error | undefined, endpoints?: Endpoint[], ttlS?: number, txt?: TxtLookup): void {
    this.inFlight = false;
    if (this.closed) return;
    if (err !== undefined) {
      this.fail(err);
      this.schedule(this.backoff.capMs(++this.failures));
    } else {
      this.failures = 0;
      // In time, the config goes before its list; a late TXT answer applies its config when it comes.
      if (txt?.settled === true) this.applyTxt(n, txt.answer);
      else void txt?.promise.then((answer) => this.applyTxt(n, answer));
      this.out.endpoints(endpoints!);
      const ttlMs = Math.min(this.maxTtlMs, Math.max(this.minTtlMs, ttlOf(ttlS) * 1000));
      this.schedule(ttlMs);
    }
    if (this.again) {
      this.again = false;
      this.resolveNow();
    }
  }

  /**
   * Addresses of one name, A and AAAA in parallel; fails only when both fail or both are empty. Before the first
   * list, once one family has records the other is waited for until the query timeout at most (from the queries'
   * start), as the TXT lookup is: a server that drops AAAA queries would hold the first list, and the requests
   * waiting for it, for node:dns's retries (up to 3× the timeout). After it both are waited for, the last list
   * staying in force meanwhile: a family answered on a retry keeps its members rather than dropping them from
   * one list to the next.
   */
  private async addresses(name: string): Promise<AddressRecord[]> {
    if (isIpLiteral(name)) return [{ address: name, ttlS: Infinity }];
    const lookup = this.lookup;
    const deadlineMs = this.clock.now() + this.lateWaitMs;
    const settled: (PromiseSettledResult<AddressRecord[]> | undefined)[] = [undefined, undefined];
    const each = [
      (async () => records<AddressRecord>('lookup.a()', await lookup.a(name)))(),
      (async () => records<AddressRecord>('lookup.aaaa()', await lookup.aaaa(name)))(),
    ].map((p, i) =>
      p.then(
        (value) => ((settled[i] = { status: 'fulfilled', value }), value.length > 0),
        (reason: unknown) => ((settled[i] = { status: 'rejected', reason }), false),
      ),
    );
    const all = Promise.all(each);
    if (this.out.current === undefined) {
      const some = new Promise<void>((resolve) => each.forEach((p) => void p.then((has) => has && resolve())));
      await Promise.race([all, some.then(() => this.waitFor(all, deadlineMs))]);
    } else await all;
    const out: AddressRecord[] = [];
    for (const r of settled)
      if (r?.status === 'fulfilled') for (const a of r.value) out.push({ address: a.address, ttlS: ttlOf(a.ttlS) });
    if (out.length > 0) return out;
    const reasons = settled.filter((r) => r?.status === 'rejected').map((r) => (r as PromiseRejectedResult).reason);
    // Prefer the informative failure: NXDOMAIN or a timeout over "no record of this type".
    const e = reasons.find((r) => codeOf(r) !== 'ENODATA') ?? reasons[0];
    if (e !== undefined) throw asError(e);
    const none = new Error(`dns: no A/AAAA records for ${JSON.stringify(name)}`);
    (none as Error & { code: string }).code = 'ENODATA';
    throw none;
  }

  private async resolveOnce(): Promise<{ endpoints: Endpoint[]; ttlS: number }> {
    if (!this.srv) {
      const recs = await this.addresses(this.host);
      const ttlS = Math.min(...recs.map((r) => r.ttlS));
      const items = recs.map((r, index) => ({
        index,
        input: { host: r.address, port: this.port, metadata: { name: this.host } },
      }));
      const endpoints = parseAnswer('dns', items, byHostPort, (e) => this.out.error(e));
      if (endpoints.length === 0)
        throw new Error(`dns: no valid address for ${JSON.stringify(this.host)} (every record was skipped)`);
      return { endpoints, ttlS };
    }
    const lookup = this.lookup;
    const srvs = records<SrvRecord>('lookup.srv()', await lookup.srv(this.host));
    // close() came while SRV was asked (cancel() is past): no target lookups, they would outlive it.
    if (this.closed) return { endpoints: [], ttlS: 0 };
    if (srvs.length === 0) {
      const e = new Error(`dns: no SRV records for ${JSON.stringify(this.host)}`);
      (e as Error & { code: string }).code = 'ENODATA';
      throw e;
    }
    // node:dns gives SRV records no TTL: the addresses' TTLs decide then.
    let ttlS = Math.min(...srvs.map((s) => (s.ttlS === undefined ? Infinity : ttlOf(s.ttlS))));
    // RFC 2782: a target of "." means the service is decidedly not available at this name. Alone, that is
    // an answer: the list is empty (re-resolved at the record's TTL, else the floor). Beside other records
    // it contradicts them, and is skipped.
    if (srvs.every(isRootTarget)) return { endpoints: [], ttlS: Number.isFinite(ttlS) ? ttlS : 0 };
    const resolved = await Promise.allSettled(
      srvs.map((s, i) =>
        isRootTarget(s)
          ? Promise.reject(
              typeError(`dns+srv[${i}].name`, 'a host name ("." = not available, only as the sole record)', s.name),
            )
          : typeof s.name === 'string' && s.name.length > 0
            ? this.addresses(s.name)
            : Promise.reject(typeError(`dns+srv[${i}].name`, 'a DNS name', s.name)),
      ),
    );
    // a record is named by its target and port, not its place in an answer servers rotate
    const items: Array<{ index: string; input: EndpointInput }> = [];
    let failures = 0;
    for (let i = 0; i < srvs.length; i++) {
      const s = srvs[i]!;
      const r = resolved[i]!;
      if (r.status === 'rejected') {
        failures++;
        const e: unknown = r.reason;
        // a target that does not resolve: named, with the lookup's error as cause and its code (a bad name is
        // already a TypeError naming the record)
        this.out.error(
          e instanceof TypeError
            ? e
            : Object.assign(
                new Error(
                  `dns+srv[${s.name}:${s.port}] skipped: its target did not resolve (${(e as Error)?.message ?? String(e)})`,
                  { cause: e },
                ),
                { code: (e as { code?: unknown } | null)?.code },
              ),
        );
        continue;
      }
      for (const a of r.value) {
        ttlS = Math.min(ttlS, a.ttlS);
        items.push({
          index: `${s.name}:${s.port}`,
          input: {
            host: a.address,
            port: s.port,
            priority: s.priority,
            // RFC 2782: weight 0 is "a very small chance"; anything else is validated as a weight.
            weight: s.weight === 0 ? 1 : s.weight,
            metadata: { target: s.name, srvWeight: s.weight },
          },
        });
      }
    }
    if (failures === srvs.length) throw new Error(`dns: no SRV target of ${JSON.stringify(this.host)} resolved`);
    // Stable order: priority class, then address, so identical answers compare equal.
    const endpoints = parseAnswer('dns+srv', items, byPriorityHost, (e) => this.out.error(e));
    // Every record skipped (each reported): no usable answer, a failure that keeps the last list.
    if (endpoints.length === 0)
      throw new Error(`dns: no valid SRV record for ${JSON.stringify(this.host)} (every record was skipped)`);
    return { endpoints, ttlS };
  }
}

const byPriorityHost = (x: Endpoint, y: Endpoint): number => x.priority - y.priority || byHostPort(x, y);

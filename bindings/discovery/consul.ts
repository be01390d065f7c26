// The Consul resolver: GET /v1/health/service/<service> (Consul HTTP API, "Health - List Service
// Instances for Service"), with `passing`, `tag` and `dc` filters, as a blocking query loop (Consul API
// docs, "Blocking Queries"): the first request is non-blocking; later ones send `index=<X-Consul-Index>`
// and `wait=<s>s` and hang until the result may have changed. Following the docs' implementation notes,
// the index is reset to 0 when it goes backwards (a server restored or a new leader), an index below 1
// is raised to 1 so a loop never busy-polls, loops are rate-limited (`minQueryIntervalMs`), and a
// returned request is no promise of a change (identical lists are not re-reported).
//
// Each entry `{Node, Service, Checks}` becomes an endpoint: host = `Service.Address`, falling back to
// `Node.Address` when empty; port = `Service.Port`; weight = `Service.Weights.Passing` (or `.Warning` when
// a check is in warning; an instance whose weight is 0 is left out, as Consul DNS does); metadata
// carries node, service id, tags and meta. `fetch` only: runs in Node and browsers.
//
//   new ConsulResolver({ address: 'http://127.0.0.1:8500', service: 'api', passing: true, tags: ['v2'] }, l);
import type { Clock } from '../util/clock.js';
import { parseEndpoints, type Endpoint } from '../util/endpoint.js';
import {
  commonOptions,
  Delivery,
  msOption,
  RefreshLimiter,
  type CommonResolverOptions,
  type FetchLike,
  type Resolver,
  type ResolverListener,
} from './resolver.js';
import { intInRange, typeError } from '../util/validate.js';

export interface ConsulResolverOptions extends CommonResolverOptions {
  service: string;
  /** The agent's HTTP address (default http://127.0.0.1:8500). */
  address?: string;
  /** Only instances whose checks all pass (default true). */
  passing?: boolean;
  /** Instances carrying every one of these tags. */
  tags?: string[];
  dc?: string;
  /** ACL token, sent as `X-Consul-Token`. */
  token?: string;
  /** Blocking wait in seconds (default 300, Consul's maximum is 600). */
  waitS?: number;
  /** Minimum time between two queries of the loop (default 100 ms). */
  minQueryIntervalMs?: number;
  /** Retry delay after a failure (default 1 s), doubled up to `maxBackoffMs` (default 30 s). */
  backoffMs?: number;
  maxBackoffMs?: number;
  fetch?: FetchLike;
}

export const DEFAULT_CONSUL_ADDRESS = 'http://127.0.0.1:8500';
export const DEFAULT_CONSUL_WAIT_S = 300;
export const DEFAULT_CONSUL_MIN_QUERY_INTERVAL_MS = 100;
export const DEFAULT_CONSUL_BACKOFF_MS = 1_000;
export const DEFAULT_CONSUL_MAX_BACKOFF_MS = 30_000;

interface HealthEntry {
  Node?: { Node?: unknown; Address?: unknown; Datacenter?: unknown };
  Service?: {
    ID?: unknown;
    Service?: unknown;
    Address?: unknown;
    Port?: unknown;
    Tags?: unknown;
    Meta?: unknown;
    Weights?: { Passing?: unknown; Warning?: unknown };
  };
  Checks?: Array<{ Status?: unknown }>;
}

export interface ConsulResolverStats {
  index: number;
  queries: number;
  resets: number;
}

export class ConsulResolver implements Resolver {
  private readonly out: Delivery;
  private readonly clock: Clock;
  private readonly limiter: RefreshLimiter;
  private readonly fetch: FetchLike;
  private readonly baseUrl: string;
  private readonly token: string | undefined;
  private readonly waitS: number;
  private readonly minQueryIntervalMs: number;
  private readonly backoffMs: number;
  private readonly maxBackoffMs: number;
  private index = 0;
  private closed = false;
  private ac: AbortController | undefined;
  private sleepTimer: unknown;
  private wake: (() => void) | undefined;
  private readonly counters = { queries: 0, resets: 0 };

  constructor(opts: ConsulResolverOptions, listener: ResolverListener) {
    if (opts === null || typeof opts !== 'object') throw typeError('options', 'an object', opts);
    const c = commonOptions(opts);
    this.clock = c.clock;
    if (typeof opts.service !== 'string' || !/^[^/?#\s]+$/.test(opts.service))
      throw typeError('service', 'a Consul service name', opts.service);
    const address = (opts.address ?? DEFAULT_CONSUL_ADDRESS).replace(/\/+$/, '');
    if (!/^https?:\/\/[^/]+$/.test(address)) throw typeError('address', 'an http(s)://host:port URL', opts.address);
    const q = new URLSearchParams();
    if (opts.passing ?? true) q.set('passing', 'true');
    if (opts.tags !== undefined) {
      if (!Array.isArray(opts.tags)) throw typeError('tags', 'an array of strings', opts.tags);
      opts.tags.forEach((t, i) => {
        if (typeof t !== 'string' || t.length === 0) throw typeError(`tags[${i}]`, 'a non-empty string', t);
        q.append('tag', t);
      });
    }
    if (opts.dc !== undefined) {
      if (typeof opts.dc !== 'string' || opts.dc.length === 0) throw typeError('dc', 'a datacenter name', opts.dc);
      q.set('dc', opts.dc);
    }
    this.baseUrl = `${address}/v1/health/service/${encodeURIComponent(opts.service)}?${q.toString()}`;
    if (opts.token !== undefined && typeof opts.token !== 'string') throw typeError('token', 'a string', opts.token);
    this.token = opts.token;
    this.waitS = opts.waitS === undefined ? DEFAULT_CONSUL_WAIT_S : intInRange('waitS', opts.waitS, 1, 600);
    this.minQueryIntervalMs = msOption(
      'minQueryIntervalMs',
      opts.minQueryIntervalMs,
      DEFAULT_CONSUL_MIN_QUERY_INTERVAL_MS,
    );
    this.backoffMs = msOption('backoffMs', opts.backoffMs, DEFAULT_CONSUL_BACKOFF_MS);
    this.maxBackoffMs = msOption('maxBackoffMs', opts.maxBackoffMs, DEFAULT_CONSUL_MAX_BACKOFF_MS);
    this.fetch = opts.fetch ?? ((u, i) => fetch(u, i));
    this.out = new Delivery(listener);
    this.limiter = new RefreshLimiter(c.minRefreshIntervalMs, c.clock, () => this.wake?.());
    queueMicrotask(() => void this.run());
  }

  /** Ends a pending backoff early (rate-limited); a blocking query in progress already watches. */
  refresh(): void {
    this.limiter.request();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.out.close();
    this.limiter.close();
    this.ac?.abort();
    this.wake?.();
  }

  stats(): ConsulResolverStats {
    return { index: this.index, ...this.counters };
  }

  private sleep(ms: number): Promise<void> {
    if (ms <= 0) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        if (this.sleepTimer !== undefined) this.clock.clearTimeout(this.sleepTimer);
        this.sleepTimer = undefined;
        this.wake = undefined;
        resolve();
      };
      this.wake = done;
      this.sleepTimer = this.clock.setTimeout(done, ms, { background: true });
    });
  }

  private async run(): Promise<void> {
    let backoff = this.backoffMs;
    while (!this.closed) {
      const startedMs = this.clock.now();
      try {
        await this.query();
        backoff = this.backoffMs;
        // Rate limit: at most one query per minQueryIntervalMs, however fast the server answers.
        await this.sleep(startedMs + this.minQueryIntervalMs - this.clock.now());
      } catch (e) {
        if (this.closed) return;
        this.out.error(e instanceof Error ? e : new Error(String(e)));
        await this.sleep(backoff);
        backoff = Math.min(backoff * 2, this.maxBackoffMs);
      }
    }
  }

  private async query(): Promise<void> {
    const url = this.index > 0 ? `${this.baseUrl}&index=${this.index}&wait=${this.waitS}s` : this.baseUrl;
    const ac = new AbortController();
    this.ac = ac;
    // Consul adds up to wait/16 of jitter; allow that plus slack before giving up on the request.
    const timeoutMs = this.index > 0 ? this.waitS * 1000 * (17 / 16) + 5_000 : 30_000;
    const timer = this.clock.setTimeout(() => ac.abort(), timeoutMs, { background: true });
    this.counters.queries++;
    let res: Response;
    let body: unknown;
    try {
      const headers: Record<string, string> = { accept: 'application/json' };
      if (this.token !== undefined) headers['x-consul-token'] = this.token;
      res = await this.fetch(url, { headers, signal: ac.signal });
      const text = await res.text();
      if (!res.ok) throw new Error(`consul: HTTP ${res.status} ${text.slice(0, 120)}`);
      try {
        body = JSON.parse(text);
      } catch {
        throw new Error(`consul: response is not JSON: ${text.slice(0, 80)}`);
      }
    } finally {
      this.clock.clearTimeout(timer);
      this.ac = undefined;
    }
    if (this.closed) return;
    if (!Array.isArray(body)) throw typeError('consul response', 'a JSON array of health entries', body);
    const raw = res.headers.get('x-consul-index');
    // Docs: an index below 1 is treated as 1, so the next query blocks instead of busy-looping.
    const idx = Math.max(raw !== null && /^\d+$/.test(raw) ? Number(raw) : 0, 1);
    if (idx < this.index) {
      // Went backwards: start over with a non-blocking query (docs: "reset the index if it goes backwards").
      this.index = 0;
      this.counters.resets++;
    } else this.index = idx;
    this.out.endpoints(this.toEndpoints(body as HealthEntry[]));
  }

  private toEndpoints(entries: HealthEntry[]): Endpoint[] {
    const inputs = [];
    for (let i = 0; i < entries.length; i++) {
      const e = entries[i];
      const svc = e?.Service;
      if (svc === undefined || svc === null || typeof svc !== 'object') {
        this.out.error(typeError(`consul entry[${i}].Service`, 'an object', svc));
        continue;
      }
      const host = typeof svc.Address === 'string' && svc.Address.length > 0 ? svc.Address : e?.Node?.Address;
      const warning = Array.isArray(e?.Checks) && e.Checks.some((c) => c?.Status === 'warning');
      const w = warning ? svc.Weights?.Warning : svc.Weights?.Passing;
      if (w === 0) continue;
      inputs.push({
        host: host as string,
        port: svc.Port as number,
        weight: (w ?? 1) as number,
        metadata: { node: e?.Node?.Node, serviceId: svc.ID, tags: svc.Tags ?? [], meta: svc.Meta ?? {} },
      });
    }
    inputs.sort((a, b) =>
      String(a.host) < String(b.host) ? -1 : String(a.host) > String(b.host) ? 1 : a.port - b.port,
    );
    return parseEndpoints('consul entry', inputs, (e) => this.out.error(e), { address: 'required' });
  }
}

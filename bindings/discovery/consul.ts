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
// carries node, service id, tags and meta. Locality (Envoy's region/zone/subZone): region = the meta key
// `region`, else the node's `Datacenter`; zone = `zone`; subZone = `sub_zone`; each meta key read from
// `Service.Meta` first, then `Node.Meta` (Consul meta values are strings; anything else skips the entry
// with a TypeError). No datacenter and no such keys: no locality. A skipped entry (invalid, or a duplicate
// address) is reported naming its index in Consul's answer (`consul entry[i]`). A failed query is reported
// as a `ResolverError` and retried after a back-off (1 s, doubled up to 30 s by default). `fetch` only: runs
// in Node and browsers. Options are checked at construction (`address` an http(s) URL, `passing` a boolean,
// `fetch` a function...): a TypeError/RangeError naming the field, never a failing query loop.
//
//   new ConsulResolver({ address: 'http://127.0.0.1:8500', service: 'api', passing: true, tags: ['v2'] }, l);
import { byHostPort, parseAnswer, type Endpoint, type EndpointInput } from '../util/endpoint.js';
import { bool, intInRange, str, typeError } from '../util/validate.js';
import { Backoff, type BackoffOptions } from '../util/backoff.js';
import { abortAfter } from '../util/abort-after.js';
import type { CommonResolverOptions, FetchLike, ResolverListener } from './resolver.js';
import { fetchOption, isUrl, msOption, Pause, ResolverBase } from './base.js';

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
  fetch?: FetchLike;
}

export const DEFAULT_CONSUL_ADDRESS = 'http://127.0.0.1:8500';
export const DEFAULT_CONSUL_WAIT_S = 300;
export const DEFAULT_CONSUL_MIN_QUERY_INTERVAL_MS = 100;
/** Back-off after a failed query: 1 s, doubled up to 30 s. */
export const DEFAULT_CONSUL_BACKOFF: Readonly<Required<BackoffOptions>> = Object.freeze({
  initialBackoffMs: 1_000,
  maxBackoffMs: 30_000,
  backoffMultiplier: 2,
});

interface HealthEntry {
  Node?: { Node?: unknown; Address?: unknown; Datacenter?: unknown; Meta?: unknown };
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

export class ConsulResolver extends ResolverBase {
  private readonly fetch: FetchLike;
  private readonly baseUrl: string;
  private readonly token: string | undefined;
  private readonly waitS: number;
  private readonly minQueryIntervalMs: number;
  private readonly backoff: Backoff;
  private readonly pause = new Pause(this.clock);
  private index = 0;
  /** The query in flight (close() aborts it). */
  private readonly inflight = new Set<AbortController>();
  private readonly counters = { queries: 0, resets: 0 };

  constructor(opts: ConsulResolverOptions, listener: ResolverListener) {
    super(opts, listener, `consul:///${String(opts?.service)}`);
    if (typeof opts.service !== 'string' || !/^[^/?#\s]+$/.test(opts.service))
      throw typeError('service', 'a Consul service name', opts.service);
    const given: unknown = opts.address === undefined ? DEFAULT_CONSUL_ADDRESS : opts.address;
    const address = typeof given === 'string' ? given.replace(/\/+$/, '') : '';
    if (!/^https?:\/\/[^/\s?#]+$/.test(address) || !isUrl(address))
      throw typeError('address', 'an http(s)://host:port URL', opts.address);
    const q = new URLSearchParams();
    if (opts.passing === undefined || bool('passing', opts.passing)) q.set('passing', 'true');
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
    if (opts.token !== undefined) str('token', opts.token);
    this.token = opts.token;
    this.waitS = opts.waitS === undefined ? DEFAULT_CONSUL_WAIT_S : intInRange('waitS', opts.waitS, 1, 600);
    this.minQueryIntervalMs = msOption(
      'minQueryIntervalMs',
      opts.minQueryIntervalMs,
      DEFAULT_CONSUL_MIN_QUERY_INTERVAL_MS,
    );
    this.backoff = new Backoff(opts, undefined, DEFAULT_CONSUL_BACKOFF);
    this.fetch = fetchOption('fetch', opts.fetch);
    queueMicrotask(() => void this.run());
  }

  stats(): ConsulResolverStats {
    return { index: this.index, ...this.counters };
  }

  /** Ends a pending back-off early; a blocking query in progress already watches. */
  protected onRefresh(): void {
    this.pause.wake();
  }

  protected onClose(): void {
    for (const ac of this.inflight) ac.abort();
    this.pause.wake();
  }

  private async run(): Promise<void> {
    let failures = 0;
    while (!this.closed) {
      const startedMs = this.clock.now();
      try {
        await this.query();
        failures = 0;
        // A listener may close() us on the list just delivered: no timer after that.
        if (this.closed) return;
        // Rate limit: at most one query per minQueryIntervalMs, however fast the server answers.
        await this.pause.sleep(startedMs + this.minQueryIntervalMs - this.clock.now());
      } catch (e) {
        if (this.closed) return;
        this.fail(e);
        await this.pause.sleep(this.backoff.capMs(++failures));
      }
    }
  }

  private async query(): Promise<void> {
    const url = this.index > 0 ? `${this.baseUrl}&index=${this.index}&wait=${this.waitS}s` : this.baseUrl;
    // Consul adds up to wait/16 of jitter; allow that plus slack before giving up on the request.
    const timeoutMs = this.index > 0 ? this.waitS * 1000 * (17 / 16) + 5_000 : 30_000;
    this.counters.queries++;
    const headers: Record<string, string> = { accept: 'application/json' };
    if (this.token !== undefined) headers['x-consul-token'] = this.token;
    const { res, body } = await abortAfter(
      this.clock,
      timeoutMs,
      async (signal) => {
        const res = await this.fetch(url, { headers, signal });
        const text = await res.text();
        if (!res.ok) throw new Error(`consul: HTTP ${res.status} ${text.slice(0, 120)}`);
        try {
          return { res, body: JSON.parse(text) as unknown };
        } catch {
          throw new Error(`consul: response is not JSON: ${text.slice(0, 80)}`);
        }
      },
      {
        live: this.inflight,
        aborted: (e, timedOut) => (timedOut ? new Error(`consul: no answer within ${timeoutMs} ms`) : e),
      },
    );
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

  /**
   * The answer's endpoints, sorted by host then port so identical answers compare equal. A skipped entry
   * (invalid, or a duplicate of an earlier one in the answer) is named by its index in Consul's answer
   * (`consul entry[i]`), not by its place after sorting.
   */
  private toEndpoints(entries: HealthEntry[]): Endpoint[] {
    const items: Array<{ index: number; input: EndpointInput }> = [];
    let serving = 0; // entries not out of rotation, valid or not
    for (let i = 0; i < entries.length; i++) {
      const e = entries[i];
      const svc = e?.Service;
      if (svc === undefined || svc === null || typeof svc !== 'object') {
        serving++;
        this.out.error(typeError(`consul entry[${i}].Service`, 'an object', svc));
        continue;
      }
      const host = typeof svc.Address === 'string' && svc.Address.length > 0 ? svc.Address : e?.Node?.Address;
      const warning = Array.isArray(e?.Checks) && e.Checks.some((c) => c?.Status === 'warning');
      const w = warning ? svc.Weights?.Warning : svc.Weights?.Passing;
      if (w === 0) continue;
      serving++;
      const locality = consulLocality(e!);
      items.push({
        index: i,
        input: {
          host: host as string,
          port: svc.Port as number,
          weight: (w ?? 1) as number,
          metadata: { node: e?.Node?.Node, serviceId: svc.ID, tags: svc.Tags ?? [], meta: svc.Meta ?? {} },
          ...(locality !== undefined && { locality: locality as never }),
        },
      });
    }
    const endpoints = parseAnswer('consul entry', items, byHostPort, (err) => this.out.error(err));
    // entries to serve but none valid (each reported): no usable answer, a failure that keeps the last list (as
    // DNS does); an empty answer, or one whose entries are all out of rotation (weight 0), is a list of none
    if (endpoints.length === 0 && serving > 0)
      throw new Error(`consul: no valid entry in ${this.uri} (every entry was skipped)`);
    return endpoints;
  }
}

/** Meta key → locality field (see the module header). */
const LOCALITY_KEYS = [
  ['region', 'region'],
  ['zone', 'zone'],
  ['sub_zone', 'subZone'],
] as const;

/** The entry's locality input (validated by parseEndpoint), or undefined when nothing is known. */
function consulLocality(e: HealthEntry): Record<string, unknown> | undefined {
  const meta = (m: unknown) => (m !== null && typeof m === 'object' ? (m as Record<string, unknown>) : {});
  const svcMeta = meta(e.Service?.Meta);
  const nodeMeta = meta(e.Node?.Meta);
  const out: Record<string, unknown> = {};
  for (const [key, field] of LOCALITY_KEYS) {
    const v = svcMeta[key] ?? nodeMeta[key];
    if (v !== undefined && v !== '') out[field] = v;
  }
  const dc = e.Node?.Datacenter;
  if (out.region === undefined && dc !== undefined && dc !== '') out.region = dc;
  return Object.keys(out).length > 0 ? out : undefined;
}

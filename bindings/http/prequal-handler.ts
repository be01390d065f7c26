// The server side of Prequal (bindings/balancing/policies/prequal.ts; Wydrowski et al., NSDI 2024): count
// requests in flight (RIF), learn the latency at each RIF, and answer probes with both.
//
// - A request's latency is recorded under the RIF it found on arrival (the requests already in flight).
//   Each RIF bucket (one per RIF up to 31, then one per power of two) keeps its last `samplesPerBucket`
//   (default 16) latencies; samples older than `maxSampleAgeMs` (default 1000) are not used.
// - The estimate at RIF k is the median of the fresh samples of k's bucket, else of the nearest bucket with
//   fresh samples (lower first); with none anywhere it is unknown (`latencyMs: null`), and the client explores
//   the member with one request at a time.
// - Probe wire format (docs/prequal.md): `GET <path>` (default /prequal) → 200, JSON
//   `{"rif": <integer >= 0>, "latencyMs": <number >= 0 | null>}`, `cache-control: no-store`. Probes are not
//   counted as requests.
//
//   const tracker = new PrequalTracker();
//   http.createServer(prequalHandler(app, { tracker })).listen(8080);       // node:http
//   export default { fetch: prequalFetchHandler(appFetch) };                 // fetch-style runtimes
import { type Clock, systemClock, validateClock } from '../util/clock.js';
import { intInRange, rangeError, typeError } from '../util/validate.js';

export const DEFAULT_PREQUAL_PATH = '/prequal';
const EXACT_BUCKETS = 32;
const BUCKETS = EXACT_BUCKETS + 27; // up to RIF 2^32

export interface PrequalTrackerOptions {
  clock?: Clock;
  /** Latencies kept per RIF bucket (default 16). */
  samplesPerBucket?: number;
  /** Samples older than this are ignored (default 1000 ms). */
  maxSampleAgeMs?: number;
}

/** What a probe answers. */
export interface PrequalProbeAnswer {
  rif: number;
  latencyMs: number | null;
}

/** RIF at arrival → bucket. */
export function rifBucket(rif: number): number {
  if (rif < EXACT_BUCKETS) return rif;
  return Math.min(BUCKETS - 1, EXACT_BUCKETS + Math.floor(Math.log2(rif)) - 5);
}

class Bucket {
  readonly lat: Float64Array;
  readonly at: Float64Array;
  n = 0;
  next = 0;
  constructor(k: number) {
    this.lat = new Float64Array(k);
    this.at = new Float64Array(k);
  }
}

/** RIF counter and per-RIF latency estimator of one server. */
export class PrequalTracker {
  readonly clock: Clock;
  readonly samplesPerBucket: number;
  readonly maxSampleAgeMs: number;
  private inFlight = 0;
  private readonly buckets: (Bucket | undefined)[] = new Array<Bucket | undefined>(BUCKETS);
  private readonly scratch: Float64Array;
  private counts = { requests: 0, probes: 0 };

  constructor(o: PrequalTrackerOptions = {}) {
    if (o === null || typeof o !== 'object') throw typeError('options', 'an object', o);
    this.clock = o.clock === undefined ? systemClock : validateClock('clock', o.clock);
    this.samplesPerBucket =
      o.samplesPerBucket === undefined ? 16 : intInRange('samplesPerBucket', o.samplesPerBucket, 1, 4096);
    const age = o.maxSampleAgeMs ?? 1000;
    if (typeof age !== 'number' || !(age > 0) || !Number.isFinite(age))
      throw rangeError('maxSampleAgeMs', 'a finite number of milliseconds > 0', age);
    this.maxSampleAgeMs = age;
    this.scratch = new Float64Array(this.samplesPerBucket);
  }

  /** Requests in flight now. */
  get rif(): number {
    return this.inFlight;
  }

  /**
   * A request arrived: returns the function that ends it (call it once when the response is finished; later
   * calls are ignored). Its latency is recorded under the RIF it found.
   */
  begin(): () => void {
    const rif = this.inFlight++;
    this.counts.requests++;
    const start = this.clock.now();
    let ended = false;
    return () => {
      if (ended) return;
      ended = true;
      this.inFlight--;
      const now = this.clock.now();
      this.record(rif, Math.max(0, now - start), now);
    };
  }

  /** Records one latency sample under RIF `rif` (for requests counted elsewhere). */
  record(rif: number, latencyMs: number, now = this.clock.now()): void {
    if (!(latencyMs >= 0) || !Number.isFinite(latencyMs) || !(rif >= 0)) return;
    const i = rifBucket(Math.floor(rif));
    let b = this.buckets[i];
    if (b === undefined) b = this.buckets[i] = new Bucket(this.samplesPerBucket);
    b.lat[b.next] = latencyMs;
    b.at[b.next] = now;
    b.next = (b.next + 1) % b.lat.length;
    if (b.n < b.lat.length) b.n++;
  }

  /** The latency a request arriving at RIF `rif` (default: now) would meet, or null when unknown. */
  estimateMs(rif = this.inFlight, now = this.clock.now()): number | null {
    const home = rifBucket(Math.max(0, Math.floor(rif)));
    for (let d = 0; d < BUCKETS; d++) {
      const lo = home - d;
      if (lo >= 0) {
        const m = this.median(this.buckets[lo], now);
        if (m === m) return m;
      }
      const hi = home + d;
      if (d > 0 && hi < BUCKETS) {
        const m = this.median(this.buckets[hi], now);
        if (m === m) return m;
      }
      if (lo < 0 && hi >= BUCKETS) break;
    }
    return null;
  }

  /** The probe answer now. */
  answer(): PrequalProbeAnswer {
    this.counts.probes++;
    return { rif: this.inFlight, latencyMs: this.estimateMs() };
  }

  stats(): { rif: number; requests: number; probes: number } {
    return { rif: this.inFlight, ...this.counts };
  }

  private median(b: Bucket | undefined, now: number): number {
    if (b === undefined || b.n === 0) return NaN;
    const s = this.scratch;
    let m = 0;
    for (let i = 0; i < b.n; i++) {
      if (now - b.at[i]! > this.maxSampleAgeMs) continue;
      const v = b.lat[i]!;
      let j = m - 1;
      while (j >= 0 && s[j]! > v) {
        s[j + 1] = s[j]!;
        j--;
      }
      s[j + 1] = v;
      m++;
    }
    if (m === 0) return NaN;
    return m % 2 === 1 ? s[m >> 1]! : (s[(m >> 1) - 1]! + s[m >> 1]!) / 2;
  }
}

export interface PrequalHandlerOptions {
  /** Shared tracker (default a new one, reachable as `handler.tracker`). */
  tracker?: PrequalTracker;
  /** The probe path (default /prequal). */
  path?: string;
}

/** The subset of node:http's IncomingMessage and ServerResponse used here. */
export interface NodeReq {
  url?: string;
  method?: string;
}
export interface NodeRes {
  statusCode: number;
  setHeader(name: string, value: string): unknown;
  end(body?: string): unknown;
  once(event: 'finish' | 'close', fn: () => void): unknown;
}
export type NodeListener<Q, S> = (req: Q, res: S, next?: (err?: unknown) => void) => void;

function checkPath(path: unknown): string {
  if (typeof path !== 'string' || !path.startsWith('/')) throw typeError('path', 'a path starting with /', path);
  return path;
}

function isProbe(url: string | undefined, path: string): boolean {
  if (url === undefined || !url.startsWith(path)) return false;
  const c = url.charCodeAt(path.length);
  return url.length === path.length || c === 63; /* ? */
}

export const PROBE_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  'content-type': 'application/json',
  'cache-control': 'no-store',
});

function probeBody(tracker: PrequalTracker): string {
  return JSON.stringify(tracker.answer());
}

/**
 * A node:http request listener (also usable as connect/express middleware): answers probes at `path` and
 * counts every other request (RIF, latency to the response's end) before passing it to `app` (or to `next`).
 * Without `app` and `next`, other requests get 404.
 */
export function prequalHandler<Q extends NodeReq, S extends NodeRes>(
  app?: NodeListener<Q, S>,
  options: PrequalHandlerOptions = {},
): NodeListener<Q, S> & { tracker: PrequalTracker } {
  if (app !== undefined && typeof app !== 'function') throw typeError('app', 'a request listener', app);
  const tracker = options.tracker ?? new PrequalTracker();
  const path = checkPath(options.path ?? DEFAULT_PREQUAL_PATH);
  const listener = (req: Q, res: S, next?: (err?: unknown) => void): void => {
    if (isProbe(req.url, path) && (req.method === 'GET' || req.method === 'HEAD' || req.method === undefined)) {
      res.statusCode = 200;
      for (const [k, v] of Object.entries(PROBE_HEADERS)) res.setHeader(k, v);
      res.end(req.method === 'HEAD' ? undefined : probeBody(tracker));
      return;
    }
    const end = tracker.begin();
    res.once('finish', end);
    res.once('close', end);
    if (app !== undefined) app(req, res, next);
    else if (next !== undefined) next();
    else {
      res.statusCode = 404;
      res.end();
    }
  };
  return Object.assign(listener, { tracker });
}

/**
 * A fetch-style handler `(Request) => Promise<Response>` (Deno, Bun, workerd, service workers): answers
 * probes at `path` and counts every other request until `app`'s response body is complete (or, for a body
 * that is not read, until the response is returned). Without `app`, other requests get 404.
 */
export function prequalFetchHandler(
  app?: (req: Request) => Response | Promise<Response>,
  options: PrequalHandlerOptions = {},
): ((req: Request) => Promise<Response>) & { tracker: PrequalTracker } {
  if (app !== undefined && typeof app !== 'function') throw typeError('app', 'a function (Request) => Response', app);
  const tracker = options.tracker ?? new PrequalTracker();
  const path = checkPath(options.path ?? DEFAULT_PREQUAL_PATH);
  const handler = async (req: Request): Promise<Response> => {
    const u = new URL(req.url);
    if (u.pathname === path && (req.method === 'GET' || req.method === 'HEAD')) {
      return new Response(req.method === 'HEAD' ? null : probeBody(tracker), { status: 200, headers: PROBE_HEADERS });
    }
    const end = tracker.begin();
    if (app === undefined) {
      end();
      return new Response(null, { status: 404 });
    }
    let res: Response;
    try {
      res = await app(req);
    } catch (e) {
      end();
      throw e;
    }
    if (res.body === null) {
      end();
      return res;
    }
    // end when the body has been sent (or the consumer cancelled it)
    const reader = res.body.getReader();
    const body = new ReadableStream<Uint8Array>({
      async pull(ctrl) {
        try {
          const r = await reader.read();
          if (r.done) {
            end();
            ctrl.close();
          } else ctrl.enqueue(r.value);
        } catch (e) {
          end();
          ctrl.error(e);
        }
      },
      cancel(reason) {
        end();
        return reader.cancel(reason);
      },
    });
    return new Response(body, { status: res.status, statusText: res.statusText, headers: res.headers });
  };
  return Object.assign(handler, { tracker });
}

// prequal: Prequal, "Probing to Reduce Queuing and Latency" (Wydrowski, Kleinberg, Rumble, Archer, "Load is not
// what you should balance: Introducing Prequal", NSDI 2024, arXiv 2312.10172; in production at YouTube).
// Servers are ranked by what a request would meet there, not by CPU load: each member answers probes with its
// requests in flight (RIF) and its latency estimate at that RIF (bindings/http/prequal-handler.ts).
//
// - Probing: every pick fires ⌊r⌋ probes, one more with probability r − ⌊r⌋ (`probeRate` r, default 1), to
//   distinct members sampled uniformly. Probes are asynchronous (`probe(member, signal)`, never awaited by a
//   pick), at most `maxProbesInFlight` at once, aborted after `probeTimeoutMs` on the balancer's clock.
//   Start-up probes (ours, `warmupProbes`): building a picker probes once each member not probed within
//   maxAgeMs, so that a first burst of picks (a closed loop of N clients starting) is not blind.
// - Probe pool: at most `poolSize` answers (default 16); a new answer evicts the oldest when full. An answer
//   is dropped when older than `maxAgeMs` (default 1000) or used `reuseBudget` times (default 6); each use
//   adds 1 to its RIF (the request just sent). After a pick, the worst answer left is removed at `removeRate`
//   per pick (the hottest, or with no hot one the slowest), so that answers nobody wants do not crowd the pool.
// - Hot-cold lexicographic rule (HCL): an answer is hot when the RIF its member answered exceeds the
//   `rifQuantile` (Q_RIF, default 0.84) quantile of the last `2 × poolSize` RIFs seen: answered ones and those
//   a reuse raised (ours: with answered RIFs alone, a reused answer at RIF 1 is hot among answers at 0, and a
//   cold 10x slower member wins over it). Hot/cold is judged on the answered RIF, not on the one our uses
//   raised (ours: in a burst of picks with no answer in between, our own increments turned every fast answer
//   hot, hot answers lose to cold ones and are removed first, and the pool was left with the idle slow
//   member's answers, which took runs of picks at concurrency 64). With a cold answer, the cold one with the
//   lowest latency wins (ties, measured from the lowest cold latency: lower RIF with our uses); with none, the
//   lowest RIF with our uses wins. A member that answered without a latency (no recent requests) ranks as
//   latency 0 while we have nothing in flight to it, else after every known one, so exploring it costs one
//   request at a time.
// - No usable answer (no prober, all stale, first picks, probes still in flight): power of two choices
//   (bindings/balancing/p2c.ts) by the member's last answered latency (none yet: one request at a time, as
//   above), then our own requests in flight (ours: in-flight counts alone gave a 10x slower member ~6% of these
//   picks at concurrency 64, and in-flight × latency still ~4%, because our count overstates the queue of a
//   server that runs requests in parallel).
// - Answers are validated: not an object, RIF not an integer in [0, maxRif], latency not null or a number in
//   [0, maxLatencyMs], bodies over 4 KiB: ignored and counted (`probeStats()`); a pick never throws or waits.
// - Retirement: when the Balancer closes or switches to another policy (`releaseSlots` with an empty set other
//   than NONE_BUILT), probes in flight are aborted, their timers cleared and their answers ignored; none start
//   until the policy builds a picker again (installed anew).
//
// docs/prequal.md gives the defaults and their origin, the probe wire format and the measured behaviour.
//
//   const lb = new Balancer({ policy: { name: 'prequal', probe: createHttpProber() }, endpoints });
import type { Clock, TimerHandle } from '../../util/clock.js';
import { type Endpoint, parseEndpoint } from '../../util/endpoint.js';
import { bool, typeError } from '../../util/validate.js';
import { type LoadMetric, P2CPicker, sampleDistinct } from '../p2c.js';
import { COL_ACTIVE, NONE_BUILT, type Picker, type PickContext, type Policy, type PolicyEnv } from '../picker.js';
import { asObject, checkKeys, durationMs, int, num, pickKey } from '../policy-config.js';

/** Sends one probe; resolves with the member's answer `{ rif, latencyMs }` (validated by the policy). */
export type PrequalProbe = (member: Endpoint, signal: AbortSignal) => Promise<unknown>;

/** A probe answer as the policy keeps it. `latencyMs` is NaN when the member had no estimate. */
export interface ProbeAnswer {
  rif: number;
  latencyMs: number;
}

export interface PrequalConfig {
  /** Probes per pick, r (default 1). */
  probeRate: number;
  /** Answers kept (default 16). */
  poolSize: number;
  /** Answers older than this are not used (default 1000 ms). */
  maxAgeMs: number;
  /** Uses of one answer (default 6). */
  reuseBudget: number;
  /** Worst answers removed per pick (default (probeRate − 1/reuseBudget) / 2, half the surplus: 5/12). */
  removeRate: number;
  /** Q_RIF: answers with a RIF above this quantile of recent RIFs are hot (default 0.84). */
  rifQuantile: number;
  /** A probe not answered within this is aborted and counted as a timeout (default 1000 ms). */
  probeTimeoutMs: number;
  /** Probes in flight at most; a pick that would exceed it skips its probes (default 4 × poolSize = 64). */
  maxProbesInFlight: number;
  /** Answers with a larger RIF are rejected as hostile (default 1e6). */
  maxRif: number;
  /** Answers with a larger latency are rejected as hostile (default 3 600 000 ms). */
  maxLatencyMs: number;
  /** Probe every member once when a picker is built over members without a recent answer (default true). */
  warmupProbes: boolean;
  /** The prober (TS API only; createFetch sets an HTTP prober when none is given). */
  probe?: PrequalProbe;
}

export const DEFAULT_PROBE_RATE = 1;
export const DEFAULT_REUSE_BUDGET = 6;
export const DEFAULT_POOL_SIZE = 16;
export const DEFAULT_MAX_AGE_MS = 1000;
export const DEFAULT_RIF_QUANTILE = 0.84;
export const DEFAULT_PROBE_TIMEOUT_MS = 1000;
/** The hot threshold is the Q_RIF quantile of the last HISTORY_PER_POOL_SLOT × poolSize RIFs seen. */
export const HISTORY_PER_POOL_SLOT = 2;
/** Longest probe answer accepted as a string (the HTTP prober enforces the same bound on bodies). */
export const MAX_ANSWER_CHARS = 4096;

export function parsePrequal(json: unknown, field = 'prequal'): PrequalConfig {
  const o = asObject(field, json);
  checkKeys(field, o, [
    'probeRate',
    'probe_rate',
    'poolSize',
    'pool_size',
    'maxAgeMs',
    'max_age',
    'reuseBudget',
    'reuse_budget',
    'removeRate',
    'remove_rate',
    'rifQuantile',
    'rif_quantile',
    'probeTimeoutMs',
    'probe_timeout',
    'maxProbesInFlight',
    'max_probes_in_flight',
    'maxRif',
    'max_rif',
    'maxLatencyMs',
    'max_latency',
    'warmupProbes',
    'warmup_probes',
    'probe',
  ]);
  const probeRate = num(field, o, 'probeRate', 'probe_rate', DEFAULT_PROBE_RATE, 0, 64);
  const poolSize = int(field, o, 'poolSize', 'pool_size', DEFAULT_POOL_SIZE, 1, 4096);
  const reuseBudget = int(field, o, 'reuseBudget', 'reuse_budget', DEFAULT_REUSE_BUDGET, 1, 1e9);
  const c: PrequalConfig = {
    probeRate,
    poolSize,
    maxAgeMs: durationMs(field, o, 'maxAgeMs', 'max_age', DEFAULT_MAX_AGE_MS, Number.MIN_VALUE),
    reuseBudget,
    // half the surplus of answers over uses, so that the pool still fills up
    removeRate: num(field, o, 'removeRate', 'remove_rate', Math.max(0, (probeRate - 1 / reuseBudget) / 2), 0, 64),
    rifQuantile: num(field, o, 'rifQuantile', 'rif_quantile', DEFAULT_RIF_QUANTILE, 0, 1),
    probeTimeoutMs: durationMs(field, o, 'probeTimeoutMs', 'probe_timeout', DEFAULT_PROBE_TIMEOUT_MS, 1),
    maxProbesInFlight: int(field, o, 'maxProbesInFlight', 'max_probes_in_flight', 4 * poolSize, 1, 1e6),
    maxRif: int(field, o, 'maxRif', 'max_rif', 1e6, 0, 2 ** 31),
    maxLatencyMs: durationMs(field, o, 'maxLatencyMs', 'max_latency', 3_600_000, 0),
    warmupProbes: flag(field, o, 'warmupProbes', 'warmup_probes', true),
  };
  if (o.probe !== undefined) {
    if (typeof o.probe !== 'function')
      throw typeError(`${field}.probe`, 'a function (member, signal) => Promise', o.probe);
    c.probe = o.probe as PrequalProbe;
  }
  return c;
}

/** The boolean at `key` or `alt` (snake_case), `dflt` when neither is set. */
function flag(field: string, o: Record<string, unknown>, key: string, alt: string, dflt: boolean): boolean {
  const kv = pickKey(o, key, alt, field);
  return kv === undefined ? dflt : bool(`${field}.${kv[0]}`, kv[1]);
}

/**
 * Reads a probe answer: `{ rif, latencyMs }` (or `latency_ms`), or the same as a JSON string of at most
 * MAX_ANSWER_CHARS. Returns a reason string for anything else.
 */
export function readProbeAnswer(x: unknown, maxRif = 1e6, maxLatencyMs = 3_600_000): ProbeAnswer | string {
  if (typeof x === 'string') {
    if (x.length > MAX_ANSWER_CHARS) return 'oversized';
    try {
      x = JSON.parse(x);
    } catch {
      return 'malformed';
    }
  }
  if (x === null || typeof x !== 'object' || Array.isArray(x)) return 'malformed';
  const o = x as Record<string, unknown>;
  const rif = o.rif;
  if (typeof rif !== 'number' || !Number.isInteger(rif) || rif < 0 || rif > maxRif) return 'rif';
  const l = o.latencyMs !== undefined ? o.latencyMs : o.latency_ms;
  if (l === null || l === undefined) return { rif, latencyMs: NaN };
  if (typeof l !== 'number' || !(l >= 0 && l <= maxLatencyMs)) return 'latency';
  return { rif, latencyMs: l };
}

/** Counters of the probing machinery (`PrequalPolicy.probeStats()`). */
export interface PrequalStats {
  /** Probes started. */
  sent: number;
  /** Valid answers added to the pool. */
  answered: number;
  /** Answers ignored: malformed, hostile values or oversized. */
  rejected: number;
  /** Probes whose promise rejected (or whose prober threw). */
  failed: number;
  /** Probes aborted after probeTimeoutMs. */
  timedOut: number;
  /** Probes not sent because maxProbesInFlight were in flight. */
  skipped: number;
  inFlight: number;
  /** Picks made from the pool with a cold / a hot answer. */
  coldPicks: number;
  hotPicks: number;
  /** Picks made by the P2C fallback (no usable answer). */
  fallbackPicks: number;
  /** Answers in the pool now (some may be stale). */
  pool: number;
}

/**
 * The fallback's load: the member's last answered latency (the server's estimate already reflects its RIF), then
 * our requests in flight as the tie-break; a member that never answered with one is tried while we have nothing
 * in flight to it, else ranked after every member with a latency.
 */
class OwnActive implements LoadMetric {
  private f: Float64Array = new Float64Array(0);
  private cap = 0;
  constructor(
    private readonly env: PolicyEnv,
    private readonly lastLatency: Map<string, number>,
  ) {}
  prepare(): void {
    this.f = this.env.table.f;
    this.cap = this.env.table.cap;
  }
  load(r: number): number {
    const l = this.lastLatency.get(this.env.ids[r]!);
    const active = this.f[COL_ACTIVE * this.cap + r]!;
    // never answered with a latency (a new member, or one whose probes fail): explored one request at a time,
    // then after every member with a latency (answered latencies × 1024 stay below 2^40)
    if (l === undefined) return active === 0 ? 0 : 2 ** 40 + active;
    return l * 1024 + active / 1024;
  }
}

/**
 * A probe pool of fixed capacity, structure of arrays. `rif` is the answer's RIF plus our uses of it;
 * `reported` the RIF the member answered, on which hot/cold is judged.
 */
class Pool {
  readonly id: string[] = [];
  readonly rif: number[] = [];
  readonly reported: number[] = [];
  readonly lat: number[] = [];
  readonly at: number[] = [];
  readonly uses: number[] = [];
  get size(): number {
    return this.id.length;
  }
  add(id: string, a: ProbeAnswer, at: number, cap: number): void {
    if (this.id.length >= cap) this.removeAt(this.oldest());
    this.id.push(id);
    this.rif.push(a.rif);
    this.reported.push(a.rif);
    this.lat.push(a.latencyMs);
    this.at.push(at);
    this.uses.push(0);
  }
  oldest(): number {
    let k = 0;
    for (let i = 1; i < this.at.length; i++) if (this.at[i]! < this.at[k]!) k = i;
    return k;
  }
  removeAt(i: number): void {
    const last = this.id.length - 1;
    if (i !== last) {
      this.id[i] = this.id[last]!;
      this.rif[i] = this.rif[last]!;
      this.reported[i] = this.reported[last]!;
      this.lat[i] = this.lat[last]!;
      this.at[i] = this.at[last]!;
      this.uses[i] = this.uses[last]!;
    }
    this.id.pop();
    this.rif.pop();
    this.reported.pop();
    this.lat.pop();
    this.at.pop();
    this.uses.pop();
  }
}

interface PendingProbe {
  ac: AbortController;
  clock: Clock;
  timer: TimerHandle;
  done: boolean;
  /** A start-up probe's member id (picks do not probe it again while it is unanswered). */
  warming?: string;
}

export class PrequalPolicy implements Policy {
  readonly name = 'prequal';
  private probeFn: PrequalProbe | undefined;
  private readonly pool = new Pool();
  private readonly lastLatency = new Map<string, number>();
  private readonly history: Float64Array;
  private historyN = 0;
  private historyAt = 0;
  private threshold = Infinity;
  private thresholdDirty = false;
  private readonly sorted: Float64Array;
  private readonly counters: Omit<PrequalStats, 'inFlight' | 'pool'> = {
    sent: 0,
    answered: 0,
    rejected: 0,
    failed: 0,
    timedOut: 0,
    skipped: 0,
    coldPicks: 0,
    hotPicks: 0,
    fallbackPicks: 0,
  };
  private inFlight = 0;
  private readonly pending = new Set<PendingProbe>();
  private targets = new Int32Array(0);
  /** Fractional removal credit carried between picks. */
  private removeCredit = 0;
  /** When each member was last probed by warmUp. */
  private readonly warmedAt = new Map<string, number>();
  /** Members with a start-up probe in flight. */
  private readonly warming = new Set<string>();
  /** The Balancer is done with us (releaseSlots): no probe starts until the next build. */
  private retired = false;

  constructor(readonly config: PrequalConfig = parsePrequal({})) {
    this.probeFn = config.probe;
    this.history = new Float64Array(HISTORY_PER_POOL_SLOT * config.poolSize);
    this.sorted = new Float64Array(HISTORY_PER_POOL_SLOT * config.poolSize);
  }

  /** Sets (or with undefined removes) the prober. */
  setProbe(fn: PrequalProbe | undefined): void {
    if (fn !== undefined && typeof fn !== 'function')
      throw typeError('probe', 'a function (member, signal) => Promise', fn);
    this.probeFn = fn;
  }

  get hasProbe(): boolean {
    return this.probeFn !== undefined;
  }

  probeStats(): PrequalStats {
    return { ...this.counters, inFlight: this.inFlight, pool: this.pool.size };
  }

  /** Aborts the probes in flight (their answers are then ignored). */
  abortProbes(): void {
    for (const p of [...this.pending]) this.settle(p);
  }

  build(rows: Int32Array, env: PolicyEnv): Picker {
    this.retired = false;
    if (this.targets.length < rows.length) this.targets = new Int32Array(rows.length);
    if (this.config.warmupProbes) this.warmUp(rows, env);
    return new PrequalPicker(rows, env, this, new P2CPicker(rows, env, 2, new OwnActive(env, this.lastLatency)));
  }

  /** An empty set other than NONE_BUILT: closed or replaced; probes in flight end now (nothing keeps the process). */
  releaseSlots(keep: ReadonlySet<string>): void {
    if (keep.size > 0 || keep === NONE_BUILT) return;
    this.retired = true;
    this.abortProbes();
    this.warmedAt.clear(); // installed again: start-up probes again
  }

  onMembership(env: PolicyEnv): void {
    const known = new Set(env.ids);
    const p = this.pool;
    for (let i = p.size - 1; i >= 0; i--) if (!known.has(p.id[i]!)) p.removeAt(i);
    for (const id of this.lastLatency.keys()) if (!known.has(id)) this.lastLatency.delete(id);
    for (const id of this.warmedAt.keys()) if (!known.has(id)) this.warmedAt.delete(id);
  }

  stats(env: PolicyEnv, row: number, now: number): Record<string, number> {
    const id = env.ids[row];
    const p = this.pool;
    let answers = 0;
    let latest = -1;
    for (let i = 0; i < p.size; i++) {
      if (p.id[i] !== id || now - p.at[i]! > this.config.maxAgeMs) continue;
      answers++;
      if (latest < 0 || p.at[i]! > p.at[latest]!) latest = i;
    }
    const out: Record<string, number> = { probeAnswers: answers };
    if (latest >= 0) {
      out.probeRif = p.rif[latest]!;
      out.probeLatencyMs = p.lat[latest]!;
    }
    return out;
  }

  /**
   * Probes once every member of `rows` that no start-up probe reached within maxAgeMs, so that the first
   * picks (a burst of `concurrency` picks at start-up) are not blind.
   */
  private warmUp(rows: Int32Array, env: PolicyEnv): void {
    const fn = this.probeFn;
    if (fn === undefined || rows.length < 2) return;
    const now = safeNow(env, 0);
    const clock = env.clock;
    for (const row of rows) {
      const id = env.ids[row]!;
      const last = this.warmedAt.get(id);
      if (last !== undefined && now - last <= this.config.maxAgeMs) continue;
      if (this.inFlight >= this.config.maxProbesInFlight) return;
      let member = env.members?.[row];
      if (member === undefined || member.id !== id) {
        try {
          member = parseEndpoint(id, 'member');
        } catch {
          continue;
        }
      }
      this.warmedAt.set(id, now);
      this.send(fn, member, env, clock, now, true);
    }
  }

  // ---- used by the picker ------------------------------------------------------------------------------

  /** Fires this pick's probes at members of `rows` (never awaited). */
  fire(rows: Int32Array, env: PolicyEnv, now: number): void {
    const fn = this.probeFn;
    const r = this.config.probeRate;
    if (fn === undefined || r <= 0 || this.retired) return;
    const random = env.random;
    let k = Math.floor(r);
    if (r - k > 0 && random() < r - k) k++;
    if (k === 0) return;
    const room = this.config.maxProbesInFlight - this.inFlight;
    if (room < k) {
      this.counters.skipped += k - Math.max(room, 0);
      k = Math.max(room, 0);
      if (k === 0) return;
    }
    const c = sampleDistinct(random, rows.length, k, this.targets);
    const members = env.members;
    const clock = env.clock;
    for (let i = 0; i < c; i++) {
      const row = rows[this.targets[i]!]!;
      const id = env.ids[row]!;
      if (this.warming.has(id)) continue; // its start-up answer is on its way
      let member = members?.[row];
      if (member === undefined || member.id !== id) {
        try {
          member = parseEndpoint(id, 'member');
        } catch {
          continue;
        }
      }
      this.send(fn, member, env, clock, now);
    }
  }

  private send(fn: PrequalProbe, member: Endpoint, env: PolicyEnv, clock: Clock, now: number, warm = false): void {
    const ac = new AbortController();
    const p: PendingProbe = { ac, clock, timer: undefined, done: false };
    if (warm) {
      p.warming = member.id;
      this.warming.add(member.id);
    }
    this.counters.sent++;
    this.inFlight++;
    this.pending.add(p);
    p.timer = clock.setTimeout(
      () => {
        if (p.done) return;
        this.counters.timedOut++;
        this.settle(p);
      },
      this.config.probeTimeoutMs,
      { background: true },
    );
    let answer: Promise<unknown>;
    try {
      answer = Promise.resolve(fn(member, ac.signal));
    } catch {
      this.counters.failed++;
      this.settle(p);
      return;
    }
    answer.then(
      (x) => {
        if (p.done) return;
        this.settle(p);
        const a = readProbeAnswer(x, this.config.maxRif, this.config.maxLatencyMs);
        if (typeof a === 'string') {
          this.counters.rejected++;
          return;
        }
        this.counters.answered++;
        this.addAnswer(member.id, a, safeNow(env, now));
      },
      () => {
        if (p.done) return;
        this.counters.failed++;
        this.settle(p);
      },
    );
  }

  private settle(p: PendingProbe): void {
    if (p.done) return;
    p.done = true;
    p.clock.clearTimeout(p.timer);
    this.pending.delete(p);
    if (p.warming !== undefined) this.warming.delete(p.warming);
    this.inFlight--;
    if (!p.ac.signal.aborted) p.ac.abort();
  }

  addAnswer(id: string, a: ProbeAnswer, at: number): void {
    this.pool.add(id, a, at, this.config.poolSize);
    if (a.latencyMs === a.latencyMs) this.lastLatency.set(id, a.latencyMs);
    this.remember(a.rif);
  }

  /** Adds a RIF to the recent distribution the hot threshold is taken from. */
  private remember(rif: number): void {
    const h = this.history;
    h[this.historyAt] = rif;
    this.historyAt = (this.historyAt + 1) % h.length;
    if (this.historyN < h.length) this.historyN++;
    this.thresholdDirty = true;
  }

  /** The Q_RIF quantile of recent answered RIFs (nearest rank), Infinity before any answer. */
  rifThreshold(): number {
    if (!this.thresholdDirty) return this.threshold;
    this.thresholdDirty = false;
    const n = this.historyN;
    if (n === 0) return (this.threshold = Infinity);
    const s = this.sorted;
    for (let i = 0; i < n; i++) {
      const v = this.history[i]!;
      let j = i - 1;
      while (j >= 0 && s[j]! > v) {
        s[j + 1] = s[j]!;
        j--;
      }
      s[j + 1] = v;
    }
    const rank = Math.max(1, Math.ceil(this.config.rifQuantile * n));
    return (this.threshold = s[rank - 1]!);
  }

  /**
   * The pool's pick among eligible rows (`rowOf`), or -1 when no answer is usable. Drops stale and used-up
   * answers and those of members gone; applies HCL, charges the use, then removes the worst answers.
   */
  pickFromPool(
    rowOf: Map<string, number>,
    env: PolicyEnv,
    now: number,
    exclude: ReadonlySet<string> | undefined,
  ): number {
    const p = this.pool;
    const cfg = this.config;
    const f = env.table.f;
    const cap = env.table.cap;
    const thr = this.rifThreshold();
    // stale and used-up answers go first (removeAt moves the last answer, already looked at, into slot i)
    for (let i = p.size - 1; i >= 0; i--)
      if (now - p.at[i]! > cfg.maxAgeMs || p.uses[i]! >= cfg.reuseBudget) p.removeAt(i);
    // the latency of an answer usable now (NaN: not usable); unknown: explore one request at a time
    const latOf = (i: number): number => {
      const id = p.id[i]!;
      const row = rowOf.get(id); // undefined: unavailable now (answers of removed members go in onMembership)
      if (row === undefined || (exclude !== undefined && exclude.has(id))) return NaN;
      const lat = p.lat[i]!;
      return lat === lat ? lat : f[COL_ACTIVE * cap + row]! === 0 ? 0 : Infinity;
    };
    // the lowest cold latency: the tie window is measured from it, so that ties do not chain (10 ~ 12.4 ~ 15.4
    // ~ ... would otherwise let the order of answers carry a pick to a member 3x slower than the best)
    let minCold = NaN;
    for (let i = 0; i < p.size; i++) {
      const lat = latOf(i);
      if (lat === lat && !(p.reported[i]! > thr) && !(lat >= minCold)) minCold = lat;
    }
    const within = minCold + Math.max(LATENCY_TIE_MS, LATENCY_TIE_RATIO * minCold);
    let best = -1;
    let bestLat = 0;
    let bestHot = true;
    for (let i = p.size - 1; i >= 0; i--) {
      const lat = latOf(i);
      if (lat !== lat) continue;
      const hot = p.reported[i]! > thr;
      // with a cold answer: the cold ones within the tie of the lowest; else every (hot) answer
      if (minCold === minCold && (hot || lat > within)) continue;
      if (best < 0 || better(lat, p.rif[i]!, bestLat, p.rif[best]!)) {
        best = i;
        bestLat = lat;
        bestHot = hot;
      }
    }
    if (best < 0) return -1;
    const row = rowOf.get(p.id[best]!)!;
    if (bestHot) this.counters.hotPicks++;
    else this.counters.coldPicks++;
    p.uses[best]!++;
    this.remember(++p.rif[best]!);
    if (p.uses[best]! >= cfg.reuseBudget) p.removeAt(best);
    this.removeWorst(thr, f, cap, rowOf);
    return row;
  }

  fallback(): void {
    this.counters.fallbackPicks++;
  }

  /** Removes `removeRate` worst answers per pick (credit carried over), never the last usable one. */
  private removeWorst(thr: number, f: Float64Array, cap: number, rowOf: Map<string, number>): void {
    this.removeCredit += this.config.removeRate;
    const p = this.pool;
    while (this.removeCredit >= 1) {
      this.removeCredit -= 1;
      if (p.size <= 1) {
        this.removeCredit = 0;
        return;
      }
      let worst = -1;
      let wHot = false;
      let wKey = 0;
      for (let i = 0; i < p.size; i++) {
        const hot = p.reported[i]! > thr;
        let key: number;
        if (hot) key = p.rif[i]!;
        else {
          key = p.lat[i]!;
          if (key !== key) {
            const row = rowOf.get(p.id[i]!);
            key = row !== undefined && f[COL_ACTIVE * cap + row]! === 0 ? 0 : Infinity;
          }
        }
        if (worst < 0 || (hot && !wHot) || (hot === wHot && key > wKey)) {
          worst = i;
          wHot = hot;
          wKey = key;
        }
      }
      p.removeAt(worst);
    }
  }
}

/**
 * Cold latencies this close are a tie (LATENCY_TIE_MS, or LATENCY_TIE_RATIO of the lower): the lower RIF, our own
 * uses of the probe included, decides. Without it, members answering in microseconds with RIF 0 (a synchronous
 * Node handler finishes each request within one turn, so its probes never see one in flight) were ranked by
 * noise, and one took 87-99 % of the picks (docs/prequal.md).
 */
export const LATENCY_TIE_MS = 1;
export const LATENCY_TIE_RATIO = 0.25;

/**
 * Among the answers HCL leaves (the cold ones within the tie of the lowest cold latency, else the hot ones): the
 * lower RIF, our own uses included, then the lower latency.
 */
function better(lat: number, rif: number, bLat: number, bRif: number): boolean {
  return rif < bRif || (rif === bRif && lat < bLat);
}

function safeNow(env: PolicyEnv, fallback: number): number {
  try {
    const t = env.now();
    return t === t ? t : fallback;
  } catch {
    return fallback;
  }
}

class PrequalPicker implements Picker {
  private readonly rowOf = new Map<string, number>();
  constructor(
    readonly rows: Int32Array,
    private readonly env: PolicyEnv,
    private readonly policy: PrequalPolicy,
    private readonly p2c: P2CPicker,
  ) {
    for (const r of rows) this.rowOf.set(env.ids[r]!, r);
  }

  pick(ctx: PickContext | undefined, now: number): number {
    const rows = this.rows;
    if (rows.length === 0) return -1;
    if (now !== now) now = this.env.now();
    const policy = this.policy;
    let row = -1;
    if (rows.length > 1) {
      policy.fire(rows, this.env, now);
      row = policy.pickFromPool(this.rowOf, this.env, now, ctx?.exclude);
    }
    if (row >= 0) return row;
    row = this.p2c.pick(ctx, now);
    if (row >= 0 && rows.length > 1) policy.fallback();
    return row;
  }
}

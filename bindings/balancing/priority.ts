// Envoy priority levels, panic thresholds and per-level locality routing, as one Picker over a policy's pickers.
//
// Members carry `priority` (0 preferred) and optionally `locality`. Following Envoy's load balancer
// (`LoadBalancerBase`, docs "Priority levels", "Panic threshold", "Overprovisioning factor"), in integer percent
// as Envoy computes them:
//   health(P)  = min(100, ⌊factor × 100 × healthy(P) / total(P)⌋)
//   total      = min(100, Σ health(P))                                   (normalized total health)
//   load(P)    = min(100 − Σ load(earlier), ⌊health(P) × 100 / total⌋), the rounding remainder to the first
//                level with health > 0.
// Panic: while total = 100 no level panics. Below, a level panics when 100 × healthy / total members <
// panicThresholdPercent; a panicking level is picked over all its members ('all') or fails its picks ('fail',
// Envoy's fail_traffic_on_panic). When every level panics, the load follows member counts instead:
// load(P) = ⌊100 × total(P) / Σ total⌋, the remainder to the first level. A threshold of 0 disables panic; with no
// healthy member at all, level 0 then gets 100% and its picks find nobody.
// Levels are the distinct priorities present, in order: priorities 0 and 2 alone behave as Envoy's 0, 1, 2 with
// an empty 1 (an empty level has health 0, load 0 and no members), so they are numbered by rank (Envoy wants
// EDS priorities without gaps; SRV priorities such as 10 and 20 are levels 0 and 1). Zone-aware routing applies
// to level 0 only, Envoy's P=0.
//
// A pick chooses a level by load with a number x in 1..100 (Envoy `choosePriority`): x = hash % 100 + 1 for a
// keyed pick (xxh32 of ctx.key, so a key stays on one level while health is unchanged, as Envoy uses the request
// hash), else ⌊random() × 100⌋ + 1. Within the level: a locality (locality.ts) when locality weighting or zone
// routing applies, then the policy's picker over that subset. If that picker returns -1 (everything excluded or
// unavailable), the pick falls back to the whole level, then to the other levels in priority order.
//
//   const { picker, levels } = buildPriorityPicker({ rows, members, available, options, build, random });
import { xxh32Bytes, xxh32String } from '../core/xxhash.js';
import { keyError } from '../hashing/key-router.js';
import type { Endpoint } from '../util/endpoint.js';
import { draw, type Random } from '../util/random.js';
import { typeError } from '../util/validate.js';
import {
  effectiveLocalityWeight,
  groupByLocality,
  type LocalityGroup,
  type ZoneRouting,
  zoneRouting,
} from './locality.js';
import { type LevelRouting, setLevelRouting } from './levels.js';
import type { Members } from './members.js';
import { NONE_BUILT, type PickContext, type Picker, type Policy, type PolicyEnv } from './picker.js';
import { parsePriorityOptions, type PriorityOptions } from './priority-config.js';

export type { ZoneAwareOptions, ZoneRouting } from './locality.js';
export {
  DEFAULT_MIN_CLUSTER_SIZE,
  DEFAULT_OVERPROVISIONING_FACTOR,
  DEFAULT_PANIC_THRESHOLD_PERCENT,
  parsePriorityOptions,
  type PriorityOptions,
} from './priority-config.js';

/** Members of one level: how many, how many available. */
export interface LevelCounts {
  total: number;
  healthy: number;
}

export interface PriorityLoads {
  /** Per level, integer percent (Envoy's per_priority_health). */
  health: number[];
  /** Per level, integer percent summing to 100 (0 for no levels). */
  load: number[];
  panic: boolean[];
  /** min(100, Σ health). */
  normalizedTotalHealth: number;
  /** Every level in panic: loads follow member counts. */
  totalPanic: boolean;
}

/** Envoy's priority health, load and panic for levels in priority order (formulas in the module header). */
export function priorityLoads(
  levels: readonly LevelCounts[],
  overprovisioningFactor: number,
  panicThresholdPercent: number,
): PriorityLoads {
  const n = levels.length;
  // the factor as Envoy's integer percentage (1.4 → 140), cleaned of binary noise (1.1 × 100 = 110.00000000000001)
  const factorPercent = Math.round(overprovisioningFactor * 100 * 1e6) / 1e6;
  const health = levels.map(({ total, healthy }) =>
    total === 0 ? 0 : Math.min(100, Math.floor((factorPercent * healthy) / total)),
  );
  const load = new Array<number>(n).fill(0);
  const panic = new Array<boolean>(n).fill(false);
  const normalizedTotalHealth = Math.min(
    100,
    health.reduce((a, b) => a + b, 0),
  );
  if (n === 0) return { health, load, panic, normalizedTotalHealth, totalPanic: false };
  if (normalizedTotalHealth > 0) {
    let left = 100;
    let first = -1;
    for (let i = 0; i < n; i++) {
      if (first < 0 && health[i]! > 0) first = i;
      load[i] = Math.min(left, Math.floor((health[i]! * 100) / normalizedTotalHealth));
      left -= load[i]!;
    }
    load[first]! += left;
  }
  const threshold = Math.min(100, panicThresholdPercent);
  if (threshold === 0 && normalizedTotalHealth === 0) {
    load[0] = 100; // nobody to pick, but the loads still sum to 100 (Envoy)
    return { health, load, panic, normalizedTotalHealth, totalPanic: false };
  }
  let totalPanic = true;
  for (let i = 0; i < n; i++) {
    const { total, healthy } = levels[i]!;
    panic[i] = normalizedTotalHealth < 100 && (total === 0 ? 0 : (100 * healthy) / total) < threshold;
    totalPanic &&= panic[i]!;
  }
  if (totalPanic) {
    const hosts = levels.reduce((a, l) => a + l.total, 0);
    let left = 100;
    let first = -1;
    for (let i = 0; i < n; i++) {
      if (first < 0 && levels[i]!.total > 0) first = i;
      load[i] = hosts === 0 ? 0 : Math.floor((100 * levels[i]!.total) / hosts);
      left -= load[i]!;
    }
    load[first < 0 ? 0 : first]! += left;
  }
  return { health, load, panic, normalizedTotalHealth, totalPanic };
}

export interface LocalityStats {
  /** "region/zone/subZone" ('' for members without a locality). */
  locality: string;
  total: number;
  healthy: number;
  /** The configured locality weight (metadata.localityWeight, else the sum of member weights). */
  weight: number;
  /** Locality-weighted levels: weight × min(1, factor × healthy / total). */
  effectiveWeight?: number;
  /** Locality-weighted levels: the share of the level's picks sent to this locality, percent. */
  sharePercent?: number;
}

export interface PriorityLevelStats {
  /** The members' `priority` value. */
  priority: number;
  /** Rank among the priorities present (Envoy's level when priorities skip numbers). */
  level: number;
  total: number;
  healthy: number;
  healthPercent: number;
  loadPercent: number;
  panic: boolean;
  /** Present when the level's members carry localities. */
  localities?: LocalityStats[];
  /** Present for level 0 with zone-aware routing (and not in panic). */
  zone?: ZoneRouting;
}

export interface PriorityPickerInput {
  /** All member rows, in member order. */
  rows: Int32Array;
  /** Members by row. */
  members: readonly Endpoint[];
  /** Whether a row is available (healthy). */
  available: (row: number) => boolean;
  options: PriorityOptions;
  /**
   * The policy's picker over a subset of rows. Each picker must stay valid after later calls (pickers built in
   * one call of buildPriorityPicker are used side by side). `slot` names the subset and is stable across
   * rebuilds ('p<priority>' for a level, 'p<priority>/<locality>' for a locality in it), for callers that keep
   * one policy state per subset.
   */
  build: (rows: Int32Array, slot: string) => Picker;
  random: Random;
}

export interface PriorityPickerResult {
  picker: Picker;
  /** Some level that receives load is in panic. */
  panic: boolean;
  levels: PriorityLevelStats[];
}

const EMPTY: Picker = Object.freeze({ rows: new Int32Array(0), pick: () => -1 });

const MODE_LEVEL = 0;
const MODE_WEIGHTED = 1;
const MODE_ZONE = 2;

interface Level {
  /** Healthy rows, or all rows in panic 'all'; null when there is nothing to pick or the level fails picks. */
  readonly whole: Picker | null;
  /** Panic with mode 'fail': picks landing here fail. */
  readonly failing: boolean;
  readonly mode: number;
  /** Per locality group (null: no healthy member). */
  readonly subsets: readonly (Picker | null)[];
  /** MODE_WEIGHTED: cumulative effective weights. */
  readonly cum: Float64Array;
  /** MODE_ZONE. */
  readonly zone: ZoneRouting | null;
  readonly zoneEnabled: number;
}

/** A uniform number in [0, 1) derived from a key hash and a draw index (murmur3 fmix32 of h + i·φ). */
function keyDraw(h: number, i: number): number {
  let x = (h + Math.imul(i, 0x9e3779b9)) | 0;
  x ^= x >>> 16;
  x = Math.imul(x, 0x85ebca6b);
  x ^= x >>> 13;
  x = Math.imul(x, 0xc2b2ae35);
  x ^= x >>> 16;
  return (x >>> 0) / 4294967296;
}

class PriorityPicker implements Picker {
  constructor(
    readonly rows: Int32Array,
    private readonly levels: readonly Level[],
    /** Cumulative loads, integer percent. */
    private readonly cumLoad: Int32Array,
    private readonly random: Random,
  ) {}

  pick(ctx: PickContext | undefined, now: number): number {
    const key = ctx?.key;
    const keyed = key !== undefined;
    const h = keyed ? keyHash(key) : 0;
    // a checked draw: one outside [0, 1) would choose a level by a wrong share
    const x = keyed ? (h % 100) + 1 : Math.floor(draw(this.random) * 100) + 1;
    const levels = this.levels;
    const n = levels.length;
    let i = 0;
    while (i < n - 1 && x > this.cumLoad[i]!) i++;
    const lv = levels[i]!;
    if (lv.failing) return -1;
    let r = lv.mode === MODE_LEVEL ? -1 : this.pickLocality(lv, ctx, now, keyed, h);
    if (r >= 0) return r;
    if (lv.whole !== null && (r = lv.whole.pick(ctx, now)) >= 0) return r;
    for (let j = 0; j < n; j++) {
      const w = levels[j]!.whole;
      if (j !== i && w !== null && (r = w.pick(ctx, now)) >= 0) return r;
    }
    return -1;
  }

  private draw(keyed: boolean, h: number, i: number): number {
    return keyed ? keyDraw(h, i) : draw(this.random);
  }

  /** The row from the locality step, or -1 to use the whole level. */
  private pickLocality(lv: Level, ctx: PickContext | undefined, now: number, keyed: boolean, h: number): number {
    let g: number;
    if (lv.mode === MODE_WEIGHTED) {
      const cum = lv.cum;
      const x = this.draw(keyed, h, 1) * cum[cum.length - 1]!;
      g = 0;
      while (g < cum.length - 1 && x >= cum[g]!) g++;
    } else {
      const z = lv.zone!;
      if (z.mode === 'none' || !(this.draw(keyed, h, 2) < lv.zoneEnabled)) return -1;
      if (z.mode === 'direct' || Math.floor(this.draw(keyed, h, 3) * 10000) < z.localPercentToRoute) g = z.local;
      else {
        const res = z.residual;
        const total = res[res.length - 1]!;
        const u = this.draw(keyed, h, 4);
        if (total === 0) g = Math.floor(u * res.length);
        else {
          const threshold = Math.floor(u * total);
          g = 0;
          while (threshold >= res[g]!) g++;
        }
      }
    }
    const sub = g < 0 ? null : lv.subsets[g]!;
    return sub === null ? -1 : sub.pick(ctx, now);
  }
}

function checkInput(input: PriorityPickerInput): void {
  if (input === null || typeof input !== 'object') throw typeError('input', 'an object', input);
  if (!(input.rows instanceof Int32Array)) throw typeError('input.rows', 'an Int32Array', input.rows);
  if (!Array.isArray(input.members)) throw typeError('input.members', 'an array of endpoints', input.members);
  for (const k of ['available', 'build', 'random'] as const)
    if (typeof input[k] !== 'function') throw typeError(`input.${k}`, 'a function', input[k]);
  if (input.options === null || typeof input.options !== 'object')
    throw typeError('input.options', 'PriorityOptions (parsePriorityOptions)', input.options);
}

/**
 * Builds the picker for one membership/availability version: levels by priority, Envoy's loads and panic,
 * locality routing within levels, and the policy's pickers (`build`) over the subsets. When there is one level
 * and no locality step, this is `build(rows)` itself (healthy rows, or all of them in panic 'all').
 */
export function buildPriorityPicker(input: PriorityPickerInput): PriorityPickerResult {
  checkInput(input);
  const { rows, members, available, options, build } = input;
  const byPriority = new Map<number, number[]>();
  for (let k = 0; k < rows.length; k++) {
    const r = rows[k]!;
    const p = members[r]!.priority;
    let list = byPriority.get(p);
    if (list === undefined) byPriority.set(p, (list = []));
    list.push(r);
  }
  const priorities = [...byPriority.keys()].sort((a, b) => a - b);
  const levelRows = priorities.map((p) => byPriority.get(p)!);
  const healthyRows = levelRows.map((l) => l.filter((r) => available(r)));
  const loads = priorityLoads(
    levelRows.map((l, i) => ({ total: l.length, healthy: healthyRows[i]!.length })),
    options.overprovisioningFactor,
    options.panicThresholdPercent,
  );
  const failMode = options.panicMode === 'fail';
  const factor = options.overprovisioningFactor;
  const levels: Level[] = [];
  const stats: PriorityLevelStats[] = [];
  let panic = false;
  priorities.forEach((priority, i) => {
    const all = levelRows[i]!;
    const healthy = healthyRows[i]!;
    const inPanic = loads.panic[i]!;
    if (inPanic && loads.load[i]! > 0) panic = true;
    const failing = inPanic && failMode;
    const slot = `p${priority}`;
    const pickRows = inPanic ? (failing ? [] : all) : healthy;
    const whole = pickRows.length === 0 ? null : build(Int32Array.from(pickRows), slot);
    const groups = groupByLocality(all, members, available);
    const withLocality = groups.length > 1 || groups[0]!.key !== '';
    const st: PriorityLevelStats = {
      priority,
      level: i,
      total: all.length,
      healthy: healthy.length,
      healthPercent: loads.health[i]!,
      loadPercent: loads.load[i]!,
      panic: inPanic,
    };
    const localities: LocalityStats[] | undefined = withLocality
      ? groups.map((g) => ({ locality: g.key, total: g.rows.length, healthy: g.healthyRows.length, weight: g.weight }))
      : undefined;
    if (localities !== undefined) st.localities = localities;
    let level: Level = {
      whole,
      failing,
      mode: MODE_LEVEL,
      subsets: [],
      cum: new Float64Array(0),
      zone: null,
      zoneEnabled: 0,
    };
    if (!inPanic && options.localityWeighted && groups.length > 1)
      level = weighted(level, groups, factor, slot, build, localities!) ?? level;
    else if (!inPanic && options.zoneAware !== null && i === 0) {
      const zone = zoneRouting(groups, options.zoneAware);
      st.zone = zone;
      if (zone.mode !== 'none') {
        const zoneEnabled = options.zoneAware.routingEnabledPercent / 100;
        level = { ...level, mode: MODE_ZONE, subsets: subsets(groups, slot, build), zone, zoneEnabled };
      }
    }
    levels.push(level);
    stats.push(st);
  });
  if (levels.length === 0) return { picker: build(new Int32Array(0), 'p0'), panic: false, levels: stats };
  if (levels.length === 1 && levels[0]!.mode === MODE_LEVEL)
    return { picker: levels[0]!.whole ?? EMPTY, panic, levels: stats };
  const cumLoad = new Int32Array(levels.length);
  let acc = 0;
  loads.load.forEach((l, i) => (cumLoad[i] = acc += l));
  const mark = new Uint8Array(members.length);
  for (const lv of levels) if (lv.whole !== null) for (const r of lv.whole.rows) mark[r] = 1;
  const union: number[] = [];
  for (let k = 0; k < rows.length; k++) if (mark[rows[k]!] === 1) union.push(rows[k]!);
  const picker = new PriorityPicker(Int32Array.from(union), levels, cumLoad, input.random);
  return { picker, panic, levels: stats };
}

function subsets(
  groups: readonly LocalityGroup[],
  slot: string,
  build: PriorityPickerInput['build'],
): (Picker | null)[] {
  return groups.map((g) => (g.healthyRows.length === 0 ? null : build(g.healthyRows, `${slot}/${g.key}`)));
}

/** The locality-weighted level, or null when every effective weight is 0 (Envoy: balance the level as a whole). */
function weighted(
  level: Level,
  groups: readonly LocalityGroup[],
  factor: number,
  slot: string,
  build: PriorityPickerInput['build'],
  stats: LocalityStats[],
): Level | null {
  const eff = groups.map((g) => effectiveLocalityWeight(g.weight, g.healthyRows.length, g.rows.length, factor));
  const total = eff.reduce((a, b) => a + b, 0);
  if (!(total > 0)) return null;
  const cum = new Float64Array(groups.length);
  let acc = 0;
  eff.forEach((e, i) => {
    cum[i] = acc += e;
    stats[i]!.effectiveWeight = e;
    stats[i]!.sharePercent = (100 * e) / total;
  });
  const sub = groups.map((g, i) => (eff[i]! > 0 ? build(g.healthyRows, `${slot}/${g.key}`) : null));
  return { ...level, mode: MODE_WEIGHTED, subsets: sub, cum };
}

/** LevelRouting.publish (levels.ts): a Balancer's leveled picker; pending members are left out. */
function publishLevels(
  m: Members,
  policy: Policy,
  env: PolicyEnv,
  options: PriorityOptions,
  random: Random,
): PriorityPickerResult & { warming: boolean } {
  const n = m.list.length;
  const rows = new Int32Array(n - m.pending.size);
  let k = 0;
  for (let r = 0; r < n; r++) if (!m.pending.has(m.ids[r]!)) rows[k++] = r;
  const warming = n > 0 && m.unavailable.size === n && m.pending.size > 0;
  const slots = new Set<string>();
  const out = buildPriorityPicker({
    rows: warming ? new Int32Array(0) : rows,
    members: m.list,
    available: (row) => m.isAvailableRow(row),
    options,
    build: (subset, slot) => {
      slots.add(slot);
      return policy.build(subset, env, slot);
    },
    random,
  });
  policy.releaseSlots?.(slots.size > 0 ? slots : NONE_BUILT); // not close()'s empty set: the policy stays
  return { ...out, warming };
}

/** Priority levels and localities as the Balancer's plug-in (levels.ts): the complete Balancer always has it. */
export const priorityRouting: LevelRouting = {
  parse: parsePriorityOptions,
  build: buildPriorityPicker,
  publish: publishLevels,
};

/**
 * Lets every Balancer created afterwards (`switchyard/lite` included) route members with priorities and
 * localities, and accept the `priority` option. The `switchyard` entry's Balancer and createFetch have it
 * without registration.
 */
export function registerPriorityRouting(): void {
  setLevelRouting(priorityRouting);
}

/** xxh32 (seed 0) of a request key: a string's UTF-8 bytes or the bytes given, as the hash policies take it. */
function keyHash(key: unknown): number {
  if (typeof key === 'string') return xxh32String(key, 0);
  if (key instanceof Uint8Array) return xxh32Bytes(key, 0);
  throw keyError(key);
}

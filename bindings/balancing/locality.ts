// Localities within one priority level: grouping, Envoy's locality-weighted balancing and Envoy's zone-aware
// routing. Pure functions over member rows; priority.ts builds the pickers from them.
//
// Locality-weighted (Envoy "Locality weighted load balancing"): each locality of a level has a weight, scaled by
// its availability with the overprovisioning factor, and a locality is chosen in proportion to
//   effective_weight(L) = locality_weight(L) × min(1, factor × healthy(L) / total(L)).
// Envoy takes the locality weight from EDS (LocalityLbEndpoints.load_balancing_weight); here it is
// `metadata.localityWeight` of the locality's first member carrying a finite number >= 0, else the sum of the
// locality's member weights (so with equal weights and every member healthy, traffic is shared per member).
//
// Zone-aware (Envoy "Zone aware routing", `ZoneAwareLoadBalancerBase`, level 0 only): Envoy compares, per
// locality, the share of the *originating* cluster's hosts (the callers, "local") with the share of the upstream
// cluster's healthy hosts, both in 1/100 of a percent (10000 = 100%), truncated to integers as Envoy does:
//   local%(L) = 10000 × localShare(L) / Σ localShare,   upstream%(L) = 10000 × healthy(L) / Σ healthy.
// - upstream%(local zone) > 0 and >= local%(local zone): every request goes to the local zone ("direct").
// - otherwise ("residual"): a fraction upstream%/local% × 10000 of requests stays local; the rest goes to the
//   other localities in proportion to their residual capacity max(0, upstream% − local%).
// No routing by zone (the level is balanced as a whole) when: the level has fewer than 2 localities, the local
// shares name fewer than 2 localities, the local zone has no local share, or the level has fewer than
// `minClusterSize` healthy members. We have no originating cluster: `localZoneShares` describes the callers'
// fleet by locality; by default it is proportional to the level's member counts (healthy or not), so while the
// local zone keeps its share of healthy members everything stays local, and as it loses members the excess
// spills to the zones with spare healthy capacity.
import { type Endpoint, type Locality, localityKey } from '../util/endpoint.js';

/** The members of one locality within a level. */
export interface LocalityGroup {
  /** `localityKey` of the members' locality ('' for members without one). */
  readonly key: string;
  readonly locality: Locality | undefined;
  /** Rows of all members of the locality in the level, in member order. */
  readonly rows: Int32Array;
  /** Rows of its available members. */
  readonly healthyRows: Int32Array;
  /** The configured locality weight (see the module header). */
  readonly weight: number;
}

/** Groups `rows` by locality, in order of first appearance. */
export function groupByLocality(
  rows: ArrayLike<number>,
  members: readonly Endpoint[],
  available: (row: number) => boolean,
): LocalityGroup[] {
  const byKey = new Map<string, { locality: Locality | undefined; all: number[]; healthy: number[] }>();
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i]!;
    const loc = members[r]!.locality;
    const key = localityKey(loc);
    let g = byKey.get(key);
    if (g === undefined) byKey.set(key, (g = { locality: loc, all: [], healthy: [] }));
    g.all.push(r);
    if (available(r)) g.healthy.push(r);
  }
  return [...byKey].map(([key, g]) => ({
    key,
    locality: g.locality,
    rows: Int32Array.from(g.all),
    healthyRows: Int32Array.from(g.healthy),
    weight: localityWeight(members, g.all),
  }));
}

/** `metadata.localityWeight` of the first member carrying a finite number >= 0, else the sum of member weights. */
export function localityWeight(members: readonly Endpoint[], rows: readonly number[]): number {
  let sum = 0;
  for (const r of rows) {
    const w = members[r]!.metadata.localityWeight;
    if (typeof w === 'number' && Number.isFinite(w) && w >= 0) return w;
    sum += members[r]!.weight;
  }
  return sum;
}

/** Envoy's effective locality weight: weight × min(1, factor × healthy / total); 0 for an empty locality. */
export function effectiveLocalityWeight(weight: number, healthy: number, total: number, factor: number): number {
  return total === 0 ? 0 : weight * Math.min(1, (factor * healthy) / total);
}

export interface ZoneAwareOptions {
  /** The caller's locality; matched against members' localities on all three fields. */
  localZone: Locality;
  /** Below this many healthy members in priority 0, no routing by zone (Envoy default 6). */
  minClusterSize: number;
  /** Share of requests for which zone routing is attempted, 0..100 (Envoy default 100). */
  routingEnabledPercent: number;
  /** The callers' fleet by locality key ("region/zone/subZone") → relative size; null: the default above. */
  localZoneShares: ReadonlyMap<string, number> | null;
}

export type ZoneRoutingReason = 'single-locality' | 'local-shares' | 'no-local-share' | 'cluster-too-small';

/** Envoy's LocalityRoutingState for priority 0, with the numbers behind it. */
export type ZoneRouting =
  | { readonly mode: 'none'; readonly reason: ZoneRoutingReason }
  | {
      readonly mode: 'direct' | 'residual';
      /** Index of the local zone among the groups, -1 when no member is in it. */
      readonly local: number;
      /** Per group, 1/100 %: the callers' share and the healthy upstream share. */
      readonly localPercent: readonly number[];
      readonly upstreamPercent: readonly number[];
      /** residual: requests kept local, out of 10000. */
      readonly localPercentToRoute: number;
      /** residual: cumulative residual capacity per group (Envoy's residual_capacity_). */
      readonly residual: readonly number[];
    };

/** Computes the zone routing state of a level's groups (Envoy `regenerateLocalityRoutingStructures`). */
export function zoneRouting(groups: readonly LocalityGroup[], zone: ZoneAwareOptions): ZoneRouting {
  if (groups.length < 2) return { mode: 'none', reason: 'single-locality' };
  const localKey = localityKey(zone.localZone);
  const shares = zone.localZoneShares ?? new Map(groups.map((g) => [g.key, g.rows.length]));
  let totalShare = 0;
  let shareLocalities = 0;
  for (const s of shares.values()) {
    totalShare += s;
    if (s > 0) shareLocalities++;
  }
  if (shareLocalities < 2) return { mode: 'none', reason: 'local-shares' };
  if (!((shares.get(localKey) ?? 0) > 0)) return { mode: 'none', reason: 'no-local-share' };
  let healthy = 0;
  for (const g of groups) healthy += g.healthyRows.length;
  if (healthy < zone.minClusterSize) return { mode: 'none', reason: 'cluster-too-small' };

  const local = groups.findIndex((g) => g.key === localKey);
  const localPercent: number[] = [];
  const upstreamPercent: number[] = [];
  for (const g of groups) {
    const h = g.healthyRows.length;
    // a locality without healthy members counts 0 on both sides (Envoy)
    localPercent.push(h === 0 ? 0 : Math.floor((10000 * (shares.get(g.key) ?? 0)) / totalShare));
    upstreamPercent.push(h === 0 ? 0 : Math.floor((10000 * h) / healthy));
  }
  const base = { local, localPercent, upstreamPercent };
  if (local >= 0 && upstreamPercent[local]! > 0 && upstreamPercent[local]! >= localPercent[local]!)
    return { mode: 'direct', ...base, localPercentToRoute: 10000, residual: [] };
  const localPercentToRoute =
    local >= 0 && localPercent[local]! > 0 ? Math.floor((upstreamPercent[local]! * 10000) / localPercent[local]!) : 0;
  const residual: number[] = [];
  let acc = 0;
  for (let i = 0; i < groups.length; i++) {
    if (i !== local && upstreamPercent[i]! > localPercent[i]!) acc += upstreamPercent[i]! - localPercent[i]!;
    residual.push(acc);
  }
  return { mode: 'residual', ...base, localPercentToRoute, residual };
}

// Priority options (priority.ts): Envoy's overprovisioning factor, locality-weighted or zone-aware routing and
// the panic threshold, read in camelCase (the TS API) or in Envoy's snake_case spelling (cluster / EDS config).
//
//   parsePriorityOptions({ overprovisioningFactor: 1.4, zoneAware: { localZone: 'us-east-1/us-east-1a' } })
//   parsePriorityOptions({ overprovisioning_factor: 140, locality_weighted_lb_config: {} })
//
// The factor is a multiplier in [1, 10] in camelCase and Envoy's integer percentage in [100, 1000] in snake_case
// (ClusterLoadAssignment.Policy.overprovisioning_factor, 140 = 1.4). Below 1 a fully healthy level would spill
// traffic; above 10 a level would keep all traffic with under 10% of its members healthy.
import { parseLocality, localityKey } from '../util/endpoint.js';
import { bool, rangeError, typeError } from '../util/validate.js';
import { DEFAULT_OVERPROVISIONING_FACTOR } from './levels.js';
import type { ZoneAwareOptions } from './locality.js';
import { asObject, checkKeys, int, type Json, num, oneSpelling, pickKey, unwrap } from './policy-config.js';

export interface PriorityOptions {
  /** Multiplier applied to a level's or locality's healthy share (Envoy default 1.4), in [1, 10]. */
  overprovisioningFactor: number;
  /** Envoy locality-weighted balancing within each level (exclusive with zoneAware). */
  localityWeighted: boolean;
  /** Envoy zone-aware routing at the first level (Envoy's P=0), or null. */
  zoneAware: null | ZoneAwareOptions;
  /** Envoy healthy panic threshold, 0..100 (default 50; 0 disables panic). */
  panicThresholdPercent: number;
  /** In panic: pick over all members of the level ('all', Envoy default) or fail the pick ('fail'). */
  panicMode: 'all' | 'fail';
}

export { DEFAULT_OVERPROVISIONING_FACTOR };
export const DEFAULT_MIN_CLUSTER_SIZE = 6;
export const DEFAULT_PANIC_THRESHOLD_PERCENT = 50;

const DEFAULTS: PriorityOptions = {
  overprovisioningFactor: DEFAULT_OVERPROVISIONING_FACTOR,
  localityWeighted: false,
  zoneAware: null,
  panicThresholdPercent: DEFAULT_PANIC_THRESHOLD_PERCENT,
  panicMode: 'all',
};

function parseShares(name: string, v: unknown): Map<string, number> {
  const out = new Map<string, number>();
  const add = (locField: string, shareField: string, locality: unknown, share: unknown): void => {
    const key = localityKey(parseLocality(locality, locField));
    if (typeof share !== 'number') throw typeError(shareField, 'a finite number >= 0', share);
    if (!Number.isFinite(share) || share < 0) throw rangeError(shareField, 'a finite number >= 0', share);
    out.set(key, (out.get(key) ?? 0) + share);
  };
  if (Array.isArray(v)) {
    v.forEach((e, i) => {
      const o = asObject(`${name}[${i}]`, e);
      checkKeys(`${name}[${i}]`, o, ['locality', 'share']);
      add(`${name}[${i}].locality`, `${name}[${i}].share`, o.locality, o.share);
    });
  } else {
    const o = asObject(name, v);
    for (const [k, s] of Object.entries(o)) add(`${name} key`, `${name}.${k}`, k, s);
  }
  return out;
}

function parseZoneAware(name: string, v: unknown): ZoneAwareOptions {
  const o = asObject(name, v);
  checkKeys(name, o, [
    ...['localZone', 'minClusterSize', 'routingEnabledPercent', 'localZoneShares'],
    ...['local_zone', 'min_cluster_size', 'routing_enabled', 'local_zone_shares'],
  ]);
  const lz = pickKey(o, 'localZone', 'local_zone', name);
  if (lz === undefined) throw typeError(`${name}.localZone`, 'a locality { region, zone, subZone }', undefined);
  const localZone = parseLocality(lz[1], `${name}.${lz[0]}`);
  // UInt64Value: bare, or as its wrapper { value } (as overprovisioning_factor and routing_enabled are read)
  const mc = unwrap(name, o, 'min_cluster_size');
  const minClusterSize = int(name, mc, 'minClusterSize', 'min_cluster_size', DEFAULT_MIN_CLUSTER_SIZE, 0, 2 ** 31 - 1);
  const re = unwrap(name, o, 'routing_enabled');
  const routingEnabledPercent = num(name, re, 'routingEnabledPercent', 'routing_enabled', 100, 0, 100);
  const sk = pickKey(o, 'localZoneShares', 'local_zone_shares', name);
  const localZoneShares = sk === undefined ? null : parseShares(`${name}.${sk[0]}`, sk[1]);
  return { localZone, minClusterSize, routingEnabledPercent, localZoneShares };
}

/**
 * Reads priority options. camelCase: `overprovisioningFactor` (a multiplier in [1, 10], default 1.4),
 * `localityWeighted` (boolean), `zoneAware` ({ localZone, minClusterSize?, routingEnabledPercent?,
 * localZoneShares? } or null), `panicThresholdPercent` (0..100), `panicMode` ('all' | 'fail'). snake_case in
 * Envoy's spelling: `overprovisioning_factor` (an integer percent in [100, 1000], Envoy's 140),
 * `locality_weighted_lb_config` ({} enables it), `zone_aware_lb_config` ({ local_zone, min_cluster_size,
 * routing_enabled: { value }, local_zone_shares, fail_traffic_on_panic }), `healthy_panic_threshold`
 * ({ value } or a number). `defaults` (e.g. the Balancer's panic settings) fill what is not given. Errors are
 * TypeError/RangeError naming `field.<key>`.
 */
export function parsePriorityOptions(
  input: unknown,
  field = 'priority',
  defaults: Partial<PriorityOptions> = {},
): PriorityOptions {
  const d = { ...DEFAULTS, ...defaults };
  const o: Json = asObject(field, input);
  checkKeys(field, o, [
    ...['overprovisioningFactor', 'localityWeighted', 'zoneAware', 'panicThresholdPercent', 'panicMode'],
    ...['overprovisioning_factor', 'locality_weighted_lb_config', 'zone_aware_lb_config', 'healthy_panic_threshold'],
  ]);
  oneSpelling(field, o, 'overprovisioningFactor', 'overprovisioning_factor');
  oneSpelling(field, o, 'localityWeighted', 'locality_weighted_lb_config');
  oneSpelling(field, o, 'zoneAware', 'zone_aware_lb_config');
  let overprovisioningFactor = d.overprovisioningFactor;
  if (o.overprovisioningFactor !== undefined)
    overprovisioningFactor = num(field, o, 'overprovisioningFactor', 'overprovisioningFactor', 0, 1, 10);
  else if (o.overprovisioning_factor !== undefined) {
    const w = unwrap(field, o, 'overprovisioning_factor');
    overprovisioningFactor = int(field, w, 'overprovisioning_factor', 'overprovisioning_factor', 0, 100, 1000) / 100;
  }
  let localityWeighted = d.localityWeighted;
  if (o.localityWeighted !== undefined) localityWeighted = bool(`${field}.localityWeighted`, o.localityWeighted);
  else if (o.locality_weighted_lb_config !== undefined) {
    checkKeys(
      `${field}.locality_weighted_lb_config`,
      asObject(`${field}.locality_weighted_lb_config`, o.locality_weighted_lb_config),
      [],
    );
    localityWeighted = true;
  }
  let zoneAware = d.zoneAware;
  let panicMode = d.panicMode;
  let zk = 'zoneAware';
  if (o.zoneAware !== undefined)
    zoneAware = o.zoneAware === null ? null : parseZoneAware(`${field}.zoneAware`, o.zoneAware);
  else if (o.zone_aware_lb_config !== undefined) {
    zk = 'zone_aware_lb_config';
    const z = { ...asObject(`${field}.${zk}`, o.zone_aware_lb_config) };
    if (z.fail_traffic_on_panic !== undefined) {
      // one setting in two spellings: refused, not settled by which is read last
      if (o.panicMode !== undefined)
        throw typeError(
          `${field}.${zk}.fail_traffic_on_panic`,
          'left out beside panicMode (the same option)',
          z.fail_traffic_on_panic,
        );
      panicMode = bool(`${field}.${zk}.fail_traffic_on_panic`, z.fail_traffic_on_panic) ? 'fail' : 'all';
      delete z.fail_traffic_on_panic;
    }
    zoneAware = parseZoneAware(`${field}.${zk}`, z);
  }
  if (o.panicMode !== undefined) {
    if (o.panicMode !== 'all' && o.panicMode !== 'fail')
      throw rangeError(`${field}.panicMode`, "'all' or 'fail'", o.panicMode);
    panicMode = o.panicMode;
  }
  const pt = unwrap(field, o, 'healthy_panic_threshold');
  const panicThresholdPercent = num(
    field,
    pt,
    'panicThresholdPercent',
    'healthy_panic_threshold',
    d.panicThresholdPercent,
    0,
    100,
  );
  if (localityWeighted && zoneAware !== null)
    throw rangeError(`${field}.${zk}`, 'null when localityWeighted is set (Envoy: one or the other)', 'an object');
  return { overprovisioningFactor, localityWeighted, zoneAware, panicThresholdPercent, panicMode };
}

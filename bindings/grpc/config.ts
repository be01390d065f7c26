// Policy names and configs of the grpc-js bridge: which switchyard policies are registered under which
// service-config names, and the typed config grpc-js hands our load balancer (grpc-js `TypedLoadBalancingConfig`,
// parsed by `createFromJson` from the `loadBalancingConfig` entry).
//
// Names: every bridged policy is registered as `switchyard_<name>`; the plain `<name>` too unless grpc-js
// ships a policy of that name (pick_first, round_robin, weighted_round_robin, outlier_detection in 1.14) or
// another plug-in registered it first. So `{ peak_ewma: {} }`, `{ ring_hash: {...} }` and
// `{ switchyard_round_robin: {} }` select ours, `{ round_robin: {} }` still selects grpc-js's.
//
// A config is the policy's own options (balancing/service-config.ts, snake_case or camelCase) plus two
// bridge fields, both optional:
//  - `request_hash_header` (or `requestHashHeader`; hash policies only): the metadata key whose value is the
//    call's hash key (gRFC A76; metadata-key.ts);
//  - `outlier_detection` (or `outlierDetection`): health/outlier.ts options, camelCase with units or
//    Envoy's snake_case names (`consecutive_5xx`, `interval: "10s"`, `base_ejection_time`, ...).
// A bad config never throws out of `createFromJson` (grpc-js would log it at DEBUG level and silently fall
// back to pick_first): it yields a config carrying the error, and the load balancer fails calls with
// UNAVAILABLE and that message until a good config arrives (gRFC A21: a bad service config keeps the previous
// one in force where there is one).
import { policyFrom, policyNames } from '../balancing/service-config.js';
import type { Policy } from '../balancing/picker.js';
import { HashPolicy } from '../balancing/policies/hash.js';
import { durationMs, type Json, oneSpelling } from '../balancing/policy-config.js';
import { parseOutlierOptions, type OutlierDetectorOptions } from '../health/options.js';
import { rangeError, typeError } from '../util/validate.js';
import { parseHashHeader } from './metadata-key.js';
import { asError } from '../util/failure.js';

/** The load-balancing policies grpc-js 1.14 registers itself. */
export const GRPC_BUILTIN_POLICIES: readonly string[] = Object.freeze([
  'pick_first',
  'round_robin',
  'weighted_round_robin',
  'outlier_detection',
]);
/** Prefix of the names every bridged policy is registered under. */
export const SWITCHYARD_POLICY_PREFIX = 'switchyard_';
/** Policies not bridged: prequal probes its members out of band over HTTP. */
export const UNBRIDGED_POLICIES: readonly string[] = Object.freeze(['prequal']);

/** Our policies that can run inside grpc-js (the registry of balancing/service-config.ts, minus UNBRIDGED_POLICIES). */
export function bridgedPolicies(): string[] {
  return policyNames().filter((n) => !UNBRIDGED_POLICIES.includes(n));
}

/** Envoy OutlierDetection field names → OutlierDetectorOptions; `true` marks a protobuf Duration. */
const OUTLIER_FIELDS: Readonly<Record<string, readonly [string, boolean]>> = {
  consecutive_5xx: ['consecutive5xx', false],
  enforcing_consecutive_5xx: ['enforcingConsecutive5xx', false],
  interval: ['intervalMs', true],
  base_ejection_time: ['baseEjectionTimeMs', true],
  max_ejection_time: ['maxEjectionTimeMs', true],
  max_ejection_percent: ['maxEjectionPercent', false],
  always_eject_one_host: ['alwaysEjectOneHost', false],
  enforcing_success_rate: ['enforcingSuccessRate', false],
  success_rate_minimum_hosts: ['successRateMinimumHosts', false],
  success_rate_request_volume: ['successRateRequestVolume', false],
  success_rate_stdev_factor: ['successRateStdevFactor', false],
};
const OUTLIER_CAMEL = new Set(Object.values(OUTLIER_FIELDS).map(([c]) => c));

/** Validates the `outlier_detection` field; the result goes to `new OutlierDetector(...)`. */
export function parseOutlierField(field: string, v: unknown): OutlierDetectorOptions {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw typeError(field, 'an object', v);
  const o = v as Json;
  const out: Record<string, unknown> = {};
  for (const [k, val] of Object.entries(o)) {
    if (val === undefined) continue;
    if (OUTLIER_CAMEL.has(k)) out[k] = val;
    else if (OUTLIER_FIELDS[k] !== undefined) {
      const [camel, duration] = OUTLIER_FIELDS[k]!;
      oneSpelling(field, o, camel, k);
      out[camel] = duration ? durationMs(field, o, `${k}Ms`, k, 0) : val;
    } else
      throw rangeError(`${field}.${k}`, `one of ${[...OUTLIER_CAMEL, ...Object.keys(OUTLIER_FIELDS)].join(', ')}`, k);
  }
  try {
    parseOutlierOptions(out as OutlierDetectorOptions);
  } catch (e) {
    if (e instanceof RangeError) throw new RangeError(`${field}.${e.message}`, { cause: e });
    if (e instanceof TypeError) throw new TypeError(`${field}.${e.message}`, { cause: e });
    throw e;
  }
  return out as OutlierDetectorOptions;
}

/** One `loadBalancingConfig` entry for a bridged policy, validated (or carrying why it is not valid). */
export class SwitchyardLbConfig {
  constructor(
    /** The name the config was registered under (`peak_ewma`, `switchyard_round_robin`). */
    readonly lbName: string,
    /** Our policy's name (`peak_ewma`, `round_robin`). */
    readonly policyName: string,
    /** The JSON as given. */
    readonly raw: unknown,
    /** The policy's own options (the bridge fields removed). */
    readonly options: Record<string, unknown>,
    readonly hashHeader: string | undefined,
    readonly outlier: OutlierDetectorOptions | undefined,
    /** Why the config is invalid (a TypeError/RangeError naming the field), or undefined. */
    readonly error: Error | undefined,
  ) {}

  getLoadBalancerName(): string {
    return this.lbName;
  }

  toJsonObject(): object {
    return { [this.lbName]: this.raw ?? {} };
  }

  /** A fresh policy instance for one load balancer. */
  createPolicy(): Policy {
    return policyFrom({ ...this.options, name: this.policyName }, this.lbName);
  }

  /** Compares policy options (not the bridge fields), to tell whether a new config changes the policy. */
  get policyKey(): string {
    return JSON.stringify(this.options);
  }
}

/** Parses a `loadBalancingConfig` entry's value; never throws (see the header). */
export function parseLbConfig(lbName: string, policyName: string, json: unknown): SwitchyardLbConfig {
  const raw = json ?? {};
  let options: Json = {};
  let hashHeader: string | undefined;
  let outlier: OutlierDetectorOptions | undefined;
  try {
    if (typeof raw !== 'object' || Array.isArray(raw)) throw typeError(lbName, 'an object of policy options', json);
    const { request_hash_header, requestHashHeader, outlier_detection, outlierDetection, ...rest } = raw as Json;
    options = rest;
    oneSpelling(lbName, raw as Json, 'requestHashHeader', 'request_hash_header');
    oneSpelling(lbName, raw as Json, 'outlierDetection', 'outlier_detection');
    const hh = requestHashHeader ?? request_hash_header;
    const hhField = `${lbName}.${requestHashHeader !== undefined ? 'requestHashHeader' : 'request_hash_header'}`;
    if (hh !== undefined) hashHeader = parseHashHeader(hhField, hh);
    const od = outlierDetection ?? outlier_detection;
    if (od !== undefined)
      outlier = parseOutlierField(
        `${lbName}.${outlierDetection !== undefined ? 'outlierDetection' : 'outlier_detection'}`,
        od,
      );
    const probe = policyFrom({ ...options, name: policyName }, lbName);
    if (hashHeader !== undefined && !(probe instanceof HashPolicy))
      throw rangeError(hhField, 'absent: request_hash_header applies to hash policies only', hh);
    return new SwitchyardLbConfig(lbName, policyName, raw, options, hashHeader, outlier, undefined);
  } catch (e) {
    const error = asError(e, TypeError);
    return new SwitchyardLbConfig(lbName, policyName, raw, options, hashHeader, outlier, error);
  }
}

// The hash policies that reproduce other systems' tables (policies/hash.ts does the picking), so a keyed
// request goes to the member those systems would pick for the same hosts, and retries walk the table's
// preference order:
// - `ring_hash`: Envoy's ring hash (bindings/hashing/envoy/ring-hash.ts, Envoy `ring_hash_lb.cc`), which gRPC's
//   ring_hash (gRFC A42) builds the same way. Options as Envoy spells them (`minimum_ring_size`,
//   `maximum_ring_size`, `hash_function`: XX_HASH | MURMUR_HASH_2), as gRPC A42 does (`minRingSize`,
//   `maxRingSize`; proto `min_ring_size`, `max_ring_size`) or camelCase (`minimumRingSize`, ...). Defaults are
//   Envoy's (1024, 8388608, XX_HASH); gRPC caps the ring at 4096 entries by default: pass maxRingSize 4096 to
//   match a gRPC client exactly. Keys are hashed as Envoy hashes a request hash policy's value (xxHash64,
//   seed 0, of the key's UTF-8 bytes), whatever the hash_function of the ring entries.
// - `maglev`: Envoy's Maglev table (bindings/hashing/envoy/maglev.ts), `table_size` (default 65537).
// - `ketama`: a ketama continuum (bindings/hashing/ketama/ketama.ts), `compat` naming whose.
// Weights: every valid endpoint weight is taken, made into what each table accepts. Envoy's are integers >= 1
// (load_balancing_weight) summing to at most 2^32 - 1 (Envoy refuses more); ketama's integers in [1, 2^31 - 1]
// (as upstream parses them) but for the hashring preset. For all of them a fractional weight is rounded to
// the nearest integer (at least 1) (`integerWeights`); weights past those limits are first scaled down
// together so that they fit, which keeps their ratios (all these tables normalize weights to w / Σw) to within
// one unit. ketama's hashring preset takes fractional weights in [1e-9, 1e9]: scaled down together when the
// largest is above, raised to 1e-9 when below. A table that still refuses an endpoint (twemproxy labels
// servers by host:port, so it needs 'host:port' ids; an id that is not well-formed UTF-16) names it
// `endpoints[i]` (policies/hash.ts). `maglev.table_size` must be prime (checked with the options).
// Each table is immutable and built over the eligible members; it is rebuilt only when they or their
// weights change, and the previous one is freed then.
//
//   new Balancer({ policy: { ring_hash: { minimum_ring_size: 4096 } } }).pick({ key: 'user:42' })
//   new Balancer({ policy: { maglev: { table_size: 65537 } } })
//   new Balancer({ policy: { name: 'ketama', compat: 'twemproxy' } })
import type { OrderedKeyRouter } from '../../hashing/key-router.js';
import { ENVOY_MAX_RING_SIZE, ENVOY_MIN_RING_SIZE, EnvoyRingHash } from '../../hashing/envoy/ring-hash.js';
import { KETAMA_COMPATS, KetamaRing, type KetamaCompat } from '../../hashing/ketama/ketama.js';
import { isPrime, Maglev, MAGLEV_DEFAULT_TABLE_SIZE, MAGLEV_MAX_TABLE_SIZE } from '../../hashing/envoy/maglev.js';
import { MEMBER_WEIGHT_MAX, MEMBER_WEIGHT_MIN } from '../../hashing/membership.js';
import { asObject, checkKeys, int, type Json, oneSpelling } from '../policy-config.js';
import { HashPolicy, type Members, scaleWeights, type SlotHasher } from './hash.js';
import { rangeError } from '../../util/validate.js';

/** Rebuilds the table only when the members or weights change; frees the one it replaces. */
function memoized<T extends OrderedKeyRouter>(
  build: (members: Members, backend: 'wasm' | 'js') => T,
): () => SlotHasher {
  return () => {
    let last: { key: string; table: T } | null = null;
    return {
      get: (members, { backend }) => {
        const key = `${backend} ${JSON.stringify(members)}`;
        if (last !== null && last.key === key) return last.table;
        const table = build(members, backend);
        last?.table.dispose();
        last = { key, table };
        return table;
      },
      dispose: () => {
        last?.table.dispose();
        last = null;
      },
    };
  };
}

/** Envoy's limit on the sum of a locality's weights (uint32). */
const ENVOY_MAX_WEIGHT_SUM = 0xffffffff;
/** ketama's integer weights (int32, as upstream parses them). */
const KETAMA_MAX_WEIGHT = 0x7fffffff;

/**
 * Integer weights: each the nearest integer, at least 1; when one is above `maxEach` or they sum above
 * `maxSum`, all are first scaled down together (the largest to at most `maxEach`) so that they fit.
 */
export function integerWeights(members: Members, maxEach: number, maxSum = Infinity): Members {
  const rounded = members.map((m) => ({ id: m.id, weight: Math.max(1, Math.round(m.weight)) }));
  let sum = 0;
  let max = 0;
  for (const m of rounded) {
    sum += m.weight;
    max = Math.max(max, m.weight);
  }
  if (max <= maxEach && sum <= maxSum) return rounded;
  // Σ max(1, floor(w / max × top)) <= top × rel + n <= maxSum
  return scaleWeights(rounded, (rel) => Math.min(maxEach, (maxSum - members.length) / rel), 1, Math.floor);
}

/**
 * Fractional weights in [MEMBER_WEIGHT_MIN, MEMBER_WEIGHT_MAX] (membership.ts): all scaled down together when
 * the largest is above, then each at least the minimum.
 */
function fractionalWeights(members: Members): Members {
  return scaleWeights(members, () => MEMBER_WEIGHT_MAX, MEMBER_WEIGHT_MIN);
}

/** Envoy's integer load_balancing_weight: nearest integer, at least 1, summing to at most 2^32 - 1. */
function envoyWeights(members: Members): Members {
  return integerWeights(members, ENVOY_MAX_WEIGHT_SUM, ENVOY_MAX_WEIGHT_SUM);
}

export interface RingHashPolicyConfig {
  minimumRingSize: number;
  maximumRingSize: number;
  hashFunction: 'XX_HASH' | 'MURMUR_HASH_2';
}

/** The one of `names` (spellings of one option) present in `o`, as [key, value]; two present is a TypeError. */
function firstKey(field: string, o: Json, names: readonly string[]): [string, unknown] | undefined {
  const given = names.filter((k) => o[k] !== undefined);
  if (given.length > 1) oneSpelling(field, o, given[0]!, given[1]!);
  return given.length === 0 ? undefined : [given[0]!, o[given[0]!]];
}

const MIN_NAMES = ['minimumRingSize', 'minimum_ring_size', 'minRingSize', 'min_ring_size'] as const;
const MAX_NAMES = ['maximumRingSize', 'maximum_ring_size', 'maxRingSize', 'max_ring_size'] as const;

export function parseRingHashPolicy(json: unknown, field = 'ring_hash'): RingHashPolicyConfig {
  const o = asObject(field, json);
  checkKeys(field, o, [...MIN_NAMES, ...MAX_NAMES, 'hashFunction', 'hash_function']);
  const size = (names: readonly string[], dflt: number): number => {
    const kv = firstKey(field, o, names);
    return kv === undefined ? dflt : int(field, o, kv[0], kv[0], dflt, 1, ENVOY_MAX_RING_SIZE);
  };
  const minimumRingSize = size(MIN_NAMES, ENVOY_MIN_RING_SIZE);
  const maximumRingSize = size(MAX_NAMES, ENVOY_MAX_RING_SIZE);
  if (minimumRingSize > maximumRingSize) {
    const k = firstKey(field, o, MIN_NAMES)![0];
    throw rangeError(`${field}.${k}`, `<= the maximum ring size (${maximumRingSize})`, minimumRingSize);
  }
  const hf = firstKey(field, o, ['hashFunction', 'hash_function']);
  let hashFunction: RingHashPolicyConfig['hashFunction'] = 'XX_HASH';
  if (hf !== undefined) {
    // Envoy: DEFAULT_HASH is XX_HASH
    if (hf[1] === 'MURMUR_HASH_2') hashFunction = 'MURMUR_HASH_2';
    else if (hf[1] !== 'XX_HASH' && hf[1] !== 'DEFAULT_HASH')
      throw rangeError(`${field}.${hf[0]}`, "'XX_HASH' or 'MURMUR_HASH_2'", hf[1]);
  }
  return { minimumRingSize, maximumRingSize, hashFunction };
}

export function ringHashPolicy(c: RingHashPolicyConfig = parseRingHashPolicy({})): HashPolicy {
  const hasher = memoized(
    (members, backend) =>
      new EnvoyRingHash(envoyWeights(members), {
        minimumRingSize: c.minimumRingSize,
        maximumRingSize: c.maximumRingSize,
        hashFunction: c.hashFunction,
        backend,
      }),
  );
  return new HashPolicy({}, 'ring_hash', hasher);
}

export interface MaglevPolicyConfig {
  tableSize: number;
}

export function parseMaglevPolicy(json: unknown, field = 'maglev'): MaglevPolicyConfig {
  const o = asObject(field, json);
  checkKeys(field, o, ['tableSize', 'table_size']);
  const tableSize = int(field, o, 'tableSize', 'table_size', MAGLEV_DEFAULT_TABLE_SIZE, 2, MAGLEV_MAX_TABLE_SIZE);
  if (!isPrime(tableSize)) {
    const k = o.tableSize !== undefined ? 'tableSize' : 'table_size';
    throw rangeError(`${field}.${k}`, `a prime in [2, ${MAGLEV_MAX_TABLE_SIZE}] (Maglev's table size)`, o[k]);
  }
  return { tableSize };
}

export function maglevPolicy(c: MaglevPolicyConfig): HashPolicy {
  const hasher = memoized((members, backend) => new Maglev(envoyWeights(members), { tableSize: c.tableSize, backend }));
  return new HashPolicy({}, 'maglev', hasher);
}

export interface KetamaPolicyConfig {
  compat: KetamaCompat;
}

export function parseKetamaPolicy(json: unknown, field = 'ketama'): KetamaPolicyConfig {
  const o = asObject(field, json);
  checkKeys(field, o, ['compat']);
  const compat = o.compat === undefined ? 'libketama' : o.compat;
  if (!(KETAMA_COMPATS as readonly unknown[]).includes(compat))
    throw rangeError(`${field}.compat`, KETAMA_COMPATS.join(' | '), compat);
  return { compat: compat as KetamaCompat };
}

export function ketamaPolicy(c: KetamaPolicyConfig): HashPolicy {
  const weights = (members: Members): Members =>
    c.compat === 'hashring' ? fractionalWeights(members) : integerWeights(members, KETAMA_MAX_WEIGHT);
  const hasher = memoized((members, backend) => new KetamaRing(weights(members), { compat: c.compat, backend }));
  return new HashPolicy({}, 'ketama', hasher);
}

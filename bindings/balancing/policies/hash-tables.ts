// `maglev` and `ketama` policies: the ring_hash policy (policy-hash.ts) over an Envoy Maglev table or a ketama
// continuum, so requests with a key go to the member those systems would pick, and retries walk the
// table's preference order.
//   new Balancer({ policy: { maglev: { table_size: 65537 } } }).pick({ key: 'user:42' })
//   new Balancer({ policy: { name: 'ketama', compat: 'twemproxy' } })
import { KETAMA_COMPATS, KetamaRing, type KetamaCompat } from '../../hashing/ketama/ketama.js';
import { Maglev, MAGLEV_DEFAULT_TABLE_SIZE, MAGLEV_MAX_TABLE_SIZE } from '../../hashing/envoy/maglev.js';
import { asObject, checkKeys, int } from '../policy-config.js';
import { HashPolicy } from './hash.js';
import { rangeError } from '../../util/validate.js';

export interface MaglevPolicyConfig {
  tableSize: number;
}

export function parseMaglevPolicy(json: unknown, field = 'maglev'): MaglevPolicyConfig {
  const o = asObject(field, json);
  checkKeys(field, o, ['tableSize', 'table_size']);
  return { tableSize: int(field, o, 'tableSize', 'table_size', MAGLEV_DEFAULT_TABLE_SIZE, 2, MAGLEV_MAX_TABLE_SIZE) };
}

export function maglevPolicy(c: MaglevPolicyConfig): HashPolicy {
  return new HashPolicy({ hasher: (members) => new Maglev(members, { tableSize: c.tableSize }) }, 'maglev');
}

export interface KetamaPolicyConfig {
  compat: KetamaCompat;
}

export function parseKetamaPolicy(json: unknown, field = 'ketama'): KetamaPolicyConfig {
  const o = asObject(field, json);
  checkKeys(field, o, ['compat']);
  const compat = o.compat ?? 'libketama';
  if (!(KETAMA_COMPATS as readonly unknown[]).includes(compat))
    throw rangeError(`${field}.compat`, KETAMA_COMPATS.join(' | '), compat);
  return { compat: compat as KetamaCompat };
}

export function ketamaPolicy(c: KetamaPolicyConfig): HashPolicy {
  return new HashPolicy({ hasher: (members) => new KetamaRing(members, { compat: c.compat }) }, 'ketama');
}

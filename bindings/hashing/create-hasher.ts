// One selector for every consistent-hash scheme switchyard speaks. Each algorithm lives in its own module;
// this file only maps a name and options to an instance. The result is typed by the algorithm (`HasherTypes`):
// every one is a `KeyRouter` (key-router.ts), and what else it can do (preference, mutation) is in its type.
//
//   const h = createHasher(['127.0.0.1:11211', '127.0.0.1:11212'], { algorithm: 'ketama', compat: 'twemproxy' });
//   h.get('user:42');
//
// Differences: `jump` has no weights and only the last member can be removed (bucket i is the i-th member as
// given); `maglev`'s preference order is switchyard's (see maglev.ts); `ring-hash` and `maglev` hash keys with
// xxHash64 as Envoy does for request hashes. `xxhash-ring` is switchyard's own ring (ring.ts), `ring-hash`
// Envoy's.
// Errors name `options.<key>` for an option no algorithm takes, the option for one the algorithm does not
// take, and `nodes` / `nodes[i]` for the node list (whatever the router itself calls it).
import type { Backend, RingHash } from '../core/core.js';
import { EnvoyRingHash, type EnvoyRingHashFunction } from './envoy/ring-hash.js';
import { JumpHash } from './jump.js';
import { KETAMA_COMPATS, KetamaRing, type KetamaCompat } from './ketama/ketama.js';
import { KETAMA_KEY_HASHES, type KetamaKeyHash } from './ketama/key-hash.js';
import type { KeyRouter, MemberInput } from './key-router.js';
import { Maglev } from './envoy/maglev.js';
import { NginxConsistentHash } from './nginx-hash.js';
import { Rendezvous } from './rendezvous.js';
import { HashRing } from './ring.js';
import { isMemberList, MEMBER_KEYS } from './membership.js';
import { checkOptions } from './base.js';
import { renameMembers } from './shared.js';
import { checkKeys, rangeError, str, typeError } from '../util/validate.js';

export const ALGORITHMS = ['xxhash-ring', 'ketama', 'ring-hash', 'maglev', 'jump', 'nginx', 'rendezvous'] as const;
export type Algorithm = (typeof ALGORITHMS)[number];

/** The class `createHasher` returns for each algorithm. */
export interface HasherTypes {
  'xxhash-ring': HashRing;
  ketama: KetamaRing;
  'ring-hash': EnvoyRingHash;
  maglev: Maglev;
  jump: JumpHash;
  nginx: NginxConsistentHash;
  rendezvous: Rendezvous;
}

export interface HasherOptions<A extends Algorithm = Algorithm> {
  algorithm: A;
  /** ketama: whose continuum (libketama, libmemcached, spymemcached, twemproxy, hashring). */
  compat?: KetamaCompat;
  /**
   * ketama with compat 'hashring': hashring's `default port` (a server on it is hashed by host alone); the
   * `memcached` npm client passes 11211.
   */
  defaultPort?: number;
  /**
   * xxhash-ring: 'xxh32' | 'xxh64'; ketama/twemproxy: the key hash (md5, fnv1a_64, ...);
   * ring-hash: 'XX_HASH' | 'MURMUR_HASH_2'.
   */
  hash?: string;
  /** xxhash-ring: points per unit of weight. */
  vnodes?: number;
  /** xxhash-ring: hash seed. */
  seed?: number | bigint;
  /** maglev: prime table size. */
  tableSize?: number;
  /** ring-hash: Envoy minimum/maximum ring size. */
  minimumRingSize?: number;
  maximumRingSize?: number;
  backend?: Backend;
}

const ONLY: Partial<Record<keyof HasherOptions, Algorithm[]>> = {
  compat: ['ketama'],
  defaultPort: ['ketama'],
  vnodes: ['xxhash-ring'],
  seed: ['xxhash-ring'],
  tableSize: ['maglev'],
  minimumRingSize: ['ring-hash'],
  maximumRingSize: ['ring-hash'],
  hash: ['xxhash-ring', 'ketama', 'ring-hash'],
};

/** Every option `createHasher` reads. */
const KNOWN: readonly string[] = [
  'algorithm',
  'compat',
  'defaultPort',
  'hash',
  'vnodes',
  'seed',
  'tableSize',
  'minimumRingSize',
  'maximumRingSize',
  'backend',
];

/** Jump's bucket ids from the nodes: ids, or `{ id }` with weight unset or 1 (Jump has no weights). */
function jumpIds(nodes: unknown): string[] {
  if (!isMemberList(nodes)) throw typeError('nodes', 'an iterable of ids or { id }', nodes);
  return [...nodes].map((n, i) => {
    if (typeof n === 'string') return n;
    if (n === null || typeof n !== 'object') throw typeError(`nodes[${i}]`, 'an id string or { id }', n);
    checkKeys(`nodes[${i}]`, n, MEMBER_KEYS);
    const { id, weight } = n as { id?: unknown; weight?: unknown };
    if (weight !== undefined && weight !== 1)
      throw rangeError(`nodes[${i}].weight`, "1: algorithm 'jump' has no weights", weight);
    return str(`nodes[${i}].id`, id);
  });
}

export function createHasher<A extends Algorithm>(
  nodes: readonly MemberInput[],
  options: HasherOptions<A>,
): HasherTypes[A];
export function createHasher(nodes: readonly MemberInput[], options: HasherOptions): KeyRouter {
  checkOptions(options, KNOWN);
  try {
    return build(nodes, options);
  } catch (err) {
    throw renameMembers(err, (i) => (i === undefined ? 'nodes' : `nodes[${i}]`));
  }
}

function build(nodes: readonly MemberInput[], options: HasherOptions): KeyRouter {
  const { algorithm } = options;
  if (!(ALGORITHMS as readonly string[]).includes(algorithm)) {
    const renamed = (algorithm as string) === 'ring' ? " ('ring' is now 'xxhash-ring')" : '';
    throw rangeError('algorithm', ALGORITHMS.join(' | ') + renamed, algorithm);
  }
  for (const [key, algos] of Object.entries(ONLY) as [keyof HasherOptions, Algorithm[]][]) {
    if (options[key] !== undefined && !algos.includes(algorithm))
      throw rangeError(key, `unset for algorithm '${algorithm}' (it applies to ${algos.join(', ')})`, options[key]);
  }
  const backend = options.backend === undefined ? {} : { backend: options.backend };
  switch (algorithm) {
    case 'xxhash-ring': {
      const hash = options.hash;
      if (hash !== undefined && str('hash', hash) !== 'xxh32' && hash !== 'xxh64')
        throw rangeError('hash', "'xxh32' or 'xxh64' for algorithm 'xxhash-ring'", hash);
      return new HashRing(nodes, {
        ...backend,
        ...(hash !== undefined && { hash: hash as RingHash }),
        ...(options.vnodes !== undefined && { vnodes: options.vnodes }),
        ...(options.seed !== undefined && { seed: options.seed }),
      });
    }
    case 'ketama': {
      const compat = options.compat === undefined ? 'libketama' : str('compat', options.compat);
      if (!(KETAMA_COMPATS as readonly string[]).includes(compat))
        throw rangeError('compat', KETAMA_COMPATS.join(' | '), compat);
      if (options.hash !== undefined && !(KETAMA_KEY_HASHES as readonly string[]).includes(str('hash', options.hash)))
        throw rangeError('hash', KETAMA_KEY_HASHES.join(' | '), options.hash);
      return new KetamaRing(nodes, {
        ...backend,
        compat: compat as KetamaCompat,
        ...(options.hash !== undefined && { hash: options.hash as KetamaKeyHash }),
        ...(options.defaultPort !== undefined && { defaultPort: options.defaultPort }),
      });
    }
    case 'ring-hash': {
      const hash = options.hash;
      if (hash !== undefined && str('hash', hash) !== 'XX_HASH' && hash !== 'MURMUR_HASH_2')
        throw rangeError('hash', "'XX_HASH' or 'MURMUR_HASH_2' for algorithm 'ring-hash'", hash);
      return new EnvoyRingHash(nodes, {
        ...backend,
        ...(hash !== undefined && { hashFunction: hash as EnvoyRingHashFunction }),
        ...(options.minimumRingSize !== undefined && { minimumRingSize: options.minimumRingSize }),
        ...(options.maximumRingSize !== undefined && { maximumRingSize: options.maximumRingSize }),
      });
    }
    case 'maglev':
      return new Maglev(nodes, {
        ...backend,
        ...(options.tableSize !== undefined && { tableSize: options.tableSize }),
      });
    case 'jump':
      return new JumpHash(jumpIds(nodes), backend);
    case 'nginx':
      return new NginxConsistentHash(nodes, backend);
    case 'rendezvous':
      return new Rendezvous(nodes, backend);
  }
}

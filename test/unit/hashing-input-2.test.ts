// Bad input to the routers in hashing/, second sweep (each case reproduced first): unknown keys in member
// objects and option objects, null option values, arrays as options, planChange's routers, EnvoyBoundedLoad's
// target, the frozen `members` arrays, and wrong-type arguments that were RangeErrors. Each error is typed
// (TypeError: wrong type, RangeError: right type, bad value) and names the field and the value.
import test from 'ava';
import {
  BoundedLoad,
  createHasher,
  EnvoyBoundedLoad,
  EnvoyRingHash,
  HashRing,
  JumpHash,
  KetamaRing,
  type KeyRouter,
  Maglev,
  NginxConsistentHash,
  planChange,
  Rendezvous,
  xxh64,
} from '../../bindings/index.js';

const throwsType = (t: import('ava').ExecutionContext, fn: () => unknown, message: RegExp, name?: string) =>
  t.throws(fn, { instanceOf: TypeError, message }, name);
const throwsRange = (t: import('ava').ExecutionContext, fn: () => unknown, message: RegExp, name?: string) =>
  t.throws(fn, { instanceOf: RangeError, message }, name);

test('F1: a member object with an unknown key is a RangeError naming the key and the allowed ones', (t) => {
  const wieght = { id: 'a:1', wieght: 5 } as never;
  const cases: [string, () => unknown, RegExp][] = [
    ['HashRing', () => new HashRing([wieght, 'b']), /^members\[0\]\.wieght must be one of id, weight, got "wieght"$/],
    ['Rendezvous', () => new Rendezvous(['b', wieght]), /^members\[1\]\.wieght must be one of id, weight, got/],
    ['nginx', () => new NginxConsistentHash([wieght]), /^servers\[0\]\.wieght must be one of id, weight, got/],
    ['Maglev', () => new Maglev([wieght], { tableSize: 7 }), /^members\[0\]\.wieght must be one of id, weight, got/],
    ['EnvoyRingHash', () => new EnvoyRingHash([wieght]), /^members\[0\]\.wieght must be one of id, weight, got/],
    ['KetamaRing', () => new KetamaRing([wieght]), /^servers\[0\]\.wieght must be one of id, weight, name, vnodes,/],
    ['HashRing.add', () => new HashRing(['a']).add(wieght), /^member\.wieght must be one of id, weight, got/],
    ['HashRing.add list', () => new HashRing(['a']).add(['c', wieght]), /^members\[1\]\.wieght must be/],
    ['HashRing.reset', () => new HashRing(['a']).reset([wieght]), /^members\[0\]\.wieght must be/],
    ['nginx.add', () => new NginxConsistentHash(['a:1']).add(wieght), /^server\.wieght must be/],
    ['KetamaRing.add', () => new KetamaRing(['a:1']).add(wieght), /^server\.wieght must be/],
  ];
  for (const [name, fn, message] of cases) throwsRange(t, fn, message, name);
  // createHasher names the node list, jump included
  for (const algorithm of ['xxhash-ring', 'ketama', 'ring-hash', 'maglev', 'jump', 'nginx', 'rendezvous'] as const)
    throwsRange(
      t,
      () => createHasher(['b:1', wieght], { algorithm }),
      /^nodes\[1\]\.wieght must be one of id, weight(, name, vnodes)?, got "wieght"$/,
      algorithm,
    );
  // nothing was added by a refused change; the known keys still pass (ketama's name and vnodes by preset)
  const r = new HashRing(['a']);
  t.throws(() => r.add({ id: 'c', wieght: 5 } as never));
  t.deepEqual(r.members, ['a']);
  t.is(new HashRing([{ id: 'a', weight: 2 }]).weight('a'), 2);
  t.is(new KetamaRing([{ id: 'a:1', weight: 2, name: 's1' }], { compat: 'twemproxy' }).weight('a:1'), 2);
  t.is(new KetamaRing([{ id: 'a:1', vnodes: 8 }], { compat: 'hashring' }).size, 1);
  t.is(createHasher([{ id: 'a', weight: 1 }], { algorithm: 'jump' }).size, 1);
});

test('F2: weight null is the TypeError of a wrong-type weight on every router (not weight 1)', (t) => {
  const nul = [{ id: 'a:1', weight: null }] as never;
  for (const [name, fn] of [
    ['EnvoyRingHash', () => new EnvoyRingHash(nul)],
    ['Maglev', () => new Maglev(nul, { tableSize: 7 })],
    ['HashRing', () => new HashRing(nul)],
    ['Rendezvous', () => new Rendezvous(nul)],
  ] as const)
    throwsType(t, fn, /^members\[0\]\.weight must be .*, got null$/, name);
  throwsType(t, () => new NginxConsistentHash(nul), /^servers\[0\]\.weight must be .*, got null$/);
  throwsType(t, () => new KetamaRing(nul), /^servers\[0\]\.weight must be .*, got null$/);
  throwsType(t, () => createHasher(nul, { algorithm: 'ring-hash' }), /^nodes\[0\]\.weight must be .*, got null$/);
  // weight left out is still 1
  t.is(new EnvoyRingHash([{ id: 'a' }]).weight('a'), 1);
  t.is(new Maglev([{ id: 'a', weight: undefined }], { tableSize: 7 }).weight('a'), 1);
});

test('F3: an unknown option key is a RangeError naming options.<key> and the allowed keys, as createHasher', (t) => {
  const ring = new HashRing(['a']);
  const maglev = new Maglev(['a'], { tableSize: 7 });
  const cases: [string, () => unknown, RegExp][] = [
    [
      'HashRing',
      () => new HashRing(['a'], { vnode: 10 } as never),
      /^options\.vnode must be one of vnodes, hash, seed, backend, got "vnode"$/,
    ],
    ['HashRing sed', () => new HashRing(['a'], { hash: 'xxh64', sed: 5 } as never), /^options\.sed must be one of/],
    [
      'Maglev',
      () => new Maglev(['a'], { tablesize: 7 } as never),
      /^options\.tablesize must be one of tableSize, backend, got/,
    ],
    [
      'EnvoyRingHash',
      () => new EnvoyRingHash(['a'], { minRingSize: 8 } as never),
      /^options\.minRingSize must be one of minimumRingSize, maximumRingSize, hashFunction, backend,/,
    ],
    [
      'JumpHash',
      () => new JumpHash(['a'], { bakend: 'js' } as never),
      /^options\.bakend must be one of backend, got "bakend"$/,
    ],
    [
      'KetamaRing',
      () => new KetamaRing(['a:1'], { compta: 'twemproxy' } as never),
      /^options\.compta must be one of compat, hash, hashTag, vnodeCount, replicas, defaultPort, backend,/,
    ],
    [
      'Rendezvous',
      () => new Rendezvous(['a'], { seed: 1 } as never),
      /^options\.seed must be one of backend, got "seed"$/,
    ],
    ['nginx', () => new NginxConsistentHash(['a'], { vnodes: 1 } as never), /^options\.vnodes must be one of backend,/],
    [
      'BoundedLoad',
      () => new BoundedLoad(ring, { factor: 1.25, laod: () => 99 } as never),
      /^options\.laod must be one of factor, load, weighted, got "laod"$/,
    ],
    [
      'EnvoyBoundedLoad',
      () => new EnvoyBoundedLoad(maglev, { hashBalanceFactor: 125, load: () => 0, totalLaod: () => 0 } as never),
      /^options\.totalLaod must be one of hashBalanceFactor, load, totalLoad,/,
    ],
  ];
  for (const [name, fn, message] of cases) throwsRange(t, fn, message, name);
  // arrays (and other non-objects) as options are TypeErrors everywhere, createHasher included
  const arrays: [string, () => unknown][] = [
    ['HashRing', () => new HashRing(['a'], [] as never)],
    ['Maglev', () => new Maglev(['a'], [] as never)],
    ['EnvoyRingHash', () => new EnvoyRingHash(['a'], [] as never)],
    ['JumpHash', () => new JumpHash(['a'], [] as never)],
    ['KetamaRing', () => new KetamaRing(['a:1'], [] as never)],
    ['Rendezvous', () => new Rendezvous(['a'], [] as never)],
    ['nginx', () => new NginxConsistentHash(['a'], [] as never)],
    ['BoundedLoad', () => new BoundedLoad(ring, [] as never)],
    ['EnvoyBoundedLoad', () => new EnvoyBoundedLoad(maglev, [] as never)],
    ['createHasher', () => createHasher(['a'], [] as never)],
  ];
  for (const [name, fn] of arrays) throwsType(t, fn, /^options must be an object, got \[object Array\]$/, name);
  throwsType(t, () => new HashRing(['a'], null as never), /^options must be an object, got null$/);
  throwsType(t, () => createHasher(['a'], undefined as never), /^options must be an object, got undefined$/);
  throwsType(t, () => new BoundedLoad(ring, undefined as never), /^options must be an object, got undefined$/);
  // known keys, undefined values included, still pass
  t.notThrows(() => new HashRing(['a'], { vnodes: 10, hash: 'xxh64', seed: 5n, backend: undefined }));
  t.notThrows(() => new BoundedLoad(ring, { factor: 1.25, load: undefined, weighted: true }));
});

test('F4: a null option is a TypeError naming the option, never the default', (t) => {
  const cases: [string, () => unknown, RegExp][] = [
    ['HashRing seed', () => new HashRing(['a'], { seed: null as never }), /^seed must be .*, got null$/],
    [
      'HashRing xxh64 seed',
      () => new HashRing(['a'], { hash: 'xxh64', seed: null as never }),
      /^seed must be .*, got null$/,
    ],
    ['HashRing hash', () => new HashRing(['a'], { hash: null as never }), /^hash must be a string, got null$/],
    ['HashRing vnodes', () => new HashRing(['a'], { vnodes: null as never }), /^vnodes must be .*, got null$/],
    [
      'EnvoyRingHash hashFunction',
      () => new EnvoyRingHash(['a'], { hashFunction: null as never }),
      /^hashFunction must be a string, got null$/,
    ],
    [
      'EnvoyRingHash minimumRingSize',
      () => new EnvoyRingHash(['a'], { minimumRingSize: null as never }),
      /^minimumRingSize must be .*, got null$/,
    ],
    ['Maglev tableSize', () => new Maglev(['a'], { tableSize: null as never }), /^tableSize must be .*, got null$/],
    [
      'KetamaRing compat',
      () => new KetamaRing(['a:1'], { compat: null as never }),
      /^compat must be a string, got null$/,
    ],
    [
      'KetamaRing hash',
      () => new KetamaRing(['a:1:1'], { compat: 'twemproxy', hash: null as never }),
      /^hash must be a string, got null$/,
    ],
    [
      'KetamaRing hashTag',
      () => new KetamaRing(['a:1:1'], { compat: 'twemproxy', hashTag: null as never }),
      /^hashTag must be a string, got null$/,
    ],
    [
      'KetamaRing vnodeCount',
      () => new KetamaRing(['a:1'], { compat: 'hashring', vnodeCount: null as never }),
      /^vnodeCount must be .*, got null$/,
    ],
    [
      'createHasher seed',
      () => createHasher(['a'], { algorithm: 'xxhash-ring', seed: null as never }),
      /^seed must be .*, got null$/,
    ],
    [
      'createHasher hash',
      () => createHasher(['a'], { algorithm: 'xxhash-ring', hash: null as never }),
      /^hash must be a string, got null$/,
    ],
    [
      'createHasher ring-hash hash',
      () => createHasher(['a'], { algorithm: 'ring-hash', hash: null as never }),
      /^hash must be a string, got null$/,
    ],
    [
      'createHasher compat',
      () => createHasher(['a:1'], { algorithm: 'ketama', compat: null as never }),
      /^compat must be a string, got null$/,
    ],
    [
      'createHasher ketama hash',
      () => createHasher(['a:1'], { algorithm: 'ketama', hash: null as never }),
      /^hash must be a string, got null$/,
    ],
    [
      'createHasher tableSize',
      () => createHasher(['a'], { algorithm: 'maglev', tableSize: null as never }),
      /^tableSize must be .*, got null$/,
    ],
  ];
  for (const [name, fn, message] of cases) throwsType(t, fn, message, name);
  // wrong values of the right type stay RangeErrors; hashring's documented `defaultPort: null` (none) stays valid
  throwsRange(t, () => new HashRing(['a'], { hash: 'md5' as never }), /^hash must be 'xxh32' or 'xxh64', got "md5"$/);
  throwsRange(
    t,
    () => new HashRing(['a'], { hash: 'xxh64', seed: 2n ** 64n }),
    /^seed must be a bigint in \[0, 2\^64 - 1\]/,
  );
  throwsRange(t, () => new HashRing(['a'], { hash: 'xxh64', seed: -1 }), /^seed must be an integer in \[0, /);
  t.is(new KetamaRing(['a:1'], { compat: 'hashring', defaultPort: null }).defaultPort, null);
});

test('F5: planChange checks its routers and what their get returns', (t) => {
  const ring = new HashRing(['a', 'b']);
  throwsType(
    t,
    () => planChange(null as never, ring),
    /^from must be a router \(an object with get\(key\)\), got null$/,
  );
  throwsType(t, () => planChange(ring, 5 as never), /^to must be a router .*, got 5$/);
  throwsType(t, () => planChange({} as never, ring), /^from must be a router/);
  throwsType(t, () => planChange(ring, { get: 'a' } as never), /^to must be a router/);
  throwsType(
    t,
    () => planChange({ get: () => 5 } as never, ring, 2),
    /^from\.get\("key:0"\) must be a member id \(a string\) or undefined, got 5$/,
  );
  throwsType(t, () => planChange(ring, { get: () => null } as never, 2), /^to\.get\("key:0"\) must be .*, got null$/);
  // routers with no owner (undefined) and any KeyLookup (a bounded-load decorator) are fine
  const plan = planChange({ get: () => undefined }, ring, 10);
  t.is(plan.moved, 10);
  t.is(planChange(ring, new BoundedLoad(ring, { factor: 1e9 }), 50).moved, 0);
});

test('F6: EnvoyBoundedLoad refuses, at construction, a target that cannot take every 64-bit request hash', (t) => {
  const opts = { hashBalanceFactor: 150, load: () => 0 };
  for (const [name, target] of [
    ['JumpHash', new JumpHash(['a', 'b', 'c'])],
    ['HashRing', new HashRing(['a', 'b'])],
    ['KetamaRing', new KetamaRing(['a:1'])],
    ['nginx', new NginxConsistentHash(['a:1'])],
    ['empty JumpHash', new JumpHash([])],
  ] as const)
    throwsType(t, () => new EnvoyBoundedLoad(target as never, opts), /^target must be a table with getByHash/, name);
  // the Envoy tables answer every key, including those whose hash is passed as a number (< 2^53) rather
  // than a bigint; 'key123' is one (xxh64 4853407074721288)
  t.true(xxh64('key123') < 2n ** 53n);
  for (const table of [new Maglev(['a', 'b', 'c']), new EnvoyRingHash(['a', 'b', 'c'])]) {
    const lb = new EnvoyBoundedLoad(table, opts);
    for (let i = 0; i < 5000; i++) t.is(lb.get(`key${i}`), table.get(`key${i}`));
  }
  // a duck-typed table that takes both forms, as EnvoyHashingTarget states, is fine
  const duck = {
    members: ['x'],
    getByHash: (h: bigint | number) => (typeof h === 'number' || h >= 0n ? 'x' : undefined),
  };
  t.is(new EnvoyBoundedLoad(duck, opts).get('k'), 'x');
  // other errors of the target are its own
  const broken = {
    members: [],
    getByHash: () => {
      throw new Error('down');
    },
  };
  t.throws(() => new EnvoyBoundedLoad(broken, opts), { instanceOf: Error, message: 'down' });
});

test('F7: members arrays are frozen: writing to one throws and routing is unchanged; changes replace them', (t) => {
  const routers: [string, () => KeyRouter][] = [
    ['HashRing wasm', () => new HashRing(['a', 'b', 'c'], { backend: 'wasm' })],
    ['HashRing js', () => new HashRing(['a', 'b', 'c'], { backend: 'js' })],
    ['Rendezvous', () => new Rendezvous(['a', 'b', 'c'])],
    ['nginx', () => new NginxConsistentHash(['a', 'b', 'c'])],
    ['KetamaRing', () => new KetamaRing(['a:1', 'b:1', 'c:1'])],
    ['Maglev', () => new Maglev(['a', 'b', 'c'], { tableSize: 13 })],
    ['EnvoyRingHash', () => new EnvoyRingHash(['a', 'b', 'c'])],
    ['JumpHash', () => new JumpHash(['a', 'b', 'c'])],
  ];
  const keys = Array.from({ length: 200 }, (_, i) => `k${i}`);
  for (const [name, make] of routers) {
    const r = make();
    const before = r.getMany(keys);
    const m = r.members;
    t.true(Object.isFrozen(m), name);
    t.is(r.members, m, `${name}: the same array until a change`);
    const first = m[0];
    t.throws(() => ((m as string[])[0] = 'ZZZ'), { instanceOf: TypeError }, name);
    t.throws(() => (m as string[]).push('d'), { instanceOf: TypeError }, name);
    t.throws(() => (m as string[]).sort().reverse(), { instanceOf: TypeError }, name);
    t.is(m[0], first, name);
    t.is(r.size, 3, name);
    t.deepEqual(r.getMany(keys), before, `${name}: routing unchanged`);
    t.deepEqual(
      keys.map((k) => r.get(k)),
      before,
      name,
    );
    r.dispose();
    t.true(Object.isFrozen(r.members), `${name}: disposed`);
    t.deepEqual(r.members, []);
    t.deepEqual(m.length, 3, `${name}: an array handed out stays as it was`);
  }
  // a change hands out a new frozen array and leaves the old one as it was
  const ring = new HashRing(['a', 'b']);
  const old = ring.members;
  ring.add('c');
  t.not(ring.members, old);
  t.deepEqual(old, ['a', 'b']);
  t.true(Object.isFrozen(ring.members));
  const j = new JumpHash(['a', 'b']);
  const jOld = j.members;
  j.append('c');
  t.deepEqual(jOld, ['a', 'b']);
  t.deepEqual(j.members, ['a', 'b', 'c']);
  t.true(Object.isFrozen(j.members));
  j.removeLast();
  t.true(Object.isFrozen(j.members));
  // Envoy's host-set order is frozen too
  t.true(Object.isFrozen(new Maglev(['b', 'a'], { tableSize: 7 }).hosts));
  const e = new EnvoyRingHash(['b', 'a']);
  t.true(Object.isFrozen(e.hosts));
  t.is(e.hosts, e.members);
});

test('F8: wrong-type arguments are TypeErrors; null is never an absent argument', (t) => {
  for (const [name, r] of [
    ['HashRing', new HashRing(['a'])],
    ['Rendezvous', new Rendezvous(['a'])],
    ['nginx', new NginxConsistentHash(['a'])],
    ['KetamaRing', new KetamaRing(['a:1'])],
  ] as const) {
    throwsType(t, () => r.setWeight(5 as never, 2), /^id must be a string, got 5$/, name);
    throwsRange(t, () => r.setWeight('zz', 2), /^id must be a .*, got "zz"$/, name);
  }
  const h = new Uint32Array([1, 2]);
  for (const [name, r] of [
    ['HashRing', new HashRing(['a'])],
    ['HashRing empty', new HashRing([])],
    ['nginx', new NginxConsistentHash(['a'])],
  ] as const) {
    throwsType(t, () => r.getManyByHash(h, [0, 0] as never), /^out must be a Uint32Array, got \[object Array\]$/, name);
    throwsType(t, () => r.getManyByHash(h, null as never), /^out must be a Uint32Array, got null$/, name);
    throwsRange(t, () => r.getManyByHash(h, new Uint32Array(1)), /^out\.length must be >= 2, got 1$/, name);
    t.is(r.getManyByHash(h, undefined).length, 2, name);
  }
  const j = new JumpHash(['a']);
  const pairs = new Uint32Array([0, 1, 2, 3]);
  throwsType(t, () => j.getManyByHash(pairs, null as never), /^out must be a Uint32Array, got null$/);
  throwsType(t, () => j.getManyByHash(pairs, [0, 0] as never), /^out must be a Uint32Array/);
  throwsRange(t, () => j.getManyByHash(pairs, new Uint32Array(1)), /^out\.length must be >= 2, got 1$/);
  t.deepEqual([...j.getManyByHash(pairs)], [0, 0]);
  const out = new Uint32Array(3);
  t.is(j.getManyByHash(pairs, out), out);
});

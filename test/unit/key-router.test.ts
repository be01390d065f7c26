// The hashing contract (key-router.ts), checked on every router createHasher builds, on both backends:
// empty routers, member order, getIndex and getMany against get, UTF-8 strings = their bytes, preference
// where the algorithm has an order (and only Jump has none), stats, dispose freeing WASM memory, typed key
// errors, group(keys) against get, and mutations (all or nothing when a rebuild fails; Jump's append / removeLast).
import test from 'ava';
import { wasmHandle } from '../../bindings/core/backend.js';
import { HASH_WASM, RING_WASM } from '../../bindings/core/families.js';
import { ALGORITHMS, createHasher, type Algorithm, type HasherOptions } from '../../bindings/hashing/create-hasher.js';
import {
  BoundedLoad,
  EnvoyBoundedLoad,
  EnvoyRingHash,
  HashRing,
  JumpHash,
  type KeyLookup,
  type KeyRouter,
  KetamaRing,
  Maglev,
  type MutableKeyRouter,
  NginxConsistentHash,
  NO_MEMBER,
  type OrderedKeyRouter,
  Rendezvous,
} from '../../bindings/index.js';

const BACKENDS = ['wasm', 'js'] as const;
const NODES = ['10.0.0.1:11211', '10.0.0.2:11211', '10.0.0.3:11211', '10.0.0.4:11211', '10.0.0.5:11211'];
const KEYS = ['', 'a', 'user:42', 'session:0001:x', 'ключ', '🔑 key', 'x'.repeat(300)];
const MANY = Array.from({ length: 500 }, (_, i) => `key:${i}`);
const enc = new TextEncoder();

const make = (algorithm: Algorithm, nodes: string[], backend: 'wasm' | 'js'): KeyRouter =>
  createHasher(nodes, { algorithm, backend, ...(algorithm === 'maglev' && { tableSize: 1009 }) } as HasherOptions);
const ordered = (r: KeyRouter): r is OrderedKeyRouter => typeof (r as OrderedKeyRouter).preference === 'function';
const mutable = (r: KeyRouter): r is MutableKeyRouter =>
  ['add', 'remove', 'setWeight', 'reset'].every(
    (m) => typeof (r as unknown as Record<string, unknown>)[m] === 'function',
  );
const batch = (r: KeyRouter) => (r as { getManyBytes?: (b: Uint8Array, o: Uint32Array) => Uint32Array }).getManyBytes;

test('createHasher is typed by the algorithm; capabilities are in the types', (t) => {
  // compile-time: each literal maps to its class, every class is a KeyRouter
  const ring: HashRing = createHasher(NODES, { algorithm: 'xxhash-ring' });
  const ketama: KetamaRing = createHasher(NODES, { algorithm: 'ketama' });
  const envoy: EnvoyRingHash = createHasher(NODES, { algorithm: 'ring-hash' });
  const maglev: Maglev = createHasher(NODES, { algorithm: 'maglev', tableSize: 251 });
  const jump: JumpHash = createHasher(NODES, { algorithm: 'jump' });
  const nginx: NginxConsistentHash = createHasher(NODES, { algorithm: 'nginx' });
  const rdv: Rendezvous = createHasher(NODES, { algorithm: 'rendezvous' });
  const all: OrderedKeyRouter[] = [ring, ketama, envoy, maglev, nginx, rdv];
  const muts: MutableKeyRouter[] = [ring, nginx, rdv];
  const ketamaMut: MutableKeyRouter<(typeof NODES)[number]> = ketama;
  const lookups: KeyLookup[] = [
    new BoundedLoad(ring, { factor: 1.25 }),
    new EnvoyBoundedLoad(maglev, { hashBalanceFactor: 150, load: () => 0 }),
  ];
  t.is(all.length + muts.length + lookups.length, 11);
  t.true(mutable(ketamaMut));
  // at run time: only Jump has no preference order; Envoy's tables and Jump take no diffs
  t.deepEqual(
    ALGORITHMS.filter((a) => !ordered(make(a, NODES, 'js'))),
    ['jump'],
  );
  t.deepEqual(
    ALGORITHMS.filter((a) => mutable(make(a, NODES, 'js'))),
    ['xxhash-ring', 'ketama', 'nginx', 'rendezvous'],
  );
  t.is(typeof jump.append, 'function');
  t.is(typeof jump.removeLast, 'function');
  t.throws(() => createHasher(NODES, { algorithm: 'ring' as Algorithm }), {
    instanceOf: RangeError,
    message: /algorithm must be xxhash-ring \| .*'ring' is now 'xxhash-ring'.*got "ring"/,
  });
});

/** The WASM module a router runs on (core/families.ts): HashRing the ring family, the others the hashing one. */
function familyOf(algorithm: Algorithm) {
  return algorithm === 'xxhash-ring' ? RING_WASM : HASH_WASM;
}

for (const algorithm of ALGORITHMS) {
  for (const backend of BACKENDS) {
    const name = `${algorithm} (${backend})`;

    test(`${name}: an empty router answers undefined, -1 and NO_MEMBER`, (t) => {
      const r = make(algorithm, [], backend);
      t.is(r.size, 0);
      t.deepEqual(r.members, []);
      t.is(r.backend, backend);
      for (const k of KEYS) {
        t.is(r.get(k), undefined);
        t.is(r.getIndex(k), -1);
      }
      t.deepEqual(
        r.getMany(KEYS),
        KEYS.map(() => undefined),
      );
      const many = batch(r);
      if (many !== undefined)
        t.deepEqual([...many.call(r, enc.encode('ab'), new Uint32Array([0, 1, 2]))], [NO_MEMBER, NO_MEMBER]);
      if (ordered(r)) t.deepEqual(r.preference('k', 3), []);
      const s = r.stats();
      t.is(s.backend, backend);
      t.is(s.bytes, 0);
      t.deepEqual(s.members, []);
      r.dispose();
    });

    test(`${name}: members, get, getIndex, getMany, bytes keys and stats agree`, (t) => {
      const given = [NODES[3]!, NODES[0]!, NODES[4]!, NODES[1]!, NODES[2]!];
      const r = make(algorithm, given, backend);
      t.is(r.size, NODES.length);
      // index order: as given where the algorithm's order is the config's, else ascending ids
      const givenOrder = ['jump', 'ring-hash', 'ketama', 'nginx'].includes(algorithm);
      t.deepEqual(r.members, givenOrder ? given : NODES);
      const keys = [...KEYS, ...MANY];
      const owners = keys.map((k) => r.get(k));
      t.deepEqual(r.getMany(keys), owners);
      for (let i = 0; i < keys.length; i++) {
        t.true(r.members.includes(owners[i]!));
        t.is(r.getIndex(keys[i]!), r.members.indexOf(owners[i]!));
        t.is(r.get(enc.encode(keys[i]!)), owners[i], 'a string key is hashed as its UTF-8 bytes');
      }
      t.deepEqual(r.getMany(keys.map((k) => enc.encode(k))), owners);
      const many = batch(r);
      if (many !== undefined) {
        const bytes = enc.encode(MANY.join(''));
        const offsets = new Uint32Array(MANY.length + 1);
        MANY.forEach((k, i) => (offsets[i + 1] = offsets[i]! + enc.encode(k).length));
        t.deepEqual(
          [...many.call(r, bytes, offsets)],
          MANY.map((k) => r.getIndex(k)),
        );
      }
      const s = r.stats();
      t.is(s.backend, backend);
      t.deepEqual(
        s.members.map((m) => m.id),
        [...r.members],
      );
      const total = s.members.reduce((a, m) => a + m.share, 0);
      t.true(Math.abs(total - 1) < 1e-9, `shares sum to ${total}`);
      t.true(algorithm === 'jump' ? s.bytes === 0 : s.bytes > 0);
      const other = make(algorithm, given, backend === 'wasm' ? 'js' : 'wasm');
      t.deepEqual(other.getMany(keys), owners, 'both backends route alike');
      other.dispose();
      r.dispose();
    });

    if (algorithm !== 'jump') {
      test(`${name}: preference starts with get(key), lists distinct members, and is prefix-stable`, (t) => {
        const r = make(algorithm, NODES, backend) as OrderedKeyRouter;
        for (const k of [...KEYS, ...MANY.slice(0, 100)]) {
          const full = r.preference(k, 100);
          t.is(full[0], r.get(k));
          t.is(new Set(full).size, full.length);
          t.deepEqual([...full].sort(), [...NODES].sort());
          t.deepEqual(r.preference(k, 2), full.slice(0, 2));
          t.deepEqual(r.preference(k, 0), []);
        }
        t.throws(() => r.preference(42 as unknown as string, 1), { instanceOf: TypeError, message: /^key must be/ });
        r.dispose();
      });
    }

    test(`${name}: group(keys) = the keys of each owner by get, in input order, entries in members order`, (t) => {
      const r = make(algorithm, NODES, backend);
      // what a caller would write with get(): the reference group() must equal
      const byGet = <K extends string | Uint8Array>(keys: readonly K[]) => {
        const m = new Map<string, K[]>();
        for (const k of keys) {
          const o = r.get(k)!;
          m.set(o, [...(m.get(o) ?? []), k]);
        }
        return new Map(r.members.filter((id) => m.has(id)).map((id) => [id, m.get(id)!]));
      };
      const check = <K extends string | Uint8Array>(keys: readonly K[], what: string) => {
        const g = r.group(keys);
        const want = byGet(keys);
        t.deepEqual([...g.keys()], [...want.keys()], `${what}: owners in members order`);
        for (const [id, ks] of want) t.deepEqual(g.get(id), ks, `${what}: keys of ${id}`);
        t.is(
          [...g.values()].reduce((a, l) => a + l.length, 0),
          keys.length,
          `${what}: no key lost or added`,
        );
      };
      const ascii = MANY.slice(0, 300);
      check(ascii, 'ASCII strings');
      check([...ascii, ...ascii.slice(0, 50)], 'duplicates kept');
      check(KEYS, 'UTF-8, empty and long strings');
      check(['', '', 'a'], 'empty strings');
      const bytes = ascii.slice(0, 100).map((k) => enc.encode(k));
      check(bytes, 'bytes');
      const g = r.group(bytes);
      t.true(
        [...g.values()].flat().every((b) => bytes.includes(b)),
        'the key objects given are returned',
      );
      check([...KEYS, ...bytes.slice(0, 20), 'tail'], 'strings and bytes mixed');
      check(['only-one'], 'one key (few keys, many members)');
      const big = Array.from({ length: 9000 }, (_, i) => `big:${i}`);
      check(big, 'more keys than one WASM chunk');
      // a string key and its UTF-8 bytes land on the same member
      const gs = r.group(ascii);
      const gb = r.group(ascii.map((k) => enc.encode(k)));
      t.deepEqual(
        [...gb].map(([id, ks]) => [id, ks.map((b) => new TextDecoder().decode(b))]),
        [...gs],
      );
      t.deepEqual(r.group([]), new Map());
      r.dispose();
    });

    test(`${name}: group on an empty router: RangeError naming members for keys, empty Map for none`, (t) => {
      const r = make(algorithm, [], backend);
      t.deepEqual(r.group([]), new Map());
      t.throws(() => r.group(['a', 'b']), {
        instanceOf: RangeError,
        message: 'members must be non-empty to group keys, got 0 members for 2 key(s)',
      });
      const full = make(algorithm, NODES, backend);
      full.dispose();
      t.throws(() => full.group(['a']), { instanceOf: RangeError, message: /^members must be non-empty/ });
    });

    test(`${name}: dispose frees the table and empties the router`, (t) => {
      const mem = backend === 'wasm' ? wasmHandle(familyOf(algorithm))!.mem : null;
      const r = make(algorithm, NODES, backend);
      r.getMany(MANY); // any I/O region growth happens before the measurement
      r.get('k');
      const held = mem?.allocatedBytes ?? 0;
      r.dispose();
      const s = r.stats();
      t.is(s.bytes, 0);
      t.deepEqual(s.members, []);
      t.is(r.size, 0);
      t.deepEqual(r.members, []);
      t.is(r.get('k'), undefined);
      t.is(r.getIndex('k'), -1);
      t.deepEqual(r.getMany(['k']), [undefined]);
      if (mem !== null) {
        if (algorithm === 'jump') t.is(mem.allocatedBytes, held, 'Jump holds no table');
        else t.true(mem.allocatedBytes < held, `freed: ${held} -> ${mem.allocatedBytes}`);
      }
      r.dispose();
      t.is(r.size, 0, 'dispose twice is harmless');
    });

    test(`${name}: bad keys are TypeErrors naming the key`, (t) => {
      for (const r of [make(algorithm, NODES, backend), make(algorithm, [], backend)]) {
        for (const bad of [42, null, undefined, {}, ['a'], 1n]) {
          t.throws(() => r.get(bad as never), {
            instanceOf: TypeError,
            message: /^key must be a string or a Uint8Array/,
          });
          t.throws(() => r.getIndex(bad as never), { instanceOf: TypeError, message: /^key must be/ });
        }
        t.throws(() => r.getMany(['ok', 7] as never), { instanceOf: TypeError, message: /^keys\[1\] must be/ });
        t.throws(() => r.getMany('abc' as never), { instanceOf: TypeError, message: /^keys must be/ });
        t.throws(() => r.group(['ok', 7] as never), { instanceOf: TypeError, message: /^keys\[1\] must be/ });
        t.throws(() => r.group(['ok', new Uint8Array(1), null] as never), {
          instanceOf: TypeError,
          message: /^keys\[2\] must be a string or a Uint8Array, got null/,
        });
        t.throws(() => r.group('abc' as never), { instanceOf: TypeError, message: /^keys must be/ });
        t.throws(() => r.group(undefined as never), { instanceOf: TypeError, message: /^keys must be/ });
        r.dispose();
      }
    });
  }
}

for (const backend of BACKENDS) {
  test(`mutable routers (${backend}): diffs say whether anything changed; a failed rebuild changes nothing`, (t) => {
    for (const algorithm of ['xxhash-ring', 'ketama', 'nginx', 'rendezvous'] as const) {
      const r = make(algorithm, NODES.slice(0, 4), backend) as MutableKeyRouter<string>;
      const before = r.getMany(MANY);
      t.true(r.add(NODES[4]!), algorithm);
      t.false(r.add(NODES[4]!));
      t.is(r.size, 5);
      t.deepEqual(r.getMany(MANY), make(algorithm, NODES, backend).getMany(MANY), `${algorithm}: add = build`);
      t.true(r.remove(NODES[4]!));
      t.false(r.remove(NODES[4]!));
      t.deepEqual(r.getMany(MANY), before);
      t.true(r.setWeight(NODES[0]!, 3));
      t.false(r.setWeight(NODES[0]!, 3));
      t.true(r.setWeight(NODES[0]!, 1));
      t.deepEqual(r.getMany(MANY), before);
      t.false(r.reset(NODES.slice(0, 4)));
      t.true(r.reset(NODES.slice(1, 4)));
      t.is(r.size, 3);
      t.true(r.reset(NODES.slice(0, 4)));
      t.deepEqual(r.getMany(MANY), before);
      if (backend === 'wasm') {
        const mem = wasmHandle(familyOf(algorithm))!.mem;
        const stats = r.stats();
        mem.alloc = () => {
          throw new RangeError('out of memory');
        };
        try {
          t.throws(() => r.add(NODES[4]!), { instanceOf: RangeError, message: /out of memory/ });
          t.throws(() => r.remove(NODES[1]!), { instanceOf: RangeError });
          t.throws(() => r.setWeight(NODES[0]!, 2), { instanceOf: RangeError });
          t.throws(() => r.reset([NODES[4]!]), { instanceOf: RangeError });
        } finally {
          delete (mem as { alloc?: unknown }).alloc;
        }
        t.deepEqual(r.members, make(algorithm, NODES.slice(0, 4), backend).members, `${algorithm}: unchanged`);
        t.deepEqual(r.stats(), stats);
        t.deepEqual(r.getMany(MANY), before);
        t.true(r.add(NODES[4]!), 'the next change works');
      }
      r.dispose();
    }
  });

  test(`JumpHash (${backend}) is a BucketKeyRouter: append, removeLast`, (t) => {
    const j = new JumpHash(NODES.slice(0, 3), { backend });
    const before = j.getMany(MANY);
    t.true(j.append([NODES[3]!, NODES[4]!]));
    t.false(j.append(NODES[3]!));
    t.deepEqual(j.members, NODES);
    t.deepEqual(j.removeLast(2), [NODES[3], NODES[4]]);
    t.deepEqual(j.getMany(MANY), before);
    t.deepEqual(j.removeLast(0), []);
    t.throws(() => j.removeLast(4), { instanceOf: RangeError, message: /count must be an integer in \[0, 3\], got 4/ });
    t.deepEqual(j.removeLast(), [NODES[2]]);
    t.deepEqual(j.members, NODES.slice(0, 2));
  });
}

test('the bounded-load decorators are KeyLookups over the table they decorate', (t) => {
  const ring = new HashRing(NODES);
  const lb = new BoundedLoad(ring, { factor: 1e9 });
  t.is(lb.members, ring.members);
  t.is(lb.size, ring.size);
  t.deepEqual(lb.getMany(MANY), ring.getMany(MANY));
  for (const k of MANY.slice(0, 50)) t.is(lb.getIndex(k), ring.getIndex(k));
  const table = new EnvoyRingHash(NODES);
  const elb = new EnvoyBoundedLoad(table, { hashBalanceFactor: 150, load: () => 0 });
  t.is(elb.size, NODES.length);
  t.deepEqual(elb.getMany(MANY), table.getMany(MANY), 'idle: the plain lookup, keys hashed as Envoy hashes them');
  for (const k of MANY.slice(0, 50)) t.is(elb.getIndex(k), table.getIndex(k));
  t.throws(() => elb.get(5 as never), { instanceOf: TypeError, message: /^key must be/ });
  const empty = new EnvoyBoundedLoad(new Maglev([]), { hashBalanceFactor: 150, load: () => 0 });
  t.is(empty.get('k'), undefined);
  t.is(empty.getIndex('k'), -1);
});

// Bad input to the routers in hashing/ (found by a bad-input sweep): ids that are not well-formed UTF-16,
// weights outside [1e-9, 1e9], nginx's member order, iterables given to `add`, createHasher's nodes and
// options, and the decorators' (BoundedLoad, EnvoyBoundedLoad) options and callback results. Each error is
// typed and names the field.
import test from 'ava';
import {
  BoundedLoad,
  boundedCapacity,
  createHasher,
  EnvoyBoundedLoad,
  EnvoyRingHash,
  HashRing,
  JumpHash,
  KetamaRing,
  Maglev,
  NginxConsistentHash,
  Rendezvous,
} from '../../bindings/index.js';
import { MEMBER_WEIGHT_MAX, MEMBER_WEIGHT_MIN } from '../../bindings/hashing/membership.js';

const WELL_FORMED = /well-formed UTF-16/;

test('ids with a lone surrogate are refused (they would hash as U+FFFD and collide), naming the member', (t) => {
  const cases: [string, () => unknown, RegExp][] = [
    ['HashRing', () => new HashRing(['\ud800', '\udc00']), /^members\[0\] must be well-formed UTF-16/],
    ['HashRing { id }', () => new HashRing(['a', { id: 'x\udc00' }]), /^members\[1\]\.id must be/],
    ['Rendezvous', () => new Rendezvous(['a', 'b\ud800']), /^members\[1\] must be/],
    ['nginx', () => new NginxConsistentHash(['\udfff:80']), /^servers\[0\] must be/],
    ['nginx { id }', () => new NginxConsistentHash([{ id: '\ud800', weight: 2 }]), /^servers\[0\]\.id must be/],
    ['EnvoyRingHash', () => new EnvoyRingHash(['a', '\ud800']), /^members\[1\] must be/],
    ['Maglev', () => new Maglev([{ id: 'z\udbff' }], { tableSize: 7 }), /^members\[0\]\.id must be/],
    ['KetamaRing', () => new KetamaRing(['a:1', '\ud800:1']), /^servers\[1\] must be/],
    ['HashRing.add', () => new HashRing(['a']).add('\ud800'), /^member must be/],
    ['KetamaRing.add', () => new KetamaRing(['a:1']).add({ id: '\udc00:1' }), /^server\.id must be/],
  ];
  for (const [name, fn, msg] of cases) {
    const e = t.throws(fn, { instanceOf: RangeError, message: msg }, name);
    t.regex(e?.message ?? '', WELL_FORMED, name);
  }
  // surrogate pairs are fine, and so are lone surrogates in keys (key hashing is unchanged)
  const r = new HashRing(['😀', 'a', 'é']);
  t.deepEqual([...r.members].sort(), ['a', 'é', '😀'].sort());
  t.is(r.get('\ud800'), r.get('\ufffd'));
});

test('fractional weights lie in [1e-9, 1e9] (Rendezvous scores overflow or underflow beyond), naming the weight', (t) => {
  t.is(MEMBER_WEIGHT_MIN, 1e-9);
  t.is(MEMBER_WEIGHT_MAX, 1e9);
  for (const w of [1e308, 1e9 * 1.0001, 5e-324, 1e-300, 1e-10]) {
    t.throws(() => new Rendezvous([{ id: 'a', weight: w }, 'b']), {
      instanceOf: RangeError,
      message: /^members\[0\]\.weight must be a weight in \[1e-9, 1e9\]/,
    });
    t.throws(() => new HashRing([{ id: 'a', weight: w }]), { instanceOf: RangeError, message: /members\[0\]\.weight/ });
    t.throws(() => new Rendezvous(['a']).setWeight('a', w), { instanceOf: RangeError, message: /^weight must be/ });
    t.throws(() => new KetamaRing([{ id: 'a:1', weight: w }], { compat: 'hashring' }), {
      instanceOf: RangeError,
      message: /servers\[0\]\.weight/,
    });
  }
  // zero, negative, NaN and non-numbers keep their errors
  t.throws(() => new Rendezvous([{ id: 'a', weight: 0 }]), {
    instanceOf: RangeError,
    message: /members\[0\]\.weight must be a finite number > 0, got 0/,
  });
  t.throws(() => new Rendezvous([{ id: 'a', weight: '2' as never }]), { instanceOf: TypeError });
  // the bounds themselves are valid, and shares at the top follow the weights (2:1 -> 2/3)
  const r = new Rendezvous([
    { id: 'a', weight: 1e9 },
    { id: 'b', weight: 5e8 },
    { id: 'c', weight: 1e-9 },
  ]);
  let a = 0;
  for (let i = 0; i < 6000; i++) if (r.get(`k${i}`) === 'a') a++;
  t.true(Math.abs(a / 6000 - 2 / 3) < 0.03, String(a / 6000));
});

test('nginx: reset to the same servers in another order is a change (declaration order decides ties)', (t) => {
  const h = new NginxConsistentHash(['a', 'b']);
  t.true(h.reset(['b', 'a']));
  t.deepEqual(h.members, ['b', 'a']);
  t.false(h.reset(['b', 'a']));
  t.false(h.reset([{ id: 'b', weight: 1 }, 'a']));
  // routers whose order is their own (sorted ids) still see a reorder as no change
  const r = new HashRing(['a', 'b']);
  t.false(r.reset(['b', 'a']));
  const v = new Rendezvous(['a', 'b']);
  t.false(v.reset(['b', 'a']));
});

test('add takes any iterable of members, as the constructor and reset do', (t) => {
  const r = new HashRing(['a']);
  t.true(r.add(new Set(['z', 'y'])));
  t.deepEqual(r.members, ['a', 'y', 'z']);
  t.false(r.add(new Set(['z'])));
  t.throws(() => r.add(new Set(['q', ''])), { instanceOf: RangeError, message: /^members\[1\] must be/ });
  t.deepEqual(r.members, ['a', 'y', 'z']);
  const n = new NginxConsistentHash(['a']);
  t.true(n.add(new Set([{ id: 'b', weight: 2 }])));
  t.is(n.weight('b'), 2);
  const k = new KetamaRing(['a:1']);
  t.true(k.add(new Set(['b:1'])));
  t.deepEqual(k.members, ['a:1', 'b:1']);
  t.throws(() => new HashRing(['a']).add(null as never), { instanceOf: TypeError, message: /^member must be/ });
});

test('KetamaRing: a duplicate id names its index', (t) => {
  t.throws(() => new KetamaRing(['a:1', 'b:1', 'a:1']), {
    instanceOf: RangeError,
    message: /^servers\[2\] must be unique, got "a:1"$/,
  });
  t.throws(() => new KetamaRing(['a:1', { id: 'a:1', weight: 2 }]), {
    instanceOf: RangeError,
    message: /^servers\[1\]\.id must be unique/,
  });
  t.throws(() => new KetamaRing(['a:1']).reset(['b:1', 'b:1']), { instanceOf: RangeError, message: /servers\[1\]/ });
});

test("createHasher: bad nodes for 'jump' are typed errors naming nodes / nodes[i]", (t) => {
  const jump = (nodes: unknown) => () => createHasher(nodes as never, { algorithm: 'jump' });
  t.throws(jump(null), { instanceOf: TypeError, message: /^nodes must be an iterable/ });
  t.throws(jump('abc'), { instanceOf: TypeError, message: /^nodes must be an iterable.*"abc"/ });
  t.throws(jump(5), { instanceOf: TypeError, message: /^nodes must be/ });
  t.throws(jump([null]), { instanceOf: TypeError, message: /^nodes\[0\] must be .*got null$/ });
  t.throws(jump(['a', 5]), { instanceOf: TypeError, message: /^nodes\[1\] must be .*got 5$/ });
  t.throws(jump([{ id: 5 }]), { instanceOf: TypeError, message: /^nodes\[0\]\.id must be a string, got 5$/ });
  t.throws(jump([{ id: 'a', weight: 2 }]), { instanceOf: RangeError, message: /^nodes\[0\]\.weight/ });
  t.throws(jump(['a', 'a']), { instanceOf: RangeError, message: /^nodes\[1\] must be unique/ });
  // any iterable, as for the other algorithms
  const j = createHasher(new Set(['a', 'b']) as never, { algorithm: 'jump' });
  t.true(j instanceof JumpHash);
  t.deepEqual(j.members, ['a', 'b']);
  // the other algorithms' list errors name nodes too
  t.throws(() => createHasher(null as never, { algorithm: 'maglev' }), {
    instanceOf: TypeError,
    message: /^nodes must/,
  });
  t.throws(() => createHasher([{ id: 'a', weight: -1 }], { algorithm: 'rendezvous' }), {
    instanceOf: RangeError,
    message: /^nodes\[0\]\.weight must be/,
  });
});

test('createHasher: an unknown option key is a RangeError naming it', (t) => {
  t.throws(() => createHasher(['a'], { algorithm: 'maglev', tablesize: 7 } as never), {
    instanceOf: RangeError,
    message: /^options\.tablesize must be one of .*tableSize.*got "tablesize"$/,
  });
  t.throws(() => createHasher(['a:1'], { algorithm: 'ketama', compat: 'twemproxy', hashTag: '{}' } as never), {
    instanceOf: RangeError,
    message: /options\.hashTag/,
  });
  t.notThrows(() => createHasher(['a'], { algorithm: 'maglev', tableSize: 7, backend: 'js' }));
});

test('BoundedLoad: weighted must be a boolean; setLoad with a non-number is a TypeError', (t) => {
  const m = new Maglev(['a', 'b', 'c'], { tableSize: 7 });
  t.throws(() => new BoundedLoad(m, { factor: 1.25, weighted: 'no' as never }), {
    instanceOf: TypeError,
    message: /^weighted must be a boolean, got "no"$/,
  });
  t.notThrows(() => new BoundedLoad(m, { factor: 1.25, weighted: false }));
  const lb = new BoundedLoad(m, { factor: 1.25 });
  t.throws(() => lb.setLoad('a', '2' as never), {
    instanceOf: TypeError,
    message: /^load must be an integer >= 0, got "2"$/,
  });
  t.throws(() => lb.setLoad('a', -1), { instanceOf: RangeError, message: /^load must be/ });
  t.throws(() => new BoundedLoad(m, { factor: 1.25, load: () => '3' as never }).get('k'), {
    instanceOf: TypeError,
    message: /load\("a"\)|load\("b"\)|load\("c"\)/,
  });
});

test('BoundedLoad: an id that is not a member is refused by setLoad and capacity; boundedCapacity checks its inputs', (t) => {
  const lb = new BoundedLoad(new HashRing(['a', 'b']), { factor: 1.25 });
  // a made-up id's load counted in the total raised every member's capacity (1 to 626)
  t.throws(() => lb.setLoad('typo', 1000), { instanceOf: RangeError, message: /^id must be a member, got "typo"$/ });
  t.throws(() => lb.capacity('nope'), { instanceOf: RangeError, message: /^id must be a member, got "nope"$/ });
  t.throws(() => lb.setLoad(5 as never, 1), { instanceOf: TypeError, message: /^id must be a string, got 5$/ });
  t.is(lb.totalLoad(), 0);
  t.is(lb.capacity('a'), 1);
  // a member removed with load still counted may still be set (to clear it)
  const ring = new HashRing(['a', 'b']);
  const kept = new BoundedLoad(ring, { factor: 1.25 });
  kept.setLoad('b', 2);
  ring.remove('b');
  t.notThrows(() => kept.setLoad('b', 0));
  t.is(kept.totalLoad(), 0);
  // one rule and one message for the factor
  for (const factor of [0.5, 0, -1, NaN, Infinity])
    t.throws(() => new BoundedLoad(ring, { factor }), {
      instanceOf: RangeError,
      message: /^factor must be a finite number >= 1, got/,
    });
  t.throws(() => new BoundedLoad(ring, { factor: undefined as never }), { instanceOf: TypeError });
  for (const [args, field] of [
    [[0.5, 10, 0.25], 'factor'],
    [[1.25, -1, 0.25], 'total'],
    [[1.25, 10, 2], 'share'],
    [[1.25, NaN, 0.5], 'total'],
  ] as const)
    t.throws(() => boundedCapacity(args[0], args[1], args[2]), {
      instanceOf: RangeError,
      message: new RegExp(`^${field} must be`),
    });
  t.is(boundedCapacity(1.25, 10, 0.25), 4);
});

test('EnvoyBoundedLoad: totalLoad() results are checked as load() results are; a 32-bit table is refused as target', (t) => {
  const ring = new EnvoyRingHash(['a', 'b', 'c']);
  const key = ['k', 'j', 'q', 'w', 'x', 'y'].find((k) => ring.get(k) === 'a')!;
  const load = (id: string) => (id === 'a' ? 100 : 0);
  const lb = (totalLoad: () => unknown) =>
    new EnvoyBoundedLoad(ring, { hashBalanceFactor: 125, load, totalLoad: totalLoad as () => number });
  t.not(lb(() => 100).get(key), 'a'); // the owner is overloaded
  for (const v of [NaN, Infinity, -5, 1.5])
    t.throws(() => lb(() => v).get(key), { instanceOf: RangeError, message: /^totalLoad\(\) must be an integer >= 0/ });
  for (const v of [undefined, '100', null])
    t.throws(() => lb(() => v).get(key), { instanceOf: TypeError, message: /^totalLoad\(\) must be an integer >= 0/ });
  // a HashRing's getByHash takes 32-bit hashes: the target is wrong, not the hash (refused at construction)
  t.throws(() => new EnvoyBoundedLoad(new HashRing(['a']) as never, { hashBalanceFactor: 125, load: () => 0 }), {
    instanceOf: TypeError,
    message: /^target must be a table with getByHash/,
  });
  // a bad hash is still the caller's
  t.throws(() => lb(() => 0).getByHash(-1), { instanceOf: RangeError, message: /^hash must be/ });
});

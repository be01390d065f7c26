// MD5 (WASM and TS) against node:crypto, twemproxy key hashes WASM = TS (+ known answers), continuum builds
// WASM = TS for every preset, lookup probes, minimal disruption, add/remove/preference/stats, bad input.
import test from 'ava';
import fc from 'fast-check';
import { createHash } from 'node:crypto';
import HashRingNpm from 'hashring';
import { wasmHandle } from '../../bindings/core/backend.js';
import { HASH_WASM } from '../../bindings/core/families.js';
import {
  KETAMA_COMPATS,
  KETAMA_KEY_HASHES,
  KetamaRing,
  type KetamaCompat,
  type KetamaServer,
} from '../../bindings/hashing/ketama/ketama.js';
import { ketamaHashBytes, ketamaHashString } from '../../bindings/hashing/ketama/key-hash.js';
import { md5, md5Word0, md5Word0String } from '../../bindings/hashing/ketama/md5.js';
import { assertLookupsSurviveGrow } from '../helpers/wasm-grow.js';

const handle = wasmHandle(HASH_WASM)!;
const x = handle.exports as Record<string, (...a: number[]) => number>;
const enc = new TextEncoder();

function wasmMd5(b: Uint8Array): Uint8Array {
  const p = handle.io(b.length + 16);
  handle.mem.u8.set(b, p);
  x.md5!(p, b.length, p + b.length);
  return handle.mem.u8.slice(p + b.length, p + b.length + 16);
}
function wasmWord0(b: Uint8Array): number {
  const p = handle.io(b.length);
  handle.mem.u8.set(b, p);
  return x.md5Word0!(p, b.length) >>> 0;
}
function wasmHash(kind: number, b: Uint8Array): number {
  const p = handle.io(b.length);
  handle.mem.u8.set(b, p);
  return x.ketamaHash!(kind, p, b.length) >>> 0;
}
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const ref = (b: Uint8Array | string) => createHash('md5').update(b).digest();

test('md5: every length 0..300 (block and padding boundaries), WASM and TS', (t) => {
  for (let len = 0; len <= 300; len++) {
    const b = Uint8Array.from({ length: len }, (_, i) => (i * 131 + len) & 0xff);
    const r = ref(b);
    t.is(hex(md5(b)), r.toString('hex'));
    t.is(hex(wasmMd5(b)), r.toString('hex'));
    t.is(md5Word0(b), r.readUInt32LE(0));
    t.is(wasmWord0(b), r.readUInt32LE(0));
  }
  t.is(hex(md5(new Uint8Array(0))), 'd41d8cd98f00b204e9800998ecf8427e');
  t.is(hex(md5(enc.encode('The quick brown fox jumps over the lazy dog'))), '9e107d9d372bb6826bd81d3542a419d6');
});

test('md5: 1 MiB input (larger than the initial WASM memory)', (t) => {
  const b = new Uint8Array(1 << 20).map((_, i) => (i * 7 + 3) & 0xff);
  t.is(hex(md5(b)), ref(b).toString('hex'));
  t.is(hex(wasmMd5(b)), ref(b).toString('hex'));
});

test('md5 property: random bytes and strings agree with node:crypto', (t) => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 400 }), (b) => {
      const r = ref(b).toString('hex');
      return hex(md5(b)) === r && hex(wasmMd5(b)) === r;
    }),
    { numRuns: 2000 },
  );
  fc.assert(
    fc.property(fc.string({ unit: 'binary', maxLength: 120 }), (s) => {
      const w = ref(enc.encode(s)).readUInt32LE(0);
      return md5Word0String(s) === w && ketamaHashString(0, s) === w;
    }),
    { numRuns: 3000 },
  );
  t.pass();
});

test('md5Word0Pair (two single-block inputs interleaved, WASM) agrees with node:crypto', (t) => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 55 }), fc.uint8Array({ maxLength: 55 }), (a, b) => {
      const p = handle.io(a.length + b.length);
      handle.mem.u8.set(a, p);
      handle.mem.u8.set(b, p + a.length);
      const h1 = x.md5Word0Pair!(p, a.length, p + a.length, b.length) >>> 0;
      const h2 = x.md5PairSecond!() >>> 0;
      return h1 === ref(a).readUInt32LE(0) && h2 === ref(b).readUInt32LE(0);
    }),
    { numRuns: 2000 },
  );
  t.pass();
});

test('key hashes: known answers', (t) => {
  const b = (s: string) => enc.encode(s);
  const kind = (h: string) => KETAMA_KEY_HASHES.indexOf(h as never);
  t.is(ketamaHashBytes(kind('fnv1a_32'), b('a')), 0xe40c292c);
  t.is(ketamaHashBytes(kind('fnv1_32'), b('a')), 0x050c5d7e);
  t.is(ketamaHashBytes(kind('crc32a'), b('123456789')), 0xcbf43926);
  t.is(ketamaHashBytes(kind('one_at_a_time'), b('a')), 0xca2e9442);
  t.is(ketamaHashBytes(kind('md5'), b('test')), 3446378249);
  // fnv1a_64 as twemproxy computes it: 32-bit arithmetic with the low halves of the 64-bit constants
  let h = 0x84222325;
  for (const c of b('abc')) h = Number((BigInt(h ^ c) * 0x1b3n) & 0xffffffffn);
  t.is(ketamaHashBytes(kind('fnv1a_64'), b('abc')), h);
  // x86 `char` is signed: 0xe9 mixes in as 0xffffffe9
  let s = 0x811c9dc5;
  for (const c of [0x61, 0xffffffe9]) s = Number((BigInt((s ^ c) >>> 0) * 16777619n) & 0xffffffffn);
  t.is(ketamaHashBytes(kind('fnv1a_32'), Uint8Array.of(0x61, 0xe9)), s);
});

test('key hash property: WASM = TS for every twemproxy hash', (t) => {
  fc.assert(
    fc.property(
      fc.uint8Array({ maxLength: 200 }),
      fc.nat({ max: KETAMA_KEY_HASHES.length - 1 }),
      (b, kind) => ketamaHashBytes(kind, b) === wasmHash(kind, b),
    ),
    { numRuns: 5000 },
  );
  t.pass();
});

const serverArb = fc.uniqueArray(
  fc.record({
    host: fc.constantFrom('10.0.0.1', '10.0.0.2', 'cache-a', 'cache-b', 'h', '::1'),
    port: fc.constantFrom(11211, 11212, 22122, 1),
    weight: fc.integer({ min: 1, max: 1000 }),
  }),
  {
    minLength: 1,
    maxLength: 12,
    selector: (s) => `${s.host}:${s.port}`,
  },
);
const spell = (s: { host: string; port: number; weight: number }): KetamaServer => ({
  id: s.host.includes(':') ? `[${s.host}]:${s.port}` : `${s.host}:${s.port}`,
  weight: s.weight,
});

test('build property: WASM continuum = TS continuum for every preset', (t) => {
  fc.assert(
    fc.property(
      serverArb,
      fc.constantFrom(...KETAMA_COMPATS),
      fc.integer({ min: 1, max: 4 }),
      (servers, compat: KetamaCompat, replicas) => {
        const list = servers.filter((s) => compat !== 'twemproxy' || !s.host.includes(':')).map(spell);
        if (list.length === 0) return true;
        const opts = compat === 'hashring' ? { compat, replicas, defaultPort: 11211 } : { compat };
        const a = new KetamaRing(list, { ...opts, backend: 'wasm' });
        const b = new KetamaRing(list, { ...opts, backend: 'js' });
        const ca = a.continuum();
        const cb = b.continuum();
        const same =
          ca.points.length === cb.points.length &&
          ca.points.every((v, i) => v === cb.points[i] && ca.members[i] === cb.members[i]);
        const keys = ['', 'a', 'user:1', 'x'.repeat(70)];
        const agree = keys.every((k) => a.get(k) === b.get(k));
        a.dispose();
        return same && agree && ca.points.every((v, i) => i === 0 || ca.points[i - 1]! <= v);
      },
    ),
    { numRuns: 150 },
  );
  t.pass();
});

test('getMany (batched WASM hash + lookup) = get per key, every key hash, strings and bytes', (t) => {
  for (const hash of KETAMA_KEY_HASHES) {
    const wasm = new KetamaRing(['a:1', 'b:2', 'c:11211', 'd:4'], { compat: 'twemproxy', hash, backend: 'wasm' });
    const js = new KetamaRing(['a:1', 'b:2', 'c:11211', 'd:4'], { compat: 'twemproxy', hash, backend: 'js' });
    fc.assert(
      fc.property(
        fc.array(fc.oneof(fc.string({ unit: 'binary', maxLength: 80 }), fc.uint8Array({ maxLength: 80 })), {
          maxLength: 40,
        }),
        (keys) => {
          const a = wasm.getMany(keys);
          const b = js.getMany(keys);
          return keys.every((k, i) => a[i] === wasm.get(k) && b[i] === a[i]);
        },
      ),
      { numRuns: 200 },
    );
    // more keys than one WASM call takes
    const many = Array.from({ length: 10_000 }, (_, i) => `k${i}é`.repeat(1 + (i % 5)));
    t.deepEqual(wasm.getMany(many), js.getMany(many));
  }
  t.deepEqual([...new KetamaRing([], { backend: 'wasm' }).getManyIndex(['x'])], [0xffffffff]);
});

test('twemproxy hash_tag and empty keys: getMany (WASM batch) = get = TS', (t) => {
  const opts = { compat: 'twemproxy', hashTag: '{}' } as const;
  const wasm = new KetamaRing(['a:1', 'b:2', 'c:3'], { ...opts, backend: 'wasm' });
  const js = new KetamaRing(['a:1', 'b:2', 'c:3'], { ...opts, backend: 'js' });
  t.is(wasm.hashOf(''), 0);
  t.is(wasm.hashOf('{}'), wasm.hashOf('{}'));
  t.is(wasm.hashOf('x{abc}y'), wasm.hashOf('abc'));
  t.is(wasm.hashOf(new TextEncoder().encode('x{abc}y')), wasm.hashOf('abc'));
  t.is(wasm.hashOf('{}abc'), new KetamaRing(['a:1'], { compat: 'twemproxy' }).hashOf('{}abc'));
  t.is(wasm.hashOf('{{a}}'), wasm.hashOf('{a'));
  const piece = fc.constantFrom('', '{', '}', 'a', 'bc', 'é', '{x}');
  fc.assert(
    fc.property(
      fc.array(
        fc.array(piece, { maxLength: 6 }).map((p) => p.join('')),
        { maxLength: 30 },
      ),
      (keys) => {
        const a = wasm.getMany(keys);
        const b = js.getMany(keys);
        return keys.every((k, i) => a[i] === wasm.get(k) && a[i] === b[i] && a[i] === js.get(k));
      },
    ),
    { numRuns: 300 },
  );
  t.throws(() => new KetamaRing([], { compat: 'twemproxy', hashTag: '{' }), {
    instanceOf: RangeError,
    message: /hashTag/,
  });
  t.throws(() => new KetamaRing([], { compat: 'libketama', hashTag: '{}' }), {
    instanceOf: RangeError,
    message: /hashTag/,
  });
});

test('hashring preset = npm hashring for random servers, weights, vnodes and options, also after add/remove', (t) => {
  const hostArb = fc.constantFrom('10.0.0.1', '10.0.0.2', 'cache', 'h', '0.0.0.9');
  const server = fc.record({
    host: hostArb,
    port: fc.constantFrom(11211, 11212, 0, -1),
    weight: fc.oneof(fc.integer({ min: 1, max: 9 }), fc.double({ min: 0.1, max: 5, noNaN: true })),
    vnodes: fc.option(fc.integer({ min: 1, max: 60 }), { nil: undefined }),
  });
  const spellHost = (s: { host: string; port: number }) => (s.port < 0 ? s.host : `${s.host}:${s.port}`);
  fc.assert(
    fc.property(
      fc.uniqueArray(server, { minLength: 2, maxLength: 8, selector: spellHost }),
      fc.integer({ min: 1, max: 60 }),
      fc.integer({ min: 1, max: 4 }),
      fc.constantFrom(null, 11211, 11212),
      (list, vnodeCount, replicas, defaultPort) => {
        // 'h' and 'h:<defaultPort>' share a label: refused (the duplicate-labels test)
        fc.pre(new Set(list.map((s) => (s.port === defaultPort ? s.host : spellHost(s)))).size === list.length);
        const [extra, ...rest] = list;
        const npmServers: Record<string, { weight: number; vnodes?: number }> = {};
        for (const s of rest)
          npmServers[spellHost(s)] =
            s.vnodes === undefined ? { weight: s.weight } : { weight: s.weight, vnodes: s.vnodes };
        const npm = new HashRingNpm(npmServers, 'md5', {
          'vnode count': vnodeCount,
          replicas,
          'default port': defaultPort,
        });
        const ours = new KetamaRing(
          rest.map((s) => ({ id: spellHost(s), weight: s.weight, vnodes: s.vnodes })),
          { compat: 'hashring', vnodeCount, replicas, defaultPort },
        );
        const keys = Array.from({ length: 200 }, (_, i) => `k${i}`);
        const same = () => keys.every((k) => npm.get(k) === ours.get(k));
        if (!same()) return false;
        npm.add({ [spellHost(extra!)]: { weight: extra!.weight } });
        ours.add({ id: spellHost(extra!), weight: extra!.weight });
        if (!same()) return false;
        npm.remove(spellHost(rest[0]!));
        ours.remove(spellHost(rest[0]!));
        return same();
      },
    ),
    { numRuns: 150 },
  );
  t.pass();
});

test('probes: 0, 2^32-1, exactly on a point, one past it', (t) => {
  const ring = new KetamaRing(['10.0.0.1:11211', '10.0.0.2:11211', '10.0.0.3:11211'], { compat: 'libmemcached' });
  const { points, members } = ring.continuum();
  const id = (i: number) => ring.members[members[i]!];
  t.is(ring.getByHash(0), id(0));
  t.is(ring.getByHash(0xffffffff), points[points.length - 1] === 0xffffffff ? id(points.length - 1) : id(0));
  for (const i of [0, 1, 57, points.length - 1]) {
    t.is(ring.getByHash(points[i]!), id(i));
    if (points[i]! < 0xffffffff) t.is(ring.getByHash(points[i]! + 1), id(i + 1 === points.length ? 0 : i + 1));
  }
  t.is(ring.stats().points, 480);
});

test('minimal disruption: adding a server moves only keys to it, about 1/(n+1)', (t) => {
  for (const compat of KETAMA_COMPATS) {
    const ids = Array.from({ length: 9 }, (_, i) => `10.0.0.${i + 1}:11211`);
    const ring = new KetamaRing(ids, { compat });
    const keys = Array.from({ length: 20000 }, (_, i) => `key:${i}`);
    const before = ring.getMany(keys);
    t.true(ring.add('10.0.0.100:11211'));
    const after = ring.getMany(keys);
    let moved = 0;
    for (let i = 0; i < keys.length; i++) {
      if (before[i] !== after[i]) {
        moved++;
        t.is(after[i], '10.0.0.100:11211', `${compat} key ${keys[i]} moved between old servers`);
      }
    }
    const frac = moved / keys.length;
    t.true(frac > 0.1 * 0.5 && frac < 0.1 * 1.6, `${compat}: moved ${frac}`);
    t.true(ring.remove('10.0.0.100:11211'));
    t.deepEqual(ring.getMany(keys), before);
  }
});

test('preference, add/remove return values, stats, empty ring', (t) => {
  const ring = new KetamaRing(['a:1', 'b:2', 'c:3'], { compat: 'twemproxy' });
  const p = ring.preference('k', 5);
  t.is(p.length, 3);
  t.is(p[0], ring.get('k'));
  t.is(new Set(p).size, 3);
  t.false(ring.add('a:1'));
  t.false(ring.remove('zzz:1'));
  t.throws(() => ring.add({ id: 'a:1', weight: 2 }), { instanceOf: RangeError, message: /a:1/ });
  const st = ring.stats();
  t.is(st.points, 480);
  t.is(st.members.map((m) => m.label).join(','), 'a:1,b:2,c:3');
  t.true(Math.abs(st.members.reduce((s, m) => s + m.share, 0) - 1) < 1e-9);
  t.true(ring.remove(['a:1', 'b:2', 'c:3']));
  t.is(ring.get('k'), undefined);
  t.is(ring.getIndex('k'), -1);
  t.deepEqual(ring.preference('k', 2), []);
  t.is(new KetamaRing([], { compat: 'hashring' }).get('x'), undefined);
});

test('each lookup, first after another allocation grows WASM memory, reads the new buffer', (t) => {
  const ring = new KetamaRing(['10.0.0.1:11211', '10.0.0.2:11211', '10.0.0.3:11211'], { backend: 'wasm' });
  const lookups: [string, (k: string) => unknown][] = [
    ['get', (k) => ring.get(k)],
    ['getIndex', (k) => ring.getIndex(k)],
    ['getByHash', (k) => ring.getByHash(ring.hashOf(k))],
    ['preference', (k) => ring.preference(k, 3)],
    ['locate', (k) => ring.locate(k)],
  ];
  assertLookupsSurviveGrow(t, handle, lookups);
});

test('labels: port rules, twemproxy names and config lines', (t) => {
  const label = (s: KetamaServer, compat: KetamaCompat, o = {}) =>
    new KetamaRing([s], { compat, ...o }).stats().members[0]!.label;
  t.is(label('10.0.0.1:11211', 'libmemcached'), '10.0.0.1');
  t.is(label('10.0.0.1', 'libmemcached'), '10.0.0.1');
  t.is(label('10.0.0.1:11212', 'libmemcached'), '10.0.0.1:11212');
  t.is(label('[::1]:11212', 'libmemcached'), '::1:11212');
  t.is(label('10.0.0.1', 'spymemcached'), '/10.0.0.1:11211');
  t.is(label('10.0.0.1:11211', 'libketama'), '10.0.0.1:11211');
  t.is(label('10.0.0.1:11211:1', 'twemproxy'), '10.0.0.1');
  t.is(label('10.0.0.1:11212:1', 'twemproxy'), '10.0.0.1:11212');
  t.is(label('10.0.0.1:11212:1 server1', 'twemproxy'), 'server1');
  t.is(label({ id: '10.0.0.1:11212', name: 'server1' }, 'twemproxy'), 'server1');
  t.is(label('10.0.0.1:11211', 'hashring'), '10.0.0.1:11211');
  t.is(label('10.0.0.1:11211', 'hashring', { defaultPort: 11211 }), '10.0.0.1');
  // twemproxy weights from the config line
  const ring = new KetamaRing(['a:1:1', 'b:1:3'], { compat: 'twemproxy' });
  t.deepEqual(
    ring.stats().members.map((m) => [m.weight, m.points]),
    [
      [1, 80],
      [3, 240],
    ],
  );
  // hashring per-server vnodes override the computed count
  const hr = new KetamaRing([{ id: 'a', vnodes: 10 }, 'b'], { compat: 'hashring' });
  t.deepEqual(
    hr.stats().members.map((m) => m.points),
    [40, 160],
  );
});

test('duplicate labels: a RangeError naming the field and the label, at construction, add and reset', (t) => {
  const dup = (field: string, label: string, hint: RegExp) => ({
    instanceOf: RangeError,
    message: new RegExp(`^${field.replace(/[[\]]/g, '\\$&')} label "${label}" must be unique: [^]*${hint.source}`),
  });
  const list = /give each server once/;
  // twemproxy: node names, and host labels (port 11211) shared with a name or another spelling
  const tw = { compat: 'twemproxy' } as const;
  t.throws(() => new KetamaRing(['10.0.0.1:11211:1 s1', '10.0.0.2:11211:1 s1'], tw), dup('servers[1]', 's1', /name/));
  t.throws(() => new KetamaRing(['10.0.0.1:11211:1', '10.0.0.1:11211'], tw), dup('servers[1]', '10.0.0.1', list));
  t.throws(() => new KetamaRing([{ id: 'a:1', name: 'b' }, 'b:11211'], tw), dup('servers[1]', 'b', list));
  const ring = new KetamaRing(['10.0.0.1:11211:1 s1', '10.0.0.2:11211:1 s2'], tw);
  const change = /remove it first or reset with the new list/;
  t.throws(() => ring.add('10.0.0.1:11211:2 s1'), dup('server', 's1', change));
  t.throws(() => ring.add(['10.0.0.3:11211:1 s3', '10.0.0.4:11211:1 s3']), dup('servers[1]', 's3', list));
  t.throws(() => ring.add(['10.0.0.3:11211:1 s3', '10.0.0.9:11211:1 s2']), dup('servers[1]', 's2', change));
  t.throws(() => ring.reset(['10.0.0.1:11211:2 s1', '10.0.0.9:11211:1 s1']), dup('servers[1]', 's1', list));
  t.deepEqual(ring.members, ['10.0.0.1:11211:1 s1', '10.0.0.2:11211:1 s2']);
  // updates that keep a label on its id still work
  t.false(ring.add('10.0.0.1:11211:1 s1'));
  t.true(ring.reset(['10.0.0.1:11211:2 s1', '10.0.0.2:11211:1 s2']));
  t.is(ring.weight('10.0.0.1:11211:2 s1'), 2);
  t.true(ring.remove('10.0.0.1:11211:2 s1'));
  t.true(ring.add('10.0.0.1:11211:3 s1'));
  const named = new KetamaRing([{ id: 'a:1', name: 'x' }], tw);
  t.true(named.setWeight('a:1', 5));
  t.false(named.add({ id: 'a:1', weight: 5, name: 'x' }));
  // libmemcached and spymemcached: a host alone is the host on port 11211
  for (const compat of ['libmemcached', 'spymemcached'] as const) {
    const label = compat === 'libmemcached' ? '10.0.0.1' : '/10.0.0.1:11211';
    t.throws(() => new KetamaRing(['10.0.0.1', '10.0.0.1:11211'], { compat }), dup('servers[1]', label, list));
    const r = new KetamaRing(['10.0.0.1', '10.0.0.2:11212'], { compat });
    t.throws(() => r.add('10.0.0.1:11211'), dup('server', label, change));
    t.throws(() => r.add({ id: '[10.0.0.1]:11211', weight: 1 }), dup('server', label, change));
    t.true(r.setWeight('10.0.0.1', 3));
    t.true(r.add('10.0.0.1:11212'));
  }
  // hashring: a server on defaultPort is labelled by its host
  t.throws(
    () => new KetamaRing(['a', { id: 'a:11211', weight: 2 }], { compat: 'hashring', defaultPort: 11211 }),
    dup('servers[1]', 'a', list),
  );
  t.is(new KetamaRing(['a', 'a:11211'], { compat: 'hashring' }).size, 2);
});

test('bad input: typed errors naming the field', (t) => {
  t.throws(() => new KetamaRing(['a:1'], { compat: 'nope' as never }), {
    instanceOf: RangeError,
    message: /compat.*nope/,
  });
  t.throws(() => new KetamaRing(['a:1'], { compat: 'libketama', hash: 'fnv1a_64' }), {
    instanceOf: RangeError,
    message: /hash/,
  });
  t.throws(() => new KetamaRing(['a:1'], { compat: 'twemproxy', hash: 'sha1' as never }), {
    instanceOf: RangeError,
    message: /hash.*sha1/,
  });
  for (const w of [0, -1, 1.5, NaN, Infinity]) {
    t.throws(() => new KetamaRing([{ id: 'a:1', weight: w }], { compat: 'libmemcached' }), {
      instanceOf: RangeError,
      message: /servers\[0\]\.weight/,
    });
  }
  for (const w of [0, -1, NaN])
    t.throws(() => new KetamaRing([{ id: 'a', weight: w }], { compat: 'hashring' }), {
      instanceOf: RangeError,
      message: /weight/,
    });
  t.notThrows(() => new KetamaRing([{ id: 'a', weight: 1.5 }], { compat: 'hashring' }));
  t.throws(() => new KetamaRing([{ id: 'a', weight: '2' as never }], { compat: 'libketama' }), {
    instanceOf: TypeError,
    message: /weight/,
  });
  t.throws(() => new KetamaRing(['a:99999'], { compat: 'libmemcached' }), { instanceOf: RangeError, message: /port/ });
  t.throws(() => new KetamaRing(['a:b:c'], { compat: 'libmemcached' }), {
    instanceOf: RangeError,
    message: /servers\[0\]/,
  });
  t.throws(() => new KetamaRing(['a'], { compat: 'twemproxy' }), { instanceOf: RangeError, message: /servers\[0\]/ });
  t.throws(() => new KetamaRing(['a:1:0'], { compat: 'twemproxy' }), { instanceOf: RangeError, message: /weight/ });
  t.throws(() => new KetamaRing([''], { compat: 'libketama' }), { instanceOf: RangeError, message: /servers\[0\]/ });
  t.throws(() => new KetamaRing([42 as never], { compat: 'libketama' }), {
    instanceOf: TypeError,
    message: /servers\[0\]/,
  });
  t.throws(() => new KetamaRing(['a:1', 'a:1'], { compat: 'libketama' }), {
    instanceOf: RangeError,
    message: /unique/,
  });
  t.throws(() => new KetamaRing(['a:1'], { compat: 'hashring', replicas: 5 }), {
    instanceOf: RangeError,
    message: /replicas/,
  });
  t.throws(() => new KetamaRing(['a:1'], { compat: 'libketama', replicas: 3 }), {
    instanceOf: RangeError,
    message: /replicas/,
  });
  t.throws(() => new KetamaRing([{ id: 'a:1', name: 'x' }], { compat: 'libketama' }), {
    instanceOf: RangeError,
    message: /name/,
  });
  t.throws(() => new KetamaRing('a:1' as never), { instanceOf: TypeError, message: /servers/ });
  const ring = new KetamaRing(['a:1']);
  t.throws(() => ring.get(1 as never), { instanceOf: TypeError, message: /key/ });
  t.throws(() => new KetamaRing(['a:1'], { compat: 'twemproxy', hashTag: '{}' }).get(null as never), {
    instanceOf: TypeError,
    message: /key/,
  });
  t.throws(() => ring.getMany([null as never]), { instanceOf: TypeError, message: /key/ });
  t.throws(() => ring.getByHash(-1), { instanceOf: RangeError, message: /hash/ });
  t.throws(() => ring.getByHash(2 ** 32), { instanceOf: RangeError, message: /hash/ });
});

test('add() of a member already in the ring with another weight points to setWeight()', (t) => {
  const ring = new KetamaRing(['a:11211', 'b:11211']);
  t.throws(() => ring.add({ id: 'a:11211', weight: 3 }), {
    instanceOf: RangeError,
    message:
      /^server "a:11211" must be absent, or given as before \(setWeight\(\) changes its weight; remove it first to change the rest\)/,
  });
  ring.setWeight('a:11211', 3);
  t.is(ring.members.length, 2);
});

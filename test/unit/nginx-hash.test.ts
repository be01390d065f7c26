// NginxConsistentHash without a server: crc32 against zlib, the point table against an independent
// oracle (zlib.crc32 over HOST \0 PORT PREV_HASH, Array sort, dedup), nginx's server-name split, duplicate
// points, boundary probes, minimal disruption, WASM = TS properties and bad input. Agreement with a
// running nginx is in nginx-live.test.ts.
import test from 'ava';
import fc from 'fast-check';
import { crc32 as zcrc32 } from 'node:zlib';
import { NginxConsistentHash, NO_MEMBER } from '../../bindings/index.js';
import { buildNginxRing, findChashPoint, splitServerName } from '../../bindings/hashing/nginx-hash.js';
import { crc32Bytes, crc32String } from '../../bindings/hashing/ketama/crc32.js';
import { wasmHandle } from '../../bindings/core/backend.js';
import { HASH_WASM } from '../../bindings/core/families.js';

const enc = new TextEncoder();
const handle = wasmHandle(HASH_WASM)!;
const wasmCrc32 = (b: Uint8Array): number => {
  const p = handle.io(b.length);
  handle.mem.u8.set(b, p);
  return (handle.exports.crc32 as (p: number, l: number) => number)(p, b.length) >>> 0;
};

/** Independent oracle: nginx's table from the definition, with zlib's crc32 over whole buffers. */
function oracle(servers: { id: string; weight: number }[]): { hash: number; server: number }[] {
  const pts: { hash: number; server: number; seq: number }[] = [];
  servers.forEach(({ id, weight }, m) => {
    let host = id;
    let port = '';
    const unix = /^unix:/i.exec(id);
    const hp = /^(.*):([0-9]*)$/s.exec(id);
    if (unix) host = id.slice(5);
    else if (hp) [host, port] = [hp[1]!, hp[2]!];
    const base = Buffer.concat([Buffer.from(host), Buffer.from([0]), Buffer.from(port)]);
    let prev = 0;
    for (let j = 0; j < 160 * weight; j++) {
      const le = Buffer.alloc(4);
      le.writeUInt32LE(prev);
      prev = zcrc32(Buffer.concat([base, le])) >>> 0;
      pts.push({ hash: prev, server: m, seq: pts.length });
    }
  });
  pts.sort((a, b) => a.hash - b.hash || a.seq - b.seq);
  return pts.filter((p, i) => i === 0 || pts[i - 1]!.hash !== p.hash).map(({ hash, server }) => ({ hash, server }));
}

function table(h: NginxConsistentHash): { hash: number; server: number }[] {
  const t = (h as unknown as { table(): { points: Uint32Array; servers: Uint32Array; total: number } }).table();
  return Array.from({ length: t.total }, (_, i) => ({ hash: t.points[i]!, server: t.servers[i]! }));
}

test('crc32: TS (string and bytes) and WASM equal zlib on fixed and random input', (t) => {
  for (const s of ['', 'a', 'hello', '123456789', 'héllo wörld', '日本語', '\ud800x', 'k'.repeat(1000)]) {
    const b = enc.encode(s);
    const want = zcrc32(b) >>> 0;
    t.is(crc32String(s), want, s);
    t.is(crc32Bytes(b), want);
    t.is(wasmCrc32(b), want);
  }
  t.is(crc32String('123456789'), 0xcbf43926); // the CRC-32/ISO-HDLC check value
  fc.assert(
    fc.property(fc.string({ unit: 'binary', maxLength: 100 }), (s) => {
      const b = enc.encode(s);
      const want = zcrc32(b) >>> 0;
      return crc32String(s) === want && wasmCrc32(b) === want;
    }),
    { numRuns: 2000 },
  );
  t.pass();
});

test("server names split as nginx does: 'unix:' prefix, trailing digits after the last ':'", (t) => {
  const split = (s: string) => {
    const b = enc.encode(s);
    const [hs, he, ps, pe] = splitServerName(b);
    return [s.slice(hs, he), s.slice(ps, pe)];
  };
  t.deepEqual(split('127.0.0.1:8080'), ['127.0.0.1', '8080']);
  t.deepEqual(split('backend.example.com'), ['backend.example.com', '']);
  t.deepEqual(split('[::1]:80'), ['[::1]', '80']);
  t.deepEqual(split('[::1]'), ['[::1]', '']);
  t.deepEqual(split('unix:/run/app.sock'), ['/run/app.sock', '']);
  t.deepEqual(split('UNIX:/run/a:80'), ['/run/a:80', '']);
  t.deepEqual(split('host:'), ['host', '']);
  t.deepEqual(split('host:80x'), ['host:80x', '']);
  t.deepEqual(split('a:b:12'), ['a:b', '12']);
});

for (const backend of ['wasm', 'js'] as const) {
  test(`${backend}: the point table equals the independent oracle (weights 1..4)`, (t) => {
    const servers = [
      { id: '127.0.0.1:8080', weight: 1 },
      { id: '10.0.0.2:11211', weight: 3 },
      { id: 'backend.example.com', weight: 2 },
      { id: 'unix:/tmp/app.sock', weight: 1 },
      { id: '[::1]:9000', weight: 4 },
    ];
    const h = new NginxConsistentHash(servers, { backend });
    t.is(h.backend, backend);
    const want = oracle(servers);
    t.deepEqual(table(h), want);
    const raw = buildNginxRing(
      servers.map((s) => enc.encode(s.id)),
      servers.map((s) => s.weight),
    );
    t.deepEqual(
      Array.from(raw.points, (hash, i) => ({ hash, server: raw.servers[i]! })),
      want,
    );
    t.deepEqual(
      h.stats().members.map((m) => m.points),
      servers.map((_, i) => want.filter((p) => p.server === i).length),
    );
    // golden, frozen: the first points of 127.0.0.1:8080 (crc32 chain)
    const solo = new NginxConsistentHash(['127.0.0.1:8080'], { backend });
    t.deepEqual(table(solo).slice(0, 3), oracle([{ id: '127.0.0.1:8080', weight: 1 }]).slice(0, 3));
  });

  test(`${backend}: probes at 0, max, exactly on a point, one before and one past`, (t) => {
    const h = new NginxConsistentHash(['127.0.0.1:1', { id: '127.0.0.1:2', weight: 2 }, '127.0.0.1:3'], { backend });
    const pts = table(h);
    const name = (i: number) => h.members[pts[(i + pts.length) % pts.length]!.server];
    t.is(h.getByHash(0), name(0));
    t.is(h.getByHash(0xffffffff), pts[pts.length - 1]!.hash === 0xffffffff ? name(-1) : name(0));
    for (const i of [0, 1, 17, 200, pts.length - 1]) {
      const p = pts[i]!.hash;
      t.is(h.getByHash(p), name(i));
      if (p > 0) t.is(h.getByHash(p - 1), name(i));
      if (p < 0xffffffff) t.is(h.getByHash(p + 1), name(i + 1));
    }
    for (const k of ['', 'a', 'user:42', 'é']) t.is(h.get(k), h.getByHash(crc32String(k)));
  });

  test(`${backend}: duplicate points keep the first server in declaration order`, (t) => {
    // 'host:' and 'unix:host' both hash as HOST \0 with an empty port: every point collides with 'host'
    const a = new NginxConsistentHash(['host', 'host:', 'unix:host', '10.0.0.1:80'], { backend });
    t.deepEqual(
      a.stats().members.map((m) => m.points),
      [160, 0, 0, 160],
    );
    const b = new NginxConsistentHash(['unix:host', 'host', '10.0.0.1:80'], { backend });
    t.deepEqual(
      b.stats().members.map((m) => m.points),
      [160, 0, 160],
    );
    for (let i = 0; i < 200; i++) t.true(['host', '10.0.0.1:80'].includes(a.get(`k${i}`)!));
    t.deepEqual(table(a), oracle(['host', 'host:', 'unix:host', '10.0.0.1:80'].map((id) => ({ id, weight: 1 }))));
  });

  test(`${backend}: adding a server moves about 1/(n+1) of keys, only to it; stats shares sum to 1`, (t) => {
    const keys = Array.from({ length: 20000 }, (_, i) => `key:${i}`);
    for (const n of [2, 8, 30]) {
      const h = new NginxConsistentHash(
        Array.from({ length: n }, (_, i) => `10.0.${i >> 8}.${i & 255}:80`),
        { backend },
      );
      const before = h.getMany(keys);
      t.true(h.add('10.9.9.9:80'));
      t.false(h.add('10.9.9.9:80'));
      const after = h.getMany(keys);
      let moved = 0;
      for (let i = 0; i < keys.length; i++) {
        if (before[i] !== after[i]) {
          moved++;
          t.is(after[i], '10.9.9.9:80');
        }
      }
      const ideal = keys.length / (n + 1);
      t.true(moved > ideal * 0.6 && moved < ideal * 1.5, `n=${n}: moved ${moved}, ideal ${ideal}`);
      const share = h.stats().members.reduce((s, m) => s + m.share, 0);
      t.true(Math.abs(share - 1) < 1e-9);
      t.true(h.remove('10.9.9.9:80'));
      t.deepEqual(h.getMany(keys), before);
    }
  });

  test(`${backend}: preference walks the following points; empty upstream; setWeight`, (t) => {
    const h = new NginxConsistentHash([], { backend });
    t.is(h.get('k'), undefined);
    t.is(h.getIndex('k'), -1);
    t.deepEqual(h.getMany(['k']), [undefined]);
    t.deepEqual([...h.getManyByHash(new Uint32Array([1]))], [NO_MEMBER]);
    t.deepEqual(h.preference('k', 2), []);
    t.true(h.add(['127.0.0.1:1', '127.0.0.1:2', '127.0.0.1:3']));
    for (const k of ['a', 'b', 'c', 'd']) {
      const p = h.preference(k, 5);
      t.is(p.length, 3);
      t.is(p[0], h.get(k));
      t.is(new Set(p).size, 3);
      const pts = table(h);
      let i = pts.findIndex((x) => x.hash >= crc32String(k));
      if (i < 0) i = 0;
      while (h.members[pts[i]!.server] === p[0]) i = (i + 1) % pts.length;
      t.is(p[1], h.members[pts[i]!.server]);
    }
    t.true(h.setWeight('127.0.0.1:2', 3));
    t.false(h.setWeight('127.0.0.1:2', 3));
    t.is(h.stats().points, table(h).length);
    t.deepEqual(table(h), oracle([1, 3, 1].map((weight, i) => ({ id: `127.0.0.1:${i + 1}`, weight }))));
    t.true(h.remove(['127.0.0.1:1', 'nope']));
    t.deepEqual(h.members, ['127.0.0.1:2', '127.0.0.1:3']);
    h.dispose();
    t.is(h.get('k'), undefined);
  });
}

test('property: WASM and TS build identical tables and agree on every lookup path', (t) => {
  const serverArb = fc.uniqueArray(
    fc.record({
      id: fc.oneof(
        fc.tuple(fc.nat(255), fc.nat(65535)).map(([a, p]) => `10.0.0.${a}:${p}`),
        fc.string({ unit: 'binary', minLength: 1, maxLength: 12 }),
      ),
      weight: fc.integer({ min: 1, max: 5 }),
    }),
    { selector: (s) => s.id, minLength: 1, maxLength: 12 },
  );
  fc.assert(
    fc.property(
      serverArb,
      fc.array(fc.string({ unit: 'binary', maxLength: 30 }), { maxLength: 40 }),
      fc.array(fc.nat({ max: 0xffffffff }), { maxLength: 40 }),
      (servers, keys, hashes) => {
        const a = new NginxConsistentHash(servers, { backend: 'wasm' });
        const b = new NginxConsistentHash(servers, { backend: 'js' });
        const ta = table(a);
        t.deepEqual(table(b), ta);
        const many = a.getMany(keys);
        t.deepEqual(b.getMany(keys), many);
        keys.forEach((k, i) => {
          t.is(a.get(k), many[i]);
          t.is(b.get(k), many[i]);
        });
        const hs = Uint32Array.from(hashes);
        t.deepEqual([...a.getManyByHash(hs)], [...b.getManyByHash(hs)]);
        a.dispose();
      },
    ),
    { numRuns: 60 },
  );
  // the oracle on a few larger random sets
  fc.assert(
    fc.property(serverArb, (servers) => {
      t.deepEqual(table(new NginxConsistentHash(servers, { backend: 'wasm' })), oracle(servers));
    }),
    { numRuns: 15 },
  );
});

test("bucket table: every point, its neighbours and the bucket edges answer as nginx's binary search (findChashPoint), both backends, small and past 2^16 points", (t) => {
  for (const n of [1, 3, 40, 700]) {
    const servers = Array.from({ length: n }, (_, i) => ({ id: `10.0.${i >> 8}.${i & 255}:80`, weight: 1 + (i % 3) }));
    for (const backend of ['wasm', 'js'] as const) {
      const h = new NginxConsistentHash(servers, { backend });
      const tab = table(h);
      const points = Uint32Array.from(tab, (e) => e.hash);
      const probes = new Set<number>([0, 1, 0xffffffff]);
      for (const p of points) for (const d of [-1, 0, 1]) probes.add((p + d) >>> 0);
      for (let e = 0; e < 2 ** 32; e += 2 ** 16) for (const d of [-1, 0, 1]) probes.add((e + d) >>> 0);
      let wrong = 0;
      for (const x of probes) {
        const want = h.members[tab[findChashPoint(points, points.length, x)]!.server];
        if (h.getByHash(x) !== want) wrong++;
      }
      t.is(wrong, 0, `${backend}, ${n} servers, ${points.length} points, ${probes.size} probes`);
      h.dispose();
    }
  }
});

test('bad input names the field and the value', (t) => {
  t.throws(() => new NginxConsistentHash([{ id: 'a', weight: 0 }]), {
    instanceOf: RangeError,
    message: /servers\[0\]\.weight must be an integer in \[1, 104857\], got 0/,
  });
  t.throws(() => new NginxConsistentHash([{ id: 'a', weight: 1.5 }]), { instanceOf: RangeError, message: /weight/ });
  t.throws(() => new NginxConsistentHash(['a', 'a']), {
    instanceOf: RangeError,
    message: /servers\[1\]\.id must be unique/,
  });
  t.throws(() => new NginxConsistentHash(['']), { instanceOf: RangeError, message: /servers\[0\]/ });
  t.throws(() => new NginxConsistentHash([{ id: 7 } as unknown as string]), {
    instanceOf: TypeError,
    message: /servers\[0\]\.id must be a string, got 7/,
  });
  t.throws(() => new NginxConsistentHash('a:1' as unknown as string[]), { instanceOf: TypeError, message: /servers/ });
  const h = new NginxConsistentHash(['a:1']);
  t.throws(() => h.get(null as unknown as string), { instanceOf: TypeError, message: /key/ });
  t.throws(() => h.getByHash(-1), {
    instanceOf: RangeError,
    message: /hash must be an integer in \[0, 4294967295\], got -1/,
  });
  t.throws(() => h.setWeight('zz', 2), { instanceOf: RangeError, message: /id/ });
  t.throws(() => h.add({ id: 'a:1', weight: 2 }), { instanceOf: RangeError, message: /use setWeight/ });
  t.throws(() => h.preference('k', -1), { instanceOf: RangeError, message: /n must be/ });
});

test('wasm: lookups stay right after linear memory grows (views are re-created), and after dispose of others', (t) => {
  const keys = Array.from({ length: 3000 }, (_, i) => `g${i}`);
  const h = new NginxConsistentHash(['10.0.0.1:80', { id: '10.0.0.2:80', weight: 3 }, '10.0.0.3:80'], {
    backend: 'wasm',
  });
  const js = new NginxConsistentHash(['10.0.0.1:80', { id: '10.0.0.2:80', weight: 3 }, '10.0.0.3:80'], {
    backend: 'js',
  });
  const before = h.getMany(keys);
  t.deepEqual(js.getMany(keys), before);
  const old = handle.mem.memory.buffer;
  const big = handle.mem.alloc(handle.mem.byteLength + (4 << 20)); // forces memory.grow
  t.is(old.byteLength, 0, 'the old buffer is detached');
  keys.forEach((k, i) => t.is(h.get(k), before[i]));
  t.deepEqual(h.getMany(keys), before);
  handle.mem.release(big);
  const other = new NginxConsistentHash([{ id: 'x:1', weight: 50 }], { backend: 'wasm' });
  other.dispose();
  t.deepEqual(h.getMany(keys), before);
});

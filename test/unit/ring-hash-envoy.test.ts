// EnvoyRingHash: every ring and lookup of Envoy's ring_hash_lb_test.cc (xxHash64 and MurmurHash2), the
// weight scaling rule, WASM = TS differential properties, disruption when a host is added, degenerate
// cases and bad input.
import test from 'ava';
import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import xxhashWasm from 'xxhash-wasm';
import { xxh64 } from '../../bindings/index.js';
import { EnvoyRingHash, envoyMurmur2Pair, envoyRingCounts, murmurHi } from '../../bindings/hashing/envoy/ring-hash.js';

const ref = await xxhashWasm();

interface Vector {
  test: string;
  minimum_ring_size: number;
  hash: 'XX_HASH' | 'MURMUR_HASH_2';
  hosts?: string[];
  host_keys?: string[];
  ring: { hash: string; host: string }[];
  lookups?: { hash: string; host: string }[];
}
const file = JSON.parse(readFileSync(new URL('../vectors/ring_hash_envoy.json', import.meta.url), 'utf8')) as {
  vectors: Vector[];
  xxh64_sanity: Record<string, string>;
};

const BACKENDS = ['wasm', 'js'] as const;

for (const backend of BACKENDS) {
  for (const v of file.vectors) {
    test(`${backend}: ${v.test}: whole ring and lookups (probes 0, max, on a point, one past)`, (t) => {
      const hosts = v.hosts ?? v.host_keys!;
      const ring = new EnvoyRingHash(hosts, { minimumRingSize: v.minimum_ring_size, hashFunction: v.hash, backend });
      t.is(ring.backend, backend);
      t.deepEqual(
        ring.entries().map((e) => ({ hash: e.hash.toString(), host: e.member })),
        v.ring,
      );
      for (const l of v.lookups ?? []) t.is(ring.getByHash(BigInt(l.hash)), l.host, `hash ${l.hash}`);
      // every entry owns its own hash; one past it belongs to the next entry
      v.ring.forEach((e, i) => {
        t.is(ring.getByHash(BigInt(e.hash)), e.host);
        t.is(ring.getByHash(BigInt(e.hash) + 1n), v.ring[(i + 1) % v.ring.length]!.host);
      });
      const s = ring.stats();
      t.is(s.points, 12);
      t.is(s.minPointsPerMember, 2); // Envoy's min/max_hashes_per_host stats in these tests
      t.is(s.maxPointsPerMember, 2);
      t.true(Math.abs(s.members.reduce((a, m) => a + m.share, 0) - 1) < 1e-9);
    });
  }

  test(`${backend}: retry attempts step through the ring as Envoy's (midp + attempt) % size`, (t) => {
    const v = file.vectors[0]!;
    const ring = new EnvoyRingHash(v.hosts!, { minimumRingSize: 12, backend });
    t.is(ring.getByHash(0n, 1), v.ring[1]!.host);
    t.is(ring.getByHash(BigInt(v.ring[11]!.hash), 1), v.ring[0]!.host);
    t.is(ring.getByHash(BigInt(v.ring[11]!.hash), 12), v.ring[11]!.host);
  });
}

test('xxh64 sanity values of the vector file, and MurmurHash2 (libstdc++ _Hash_bytes) agrees with BigInt', (t) => {
  t.is(xxh64('', 0), BigInt(file.xxh64_sanity["xxh64('',0)"]!));
  t.is(xxh64('abc', 0), BigInt(file.xxh64_sanity["xxh64('abc',0)"]!));
  const mul = 0xc6a4a7935bd1e995n;
  const m64 = (x: bigint) => x & 0xffffffffffffffffn;
  const mix = (x: bigint) => x ^ (x >> 47n);
  const murmurRef = (b: Uint8Array, seed: bigint): bigint => {
    const len = BigInt(b.length);
    let h = seed ^ m64(len * mul);
    const al = b.length & ~7;
    for (let p = 0; p < al; p += 8) {
      let d = 0n;
      for (let i = 7; i >= 0; i--) d = (d << 8n) | BigInt(b[p + i]!);
      h = m64((h ^ m64(mix(m64(d * mul)) * mul)) * mul);
    }
    if (b.length & 7) {
      let d = 0n;
      for (let i = b.length - 1; i >= al; i--) d = (d << 8n) | BigInt(b[i]!);
      h = m64((h ^ d) * mul);
    }
    return mix(m64(mix(h) * mul));
  };
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 70 }), (b) => {
      const lo = envoyMurmur2Pair(b);
      return ((BigInt(murmurHi()) << 32n) | BigInt(lo)) === murmurRef(b, 0xc70f6907n);
    }),
    { numRuns: 500 },
  );
  t.pass();
});

test('weights scale with running sums: hashes per host follow Envoy (min ring, max ring, order given)', (t) => {
  // min weight 1/3: scale = ceil(1024 / 3) × 3 = 1026
  t.deepEqual(envoyRingCounts([1, 2], 1024, 8388608), [342, 684]);
  // scale capped at maximum_ring_size 6 with 4 equal hosts: 1.5 each -> 2, 1, 2, 1 (Envoy's comment)
  t.deepEqual(envoyRingCounts([1, 1, 1, 1], 6, 6), [2, 1, 2, 1]);
  for (const backend of BACKENDS) {
    const ring = new EnvoyRingHash(['a:1', 'b:1', 'c:1', 'd:1'], { minimumRingSize: 6, maximumRingSize: 6, backend });
    t.deepEqual(
      ring.stats().members.map((m) => m.points),
      [2, 1, 2, 1],
    );
    const w = new EnvoyRingHash(
      [
        { id: 'a:1', weight: 1 },
        { id: 'b:1', weight: 2 },
      ],
      { backend },
    );
    t.deepEqual(
      w.stats().members.map((m) => m.points),
      [342, 684],
    );
    t.is(w.points, 1026);
  }
});

test('get(key) is getByHash(xxHash64(key bytes, seed 0)); strings as UTF-8; preference starts at the owner', (t) => {
  const enc = new TextEncoder();
  const ring = new EnvoyRingHash(['10.0.0.1:80', '10.0.0.2:80', { id: '10.0.0.3:80', weight: 3 }]);
  for (let i = 0; i < 500; i++) {
    const key = `user:${i}:é`;
    const h = ref.h64Raw(enc.encode(key), 0n);
    t.is(ring.get(key), ring.getByHash(h));
    t.is(ring.get(enc.encode(key)), ring.getByHash(h));
    const pref = ring.preference(key, 5);
    t.is(pref.length, 3);
    t.is(pref[0], ring.get(key));
    t.is(new Set(pref).size, 3);
  }
  t.deepEqual(ring.getMany(['a', 'b']), [ring.get('a'), ring.get('b')]);
  t.is(ring.getByHash(12345), ring.getByHash(12345n));
});

test('property: WASM build = TS build for random hosts, weights, ring sizes and both hash functions', (t) => {
  fc.assert(
    fc.property(
      fc.uniqueArray(fc.string({ unit: 'grapheme', minLength: 1, maxLength: 24 }), { minLength: 1, maxLength: 12 }),
      fc.array(fc.integer({ min: 1, max: 20 }), { minLength: 12, maxLength: 12 }),
      fc.integer({ min: 1, max: 3000 }),
      fc.integer({ min: 1, max: 20000 }),
      fc.boolean(),
      (ids, ws, minRing, maxExtra, murmur) => {
        const members = ids.map((id, i) => ({ id, weight: ws[i]! }));
        const opts = {
          minimumRingSize: minRing,
          maximumRingSize: Math.min(8388608, minRing + maxExtra),
          hashFunction: murmur ? ('MURMUR_HASH_2' as const) : ('XX_HASH' as const),
        };
        const a = new EnvoyRingHash(members, { ...opts, backend: 'wasm' });
        const b = new EnvoyRingHash(members, { ...opts, backend: 'js' });
        const ea = a.entries();
        const eb = b.entries();
        a.dispose();
        return ea.length === eb.length && ea.every((e, i) => e.hash === eb[i]!.hash && e.member === eb[i]!.member);
      },
    ),
    { numRuns: 150 },
  );
  t.pass();
});

test('property: get(key) on a WASM-built ring (hash + search in WASM) = the pure-TS path, any key', (t) => {
  const members = Array.from({ length: 9 }, (_, i) => ({ id: `h${i}:80`, weight: 1 + (i % 3) }));
  const a = new EnvoyRingHash(members, { backend: 'wasm' });
  const b = new EnvoyRingHash(members, { backend: 'js' });
  const enc = new TextEncoder();
  fc.assert(
    fc.property(fc.string({ unit: 'binary', maxLength: 80 }), (k) => {
      return (
        a.get(k) === b.get(k) &&
        a.get(enc.encode(k)) === b.get(k) &&
        a.preference(k, 4).join() === b.preference(k, 4).join()
      );
    }),
    { numRuns: 1000 },
  );
  const many = Array.from({ length: 9000 }, (_, i) =>
    i % 3 === 0 ? enc.encode(`b${i}`) : `k${i}${i % 5 === 0 ? 'é€' : ''}`,
  );
  t.deepEqual(a.getMany(many), b.getMany(many));
  t.deepEqual(
    a.getMany(many),
    many.map((k) => a.get(k)),
  );
  t.throws(() => a.getMany(['ok', 3 as never]), { instanceOf: TypeError, message: /keys\[1\]/ });
  t.pass();
});

/** The owner of a 64-bit hash by a plain binary search over entries(): the reference the bucket table must keep. */
function owner(entries: { hash: bigint; member: string }[], h: bigint): string {
  let a = 0;
  let b = entries.length;
  while (a < b) {
    const m = (a + b) >>> 1;
    if (entries[m]!.hash < h) a = m + 1;
    else b = m;
  }
  return entries[a === entries.length ? 0 : a]!.member;
}

test('bucket table: every entry, its neighbours and every bucket edge answer as a binary search over the whole ring, also after WASM memory grows (property, both backends)', (t) => {
  const M64 = (1n << 64n) - 1n;
  fc.assert(
    fc.property(
      fc.uniqueArray(fc.string({ minLength: 1, maxLength: 8 }), { minLength: 1, maxLength: 12 }),
      fc.integer({ min: 1, max: 3000 }),
      fc.boolean(),
      (hosts, minimumRingSize, grow) => {
        for (const backend of BACKENDS) {
          const ring = new EnvoyRingHash(hosts, { minimumRingSize, backend });
          const entries = ring.entries();
          const bits = Math.min(20, Math.max(1, Math.ceil(Math.log2(entries.length))));
          const probes = new Set<bigint>([0n, 1n, M64]);
          for (const e of entries) for (const d of [-1n, 0n, 1n]) probes.add((e.hash + d) & M64);
          for (let k = 0; k < 1 << bits; k += Math.max(1, (1 << bits) >> 6)) {
            const edge = BigInt(k) << BigInt(64 - bits);
            for (const d of [-1n, 0n, 1n]) probes.add((edge + d) & M64);
          }
          // a second, large ring grows WASM memory: the first ring's views must follow
          if (grow) new EnvoyRingHash(['x', 'y'], { minimumRingSize: 200_000, backend }).dispose();
          for (const h of probes) if (ring.getByHash(h) !== owner(entries, h)) return false;
          const key = hosts.join('/');
          if (ring.get(key) !== owner(entries, BigInt(ref.h64Raw(new TextEncoder().encode(key), 0n)))) return false;
          if (ring.preference(key, 1)[0] !== ring.get(key)) return false;
          ring.dispose();
        }
        return true;
      },
    ),
    { numRuns: 60 },
  );
  t.pass();
});

test("adding a host moves about 1/(n + 1) of keys to it, plus what Envoy's rescaling takes from old hosts", (t) => {
  for (const n of [5, 20]) {
    const ids = Array.from({ length: n }, (_, i) => `10.1.0.${i}:8080`);
    const before = new EnvoyRingHash(ids);
    const after = new EnvoyRingHash([...ids, '10.1.0.200:8080']);
    // Envoy rescales every host's entry count when n changes (ceil(1024 / n) each): the entries an old host
    // loses move its keys to other old hosts
    const lost = 1 - after.stats().members[0]!.points / before.stats().members[0]!.points;
    const keys = 20000;
    let moved = 0;
    let elsewhere = 0;
    for (let i = 0; i < keys; i++) {
      const a = before.get(`k${i}`);
      const b = after.get(`k${i}`);
      if (a !== b) {
        moved++;
        if (b !== '10.1.0.200:8080') elsewhere++;
      }
    }
    t.true(moved / keys < 1.3 / (n + 1) + lost, `n=${n} moved ${moved / keys}, lost ${lost}`);
    t.true(moved / keys > 0.7 / (n + 1), `n=${n} moved ${moved / keys}`);
    t.true(elsewhere / keys < lost + 0.3 / (n + 1), `n=${n} moved elsewhere ${elsewhere / keys}, lost ${lost}`);
  }
});

test('empty host list: lookups return undefined; single host owns everything', (t) => {
  for (const backend of BACKENDS) {
    const e = new EnvoyRingHash([], { backend });
    t.is(e.get('x'), undefined);
    t.is(e.getByHash(0n), undefined);
    t.deepEqual(e.preference('x', 3), []);
    t.deepEqual(e.entries(), []);
    t.is(e.stats().points, 0);
    const one = new EnvoyRingHash(['only:1'], { backend });
    t.is(one.points, 1024);
    t.is(one.get('anything'), 'only:1');
    t.is(one.getByHash(0xffffffffffffffffn), 'only:1');
    one.dispose();
    t.is(one.get('anything'), undefined);
  }
});

test('bad input: typed errors naming the field and the value', (t) => {
  t.throws(() => new EnvoyRingHash(['a'], { minimumRingSize: 0 }), {
    instanceOf: RangeError,
    message: /minimumRingSize.*0/,
  });
  t.throws(() => new EnvoyRingHash(['a'], { maximumRingSize: 8388609 }), {
    instanceOf: RangeError,
    message: /maximumRingSize.*8388609/,
  });
  t.throws(() => new EnvoyRingHash(['a'], { minimumRingSize: 100, maximumRingSize: 10 }), {
    instanceOf: RangeError,
    message: /minimumRingSize/,
  });
  t.throws(() => new EnvoyRingHash(['a'], { hashFunction: 'MD5' as never }), {
    instanceOf: RangeError,
    message: /hashFunction.*MD5/,
  });
  t.throws(() => new EnvoyRingHash(['a'], { backend: 'gpu' as never }), { instanceOf: RangeError, message: /backend/ });
  t.throws(() => new EnvoyRingHash([{ id: 'a', weight: 0 }]), {
    instanceOf: RangeError,
    message: /members\[0\]\.weight.*0/,
  });
  t.throws(() => new EnvoyRingHash([{ id: 'a', weight: 1.5 }]), { instanceOf: RangeError, message: /weight.*1\.5/ });
  t.throws(() => new EnvoyRingHash([{ id: 'a', weight: 0xffffffff }, 'b']), { instanceOf: RangeError, message: /sum/ });
  t.throws(() => new EnvoyRingHash(['a', 'a']), { instanceOf: RangeError, message: /members\[1\].*unique/ });
  t.throws(() => new EnvoyRingHash(['']), { instanceOf: RangeError, message: /members\[0\]/ });
  t.throws(() => new EnvoyRingHash([7 as never]), { instanceOf: TypeError, message: /members\[0\]/ });
  t.throws(() => new EnvoyRingHash('ab' as never), { instanceOf: TypeError, message: /members/ });
  const ring = new EnvoyRingHash(['a']);
  t.throws(() => ring.get(5 as never), { instanceOf: TypeError, message: /key/ });
  t.throws(() => ring.getByHash(-1), { instanceOf: RangeError, message: /hash.*-1/ });
  t.throws(() => ring.getByHash(2n ** 64n), { instanceOf: RangeError, message: /hash/ });
  t.throws(() => ring.getByHash(1.5), { instanceOf: RangeError, message: /hash.*1\.5/ });
  t.throws(() => ring.getByHash(1n, -1), { instanceOf: RangeError, message: /attempt/ });
  t.throws(() => ring.preference('k', -1), { instanceOf: RangeError, message: /n.*-1/ });
});

test('regression: a bad key on a new ring after a hot get() throws a TypeError (Node 20 crashed here)', (t) => {
  const hot = new EnvoyRingHash(['h1:1', 'h2:2'], { backend: 'wasm' });
  const enc = new TextEncoder();
  for (let i = 0; i < 100000; i++) {
    hot.get(`k${i}${i % 7 === 0 ? 'é' : ''}`);
    hot.get(enc.encode(`x${i}`));
  }
  const fresh = new EnvoyRingHash(['a'], { backend: 'wasm' });
  t.throws(() => fresh.get(5 as never), { instanceOf: TypeError, message: /key/ });
  t.throws(() => fresh.preference(5 as never, 1), { instanceOf: TypeError, message: /key/ });
});

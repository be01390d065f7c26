// HashRing benchmarks (issue 2): single string-key lookups, batched lookups by hash, builds, bytes per
// vnode, raw xxh32/xxh64; switchyard's WASM and pure-TS paths against hashring and consistent-hash (npm).
import ConsistentHash from 'consistent-hash';
import HashRingNpm from 'hashring';
import xxhashWasm from 'xxhash-wasm';
import { HashRing, xxh32, xxh64 } from '../bindings/index.js';
import { wasmHandle } from '../bindings/core/backend.js';
import { utf8Scratch } from '../bindings/core/utf8.js';
import { xxh32String, xxh64Bytes, xxh32Bytes } from '../bindings/core/xxhash.js';
import { consume, fmt, machine, measure, medianMs, save, type Row } from './common.js';

const rows: Row[] = [];
const builds: { members: number; impl: string; ms: number }[] = [];
const memory: { members: number; points: number; bytes: number; bytesPerVnode: number }[] = [];
const KEYS = 1 << 17; // more distinct keys than hashring's LRU cache (5000)
const keys = Array.from(
  { length: KEYS },
  (_, i) => `user:${String(i).padStart(7, '0')}:s:${String((i * 7919) % 10000).padStart(4, '0')}`,
);
const BATCH = 1000;
const handle = wasmHandle()!;
const x = handle.exports as Record<string, (...a: number[]) => number>;

for (const n of [10, 100, 1000]) {
  const ids = Array.from({ length: n }, (_, i) => `10.1.${i >> 8}.${i & 255}:11211`);
  const suite = `ring ${n} members`;
  const wasmRing = new HashRing(ids, { backend: 'wasm' });
  const jsRing = new HashRing(ids, { backend: 'js' });
  const s = wasmRing.stats();
  memory.push({ members: n, points: s.points, bytes: s.bytes, bytesPerVnode: s.bytes / s.points });
  let k = 0;
  const lookups = (get: (key: string) => unknown) => () => {
    for (let i = 0; i < BATCH; i++) {
      consume(get(keys[k]!));
      k = (k + 1) & (KEYS - 1);
    }
  };
  rows.push(
    measure(
      suite,
      'get(string) switchyard, WASM-built table, TS hash+lookup',
      lookups((key) => wasmRing.get(key)),
      BATCH,
    ),
  );
  rows.push(
    measure(
      suite,
      'get(string) switchyard, pure-TS build',
      lookups((key) => jsRing.get(key)),
      BATCH,
    ),
  );
  // the alternative single-key path: copy the key into WASM memory and hash + look up there
  const t = (
    wasmRing as unknown as {
      t: { pointsPtr: number; membersPtr: number; tablePtr: number; total: number; bits: number };
    }
  ).t;
  rows.push(
    measure(
      suite,
      'get(string) via WASM call (copy key + hash + lookup in WASM)',
      lookups((key) => {
        const b = utf8Scratch(key);
        const p = handle.io(b.length);
        handle.mem.u8.set(b, p);
        const h = x.xxh32!(p, b.length, 0) >>> 0;
        return wasmRing.members[x.ringLookup!(t.pointsPtr, t.membersPtr, t.tablePtr, t.total, t.bits, h)];
      }),
      BATCH,
    ),
  );
  const npmRing = new HashRingNpm(ids);
  rows.push(
    measure(
      suite,
      'hashring (npm) get, uncached keys',
      lookups((key) => npmRing.get(key)),
      BATCH,
    ),
  );
  const ch = new ConsistentHash({ range: 10000019, weight: 160 });
  ids.forEach((id) => ch.add(id));
  rows.push(
    measure(
      suite,
      'consistent-hash (npm) get',
      lookups((key) => ch.get(key)),
      BATCH,
    ),
  );
  // batched by hash
  const hashes = Uint32Array.from({ length: 65536 }, (_, i) => xxh32String(keys[i]!, 0));
  const out = new Uint32Array(hashes.length);
  rows.push(measure(suite, 'getManyByHash x65536, WASM', () => wasmRing.getManyByHash(hashes, out), hashes.length));
  rows.push(measure(suite, 'getManyByHash x65536, pure TS', () => jsRing.getManyByHash(hashes, out), hashes.length));
  // builds
  const members = ids.map((id) => id);
  builds.push({
    members: n,
    impl: 'switchyard WASM',
    ms: medianMs(() => new HashRing(members, { backend: 'wasm' }).dispose()),
  });
  builds.push({ members: n, impl: 'switchyard pure TS', ms: medianMs(() => new HashRing(members, { backend: 'js' })) });
  builds.push({ members: n, impl: 'hashring (npm)', ms: medianMs(() => new HashRingNpm(members), 5) });
  builds.push({
    members: n,
    impl: 'consistent-hash (npm)',
    ms: medianMs(() => {
      const c = new ConsistentHash({ range: 10000019, weight: 160 });
      members.forEach((id) => c.add(id));
      c.get('x');
    }, 5),
  });
  wasmRing.dispose();
}

// raw hashes
const ref = await xxhashWasm();
const key19 = 'user:0000042:s:1234';
const enc = new TextEncoder();
const b1k = enc.encode('x'.repeat(1024));
const b64k = new Uint8Array(65536).fill(7);
const b64 = enc.encode('y'.repeat(64));
const b32 = enc.encode('y'.repeat(32));
const H = 'hash';
rows.push(measure(H, 'xxh32 19-byte string: switchyard (TS charCodeAt)', () => consume(xxh32(key19))));
rows.push(measure(H, 'xxh32 19-byte string: xxhash-wasm h32', () => consume(ref.h32(key19))));
rows.push(measure(H, 'xxh64 19-byte string: switchyard (WASM)', () => consume(xxh64(key19))));
rows.push(
  measure(H, 'xxh64 19-byte string: pure TS (32-bit halves)', () => consume(xxh64Bytes(utf8Scratch(key19), 0n))),
);
rows.push(measure(H, 'xxh64 19-byte string: xxhash-wasm h64', () => consume(ref.h64(key19))));
for (const [label, b] of [
  ['32 B', b32],
  ['64 B', b64],
  ['1 KiB', b1k],
  ['64 KiB', b64k],
] as const) {
  rows.push(measure(H, `xxh32 ${label} bytes: switchyard (public)`, () => consume(xxh32(b))));
  rows.push(measure(H, `xxh32 ${label} bytes: pure TS`, () => consume(xxh32Bytes(b, 0))));
  rows.push(measure(H, `xxh32 ${label} bytes: WASM (copy + hash)`, () => consume(x.xxh32!(put(b), b.length, 0) >>> 0)));
  rows.push(measure(H, `xxh32 ${label} bytes: xxhash-wasm h32Raw`, () => consume(ref.h32Raw(b))));
  rows.push(measure(H, `xxh64 ${label} bytes: switchyard (public)`, () => consume(xxh64(b))));
  rows.push(measure(H, `xxh64 ${label} bytes: xxhash-wasm h64Raw`, () => consume(ref.h64Raw(b))));
}
function put(b: Uint8Array): number {
  const p = handle.io(b.length);
  handle.mem.u8.set(b, p);
  return p;
}

save('ring', {
  rows,
  builds,
  memory,
  tables: [
    {
      title: 'ring build, 160 vnodes per member (median ms)',
      header: ['members', 'implementation', 'build ms'],
      rows: builds.map((b) => [b.members, b.impl, b.ms.toFixed(2)]),
    },
    {
      title: 'memory',
      header: ['members', 'points', 'table bytes', 'bytes per vnode'],
      rows: memory.map((m) => [m.members, m.points, m.bytes, m.bytesPerVnode.toFixed(2)]),
    },
  ],
});
console.log(`\nNode ${machine().node}, ${machine().cpu} (${machine().cores} cores)\n`);
console.log('| suite | case | ops/s (median) |\n|---|---|---:|');
for (const r of rows) console.log(`| ${r.suite} | ${r.name} | ${fmt(r.opsPerSec)} |`);
console.log('\n| members × 160 vnodes | implementation | build ms (median) |\n|---:|---|---:|');
for (const b of builds) console.log(`| ${b.members} | ${b.impl} | ${b.ms.toFixed(2)} |`);
console.log('\n| members | points | table bytes | bytes/vnode |\n|---:|---:|---:|---:|');
for (const m of memory) console.log(`| ${m.members} | ${m.points} | ${m.bytes} | ${m.bytesPerVnode.toFixed(2)} |`);

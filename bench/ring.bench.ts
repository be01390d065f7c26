// HashRing benchmarks (issues 2 and 16), every figure a ratio to a reference measured in the same process,
// interleaved (bench/common.ts `interleave`): single string-key lookups against a minimal plain-JS ring
// (bench/reference-ring.ts) and the npm rings hashring and consistent-hash; `group(keys)` against looping
// `get`; batched lookups by hash against a plain JS loop over the same table; WASM build against the pure-TS
// build; raw xxh32/xxh64 against xxhash-wasm. Standalone: npx tsx bench/ring.bench.ts (BENCH_ROUNDS=5 quick).
import ConsistentHash from 'consistent-hash';
import HashRingNpm from 'hashring';
import xxhashWasm from 'xxhash-wasm';
import { HashRing, xxh32, xxh64 } from '../bindings/index.js';
import { wasmHandle } from '../bindings/core/backend.js';
import { ringIndex, type RingTable } from '../bindings/core/core.js';
import { utf8Scratch } from '../bindings/core/utf8.js';
import { xxh32String, xxh64Bytes, xxh32Bytes } from '../bindings/core/xxhash.js';
import { consume, interleave, interleaveMs, machine, type Row, save } from './common.js';
import { ReferenceRing } from './reference-ring.js';

const rows: Row[] = [];
const builds: { members: number; impl: string; ms: number }[] = [];
const memory: { members: number; points: number; bytes: number; bytesPerVnode: number; referenceBytes: number }[] = [];
const buildRatios: (string | number)[][] = [];
const KEYS = 1 << 17; // more distinct keys than hashring's LRU cache (5000)
const keys = Array.from(
  { length: KEYS },
  (_, i) => `user:${String(i).padStart(7, '0')}:s:${String((i * 7919) % 10000).padStart(4, '0')}`,
);
const LOOP = 1000;
/**
 * A loop of LOOP lookups `get(keys[k])` over the key set. Each call compiles its own loop (new Function), so
 * every implementation gets a monomorphic call site of its own, as in a caller's code: closures made from
 * one function literal share V8's feedback, and the call would turn megamorphic across the five rings.
 */
function lookupLoop(get: (key: string) => unknown): () => void {
  const make = new Function(
    'keys',
    'consume',
    'get',
    `let k = 0;
     return function loop() {
       for (let i = 0; i < ${LOOP}; i++) {
         consume(get(keys[k]));
         k = (k + 1) & ${KEYS - 1};
       }
     };`,
  ) as (k: string[], c: typeof consume, g: typeof get) => () => void;
  return make(keys, consume, get);
}
const handle = wasmHandle()!;
const x = handle.exports as Record<string, (...a: number[]) => number>;
const tableOf = (r: HashRing) => (r as unknown as { t: RingTable }).t;

for (const n of [10, 100, 1000]) {
  const ids = Array.from({ length: n }, (_, i) => `10.1.${i >> 8}.${i & 255}:11211`);
  const wasmRing = new HashRing(ids, { backend: 'wasm' });
  const jsRing = new HashRing(ids, { backend: 'js' });
  const ref = new ReferenceRing(ids);
  for (let i = 0; i < 10_000; i++)
    if (wasmRing.get(keys[i]!) !== ref.get(keys[i]!)) throw new Error(`reference ring disagrees on ${keys[i]}`);
  const s = wasmRing.stats();
  memory.push({
    members: n,
    points: s.points,
    bytes: s.bytes,
    bytesPerVnode: s.bytes / s.points,
    referenceBytes: ref.bytes,
  });

  // 1. single string-key lookups, all in one interleaved run
  const lookups = (get: (key: string) => unknown) => lookupLoop(get);
  const npmRing = new HashRingNpm(ids);
  const ch = new ConsistentHash({ range: 10000019, weight: 160 });
  ids.forEach((id) => ch.add(id));
  rows.push(
    ...interleave(`ring ${n} members`, [
      { name: 'reference ring (plain JS, 2^16 buckets)', fn: lookups((key) => ref.get(key)), ops: LOOP },
      { name: 'get(string) switchyard, WASM-built table', fn: lookups((key) => wasmRing.get(key)), ops: LOOP },
      { name: 'get(string) switchyard, pure-TS build', fn: lookups((key) => jsRing.get(key)), ops: LOOP },
      { name: 'hashring (npm) get, uncached keys', fn: lookups((key) => npmRing.get(key)), ops: LOOP },
      { name: 'consistent-hash (npm) get', fn: lookups((key) => ch.get(key)), ops: LOOP },
    ]),
  );

  // 2. group(keys) for a multi-get of 1000 keys, against what a caller writes with get()
  const batch = keys.slice(0, 1000);
  const byGet = (r: HashRing) => () => {
    const m = new Map<string, string[]>();
    for (const key of batch) {
      const o = r.get(key)!;
      const l = m.get(o);
      if (l === undefined) m.set(o, [key]);
      else l.push(key);
    }
    consume(m.size);
  };
  rows.push(
    ...interleave(`group ${n} members`, [
      { name: 'wasm: loop get into a Map x1000', fn: byGet(wasmRing), ops: 1000 },
      { name: 'wasm: group(keys) x1000', fn: () => consume(wasmRing.group(batch).size), ops: 1000 },
      { name: 'js: loop get into a Map x1000', fn: byGet(jsRing), ops: 1000 },
      { name: 'js: group(keys) x1000', fn: () => consume(jsRing.group(batch).size), ops: 1000 },
    ]),
  );

  // 3. batched lookups by hash, against a plain JS loop over the same table
  const hashes = Uint32Array.from({ length: 65536 }, (_, i) => xxh32String(keys[i]!, 0));
  const out = new Uint32Array(hashes.length);
  const t = tableOf(wasmRing);
  const plainLoop = () => {
    t.sync();
    const { points, table, members, total } = t;
    const shift = 32 - t.bits;
    for (let i = 0; i < hashes.length; i++) out[i] = members[ringIndex(points, table, shift, total, hashes[i]!)]!;
  };
  rows.push(
    ...interleave(`by hash ${n} members`, [
      { name: 'plain JS loop over the table x65536', fn: plainLoop, ops: hashes.length },
      { name: 'getManyByHash WASM x65536', fn: () => wasmRing.getManyByHash(hashes, out), ops: hashes.length },
      { name: 'getManyByHash pure TS x65536', fn: () => jsRing.getManyByHash(hashes, out), ops: hashes.length },
    ]),
  );

  // 4. builds, interleaved: our two builds alone for their ratio (the npm rings' garbage would land its GC
  //    pauses on whichever short build runs next), then the WASM build beside the npm rings
  const runs = n >= 1000 ? 11 : n >= 100 ? 21 : 41; // short builds: more runs for a stable median
  const wasmBuild = { name: 'wasm', fn: () => new HashRing(ids, { backend: 'wasm' }).dispose() };
  const [wasmMs, tsMs] = interleaveMs(
    [wasmBuild, { name: 'ts', fn: () => new HashRing(ids, { backend: 'js' }) }],
    runs,
  );
  const [, npmMs, chMs] = interleaveMs(
    [
      wasmBuild,
      { name: 'hashring', fn: () => new HashRingNpm(ids) },
      {
        name: 'consistent-hash',
        fn: () => {
          const c = new ConsistentHash({ range: 10000019, weight: 160 });
          ids.forEach((id) => c.add(id));
          c.get('x');
        },
      },
    ],
    runs,
  );
  builds.push({ members: n, impl: 'switchyard WASM', ms: wasmMs! });
  builds.push({ members: n, impl: 'switchyard pure TS', ms: tsMs! });
  builds.push({ members: n, impl: 'hashring (npm)', ms: npmMs! });
  builds.push({ members: n, impl: 'consistent-hash (npm)', ms: chMs! });
  buildRatios.push([n, `${(tsMs! / wasmMs!).toFixed(2)}×`, wasmMs!.toFixed(2), tsMs!.toFixed(2)]);
  wasmRing.dispose();
}

// raw hashes, each input interleaved with xxhash-wasm
const ref = await xxhashWasm();
const key19 = 'user:0000042:s:1234';
const enc = new TextEncoder();
const H = 'hash';
/** `reps` calls of `f` per round, in a loop compiled for this case alone (see lookupLoop: a shared loop's call turned megamorphic). */
function repLoop(f: () => unknown, reps: number): () => void {
  const make = new Function(
    'f',
    'consume',
    `return function loop() { for (let i = 0; i < ${reps}; i++) consume(f()); };`,
  ) as (g: typeof f, c: typeof consume) => () => void;
  return make(f, consume);
}
const loop = (f: () => unknown) => repLoop(f, 100);
rows.push(
  ...interleave(H, [
    { name: 'xxh32 19-byte string: xxhash-wasm h32', fn: loop(() => ref.h32(key19)), ops: 100 },
    { name: 'xxh32 19-byte string: switchyard (TS charCodeAt)', fn: loop(() => xxh32(key19)), ops: 100 },
  ]),
  ...interleave(H, [
    { name: 'xxh64 19-byte string: xxhash-wasm h64', fn: loop(() => ref.h64(key19)), ops: 100 },
    { name: 'xxh64 19-byte string: switchyard (WASM)', fn: loop(() => xxh64(key19)), ops: 100 },
    {
      name: 'xxh64 19-byte string: pure TS (32-bit halves)',
      fn: loop(() => xxh64Bytes(utf8Scratch(key19), 0n)),
      ops: 100,
    },
  ]),
);
for (const [label, b] of [
  ['32 B', enc.encode('y'.repeat(32))],
  ['64 B', enc.encode('y'.repeat(64))],
  ['1 KiB', enc.encode('x'.repeat(1024))],
  ['64 KiB', new Uint8Array(65536).fill(7)],
] as const) {
  const reps = b.length >= 65536 ? 1 : 100;
  const l = (f: () => unknown) => repLoop(f, reps);
  rows.push(
    ...interleave(H, [
      { name: `xxh32 ${label} bytes: xxhash-wasm h32Raw`, fn: l(() => ref.h32Raw(b)), ops: reps },
      { name: `xxh32 ${label} bytes: switchyard (public)`, fn: l(() => xxh32(b)), ops: reps },
      { name: `xxh32 ${label} bytes: pure TS`, fn: l(() => xxh32Bytes(b, 0)), ops: reps },
      { name: `xxh32 ${label} bytes: WASM (copy + hash)`, fn: l(() => x.xxh32!(put(b), b.length, 0) >>> 0), ops: reps },
    ]),
    ...interleave(H, [
      { name: `xxh64 ${label} bytes: xxhash-wasm h64Raw`, fn: l(() => ref.h64Raw(b)), ops: reps },
      { name: `xxh64 ${label} bytes: switchyard (public)`, fn: l(() => xxh64(b)), ops: reps },
    ]),
  );
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
  notes:
    'Every case of a table was measured interleaved with its reference (rounds of A, B, A, B ...; medians). ' +
    'The reference ring (bench/reference-ring.ts) names the same member as HashRing for every key; its table ' +
    'always has 2^16 buckets. The plain JS loop runs over the WASM-built ring table (points + bucket table).',
  tables: [
    {
      title: 'WASM ring construction, × the pure-TS construction (160 vnodes per member)',
      ratio: true,
      header: ['members', 'WASM speed-up', 'WASM ms', 'pure TS ms'],
      rows: buildRatios,
    },
    {
      title: 'memory',
      header: ['members', 'points', 'table bytes', 'bytes per vnode', 'reference ring bytes'],
      rows: memory.map((m) => [m.members, m.points, m.bytes, m.bytesPerVnode.toFixed(2), m.referenceBytes]),
    },
  ],
});
const m = machine();
console.log(`ring suite on Node ${m.node}, ${m.cpu} (${m.cores} cores): see bench/results/ring.json`);

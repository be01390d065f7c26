// Envoy ring_hash, Maglev and bounded loads (issue 3): single string-key lookups, builds (WASM core vs pure
// TS), table bytes, keys moved when one member is added (against the ideal 1/(n + 1)) and max/mean key load,
// at 10/100/1000 members; hashring and consistent-hash (npm) lookups as the nearest peers (ketama-style
// rings: no npm package builds Envoy's tables). Run: npx tsx bench/envoy.bench.ts
import ConsistentHash from 'consistent-hash';
import HashRingNpm from 'hashring';
import { BoundedLoad, EnvoyBoundedLoad, EnvoyRingHash, Maglev } from '../bindings/index.js';
import { consume, fmt, machine, measure, medianMs, save, type Row } from './common.js';

const rows: Row[] = [];
const builds: { members: number; impl: string; ms: number }[] = [];
const shape: {
  members: number;
  algo: string;
  entries: number;
  bytes: number;
  movedOnAdd: number;
  ideal: number;
  maxOverMean: number;
}[] = [];
const KEYS = 1 << 17;
const keys = Array.from(
  { length: KEYS },
  (_, i) => `user:${String(i).padStart(7, '0')}:s:${String((i * 7919) % 10000).padStart(4, '0')}`,
);
const BATCH = 1000;
const SAMPLE = 100000; // keys for moved / balance figures

type Table = { get(key: string): string | undefined; members: readonly string[] };

function movedAndBalance(before: Table, after: Table): { moved: number; maxOverMean: number } {
  let moved = 0;
  const load = new Map<string, number>();
  for (let i = 0; i < SAMPLE; i++) {
    const a = before.get(keys[i]!)!;
    if (a !== after.get(keys[i]!)) moved++;
    load.set(a, (load.get(a) ?? 0) + 1);
  }
  const max = Math.max(...load.values());
  return { moved: moved / SAMPLE, maxOverMean: max / (SAMPLE / before.members.length) };
}

for (const n of [10, 100, 1000]) {
  const ids = Array.from({ length: n }, (_, i) => `10.1.${i >> 8}.${i & 255}:8080`);
  const added = [...ids, '10.9.9.9:8080'];
  const suite = `envoy ${n} members`;
  let k = 0;
  const lookups = (get: (key: string) => unknown) => () => {
    for (let i = 0; i < BATCH; i++) {
      consume(get(keys[k]!));
      k = (k + 1) & (KEYS - 1);
    }
  };

  const ringW = new EnvoyRingHash(ids, { backend: 'wasm' });
  const ringJ = new EnvoyRingHash(ids, { backend: 'js' });
  const magW = new Maglev(ids, { backend: 'wasm' });
  const magJ = new Maglev(ids, { backend: 'js' });
  rows.push(
    measure(
      suite,
      'ring_hash get(string), WASM (hash + bucket table + search in one call)',
      lookups((x) => ringW.get(x)),
      BATCH,
    ),
  );
  rows.push(
    measure(
      suite,
      'ring_hash get(string), pure TS',
      lookups((x) => ringJ.get(x)),
      BATCH,
    ),
  );
  rows.push(
    measure(
      suite,
      'maglev get(string), WASM (hash + slot in one call)',
      lookups((x) => magW.get(x)),
      BATCH,
    ),
  );
  rows.push(
    measure(
      suite,
      'maglev get(string), pure TS',
      lookups((x) => magJ.get(x)),
      BATCH,
    ),
  );
  const chunk = keys.slice(0, 4096);
  rows.push(
    measure(suite, 'ring_hash getMany x4096, WASM batch', () => consume(ringW.getMany(chunk).length), chunk.length),
  );
  rows.push(
    measure(suite, 'maglev getMany x4096, WASM batch', () => consume(magW.getMany(chunk).length), chunk.length),
  );
  const bounded = new BoundedLoad(magW, { factor: 1.25 });
  rows.push(
    measure(
      suite,
      'bounded loads (c = 1.25) over maglev: acquire + done',
      lookups((x) => bounded.acquire(x)!.done()),
      BATCH,
    ),
  );
  const envoyBounded = new EnvoyBoundedLoad(magW, { hashBalanceFactor: 125, load: () => 0 });
  let hk = 0;
  rows.push(
    measure(
      suite,
      'EnvoyBoundedLoad (hash_balance_factor 125) over maglev, idle: getByHash',
      () => {
        for (let i = 0; i < BATCH; i++) consume(envoyBounded.getByHash((hk = (hk + 0x9e3779b1) % 2 ** 52)));
      },
      BATCH,
    ),
  );
  const npmRing = new HashRingNpm(ids);
  rows.push(
    measure(
      suite,
      'hashring (npm) get, uncached keys',
      lookups((x) => npmRing.get(x)),
      BATCH,
    ),
  );
  const ch = new ConsistentHash({ range: 10000019, weight: 160 });
  ids.forEach((id) => ch.add(id));
  rows.push(
    measure(
      suite,
      'consistent-hash (npm) get',
      lookups((x) => ch.get(x)),
      BATCH,
    ),
  );

  builds.push({
    members: n,
    impl: 'ring_hash WASM',
    ms: medianMs(() => new EnvoyRingHash(ids, { backend: 'wasm' }).dispose()),
  });
  builds.push({ members: n, impl: 'ring_hash pure TS', ms: medianMs(() => new EnvoyRingHash(ids, { backend: 'js' })) });
  builds.push({
    members: n,
    impl: 'maglev 65537 WASM',
    ms: medianMs(() => new Maglev(ids, { backend: 'wasm' }).dispose()),
  });
  builds.push({ members: n, impl: 'maglev 65537 pure TS', ms: medianMs(() => new Maglev(ids, { backend: 'js' })) });

  const ringAdded = new EnvoyRingHash(added);
  const magAdded = new Maglev(added);
  const r = movedAndBalance(ringW, ringAdded);
  const m = movedAndBalance(magW, magAdded);
  shape.push({
    members: n,
    algo: 'ring_hash',
    entries: ringW.points,
    bytes: ringW.stats().bytes,
    movedOnAdd: r.moved,
    ideal: 1 / (n + 1),
    maxOverMean: r.maxOverMean,
  });
  shape.push({
    members: n,
    algo: 'maglev',
    entries: magW.tableSize,
    bytes: magW.stats().bytes,
    movedOnAdd: m.moved,
    ideal: 1 / (n + 1),
    maxOverMean: m.maxOverMean,
  });
  for (const t of [ringW, magW, ringAdded, magAdded]) t.dispose();
}

save('envoy', {
  rows,
  builds,
  shape,
  tables: [
    {
      title: 'builds (median ms)',
      header: ['members', 'implementation', 'build ms'],
      rows: builds.map((b) => [b.members, b.impl, b.ms.toFixed(2)]),
    },
    {
      title: 'shape',
      header: ['members', 'algorithm', 'entries', 'bytes', 'moved on add', 'ideal', 'max/mean load'],
      rows: shape.map((s) => [
        s.members,
        s.algo,
        s.entries,
        s.bytes,
        s.movedOnAdd.toFixed(4),
        s.ideal.toFixed(4),
        s.maxOverMean.toFixed(3),
      ]),
    },
  ],
});
console.log(`\nNode ${machine().node}, ${machine().cpu} (${machine().cores} cores)\n`);
console.log('| suite | case | ops/s (median) |\n|---|---|---:|');
for (const r of rows) console.log(`| ${r.suite} | ${r.name} | ${fmt(r.opsPerSec)} |`);
console.log('\n| members | implementation | build ms (median) |\n|---:|---|---:|');
for (const b of builds) console.log(`| ${b.members} | ${b.impl} | ${b.ms.toFixed(2)} |`);
console.log(
  '\n| members | algorithm | entries | bytes | moved on add | ideal 1/(n+1) | max/mean load |\n|---:|---|---:|---:|---:|---:|---:|',
);
for (const s of shape)
  console.log(
    `| ${s.members} | ${s.algo} | ${s.entries} | ${s.bytes} | ${(100 * s.movedOnAdd).toFixed(2)} % | ${(100 * s.ideal).toFixed(2)} % | ${s.maxOverMean.toFixed(3)} |`,
  );

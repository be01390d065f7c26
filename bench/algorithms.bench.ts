// Every consistent-hash algorithm side by side (issue 3's table): lookups/s on ~19-byte string keys, build time,
// table memory, keys moved when one member is added or removed against the ideal 1/(n+1) and 1/n, and max/mean
// key load over 100 000 keys. Peers from npm where one does the same thing (hashring: ketama).
import HashRingNpm from 'hashring';
import { ALGORITHMS, createHasher, type Algorithm, type HasherOptions } from '../bindings/hashing/create-hasher.js';
import { consume, fmt, measure, medianMs, save, type Row } from './common.js';

const KEYS = 1 << 16;
const keys = Array.from(
  { length: KEYS },
  (_, i) => `user:${String(i).padStart(7, '0')}:s:${String((i * 7919) % 10000).padStart(4, '0')}`,
);
const loadKeys = keys.concat(keys.map((k) => `${k}#2`)).slice(0, 100_000);
const rows: Row[] = [];
const table: (string | number)[][] = [];
const variants: [string, HasherOptions][] = ALGORITHMS.map((a: Algorithm) => [
  a,
  { algorithm: a, ...(a === 'ketama' && { compat: 'libmemcached' as const }) },
]);

for (const n of [10, 100, 1000]) {
  const ids = Array.from({ length: n }, (_, i) => `10.2.${i >> 8}.${i & 255}:11211`);
  for (const [name, opts] of variants) {
    const h = createHasher(ids, opts);
    let k = 0;
    rows.push(
      measure(
        `${n} members`,
        `${name} get(string)`,
        () => {
          for (let i = 0; i < 1000; i++) {
            consume(h.get(keys[k]!));
            k = (k + 1) & (KEYS - 1);
          }
        },
        1000,
      ),
    );
    const buildMs = medianMs(() => createHasher(ids, opts), n >= 1000 ? 5 : 11);
    const { bytes } = h.stats();
    // keys moved when adding a member / removing the last one
    const before = loadKeys.map((x) => h.get(x));
    const added = createHasher([...ids, '10.9.9.9:11211'], opts);
    const movedAdd = loadKeys.filter((x, i) => added.get(x) !== before[i]).length / loadKeys.length;
    const removed = createHasher(ids.slice(0, -1), opts);
    const movedRemove = loadKeys.filter((x, i) => removed.get(x) !== before[i]).length / loadKeys.length;
    const counts = new Map<string, number>();
    for (const b of before) counts.set(b!, (counts.get(b!) ?? 0) + 1);
    const maxOverMean = Math.max(...counts.values()) / (loadKeys.length / n);
    table.push([
      n,
      name,
      fmt(rows.at(-1)!.opsPerSec),
      buildMs.toFixed(2),
      bytes,
      `${(movedAdd * 100).toFixed(2)}% (ideal ${((1 / (n + 1)) * 100).toFixed(2)}%)`,
      `${(movedRemove * 100).toFixed(2)}% (ideal ${((1 / n) * 100).toFixed(2)}%)`,
      maxOverMean.toFixed(3),
    ]);
  }
  const npm = new HashRingNpm(ids);
  let k = 0;
  rows.push(
    measure(
      `${n} members`,
      'hashring (npm, ketama) get, uncached keys',
      () => {
        for (let i = 0; i < 1000; i++) {
          consume(npm.get(keys[k]!));
          k = (k + 1) & (KEYS - 1);
        }
      },
      1000,
    ),
  );
  table.push([
    n,
    'hashring (npm)',
    fmt(rows.at(-1)!.opsPerSec),
    medianMs(() => new HashRingNpm(ids), 5).toFixed(2),
    '-',
    '-',
    '-',
    '-',
  ]);
}

save('algorithms', {
  rows,
  tables: [
    {
      title: 'all algorithms (100 000 keys for movement and balance)',
      header: [
        'members',
        'algorithm',
        'lookups/s',
        'build ms',
        'table bytes',
        'moved on add',
        'moved on remove',
        'max/mean load',
      ],
      rows: table,
    },
  ],
});
console.log(
  '| members | algorithm | lookups/s | build ms | table bytes | moved on add | moved on remove | max/mean |\n|---|---|---:|---:|---:|---|---|---:|',
);
for (const r of table) console.log(`| ${r.join(' | ')} |`);

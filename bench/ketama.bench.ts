// KetamaRing benchmarks (issue 3): string-key lookups on uncached keys (distinct keys cycle through 2^17,
// far more than hashring's 5000-entry LRU) and builds at 10/100/1000 servers. switchyard's WASM and pure-TS
// backends one key at a time, and 1000 keys hashed + looked up in one WASM call, against npm `hashring`
// with the same continuum (compat 'hashring'). Also keys moved when one server is added (ideal 1/(n+1))
// and max/mean load. Run: npx tsx bench/ketama.bench.ts
import HashRingNpm from 'hashring';
import { KetamaRing } from '../bindings/hashing/ketama/ketama.js';
import { consume, fmt, machine, measure, medianMs, save, type Row } from './common.js';

const rows: Row[] = [];
const builds: { servers: number; impl: string; ms: number }[] = [];
const balance: {
  servers: number;
  points: number;
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

for (const n of [10, 100, 1000]) {
  const ids = Array.from({ length: n }, (_, i) => `10.1.${i >> 8}.${i & 255}:11211`);
  const suite = `ketama ${n} servers`;
  const wasmRing = new KetamaRing(ids, { compat: 'hashring', backend: 'wasm' });
  const jsRing = new KetamaRing(ids, { compat: 'hashring', backend: 'js' });
  const npm = new HashRingNpm(ids);
  // same continuum as the npm package: spot-check before timing
  for (let i = 0; i < 2000; i++)
    if (npm.get(keys[i]!) !== wasmRing.get(keys[i]!)) throw new Error(`mismatch with hashring at ${keys[i]}`);
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
      'KetamaRing.get, WASM backend (key copied, md5 in WASM, TS lookup)',
      lookups((key) => wasmRing.get(key)),
      BATCH,
    ),
  );
  rows.push(
    measure(
      suite,
      'KetamaRing.get, pure-TS backend (TS md5 + lookup)',
      lookups((key) => jsRing.get(key)),
      BATCH,
    ),
  );
  let off = 0;
  rows.push(
    measure(
      suite,
      'KetamaRing.getManyIndex x1000, WASM (md5 + lookup in one call)',
      () => {
        consume(wasmRing.getManyIndex(keys.slice(off, off + BATCH))[0]);
        off = (off + BATCH) & (KEYS - 1);
      },
      BATCH,
    ),
  );
  rows.push(
    measure(
      suite,
      'hashring (npm) get, uncached keys',
      lookups((key) => npm.get(key)),
      BATCH,
    ),
  );
  builds.push({
    servers: n,
    impl: 'KetamaRing WASM',
    ms: medianMs(() => new KetamaRing(ids, { compat: 'hashring', backend: 'wasm' }).dispose()),
  });
  builds.push({
    servers: n,
    impl: 'KetamaRing pure TS',
    ms: medianMs(() => new KetamaRing(ids, { compat: 'hashring', backend: 'js' }).dispose()),
  });
  builds.push({ servers: n, impl: 'hashring (npm)', ms: medianMs(() => new HashRingNpm(ids), n >= 1000 ? 5 : 15) });
  // disruption and balance (libmemcached preset: 160 points per server)
  const lm = new KetamaRing(ids, { compat: 'libmemcached' });
  const st = lm.stats();
  const sample = keys.slice(0, 50_000);
  const before = lm.getMany(sample);
  lm.add('10.9.9.9:11211');
  const after = lm.getMany(sample);
  let moved = 0;
  for (let i = 0; i < sample.length; i++) if (before[i] !== after[i]) moved++;
  const shares = st.members.map((m) => m.share);
  balance.push({
    servers: n,
    points: st.points,
    bytes: st.bytes,
    movedOnAdd: moved / sample.length,
    ideal: 1 / (n + 1),
    maxOverMean: Math.max(...shares) * n,
  });
  wasmRing.dispose();
  lm.dispose();
}

const lines = ['| servers | implementation | lookups/s |', '|---:|---|---:|'];
for (const r of rows) lines.push(`| ${r.suite.split(' ')[1]} | ${r.name} | ${fmt(r.opsPerSec)} |`);
lines.push('', '| servers | build | ms (median) |', '|---:|---|---:|');
for (const b of builds) lines.push(`| ${b.servers} | ${b.impl} | ${b.ms.toFixed(3)} |`);
lines.push(
  '',
  '| servers | points | bytes | keys moved on add | ideal 1/(n+1) | max/mean load |',
  '|---:|---:|---:|---:|---:|---:|',
);
for (const b of balance)
  lines.push(
    `| ${b.servers} | ${b.points} | ${b.bytes} | ${(b.movedOnAdd * 100).toFixed(2)}% | ${(b.ideal * 100).toFixed(2)}% | ${b.maxOverMean.toFixed(3)} |`,
  );
console.log(lines.join('\n'));
save('ketama', { rows, builds, balance, machine: machine() });

// Every row of the ketama vector files (test/vectors): libmemcached weighted and spy tables, libketama's
// own checks (including the md5 of test.sh's 1,000,000-line output) and the 3 × 100,000 hashring fixtures,
// on both backends.
import test from 'ava';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { KetamaRing } from '../../bindings/hashing/ketama/ketama.js';

const vectors = (f: string) => JSON.parse(readFileSync(new URL(`../vectors/${f}`, import.meta.url), 'utf8'));
const lm = vectors('ketama_libmemcached.json');
const lk = vectors('ketama_libketama.json');
const hr = vectors('hashring_npm_fixtures.json');

const lmServers = (lm.servers as { host: string; port: number; weight: number }[]).map((s) => ({
  id: `${s.host}:${s.port}`,
  weight: s.weight,
}));

for (const backend of ['wasm', 'js'] as const) {
  test(`${backend}: libmemcached weighted ketama, 99/99 rows (key hash, continuum point, server)`, (t) => {
    const ring = new KetamaRing(lmServers, { compat: 'libmemcached', backend });
    const st = ring.stats();
    t.is(st.points, lm.settings.total_points_derived);
    for (const m of st.members) t.is(m.points, lm.settings.points_per_server_derived[m.id.split(':')[0]!]);
    const rows = lm.tables.ketama_weighted.rows as [string, number, number, string][];
    t.is(rows.length, 99);
    for (const [key, hash, point, server] of rows) {
      t.deepEqual(ring.locate(key), { hash, point, member: `${server}:11211`, index: ring.locate(key)!.index }, key);
    }
    // extra assertion: a hash above the last point wraps to continuum[0]
    for (const x of lm.extra_assertions as { key: string; key_hash_hex: string }[]) {
      const loc = ring.locate(x.key)!;
      t.is(loc.hash, parseInt(x.key_hash_hex, 16));
      t.is(loc.index, 0);
    }
    ring.dispose();
  });

  test(`${backend}: libmemcached KETAMA_SPY, 99/99 rows (key hash, server)`, (t) => {
    const ring = new KetamaRing(lmServers, { compat: 'spymemcached', backend });
    const rows = lm.tables.ketama_spy_weighted.rows as [string, number, string][];
    t.is(rows.length, 99);
    for (const [key, hash, server] of rows) {
      const loc = ring.locate(key)!;
      t.is(loc.hash, hash, key);
      t.is(loc.member, `${server}:11211`, key);
    }
    ring.dispose();
  });

  test(`${backend}: libketama test.sh: 200 rows and the md5 of the full 1,000,000-key output`, (t) => {
    const uv = lk.upstream_vectors[0];
    const ring = new KetamaRing(
      (uv.servers as [string, number][]).map(([id, weight]) => ({ id, weight })),
      { compat: 'libketama', backend },
    );
    for (const [key, hash, point, server] of lk.derived_rows.rows as [string, number, number, string][]) {
      const loc = ring.locate(key)!;
      t.is(loc.hash, hash, key);
      t.is(loc.point, point, key);
      t.is(loc.member, server, key);
    }
    // output of ketama_test: ketama_error() (empty) on the first line, then "%u %u %s\n" per key
    const md5 = createHash('md5').update('\n');
    let chunk = '';
    for (let i = 0; i < 1_000_000; i++) {
      const loc = ring.locate(String(i))!;
      chunk += `${loc.hash} ${loc.point} ${loc.member}\n`;
      if (chunk.length > 1 << 20) {
        md5.update(chunk);
        chunk = '';
      }
    }
    md5.update(chunk);
    t.is(md5.digest('hex'), uv.md5_of_full_output);
    ring.dispose();
  });

  test(`${backend}: libketama python_ketama vectors`, (t) => {
    const py = lk.upstream_vectors[1];
    const ring = new KetamaRing(
      (py.servers as [string, number][]).map(([id, weight]) => ({ id, weight })),
      { compat: 'libketama', backend },
    );
    t.is(ring.hashOf('test'), py["hashi('test')"]);
    const loc = ring.locate('test')!;
    t.deepEqual([loc.point, loc.member], py["get_server('test')"]);
    t.is(ring.stats().points, py.total_points);
  });

  for (const fx of hr.fixtures as {
    name: string;
    servers: string[];
    weights: number[];
    hashring_options: Record<string, unknown>;
    assignments: string;
    upstream_file_md5: string;
  }[]) {
    test(`${backend}: hashring fixture ${fx.name}, 100,000/100,000 keys`, (t) => {
      const o = fx.hashring_options;
      const ring = new KetamaRing(
        fx.servers.map((id, i) => ({ id, weight: fx.weights[i]! })),
        {
          compat: 'hashring',
          backend,
          replicas: o.compatibility === 'hash_ring' ? 3 : (o.replicas as number),
          vnodeCount: o['vnode count'] as number,
          defaultPort: (o['default port'] as number | undefined) ?? null,
        },
      );
      t.is(fx.assignments.length, 100_000);
      let text = '';
      let bad = 0;
      for (let i = 0; i < 100_000; i++) {
        const idx = ring.getIndex(String(i));
        if (idx !== fx.assignments.charCodeAt(i) - 48) bad++;
        text += `${i} ${ring.members[idx]}\n`;
      }
      t.is(bad, 0);
      // the upstream fixture file itself, byte for byte
      t.is(createHash('md5').update(text).digest('hex'), fx.upstream_file_md5);
    });
  }
}

// A running nginx (Debian /usr/sbin/nginx) with `hash $arg_k consistent` upstreams over loopback backends
// must send every key to the server NginxConsistentHash names: several random weight sets, thousands of
// random keys (raw, percent-escapes included: nginx hashes $arg_k undecoded), servers marked `down`
// (nginx walks to the next points: `preference`), and the empty key (nginx falls back to round robin).
import { mulberry32, NginxConsistentHash } from '../../bindings/index.js';
import { startNginx, type NginxInstance, type NginxUpstream } from '../helpers/nginx.js';
import { live } from '../helpers/live.js';

const test = live(['nginx'], import.meta.url);

const KEYS_PER_UPSTREAM = 2500;
const BACKENDS = 8;

const random = mulberry32(20140605); // the same weights and keys on every run
const int = (lo: number, hi: number) => lo + Math.floor(random() * (hi - lo + 1));
const CHARS = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~:/@!$()*,;+';
const ESCAPES = ['%20', '%2F', '%C3%A9', '%E6%97%A5', '%25', '%26', '%3D'];
function randomKey(): string {
  const len = int(1, 24);
  let s = '';
  while (s.length < len) s += random() < 0.08 ? ESCAPES[int(0, ESCAPES.length - 1)]! : CHARS[int(0, CHARS.length - 1)]!;
  return s;
}

interface Case {
  name: string;
  servers: { backend: number; weight: number; down?: boolean }[];
}
const perm = (n: number) => {
  const a = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = int(0, i);
    [a[i], a[j]] = [a[j]!, a[i]!];
  }
  return a;
};
const CASES: Case[] = [
  { name: 'u0', servers: perm(BACKENDS).map((backend) => ({ backend, weight: 1 })) },
  { name: 'u1', servers: perm(BACKENDS).map((backend) => ({ backend, weight: int(1, 5) })) },
  {
    name: 'u2',
    servers: perm(BACKENDS)
      .slice(0, 5)
      .map((backend) => ({ backend, weight: int(1, 10) })),
  },
  {
    name: 'u3',
    servers: perm(BACKENDS)
      .slice(0, 3)
      .map((backend, i) => ({ backend, weight: [1, 7, 2][i]! })),
  },
  {
    name: 'u4',
    servers: perm(BACKENDS)
      .slice(0, 2)
      .map((backend) => ({ backend, weight: int(20, 40) })),
  },
  {
    name: 'd1',
    servers: perm(BACKENDS).map((backend, i) => ({ backend, weight: int(1, 4), down: i === 2 || i === 5 })),
  },
];
const EMPTY: Case = { name: 'e0', servers: [0, 1, 2].map((backend, i) => ({ backend, weight: i + 1 })) };
const keys = CASES.map(() => Array.from({ length: KEYS_PER_UPSTREAM }, randomKey));

let ng: NginxInstance;

test.before(async () => {
  ng = await startNginx(BACKENDS, () =>
    [...CASES, EMPTY].map((c): NginxUpstream => ({
      name: c.name,
      balance: 'hash $arg_k consistent',
      servers: c.servers,
    })),
  );
});

test.after.always(async () => {
  await ng?.stop();
});

/** GETs every path with at most `width` requests in flight; answers in order. */
async function fetchAll(paths: string[], width = 16): Promise<string[]> {
  const out = new Array<string>(paths.length);
  let next = 0;
  const worker = async () => {
    while (next < paths.length) {
      const i = next++;
      out[i] = await ng.get(paths[i]!);
    }
  };
  await Promise.all(Array.from({ length: width }, worker));
  return out;
}

CASES.forEach((c, ci) => {
  const desc = c.servers.map((s) => `${s.weight}${s.down === true ? 'd' : ''}`).join(',');
  test(`nginx ${c.name} (weights ${desc}): ${KEYS_PER_UPSTREAM} random keys land where NginxConsistentHash says`, async (t) => {
    const names = c.servers.map((s) => ng.backends[s.backend]!);
    const down = new Set(c.servers.filter((s) => s.down === true).map((s) => ng.backends[s.backend]!));
    // `down` servers keep their points in nginx (they are skipped at pick time), so they stay in the ring
    const wasm = new NginxConsistentHash(
      c.servers.map((s, i) => ({ id: names[i]!, weight: s.weight })),
      { backend: 'wasm' },
    );
    const js = new NginxConsistentHash(
      c.servers.map((s, i) => ({ id: names[i]!, weight: s.weight })),
      { backend: 'js' },
    );
    const ks = keys[ci]!;
    const answers = await fetchAll(ks.map((k) => `/${c.name}/?k=${k}`));
    const batch = wasm.getMany(ks);
    const bad: string[] = [];
    ks.forEach((k, i) => {
      const want = down.size === 0 ? wasm.get(k) : wasm.preference(k, names.length).find((s) => !down.has(s));
      if (down.size === 0 && (batch[i] !== want || js.get(k) !== want)) bad.push(`${k}: wasm batch/js disagree`);
      if (answers[i] !== want) bad.push(`${JSON.stringify(k)}: nginx ${answers[i]}, switchyard ${want}`);
    });
    t.deepEqual(bad.slice(0, 10), [], `${bad.length} mismatches`);
    // every server with points got keys (the keys really spread over the upstream)
    const seen = new Set(answers);
    for (const m of wasm.stats().members) if (m.share > 0.05 && !down.has(m.id)) t.true(seen.has(m.id), m.id);
  });
});

test('nginx e0: an empty key is not hashed; nginx round-robins by weight (1, 2, 3) instead', async (t) => {
  const answers: string[] = [];
  for (let i = 0; i < 6; i++) answers.push(await ng.get('/e0/?k='));
  const count = (b: number) => answers.filter((a) => a === ng.backends[b]).length;
  t.deepEqual([count(0), count(1), count(2)], [1, 2, 3], answers.join(' '));
});

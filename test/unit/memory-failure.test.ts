// WebAssembly memory that cannot grow (a 4 GiB instance, a host out of memory): a build or batch that fails
// part-way holds no region afterwards and leaves no region behind that a later call would write to
// (core/memory.ts `alloc(bytes, held)`, core-wasm.ts `io`). The failure is made real: the allocation asks
// for more than any free block, so `alloc` takes its grow path, and `memory.grow` throws as V8 does.
import test from 'ava';
import { ALGORITHMS, createHasher, HashRing, Rendezvous } from '../../bindings/index.js';
import { wasmHandle } from '../../bindings/core/backend.js';
import { HASH_WASM, RING_WASM } from '../../bindings/core/families.js';
import type { WasmMemory } from '../../bindings/core/memory.js';

const mems = (): WasmMemory[] => [wasmHandle(RING_WASM)!.mem, wasmHandle(HASH_WASM)!.mem];
const held = (): number => mems().reduce((n, m) => n + m.allocatedBytes, 0);

/** Runs `fn` with allocation number `k` (from 0, over both families) failing to grow memory. */
function failingAllocation(k: number, fn: () => unknown): unknown {
  let calls = 0;
  const patched = mems().map((m) => {
    const alloc = m.alloc;
    m.alloc = (bytes: number, keep?: number) => {
      if (calls++ !== k) return alloc.call(m, bytes, keep);
      const grow = m.memory.grow;
      m.memory.grow = () => {
        throw new RangeError('WebAssembly.Memory.grow(): Unable to grow instance memory');
      };
      try {
        return alloc.call(m, bytes + 2 ** 32, keep); // fits no free block: alloc grows
      } finally {
        m.memory.grow = grow;
      }
    };
    return m;
  });
  try {
    fn();
    return undefined;
  } catch (err) {
    return err;
  } finally {
    for (const m of patched) delete (m as { alloc?: unknown }).alloc;
  }
}

const nodes = Array.from({ length: 20 }, (_, i) => `10.0.0.${i}:11211`);
const keys = Array.from({ length: 300 }, (_, i) => `user:${i}`);

test('a table build whose later allocation cannot grow memory frees what it allocated (every algorithm)', (t) => {
  for (const algorithm of ALGORITHMS) {
    for (const h of [createHasher(nodes, { algorithm, backend: 'wasm' })]) h.getMany(keys); // io regions in place
    for (let k = 0; k < 4; k++) {
      const before = held();
      const err = failingAllocation(k, () => createHasher(nodes, { algorithm, backend: 'wasm' }).dispose());
      if (err !== undefined) t.regex(String(err), /grow/, `${algorithm}, allocation ${k}`);
      t.is(held(), before, `${algorithm}: construction failing at allocation ${k}`);
    }
  }
});

test('a membership change that cannot grow memory frees what it allocated and answers as before', (t) => {
  for (const algorithm of ['xxhash-ring', 'ketama', 'nginx'] as const) {
    const changes: [string, (h: ReturnType<typeof createHasher<typeof algorithm>>) => unknown][] = [
      ['add', (h) => h.add('10.0.1.1:11211')],
      ['remove', (h) => h.remove(nodes[3]!)],
      ['reset', (h) => h.reset(nodes.slice(2))],
    ];
    for (const [name, change] of changes) {
      for (let k = 0; k < 3; k++) {
        const h = createHasher(nodes, { algorithm, backend: 'wasm' });
        const answers = h.getMany(keys);
        const before = held();
        const err = failingAllocation(k, () => change(h));
        if (err !== undefined) {
          t.regex(String(err), /grow/);
          t.is(held(), before, `${algorithm} ${name} failing at allocation ${k}`);
          t.deepEqual(h.getMany(keys), answers);
        }
        h.dispose();
      }
    }
  }
  // HashRing's build: the table, then its inputs (the case of the earlier note: the table was kept)
  const ring = new HashRing(['a', 'b', 'c'], { backend: 'wasm' });
  const before = held();
  t.regex(String(failingAllocation(1, () => ring.add('d'))), /Unable to grow/);
  t.is(held(), before);
  t.deepEqual(ring.members, ['a', 'b', 'c']);
  ring.dispose();
});

test("a batch whose I/O region cannot grow leaves no region behind: later batches never write into another router's table", (t) => {
  const r = new Rendezvous(['a', 'b', 'c'], { backend: 'wasm' });
  const small = ['k1', 'k2', 'k3'];
  r.getMany(small);
  const big = Array.from({ length: 60_000 }, (_, i) => `a-long-enough-key-${i}-to-need-a-larger-io-region`);
  const mem = wasmHandle(HASH_WASM)!.mem;
  const grow = mem.memory.grow;
  mem.memory.grow = () => {
    throw new RangeError('WebAssembly.Memory.grow(): Maximum memory size exceeded');
  };
  try {
    t.throws(() => r.getMany(big), { instanceOf: RangeError });
  } finally {
    mem.memory.grow = grow;
  }
  // a table allocated now may take the region the failed batch freed; the next batch must not write there
  const members = Array.from({ length: 200 }, (_, i) => `m${i}`);
  const other = new Rendezvous(members, { backend: 'wasm' });
  const reference = new Rendezvous(members, { backend: 'js' });
  const probe = Array.from({ length: 500 }, (_, i) => `x${i}`);
  t.deepEqual(other.getMany(probe), reference.getMany(probe));
  t.deepEqual(
    r.getMany([...small, ...small, ...small]),
    new Rendezvous(['a', 'b', 'c'], { backend: 'js' }).getMany([...small, ...small, ...small]),
  );
  t.deepEqual(other.getMany(probe), reference.getMany(probe));
  t.deepEqual(
    r.getMany(big),
    new Rendezvous(['a', 'b', 'c'], { backend: 'js' }).getMany(big),
    'the next batch grows it',
  );
  other.dispose();
  r.dispose();
});

// Objects that keep typed-array views of a family's WebAssembly memory (Maglev's and Envoy's ring tables, the
// Balancer's state table) answer the same after that memory grows under them: a grow detaches the old buffer,
// and each re-creates its views when it finds them empty (core/memory.ts `detached`).
import test from 'ava';
import { Balancer, EnvoyRingHash, Maglev, mulberry32 } from '../../bindings/index.js';
import { wasmHandle } from '../../bindings/core/backend.js';
import { BALANCING_WASM, HASH_WASM } from '../../bindings/core/families.js';
import { assertLookupsSurviveGrow } from '../helpers/wasm-grow.js';

const hosts = ['10.0.0.1:80', '10.0.0.2:80', '10.0.0.3:80', '10.0.0.4:80'];

test('Maglev and Envoy ring hash lookups survive a grow of the hash family memory', (t) => {
  // get() hashes and looks up inside WASM; the others read the tables through the cached views. Each object's
  // answers are taken right after it is built (building the next one may grow the memory already).
  const maglev = new Maglev(hosts, { backend: 'wasm' });
  assertLookupsSurviveGrow(t, wasmHandle(HASH_WASM)!, [
    ['maglev get', (k) => maglev.get(k)],
    ['maglev preference', (k) => maglev.preference(k, 3).join()],
    ['maglev getByHash', (k) => maglev.getByHash(k.length * 0x9e3779b1)],
  ]);
  const ring = new EnvoyRingHash(hosts, { backend: 'wasm' });
  assertLookupsSurviveGrow(t, wasmHandle(HASH_WASM)!, [
    ['envoy ring hash get', (k) => ring.get(k)],
    ['envoy ring hash preference', (k) => ring.preference(k, 3).join()],
    ['envoy ring hash getByHash', (k) => ring.getByHash(k.length * 0x9e3779b1)],
  ]);
});

test("the Balancer's WASM state table keeps its numbers across a grow of the balancing memory", (t) => {
  const lb = new Balancer({ endpoints: hosts, policy: 'least_request', backend: 'wasm', random: mulberry32(3) });
  const held = [lb.pickOrThrow(), lb.pickOrThrow(), lb.pickOrThrow()];
  const before = lb.stats().members.map((m) => [m.active, m.picks]);
  const handle = wasmHandle(BALANCING_WASM)!;
  const old = handle.mem.memory.buffer;
  const p = handle.mem.alloc(handle.mem.byteLength); // forces memory.grow
  t.is(old.byteLength, 0, 'the old buffer is detached');
  t.deepEqual(
    lb.stats().members.map((m) => [m.active, m.picks]),
    before,
  );
  for (const h of held) h.handle.done({ ok: true, rttMs: 1 });
  t.deepEqual(
    lb.stats().members.map((m) => m.active),
    [0, 0, 0, 0],
  );
  handle.mem.release(p);
  lb.close();
});

// The routing workload compared across runtimes: 10 000 keys (ASCII, Cyrillic, emoji) on two rings, and 2^16
// hashes by batch (enough for the ring's direct table, assembly/ring-batch.ts).
import type * as Switchyard from '../../../bindings/index.js';

export function ringRoutes(sy: typeof Switchyard) {
  const ids = ['cache-a:11211', 'cache-b:11211', 'cache-c:11211', 'cache-d:11211'];
  const ring = new sy.HashRing([...ids.slice(0, 3), { id: ids[3]!, weight: 2 }]);
  const ring64 = new sy.HashRing(ids, { hash: 'xxh64', vnodes: 100 });
  const keys = Array.from({ length: 10_000 }, (_, i) => (i % 7 === 0 ? `ключ-${i}-😀` : `user:${i}`));
  return {
    routes: keys.map((k) => ring.getIndex(k)).join(''),
    routes64: keys.map((k) => ring64.getIndex(k)).join(''),
    byHash: [
      ...ring.getManyByHash(Uint32Array.from({ length: 1 << 16 }, (_, i) => Math.imul(i, 0x9e3779b1) >>> 0)),
    ].join(''),
    h32: sy.xxh32('hello'),
    h64: sy.xxh64('hello').toString(),
  };
}

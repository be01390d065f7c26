// Runs in the page: routes 10 000 keys with the default backend and reports them.
import { HashRing, backend, backendError, xxh32, xxh64 } from '../../bindings/index.js';

declare global {
  interface Window {
    __result?: unknown;
  }
}

const ids = ['cache-a:11211', 'cache-b:11211', 'cache-c:11211', 'cache-d:11211'];
const ring = new HashRing([...ids.slice(0, 3), { id: ids[3]!, weight: 2 }]);
const ring64 = new HashRing(ids, { hash: 'xxh64', vnodes: 100 });
const keys = Array.from({ length: 10_000 }, (_, i) => (i % 7 === 0 ? `ключ-${i}-😀` : `user:${i}`));
window.__result = {
  backend: backend(),
  error: String(backendError() ?? ''),
  routes: keys.map((k) => ring.getIndex(k)).join(''),
  routes64: keys.map((k) => ring64.getIndex(k)).join(''),
  h32: xxh32('hello'),
  h64: xxh64('hello').toString(),
};

// The pure-TS core: the same algorithms as assembly/ (ring build with a stable 3-pass LSD radix sort,
// bucket table, lookups), bit for bit. Fallback where WebAssembly is unavailable, benchmark baseline and
// the oracle in differential tests.
import { built, type Core, type RingSpec, RingTable } from './core.js';
import { writeDecimal } from './label.js';
import { utf8 } from './utf8.js';
import { bucketTable, radixSortPairs, tableBits } from './radix.js';
import { xxh32Bytes, xxh64Bytes, xxh64Hi, xxh64Pair } from './xxhash.js';

/** A table in JS memory from (point, member) pairs in any order: stable radix sort, then the bucket table. */
export function tableFromPairs(points: Uint32Array, members: Uint16Array): RingTable {
  const [keys, vals] = radixSortPairs(points, members);
  const bits = tableBits(keys.length);
  return built(new RingTable(keys.length, bits, null, 0, keys, vals, bucketTable(keys, bits)));
}

function buildRing(spec: RingSpec): RingTable {
  const { ids, counts, seedHi, seedLo } = spec;
  const is64 = spec.hash === 'xxh64';
  let total = 0;
  let maxId = 0;
  const encoded = ids.map((id) => utf8(id));
  for (let m = 0; m < ids.length; m++) {
    total += counts[m]!;
    maxId = Math.max(maxId, encoded[m]!.length);
  }
  const label = new Uint8Array(maxId + 11);
  const keys: Uint32Array = new Uint32Array(total);
  const vals = new Uint16Array(total);
  let k = 0;
  for (let m = 0; m < ids.length; m++) {
    const id = encoded[m]!;
    label.set(id);
    label[id.length] = 0x2d; // '-'
    const d0 = id.length + 1;
    const count = counts[m]!;
    for (let i = 0; i < count; i++) {
      const nd = writeDecimal(label, d0, i);
      const len = d0 + nd;
      if (is64) {
        xxh64Pair(label, seedHi, seedLo, len);
        keys[k] = xxh64Hi();
      } else keys[k] = xxh32Bytes(label, seedLo, len);
      vals[k] = m;
      k++;
    }
  }
  return tableFromPairs(keys, vals);
}

export const jsCore: Core = {
  kind: 'js',
  xxh32: (b, seed) => xxh32Bytes(b, seed),
  xxh64: (b, seed) => xxh64Bytes(b, seed),
  xxh64Hi(b, seedHi, seedLo) {
    xxh64Pair(b, seedHi, seedLo);
    return xxh64Hi();
  },
  buildRing,
};

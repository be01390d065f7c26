// Building a ketama continuum, twice: in the WASM core (`ketamaBuild`, assembly/ketama.ts) and in pure TS,
// bit for bit. Server m (in the order given) contributes digests[m] MD5 digests of `<prefix_m><i>`, i from
// 0 in decimal, each giving `perDigest` points (digest words 0..perDigest-1, little-endian). Points are
// sorted stably, so equal points keep server order (then digest, then word order): libmemcached's
// (value, server index) order, and what hashring's stable Array#sort and glibc's merge-sort qsort give.
// The result uses the ring layout of core.ts (`RingTable`), so lookups share `ringIndex`.
import { built, RingTable } from '../../core/core.js';
import { tableFromPairs } from '../../core/core-js.js';
import { writeDecimal } from '../../core/label.js';
import { stageBuildInputs, type WasmHandle } from '../../core/core-wasm.js';
import { md5Words } from './md5.js';

export interface KetamaSpec {
  /** UTF-8 label prefix per server, e.g. `10.0.1.1-` or `/10.0.1.1:11211-`. */
  prefixes: readonly Uint8Array[];
  /** MD5 digests per server. */
  digests: readonly number[];
  /** Points taken from each digest (1..4). */
  perDigest: number;
}

export function ketamaTotal(spec: KetamaSpec): number {
  let total = 0;
  for (const d of spec.digests) total += d * spec.perDigest;
  return total;
}

export function buildKetamaJs(spec: KetamaSpec): RingTable {
  const { prefixes, digests, perDigest } = spec;
  const total = ketamaTotal(spec);
  let maxLen = 0;
  for (const p of prefixes) maxLen = Math.max(maxLen, p.length);
  const label = new Uint8Array(maxLen + 11);
  const words = new Uint32Array(4);
  const keys: Uint32Array = new Uint32Array(total);
  const vals = new Uint16Array(total);
  let k = 0;
  for (let m = 0; m < prefixes.length; m++) {
    const prefix = prefixes[m]!;
    label.set(prefix);
    const d0 = prefix.length;
    const count = digests[m]!;
    for (let i = 0; i < count; i++) {
      const nd = writeDecimal(label, d0, i);
      md5Words(label, d0 + nd, words);
      for (let h = 0; h < perDigest; h++) {
        keys[k] = words[h]!;
        vals[k] = m;
        k++;
      }
    }
  }
  return tableFromPairs(keys, vals);
}

type BuildFn = (
  prefixes: number,
  prefixOffsets: number,
  digests: number,
  n: number,
  perDigest: number,
  label: number,
  scratch: number,
  points: number,
  members: number,
  table: number,
  bits: number,
) => number;

export function buildKetamaWasm(handle: WasmHandle, spec: KetamaSpec): RingTable {
  const { mem } = handle;
  const x = handle.exports as { ketamaBuild: BuildFn; ketamaScratchBytes(total: number): number };
  const total = ketamaTotal(spec);
  const t = RingTable.allocate(mem, total);
  const s = stageBuildInputs(mem, spec.prefixes, spec.digests, x.ketamaScratchBytes(total), t.ptr);
  x.ketamaBuild(
    s.items,
    s.offsets,
    s.perItem,
    spec.prefixes.length,
    spec.perDigest,
    s.label,
    s.scratch,
    t.pointsPtr,
    t.membersPtr,
    t.tablePtr,
    t.bits,
  );
  mem.release(s.ptr);
  t.sync();
  return built(t);
}

// The reference ring of the ring benchmarks (issue 16): the smallest plain-JS consistent-hash ring one would
// write by hand, against which HashRing#get is measured as a ratio in the same process. Same scheme as
// HashRing (bindings/hashing/ring.ts), so both name the same member for every key: member `id` gets `vnodes`
// points xxh32(`${id}-${i}`), sorted by (hash, id); a table of 2^16 buckets indexed by the top 16 bits of a
// hash holds the first point of each bucket; a key goes to the first point >= xxh32(key), wrapping to the
// first point. xxh32 (github.com/Cyan4973/xxHash, doc/xxhash_spec.md) reads the key's code units straight
// from charCodeAt, so it is exact for ASCII keys only, which is all the benchmarks use.

const P1 = 0x9e3779b1;
const P2 = 0x85ebca77;
const P3 = 0xc2b2ae3d;
const P4 = 0x27d4eb2f;
const P5 = 0x165667b1;
const imul = Math.imul;
const rotl = (x: number, r: number) => (x << r) | (x >>> (32 - r));
const round = (acc: number, w: number) => imul(rotl((acc + imul(w, P2)) | 0, 13), P1);
const word = (s: string, p: number) =>
  s.charCodeAt(p) | (s.charCodeAt(p + 1) << 8) | (s.charCodeAt(p + 2) << 16) | (s.charCodeAt(p + 3) << 24);

/** xxh32 (seed 0) of an ASCII string, one code unit per byte. */
export function refXxh32(s: string): number {
  const len = s.length;
  let p = 0;
  let h: number;
  if (len >= 16) {
    let v1 = (P1 + P2) | 0;
    let v2 = P2;
    let v3 = 0;
    let v4 = -P1 | 0;
    for (; p <= len - 16; p += 16) {
      v1 = round(v1, word(s, p));
      v2 = round(v2, word(s, p + 4));
      v3 = round(v3, word(s, p + 8));
      v4 = round(v4, word(s, p + 12));
    }
    h = (rotl(v1, 1) + rotl(v2, 7) + rotl(v3, 12) + rotl(v4, 18)) | 0;
  } else h = P5;
  h = (h + len) | 0;
  for (; p + 4 <= len; p += 4) h = imul(rotl((h + imul(word(s, p), P3)) | 0, 17), P4);
  for (; p < len; p++) h = imul(rotl((h + imul(s.charCodeAt(p), P5)) | 0, 11), P1);
  h = imul(h ^ (h >>> 15), P2);
  h = imul(h ^ (h >>> 13), P3);
  return (h ^ (h >>> 16)) >>> 0;
}

export const REF_TABLE_BITS = 16;

export class ReferenceRing {
  readonly points: Uint32Array;
  readonly owners: Uint32Array;
  readonly table = new Uint32Array((1 << REF_TABLE_BITS) + 1);
  readonly ids: string[];

  constructor(ids: readonly string[], vnodes = 160) {
    this.ids = [...ids].sort();
    const pairs: [number, number][] = [];
    this.ids.forEach((id, m) => {
      for (let i = 0; i < vnodes; i++) pairs.push([refXxh32(`${id}-${i}`), m]);
    });
    pairs.sort((a, b) => a[0] - b[0] || a[1] - b[1]); // (hash, id): ids are sorted, so by member index
    this.points = Uint32Array.from(pairs, (p) => p[0]);
    this.owners = Uint32Array.from(pairs, (p) => p[1]);
    let j = 0;
    for (let t = 0; t < 1 << REF_TABLE_BITS; t++) {
      while (j < this.points.length && this.points[j]! >>> (32 - REF_TABLE_BITS) < t) j++;
      this.table[t] = j;
    }
    this.table[1 << REF_TABLE_BITS] = this.points.length;
  }

  /** Index of the first point >= h, wrapping to 0. */
  index(h: number): number {
    const t = h >>> (32 - REF_TABLE_BITS);
    let i = this.table[t]!;
    const end = this.table[t + 1]!;
    const points = this.points;
    while (i < end && points[i]! < h) i++;
    return i === points.length ? 0 : i;
  }

  get(key: string): string {
    return this.ids[this.owners[this.index(refXxh32(key))]!]!;
  }

  /** Bytes of points, owners and table. */
  get bytes(): number {
    return this.points.byteLength + this.owners.byteLength + this.table.byteLength;
  }
}

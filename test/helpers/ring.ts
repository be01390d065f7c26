// HashRing test helpers: random member lists (unique ids of any code units, weights with fractions and repeats)
// and the reference lookup every ring lookup must match.
import fc from 'fast-check';
import type { MemberInput } from '../../bindings/index.js';

export function ringMembers(maxLength: number): fc.Arbitrary<MemberInput[]> {
  return fc.uniqueArray(
    fc.record({
      id: fc.string({ minLength: 1, maxLength: 12, unit: 'binary' }),
      weight: fc.constantFrom(0.5, 1, 1, 2, 3.25),
    }),
    { selector: (m) => m.id, minLength: 1, maxLength },
  );
}

/** The owner of each hash by binary search for the first point >= it (wrapping to the first): the reference. */
export function ownersBySearch(points: ArrayLike<number>, owners: ArrayLike<number>, hashes: Uint32Array): Uint32Array {
  return hashes.map((h) => {
    let lo = 0;
    let hi = points.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (points[mid]! < h) lo = mid + 1;
      else hi = mid;
    }
    return owners[lo === points.length ? 0 : lo]!;
  });
}

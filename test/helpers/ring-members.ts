// Random member lists for HashRing property tests: unique ids (any code units) with weights that include
// fractions and repeats.
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

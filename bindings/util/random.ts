// Injectable random sources. Everything random (P2C samples, round-robin starts, keyless hash picks, jitter)
// takes `random: () => number`, uniform in [0, 1); tests pass a seeded generator so that every pick is
// reproducible.
//
//   const random = mulberry32(42);
//   random(); // 0.6011037519201636, the same on every run
import { rangeError, typeError } from './validate.js';

/** A uniform random number in [0, 1). */
export type Random = () => number;

/**
 * mulberry32 (Tommy Ettinger, public domain): a 32-bit state generator, fast and good enough for picking.
 * Not for anything security related.
 */
export function mulberry32(seed: number): Random {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The default source: Math.random. */
export const defaultRandom: Random = Math.random;

/** Checks that `r` is a function (a Random); throws a TypeError naming `field`. */
export function validateRandom(field: string, r: unknown): Random {
  if (typeof r !== 'function') throw typeError(field, 'a function returning a number in [0, 1)', r);
  return r as Random;
}

/** One draw of `r`, checked: a RangeError naming `random` when it is not a number in [0, 1). */
export function draw(r: Random): number {
  const x = r();
  if (typeof x !== 'number' || !(x >= 0 && x < 1))
    throw rangeError('random', 'a function returning a number in [0, 1)', x);
  return x;
}

/** `r` checked at every draw (`draw`); nothing is drawn before the first call. */
export function checkedRandom(r: Random): Random {
  return () => draw(r);
}

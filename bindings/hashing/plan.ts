// What a membership change does to key placement: the fraction of keys that move and each member's
// share before and after. Operators run this (via `switchyard plan`) before adding or removing a server.
import type { KeyLookup } from './key-router.js';
import { intInRange, typeError } from '../util/validate.js';

/** Anything that maps a key to a member id: every KeyRouter and bounded-load decorator. */
export type Router = Pick<KeyLookup, 'get'>;

export interface PlanMember {
  id: string;
  before: number;
  after: number;
}

export interface Plan {
  keys: number;
  moved: number;
  movedFraction: number;
  /**
   * The fewest keys any placement could move to go from the old target shares to the new ones, as a fraction:
   * the sum of the members' share gains, Σ max(0, after − before), the shares being weight / Σ weights (each
   * router's `members` and `weight(id)`, 1 without one). 1/(n+1) for a member added to n equal ones, all of them
   * when every member is replaced, the weight shift for a weight change. NaN for a router without `members`.
   */
  leastMovedFraction: number;
  members: PlanMember[];
}

/** A router's lookup: a TypeError naming `field` unless `r` is an object with a `get` function. */
function lookup(field: string, r: unknown): (k: string) => string | undefined {
  if (r === null || typeof r !== 'object' || typeof (r as Router).get !== 'function')
    throw typeError(field, 'a router (an object with get(key))', r);
  return (k) => {
    const id: unknown = (r as Router).get(k);
    if (id !== undefined && typeof id !== 'string')
      throw typeError(`${field}.get(${JSON.stringify(k)})`, 'a member id (a string) or undefined', id);
    return id;
  };
}

/** Routes `keys` sample keys (`key:0`, `key:1`, …) through both routers and compares. */
export function planChange(from: Router, to: Router, keys = 100_000): Plan {
  const getFrom = lookup('from', from);
  const getTo = lookup('to', to);
  intInRange('keys', keys, 1, 100_000_000);
  const before = new Map<string, number>();
  const after = new Map<string, number>();
  let moved = 0;
  for (let i = 0; i < keys; i++) {
    const k = `key:${i}`;
    const a = getFrom(k);
    const b = getTo(k);
    if (a !== b) moved++;
    if (a !== undefined) before.set(a, (before.get(a) ?? 0) + 1);
    if (b !== undefined) after.set(b, (after.get(b) ?? 0) + 1);
  }
  const ids = [...new Set([...before.keys(), ...after.keys()])].sort();
  const was = targetShares(from);
  const will = targetShares(to);
  let gained = was === undefined || will === undefined ? NaN : 0;
  if (will !== undefined) for (const [id, share] of will) gained += Math.max(0, share - (was?.get(id) ?? 0));
  return {
    keys,
    moved,
    movedFraction: moved / keys,
    leastMovedFraction: gained,
    members: ids.map((id) => ({ id, before: (before.get(id) ?? 0) / keys, after: (after.get(id) ?? 0) / keys })),
  };
}

/** Each member's share by weight (weight / Σ weights; 1 without `weight()`), or undefined without `members`. */
function targetShares(r: Router): Map<string, number> | undefined {
  const { members, weight } = r as { members?: unknown; weight?: unknown };
  if (!Array.isArray(members)) return undefined;
  const ws = (members as string[]).map((id) => {
    const x: unknown = typeof weight === 'function' ? weight.call(r, id) : undefined;
    return typeof x === 'number' && x > 0 && x < Infinity ? x : 1;
  });
  const sum = ws.reduce((a, b) => a + b, 0);
  return new Map((members as string[]).map((id, i) => [id, ws[i]! / sum]));
}

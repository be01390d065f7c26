// Membership bookkeeping: the rules a MutableRouter (base.ts) changes its membership by, and the rules of
// the routers that keep an id → weight map (HashRing, Rendezvous, NginxConsistentHash): parsing with typed
// errors, and the add / remove / setWeight / reset diffs. Each diff returns the next membership, or null
// when nothing would change (the router then rebuilds nothing).
import { positive, rangeError, str, typeError } from '../util/validate.js';

export type Weights = Map<string, number>;
export type ParseMember = (m: unknown, field: string) => [string, number];

/** How a router parses and changes a membership S; a change returns the next S, or null for no change. */
export interface MembershipRules<S> {
  /** A whole membership (constructor, reset). */
  parse(input: unknown): S;
  add(current: S, input: unknown): S | null;
  remove(current: S, ids: unknown): S | null;
  setWeight(current: S, id: string, weight: unknown): S | null;
  same(a: S, b: S): boolean;
  weight(current: S, id: string): number | undefined;
}

/** How errors name the list and one element ('members'/'member', 'servers'/'server'). */
export interface Names {
  list: string;
  one: string;
  /** What the list must be, for the TypeError. */
  expected: string;
}

export const MEMBERS: Names = { list: 'members', one: 'member', expected: 'an iterable of ids or { id, weight }' };

/** An id string (weight 1) or `{ id, weight }` with a finite weight > 0. */
export function parseWeightedMember(m: unknown, field: string): [string, number] {
  if (typeof m === 'string') {
    if (m.length === 0) throw rangeError(field, 'a non-empty id', m);
    return [m, 1];
  }
  if (m === null || typeof m !== 'object') throw typeError(field, 'an id string or { id, weight }', m);
  const { id: given, weight } = m as { id: unknown; weight?: unknown };
  const id = str(`${field}.id`, given);
  if (id.length === 0) throw rangeError(`${field}.id`, 'a non-empty string', id);
  return [id, weight === undefined ? 1 : positive(`${field}.weight`, weight)];
}

/**
 * The rules of an id → weight membership: members parsed by `parse`, errors naming `names`, weights set by
 * setWeight checked by `validate`, and `notMember` completing "id must be …" for an unknown id.
 * - parse: a whole membership, duplicate ids rejected;
 * - add: an existing id with the same weight is a no-op, another weight an error;
 * - remove: ids given as a string or an array of strings; null if none was present;
 * - setWeight: one weight changed, an unknown id an error.
 */
export function weightRules(
  parse: ParseMember,
  names: Names,
  validate: (w: unknown) => number,
  notMember: string,
): MembershipRules<Weights> {
  const { list: field, one } = names;
  return {
    parse(input) {
      if (
        input === null ||
        typeof input === 'string' ||
        typeof (input as Iterable<unknown>)?.[Symbol.iterator] !== 'function'
      ) {
        throw typeError(field, names.expected, input);
      }
      const out: Weights = new Map();
      let i = 0;
      for (const m of input as Iterable<unknown>) {
        const [id, w] = parse(m, `${field}[${i}]`);
        if (out.has(id)) throw rangeError(`${field}[${i}].id`, 'unique', id);
        out.set(id, w);
        i++;
      }
      return out;
    },
    add(current, input) {
      const many = Array.isArray(input);
      const next = new Map(current);
      let changed = false;
      (many ? input : [input]).forEach((m, i) => {
        const [id, w] = parse(m, many ? `${field}[${i}]` : one);
        const old = next.get(id);
        if (old === w) return;
        if (old !== undefined)
          throw rangeError(`${one} ${JSON.stringify(id)} weight`, `its current weight ${old} (use setWeight)`, w);
        next.set(id, w);
        changed = true;
      });
      return changed ? next : null;
    },
    remove(current, ids) {
      const list: unknown = typeof ids === 'string' ? [ids] : ids;
      if (!Array.isArray(list)) throw typeError('ids', `a ${one} id or an array of ids`, ids);
      const next = new Map(current);
      let changed = false;
      for (const id of list) changed = next.delete(str('id', id)) || changed;
      return changed ? next : null;
    },
    setWeight(current, id, weight) {
      if (!current.has(id)) throw rangeError('id', notMember, id);
      const w = validate(weight);
      if (current.get(id) === w) return null;
      return new Map(current).set(id, w);
    },
    same: (a, b) => a.size === b.size && [...a].every(([id, w]) => b.get(id) === w),
    weight: (current, id) => current.get(id),
  };
}

// Membership bookkeeping: the rules a MutableRouter (base.ts) changes its membership by, and the rules of
// the routers that keep an id → weight map (HashRing, Rendezvous, NginxConsistentHash): parsing with typed
// errors, and the add / remove / setWeight / reset diffs. Each diff returns the next membership, or null
// when nothing would change (the router then rebuilds nothing).
//
// Ids must be well-formed UTF-16 (`wellFormedId`): tables hash an id's UTF-8 bytes, where every lone surrogate
// encodes as U+FFFD, so '\ud800' and '\udc00' would hash alike and one would silently get nothing. Fractional
// weights (`memberWeight`: HashRing, Rendezvous, ketama's hashring preset) lie in [MEMBER_WEIGHT_MIN,
// MEMBER_WEIGHT_MAX] = [1e-9, 1e9]: beyond, -w / ln(u) overflows or underflows (Rendezvous) and weight
// sums overflow; within, only the ratios of weights count, so any fleet's weights can be scaled to fit.
import { checkKeys, positive, rangeError, str, typeError } from '../util/validate.js';

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

/** Bounds of a fractional member weight (see the header). */
export const MEMBER_WEIGHT_MIN = 1e-9;
export const MEMBER_WEIGHT_MAX = 1e9;

/** A fractional weight: a finite number > 0 in [MEMBER_WEIGHT_MIN, MEMBER_WEIGHT_MAX]. */
export function memberWeight(field: string, w: unknown): number {
  const v = positive(field, w);
  if (v < MEMBER_WEIGHT_MIN || v > MEMBER_WEIGHT_MAX) throw rangeError(field, 'a weight in [1e-9, 1e9]', v);
  return v;
}

/** `id`, checked well-formed (see the header): a RangeError naming `field` otherwise. */
export function wellFormedId(field: string, id: string): string {
  // with the u flag a surrogate pair is one code point; a lone surrogate is a code point of category Cs
  if (/\p{Cs}/u.test(id)) throw rangeError(field, 'well-formed UTF-16', id);
  return id;
}

/** The keys of a member object `{ id, weight }`. */
export const MEMBER_KEYS: readonly string[] = ['id', 'weight'];

/** An id string (weight 1) or `{ id, weight }` with a weight in [MEMBER_WEIGHT_MIN, MEMBER_WEIGHT_MAX]. */
export function parseWeightedMember(m: unknown, field: string): [string, number] {
  if (typeof m === 'string') {
    if (m.length === 0) throw rangeError(field, 'a non-empty id', m);
    return [wellFormedId(field, m), 1];
  }
  if (m === null || typeof m !== 'object') throw typeError(field, 'an id or { id, weight }', m);
  checkKeys(field, m, MEMBER_KEYS);
  const { id, weight } = m as { id: unknown; weight?: unknown };
  const [checked] = parseWeightedMember(str(`${field}.id`, id), `${field}.id`);
  return [checked, weight === undefined ? 1 : memberWeight(`${field}.weight`, weight)];
}

/** Whether `input` is a list of members (an iterable other than a string), not one member. */
export function isMemberList(input: unknown): input is Iterable<unknown> {
  return (
    input !== null && typeof input === 'object' && typeof (input as Iterable<unknown>)[Symbol.iterator] === 'function'
  );
}

/**
 * The rules of an id → weight membership: members parsed by `parse`, errors naming `names`, weights set by
 * setWeight checked by `validate`, and `notMember` completing "id must be …" for an unknown id.
 * - parse: a whole membership, duplicate ids rejected;
 * - add: one member, or any iterable of them (an array, a Set); an existing id with the same weight is a
 *   no-op, another weight an error;
 * - remove: ids given as a string or an array of strings; null if none was present;
 * - setWeight: one weight changed, an unknown id an error;
 * - same: equal ids and weights, in any order (`sameInOrder` where the order is the router's).
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
      if (!isMemberList(input)) throw typeError(field, names.expected, input);
      const out: Weights = new Map();
      let i = 0;
      for (const m of input) {
        const [id, w] = parse(m, `${field}[${i}]`);
        if (out.has(id)) throw rangeError(`${field}[${i}].id`, 'unique', id);
        out.set(id, w);
        i++;
      }
      return out;
    },
    add(current, input) {
      const next = new Map(current);
      for (const [id, w] of isMemberList(input) ? this.parse(input) : [parse(input, one)]) {
        const old = next.get(id);
        if (old !== undefined && old !== w)
          throw rangeError(`${one} ${JSON.stringify(id)} weight`, `its current weight ${old} (use setWeight)`, w);
        next.set(id, w); // an id present keeps its place
      }
      return next.size > current.size ? next : null;
    },
    remove(current, ids) {
      const list: unknown = typeof ids === 'string' ? [ids] : ids;
      if (!Array.isArray(list)) throw typeError('ids', `a ${one} id or an array of ids`, ids);
      const next = new Map(current);
      for (const id of list) next.delete(str('id', id));
      return next.size < current.size ? next : null;
    },
    setWeight(current, id, weight) {
      if (!current.has(str('id', id))) throw rangeError('id', notMember, id);
      const w = validate(weight);
      if (current.get(id) === w) return null;
      return new Map(current).set(id, w);
    },
    same: (a, b) => a.size === b.size && [...a].every(([id, w]) => b.get(id) === w),
    weight: (current, id) => current.get(id),
  };
}

/** Equal ids and weights in the same order: `same` of a router whose member order matters (nginx's). */
export function sameInOrder(a: Weights, b: Weights): boolean {
  if (a.size !== b.size) return false;
  const bs = [...b];
  return [...a].every(([id, w], i) => bs[i]![0] === id && bs[i]![1] === w);
}

/** The rules of HashRing and Rendezvous: ids or `{ id, weight }` with fractional weights (parseWeightedMember). */
export const MEMBER_RULES = /* @__PURE__ */ weightRules(
  parseWeightedMember,
  MEMBERS,
  (w) => memberWeight('weight', w),
  'a member',
);

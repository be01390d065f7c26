// Hash policies: a request key picks the member a key → member table names (consistent hashing, Karger et
// al. 1997). The tables are hashing/key-router.ts's `OrderedKeyRouter`s: the built-in ones are `ring_hash`
// (Envoy's and gRPC's ring), `maglev`, `ketama` (policies/hash-tables.ts) and `xxhash_ring` (this file, our
// HashRing). A custom table needs only the part of that contract a pick uses (`KeyHasher`): `preference`.
//
// A keyed pick returns the table's owner of the key; `ctx.exclude` walks the key's preference order past the
// excluded members (a retry goes to the key's next replica). The table is built over the eligible members
// only, so an unavailable member's keys move to their next preference and come back when it recovers. A pick
// without a key picks uniformly at random (as Envoy's ring_hash does without a request hash).
//
// `xxhash_ring`: bindings/hashing/ring.ts's HashRing (points xxh32 of `${id}-${i}`, `vnodes` per unit of
// weight; `hash: 'xxh64'` for the upper half of xxh64), kept across pickers and diffed on each change. Every
// endpoint weight is taken: a member gets at least one point (weight × vnodes < 0.5 would get none), and
// weights whose points would pass the ring's limit (2^24) are scaled down together to 2^20 points, plenty for
// shares within 0.1% of the weights' (`ringWeights`).
// A built-in table that refuses a member names it as the Balancer does (`endpoints[i]`), not `members[k]`.
//
//   new Balancer({ policy: { name: 'xxhash_ring', vnodes: 100 } }).pick({ key: 'user:42' })
//   new HashPolicy({ hasher: (members) => myTable(members) }, 'my_table')
import { asObject, checkKeys, int } from '../policy-config.js';
import { COL_WEIGHT, type Picker, type PickContext, type Policy, type PolicyEnv } from '../picker.js';
import type { OrderedKeyRouter } from '../../hashing/key-router.js';
import { DEFAULT_VNODES, HashRing, MAX_POINTS, MAX_VNODES } from '../../hashing/ring.js';
import { renameMembers } from '../../hashing/shared.js';
import { typeError } from '../../util/validate.js';
import { draw } from '../../util/random.js';

/**
 * What a hash policy uses of a table (hashing/key-router.ts `OrderedKeyRouter`, which every built-in table
 * is): `preference(key, n)`; as the fast path for the owner alone, `getIndex(key)` while `members` is the
 * array the picker was built with (a router replaces it on every change, never mutates it), else `get(key)`.
 */
export type KeyHasher = Pick<OrderedKeyRouter, 'preference'> &
  Partial<Pick<OrderedKeyRouter, 'get' | 'getIndex' | 'members'>>;

/** Builds the table for the eligible members (in member order); `backend` is the Balancer's. */
export type HasherFactory = (
  members: readonly { id: string; weight: number }[],
  options: { backend: 'wasm' | 'js' },
) => KeyHasher;

export interface HashConfig {
  /** xxhash_ring: points per unit weight (default 160). */
  vnodes?: number;
  /** xxhash_ring: point and key hash (default 'xxh32'). */
  hash?: 'xxh32' | 'xxh64';
  /** Builds the table for a member list; default our HashRing (xxhash_ring). */
  hasher?: HasherFactory;
}

export function parseXxhashRing(json: unknown, field = 'xxhash_ring'): HashConfig {
  const o = asObject(field, json);
  checkKeys(field, o, ['vnodes', 'hash', 'hasher']);
  const c: HashConfig = {};
  if (o.vnodes !== undefined) c.vnodes = int(field, o, 'vnodes', 'vnodes', 160, 1, MAX_VNODES);
  if (o.hash !== undefined) {
    if (o.hash !== 'xxh32' && o.hash !== 'xxh64') throw typeError(`${field}.hash`, "'xxh32' or 'xxh64'", o.hash);
    c.hash = o.hash;
  }
  if (o.hasher !== undefined) {
    if (typeof o.hasher !== 'function') throw typeError(`${field}.hasher`, 'a function (members) => hasher', o.hasher);
    c.hasher = o.hasher as HasherFactory;
  }
  return c;
}

/**
 * A table source for one slot (picker.ts): `get` builds or updates the table for a member list, `dispose`
 * frees it when the slot is gone.
 */
export interface SlotHasher {
  get: HasherFactory;
  dispose(): void;
}

export type Members = readonly { id: string; weight: number }[];

/**
 * `members` with their weights made to fit a table, ratios kept: scaled down together, the largest (`max`) to
 * `top(rel)` (rel = Σ w / max, in [1, n]) and each rounded by `round`, unless that is >= max (then as given);
 * then each at least `floor`.
 */
export function scaleWeights(
  members: Members,
  top: (rel: number) => number,
  floor: number,
  round = (w: number) => w,
): Members {
  let max = 0;
  for (const m of members) max = Math.max(max, m.weight);
  let rel = 0;
  for (const m of members) rel += m.weight / max; // finite for any finite weights
  const t = top(rel);
  return members.map((m) => ({ id: m.id, weight: Math.max(t >= max ? m.weight : round((m.weight / max) * t), floor) }));
}

/** Points of a ring whose weights had to be scaled down (see the header). */
const SCALED_POINTS = 1 << 20;

/**
 * Weights a HashRing with `vnodes` takes for any endpoint weights: unchanged when each member gets a point
 * and the total stays within MAX_POINTS (as the ring would build them); else each at least 1 / vnodes (one
 * point), and if the points would not fit, all first scaled down together to about SCALED_POINTS.
 */
export function ringWeights(members: Members, vnodes: number): Members {
  const n = members.length;
  let points = 0;
  let fits = true;
  for (const m of members) {
    const p = Math.round(m.weight * vnodes);
    if (p < 1) fits = false;
    points += p;
  }
  if (fits && points <= MAX_POINTS) return members;
  // the largest weight: Σ round(max(w × scale × vnodes, 1)) <= Σ w × scale × vnodes + 1.5 n
  const budget = points + 2 * n <= MAX_POINTS ? Infinity : SCALED_POINTS;
  return scaleWeights(members, (rel) => (budget - 2 * n) / vnodes / rel, 1 / vnodes);
}

/** One HashRing per slot, diffed: a change that keeps the members and weights rebuilds nothing. */
function xxhashRing(c: HashConfig): SlotHasher {
  let ring: HashRing | null = null;
  const vnodes = c.vnodes ?? DEFAULT_VNODES;
  return {
    get: (given, { backend }) => {
      const members = ringWeights(given, vnodes);
      if (ring === null) {
        ring = new HashRing(members, {
          backend,
          ...(c.vnodes !== undefined && { vnodes: c.vnodes }),
          ...(c.hash !== undefined && { hash: c.hash }),
        });
      } else ring.reset(members);
      return ring;
    },
    dispose: () => {
      ring?.dispose();
      ring = null;
    },
  };
}

class HashPicker implements Picker {
  private readonly rowOf = new Map<string, number>();
  /** Row of each of the table's member indices (-1: not eligible), or null: look owners up by id. */
  private readonly rowOfIndex: Int32Array | null = null;
  /** The table's `members` that `rowOfIndex` maps (the fast path holds while the table hands out this array). */
  private readonly indexed: readonly string[] | undefined;
  constructor(
    readonly rows: Int32Array,
    private readonly env: PolicyEnv,
    private readonly hasher: KeyHasher,
  ) {
    for (let k = 0; k < rows.length; k++) this.rowOf.set(env.ids[rows[k]!]!, rows[k]!);
    const ids = (this.indexed = hasher.members);
    if (hasher.getIndex !== undefined && ids !== undefined)
      this.rowOfIndex = Int32Array.from(ids, (id) => this.rowOf.get(id) ?? -1);
  }

  pick(ctx: PickContext | undefined): number {
    const n = this.rows.length;
    if (n === 0) return -1;
    const ex = ctx?.exclude;
    const key = ctx?.key;
    if (key === undefined) {
      // no key: random, skipping excluded members (bounded)
      const s = Math.floor(draw(this.env.random) * n); // checked: 1 would still name a member
      for (let i = 0; i < n; i++) {
        const r = this.rows[(s + i) % n]!;
        if (ex === undefined || !ex.has(this.env.ids[r]!)) return r;
      }
      return -1;
    }
    if (ex === undefined || ex.size === 0) {
      const byIndex = this.rowOfIndex;
      if (byIndex !== null && this.hasher.members === this.indexed) {
        const i = this.hasher.getIndex!(key);
        return i < 0 ? -1 : byIndex[i]!;
      }
    }
    if ((ex === undefined || ex.size === 0) && this.hasher.get !== undefined) {
      const id = this.hasher.get(key);
      return id === undefined ? -1 : (this.rowOf.get(id) ?? -1);
    }
    const want = ex === undefined ? 1 : Math.min(n, ex.size + 1);
    for (const id of this.hasher.preference(key, want)) {
      if (ex === undefined || !ex.has(id)) return this.rowOf.get(id) ?? -1;
    }
    return -1;
  }
}

/**
 * A hash policy over `config.hasher`'s tables (default: our HashRing, the `xxhash_ring` policy). Each slot
 * (priority level or locality) has its own table from `newHasher`; a user-given `config.hasher` is shared by
 * every slot, so it must not invalidate the tables it returned earlier.
 */
export class HashPolicy implements Policy {
  readonly name: string;
  private readonly newHasher: () => SlotHasher;
  private readonly slots = new Map<string, SlotHasher>();
  /** A built-in table (not `config.hasher`): its member errors are renamed to the endpoints'. */
  private readonly builtIn: boolean;
  constructor(
    readonly config: HashConfig = {},
    name = 'xxhash_ring',
    newHasher?: () => SlotHasher,
  ) {
    this.name = name;
    const given = config.hasher;
    this.builtIn = newHasher !== undefined || given === undefined;
    this.newHasher =
      newHasher ?? (given !== undefined ? () => ({ get: given, dispose: () => {} }) : () => xxhashRing(config));
  }

  build(rows: Int32Array, env: PolicyEnv, slot = ''): Picker {
    let h = this.slots.get(slot);
    if (h === undefined) this.slots.set(slot, (h = this.newHasher()));
    const members = Array.from(rows, (r) => ({ id: env.ids[r]!, weight: env.table.get(COL_WEIGHT, r) }));
    let table: KeyHasher;
    try {
      table = h.get(members, { backend: env.wasm === null ? 'js' : 'wasm' });
    } catch (err) {
      // member k of the table is row rows[k], the Balancer's endpoints[rows[k]]
      throw this.builtIn ? renameMembers(err, (k) => (k === undefined ? 'endpoints' : `endpoints[${rows[k]}]`)) : err;
    }
    return new HashPicker(rows, env, table);
  }

  releaseSlots(keep: ReadonlySet<string>): void {
    if (this.slots.size <= 1 && keep.size === 1 && this.slots.has([...keep][0]!)) return;
    for (const [slot, h] of this.slots) {
      if (!keep.has(slot)) {
        h.dispose();
        this.slots.delete(slot);
      }
    }
  }
}

// ring_hash (and any other key → member table): picks the member a request key hashes to, walking the
// hasher's preference order past excluded members (retries go to the key's next replica). The table is built
// over the eligible members only, so an unavailable member's keys move to their next preference and come back
// when it recovers. A pick without a key picks uniformly at random (as Envoy's ring_hash does without a hash).
//
// Any hasher with `preference(key, n)` plugs in (HashRing from ring.ts by default; maglev/ketama/jump
// implementations via `hasher: (members) => table`), e.g.
//   new Balancer({ policy: { name: 'ring_hash', vnodes: 100 } }).pick({ key: 'user:42' })
import { asObject, checkKeys, int } from '../policy-config.js';
import { COL_WEIGHT, type Picker, type PickContext, type Policy, type PolicyEnv } from '../picker.js';
import { HashRing, MAX_VNODES } from '../../hashing/ring.js';
import { typeError } from '../../util/validate.js';

/** What a hash table must offer: up to n distinct member ids, the key's owner first. */
export interface KeyHasher {
  preference(key: string, n: number): string[];
  /** Optional fast path for the owner alone (no array allocated), e.g. HashRing.get. */
  get?(key: string): string | undefined;
}

export type HasherFactory = (members: readonly { id: string; weight: number }[]) => KeyHasher;

export interface HashConfig {
  /** Points per unit weight for the default HashRing (default 160). */
  vnodes?: number;
  hash?: 'xxh32' | 'xxh64';
  /** Builds the table for a member list; default a HashRing. */
  hasher?: HasherFactory;
}

export function parseHash(json: unknown, field = 'ring_hash'): HashConfig {
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

class HashPicker implements Picker {
  private readonly rowOf = new Map<string, number>();
  constructor(
    readonly rows: Int32Array,
    private readonly env: PolicyEnv,
    private readonly hasher: KeyHasher,
  ) {
    for (let k = 0; k < rows.length; k++) this.rowOf.set(env.ids[rows[k]!]!, rows[k]!);
  }

  pick(ctx: PickContext | undefined): number {
    const n = this.rows.length;
    if (n === 0) return -1;
    const ex = ctx?.exclude;
    const key = ctx?.key;
    if (key === undefined) {
      // no key: random, skipping excluded members (bounded)
      const s = Math.floor(this.env.random() * n);
      for (let i = 0; i < n; i++) {
        const r = this.rows[(s + i) % n]!;
        if (ex === undefined || !ex.has(this.env.ids[r]!)) return r;
      }
      return -1;
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

export class HashPolicy implements Policy {
  readonly name: string;
  private ring: HashRing | null = null;
  constructor(
    readonly config: HashConfig = {},
    name = 'ring_hash',
  ) {
    this.name = name;
  }

  build(rows: Int32Array, env: PolicyEnv): Picker {
    const members = Array.from(rows, (r) => ({ id: env.ids[r]!, weight: env.table.get(COL_WEIGHT, r) }));
    let hasher: KeyHasher;
    if (this.config.hasher !== undefined) hasher = this.config.hasher(members);
    else {
      // one ring, diffed: a reset that changes nothing rebuilds nothing
      if (this.ring === null) {
        const o: { vnodes?: number; hash?: 'xxh32' | 'xxh64' } = {};
        if (this.config.vnodes !== undefined) o.vnodes = this.config.vnodes;
        if (this.config.hash !== undefined) o.hash = this.config.hash;
        this.ring = new HashRing(members, o);
      } else this.ring.reset(members);
      hasher = this.ring;
    }
    return new HashPicker(rows, env, hasher);
  }
}

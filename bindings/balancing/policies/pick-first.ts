// pick_first: gRPC's default policy (gRFC A62, grpc-js `load-balancer-pick-first.ts`). Members are tried in
// order (the resolver's, or shuffled with the injected random on each new list when `shuffleAddressList` is
// set) and every pick goes to the first that works, until it fails; then to the next in order, wrapping
// around (A62's sticky TRANSIENT_FAILURE: keep cycling until one works).
//
// gRPC tries connections, we try requests: "fails" is a connection-level failure reported by
// `done({ ok: false })` without a response status (a 5xx response does not move it), or the member becoming
// unavailable (health checking, ejection). When the sticky member is removed, the next member of the old order
// that remains takes over. gRPC restarts from the first address after a failure; here the failed request was
// the attempt on the current member, so the next one is tried instead. A recovered member does not take
// traffic back: the choice stays until it fails, as in gRPC.
//
//   new Balancer({ policy: { pick_first: { shuffleAddressList: true } }, endpoints: ['a:80', 'b:80'] })
import { asObject, checkKeys, pickKey } from '../policy-config.js';
import type { PickContext, Picker, Policy, PolicyEnv } from '../picker.js';
import { bool } from '../../util/validate.js';

export interface PickFirstConfig {
  /** Shuffle the member order on each new list (A62 `shuffleAddressList`, default false). */
  shuffleAddressList: boolean;
}

export function parsePickFirst(json: unknown, field = 'pick_first'): PickFirstConfig {
  const o = asObject(field, json);
  checkKeys(field, o, ['shuffleAddressList', 'shuffle_address_list']);
  const kv = pickKey(o, 'shuffleAddressList', 'shuffle_address_list', field);
  return { shuffleAddressList: kv !== undefined && bool(`${field}.${kv[0]}`, kv[1]) };
}

class PickFirstPicker implements Picker {
  constructor(
    readonly rows: Int32Array,
    /** The eligible rows in try order. */
    private readonly order: Int32Array,
    /** Index in `order` of the sticky member. */
    private cur: number,
    private readonly ids: readonly string[],
  ) {}

  pick(ctx: PickContext | undefined): number {
    const n = this.order.length;
    if (n === 0) return -1;
    const exclude = ctx?.exclude;
    if (exclude === undefined || exclude.size === 0) return this.order[this.cur]!;
    // a retry: the next member in order not excluded (the choice itself stays)
    for (let j = 0; j < n; j++) {
      const r = this.order[(this.cur + j) % n]!;
      if (!exclude.has(this.ids[r]!)) return r;
    }
    return -1;
  }

  /** The sticky member failed: moves to the next in order; returns its id. */
  advance(): string | undefined {
    const n = this.order.length;
    if (n === 0) return undefined;
    this.cur = (this.cur + 1) % n;
    return this.ids[this.order[this.cur]!];
  }
}

/** The choice within one subset (picker.ts slot: '' for the whole set, 'p<priority>' for a level, ...). */
interface SlotChoice {
  sticky: string | undefined;
  last: PickFirstPicker | null;
}

export class PickFirstPolicy implements Policy {
  readonly name = 'pick_first';
  /** Member ids in try order. */
  private order: string[] = [];
  /** The `env.ids` that `order` was made for. */
  private orderFor: readonly string[] | null = null;
  /** One choice per slot: with priority levels each level has its own first-that-works member. */
  private readonly slots = new Map<string, SlotChoice>();

  constructor(readonly config: PickFirstConfig = { shuffleAddressList: false }) {}

  /** The member picks go to (undefined before the first picker with members); with levels, level 0's. */
  get selected(): string | undefined {
    return this.slots.values().next().value?.sticky;
  }

  onMembership(env: PolicyEnv): void {
    const ids = env.ids;
    const present = new Set(ids);
    for (const c of this.slots.values()) {
      const s = c.sticky;
      if (s === undefined || present.has(s)) continue;
      // removed: the next member of the old order that remains
      const k = this.order.indexOf(s);
      c.sticky = undefined;
      for (let j = 1; j < this.order.length; j++) {
        const id = this.order[(k + j) % this.order.length]!;
        if (present.has(id)) {
          c.sticky = id;
          break;
        }
      }
    }
    const order = ids.slice();
    if (this.config.shuffleAddressList) {
      // Fisher-Yates with the injected random
      for (let i = order.length - 1; i > 0; i--) {
        const j = Math.floor(env.random() * (i + 1));
        const t = order[i]!;
        order[i] = order[j]!;
        order[j] = t;
      }
    }
    this.order = order;
    this.orderFor = ids;
  }

  build(rows: Int32Array, env: PolicyEnv, slot = ''): Picker {
    if (this.orderFor !== env.ids) this.onMembership(env);
    let c = this.slots.get(slot);
    if (c === undefined) this.slots.set(slot, (c = { sticky: undefined, last: null }));
    const ids = env.ids;
    const eligible = new Set<string>();
    for (let k = 0; k < rows.length; k++) eligible.add(ids[rows[k]!]!);
    const rowOf = new Map<string, number>();
    ids.forEach((id, r) => rowOf.set(id, r));
    const order = new Int32Array(rows.length);
    let k = 0;
    for (const id of this.order) if (eligible.has(id)) order[k++] = rowOf.get(id)!;
    // the sticky member if eligible, else the next eligible one in order (it becomes the choice)
    let cur = 0;
    if (c.sticky !== undefined && k > 0) {
      const from = this.order.indexOf(c.sticky);
      for (let j = 0; j < this.order.length; j++) {
        const id = this.order[(from + j) % this.order.length]!;
        if (eligible.has(id)) {
          cur = order.indexOf(rowOf.get(id)!);
          break;
        }
      }
    }
    if (k > 0) c.sticky = ids[order[cur]!];
    return (c.last = new PickFirstPicker(rows, order, cur, ids));
  }

  releaseSlots(keep: ReadonlySet<string>): void {
    for (const slot of this.slots.keys()) if (!keep.has(slot)) this.slots.delete(slot);
  }

  onDone(env: PolicyEnv, row: number, ok: boolean, _rttMs: number, _now: number, status?: number): void {
    if (ok || status !== undefined) return;
    const id = env.ids[row];
    for (const c of this.slots.values())
      if (c.last !== null && c.sticky === id) c.sticky = c.last.advance() ?? c.sticky;
  }

  stats(env: PolicyEnv, row: number): Record<string, number> {
    const id = env.ids[row];
    for (const c of this.slots.values()) if (c.sticky === id) return { selected: 1 };
    return { selected: 0 };
  }
}

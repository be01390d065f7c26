// round_robin: each eligible member in turn (grpc-js `load-balancer-round-robin.ts`). The first picker
// starts at a random position; later pickers (after membership or health changes) continue from the member
// that would have been picked next, if it is still eligible, else from a random position. A pick that excludes
// members (a retry) takes the first it may use from the turn on, leaving the turn where it is.
//
//   new Balancer({ policy: 'round_robin', endpoints: ['a:80', 'b:80'] }).pick().member.id
import { asObject, checkKeys } from '../policy-config.js';
import { type Picker, type PickContext, type Policy, type PolicyEnv } from '../picker.js';

export type RoundRobinConfig = Record<string, never>;

export function parseRoundRobin(json: unknown, field = 'round_robin'): RoundRobinConfig {
  checkKeys(field, asObject(field, json), []);
  return {};
}

class RoundRobinPicker implements Picker {
  declare readonly rows: Int32Array;
  declare readonly ids: readonly string[];
  declare pos: number;
  constructor(rows: Int32Array, ids: readonly string[], start: number) {
    this.rows = rows;
    this.ids = ids;
    this.pos = start;
  }

  pick(ctx: PickContext | undefined): number {
    const n = this.rows.length;
    if (n === 0) return -1;
    if (ctx?.exclude !== undefined && ctx.exclude.size > 0) return this.pickExcluding(ctx.exclude);
    const r = this.rows[this.pos]!;
    if (++this.pos === n) this.pos = 0;
    return r;
  }

  /**
   * A retry's pick: the first member from the turn on that it may use, without taking the turn. When it took
   * the turn, a dead member (with no outlier detection to eject it) was the first try of every request: the
   * retry moved the turn past the live member, so the next request's turn was the dead one again.
   */
  private pickExcluding(exclude: ReadonlySet<string>): number {
    const n = this.rows.length;
    for (let k = 0, i = this.pos; k < n; k++) {
      const r = this.rows[i]!;
      if (!exclude.has(this.ids[r]!)) return r;
      if (++i === n) i = 0;
    }
    return -1;
  }

  /** Id of the member the next pick returns. */
  nextId(): string | undefined {
    return this.rows.length === 0 ? undefined : this.ids[this.rows[this.pos]!];
  }
}

export class RoundRobinPolicy implements Policy {
  readonly name = 'round_robin';
  private last: RoundRobinPicker | null = null;

  constructor(readonly config: RoundRobinConfig = {}) {}

  build(rows: Int32Array, env: PolicyEnv): Picker {
    const next = this.last?.nextId();
    let start = -1;
    if (next !== undefined) {
      for (let k = 0; k < rows.length; k++) if (env.ids[rows[k]!] === next) start = k;
    }
    if (start < 0) start = rows.length === 0 ? 0 : Math.floor(env.random() * rows.length);
    return (this.last = new RoundRobinPicker(rows, env.ids, start));
  }
}

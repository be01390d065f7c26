// round_robin: each eligible member in turn (grpc-js `load-balancer-round-robin.ts`). The first picker
// starts at a random position; later pickers (after membership or health changes) continue from the member
// that would have been picked next, if it is still eligible, else from a random position. Picks that exclude
// members (retries) go round on a turn of their own, so they neither move the requests' turn nor all land on
// the member after a failing one.
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
  /** The retries' own turn (picks with `exclude`). */
  #retryPos: number;
  constructor(rows: Int32Array, ids: readonly string[], start: number) {
    this.rows = rows;
    this.ids = ids;
    this.pos = this.#retryPos = start;
  }

  pick(ctx: PickContext | undefined): number {
    const n = this.rows.length;
    if (n === 0) return -1;
    if (ctx?.exclude !== undefined && ctx.exclude.size > 0) return this.#pickExcluding(ctx.exclude);
    const r = this.rows[this.pos]!;
    if (++this.pos === n) this.pos = 0;
    return r;
  }

  /**
   * A retry's pick: the next member it may use on the retries' own turn. When retries took the requests' turn,
   * a dead member (with no outlier detection to eject it) was the first try of every request with two members
   * (the retry moved the turn past the live one); from the requests' turn without taking it, the member after
   * the dead one took every retry besides its own turn. Each turn now goes round on its own.
   */
  #pickExcluding(exclude: ReadonlySet<string>): number {
    const n = this.rows.length;
    for (let k = 0; k < n; k++) {
      const r = this.rows[this.#retryPos]!;
      if (++this.#retryPos === n) this.#retryPos = 0;
      if (!exclude.has(this.ids[r]!)) return r;
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

// What the Balancer does beyond picking through handles: `stats()` and the allocation-free `pickIndex()` /
// `completeIndex()` pair. switchyard's Balancer registers them; a switchyard/lite page whose code calls them
// registers them with `registerBalancerExtras()` (a TypeError naming it before), so that a lite createFetch,
// which needs neither, does not carry them (docs/browsers.md). The observability collectors register them
// themselves. Each function is the method of the same name, given the Balancer's private state it reads.
import { type BalancerCore, setBalancerExtras } from './balancer.js';
import type { BalancerStats } from './events.js';
import { COL_ACTIVE, COL_FAILURES, COL_PICKS, COL_WEIGHT, type PickContext } from './picker.js';
import type { PriorityLevelStats } from './priority.js';
import { bool, numberError } from '../util/validate.js';

function stats(
  lb: BalancerCore,
  version: number,
  panic: boolean,
  waiting: number,
  levels: PriorityLevelStats[] | undefined,
): BalancerStats {
  const now = lb.clock.now();
  const m = lb['m'];
  const pol = lb['pol'];
  const t = m.table;
  const unavailable = m.unavailable;
  return {
    policy: pol.name,
    backend: lb.backend,
    version,
    eligible: lb['picker'].rows.length,
    panic,
    warming: lb['warming'],
    waiting,
    ...(levels === undefined ? {} : { levels }),
    members: m.list.map((e, r) => ({
      id: e.id,
      weight: t.get(COL_WEIGHT, r),
      available: !unavailable.has(e.id),
      pending: m.pending.has(e.id),
      priority: e.priority,
      active: t.get(COL_ACTIVE, r),
      picks: t.get(COL_PICKS, r),
      failures: t.get(COL_FAILURES, r),
      ...pol.stats?.(lb, r, now),
    })),
  };
}

function pickIndex(lb: BalancerCore, ctx: PickContext | undefined): number {
  if (lb['m'].list.length === 0 || lb['failClosed']) return -1;
  const now = lb['timed'] ? lb.clock.now() : NaN;
  const row = lb['step'](ctx, now);
  if (row >= 0) lb['started'](row, now);
  return row;
}

function completeIndex(lb: BalancerCore, index: number, ok: boolean, rttMs: number): void {
  const n = lb['m'].list.length;
  if (!(Number.isInteger(index) && index >= 0 && index < n)) throw numberError('index', `a member index < ${n}`, index);
  bool('ok', ok);
  if (typeof rttMs !== 'number' || (rttMs === rttMs && !(rttMs >= 0 && rttMs < Infinity)))
    throw numberError('rttMs', 'a finite number >= 0, or NaN (not measured)', rttMs);
  const listeners = lb['listeners'];
  const now = listeners.timedOutcomes > 0 ? lb.clock.now() : NaN;
  lb['finish'](index, lb['m'].list[index]!, ok, rttMs, lb['pol'], now, listeners.outcome.length > 0);
}

/**
 * Lets Balancers answer `stats()`, `pickIndex()` and `completeIndex()`, which are a TypeError before in
 * `switchyard/lite` (switchyard's Balancer always has them; a registration serves both entries).
 */
export function registerBalancerExtras(): void {
  setBalancerExtras({ stats, pickIndex, completeIndex });
}

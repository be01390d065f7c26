// The Balancer's plug-in for priority levels and localities (priority.ts, Envoy). A Balancer reaches it only
// through its BalancerParts, so a bundle whose members carry no priority nor locality need not carry it: the
// complete Balancer (balancer.ts) always passes `priorityRouting`, `switchyard/lite` uses what
// `registerPriorityRouting()` (priority.ts) registered with `setLevelRouting` (kept in registry.ts
// `registrations`), and without it refuses a member with a priority other than 0 or a locality, and the
// `priority` option, with a TypeError saying how to register it (docs/browsers.md).
import type { Members } from './members.js';
import type { Policy, PolicyEnv } from './picker.js';
import type { PriorityOptions } from './priority-config.js';
import type { PriorityPickerInput, PriorityPickerResult } from './priority.js';
import type { Random } from '../util/random.js';
import { registrations } from './registry.js';

/** Envoy's default overprovisioning factor (priority-config.ts), the single-level panic rule's too. */
export const DEFAULT_OVERPROVISIONING_FACTOR = 1.4;

/** Priority levels and localities: how the `priority` option is read and how a leveled picker is built. */
export interface LevelRouting {
  parse(input: unknown, field: string, defaults: Partial<PriorityOptions>): PriorityOptions;
  build(input: PriorityPickerInput): PriorityPickerResult;
  /**
   * The Balancer's leveled publication (balancer.ts): `build` over the members that are not pending (Envoy
   * excluded hosts), one policy picker per subset; `warming` when every member is unavailable and some pending.
   * @internal
   */
  publish(
    m: Members,
    policy: Policy,
    env: PolicyEnv,
    options: PriorityOptions,
    random: Random,
  ): PriorityPickerResult & { warming: boolean };
}

/** Installs `routing` for every Balancer created afterwards in both entries (priority.ts does it). */
export function setLevelRouting(routing: LevelRouting): void {
  registrations.levels = routing;
}

/** How the refusals name the missing plug-in. */
export const LEVELS_HINT = 'registerPriorityRouting() from switchyard/lite';

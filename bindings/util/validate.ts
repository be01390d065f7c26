// Typed errors that name the field and the value.

export function describe(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v);
  if (typeof v === 'bigint') return `${v}n`;
  // objects and functions by their tag ([object Function]: a function's source could fill a screen)
  if (v === null || (typeof v !== 'object' && typeof v !== 'function')) return String(v);
  return Object.prototype.toString.call(v);
}

export function typeError(field: string, expected: string, v: unknown): TypeError {
  return new TypeError(`${field} must be ${expected}, got ${describe(v)}`);
}

export function rangeError(field: string, expected: string, v: unknown): RangeError {
  return new RangeError(`${field} must be ${expected}, got ${describe(v)}`);
}

/** A RangeError if `v` is a number (of the wrong value), else a TypeError (of the wrong type). */
export function numberError(field: string, expected: string, v: unknown): TypeError | RangeError {
  return (typeof v === 'number' ? rangeError : typeError)(field, expected, v);
}

/** A string. */
export function str(field: string, v: unknown): string {
  if (typeof v !== 'string') throw typeError(field, 'a string', v);
  return v;
}

/** A boolean. */
export function bool(field: string, v: unknown): boolean {
  if (typeof v !== 'boolean') throw typeError(field, 'a boolean', v);
  return v;
}

/** An integer in [min, max]. */
export function intInRange(field: string, v: unknown, min: number, max: number): number {
  const ok = Number.isInteger(v) && (v as number) >= min && (v as number) <= max;
  if (!ok) throw numberError(field, `an integer in [${min}, ${max}]`, v);
  return v as number;
}

/** A finite number > 0. */
export function positive(field: string, v: unknown): number {
  if (!(Number.isFinite(v) && (v as number) > 0)) throw numberError(field, 'a finite number > 0', v);
  return v as number;
}

/** A number of milliseconds >= 0 (Infinity included: no limit). */
export function nonNegativeMs(field: string, v: unknown): number {
  if (!(typeof v === 'number' && v >= 0)) throw numberError(field, 'a number of milliseconds >= 0', v);
  return v;
}

/** An object (not null, not an array); undefined reads as `{}` (an options object left out). */
export function asObject<T extends object = Record<string, unknown>>(field: string, v: unknown): T {
  if (v === undefined) return {} as T;
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw typeError(field, 'an object', v);
  return v as T;
}

/** Throws a RangeError naming `field.k` for the first own key `k` of `o` outside `known` (and other than `skip`). */
export function checkKeys(field: string, o: object, known: readonly string[], skip?: string): void {
  for (const k of Object.keys(o))
    if (k !== skip && !known.includes(k))
      throw rangeError(`${field}.${k}`, known.length > 0 ? `one of ${known.join(', ')}` : 'absent (no options)', k);
}

/** The TypeError for what a switchyard/lite stack refuses until `registration` is called. */
/** A TypeError: `what` (a method, an option value) needs `registration` first (`stats() needs registerBalancerExtras() from switchyard/lite`). */
export function needs(what: string, registration: string): TypeError {
  return new TypeError(`${what} needs ${registration} from switchyard/lite`);
}

export function unregistered(field: string, registration: string, v: unknown): TypeError {
  return typeError(field, `absent without ${registration} (switchyard/lite)`, v);
}

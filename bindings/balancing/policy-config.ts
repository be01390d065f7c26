// Reading policy options. Each option can be given in camelCase with units in the name (`decayMs: 10000`,
// the TS API) or in snake_case as gRPC service configs spell it (`decay: "10s"`, `choice_count: 2`).
// Durations in snake_case follow protobuf JSON: "1.5s", or { seconds, nanos }; a bare number is seconds.
import { checkKeys as checkObjectKeys, intInRange, rangeError, typeError } from '../util/validate.js';

export type Json = Record<string, unknown>;

export { asObject } from '../util/validate.js';

/** Throws on keys not in `known` (camel or snake spellings), naming the first unknown one. */
export function checkKeys(field: string, o: Json, known: readonly string[]): void {
  checkObjectKeys(field, o, known, 'name');
}

function pickKey(o: Json, camel: string, snake: string): [string, unknown] | undefined {
  if (o[camel] !== undefined) return [camel, o[camel]];
  if (o[snake] !== undefined) return [snake, o[snake]];
  return undefined;
}

/**
 * Reads a bounded number option: `o[camel]` or else `o[snake]`, `dflt` when neither is given; errors name
 * `field.<the key given>`.
 */
export type BoundedOption = (
  field: string,
  o: Json,
  camel: string,
  snake: string,
  dflt: number,
  min: number,
  max: number,
) => number;

function bounded(check: (name: string, v: unknown, min: number, max: number) => number): BoundedOption {
  return (field, o, camel, snake, dflt, min, max) => {
    const kv = pickKey(o, camel, snake);
    return kv === undefined ? dflt : check(`${field}.${kv[0]}`, kv[1], min, max);
  };
}

/** A finite number in [min, max]. */
export const num: BoundedOption = /* @__PURE__ */ bounded((name, v, min, max) => {
  if (typeof v !== 'number') throw typeError(name, `a number in [${min}, ${max}]`, v);
  if (!Number.isFinite(v) || v < min || v > max) throw rangeError(name, `a number in [${min}, ${max}]`, v);
  return v;
});

/** An integer in [min, max]; gRPC JSON may carry integers as strings (uint32 wrappers), so "42" is read too. */
export const int: BoundedOption = /* @__PURE__ */ bounded((name, v, min, max) =>
  intInRange(name, typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : v, min, max),
);

/** Milliseconds from `<camel>` (a number of ms) or `<snake>` (a protobuf Duration). */
export function durationMs(field: string, o: Json, camelMs: string, snake: string, dfltMs: number, minMs = 0): number {
  let ms: number;
  if (o[camelMs] !== undefined) {
    const v = o[camelMs];
    if (typeof v !== 'number') throw typeError(`${field}.${camelMs}`, `a number of milliseconds >= ${minMs}`, v);
    ms = v;
    if (!Number.isFinite(ms) || ms < minMs)
      throw rangeError(`${field}.${camelMs}`, `a number of milliseconds >= ${minMs}`, v);
    return ms;
  }
  const v = o[snake];
  if (v === undefined) return dfltMs;
  const f = `${field}.${snake}`;
  if (typeof v === 'number') ms = v * 1000;
  else if (typeof v === 'string') {
    const m = /^(-?\d+(?:\.\d{1,9})?)s$/.exec(v);
    if (m === null) throw rangeError(f, 'a duration like "10s" or "0.5s"', v);
    ms = Number(m[1]) * 1000;
  } else if (v !== null && typeof v === 'object') {
    const d = v as { seconds?: unknown; nanos?: unknown };
    const s = d.seconds === undefined ? 0 : Number(d.seconds);
    const n = d.nanos === undefined ? 0 : Number(d.nanos);
    if (!Number.isFinite(s) || !Number.isFinite(n)) throw rangeError(f, 'a Duration { seconds, nanos }', v);
    ms = s * 1000 + n / 1e6;
  } else throw typeError(f, 'a duration like "10s"', v);
  if (!Number.isFinite(ms) || ms < minMs) throw rangeError(f, `a duration >= ${minMs / 1000}s`, v);
  return ms;
}

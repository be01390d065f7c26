// Reading policy options. Each option can be given in camelCase with units in the name (`decayMs: 10000`,
// the TS API) or in snake_case as gRPC service configs spell it (`decay: "10s"`, `choice_count: 2`).
// Durations in snake_case follow protobuf JSON: "1.5s", or { seconds, nanos }; a bare number is seconds.
// Only undefined means "the default": null is a wrong value (TypeError), as grpc-js reads service configs.
import { checkKeys as checkObjectKeys, intInRange, rangeError, typeError } from '../util/validate.js';

export type Json = Record<string, unknown>;

export { asObject } from '../util/validate.js';

/** Throws on keys not in `known` (camel or snake spellings), naming the first unknown one. */
export function checkKeys(field: string, o: Json, known: readonly string[]): void {
  checkObjectKeys(field, o, known, 'name');
}

/** Throws a TypeError naming `field.<snake>` when `o` gives both spellings of one option. */
export function oneSpelling(field: string, o: Json, camel: string, snake: string): void {
  if (camel !== snake && o[camel] !== undefined && o[snake] !== undefined)
    throw typeError(`${field}.${snake}`, `left out beside ${camel} (the same option)`, o[snake]);
}

/**
 * `[key, value]` of `o[camel]` or else `o[snake]` (null included: a wrong value, not an absent one); both given is
 * a TypeError (oneSpelling).
 */
export function pickKey(o: Json, camel: string, snake: string, field: string): [string, unknown] | undefined {
  oneSpelling(field, o, camel, snake);
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
    const kv = pickKey(o, camel, snake, field);
    return kv === undefined ? dflt : check(`${field}.${kv[0]}`, kv[1], min, max);
  };
}

/** A finite number in [min, max]. */
export const num: BoundedOption = /* @__PURE__ */ bounded((name, v, min, max) => {
  if (typeof v !== 'number') throw typeError(name, `a number in [${min}, ${max}]`, v);
  if (!Number.isFinite(v) || v < min || v > max) throw rangeError(name, `a number in [${min}, ${max}]`, v);
  return v;
});

/** An integer in [min, max]; protobuf JSON may carry integers as decimal strings (int64, uint32): "42" too. */
function jsonInt(name: string, v: unknown, min: number, max: number): number {
  return intInRange(name, typeof v === 'string' && /^-?\d+$/.test(v) ? Number(v) : v, min, max);
}

/** An integer in [min, max], or its decimal string. */
export const int: BoundedOption = /* @__PURE__ */ bounded(jsonInt);

/**
 * `o` with the protobuf wrapper at `o[key]` (`{ value: x }`: google.protobuf.*Value, type.v3.Percent; `inner`
 * for another message) replaced by x for the readers above; a bare x stays. The wrapper must hold `inner` and
 * no other key but `ignored`.
 */
export function unwrap(field: string, o: Json, key: string, inner = 'value', ignored: readonly string[] = []): Json {
  const v = o[key];
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return o;
  const f = `${field}.${key}`;
  checkObjectKeys(f, v, [inner, ...ignored]);
  const x = (v as Json)[inner];
  if (x === undefined) throw typeError(`${f}.${inner}`, 'a number', x);
  return { ...o, [key]: x };
}

/** Protobuf's Duration range, ±10 000 years in seconds. */
const MAX_DURATION_S = 315_576_000_000;

/**
 * Milliseconds of a protobuf Duration object: `seconds` an integer (or its decimal string, JSON int64), `nanos`
 * an integer in [-999999999, 999999999] of the same sign; either may be left out, not both.
 */
function durationObject(f: string, d: Json): number {
  checkObjectKeys(f, d, ['seconds', 'nanos']);
  if (d.seconds === undefined && d.nanos === undefined) throw typeError(f, 'a Duration { seconds, nanos }', d);
  const s = d.seconds === undefined ? 0 : jsonInt(`${f}.seconds`, d.seconds, -MAX_DURATION_S, MAX_DURATION_S);
  const n = d.nanos === undefined ? 0 : jsonInt(`${f}.nanos`, d.nanos, -999_999_999, 999_999_999);
  if (s * n < 0) throw rangeError(`${f}.nanos`, `of the sign of seconds (${s})`, n);
  return s * 1000 + n / 1e6;
}

/**
 * Milliseconds from `<camel>` (a number of ms) or `<snake>` (a protobuf Duration), at least `minMs`
 * (Number.MIN_VALUE: any positive duration).
 */
export function durationMs(field: string, o: Json, camelMs: string, snake: string, dfltMs: number, minMs = 0): number {
  const kv = pickKey(o, camelMs, snake, field);
  if (kv === undefined) return dfltMs;
  const [k, v] = kv;
  const f = `${field}.${k}`;
  const [op, min] = minMs === Number.MIN_VALUE ? ['>', 0] : ['>=', minMs];
  if (k === camelMs) {
    if (typeof v !== 'number') throw typeError(f, `a number of milliseconds ${op} ${min}`, v);
    if (!Number.isFinite(v) || v < minMs) throw rangeError(f, `a number of milliseconds ${op} ${min}`, v);
    return v;
  }
  let ms: number;
  if (typeof v === 'number') ms = v * 1000;
  else if (typeof v === 'string') {
    const m = /^(-?\d+(?:\.\d{1,9})?)s$/.exec(v);
    if (m === null) throw rangeError(f, 'a duration like "10s" or "0.5s"', v);
    ms = Number(m[1]) * 1000;
  } else if (v !== null && typeof v === 'object' && !Array.isArray(v)) ms = durationObject(f, v as Json);
  else throw typeError(f, 'a duration like "10s"', v);
  if (!Number.isFinite(ms) || ms < minMs) throw rangeError(f, `a duration ${op} ${min / 1000}s`, v);
  return ms;
}

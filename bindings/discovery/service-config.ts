// Service configs delivered by resolvers (gRFC A2 "Service Config via DNS", grpc doc/service_config.md).
//
// A resolver may carry the gRPC service config of its target (`{"loadBalancingConfig": [...]}`), wrapped in
// A2's canary list of choices; the first choice whose criteria all match this client wins:
//   [{ "clientLanguage": ["node"], "percentage": 25, "clientHostname": ["web-1"], "serviceConfig": {...} }]
//  - clientLanguage: case-insensitive; we match "switchyard" and "node" (grpc-js's name, so configs written
//    for Node gRPC clients apply); percentage: an integer in [0, 100], matched when this client's draw
//    (uniform in [0, 100), drawn once per resolver, as grpc-js does) is below it; clientHostname: exact
//    match of the host name (Node: os.hostname(); elsewhere none). An absent or empty criterion matches all.
//  - any other field, a serviceConfig that is not an object, a list that is not one: the whole config is
//    invalid (A2 with A21 "Service Config Error Handling": discarded, the previous one stays in force),
//    reported as a TypeError/RangeError naming `grpc_config[i].field`.
// DNS (dns.ts): a TXT record at `_grpc_config.<name>` whose first string starts with `grpc_config=`; the
// record's strings are concatenated (RFC 4408 3.1.3, so configs longer than 255 bytes work). etcd
// (etcd/resolver.ts): the key `<prefix>/_grpc_config`, holding a service config object or a choice list.
// No record or no matching choice delivers nothing: the Balancer keeps its policy.
//
//   const sc = selectServiceConfig(JSON.parse(text), { percentage: 42, hostname: 'web-1' });
import { type Random, validateRandom } from '../util/random.js';
import { bool, rangeError, str, typeError } from '../util/validate.js';

/** DNS name prefix of the TXT record (A2). */
export const GRPC_CONFIG_TXT_PREFIX = '_grpc_config.';
/** RFC 1464 attribute name of the TXT record's value (A2). */
export const GRPC_CONFIG_ATTRIBUTE = 'grpc_config=';
/** The etcd key, under the resolver's prefix, that holds the service config. */
export const ETCD_SERVICE_CONFIG_KEY = '_grpc_config';
/** `clientLanguage` values that select switchyard (compared case-insensitively). */
export const CLIENT_LANGUAGES: readonly string[] = ['switchyard', 'node'];

export type ServiceConfig = Record<string, unknown>;

/** Options of the resolvers that deliver service configs (dns, doh, etcd). */
export interface ServiceConfigResolverOptions {
  /** Ignore service configs (grpc-js: `grpc.service_config_disable_resolution`). Default false. */
  disableServiceConfig?: boolean;
  /** Draws this client's canary percentage once, uniform in [0, 1) × 100 (default Math.random). */
  random?: Random;
  /** The host name `clientHostname` is matched against (default: os.hostname() in Node, none elsewhere). */
  clientHostname?: string;
}

export interface ChoiceContext {
  /** This client's draw, in [0, 100). */
  percentage: number;
  hostname: string | undefined;
}

const CHOICE_FIELDS = new Set(['clientLanguage', 'percentage', 'clientHostname', 'serviceConfig']);

function stringList(field: string, v: unknown): string[] {
  if (!Array.isArray(v)) throw typeError(field, 'an array of strings', v);
  v.forEach((s, i) => {
    str(`${field}[${i}]`, s);
  });
  return v as string[];
}

/**
 * Validates an A2 choice list (every choice, even after a match) and returns the first matching
 * `serviceConfig`, or null when none matches. TypeError/RangeError naming `field[i].x` otherwise.
 */
export function selectServiceConfig(json: unknown, ctx: ChoiceContext, field = 'grpc_config'): ServiceConfig | null {
  if (!Array.isArray(json)) throw typeError(field, 'a JSON array of service config choices', json);
  let chosen: ServiceConfig | null = null;
  json.forEach((choice: unknown, i) => {
    const f = `${field}[${i}]`;
    if (choice === null || typeof choice !== 'object' || Array.isArray(choice))
      throw typeError(f, 'an object { serviceConfig, clientLanguage?, percentage?, clientHostname? }', choice);
    const c = choice as Record<string, unknown>;
    for (const k of Object.keys(c)) {
      if (!CHOICE_FIELDS.has(k))
        throw typeError(
          `${f}.${k}`,
          'absent (a choice has clientLanguage, percentage, clientHostname, serviceConfig)',
          k,
        );
    }
    const sc = c.serviceConfig;
    if (sc === null || typeof sc !== 'object' || Array.isArray(sc))
      throw typeError(`${f}.serviceConfig`, 'an object', sc);
    let match = true;
    if (c.clientLanguage !== undefined) {
      const langs = stringList(`${f}.clientLanguage`, c.clientLanguage);
      if (langs.length > 0 && !langs.some((l) => CLIENT_LANGUAGES.includes(l.toLowerCase()))) match = false;
    }
    if (c.percentage !== undefined) {
      const p = c.percentage;
      if (typeof p !== 'number') throw typeError(`${f}.percentage`, 'an integer in [0, 100]', p);
      if (!Number.isInteger(p) || p < 0 || p > 100) throw rangeError(`${f}.percentage`, 'an integer in [0, 100]', p);
      if (!(ctx.percentage < p)) match = false;
    }
    if (c.clientHostname !== undefined) {
      const hosts = stringList(`${f}.clientHostname`, c.clientHostname);
      if (hosts.length > 0 && (ctx.hostname === undefined || !hosts.includes(ctx.hostname))) match = false;
    }
    if (match && chosen === null) chosen = sc as ServiceConfig;
  });
  return chosen;
}

/**
 * The service config in a TXT answer (`resolveTxt` shape: one array of strings per record): the first
 * record whose first string starts with `grpc_config=`, its strings concatenated. `undefined` when there
 * is no such record, null when no choice matches; a TypeError naming `grpc_config` for bad JSON.
 */
export function serviceConfigFromTxt(
  records: readonly (readonly string[])[],
  ctx: ChoiceContext,
): ServiceConfig | null | undefined {
  for (const rec of records) {
    if (rec.length === 0 || !rec[0]!.startsWith(GRPC_CONFIG_ATTRIBUTE)) continue;
    const text = rec.join('').slice(GRPC_CONFIG_ATTRIBUTE.length);
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw typeError('grpc_config', 'a JSON array of service config choices', text);
    }
    return selectServiceConfig(json, ctx, 'grpc_config');
  }
  return undefined;
}

/**
 * The service config in an etcd value: a service config object, or an A2 choice list (also with the
 * `grpc_config=` prefix). null when no choice matches; a TypeError naming `field` for anything else.
 */
export function serviceConfigFromValue(value: string, ctx: ChoiceContext, field: string): ServiceConfig | null {
  let text = value.trim();
  if (text.startsWith(GRPC_CONFIG_ATTRIBUTE)) text = text.slice(GRPC_CONFIG_ATTRIBUTE.length);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw typeError(field, 'a JSON service config object or a list of service config choices', value);
  }
  if (json !== null && typeof json === 'object' && !Array.isArray(json)) return json as ServiceConfig;
  return selectServiceConfig(json, ctx, field);
}

/** os.hostname() where Node's builtins are reachable without an import (bundlers never see it). */
function defaultHostname(): string | undefined {
  const proc = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
  try {
    const os = proc?.getBuiltinModule?.('node:os') as { hostname?: () => string } | undefined;
    return os?.hostname?.();
  } catch {
    return undefined;
  }
}

/**
 * A resolver's service-config state: the choice context (drawn once) and the last config delivered, so
 * an unchanged config (compared as JSON text) is not delivered again.
 */
export class ServiceConfigTracker {
  readonly enabled: boolean;
  readonly ctx: ChoiceContext;
  private last: string | undefined;
  private lastSource: string | undefined;

  constructor(opts: ServiceConfigResolverOptions) {
    if (opts.disableServiceConfig !== undefined) bool('disableServiceConfig', opts.disableServiceConfig);
    if (opts.clientHostname !== undefined) str('clientHostname', opts.clientHostname);
    const random = opts.random === undefined ? Math.random : validateRandom('random', opts.random);
    this.enabled = opts.disableServiceConfig !== true;
    const draw = this.enabled ? random() : 0;
    if (typeof draw !== 'number' || !(draw >= 0 && draw < 1)) throw rangeError('random()', 'a number in [0, 1)', draw);
    this.ctx = { percentage: draw * 100, hostname: opts.clientHostname ?? defaultHostname() };
  }

  /**
   * Whether `source` (the raw record or value) is the one processed last: then neither its config nor
   * its error is reported again. Records it as processed.
   */
  seen(source: string): boolean {
    if (source === this.lastSource) return true;
    this.lastSource = source;
    return false;
  }

  /** Whether `sc` differs from the config delivered last (and records it as delivered). */
  changed(sc: ServiceConfig): boolean {
    const text = JSON.stringify(sc);
    if (text === this.last) return false;
    this.last = text;
    return true;
  }

  /** Forgets the last config (its source went away): the next one is delivered even if identical. */
  forget(): void {
    this.last = undefined;
    this.lastSource = undefined;
  }
}

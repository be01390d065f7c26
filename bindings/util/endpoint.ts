// Endpoints: one parser and one equality rule for the Balancer, the resolvers and everything that takes a
// member list. `id` is the identity used for diffs (by default `host:port`): two endpoints with the same id
// are the same member, and an endpoint whose fields (weight, priority, address or metadata) differ from the
// one held under its id is an update.
//
//   parseEndpoint('10.0.0.1:8080')                   // { id: '10.0.0.1:8080', host: '10.0.0.1', port: 8080, ... }
//   parseEndpoint({ host: '::1', port: 9, weight: 3 }) // id '[::1]:9'
//   parseEndpoint('cache-a')                         // a name without an address: host 'cache-a', port 0
//   parseEndpoint('cache-a', 'endpoints[0]', { address: 'required' }) // TypeError: needs "host:port"
//
// Rules: a port, when given, is an integer in [1, 65535]; a string with a ':' is an address ("host:port" or
// "[v6]:port") and is parsed strictly; a string without one is a name (port 0 = no address), accepted only
// where the address is optional (the Balancer, key routing) and rejected where it is required (resolvers,
// which report dialable addresses). Weight: finite and > 0 (default 1). Priority: an integer >= 0 (default 0,
// lower is preferred). Metadata: a plain object (default {}), compared by value. Locality: optional, see
// `Locality`. A field left out (undefined) takes its default; null is a TypeError.
import { asObject, checkKeys, intInRange, numberError, positive, rangeError, str, typeError } from './validate.js';

export interface Endpoint {
  id: string;
  host: string;
  /** 1-65535, or 0 for a member named without an address. */
  port: number;
  /** Relative weight, finite and > 0 (default 1). */
  weight: number;
  /** Lower is preferred (SRV priority, locality); an integer >= 0, default 0. */
  priority: number;
  metadata: Readonly<Record<string, unknown>>;
  /** Where the member runs (Envoy/xDS Locality); absent when unknown. */
  locality?: Locality;
}

/**
 * Envoy's Locality: region, zone and sub-zone ('' when not known). Members with equal localities share a
 * locality; locality-weighted and zone-aware balancing group members by it. Accepted as an object or as
 * "region/zone/subZone" (trailing parts optional).
 */
export interface Locality {
  readonly region: string;
  readonly zone: string;
  readonly subZone: string;
}

/** Validates a locality: { region?, zone?, subZone? } or "region/zone/subZone". */
export function parseLocality(input: unknown, field = 'locality'): Locality {
  if (typeof input === 'string') {
    const parts = input.split('/');
    if (parts.length > 3) throw rangeError(field, '"region/zone/subZone" (at most 3 parts)', input);
    return { region: parts[0] ?? '', zone: parts[1] ?? '', subZone: parts[2] ?? '' };
  }
  if (input === null || typeof input !== 'object' || Array.isArray(input))
    throw typeError(field, 'an object { region, zone, subZone } or "region/zone/subZone"', input);
  const o = input as Record<string, unknown>;
  checkKeys(field, o, ['region', 'zone', 'subZone']);
  const part = (k: 'region' | 'zone' | 'subZone'): string => (o[k] === undefined ? '' : str(`${field}.${k}`, o[k]));
  return { region: part('region'), zone: part('zone'), subZone: part('subZone') };
}

/** "region/zone/subZone" (the key members of one locality share); '' for none. */
export function localityKey(l: Locality | undefined): string {
  return l === undefined ? '' : `${l.region}/${l.zone}/${l.subZone}`;
}

export type EndpointInput =
  | string
  | (Partial<Omit<Endpoint, 'locality'>> & { locality?: Locality | string } & (
        { id: string } | { host: string; port: number }
      ));

export interface ParseEndpointOptions {
  /** 'required': the endpoint must carry a dialable host and port. Default 'optional'. */
  address?: 'required' | 'optional';
}

/** Splits "host:port" / "[v6]:port"; `defaultPort` applies when the port is absent. */
export function parseHostPort(field: string, s: string, defaultPort?: number): { host: string; port: number } {
  if (typeof s !== 'string' || s.length === 0) throw typeError(field, 'a "host:port" string', s);
  let host: string;
  let portStr: string | undefined;
  if (s.startsWith('[')) {
    const end = s.indexOf(']');
    const rest = s.slice(end + 1); // all of s when there is no ']'
    if (end < 0 || (rest !== '' && rest[0] !== ':')) throw typeError(field, 'a "[v6]:port" address', s);
    host = s.slice(1, end);
    if (rest !== '') portStr = rest.slice(1);
  } else {
    const colon = s.lastIndexOf(':');
    // no colon, or a bare IPv6 literal (several): no port
    if (colon < 0 || s.indexOf(':') !== colon) host = s;
    else {
      host = s.slice(0, colon);
      portStr = s.slice(colon + 1);
    }
  }
  if (badHost(host)) throw typeError(field, 'an address with a host name or an IP address', s);
  if (portStr === undefined) {
    if (defaultPort === undefined) throw typeError(field, 'an address with a port ("host:port")', s);
    return { host, port: defaultPort };
  }
  if (!/^\d{1,5}$/.test(portStr)) throw typeError(field, 'an address with a numeric port', s);
  const port = Number(portStr);
  if (port < 1 || port > 65535) throw rangeError(`${field} port`, 'an integer in [1, 65535]', port);
  return { host, port };
}

/**
 * Not a host a URL can carry as given: empty, or with whitespace, '/', '?', '#', '@', '\\', '%' or brackets
 * (which would move the rest into the path or userinfo, or decode to them), a ':' outside an IPv6 address (bare:
 * brackets are added), or a name whose last label is a number (a URL parser reads it as IPv4, WHATWG's "ends in
 * a number") that is not four decimal octets.
 */
function badHost(host: string): boolean {
  if (!/^([^\s/?#@\\[\]:%]+|[\da-f.]*:[\da-f.]*:[\da-f:.]*(%[\w.-]+)?)$/i.test(host)) return true;
  return (
    !host.includes(':') &&
    /(^|\.)(\d+|0x[\da-f]*)\.?$/i.test(host) &&
    !/^((25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.|$)){4}$/.test(host)
  );
}

/** "host:port", with IPv6 hosts in brackets. */
export function formatHostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** A string id: an address when it has a ':' (parsed strictly), otherwise a name without one (port 0). */
function fromId(field: string, id: string, required: boolean): { host: string; port: number } {
  if (id.includes(':') || required) return parseHostPort(field, id);
  return { host: id, port: 0 };
}

/** The keys of an endpoint object (a misspelt one, `wieght`, must not read as the default). */
const ENDPOINT_KEYS = ['id', 'host', 'port', 'weight', 'priority', 'metadata', 'locality'];

/** Validates one endpoint; throws a TypeError/RangeError naming `field` and the value. */
export function parseEndpoint(input: EndpointInput, field = 'endpoint', options: ParseEndpointOptions = {}): Endpoint {
  const required = options.address === 'required';
  if (typeof input === 'string') {
    if (input === '') throw rangeError(field, 'a non-empty string', input);
    const { host, port } = fromId(field, input, required);
    return { id: port === 0 ? input : formatHostPort(host, port), host, port, weight: 1, priority: 0, metadata: {} };
  }
  if (input === null || typeof input !== 'object')
    throw typeError(field, '"host:port", a name, or { id | host, port, weight, priority, metadata }', input);
  const o = input as Partial<Record<keyof Endpoint, unknown>>;
  checkKeys(field, o, ENDPOINT_KEYS);
  if (o.id !== undefined && (typeof o.id !== 'string' || o.id === ''))
    throw typeError(`${field}.id`, 'a non-empty string', o.id);
  if (o.host !== undefined && (typeof o.host !== 'string' || badHost(o.host)))
    throw typeError(`${field}.host`, 'a host name or an IP address', o.host);
  if (o.port !== undefined) intInRange(`${field}.port`, o.port, 1, 65535);
  let host = o.host as string | undefined;
  let port = o.port as number | undefined;
  if (host === undefined || port === undefined) {
    if (o.id === undefined) throw typeError(field, 'an object with id, or with host and port', input);
    const fromIdAddr = fromId(`${field}.id`, o.id as string, required);
    host ??= fromIdAddr.host;
    port ??= fromIdAddr.port;
  }
  const id = (o.id as string | undefined) ?? formatHostPort(host, port);
  // only undefined is the default: null is a TypeError, as for every field
  const weight = positive(`${field}.weight`, o.weight === undefined ? 1 : o.weight);
  const priority = (o.priority === undefined ? 0 : o.priority) as number;
  if (!(Number.isInteger(priority) && priority >= 0))
    throw numberError(`${field}.priority`, 'an integer >= 0', priority);
  const metadata = asObject(`${field}.metadata`, o.metadata);
  const ep: Endpoint = { id, host, port, weight, priority, metadata };
  if (o.locality !== undefined) ep.locality = parseLocality(o.locality, `${field}.locality`);
  return ep;
}

/**
 * Validates a list: bad entries and duplicate ids (the first one wins) are skipped, each reported to
 * `onError`. Never throws. For resolvers, which must not fail a whole update for one bad record.
 */
export function parseEndpoints(
  field: string,
  inputs: readonly EndpointInput[],
  onError: (e: Error) => void,
  options: ParseEndpointOptions = { address: 'required' },
): Endpoint[] {
  const out: Endpoint[] = [];
  const seen = new Set<string>();
  for (let i = 0; i < inputs.length; i++) {
    let ep: Endpoint;
    try {
      ep = parseEndpoint(inputs[i]!, `${field}[${i}]`, options);
    } catch (e) {
      onError(e as Error);
      continue;
    }
    if (seen.has(ep.id)) {
      onError(typeError(`${field}[${i}].id`, 'unique (duplicate endpoint skipped)', ep.id));
      continue;
    }
    seen.add(ep.id);
    out.push(ep);
  }
  return out;
}

/** Endpoints by host, then port: the order in which a resolver's identical answers compare equal. */
export const byHostPort = (x: Endpoint, y: Endpoint): number =>
  x.host < y.host ? -1 : x.host > y.host ? 1 : x.port - y.port;

/**
 * A resolver's answer as a list (DNS records, Consul entries): each input validated with the address required
 * (a bad one skipped and reported to `onError`, named `field[index]` by its place in the answer, not in the
 * sorted list, or by a label the resolver gives: `dns+srv[a.svc:0]`, as DNS servers rotate answers), the valid ones sorted by `cmp` (stably), and duplicate ids skipped (the first in the answer is
 * kept, reported too). Never throws.
 */
export function parseAnswer(
  field: string,
  items: ReadonlyArray<{ index: number | string; input: EndpointInput }>,
  cmp: (x: Endpoint, y: Endpoint) => number,
  onError: (e: Error) => void,
): Endpoint[] {
  const parsed: Array<{ index: number | string; ep: Endpoint }> = [];
  for (const { index, input } of items) {
    try {
      parsed.push({ index, ep: parseEndpoint(input, `${field}[${index}]`, { address: 'required' }) });
    } catch (e) {
      onError(e as Error);
    }
  }
  parsed.sort((x, y) => cmp(x.ep, y.ep));
  const seen = new Set<string>();
  const out: Endpoint[] = [];
  for (const { index, ep } of parsed) {
    if (seen.has(ep.id)) onError(typeError(`${field}[${index}].id`, 'unique (duplicate endpoint skipped)', ep.id));
    else {
      seen.add(ep.id);
      out.push(ep);
    }
  }
  return out;
}

/** Whether two endpoints are the same member in the same state: every field, metadata by value. */
export function sameEndpoint(a: Endpoint, b: Endpoint): boolean {
  if (a === b) return true;
  return (
    a.id === b.id &&
    a.host === b.host &&
    a.port === b.port &&
    a.weight === b.weight &&
    a.priority === b.priority &&
    localityKey(a.locality) === localityKey(b.locality) &&
    sameValue(a.metadata, b.metadata)
  );
}

/** Whether two endpoint lists are equal element by element (same order). */
export function sameEndpoints(a: readonly Endpoint[], b: readonly Endpoint[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (!sameEndpoint(a[i]!, b[i]!)) return false;
  return true;
}

/** Structural equality of JSON-like values (metadata from resolvers: objects, arrays, primitives). */
function sameValue(a: unknown, b: unknown, depth = 0): boolean {
  if (Object.is(a, b)) return true;
  // a cycle (or metadata nested past 64 levels) counts as a change rather than overflowing the stack
  if (a === null || b === null || typeof a !== 'object' || typeof b !== 'object' || depth > 64) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  if (ka.length !== kb.length) return false;
  for (const k of ka) {
    if (!Object.hasOwn(b, k)) return false;
    if (!sameValue((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], depth + 1)) return false;
  }
  return true;
}

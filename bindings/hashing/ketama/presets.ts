// The ketama presets' server rules (the table in ketama.ts): how each upstream spells a server, which label
// its digests are taken of, and how many digests it gets, with the float rounding of each upstream reproduced
// step by step; and the membership rules of a KetamaRing (servers in the order given, `add` appends; ids and
// labels unique). Sources: RJ/ketama libketama/ketama.c; awesomized/libmemcached src/libmemcached/hosts.cc
// (update_continuum); twitter/twemproxy src/hashkit/nc_ketama.c and src/nc_conf.c (conf_add_server);
// 3rd-Eden/node-hashring index.js with connection-parse.
import { checkKeys, intInRange, rangeError, str, typeError } from '../../util/validate.js';
import { isMemberList, memberWeight, type MembershipRules, wellFormedId } from '../membership.js';

export const KETAMA_COMPATS = ['libketama', 'libmemcached', 'spymemcached', 'twemproxy', 'hashring'] as const;
export type KetamaCompat = (typeof KETAMA_COMPATS)[number];

export type KetamaServer = string | { id: string; weight?: number; name?: string; vnodes?: number };

/** libmemcached and twemproxy leave the port out of labels when it is memcached's default. */
export const MEMCACHED_DEFAULT_PORT = 11211;
const MAX_INT_WEIGHT = 0x7fffffff;
/** The keys of a server object (`name`: twemproxy's, `vnodes`: hashring's). */
const SERVER_KEYS = ['id', 'weight', 'name', 'vnodes'];
/** A nutcracker.yml `servers:` line: "host:port:weight [name]". */
const TWEMPROXY_LINE = /^(\S+):(\d+):(\d+)(?: (\S+))?$/;

/** A parsed server: the id as given, its weight, the label its digests are taken of, hashring's own vnodes. */
export interface KetamaServerSpec {
  id: string;
  weight: number;
  label: string;
  /** hashring per-server vnodes, 0 if unset. */
  vnodes: number;
}

/**
 * A weight as `compat` takes it: for hashring a fractional weight in [1e-9, 1e9] (membership.ts
 * `memberWeight`), an integer in [1, 2^31 - 1] otherwise.
 */
export function serverWeight(compat: KetamaCompat, field: string, weight: unknown): number {
  return compat === 'hashring' ? memberWeight(field, weight) : intInRange(field, weight, 1, MAX_INT_WEIGHT);
}

/** Whether the id itself carries the weight (a twemproxy `host:port:weight` line), so setWeight cannot change it. */
export function idCarriesWeight(compat: KetamaCompat, id: string): boolean {
  return compat === 'twemproxy' && TWEMPROXY_LINE.test(id);
}

/**
 * One server as `compat` spells it (docs/compatibility.md, "Server spellings per compat"): its id, weight,
 * label prefix and, for hashring, its own vnodes. `defaultPort` is hashring's `default port` option.
 */
export function parseServer(
  s: unknown,
  field: string,
  compat: KetamaCompat,
  defaultPort: number | null,
): KetamaServerSpec {
  let id: string;
  let weight: number | undefined;
  let name: string | undefined;
  let vnodes = 0;
  if (typeof s === 'string') id = s;
  else if (s !== null && typeof s === 'object') {
    checkKeys(field, s, SERVER_KEYS);
    const o = s as { id?: unknown; weight?: unknown; name?: unknown; vnodes?: unknown };
    id = str(`${field}.id`, o.id);
    if (o.weight !== undefined) weight = serverWeight(compat, `${field}.weight`, o.weight);
    if (o.name !== undefined) {
      if (compat !== 'twemproxy')
        throw rangeError(`${field}.name`, `unset for compat '${compat}' (a twemproxy node name)`, o.name);
      if (typeof o.name !== 'string' || o.name.length === 0 || /\s/.test(o.name))
        throw typeError(`${field}.name`, 'a non-empty string without spaces', o.name);
      name = o.name;
    }
    if (o.vnodes !== undefined) {
      if (compat !== 'hashring')
        throw rangeError(`${field}.vnodes`, `unset for compat '${compat}' (a hashring option)`, o.vnodes);
      vnodes = intInRange(`${field}.vnodes`, o.vnodes, 1, 1 << 20);
    }
  } else throw typeError(field, 'a server string or { id, weight }', s);
  const idField = typeof s === 'string' ? field : `${field}.id`;
  if (id.length === 0) throw rangeError(idField, 'a non-empty server id', id);
  wellFormedId(idField, id);
  switch (compat) {
    case 'libketama':
      if (/\s/.test(id)) throw rangeError(idField, "an address without whitespace, e.g. '10.0.1.1:11211'", id);
      return { id, weight: weight ?? 1, label: id, vnodes };
    case 'libmemcached':
    case 'spymemcached': {
      const [host, port] = hostPort(id, idField, MEMCACHED_DEFAULT_PORT);
      const label =
        compat === 'spymemcached' ? `/${host}:${port}` : port === MEMCACHED_DEFAULT_PORT ? host : `${host}:${port}`;
      return { id, weight: weight ?? 1, label, vnodes };
    }
    case 'twemproxy': {
      // a nutcracker.yml servers line: "host:port:weight [name]"
      const line = TWEMPROXY_LINE.exec(id);
      let host: string;
      let port: number;
      if (line !== null) {
        if (weight !== undefined)
          throw rangeError(`${field}.weight`, 'unset when the id carries a weight (host:port:weight)', weight);
        if (name !== undefined && line[4] !== undefined)
          throw rangeError(`${field}.name`, 'unset when the id carries a name', name);
        host = line[1]!;
        port = intInRange(`${idField} port`, Number(line[2]), 1, 65535);
        weight = intInRange(`${idField} weight`, Number(line[3]), 1, MAX_INT_WEIGHT);
        name ??= line[4];
      } else {
        [host, port] = hostPort(id, idField, null);
      }
      return {
        id,
        weight: weight ?? 1,
        label: name ?? (port === MEMCACHED_DEFAULT_PORT ? host : `${host}:${port}`),
        vnodes,
      };
    }
    case 'hashring': {
      // connection-parse: host = text before the first ':', port = +(text after it)
      const parts = id.split(':');
      const port = Number(parts[1]);
      const label = defaultPort !== null && port === defaultPort ? parts[0]! : id;
      return { id, weight: weight ?? 1, label, vnodes };
    }
  }
}

/** 'host', 'host:port' or '[v6]:port' -> [host, port]; port falls back to `dflt` (an error if null). */
function hostPort(id: string, field: string, dflt: number | null): [string, number] {
  let host: string;
  let portText: string | undefined;
  const v6 = /^\[([^\]]+)\](?::(.*))?$/.exec(id);
  if (v6 !== null) {
    host = v6[1]!;
    portText = v6[2];
  } else {
    const i = id.lastIndexOf(':');
    if (i >= 0 && id.indexOf(':') !== i) throw rangeError(field, "'host', 'host:port' or '[ipv6]:port'", id);
    host = i < 0 ? id : id.slice(0, i);
    portText = i < 0 ? undefined : id.slice(i + 1);
  }
  if (host.length === 0 || /\s/.test(host))
    throw rangeError(field, "'host', 'host:port' or '[ipv6]:port' with a non-empty host", id);
  if (portText === undefined) {
    if (dflt === null) throw rangeError(field, "'host:port' or 'host:port:weight [name]'", id);
    return [host, dflt];
  }
  if (!/^\d{1,5}$/.test(portText) || Number(portText) < 1 || Number(portText) > 65535)
    throw rangeError(`${field} port`, 'an integer in [1, 65535]', portText);
  return [host, Number(portText)];
}

const sameServer = (a: KetamaServerSpec, b: KetamaServerSpec): boolean =>
  a.id === b.id && a.weight === b.weight && a.label === b.label && a.vnodes === b.vnodes;

/**
 * A server whose label another server has: both would hash the same points, and the later would own no key
 * (nutcracker refuses two servers of one name). `holder` names the other server, `hint` what to do.
 */
function labelTaken(field: string, p: KetamaServerSpec, holder: string, hint: string): RangeError {
  return rangeError(`${field} label ${JSON.stringify(p.label)}`, `unique: ${holder} has it too (${hint})`, p.id);
}
const CHANGE = 'to change that server, remove it first or reset with the new list';

/**
 * A KetamaRing's membership rules: a list of servers in the order given, each spelled as `compat` spells it;
 * ids and labels unique.
 */
export function serverRules(compat: KetamaCompat, defaultPort: number | null): MembershipRules<KetamaServerSpec[]> {
  const listHint =
    compat === 'twemproxy'
      ? 'give each server once, under a name of its own'
      : compat === 'hashring'
        ? `give each server once: 'host:${defaultPort}' is labelled 'host'`
        : "give each server once: 'host' is 'host:11211'";
  return {
    parse(input) {
      if (
        input === null ||
        typeof input === 'string' ||
        typeof (input as Iterable<KetamaServer>)[Symbol.iterator] !== 'function'
      ) {
        throw typeError('servers', 'an iterable of server strings or { id, weight }', input);
      }
      const list: KetamaServerSpec[] = [];
      const seen = new Set<string>();
      const labels = new Map<string, number>();
      let i = 0;
      for (const s of input as Iterable<unknown>) {
        const field = `servers[${i++}]`;
        const p = parseServer(s, field, compat, defaultPort);
        if (seen.has(p.id)) throw rangeError(typeof s === 'string' ? field : `${field}.id`, 'unique', p.id);
        const j = labels.get(p.label);
        if (j !== undefined) throw labelTaken(field, p, `servers[${j}] ${JSON.stringify(list[j]!.id)}`, listHint);
        seen.add(p.id);
        labels.set(p.label, list.length);
        list.push(p);
      }
      return list;
    },
    // appends; a server already present is a no-op when spelled as before, an error otherwise
    add(current, input) {
      const many = isMemberList(input);
      const list: unknown[] = many ? [...input] : [input];
      const next = [...current];
      // label -> [holder, hint]: a server of the ring, or servers[j] of this list
      const labels = new Map(current.map((o): [string, [string, string]] => [o.label, [JSON.stringify(o.id), CHANGE]]));
      let changed = false;
      list.forEach((s, i) => {
        const field = many ? `servers[${i}]` : 'server';
        const p = parseServer(s, field, compat, defaultPort);
        const old = next.find((o) => o.id === p.id);
        if (old !== undefined) {
          if (sameServer(old, p)) return;
          throw rangeError(
            `server ${JSON.stringify(p.id)}`,
            'absent, or given as before (setWeight() changes its weight; remove it first to change the rest)',
            s,
          );
        }
        const holder = labels.get(p.label);
        if (holder !== undefined) throw labelTaken(field, p, ...holder);
        labels.set(p.label, [`servers[${i}] ${JSON.stringify(p.id)}`, listHint]);
        next.push(p);
        changed = true;
      });
      return changed ? next : null;
    },
    remove(current, ids) {
      const list = typeof ids === 'string' ? [ids] : ids;
      if (!Array.isArray(list)) throw typeError('ids', 'a server id or an array of ids', ids);
      for (const id of list) str('id', id);
      const next = current.filter((s) => !list.includes(s.id));
      return next.length !== current.length ? next : null;
    },
    // keeps the server's place
    setWeight(current, id, weight) {
      str('id', id);
      const i = current.findIndex((s) => s.id === id);
      if (i < 0) throw rangeError('id', 'a server of this ring', id);
      if (idCarriesWeight(compat, id))
        throw rangeError('id', 'a server whose id does not carry its weight (host:port:weight)', id);
      const w = serverWeight(compat, 'weight', weight);
      if (current[i]!.weight === w) return null;
      const next = [...current];
      next[i] = { ...next[i]!, weight: w };
      return next;
    },
    same: (a, b) => a.length === b.length && a.every((s, i) => sameServer(s, b[i]!)),
    weight: (current, id) => current.find((s) => s.id === id)?.weight,
  };
}

/** Digests per server for the preset (the float rounding of each upstream, reproduced step by step). */
export function serverDigests(list: readonly KetamaServerSpec[], compat: KetamaCompat, vnodeCount: number): number[] {
  const n = list.length;
  let total = 0;
  for (const s of list) total += s.weight;
  const f = Math.fround;
  switch (compat) {
    case 'libketama':
      // float pct = (float)mem / (float)total; floorf(pct * 40.0 * (float)n): double product, float argument
      return list.map((s) => Math.floor(f(f(f(s.weight) / f(total)) * 40.0 * n)));
    case 'libmemcached':
    case 'spymemcached':
      // floor((float)(pct * 160 / 4 * (float)n + 0.0000000001F)) * 4, all in float
      return list.map((s) => {
        const pct = f(f(s.weight) / f(total));
        return Math.floor(f(f(f(f(pct * 160) / 4) * n) + f(1e-10)));
      });
    case 'twemproxy':
      // floorf((float)(pct * 160 / 4 * (float)n + 0.0000000001)): float product, double sum, float cast
      return list.map((s) => {
        const pct = f(f(s.weight) / f(total));
        return Math.floor(f(f(f(f(pct * 160) / 4) * n) + 1e-10));
      });
    case 'hashring':
      return list.map((s) => {
        const vnodes = s.vnodes || vnodeCount;
        return vnodes !== vnodeCount ? vnodes : Math.floor((s.weight / total) * vnodeCount * n);
      });
  }
}

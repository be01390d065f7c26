// What an etcd key prefix holds, as endpoints: values in etcd's naming convention
// (go.etcd.io/etcd/client/v3/naming/endpoints, `{"Op":0,"Addr":"host:port","Metadata":{...}}`, or a plain
// `host:port`) parsed by the one endpoint parser (util/endpoint.ts, address required), and the key → endpoint
// bookkeeping the resolver (resolver.ts) updates from its list and watch events.
//
// Metadata keys read (the rest is kept in `metadata`): `weight` (a number > 0, default 1), `priority` (an
// integer >= 0, default 0), and the locality: `locality` ({ region, zone, subZone } or
// "region/zone/subZone"), else `region` with the optional `zone` and `subZone` beside it (a `zone` without
// a `region` stays plain metadata). A value of the wrong type skips the entry with a TypeError/RangeError
// naming the key and the field.
import { parseEndpoint, parseHostPort, type Endpoint } from '../../util/endpoint.js';
import { typeError } from '../../util/validate.js';

const REQUIRED = { address: 'required' } as const;

/** Parses one value; returns the endpoint, `null` for a naming-convention Delete op, or throws a TypeError. */
export function parseEtcdValue(key: string, value: string): Endpoint | null {
  const field = `etcd value of ${JSON.stringify(key)}`;
  const v = value.trim();
  if (v.startsWith('{')) {
    let obj: unknown;
    try {
      obj = JSON.parse(v);
    } catch {
      throw typeError(field, 'JSON {"Op":0,"Addr":"host:port"} or "host:port"', value);
    }
    const o = obj as { Op?: unknown; Addr?: unknown; Metadata?: unknown };
    if (o.Op === 1) return null;
    if (o.Op !== undefined && o.Op !== 0) throw typeError(`${field}.Op`, '0 (Add) or 1 (Delete)', o.Op);
    if (typeof o.Addr !== 'string') throw typeError(`${field}.Addr`, 'a "host:port" string', o.Addr);
    const { host, port } = parseHostPort(`${field}.Addr`, o.Addr);
    if (Array.isArray(o.Metadata)) {
      const text = JSON.stringify(o.Metadata);
      const shown = text.length > 40 ? `${text.slice(0, 40)}…` : text;
      throw new TypeError(`${field}.Metadata must be an object, got an array ${shown}`);
    }
    if (o.Metadata !== undefined && o.Metadata !== null && typeof o.Metadata !== 'object')
      throw typeError(`${field}.Metadata`, 'an object', o.Metadata);
    const md = (o.Metadata ?? {}) as Record<string, unknown>;
    const locality = metadataLocality(md);
    return parseEndpoint(
      {
        host,
        port,
        weight: (md.weight ?? 1) as number,
        priority: (md.priority ?? 0) as number,
        metadata: { ...md, key },
        ...(locality !== undefined && { locality: locality as never }),
      },
      field,
      REQUIRED,
    );
  }
  const { host, port } = parseHostPort(field, v);
  return parseEndpoint({ host, port, metadata: { key } }, field, REQUIRED);
}

/** `Metadata.locality`, else `region` (+ `zone`, `subZone`); undefined when neither is set. */
function metadataLocality(md: Record<string, unknown>): unknown {
  if (md.locality !== undefined) return md.locality;
  if (md.region === undefined) return undefined;
  const out: Record<string, unknown> = {};
  for (const k of ['region', 'zone', 'subZone'] as const) if (md[k] !== undefined) out[k] = md[k];
  return out;
}

/**
 * The members under the prefix, kept incrementally so one event costs O(1) map work plus one array copy
 * (10 000 members at 100 updates/s): `list` holds the reported endpoints in order; an address claimed by
 * two keys is reported once (the first key), the other key is skipped with an error and takes over when
 * the first goes away.
 */
export class Membership {
  /** key → parsed endpoint (null: a bad value or a Delete op). */
  private readonly byKey = new Map<string, Endpoint | null>();
  /** endpoint id → the key whose endpoint is reported. */
  private readonly owner = new Map<string, string>();
  readonly list: Endpoint[] = [];

  constructor(private readonly onError: (e: Error) => void) {}

  /** Returns whether the reported list changed. */
  set(key: string, ep: Endpoint | null): boolean {
    const old = this.byKey.get(key);
    this.byKey.set(key, ep);
    if (old !== undefined && old !== null && this.owner.get(old.id) === key) {
      const i = this.list.indexOf(old);
      if (ep !== null && (ep.id === old.id || !this.owner.has(ep.id))) {
        this.list[i] = ep;
        if (ep.id !== old.id) {
          this.owner.delete(old.id);
          this.owner.set(ep.id, key);
          this.promote(old.id);
        }
        return true;
      }
      this.list.splice(i, 1);
      this.owner.delete(old.id);
      this.promote(old.id);
      if (ep !== null) this.claim(key, ep);
      return true;
    }
    return ep !== null && this.claim(key, ep);
  }

  delete(key: string): boolean {
    const old = this.byKey.get(key);
    if (old === undefined) return false;
    this.byKey.delete(key);
    if (old === null || this.owner.get(old.id) !== key) return false;
    this.list.splice(this.list.indexOf(old), 1);
    this.owner.delete(old.id);
    this.promote(old.id);
    return true;
  }

  private claim(key: string, ep: Endpoint): boolean {
    const holder = this.owner.get(ep.id);
    if (holder !== undefined && holder !== key) {
      this.onError(typeError(`etcd key ${JSON.stringify(key)} Addr`, 'unique (duplicate endpoint skipped)', ep.id));
      return false;
    }
    this.owner.set(ep.id, key);
    this.list.push(ep);
    return true;
  }

  /** After `id` lost its key: the next key holding the same address (rare; a scan) is reported instead. */
  private promote(id: string): void {
    for (const [key, ep] of this.byKey) {
      if (ep !== null && ep.id === id && !this.owner.has(id)) {
        this.owner.set(id, key);
        this.list.push(ep);
        return;
      }
    }
  }
}

// A tiny scriptable UDP DNS server on 127.0.0.1 (A, AAAA, SRV, TXT; an rcode; a dropped or delayed answer),
// for what dnsmasq cannot be told to do: never answer one query type, answer late, serve records that change
// between two queries. Every query is recorded as [name, type].
//
//   const dns = await startMiniDns((name, type) => (type === 'A' ? { records: [{ type: 'A', addr: '10.0.0.1' }] } : { drop: true }));
//   new DnsResolver({ target: 'api.test:80', servers: [`127.0.0.1:${dns.port}`] }, listener);
import dgram from 'node:dgram';

export type Rec =
  | { type: 'A'; addr: string; ttl?: number }
  | { type: 'AAAA'; addr: string; ttl?: number }
  | { type: 'SRV'; prio: number; weight: number; port: number; target: string; ttl?: number }
  | { type: 'TXT'; strings: string[]; ttl?: number };
/** What to answer: records (of the asked type; others are left out), an rcode, nothing (`drop`), or late. */
export type Answer = { rcode?: number; records?: Rec[]; drop?: boolean; delayMs?: number };
export type Handler = (name: string, qtype: string) => Answer;

export interface MiniDns {
  port: number;
  /** `127.0.0.1:<port>`, for `servers`. */
  address: string;
  queries: Array<[string, string]>;
  close(): Promise<void>;
}

const TYPES: Record<number, string> = { 1: 'A', 28: 'AAAA', 33: 'SRV', 16: 'TXT' };
const CODES: Record<string, number> = { A: 1, AAAA: 28, SRV: 33, TXT: 16 };

function encName(name: string): Buffer {
  const parts = name
    .replace(/\.$/, '')
    .split('.')
    .filter((p) => p.length > 0);
  return Buffer.concat([
    ...parts.map((p) => Buffer.concat([Buffer.from([p.length]), Buffer.from(p)])),
    Buffer.from([0]),
  ]);
}

function u16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n);
  return b;
}

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b;
}

function rdata(r: Rec): Buffer {
  switch (r.type) {
    case 'A':
      return Buffer.from(r.addr.split('.').map(Number));
    case 'AAAA': {
      const [h, t] = r.addr.split('::');
      const head = h ? h.split(':') : [];
      const tail = t !== undefined && t ? t.split(':') : [];
      const groups = t === undefined ? head : [...head, ...Array(8 - head.length - tail.length).fill('0'), ...tail];
      return Buffer.concat(groups.map((g) => u16(parseInt(g, 16))));
    }
    case 'SRV':
      return Buffer.concat([u16(r.prio), u16(r.weight), u16(r.port), encName(r.target)]);
    case 'TXT':
      return Buffer.concat(
        r.strings.map((s) => {
          const b = Buffer.from(s);
          return Buffer.concat([Buffer.from([b.length]), b]);
        }),
      );
  }
}

export function startMiniDns(handler: Handler): Promise<MiniDns> {
  const sock = dgram.createSocket('udp4');
  const queries: Array<[string, string]> = [];
  const timers = new Set<NodeJS.Timeout>();
  sock.on('message', (msg, rinfo) => {
    const id = msg.readUInt16BE(0);
    let off = 12;
    const labels: string[] = [];
    while (msg[off] !== 0) {
      const l = msg[off]!;
      labels.push(msg.subarray(off + 1, off + 1 + l).toString());
      off += l + 1;
    }
    off++;
    const qt = msg.readUInt16BE(off);
    const qclass = msg.readUInt16BE(off + 2);
    const question = msg.subarray(12, off + 4);
    const name = labels.join('.');
    const qtype = TYPES[qt] ?? String(qt);
    queries.push([name, qtype]);
    const a = handler(name, qtype);
    if (a.drop === true) return;
    const answers = (a.records ?? [])
      .filter((r) => r.type === qtype)
      .map((r) => {
        const rd = rdata(r);
        return Buffer.concat([u16(0xc00c), u16(CODES[r.type]!), u16(qclass), u32(r.ttl ?? 60), u16(rd.length), rd]);
      });
    const hdr = Buffer.concat([u16(id), u16(0x8400 | (a.rcode ?? 0)), u16(1), u16(answers.length), u16(0), u16(0)]);
    const out = Buffer.concat([hdr, question, ...answers]);
    const send = () => sock.send(out, rinfo.port, rinfo.address);
    if (a.delayMs !== undefined && a.delayMs > 0) {
      const timer = setTimeout(() => {
        timers.delete(timer);
        send();
      }, a.delayMs);
      timers.add(timer);
    } else send();
  });
  return new Promise((resolve) =>
    sock.bind(0, '127.0.0.1', () => {
      const port = sock.address().port;
      resolve({
        port,
        address: `127.0.0.1:${port}`,
        queries,
        close: () =>
          new Promise<void>((done) => {
            for (const t of timers) clearTimeout(t);
            sock.close(() => done());
          }),
      });
    }),
  );
}

// A minimal Redis (RESP2) client over node:net for the examples: pipelined commands, replies parsed in order.
import { connect, type Socket } from 'node:net';

type Reply = string | number | null | Reply[] | Error;

export class Redis {
  private buf = Buffer.alloc(0);
  private readonly waiting: ((r: Reply) => void)[] = [];

  private constructor(private readonly socket: Socket) {
    socket.on('data', (d: Buffer) => {
      this.buf = Buffer.concat([this.buf, d]);
      for (;;) {
        const r = parse(this.buf, 0);
        if (r === undefined) break;
        this.buf = this.buf.subarray(r[1]);
        this.waiting.shift()!(r[0]);
      }
    });
  }

  static connect(port: number, host = '127.0.0.1'): Promise<Redis> {
    return new Promise((resolve, reject) => {
      const s = connect({ port, host }, () => resolve(new Redis(s)));
      s.once('error', reject);
    });
  }

  /** Sends all commands at once and resolves with their replies in order. */
  pipeline(commands: (string | number)[][]): Promise<Reply[]> {
    const parts: string[] = [];
    for (const c of commands) {
      parts.push(`*${c.length}\r\n`);
      for (const a of c) parts.push(`$${Buffer.byteLength(String(a))}\r\n${a}\r\n`);
    }
    const replies = commands.map(() => new Promise<Reply>((r) => this.waiting.push(r)));
    this.socket.write(parts.join(''));
    return Promise.all(replies);
  }

  async command(...args: (string | number)[]): Promise<Reply> {
    return (await this.pipeline([args]))[0]!;
  }

  close(): void {
    this.socket.end();
  }
}

function parse(b: Buffer, i: number): [Reply, number] | undefined {
  const eol = b.indexOf('\r\n', i);
  if (eol < 0) return undefined;
  const line = b.toString('utf8', i + 1, eol);
  const next = eol + 2;
  switch (b[i]) {
    case 0x2b: // +
      return [line, next];
    case 0x2d: // -
      return [new Error(line), next];
    case 0x3a: // :
      return [Number(line), next];
    case 0x24: {
      // $
      const n = Number(line);
      if (n < 0) return [null, next];
      if (b.length < next + n + 2) return undefined;
      return [b.toString('utf8', next, next + n), next + n + 2];
    }
    case 0x2a: {
      // *
      const n = Number(line);
      if (n < 0) return [null, next];
      const out: Reply[] = [];
      let p = next;
      for (let k = 0; k < n; k++) {
        const r = parse(b, p);
        if (r === undefined) return undefined;
        out.push(r[0]);
        p = r[1];
      }
      return [out, p];
    }
    default:
      throw new Error(`bad RESP byte ${b[i]}`);
  }
}

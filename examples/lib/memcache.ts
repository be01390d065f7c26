// A minimal memcached text-protocol client for the examples: pipelined `set` and `get`, replies in order.
import { connect, type Socket } from 'node:net';

export class Memcache {
  private buf = Buffer.alloc(0);
  private readonly waiting: { want: 'set' | 'get'; resolve: (v: string | undefined) => void }[] = [];

  private constructor(private readonly socket: Socket) {
    socket.on('data', (d: Buffer) => {
      this.buf = Buffer.concat([this.buf, d]);
      this.drain();
    });
  }

  static connect(port: number, host = '127.0.0.1'): Promise<Memcache> {
    return new Promise((resolve, reject) => {
      const s = connect({ port, host }, () => resolve(new Memcache(s)));
      s.once('error', reject);
    });
  }

  set(key: string, value: string): Promise<string | undefined> {
    const v = Buffer.from(value);
    this.socket.write(`set ${key} 0 0 ${v.length}\r\n${value}\r\n`);
    return new Promise((resolve) => this.waiting.push({ want: 'set', resolve }));
  }

  get(key: string): Promise<string | undefined> {
    this.socket.write(`get ${key}\r\n`);
    return new Promise((resolve) => this.waiting.push({ want: 'get', resolve }));
  }

  close(): void {
    this.socket.end();
  }

  private drain(): void {
    for (;;) {
      const w = this.waiting[0];
      if (w === undefined) return;
      const eol = this.buf.indexOf('\r\n');
      if (eol < 0) return;
      const line = this.buf.toString('utf8', 0, eol);
      if (w.want === 'set') {
        this.buf = this.buf.subarray(eol + 2);
        this.waiting.shift();
        w.resolve(line);
        continue;
      }
      if (line === 'END') {
        this.buf = this.buf.subarray(eol + 2);
        this.waiting.shift();
        w.resolve(undefined);
        continue;
      }
      const m = /^VALUE \S+ \d+ (\d+)$/.exec(line);
      if (m === null) throw new Error(`unexpected memcached reply: ${line}`);
      const n = Number(m[1]);
      const end = eol + 2 + n + 2 + 5; // data\r\nEND\r\n
      if (this.buf.length < end) return;
      const value = this.buf.toString('utf8', eol + 2, eol + 2 + n);
      this.buf = this.buf.subarray(end);
      this.waiting.shift();
      w.resolve(value);
    }
  }
}

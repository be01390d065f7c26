// Backends for bench/tail-latency.bench.ts, run in their own process (`node --import tsx bench/tail-backend.ts
// '<config json>'`) so that the client's event loop does not delay them. Each backend serves every request
// after `ms[i]` milliseconds with at most `capacity` requests in service (0: unlimited; the rest wait in FIFO
// order), answers Prequal probes (bindings/http/prequal-handler.ts) and counts requests and probes.
// An antagonist (a co-tenant's load, not counted as requests: Prequal's antagonist) can occupy service slots.
// Control on stdin, one JSON object a line; answers on stdout, one JSON object a line:
//   {"op":"ms","i":0,"ms":50}          backend 0 now takes 50 ms
//   {"op":"antagonist","i":1,"n":12}   12 antagonist jobs in a closed loop on backend 1 (0: off)
//   {"op":"stats"}                     → {"requests":[...],"probes":[...]}
//   {"op":"reset"}                     counters to 0, latencies back to the start, antagonists off
import { createServer } from 'node:http';
import { createInterface } from 'node:readline';
import { prequalHandler } from '../bindings/http/prequal-handler.js';

interface Config {
  ports: number[];
  ms: number[];
  capacity: number;
}

const cfg = JSON.parse(process.argv[2] ?? '{}') as Config;
const startMs = cfg.ms.slice();

class Backend {
  ms: number;
  busy = 0;
  requests = 0;
  antagonists = 0;
  private readonly queue: (() => void)[] = [];
  readonly handler;
  constructor(
    i: number,
    readonly capacity: number,
  ) {
    this.ms = cfg.ms[i]!;
    this.handler = prequalHandler((_req, res) => {
      this.requests++;
      this.run(() => res.end('ok'));
    });
  }
  get probes(): number {
    return this.handler.tracker.stats().probes;
  }
  run(done: () => void): void {
    const start = () => {
      this.busy++;
      setTimeout(() => {
        this.busy--;
        done();
        const next = this.queue.shift();
        if (next !== undefined) next();
      }, this.ms);
    };
    if (this.capacity === 0 || this.busy < this.capacity) start();
    else this.queue.push(start);
  }
  setAntagonists(n: number): void {
    const wasOff = this.antagonists;
    this.antagonists = n;
    for (let k = wasOff; k < n; k++) this.loop(k);
  }
  private loop(k: number): void {
    if (k >= this.antagonists) return;
    this.run(() => this.loop(k));
  }
}

const backends = cfg.ports.map((_, i) => new Backend(i, cfg.capacity));
let baseProbes = backends.map(() => 0);
let listening = 0;
cfg.ports.forEach((p, i) =>
  createServer(backends[i]!.handler).listen(p, '127.0.0.1', () => {
    if (++listening === cfg.ports.length) process.stdout.write('{"ready":true}\n');
  }),
);

createInterface({ input: process.stdin }).on('line', (line) => {
  const m = JSON.parse(line) as { op: string; i?: number; ms?: number; n?: number };
  if (m.op === 'ms') backends[m.i!]!.ms = m.ms!;
  else if (m.op === 'antagonist') backends[m.i!]!.setAntagonists(m.n!);
  else if (m.op === 'stats')
    process.stdout.write(
      JSON.stringify({
        requests: backends.map((b) => b.requests),
        probes: backends.map((b, i) => b.probes - baseProbes[i]!),
      }) + '\n',
    );
  else if (m.op === 'reset') {
    backends.forEach((b, i) => {
      b.requests = 0;
      b.ms = startMs[i]!;
      b.setAntagonists(0);
    });
    baseProbes = backends.map((b) => b.probes);
  }
});
process.stdin.on('end', () => process.exit(0));

// The main job a newcomer runs: `npm start -- --duration 5` (README's first command) and its summary, and the
// same demo in-process (runDemo, from source) for its structured summary: no failed request, the dying
// backend taken out and readmitted, and region us failing over to region eu by Envoy's priority formula and
// coming back.
// `npm start` runs the built dist/ (scripts/ensure-built.mjs builds it when it is older than the sources).
// DEMO_FROM_SOURCE=1 runs the CLI from source with tsx instead (no build), for working on the demo.
import test, { type ExecutionContext } from 'ava';
import { execFile, spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { promisify } from 'node:util';
import { createServer, type Server } from 'node:net';
import { runDemo, type DemoPhase } from '../../bindings/cli/demo.js';
import { CommandError } from '../../bindings/cli/args.js';

const root = resolve(import.meta.dirname, '../..');

/** The phases in which priority 1 (eu) has load, and the last phase (all back on us). */
function checkPhases(t: ExecutionContext, phases: Pick<DemoPhase, 'loadPercent' | 'observedPercent' | 'requests'>[]) {
  t.deepEqual(phases[0]!.loadPercent, [100, 0], 'the run starts with every request on us');
  // Envoy: us at 1 of 4 healthy -> health floor(1.4 × 100 × 1/4) = 35 -> us 35 %, eu 65 %; at 2 of 4: 70 / 30
  const loads = phases.map((p) => p.loadPercent.join('/'));
  t.true(loads.includes('35/65'), loads.join(' '));
  t.true(loads.includes('70/30'), loads.join(' '));
  t.true(
    loads.indexOf('35/65') < loads.lastIndexOf('70/30'),
    `api-1 and api-2 down before api-4 returns: ${loads.join(' ')}`,
  );
  const spill = phases.find((p) => p.loadPercent[1] === 65)!;
  t.true(spill.requests > 20, `requests in the 35/65 phase: ${spill.requests}`);
  t.true(spill.observedPercent[1]! > 30, `eu served ${spill.observedPercent[1]}% while its load was 65%`);
  const last = phases[phases.length - 1]!;
  t.deepEqual(last.loadPercent, [100, 0], 'traffic came back to us');
  t.true(last.requests > 20, `requests after the return: ${last.requests}`);
  // responses to requests picked just before the return still count for it: a few, not more
  t.true(last.observedPercent[1]! < 5, `eu served ${last.observedPercent[1]}% after the return`);
}

test.serial(
  'npm start -- --duration 5: requests flow, no failures, the dying backend is taken out and readmitted, us fails over to eu and back',
  async (t) => {
    const [cmd, args] =
      process.env.DEMO_FROM_SOURCE === '1'
        ? ['node', ['--import', 'tsx', 'bindings/cli/bin.ts', 'demo']]
        : ['npm', ['start', '--silent', '--']];
    const { stdout } = await promisify(execFile)(cmd, [...args, '--duration', '5', '--plain'], {
      cwd: root,
      timeout: 180_000,
      maxBuffer: 16 << 20,
    });
    const summary = stdout.split('\n').find((l) => l.startsWith('summary: '));
    t.truthy(summary, stdout.slice(-2000));
    const m =
      /summary: (\d+) requests, (\d+) retries, (\d+) failures; taken out of rotation: ([^;]*); readmitted: ([^;]*); share: (.*)$/.exec(
        summary!,
      )!;
    t.truthy(m, summary);
    t.true(Number(m[1]) > 100, `requests ${m[1]}`);
    t.is(Number(m[3]), 0, 'no failed requests');
    t.true(m[4]!.split(', ').includes('api-4'), `taken out: ${m[4]}`);
    t.true(m[5]!.split(', ').includes('api-4'), `readmitted: ${m[5]}`);
    // the slow backend gets less traffic than the fast ones under peak_ewma
    const share = Object.fromEntries(m[6]!.split(', ').map((s) => [s.split(' ')[0], parseFloat(s.split(' ')[1]!)]));
    t.true(share['api-3']! < share['api-1']!, m[6]);
    t.true(share['eu-1']! + share['eu-2']! > 0, `eu served part of the run: ${m[6]}`);
    t.regex(stdout, /chaos: api-4 is killed/);
    t.regex(stdout, /health api-4: .* -> (suspect|failed)|outlier api-4: ejected/);
    t.regex(stdout, /chaos: api-1 and api-2 are killed/);
    // the table shows each member's region and priority
    t.regex(stdout, /^eu-1 +eu +1 /m);
    t.regex(stdout, /^api-1 +us +0 /m);
    // phase lines: "phase 2.0s: load us 35% / eu 65%; served us 41.0% / eu 59.0% of 354"
    const phases = [
      ...stdout.matchAll(
        /^phase [\d.]+s: load us (\d+)% \/ eu (\d+)%; served us ([\d.]+)% \/ eu ([\d.]+)% of (\d+)$/gm,
      ),
    ].map((p) => ({
      loadPercent: [Number(p[1]), Number(p[2])],
      observedPercent: [Number(p[3]), Number(p[4])],
      requests: Number(p[5]),
    }));
    t.true(phases.length >= 3, stdout.slice(-2000));
    checkPhases(t, phases);
    const fo = /^failover: spilled to eu at ([\d.]+)s \(up to (\d+)%\), back to us at ([\d.]+)s/m.exec(stdout);
    t.truthy(fo, stdout.slice(-1000));
    t.is(Number(fo![2]), 65);
    t.true(Number(fo![3]) > Number(fo![1]));
  },
);

test.serial(
  'runDemo (in-process, 5 s): the summary records the failover to eu and the return, with 0 failures',
  async (t) => {
    const lines: string[] = [];
    const s = await runDemo({ durationS: 5, out: (l) => lines.push(l), tty: false, metricsPort: false });
    t.is(s.failures, 0, lines.join('\n').slice(-3000));
    t.true(s.requests > 100);
    t.deepEqual(
      s.members.map((m) => `${m.id} ${m.region} ${m.priority}`),
      ['api-1 us 0', 'api-2 us 0', 'api-3 us 0', 'api-4 us 0', 'eu-1 eu 1', 'eu-2 eu 1'],
    );
    checkPhases(t, s.phases);
    // phases follow each other in time, each with the healthy counts behind its loads
    t.true(s.phases.every((p, i) => i === 0 || p.atS >= s.phases[i - 1]!.atS));
    const spill = s.phases.find((p) => p.loadPercent[1] === 65)!;
    t.deepEqual(
      [spill.healthy, spill.total],
      [
        [1, 2],
        [4, 2],
      ],
    );
    t.is(s.failover.maxSpillPercent, 65);
    t.not(s.failover.spilledAtS, null);
    t.not(s.failover.returnedAtS, null);
    t.true(s.failover.returnedAtS! > s.failover.spilledAtS!);
    // killed at 40 % of the run, back at 70 %: the spill starts after the first and ends after the second
    t.true(s.failover.spilledAtS! >= 0.4 * 5, `spilled at ${s.failover.spilledAtS}`);
    t.true(s.failover.returnedAtS! >= 0.7 * 5, `returned at ${s.failover.returnedAtS}`);
    t.true(s.regionShare.eu! > 0 && s.regionShare.eu! < 0.5, `eu share ${s.regionShare.eu}`);
    t.true(Math.abs(s.regionShare.us! + s.regionShare.eu! - 1) < 1e-9);
    t.true(s.removed.includes('api-4') && s.readmitted.includes('api-4'));
    t.true(lines.some((l) => l.startsWith('failover: spilled to eu')));
  },
);

/** A loopback port held by a server of the test's own (closed by `close`). */
async function occupiedPort(): Promise<{ port: number; server: Server }> {
  const server = createServer();
  await new Promise<void>((res) => server.listen(0, '127.0.0.1', res));
  return { port: (server.address() as { port: number }).port, server };
}

test.serial(
  'demo --metrics-port on a port in use: one line, exit code 1, at once (nothing left running)',
  async (t) => {
    const { port, server } = await occupiedPort();
    try {
      const started = Date.now();
      const r = await promisify(execFile)(
        'node',
        [
          '--import',
          'tsx',
          'bindings/cli/bin.ts',
          'demo',
          '--duration',
          '1',
          '--plain',
          '--metrics-port',
          String(port),
        ],
        { cwd: root, timeout: 20_000 },
      ).then(
        () => t.fail('the demo ran') as never,
        (e: { code?: number; killed?: boolean; stdout: string; stderr: string }) => e,
      );
      t.false(r.killed, `still running after 20 s: ${r.stdout.slice(-500)}`);
      t.is(r.code, 1);
      t.is(
        r.stderr,
        `switchyard: demo: cannot serve metrics on 127.0.0.1:${port}: the port is in use (choose another --metrics-port, or --no-metrics)\n`,
      );
      t.true(Date.now() - started < 15_000);
    } finally {
      server.close();
    }
  },
);

test.serial('runDemo: a port in use is a CommandError, and the demo leaves nothing open', async (t) => {
  const { port, server } = await occupiedPort();
  const count = () => {
    const m = new Map<string, number>();
    for (const r of process.getActiveResourcesInfo()) m.set(r, (m.get(r) ?? 0) + 1);
    return m;
  };
  try {
    const before = count();
    const lines: string[] = [];
    const err = await t.throwsAsync(
      runDemo({ durationS: 1, tty: false, metricsPort: port, out: (l) => lines.push(l) }),
      {
        instanceOf: CommandError,
      },
    );
    t.regex(err!.message, new RegExp(`127\\.0\\.0\\.1:${port}: the port is in use`));
    await new Promise((r) => setImmediate(r));
    const after = count();
    for (const kind of ['TCPServerWrap', 'TCPSocketWrap', 'Timeout'])
      t.true((after.get(kind) ?? 0) <= (before.get(kind) ?? 0), `${kind}: ${before.get(kind)} -> ${after.get(kind)}`);
  } finally {
    server.close();
  }
});

test.serial('Ctrl-C ends the demo early with its summary so far, exit code 130', async (t) => {
  const child = spawn(
    'node',
    ['--import', 'tsx', 'bindings/cli/bin.ts', 'demo', '--duration', '60', '--plain', '--no-metrics'],
    { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stdout = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  const deadline = Date.now() + 60_000;
  while (!stdout.includes('switchyard demo:') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  t.true(stdout.includes('switchyard demo:'), stdout.slice(-2000));
  const sentAt = Date.now();
  child.kill('SIGINT');
  const code = await exited;
  t.is(code, 130, stdout.slice(-2000));
  t.true(Date.now() - sentAt < 20_000, 'it stopped well before the 60 s run would have');
  t.regex(stdout, /interrupted at \d+\.\ds of 60s/);
  t.regex(stdout, /^summary: \d+ requests, \d+ retries, 0 failures/m);
});

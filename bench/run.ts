// `npm run bench`: runs every benchmark script in bench/ one after another (each in its own process, with a
// progress line), merges bench/results/*.json into bench/results.json, writes SVG charts to bench/charts/ and
// regenerates the README's benchmark section between its markers.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { machine } from './common.js';
import { barChart, formatValue } from './svg.js';

const here = new URL('.', import.meta.url).pathname;
const root = join(here, '..');
const only = process.argv.slice(2);
const scripts = readdirSync(here)
  .filter((f) => f.endsWith('.bench.ts'))
  .filter((f) => only.length === 0 || only.some((o) => f.includes(o)))
  .sort();
scripts.forEach((f, i) => {
  process.stderr.write(`[${i + 1}/${scripts.length}] ${f}\n`);
  execFileSync(process.execPath, ['--expose-gc', '--import', 'tsx', join(here, f)], {
    stdio: ['ignore', 'ignore', 'inherit'],
    cwd: root,
  });
});

interface Row {
  suite: string;
  name: string;
  opsPerSec: number;
}
const resultsDir = join(here, 'results');
const all: Record<string, unknown> = {};
for (const f of existsSync(resultsDir)
  ? readdirSync(resultsDir)
      .filter((x) => x.endsWith('.json'))
      .sort()
  : []) {
  all[f.replace(/\.json$/, '')] = JSON.parse(readFileSync(join(resultsDir, f), 'utf8'));
}
const m = machine();
writeFileSync(join(here, 'results.json'), JSON.stringify({ machine: m, results: all }, null, 2) + '\n');

// charts and markdown, one section per results file that has `rows`
mkdirSync(join(here, 'charts'), { recursive: true });
const md: string[] = [
  `Measured with Node ${m.node} on ${m.cpu} (${m.cores} cores); ops/s are medians of benchmark.js samples.`,
  '',
];
interface Table {
  title: string;
  header: string[];
  rows: (string | number)[][];
}
const ms = (x: number) => x.toFixed(1);
const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
/** Tables for the suites that are not ops/s rows (latency, health, discovery). */
function extraTables(name: string, d: Record<string, unknown>): Table[] {
  if (name === 'tail-latency') {
    const rows = d.rows as { policy: string; requests: number; p50Ms: number; p99Ms: number; share: number[] }[];
    writeFileSync(
      join(here, 'charts', 'tail-latency.svg'),
      barChart(
        'p99 latency per policy, one backend 10x slower',
        'ms',
        rows.map((r) => ({ label: r.policy, value: r.p99Ms })),
        `Node ${m.node}, ${m.cpu}`,
      ),
    );
    return [
      {
        title: `${d.requests} requests, concurrency ${d.concurrency}, backends ${d.fastMs} ms and one at ${d.slowMs} ms`,
        header: ['policy', 'p50 ms', 'p99 ms', 'slow backend share', 'fast backends share'],
        rows: rows.map((r) => [
          r.policy,
          ms(r.p50Ms),
          ms(r.p99Ms),
          pct(r.share[0]!),
          r.share.slice(1).map(pct).join(' / '),
        ]),
      },
    ];
  }
  if (name === 'health') {
    const rows = d.realTime as {
      probe: string;
      members: number;
      probesPerMemberPerSec: number;
      lagP50Ms: number;
      lagP99Ms: number;
      failures: number;
      cpuPercentOfOneCore: number;
    }[];
    const mem = d.memory as { rounds: number; members: number; heapMiB: { round: number; heapUsedMiB: number }[] };
    return [
      {
        title: `probe scheduling, interval ${d.intervalMs} ms`,
        header: ['probe', 'members', 'probes/member/s', 'lag p50 ms', 'lag p99 ms', 'failures', 'CPU % of a core'],
        rows: rows.map((r) => [
          r.probe,
          r.members,
          r.probesPerMemberPerSec.toFixed(2),
          ms(r.lagP50Ms),
          ms(r.lagP99Ms),
          r.failures,
          r.cpuPercentOfOneCore.toFixed(1),
        ]),
      },
      {
        title: `memory over ${mem.rounds} probe rounds × ${mem.members} members (virtual clock)`,
        header: ['round', 'heap used MiB'],
        rows: mem.heapMiB.map((h) => [h.round, h.heapUsedMiB.toFixed(2)]),
      },
    ];
  }
  if (name === 'discovery') {
    const lat = d.latency as {
      updates: number;
      putToPickerMs: { p50: number; p99: number };
      ackToPickerMs: { p50: number; p99: number };
    };
    const watch = d.watch as {
      members: number;
      withBalancer: boolean;
      cpuPercentOfOneCore: number;
      cpuUsPerUpdate: number;
      rssMB: number;
      firstListMs: number;
    }[];
    return [
      {
        title: `etcd put → new picker published (${lat.updates} updates, ${String(d.etcd)})`,
        header: ['measured from', 'p50 ms', 'p99 ms'],
        rows: [
          ['put request sent', ms(lat.putToPickerMs.p50), ms(lat.putToPickerMs.p99)],
          ['put acknowledged', ms(lat.ackToPickerMs.p50), ms(lat.ackToPickerMs.p99)],
        ],
      },
      {
        title: 'a watch over 10 000 members at 100 updates/s',
        header: ['members', 'with Balancer', 'first list ms', 'CPU % of a core', 'µs per update', 'RSS MB'],
        rows: watch.map((w) => [
          w.members,
          w.withBalancer ? 'yes' : 'no',
          ms(w.firstListMs),
          w.cpuPercentOfOneCore.toFixed(1),
          w.cpuUsPerUpdate.toFixed(0),
          w.rssMB.toFixed(0),
        ]),
      },
    ];
  }
  return [];
}

for (const [name, data] of Object.entries(all)) {
  const d = data as { rows?: Row[]; tables?: Table[] };
  for (const table of extraTables(name, d as Record<string, unknown>)) {
    md.push(
      `#### ${name}: ${table.title}`,
      '',
      `| ${table.header.join(' | ')} |`,
      `|${table.header.map(() => '---').join('|')}|`,
    );
    for (const row of table.rows) md.push(`| ${row.join(' | ')} |`);
    md.push('');
  }
  if (name === 'tail-latency') md.push('![tail latency](bench/charts/tail-latency.svg)', '');
  if (Array.isArray(d.rows) && d.rows.length > 0 && typeof d.rows[0]!.opsPerSec === 'number') {
    md.push(`#### ${name}`, '', '| suite | case | ops/s |', '|---|---|---:|');
    for (const r of d.rows) md.push(`| ${r.suite} | ${r.name} | ${formatValue(r.opsPerSec)} |`);
    md.push('', `![${name}](bench/charts/${name}.svg)`, '');
    const bars = d.rows.map((r) => ({ label: `${r.suite}: ${r.name}`, value: r.opsPerSec, group: r.suite }));
    writeFileSync(
      join(here, 'charts', `${name}.svg`),
      barChart(`switchyard: ${name}`, 'ops/s', bars, `Node ${m.node}, ${m.cpu}`),
    );
  }
  for (const table of d.tables ?? []) {
    md.push(
      `#### ${name}: ${table.title}`,
      '',
      `| ${table.header.join(' | ')} |`,
      `|${table.header.map(() => '---').join('|')}|`,
    );
    for (const row of table.rows) md.push(`| ${row.join(' | ')} |`);
    md.push('');
  }
}
const readmePath = join(root, 'README.md');
const readme = readFileSync(readmePath, 'utf8');
const start = '<!-- bench:start -->';
const end = '<!-- bench:end -->';
if (readme.includes(start) && readme.includes(end)) {
  const next =
    readme.slice(0, readme.indexOf(start) + start.length) +
    '\n' +
    md.join('\n') +
    '\n' +
    readme.slice(readme.indexOf(end));
  writeFileSync(readmePath, next);
}
process.stderr.write(`wrote bench/results.json, bench/charts/*.svg and the README benchmark section\n`);

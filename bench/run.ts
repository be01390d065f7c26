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
  .filter((f) => f.endsWith('.bench.ts') || ['tail-latency.ts', 'health.ts', 'discovery.ts'].includes(f))
  .filter((f) => only.length === 0 || only.some((o) => f.includes(o)))
  .sort();
scripts.forEach((f, i) => {
  process.stderr.write(`[${i + 1}/${scripts.length}] ${f}\n`);
  execFileSync(process.execPath, ['--import', 'tsx', join(here, f)], {
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
for (const [name, data] of Object.entries(all)) {
  const d = data as { rows?: Row[]; tables?: { title: string; header: string[]; rows: (string | number)[][] }[] };
  if (Array.isArray(d.rows) && d.rows.length > 0) {
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

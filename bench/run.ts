// `npm run bench`: runs every benchmark script in bench/ one after another (each in its own process, with a
// progress line), merges bench/results/*.json into bench/results.json, writes SVG charts to bench/charts/ and
// regenerates docs/benchmarks.md from the results.
//
//   npx tsx bench/run.ts                 every suite, then the report
//   npx tsx bench/run.ts ring policies   only the suites whose file name contains one of the words
//   npx tsx bench/run.ts --report-only   no measuring: charts and docs/benchmarks.md from bench/results/*.json
//
// The page puts ratios first wherever a suite has a reference (an npm peer, round robin, raw fetch) and
// absolute numbers second. Tables wider than MAX_TABLE_CHARS are split into several with the same key
// columns, so none is wider than the page.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as prettier from 'prettier';
import type { Machine, Row } from './common.js';
import { barChart, formatValue } from './svg.js';

const here = new URL('.', import.meta.url).pathname;
const root = join(here, '..');
const args = process.argv.slice(2);
const reportOnly = args.includes('--report-only');
const only = args.filter((a) => !a.startsWith('--'));
const unknown = args.filter((a) => a.startsWith('--') && a !== '--report-only');
if (unknown.length > 0) {
  process.stderr.write(`bench/run.ts: unknown option ${unknown.join(' ')} (only --report-only)\n`);
  process.exit(2);
}

if (!reportOnly) {
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
}

// ---- results -------------------------------------------------------------------------------------------

type Result = Record<string, unknown> & { suite?: string; machine?: Machine; at?: string; rows?: Row[] };
const resultsDir = join(here, 'results');
const all: Record<string, Result> = {};
for (const f of existsSync(resultsDir) ? readdirSync(resultsDir).filter((x) => x.endsWith('.json')) : []) {
  all[f.replace(/\.json$/, '')] = JSON.parse(readFileSync(join(resultsDir, f), 'utf8')) as Result;
}
// The machine of the results (each file records where it was measured), not of this process.
const machines = [...new Set(Object.values(all).map((r) => JSON.stringify(r.machine ?? {})))].map(
  (s) => JSON.parse(s) as Partial<Machine>,
);
const m: Partial<Machine> = machines[0] ?? {};
const results = Object.fromEntries(
  Object.keys(all)
    .sort()
    .map((k) => [k, all[k]]),
);
writeFileSync(join(here, 'results.json'), JSON.stringify({ machine: m, results }, null, 2) + '\n');

// ---- tables --------------------------------------------------------------------------------------------

interface Table {
  title: string;
  header: string[];
  rows: (string | number)[][];
  /** Columns aligned right (numbers); default: every column but the first two. */
  right?: boolean[];
  /** How many leading columns identify a row (repeated when a wide table is split); default 1. */
  keys?: number;
  /** A line printed under the table. */
  note?: string;
  /** A suite's own table of ratios: shown under Ratios, not under the absolute numbers. */
  ratio?: boolean;
}

const MAX_TABLE_CHARS = 110;
const ms = (x: number) => x.toFixed(1);
const pct = (x: number, digits = 1) => `${(x * 100).toFixed(digits)}%`;
const ratio = (x: number) => (!Number.isFinite(x) ? '-' : `${x >= 100 ? x.toFixed(0) : x.toFixed(x >= 10 ? 1 : 2)}×`);
const esc = (c: string | number) => String(c).replace(/\|/g, '\\|');

/** Width of a table as prettier lays it out: `| a | b |` with every column padded to its widest cell. */
function widths(t: Table): number[] {
  return t.header.map((h, i) => Math.max(3, esc(h).length, ...t.rows.map((r) => esc(r[i] ?? '').length)));
}

/** Splits a table whose rendered width exceeds MAX_TABLE_CHARS into tables that repeat its key columns. */
function fit(t: Table): Table[] {
  const w = widths(t);
  const total = (cols: number[]) => 1 + cols.reduce((s, c) => s + w[c]! + 3, 0);
  const all = t.header.map((_, i) => i);
  if (total(all) <= MAX_TABLE_CHARS) return [t];
  const keys = all.slice(0, t.keys ?? 1);
  const parts: number[][] = [];
  let cur: number[] = [];
  for (const c of all.slice(keys.length)) {
    if (cur.length > 0 && total([...keys, ...cur, c]) > MAX_TABLE_CHARS) {
      parts.push(cur);
      cur = [];
    }
    cur.push(c);
  }
  parts.push(cur);
  return parts.map((p, n) => {
    const cols = [...keys, ...p];
    return {
      title: `${t.title} (${n + 1}/${parts.length})`,
      header: cols.map((c) => t.header[c]!),
      rows: t.rows.map((r) => cols.map((c) => r[c] ?? '')),
      right: cols.map((c) => (t.right ? t.right[c]! : c >= 2)),
      keys: keys.length,
      note: n === parts.length - 1 ? t.note : undefined,
    };
  });
}

function render(t: Table, level = '####'): string[] {
  const out: string[] = [];
  for (const p of fit(t)) {
    const right = p.right ?? p.header.map((_, i) => i >= 2);
    out.push(`${level} ${p.title}`, '', `| ${p.header.map(esc).join(' | ')} |`);
    out.push(`|${right.map((r) => (r ? '---:' : '---')).join('|')}|`);
    for (const row of p.rows) out.push(`| ${row.map(esc).join(' | ')} |`);
    out.push('');
    if (p.note) out.push(p.note, '');
  }
  return out;
}

// ---- ops/s rows: ratios against a reference, and per-size pivots --------------------------------------

/** `ring 100 members` → { family: 'ring', size: '100', unit: 'members' }; undefined for suites without a size. */
function sizeOf(suite: string): { family: string; size: string; unit: string } | undefined {
  const x = /^(.*?)\s*(\d+)(?:\s+(members|servers))?$/.exec(suite);
  if (x === null) return undefined;
  return { family: x[1]!, size: x[2]!, unit: x[3] ?? 'members' };
}

/** Column headers for sized suites: the sizes, with the unit named in the table title. */
function sizeColumns(suites: string[]): { header: string[]; unit: string } {
  const s = suites.map(sizeOf);
  if (s.some((x) => x === undefined)) return { header: suites, unit: '' };
  return { header: s.map((x) => x!.size), unit: ` (columns: ${s[0]!.unit})` };
}

/**
 * Case names of a family of sized suites, with batch sizes (` x65536`) folded when one case uses different
 * batch sizes at different sizes (so it is one row, not one per batch size); `note` says which was which.
 */
function caseKeys(rows: Row[]): { key: (r: Row) => string; note: string } {
  const fold = (n: string) => n.replace(/ x\d+\b/, ' xN');
  const seen = new Map<string, Set<string>>();
  for (const r of rows) seen.set(fold(r.name), (seen.get(fold(r.name)) ?? new Set()).add(r.name));
  const folded = [...seen.entries()].filter(([, v]) => v.size > 1);
  if (folded.length === 0) return { key: (r) => r.name, note: '' };
  const batch = new Map<string, string[]>();
  for (const r of rows)
    if (seen.get(fold(r.name))!.size > 1) {
      const n = / x(\d+)\b/.exec(r.name)![1]!;
      const at = sizeOf(r.suite)?.size ?? r.suite;
      if (!(batch.get(n) ?? []).includes(at)) batch.set(n, [...(batch.get(n) ?? []), at]);
    }
  const parts = [...batch.entries()].map(([n, at]) => `${n} keys at ${at.join(', ')}`);
  return {
    key: (r) => (seen.get(fold(r.name))!.size > 1 ? fold(r.name) : r.name),
    note: `xN: a batch of ${parts.join('; ')}.`,
  };
}

interface RatioSpec {
  title: string;
  /** Which suites take part. */
  suites: RegExp;
  /** The reference row of each group. */
  reference: RegExp;
  /** Rows compared (default: every row but the reference). */
  include?: RegExp;
  /** Group by suite (columns by size) or by the text before ': ' in the case name (one row per case). */
  by?: 'suite' | 'prefix';
  /**
   * A second view of the same cases, after a slash in each cell: rows of the suites `suites` of the same size,
   * each read against the row `referenceOf(case)` of its suite (by suite only).
   */
  beside?: { suites: RegExp; referenceOf: (name: string) => string; note: string };
}

/** The policies' second view (bench/policies-one.ts): each policy in its own process beside one round robin. */
function onePerProcess(backend: string): RatioSpec['beside'] {
  return {
    suites: new RegExp(`^pick\\+done one-per-process ${backend} `),
    referenceOf: (name) => `round_robin beside ${name}`,
    note:
      'Cells: all eleven policies in one process / each policy in its own process beside one round robin ' +
      "(round_robin's own-process cell is a second round robin against the first).",
  };
}

/** Where a suite's data has a reference, its ratio tables (higher is faster). */
const RATIOS: Record<string, RatioSpec[]> = {
  ring: [
    {
      title: 'single string-key lookups, × the reference ring (plain JS, bench/reference-ring.ts)',
      suites: /^ring \d/,
      reference: /^reference ring/,
    },
    {
      title: 'single string-key lookups, × hashring (npm, uncached keys)',
      suites: /^ring \d/,
      reference: /^hashring \(npm\)/,
    },
    {
      title: '`group(keys)` for 1000 keys, × looping `get` into a Map (same backend)',
      suites: /^group \d/,
      reference: /loop get/,
      by: 'prefix',
    },
    {
      title: 'batched lookups by hash, × a plain JS loop over the same table',
      suites: /^by hash \d/,
      reference: /^plain JS loop/,
    },
    { title: 'xxHash, × xxhash-wasm', suites: /^hash$/, reference: /xxhash-wasm/, by: 'prefix' },
  ],
  algorithms: [{ title: 'lookups, × hashring (npm, uncached keys)', suites: /./, reference: /^hashring/ }],
  policies: [
    {
      title: "pick + done, WASM state table, × round_robin's pick + done in the same run",
      suites: /^pick\+done wasm/,
      reference: /^round_robin$/,
      beside: onePerProcess('wasm'),
    },
    {
      title: "pick + done, JS state table, × round_robin's pick + done in the same run",
      suites: /^pick\+done js/,
      reference: /^round_robin$/,
      beside: onePerProcess('js'),
    },
    { title: 'policy kernels, WASM call × TS twin', suites: /^kernel/, reference: /: ts$/, by: 'prefix' },
  ],
  ketama: [{ title: 'lookups, × hashring (npm, uncached keys)', suites: /./, reference: /^hashring/ }],
  envoy: [
    {
      title: 'single string-key lookups, × hashring (npm, uncached keys)',
      suites: /./,
      reference: /^hashring/,
      include: /get\(string\)|^consistent-hash/,
    },
  ],
};

function ratioTables(rows: Row[], specs: RatioSpec[]): Table[] {
  const out: Table[] = [];
  for (const s of specs) {
    const picked = rows.filter((r) => s.suites.test(r.suite));
    if (s.by === 'prefix') {
      const groupOf = (r: Row) => `${r.suite}\u0000${r.name.split(': ')[0]}`;
      const refs = new Map(picked.filter((r) => s.reference.test(r.name)).map((r) => [groupOf(r), r]));
      const multi = new Set(picked.map((r) => r.suite)).size > 1; // then the suite names the row too
      const body = picked
        .filter((r) => !s.reference.test(r.name) && refs.has(groupOf(r)))
        .map((r) => {
          const [input, ...rest] = r.name.split(': ');
          const first = multi ? `${r.suite}, ${input!}` : input!;
          return [first, rest.join(': '), ratio(r.opsPerSec / refs.get(groupOf(r))!.opsPerSec)];
        });
      if (body.length > 0) out.push({ title: s.title, header: ['input', 'case', 'ratio'], rows: body });
      continue;
    }
    const refs = new Map(picked.filter((r) => s.reference.test(r.name)).map((r) => [r.suite, r]));
    const cmp = picked.filter((r) => !s.reference.test(r.name) && (s.include?.test(r.name) ?? true));
    const suites = [...refs.keys()];
    const b = s.beside;
    const second = b === undefined ? [] : rows.filter((r) => b.suites.test(r.suite));
    const secondCases = second.filter((r) =>
      second.some((x) => x.suite === r.suite && x.name === b!.referenceOf(r.name)),
    );
    const cases = [...new Set([...secondCases, ...cmp].map((r) => r.name))];
    if (suites.length === 0 || cases.length === 0) continue;
    const cell = (c: string, su: string) => {
      const r = cmp.find((x) => x.name === c && x.suite === su);
      return r === undefined ? '-' : ratio(r.opsPerSec / refs.get(su)!.opsPerSec);
    };
    const size = (su: string) => sizeOf(su)?.size;
    const cellBeside = (c: string, su: string) => {
      const r = secondCases.find((x) => x.name === c && size(x.suite) === size(su));
      const ref = second.find((x) => x.suite === r?.suite && x.name === b!.referenceOf(c));
      return r === undefined || ref === undefined ? '-' : ratio(r.opsPerSec / ref.opsPerSec);
    };
    const both = secondCases.length > 0;
    const cols = sizeColumns(suites);
    out.push({
      title: s.title + cols.unit,
      header: ['case', ...cols.header],
      rows: cases.map((c) => [
        c,
        ...suites.map((su) => (both ? `${cell(c, su)} / ${cellBeside(c, su)}` : cell(c, su))),
      ]),
      right: [false, ...suites.map(() => true)],
      note: both ? b!.note : undefined,
    });
  }
  return out;
}

/** ops/s tables: one per family of sized suites (cases × sizes), one list for suites without a size. */
function opsTables(name: string, rows: Row[]): Table[] {
  const out: Table[] = [];
  const families = new Map<string, Row[]>();
  const unsized: Row[] = [];
  for (const r of rows) {
    const s = sizeOf(r.suite);
    if (s === undefined) unsized.push(r);
    else families.set(s.family, [...(families.get(s.family) ?? []), r]);
  }
  for (const [family, fr] of families) {
    const sizes = [...new Set(fr.map((r) => sizeOf(r.suite)!.size))];
    const { key, note } = caseKeys(fr);
    const cases = [...new Set(fr.map(key))];
    const cell = (c: string, size: string) => {
      const r = fr.find((x) => key(x) === c && sizeOf(x.suite)!.size === size);
      return r === undefined ? '-' : formatValue(r.opsPerSec);
    };
    out.push({
      title: `${family === '' || family === name ? name : `${name}: ${family}`}, ops/s (columns: ${sizeOf(fr[0]!.suite)!.unit})`,
      note,
      header: ['case', ...sizes],
      rows: cases.map((c) => [c, ...sizes.map((sz) => cell(c, sz))]),
      right: [false, ...sizes.map(() => true)],
    });
  }
  for (const suite of [...new Set(unsized.map((r) => r.suite))]) {
    const sr = unsized.filter((r) => r.suite === suite);
    out.push({
      title: `${name}: ${suite}, ops/s`,
      header: ['case', 'ops/s'],
      rows: sr.map((r) => [r.name, formatValue(r.opsPerSec)]),
      right: [false, true],
    });
  }
  return out;
}

// ---- raw records (builds, balance, memory) -------------------------------------------------------------

type Rec = Record<string, string | number | null | boolean>;
const LABEL: Record<string, string> = {
  impl: 'implementation',
  algo: 'algorithm',
  movedOnAdd: 'moved on add',
  maxOverMean: 'max/mean load',
  bytesPerVnode: 'bytes per vnode',
};
const cellOf = (k: string, v: Rec[string]) =>
  v === null || v === undefined
    ? '-'
    : typeof v !== 'number'
      ? String(v)
      : k === 'movedOnAdd' || k === 'ideal'
        ? pct(v, 2)
        : k === 'maxOverMean'
          ? v.toFixed(3)
          : k === 'ms'
            ? v.toFixed(2)
            : Number.isInteger(v)
              ? String(v)
              : v.toFixed(2);

function records(title: string, recs: Rec[]): Table {
  const keys = Object.keys(recs[0] ?? {});
  return {
    title,
    header: keys.map((k) => LABEL[k] ?? k),
    rows: recs.map((r) => keys.map((k) => cellOf(k, r[k]!))),
    right: keys.map((k) => typeof recs[0]![k] === 'number' && k !== 'members' && k !== 'servers'),
    keys: Math.min(2, keys.length),
  };
}

/** Build times, sizes as columns; with a reference implementation, the speed-up over it first. */
function buildTables(name: string, builds: Rec[]): Table[] {
  const sizeKey = 'members' in (builds[0] ?? {}) ? 'members' : 'servers';
  const label = (b: Rec) => (b.algorithm === undefined ? String(b.impl) : `${String(b.algorithm)} ${String(b.impl)}`);
  const sizes = [...new Set(builds.map((b) => String(b[sizeKey])))];
  const impls = [...new Set(builds.map(label))];
  const at = (impl: string, size: string) => builds.find((b) => label(b) === impl && String(b[sizeKey]) === size);
  const header = ['implementation', ...sizes];
  const right = [false, ...sizes.map(() => true)];
  const out: Table[] = [];
  const ref = impls.find((i) => /^hashring \(npm\)/.test(i));
  if (ref !== undefined)
    out.push({
      title: `${name}: build speed, × hashring (npm) (columns: ${sizeKey})`,
      header,
      right,
      rows: impls
        .filter((i) => i !== ref)
        .map((i) => [i, ...sizes.map((s) => ratio(Number(at(ref, s)?.ms ?? NaN) / Number(at(i, s)?.ms ?? NaN)))]),
    });
  out.push({
    title: `${name}: build, median ms (columns: ${sizeKey})`,
    header,
    right,
    rows: impls.map((i) => [i, ...sizes.map((s) => cellOf('ms', at(i, s)?.ms ?? null))]),
  });
  return out;
}

// ---- suites that are not ops/s rows --------------------------------------------------------------------

function tailLatency(d: Result): { ratios: Table[]; abs: Table[] } {
  const rows = d.rows as unknown as { policy: string; p50Ms: number; p99Ms: number; share: number[] }[];
  writeFileSync(
    join(here, 'charts', 'tail-latency.svg'),
    barChart(
      'p99 latency per policy, one backend 10x slower',
      'ms',
      rows.map((r) => ({ label: r.policy, value: r.p99Ms })),
      `Node ${m.node}, ${m.cpu}`,
    ),
  );
  const rr = rows.find((r) => r.policy === 'round_robin');
  const setup = `${d.requests} requests, concurrency ${d.concurrency}, backends ${d.fastMs} ms and one at ${d.slowMs} ms`;
  return {
    ratios:
      rr === undefined
        ? []
        : [
            {
              title: "p99 and p50 relative to round_robin's (lower is better)",
              header: ['policy', 'p99', 'p50'],
              rows: rows.map((r) => [r.policy, ratio(r.p99Ms / rr.p99Ms), ratio(r.p50Ms / rr.p50Ms)]),
              right: [false, true, true],
            },
          ],
    abs: [
      {
        title: setup,
        header: ['policy', 'p50 ms', 'p99 ms', 'slow backend share', 'fast backends share'],
        rows: rows.map((r) => [
          r.policy,
          ms(r.p50Ms),
          ms(r.p99Ms),
          pct(r.share[0]!),
          r.share.slice(1).map(pct).join(' / '),
        ]),
        right: [false, true, true, true, false],
      },
    ],
  };
}

function health(d: Result): Table[] {
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
      right: [false, true, true, true, true, true, true],
    },
    {
      title: `heap over ${mem.rounds} probe rounds × ${mem.members} members (virtual clock)`,
      header: ['round', 'heap used MiB'],
      rows: mem.heapMiB.map((h) => [h.round, h.heapUsedMiB.toFixed(2)]),
      right: [true, true],
    },
  ];
}

function discovery(d: Result): Table[] {
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
      right: [false, true, true],
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
      right: [true, false, true, true, true, true],
    },
  ];
}

// ---- the page ------------------------------------------------------------------------------------------

const ORDER = [
  'ring',
  'algorithms',
  'ketama',
  'envoy',
  'jump-nginx',
  'policies',
  'tail-latency',
  'fetch',
  'undici-load',
  'observability',
  'grpc',
];
const ABOUT: Record<string, string> = {
  ring: '`HashRing` (160 vnodes per member) against the npm rings `hashring` and `consistent-hash`; xxHash.',
  algorithms: 'Every `createHasher` algorithm side by side: lookups, build, memory, keys moved, balance.',
  ketama: '`KetamaRing` (libmemcached preset) against `hashring`, which implements the same continuum.',
  envoy: '`EnvoyRingHash`, `Maglev` and bounded loads, WASM and pure TS.',
  'jump-nginx': '`JumpHash`, `NginxConsistentHash` and `Rendezvous`: single keys, batches, builds, balance.',
  policies:
    'Balancer policies: `pick` + `done` per request (all in one process, and each in its own beside round robin), ' +
    'and the WASM/TS policy kernels.',
  'tail-latency': 'Loopback HTTP backends, one ten times slower than the others, through each policy.',
  fetch: '`createFetch` against a plain `fetch` to the same loopback backend.',
  'undici-load': '`createDispatcher`, `createFetch` and undici `BalancedPool` under load, × raw undici Pool.',
  observability: '`createFetch` with Prometheus metrics, OpenTelemetry metrics and tracing, × bare `createFetch`.',
  grpc: 'gRPC calls through grpc-js with its own policies and with switchyard policies, on loopback servers.',
  health: '`HealthChecker` probing many members at once in real time, and its heap over many rounds.',
  discovery: 'The etcd resolver against a real etcd: update latency and the cost of a large watch.',
};
/** Suites left out of a section's chart (its tables have them): the policies' second view doubles every bar. */
const CHART_SKIP: Record<string, RegExp> = { policies: /one-per-process/ };
const names = [
  ...ORDER.filter((n) => n in all),
  ...Object.keys(all)
    .filter((n) => !ORDER.includes(n))
    .sort(),
];
const dates = Object.values(all)
  .map((r) => r.at)
  .filter((x): x is string => typeof x === 'string')
  .sort();
const span = dates.length === 0 ? '' : ` between ${dates[0]!.slice(0, 16)}Z and ${dates.at(-1)!.slice(0, 16)}Z`;
mkdirSync(join(here, 'charts'), { recursive: true });

const md: string[] = [
  '# Benchmarks',
  '',
  '<!-- Generated by bench/run.ts from bench/results/*.json. Do not edit: run `npm run bench`. -->',
  '',
  '`npm run bench` runs every suite in `bench/` (one process each) and regenerates this page, the charts in',
  '`bench/charts/` and `bench/results.json`; `npx tsx bench/run.ts --report-only` regenerates them from the',
  'stored results without measuring. What the numbers mean for you, which code path runs where, and the',
  'targets: [performance.md](performance.md).',
  '',
  `Machine: ${m.cpu ?? 'unknown CPU'}, ${m.cores ?? '?'} cores, Node ${m.node ?? '?'}` +
    (machines.length > 1 ? ` (and ${machines.length - 1} other machine(s): see bench/results.json)` : '') +
    `; measured${span}. ops/s are medians (of benchmark.js samples, or of interleaved rounds where a case ` +
    "is compared with a reference: A, B, A, B ..., so the machine's slow spells hit both); a ratio is ops/s " +
    "over the reference's ops/s " +
    '(above 1: faster). Sections: ' +
    names.map((n) => `[${n}](#${n})`).join(', ') +
    '.',
  '',
];

for (const name of names) {
  const d = all[name]!;
  const rows = Array.isArray(d.rows) && typeof d.rows[0]?.opsPerSec === 'number' ? d.rows : [];
  const ratios: Table[] = [];
  const abs: Table[] = [];
  if (name === 'tail-latency') {
    const t = tailLatency(d);
    ratios.push(...t.ratios);
    abs.push(...t.abs);
  } else if (name === 'health') abs.push(...health(d));
  else if (name === 'discovery') abs.push(...discovery(d));
  ratios.push(...ratioTables(rows, RATIOS[name] ?? []));
  const builds = Array.isArray(d.builds) ? (d.builds as Rec[]) : [];
  if (builds.length > 0) {
    const [first, ...rest] = buildTables(name, builds);
    if (rest.length > 0) ratios.push(first!);
    abs.push(...rest, ...(rest.length > 0 ? [] : [first!]));
  }
  abs.push(...opsTables(name, rows));
  const tables = (d.tables as Table[] | undefined) ?? [];
  // Tables a suite wrote itself; its build table is already rendered from the raw `builds` above.
  for (const t of tables)
    if (t.ratio === true) ratios.push({ ...t, title: `${name}: ${t.title}`, keys: 1 });
    else if (!(builds.length > 0 && /build/.test(t.title)))
      abs.push({ ...t, title: `${name}: ${t.title}`, keys: Math.min(2, t.header.length) });
  if (tables.length === 0) {
    for (const k of ['balance', 'exact', 'memory'] as const)
      if (Array.isArray(d[k]) && typeof (d[k] as unknown[])[0] === 'object' && name !== 'health')
        abs.push(records(`${name}: ${k === 'exact' ? 'balance with real server names' : k}`, d[k] as Rec[]));
  }
  md.push(`## ${name}`, '');
  if (ABOUT[name] !== undefined) md.push(ABOUT[name]!, '');
  if (typeof d.notes === 'string') md.push(d.notes, '');
  if (ratios.length > 0) md.push('### Ratios', '', ...ratios.flatMap((t) => render(t)));
  if (abs.length > 0) md.push(`### ${ratios.length > 0 ? 'Absolute numbers' : 'Numbers'}`, '');
  md.push(...abs.flatMap((t) => render(t)));
  const charted = rows.filter((r) => !(CHART_SKIP[name]?.test(r.suite) ?? false));
  if (charted.length > 0) {
    const bars = charted.map((r) => ({ label: `${r.suite}: ${r.name}`, value: r.opsPerSec, group: r.suite }));
    writeFileSync(
      join(here, 'charts', `${name}.svg`),
      barChart(`switchyard: ${name}`, 'ops/s', bars, `Node ${m.node}, ${m.cpu}`),
    );
  }
  if (existsSync(join(here, 'charts', `${name}.svg`)))
    md.push(`Chart: [bench/charts/${name}.svg](../bench/charts/${name}.svg)`, '');
}

const page = join(root, 'docs', 'benchmarks.md');
mkdirSync(join(root, 'docs'), { recursive: true });
const options = { ...(await prettier.resolveConfig(page)), filepath: page, proseWrap: 'always' as const };
const text = await prettier.format(md.join('\n'), options);
const wide = text.split('\n').filter((l) => l.startsWith('|') && l.length > MAX_TABLE_CHARS);
if (wide.length > 0) process.stderr.write(`warning: ${wide.length} table line(s) wider than ${MAX_TABLE_CHARS}\n`);
writeFileSync(page, text);
process.stderr.write('wrote bench/results.json, bench/charts/*.svg and docs/benchmarks.md\n');

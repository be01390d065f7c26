// Bundle budgets (issue 16): what a browser page pays for one import, measured the way a bundler ships it:
// esbuild, bundled, minified, ESM, platform browser, gzip (zlib default level), in KiB (1024 bytes). Each case
// also checks which modules are in the bundle, so a budget cannot pass by accident while a registry drags in
// every policy. The figures are printed and recorded in docs/browsers.md.
import test from 'ava';
import { build, type Metafile } from 'esbuild';
import { gzipSync } from 'node:zlib';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';

const root = resolve(import.meta.dirname, '../..');

interface Measured {
  gzKiB: number;
  minKiB: number;
  inputs: string[];
}

async function measure(code: string): Promise<Measured> {
  const r = await build({
    stdin: { contents: code, resolveDir: root, loader: 'ts' },
    bundle: true,
    minify: true,
    write: false,
    format: 'esm',
    platform: 'browser',
    metafile: true,
    logLevel: 'silent',
  });
  const out = r.outputFiles[0]!.contents;
  const meta: Metafile = r.metafile;
  const inputs = Object.entries(Object.values(meta.outputs)[0]!.inputs)
    .filter(([, v]) => v.bytesInOutput > 0)
    .map(([f]) => f);
  return { gzKiB: gzipSync(out).length / 1024, minKiB: out.length / 1024, inputs };
}

function report(name: string, m: Measured, budgetKiB?: number): string {
  const line = `${name}: ${m.gzKiB.toFixed(1)} KiB gz (${m.minKiB.toFixed(1)} KiB min)${budgetKiB === undefined ? '' : `, budget ${budgetKiB} KiB`}`;
  return line;
}

const has = (m: Measured, re: RegExp) => m.inputs.some((f) => re.test(f));

// Budgets: the issue's goals are 8 KiB (HashRing from switchyard/lite) and 15 KiB (createFetch from
// switchyard/lite, round_robin, static target), the documented targets. A bundle that reached its goal has the
// goal as its ceiling (lite HashRing, well under it, a lower one); where the measured size is still above it
// (docs/browsers.md says what is left), the ceiling holds what was reached plus under 3%, so that no change grows
// a bundle unnoticed.
const HASH_RING_GOAL_KIB = 8;
const LITE_FETCH_GOAL_KIB = 15;
// measured 7.63 (lite; 7.99 before xxh64 moved from the ring module to ring-batch, which registerRingExtras()
// brings): under its goal, with a ceiling of its own so that the margin is not spent unnoticed
const HASH_RING_BUDGET_KIB = 7.75;
// measured 11.61 (switchyard, with the pure-TS fallback and the ring-batch module, which since it holds xxh64
// repeats the ring module's label loop; 11.21 before): informational
const MAIN_HASH_RING_BUDGET_KIB = 11.7;
// measured 14.98, the published build 14.99 (hedging, instrumentation, service configs, the Balancer's stats and
// index picks registered apart)
const LITE_FETCH_BUDGET_KIB = LITE_FETCH_GOAL_KIB;

const ringOnly = [
  /wasm-(hash|balancing)\.generated/,
  /bindings\/(balancing|discovery|health|http)\//,
  /ketama|envoy|jump/,
];

test('HashRing from switchyard/lite: the ring family on WebAssembly, no pure-TS fallback', async (t) => {
  const m = await measure("export { HashRing } from './bindings/lite.ts'");
  t.log(report('HashRing (switchyard/lite)', m, HASH_RING_BUDGET_KIB), `goal ${HASH_RING_GOAL_KIB} KiB`);
  t.true(m.gzKiB <= HASH_RING_BUDGET_KIB, `${m.gzKiB.toFixed(2)} KiB > ${HASH_RING_BUDGET_KIB} KiB`);
  t.true(has(m, /core\/wasm-ring\.generated\.ts$/));
  for (const re of [/core\/core-js\.ts$/, /core\/label\.ts$/, ...ringOnly]) t.false(has(m, re), `${re} is not bundled`);
  const fallback = await measure(
    "import { HashRing, registerJsFallback } from './bindings/lite.ts'; registerJsFallback(); export { HashRing };",
  );
  t.log(report('HashRing + registerJsFallback() (switchyard/lite)', fallback));
  t.true(has(fallback, /core\/core-js\.ts$/), 'registerJsFallback() brings the pure-TS core');
  const extras = await measure(
    "import { HashRing, registerRingExtras } from './bindings/lite.ts'; registerRingExtras(); export { HashRing };",
  );
  t.log(report('HashRing + registerRingExtras() (switchyard/lite)', extras));
  t.true(extras.gzKiB > m.gzKiB + 0.3, 'preference, stats, the WASM batches and xxh64 are left out until registered');
  t.false(has(extras, /core\/core-js\.ts$/), 'registerRingExtras() brings no pure-TS core');
});

test('HashRing from the main entry: the ring family and the pure-TS fallback', async (t) => {
  const m = await measure("export { HashRing } from './bindings/index.ts'");
  t.log(report('HashRing (switchyard)', m, MAIN_HASH_RING_BUDGET_KIB));
  t.true(m.gzKiB <= MAIN_HASH_RING_BUDGET_KIB, `${m.gzKiB.toFixed(2)} KiB > ${MAIN_HASH_RING_BUDGET_KIB} KiB`);
  t.true(has(m, /core\/wasm-ring\.generated\.ts$/));
  t.true(has(m, /core\/core-js\.ts$/), 'the pure-TS fallback is kept');
  for (const re of ringOnly) t.false(has(m, re), `${re} is not bundled`);
});

test('createFetch from switchyard/lite with round_robin and a static target', async (t) => {
  const m = await measure("export { createFetch } from './bindings/lite.ts'");
  t.log(report('createFetch (switchyard/lite)', m, LITE_FETCH_BUDGET_KIB), `goal ${LITE_FETCH_GOAL_KIB} KiB`);
  t.true(m.gzKiB <= LITE_FETCH_BUDGET_KIB, `${m.gzKiB.toFixed(2)} KiB > ${LITE_FETCH_BUDGET_KIB} KiB`);
  for (const re of [
    /policies\/round-robin\.ts$/,
    /discovery\/static\.ts$/,
    /http\/url-guard\.ts$/,
    /balancing\/ready\.ts$/,
  ])
    t.true(has(m, re), `${re} is bundled`);
  for (const re of [
    /policies\/(?!round-robin)/,
    /discovery\/(dns|doh|consul|etcd)/,
    /bindings\/health\//,
    /bindings\/hashing\//,
    /wasm-(ring|hash)\.generated/,
    /prequal/,
    // priority levels and localities, run-time weights are plug-ins (registerPriorityRouting,
    // registerRunTimeWeights); round_robin needs no WASM kernel
    /balancing\/(priority|priority-config|locality)\.ts$/,
    /balancing\/(slow-start|weight-runner)\.ts$/,
    /core\/xxhash\.ts$/,
    /wasm-balancing\.generated/,
    /core\/loader\.ts$/,
    /balancing\/balancer-extras\.ts$/, // stats(), pickIndex(), completeIndex(): registerBalancerExtras()
  ])
    t.false(has(m, re), `${re} is not bundled`);
});

// What a page bundles from the published package is tsc's JavaScript (dist/, which `npm test` builds first), not
// the sources: esbuild's output from it differs by a few bytes (the published lite createFetch once measured 4
// bytes over where the sources measured 2 under), so both must keep the budgets.
test('the built package (dist/esm/lite.js) keeps the same budgets', async (t) => {
  if (!existsSync(resolve(root, 'dist/esm/lite.js'))) throw new Error('dist/ is missing: run `npm run build` first');
  const ring = await measure("export { HashRing } from './dist/esm/lite.js'");
  t.log(report('HashRing (dist/esm/lite.js)', ring, HASH_RING_BUDGET_KIB));
  t.true(ring.gzKiB <= HASH_RING_BUDGET_KIB, `${ring.gzKiB.toFixed(2)} KiB > ${HASH_RING_BUDGET_KIB} KiB`);
  const f = await measure("export { createFetch } from './dist/esm/lite.js'");
  t.log(report('createFetch (dist/esm/lite.js)', f, LITE_FETCH_BUDGET_KIB));
  t.true(f.gzKiB <= LITE_FETCH_BUDGET_KIB, `${f.gzKiB.toFixed(2)} KiB > ${LITE_FETCH_BUDGET_KIB} KiB`);
});

test('lite: each registration adds its part: levels, the balancing module, run-time weights', async (t) => {
  const m = await measure(
    "import { createFetch, registerPriorityRouting, registerBalancingWasm, registerRunTimeWeights } from './bindings/lite.ts'; registerPriorityRouting(); registerBalancingWasm(); registerRunTimeWeights(); export { createFetch };",
  );
  t.log(report('createFetch + priority routing + WASM table + run-time weights (switchyard/lite)', m));
  for (const re of [
    /balancing\/priority\.ts$/,
    /balancing\/locality\.ts$/,
    /wasm-balancing\.generated\.ts$/,
    /balancing\/slow-start\.ts$/,
    /balancing\/weight-runner\.ts$/,
  ])
    t.true(has(m, re), `${re} is bundled`);
  t.false(has(m, /policies\/(?!round-robin)/));
});

test('createFetch from the main entry keeps every policy, scheme and health check by name', async (t) => {
  const m = await measure("export { createFetch } from './bindings/index.ts'");
  t.log(report('createFetch (switchyard)', m));
  for (const re of [
    /policies\/peak-ewma\.ts$/,
    /policies\/prequal\.ts$/,
    /discovery\/etcd\//,
    /discovery\/dns\.ts$/,
    /health\/outlier\.ts$/,
    /ketama/,
  ])
    t.true(has(m, re), `${re} is bundled`);
  const lite = await measure("export { createFetch } from './bindings/lite.ts'");
  t.true(lite.gzKiB * 2 < m.gzKiB, 'the lite entry is less than half the size');
});

test('a lite policy registration costs only that policy', async (t) => {
  const m = await measure(
    "import { createFetch, registerPolicy, peakEwmaPolicy } from './bindings/lite.ts'; registerPolicy('peak_ewma', peakEwmaPolicy); export { createFetch };",
  );
  t.log(report('createFetch + peak_ewma (switchyard/lite)', m));
  t.true(has(m, /policies\/peak-ewma\.ts$/));
  t.true(has(m, /wasm-balancing\.generated\.ts$/), 'a built-in policy runs on the balancing module, as in switchyard');
  t.false(has(m, /balancing\/weight-runner\.ts$/), 'peak_ewma has no run-time weights');
  const wrr = await measure(
    "import { createFetch, registerPolicy, weightedRoundRobinPolicy } from './bindings/lite.ts'; registerPolicy('weighted_round_robin', weightedRoundRobinPolicy); export { createFetch };",
  );
  t.log(report('createFetch + weighted_round_robin (switchyard/lite)', wrr));
  t.true(has(wrr, /balancing\/weight-runner\.ts$/), 'a weighted built-in brings run-time weights');
  t.false(has(m, /policies\/(prequal|weighted-round-robin|latency-aware|hash)/));
});

test('peers measured the same way: xxhash-wasm', async (t) => {
  const m = await measure("export { default } from 'xxhash-wasm'");
  t.log(report('xxhash-wasm', m));
  t.true(m.gzKiB > 1 && m.gzKiB < 4);
});

// Reads ava's TAP output and prints the one line CI reads: "N passed, N failed[, N skipped]".
// A failing build/lint/typecheck step (no TAP at all, or a non-zero exit) counts as a failure.
import { readFileSync } from 'node:fs';

const [file, status] = process.argv.slice(2);
const text = readFileSync(file, 'utf8');
const num = (re) => Number((text.match(re) ?? [])[1] ?? 0);
const passed = num(/^# pass (\d+)/m);
let failed = num(/^# fail (\d+)/m);
const skipped = num(/^# skip (\d+)/m) + num(/^# todo (\d+)/m);
if (Number(status) !== 0 && failed === 0) failed = 1;
console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
process.exit(Number(status) !== 0 || failed > 0 || skipped > 0 ? 1 : 0);

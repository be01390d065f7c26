// The `switchyard` executable: runs the CLI with process I/O (Node only).
import { createInterface } from 'node:readline';
import { main } from './cli.js';

// Lines are batched and written once per event-loop turn (fast for `route`, live for `demo`).
const lines: string[] = [];
let scheduled = false;
const flush = () => {
  scheduled = false;
  if (lines.length > 0) process.stdout.write(lines.join('\n') + '\n');
  lines.length = 0;
};

async function* stdinLines(): AsyncIterable<string> {
  const rl = createInterface({ input: process.stdin, crlfDelay: Infinity });
  for await (const line of rl) yield line;
}

main(process.argv.slice(2), {
  out(line) {
    lines.push(line);
    if (lines.length >= 4096) flush();
    else if (!scheduled) {
      scheduled = true;
      setImmediate(flush);
    }
  },
  err: (line) => process.stderr.write(`${line}\n`),
  readLines: stdinLines,
}).then(
  (code) => {
    flush();
    // main's code, but never a 0 over a failure code set elsewhere.
    if (code !== 0 || process.exitCode === undefined) process.exitCode = code;
  },
  (err: unknown) => {
    flush();
    process.stderr.write(`switchyard: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 1;
  },
);

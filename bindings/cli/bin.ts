// The `switchyard` executable: runs the CLI with process I/O (Node only).
// Standard input is read as bytes and split on \n (a \r before it dropped), so keys reach the routers byte for
// byte; reading waits while stdout is full, so a huge input streams through in bounded memory. When the reader
// of stdout goes away (`switchyard route ... | head`), the process exits quietly with its code so far (0).
import { CommandError } from './args.js';
import { main } from './cli.js';

// Lines are batched and written once per event-loop turn (fast for `route`, live for `demo`).
const lines: string[] = [];
let scheduled = false;
const flush = () => {
  scheduled = false;
  if (lines.length > 0) process.stdout.write(lines.join('\n') + '\n');
  lines.length = 0;
};

process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  // EPIPE: the reader closed the pipe; nothing more can be said, and it is not a failure of ours.
  if (err.code !== 'EPIPE') process.stderr.write(`switchyard: writing standard output: ${err.message}\n`);
  process.exit(err.code === 'EPIPE' ? undefined : 1);
});

/** Waits until stdout has room again (or is gone: its 'error' handler then ends the process). */
function stdoutRoom(): Promise<void> | undefined {
  if (!process.stdout.writableNeedDrain) return undefined;
  return new Promise((resolve) => process.stdout.once('drain', resolve));
}

async function* stdinLineBatches(): AsyncIterable<Uint8Array[]> {
  /** The start of a line that continues in the next chunk, in pieces (joined once, when its \n arrives). */
  let pending: Buffer[] = [];
  const line = (b: Buffer) => (b.length > 0 && b[b.length - 1] === 0x0d ? b.subarray(0, b.length - 1) : b);
  try {
    for await (const chunk of process.stdin as AsyncIterable<Buffer>) {
      const batch: Uint8Array[] = [];
      let start = 0;
      for (let nl = chunk.indexOf(0x0a); nl >= 0; nl = chunk.indexOf(0x0a, start)) {
        let piece = chunk.subarray(start, nl);
        if (pending.length > 0) {
          piece = Buffer.concat([...pending, piece]);
          pending = [];
        }
        batch.push(line(piece));
        start = nl + 1;
      }
      if (start < chunk.length) pending.push(chunk.subarray(start));
      if (batch.length > 0) yield batch;
      await stdoutRoom();
    }
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new CommandError(`reading standard input: ${e.message}`, { cause: err });
  }
  if (pending.length > 0) yield [line(Buffer.concat(pending))];
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
  outBytes(chunk) {
    flush();
    process.stdout.write(chunk);
  },
  err: (line) => process.stderr.write(`${line}\n`),
  readLineBatches: stdinLineBatches,
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

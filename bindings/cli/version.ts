// `switchyard --version`: the version in switchyard's package.json, found by walking up from this module's own
// file: bindings/cli/ from source (tsx), dist/esm/cli/ or dist/cjs/cli/ when built (scripts/build.mjs). The file
// comes from the call stack, as one source serves both builds and the CommonJS one cannot name import.meta.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CommandError } from './args.js';

const NAME = 'switchyard';

/** This module's file (a path; ESM stacks name a file: URL). */
function ownFile(): string {
  const { prepareStackTrace, stackTraceLimit } = Error;
  try {
    Error.prepareStackTrace = (_, sites) => sites;
    Error.stackTraceLimit = 1;
    const sites = new Error().stack as unknown as NodeJS.CallSite[];
    const file = sites[0]?.getFileName();
    if (file === undefined || file === null) throw new CommandError('cannot tell where switchyard is installed');
    return file.startsWith('file:') ? fileURLToPath(file) : file;
  } finally {
    Error.prepareStackTrace = prepareStackTrace;
    Error.stackTraceLimit = stackTraceLimit;
  }
}

/**
 * The `version` of the nearest package.json above `from` named switchyard; others on the way (dist/cjs's, which
 * only sets its module type) are skipped.
 */
export function packageVersion(from: string = ownFile()): string {
  for (let dir = dirname(from); ; dir = dirname(dir)) {
    const file = join(dir, 'package.json');
    let text: string | undefined;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT' && code !== 'ENOTDIR')
        throw new CommandError(`reading ${file}: ${(err as Error).message}`, { cause: err });
    }
    if (text !== undefined) {
      let pkg: unknown;
      try {
        pkg = JSON.parse(text);
      } catch (err) {
        throw new CommandError(`reading ${file}: ${(err as Error).message}`, { cause: err });
      }
      const { name, version } = (pkg ?? {}) as { name?: unknown; version?: unknown };
      if (name === NAME && typeof version === 'string') return version;
    }
    if (dirname(dir) === dir) throw new CommandError(`no package.json of ${NAME} above ${from}`);
  }
}

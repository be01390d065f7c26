// What a failed call says, in brief, for the messages that report it (resolver errors, health probes, outlier
// ejections): its message, and the code and peer of the low-level error underneath when the error itself has
// none. Node's fetch rejects with a bare "fetch failed" TypeError whose cause carries ECONNREFUSED and the
// address; etcd wraps that once more.
import { describe } from './validate.js';

type Coded = Error & { code?: unknown; address?: unknown; port?: unknown; hostname?: unknown };

/** `e` itself when it is an Error, else an Error (`As`, default Error) whose message is `String(e)`. */
export function asError(e: unknown, As: new (message: string) => Error = Error): Error {
  return e instanceof Error ? e : new As(String(e));
}

/** `e.code` when it is a string or a number. */
export function ownCode(e: unknown): string | number | undefined {
  const c = typeof e === 'object' && e !== null ? (e as { code?: unknown }).code : undefined;
  return typeof c === 'string' || typeof c === 'number' ? c : undefined;
}

/** The first error of `e`, `e.cause`, `e.cause.cause` that has a code (`depth` levels at most). */
export function codedError(e: unknown, depth = 3): Coded | undefined {
  for (let i = 0; i < depth && typeof e === 'object' && e !== null; i++, e = (e as { cause?: unknown }).cause)
    if (ownCode(e) !== undefined) return e as Coded;
  return undefined;
}

/** What a low-level error says in brief: its code and peer ("ECONNREFUSED 127.0.0.1:2379"), else its message. */
function brief(e: Coded): string {
  const code = ownCode(e);
  if (code === undefined) return e.message || e.name;
  const addr = e.address;
  if (typeof addr === 'string') {
    const host = addr.includes(':') ? `[${addr}]` : addr;
    return typeof e.port === 'number' ? `${code} ${host}:${e.port}` : `${code} ${addr}`;
  }
  return typeof e.hostname === 'string' ? `${code} ${e.hostname}` : String(code);
}

/**
 * An error's message, naming the underlying failure when the error itself has no code but its cause (or
 * the cause's cause) has: `fetch failed (ECONNREFUSED 127.0.0.1:2379)`, `fetch failed (bad port)`.
 */
export function describeFailure(e: unknown): string {
  if (!(e instanceof Error)) return describe(e);
  const msg = e.message || e.name;
  if (ownCode(e) !== undefined) return msg;
  const inner = codedError(e.cause, 2) ?? (e.cause instanceof Error ? (e.cause as Coded) : undefined);
  if (inner === undefined) return msg;
  const what = brief(inner);
  return msg.includes(what) ? msg : `${msg} (${what})`;
}

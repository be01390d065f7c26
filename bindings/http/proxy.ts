// createProxy: a `node:http` request handler that forwards each request to a member through createFetch
// (same picking, retries, timeouts and outcome reporting), streaming request and response bodies. Hop-by-hop
// headers (RFC 9110 §7.6.1: Connection and the headers it names, Keep-Alive, Proxy-*, TE, Trailer,
// Transfer-Encoding, Upgrade) are not forwarded in either direction; X-Forwarded-For/-Proto/-Host are set.
// Expect is not forwarded either: Node's server has already answered `100-continue` to the client (or 417 to
// any other expectation), and fetch refuses to send it. A client that goes away (mid-upload or before the
// answer) aborts the request: its try is cancelled, no member is blamed.
// Request bodies are streamed, so requests with a body are not retried; one its failed try left unread is
// drained (as Node's server drains a request nobody reads), keeping the connection usable. fetch decodes
// compressed responses, so Content-Encoding and Content-Length are dropped from such responses. Requests
// arriving before discovery has answered wait for a member like createFetch's (within the deadline and
// `readyTimeoutMs`). Errors answer 400 (unsafe target, or a request fetch cannot send: InvalidRequestError,
// such as a GET or HEAD with a body, answered before any member is picked rather than sent without it), 405
// (a method fetch forbids: CONNECT, TRACE, TRACK, answered before any member is picked), 503 (no member: none
// within the wait, or the resolver failed, as Envoy's "no healthy upstream"), 504 (deadline or per-try
// timeout) or 502 (the member failed). A client's bad request never counts against a member. Node only.
//
//   http.createServer(createProxy({ balancer, perTryTimeoutMs: 2000 })).listen(8080);
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import { UnavailableError } from '../balancing/errors.js';
import { ResolverError } from '../discovery/errors.js';
import {
  createFetch,
  DeadlineExceededError,
  InvalidRequestError,
  NoMemberError,
  type BalancedFetch,
  type CreateFetchOptions,
} from './fetch.js';
import { UnsafeTargetError } from './url-guard.js';

const HOP_BY_HOP = [
  'connection',
  'expect',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'host',
];

/** Methods fetch refuses to send (Fetch standard, forbidden methods; matched case-insensitively). */
const FORBIDDEN_METHODS = new Set(['CONNECT', 'TRACE', 'TRACK']);

const forbidden = (method: string | undefined) => method !== undefined && FORBIDDEN_METHODS.has(method.toUpperCase());

export type ProxyHandler = ((req: IncomingMessage, res: ServerResponse) => void) & { fetch: BalancedFetch };

function hopHeaders(connection: string | null | undefined): Set<string> {
  const set = new Set(HOP_BY_HOP);
  for (const name of (connection ?? '').split(',')) if (name.trim() !== '') set.add(name.trim().toLowerCase());
  return set;
}

export function createProxy(options: CreateFetchOptions): ProxyHandler {
  const f = createFetch(options);
  const handler = (req: IncomingMessage, res: ServerResponse) => {
    void forward(f, req, res).catch((err: unknown) => {
      drain(req); // the failed try reads no more of it (refused, no member in time, timed out)
      if (!res.headersSent) {
        res.statusCode = statusFor(err, req.method);
        res.setHeader('content-type', 'text/plain');
        res.end(`switchyard proxy: ${describe(err)}\n`);
      } else res.destroy(err as Error);
    });
  };
  return Object.assign(handler, { fetch: f });
}

/**
 * Reads and drops the rest of a request body nobody will read, as Node's server does with a request its handler
 * leaves unread: else the client's next request on the connection waits behind it for good.
 */
function drain(req: IncomingMessage): void {
  if (req.complete) return;
  req.removeAllListeners('data'); // the body stream fetch was given: nobody reads it any more
  req.resume();
}

/**
 * An error's message with its cause's code, if it has one: fetch's network errors are a bare `fetch failed`, the
 * cause saying what happened (`ECONNREFUSED`). Not the cause's message, which names the member's address: the
 * client is told what failed, not where.
 */
function describe(err: unknown): string {
  const message = (err as Error)?.message ?? String(err);
  const code = (err as { cause?: { code?: unknown } } | null)?.cause?.code;
  return typeof code === 'string' && code !== '' ? `${message} (${code})` : message;
}

function statusFor(err: unknown, method: string | undefined): number {
  if (err instanceof InvalidRequestError) return forbidden(method) ? 405 : 400;
  if (err instanceof UnsafeTargetError) return 400;
  if (err instanceof NoMemberError || err instanceof UnavailableError || err instanceof ResolverError) return 503;
  if (err instanceof DeadlineExceededError || (err as Error | null)?.name === 'TimeoutError') return 504;
  return 502;
}

async function forward(f: BalancedFetch, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const method = req.method ?? 'GET';
  // fetch would refuse it: answered here (405), before any member is picked
  if (forbidden(method)) throw new InvalidRequestError(`method ${method} is not forwarded`);
  const length = req.headers['content-length'];
  const chunked = req.headers['transfer-encoding'] !== undefined;
  // fetch sends no body with GET or HEAD: refused (400) rather than forwarded without it
  if ((method === 'GET' || method === 'HEAD') && (chunked || (length !== undefined && Number(length) > 0))) {
    const framing = chunked ? 'Transfer-Encoding' : `Content-Length: ${length}`;
    throw new InvalidRequestError(
      `a ${method} request with a body (${framing}) is not forwarded: fetch cannot send one`,
    );
  }
  const drop = hopHeaders(req.headers.connection);
  const headers = new Headers();
  const peer = req.socket.remoteAddress ?? '';
  const prior = req.headers['x-forwarded-for'];
  try {
    for (const [name, value] of Object.entries(req.headers)) {
      if (value === undefined || drop.has(name)) continue;
      for (const v of Array.isArray(value) ? value : [value]) headers.append(name, v);
    }
    headers.set('x-forwarded-for', prior ? `${Array.isArray(prior) ? prior.join(', ') : prior}, ${peer}` : peer);
    if (req.headers.host !== undefined) headers.set('x-forwarded-host', req.headers.host);
  } catch (err) {
    // a header Node's parser let through (e.g. with insecureHTTPParser) that fetch refuses: the client's (400)
    throw new InvalidRequestError(`invalid request header: ${(err as Error)?.message ?? String(err)}`, { cause: err });
  }
  headers.set('x-forwarded-proto', 'encrypted' in req.socket ? 'https' : 'http');
  // fetch would ask for gzip/deflate and decode the answer: a client that asked for no coding gets none
  if (!headers.has('accept-encoding')) headers.set('accept-encoding', 'identity');
  // RFC 9112 6.3: a request without Content-Length or Transfer-Encoding has no body (curl -X DELETE sends neither)
  const hasBody = method !== 'GET' && method !== 'HEAD' && (chunked || (length !== undefined && length !== '0'));
  const ctl = new AbortController();
  // the client's leaving is the caller's abort: createFetch cancels the try (no member is blamed)
  res.on('close', () => {
    if (!res.writableFinished) ctl.abort(new Error('client closed the connection'));
  });
  const upstream = await f(req.url ?? '/', {
    method,
    headers,
    body: hasBody ? (Readable.toWeb(req) as ReadableStream<Uint8Array>) : undefined,
    signal: ctl.signal,
  });
  const back = hopHeaders(upstream.headers.get('connection'));
  const decoded = upstream.headers.has('content-encoding');
  res.statusCode = upstream.status;
  upstream.headers.forEach((value, name) => {
    if (
      back.has(name) ||
      (decoded && (name === 'content-encoding' || name === 'content-length')) ||
      name === 'set-cookie'
    )
      return;
    res.setHeader(name, value);
  });
  const cookies = upstream.headers.getSetCookie?.() ?? [];
  if (cookies.length > 0) res.setHeader('set-cookie', cookies);
  if (upstream.body === null) {
    res.end();
    return;
  }
  await new Promise<void>((resolve, reject) => {
    const body = Readable.fromWeb(upstream.body as import('node:stream/web').ReadableStream<Uint8Array>);
    body.on('error', reject);
    res.on('error', reject);
    body.pipe(res).on('finish', () => resolve());
  });
}

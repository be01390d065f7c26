// Request-target checks for the fetch wrapper: a request may name a path, or a URL whose origin is the
// logical service; the wrapper replaces only the origin with a member's. Anything that could steer the
// request elsewhere is rejected: other hosts, protocol-relative `//host`, userinfo (`@`), backslashes (which
// WHATWG URL treats as slashes), ASCII control characters and whitespace (which the URL parser strips, so
// `/\t/evil` would become `//evil`), and encoded slashes or dots at the start of the path. The final check is
// structural: the rewritten URL's origin must equal the member's origin (by construction for a plain path,
// see memberUrl).

export class UnsafeTargetError extends TypeError {
  override name = 'UnsafeTargetError';
}

// eslint-disable-next-line no-control-regex
const FORBIDDEN = /[\u0000-\u0020\u007f\\]/;

/** The path+query+fragment of a request target, or throws UnsafeTargetError. */
export function targetPath(input: string, serviceOrigin: string | undefined): string {
  if (typeof input !== 'string') throw new TypeError(`request URL must be a string, got ${typeof input}`);
  if (input === '') throw new UnsafeTargetError('request URL must not be empty');
  if (FORBIDDEN.test(input))
    throw new UnsafeTargetError(
      `request URL contains a control character, space or backslash: ${JSON.stringify(input)}`,
    );
  if (input.startsWith('/')) {
    if (input.startsWith('//'))
      throw new UnsafeTargetError(`protocol-relative URL ${JSON.stringify(input)} is not allowed`);
    checkPath(input);
    return input;
  }
  let url: URL;
  try {
    url = new URL(input);
  } catch {
    throw new UnsafeTargetError(`request URL ${JSON.stringify(input)} is neither an absolute path nor a URL`);
  }
  if (serviceOrigin === undefined)
    throw new UnsafeTargetError(`absolute URL ${JSON.stringify(input)} given, but no \`service\` is configured`);
  if (url.username !== '' || url.password !== '' || /^[a-z][a-z0-9+.-]*:\/\/[^/?#]*@/i.test(input)) {
    throw new UnsafeTargetError(`URL with userinfo ${JSON.stringify(input)} is not allowed`);
  }
  if (url.origin !== serviceOrigin)
    throw new UnsafeTargetError(`URL ${JSON.stringify(input)} is not on the service origin ${serviceOrigin}`);
  const path = url.pathname + url.search + url.hash;
  checkPath(path);
  return path;
}

function checkPath(path: string): void {
  if (path.charCodeAt(1) !== 0x25) return; // no '%' right after the leading '/'
  const lower = path.slice(0, 4).toLowerCase();
  if (lower === '/%2f' || lower === '/%5c')
    throw new UnsafeTargetError(`encoded slash at the start of ${JSON.stringify(path)}`);
}

/**
 * Joins a checked path to a member origin and verifies the result stays on that origin. A path that starts
 * with exactly one '/' and holds no backslash, control character or whitespace cannot change the authority of
 * the URL it is appended to (WHATWG URL: after the host, '/' starts the path), so it is appended as is and
 * parsed once, by fetch; anything else is parsed here and checked.
 */
export function memberUrl(origin: string, path: string): string {
  if (path.charCodeAt(0) === 0x2f && path.charCodeAt(1) !== 0x2f && !FORBIDDEN.test(path)) return origin + path;
  const url = new URL(path, origin);
  if (url.origin !== origin) throw new UnsafeTargetError(`request ${JSON.stringify(path)} would leave ${origin}`);
  return url.href;
}

/** `http://host:port` for an endpoint, with IPv6 literals bracketed. */
export function originOf(scheme: 'http' | 'https', host: string, port: number): string {
  const h = host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
  return new URL(`${scheme}://${h}:${port}`).origin;
}

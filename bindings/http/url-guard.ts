// Request-target checks for the fetch wrapper: a request may name a path, or a URL whose origin is the
// logical service; the wrapper replaces only the origin with a member's. Anything that could steer the
// request elsewhere is rejected: other hosts, protocol-relative `//host`, userinfo (`@`), backslashes (which
// WHATWG URL treats as slashes), ASCII control characters and whitespace (which the URL parser strips, so
// `/\t/evil` would become `//evil`), paths starting with `//` and encoded slashes at the start of the path.
// What targetPath returns starts with exactly one '/' and holds none of those characters, so a member's
// origin + that path stays on the member (WHATWG URL: after the host, '/' starts the path): the fetch
// wrapper joins them as strings, and fetch parses the URL once. memberUrl checks other paths structurally.

export class UnsafeTargetError extends TypeError {
  override name = 'UnsafeTargetError';
}

/** A control character, space, DEL or backslash (a loop: a RegExp test costs more per request). */
function forbidden(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c <= 0x20 || c === 0x7f || c === 0x5c) return true;
  }
  return false;
}

/** The path+query+fragment of a request target (a string: fetch.ts reads URL and Request inputs), or throws UnsafeTargetError. */
export function targetPath(input: string, serviceOrigin: string | undefined): string {
  if (forbidden(input))
    throw new UnsafeTargetError(
      `request URL contains a control character, space or backslash: ${JSON.stringify(input)}`,
    );
  if (input.startsWith('/')) {
    checkPath(input, input);
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
  checkPath(path, input);
  return path;
}

function checkPath(path: string, input: string): void {
  if (path.charCodeAt(1) === 0x2f) throw new UnsafeTargetError(`path of ${JSON.stringify(input)} starts with //`);
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
  if (path.charCodeAt(0) === 0x2f && path.charCodeAt(1) !== 0x2f && !forbidden(path)) return origin + path;
  const url = new URL(path, origin);
  if (url.origin !== origin) throw new UnsafeTargetError(`request ${JSON.stringify(path)} would leave ${origin}`);
  return url.href;
}

/** `http://host:port` for an endpoint, with IPv6 literals bracketed. */
export function originOf(scheme: 'http' | 'https', host: string, port: number): string {
  const h = host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
  return new URL(`${scheme}://${h}:${port}`).origin;
}

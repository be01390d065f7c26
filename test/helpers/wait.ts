// Waiting on real time in tests: poll a condition until it holds or a deadline passes.

/**
 * Polls `cond` every 10 ms for up to `timeoutMs`; resolves with the elapsed milliseconds once it holds,
 * throws `timed out waiting for <what>` when it never does.
 */
export async function until(what: string, cond: () => boolean, timeoutMs = 30_000): Promise<number> {
  const t0 = performance.now();
  while (!cond()) {
    if (performance.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
  return performance.now() - t0;
}

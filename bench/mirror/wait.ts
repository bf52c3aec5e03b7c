/** Bounded polling: every wait in the benchmark has a deadline and names what it waited for. */
export async function waitUntil<T>(
  check: () => Promise<T | undefined | false> | T | undefined | false,
  opts: { timeoutMs: number; intervalMs?: number; what: string },
): Promise<T> {
  const deadline = Date.now() + opts.timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline)
      throw new Error(`timed out after ${opts.timeoutMs} ms waiting for ${opts.what}`);
    await new Promise((r) => setTimeout(r, opts.intervalMs ?? 100));
  }
}

/**
 * Waits until `sample()` has not changed for `quietMs` (a settle period measured by quiescence
 * rather than a fixed sleep); returns the elapsed time. Bounded by `timeoutMs`.
 */
export async function waitQuiet(
  sample: () => Promise<number>,
  opts: { quietMs: number; timeoutMs: number; intervalMs?: number; what: string },
): Promise<number> {
  const start = Date.now();
  let last = await sample();
  let since = Date.now();
  await waitUntil(
    async () => {
      const now = await sample();
      if (now !== last) {
        last = now;
        since = Date.now();
      }
      return Date.now() - since >= opts.quietMs;
    },
    { timeoutMs: opts.timeoutMs, intervalMs: opts.intervalMs ?? 250, what: opts.what },
  );
  return Date.now() - start;
}

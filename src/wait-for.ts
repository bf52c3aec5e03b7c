/**
 * Waiting on a condition with a deadline: the one way Isthmus (and its tests) wait for something
 * to become true, instead of sleeping for a guessed time.
 */
import { IsthmusError } from './errors.js';

export interface WaitOptions {
  timeoutMs?: number;
  /** Pause between checks (default 20 ms). */
  intervalMs?: number;
}

/**
 * Polls `check` until it returns a truthy value, which is returned. At the deadline it throws a
 * `WAIT_TIMEOUT` error naming `what` and the last error `check` threw, if any.
 */
export async function waitFor<T>(
  what: string,
  check: () => T | Promise<T>,
  opts: WaitOptions | number = {},
): Promise<NonNullable<T>> {
  const { timeoutMs = 10_000, intervalMs = 20 } = typeof opts === 'number' ? { timeoutMs: opts } : opts;
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value) return value as NonNullable<T>;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      const cause = last instanceof Error ? `: ${last.message}` : last ? `: ${String(last)}` : '';
      throw new IsthmusError('WAIT_TIMEOUT', `timed out after ${timeoutMs} ms waiting for ${what}${cause}`, {
        cause: last,
      });
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

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

/** What `settleBy` gives for a check still running at the deadline (never a value a check returns). */
const STILL_RUNNING: unique symbol = Symbol('still running');

/**
 * Polls `check` until it returns a truthy value, which is returned. At the deadline it throws a
 * `WAIT_TIMEOUT` error naming `what` and the last error `check` threw, if any. Each check is raced
 * against the time left: one that has not settled by the deadline ends the wait then (the error
 * says for how long it had run), and is left to finish on its own, its result ignored.
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
    const checkStarted = Date.now();
    let running = false;
    try {
      const value = await settleBy(check, deadline);
      if (value === STILL_RUNNING) running = true;
      else if (value) return value as NonNullable<T>;
    } catch (err) {
      last = err;
    }
    if (running || Date.now() > deadline) {
      const lastError = last instanceof Error ? last.message : last ? String(last) : '';
      const cause = lastError ? `: ${lastError}` : '';
      // Said of a check that hung, not of one merely caught by the deadline as it began.
      const ran = Date.now() - checkStarted;
      const inFlight =
        running && ran >= intervalMs ? ` (its check in flight had not settled after ${ran} ms)` : '';
      throw new IsthmusError(
        'WAIT_TIMEOUT',
        `timed out after ${timeoutMs} ms waiting for ${what}${cause}${inFlight}`,
        { cause: last },
      );
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** Runs `check`; if it returns a promise, races it against the time left until `deadline`. */
function settleBy<T>(check: () => T | Promise<T>, deadline: number): T | Promise<T | typeof STILL_RUNNING> {
  const returned = check();
  if (typeof (returned as { then?: unknown } | null | undefined)?.then !== 'function') return returned;
  const result = Promise.resolve(returned);
  // A check abandoned at the deadline may still reject later: that must not be an unhandled rejection.
  result.catch(() => {});
  let timer: NodeJS.Timeout | undefined;
  const timeUp = new Promise<typeof STILL_RUNNING>((resolve) => {
    timer = setTimeout(() => resolve(STILL_RUNNING), Math.max(0, deadline - Date.now()));
  });
  return Promise.race([result, timeUp]).finally(() => clearTimeout(timer));
}

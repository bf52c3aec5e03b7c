/**
 * Log lines rate-limited per key: the first event of a key in a window is logged, the rest of the
 * window only counted and reported with the next line of that key. A flood from many addresses
 * cannot grow the table or the log: past `maxTracked` keys with an open window, further keys share
 * one window per overflow key. The gateway's handshake refusals and identity's Certify refusals use
 * it (src/gateway/refusal-log.ts, src/identity/certify-log.ts).
 */

/** One line per key per window. */
export const LOG_WINDOW_MS = 60_000;

/** Keys remembered at once: far more than a cluster has gateway pods. */
export const MAX_TRACKED_KEYS = 1000;

export interface LogWindowOptions {
  /** A monotonic clock in ms (default performance.now). */
  now?: () => number;
  windowMs?: number;
  maxTracked?: number;
}

interface Window {
  /** When the window closes (the next event after it is logged). */
  until: number;
  /** Events left out of the log since the window opened. */
  suppressed: number;
}

/**
 * For each event of `key` (its `overflowKey` once the table is full of open windows): undefined
 * when it is left out of the log, else the number left out before it.
 */
export function logWindows(
  options: LogWindowOptions = {},
): (key: string, overflowKey: string) => number | undefined {
  const now = options.now ?? (() => performance.now());
  const windowMs = options.windowMs ?? LOG_WINDOW_MS;
  const maxTracked = options.maxTracked ?? MAX_TRACKED_KEYS;
  // In the order the windows opened, so also of their ends: the closed ones are at the front.
  const tracked = new Map<string, Window>();
  const overflow = new Map<string, Window>();

  const admit = (table: Map<string, Window>, key: string, t: number): number | undefined => {
    const open = table.get(key);
    if (open && t < open.until) {
      open.suppressed++;
      return undefined;
    }
    table.delete(key);
    table.set(key, { until: t + windowMs, suppressed: 0 });
    return open?.suppressed ?? 0;
  };

  return (key, overflowKey) => {
    const t = now();
    if (!tracked.has(key) && tracked.size >= maxTracked) {
      for (const [k, w] of tracked) {
        if (w.until > t) break;
        tracked.delete(k);
      }
      if (tracked.size >= maxTracked) return admit(overflow, overflowKey, t);
    }
    return admit(tracked, key, t);
  };
}

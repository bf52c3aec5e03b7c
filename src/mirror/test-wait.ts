import { waitFor as sharedWaitFor } from '../wait-for.js';

/** Polls a condition until it holds or the deadline passes (no sleeps as synchronisation). Test-only. */
export function waitFor<T>(
  check: () => T | Promise<T>,
  opts: { timeoutMs?: number; intervalMs?: number; what?: string } = {},
): Promise<NonNullable<T>> {
  return sharedWaitFor(opts.what ?? 'condition', check, opts);
}

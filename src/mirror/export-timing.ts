/**
 * When a remote Service became an export, the start of `isthmus_export_to_ready_seconds`. Only a
 * Service a remote watch delivers as ADDED after its first list is an export (made exported, or
 * labelled into one of the Link's selectors); what a first list holds, after a new Link, a re-link,
 * a reconnect or a restart, was exported before and is a resync, timed not at all.
 *
 * Two clocks meet here: `creationTimestamp` is the remote API server's (whole seconds), the
 * arrival is ours. A Service made exported arrives shortly after its creation, and its creation is
 * the better start (it counts the watch's delay); one made long before and labelled now arrives
 * long after it, and its arrival is the start. So the creation is taken when it lies at most
 * CREATION_TOLERANCE_MS before the arrival, else the arrival; a creation after the arrival (the
 * remote clock ahead of ours) cannot be right, and the arrival is taken too.
 */

/**
 * How long before its arrival a creation still counts as the export itself: the truncation of
 * `creationTimestamp` to whole seconds, plus a watch's delivery delay, plus some clock skew. A label
 * added to a Service within this long of its creation is timed from the creation (at most this
 * much too long).
 */
export const CREATION_TOLERANCE_MS = 5_000;

/** The start of an export that arrived at `arrivalMs` (local clock), in local milliseconds. */
export function exportedAt(
  creationTimestamp: Date | string | undefined,
  arrivalMs: number,
  toleranceMs: number = CREATION_TOLERANCE_MS,
): number {
  const created = Date.parse(String(creationTimestamp ?? ''));
  if (!Number.isFinite(created)) return arrivalMs;
  return created <= arrivalMs && arrivalMs - created <= toleranceMs ? created : arrivalMs;
}

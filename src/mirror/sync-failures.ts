/**
 * When a key's sync counts as failed, and when its failures make it SyncFailing (skip-reason.ts).
 * Pure: the watcher keeps the counts and passes the clock.
 */
import { describeError, IsthmusError } from '../errors.js';
import type { SyncResult } from './mirror-sync.js';
import type { ServiceMirrorStatus } from './plan-mirror.js';
import { SYNC_FAILING_AFTER } from './skip-reason.js';

/** Syncs of a key that threw in a row, since when (ms, the clock the watcher passes). */
export interface FailureCount {
  count: number;
  since: number;
}

/**
 * The error a finished sync is retried for (after its status is recorded): the sync's own, or the
 * egress port range found exhausted, which a freed port may cure.
 */
export function syncError(result: Pick<SyncResult, 'status' | 'retry'>): IsthmusError | undefined {
  if (result.retry) return result.retry;
  if (result.status?.reason === 'PortRangeExhausted')
    return new IsthmusError('PORT_RANGE_EXHAUSTED', result.status.message ?? 'egress port range exhausted');
  return undefined;
}

/** One more failure in a row at `now`. */
export function countFailure(seen: FailureCount | undefined, now: number): FailureCount {
  return { count: (seen?.count ?? 0) + 1, since: seen?.since ?? now };
}

/**
 * The SyncFailing entry of a key whose syncs have thrown SYNC_FAILING_AFTER times in a row over at
 * least `afterMs`, else undefined: ServicesMirrored can then say False rather than wait for a
 * success that may never come (a webhook failing closed). The message holds no count: a retry that
 * fails the same way changes nothing (no status write, no Event).
 */
export function syncFailingStatus(
  seen: FailureCount,
  now: number,
  afterMs: number,
  target: { namespace: string; name: string },
  err: unknown,
): ServiceMirrorStatus | undefined {
  if (seen.count < SYNC_FAILING_AFTER || now - seen.since < afterMs) return undefined;
  const message = `sync failing, retried with backoff (a mirror in place is kept): ${describeError(err)}`;
  return { namespace: target.namespace, name: target.name, reason: 'SyncFailing', message };
}

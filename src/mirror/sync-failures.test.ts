import { describe, expect, it } from 'vitest';
import { IsthmusError } from '../errors.js';
import type { ServiceMirrorStatus } from './plan-mirror.js';
import { SYNC_FAILING_AFTER } from './skip-reason.js';
import { countFailure, type FailureCount, syncError, syncFailingStatus } from './sync-failures.js';

describe('syncError', () => {
  const retry = new IsthmusError('KUBE_CONFLICT', 'conflict');
  const exhausted = (message?: string): ServiceMirrorStatus => ({
    namespace: 'default',
    name: 'web',
    reason: 'PortRangeExhausted',
    ...(message ? { message } : {}),
  });
  it.each<[string, Parameters<typeof syncError>[0], string | undefined, string | undefined]>([
    ['synced', { status: { namespace: 'default', name: 'web', reason: 'Mirrored' } }, undefined, undefined],
    ['gone', {}, undefined, undefined],
    ["the sync's own error", { retry, status: exhausted() }, 'KUBE_CONFLICT', 'conflict'],
    [
      'port range exhausted',
      { status: exhausted('no port left in 4180-4181') },
      'PORT_RANGE_EXHAUSTED',
      'no port left in 4180-4181',
    ],
    [
      'port range exhausted, no message',
      { status: exhausted() },
      'PORT_RANGE_EXHAUSTED',
      'egress port range exhausted',
    ],
  ])('%s', (_, result, code, message) => {
    const err = syncError(result);
    expect(err?.code).toBe(code);
    expect(err?.message).toBe(message);
  });
});

describe('countFailure', () => {
  it.each<[FailureCount | undefined, number, FailureCount]>([
    [undefined, 5, { count: 1, since: 5 }],
    [{ count: 1, since: 5 }, 9, { count: 2, since: 5 }],
  ])('%j at %i → %j', (seen, now, want) => {
    expect(countFailure(seen, now)).toEqual(want);
  });

  it('leaves the count it was given as it was', () => {
    const seen = { count: 1, since: 5 };
    countFailure(seen, 9);
    expect(seen).toEqual({ count: 1, since: 5 });
  });
});

describe('syncFailingStatus', () => {
  const target = { namespace: 'default', name: 'web' };
  const err = new IsthmusError('KUBE_API_UNAVAILABLE', 'webhook failed closed');
  it.each<[string, FailureCount, number, boolean]>([
    ['too few failures', { count: SYNC_FAILING_AFTER - 1, since: 0 }, 60_000, false],
    ['enough failures, too short a time', { count: SYNC_FAILING_AFTER, since: 0 }, 59_999, false],
    ['enough failures over long enough', { count: SYNC_FAILING_AFTER, since: 0 }, 60_000, true],
    ['more failures later', { count: SYNC_FAILING_AFTER + 5, since: 1_000 }, 90_000, true],
  ])('%s', (_, seen, now, failing) => {
    const status = syncFailingStatus(seen, now, 60_000, target, err);
    expect(status).toEqual(
      failing
        ? {
            ...target,
            reason: 'SyncFailing',
            message: 'sync failing, retried with backoff (a mirror in place is kept): webhook failed closed',
          }
        : undefined,
    );
  });

  it('says no count, so a retry failing the same way changes nothing', () => {
    const a = syncFailingStatus({ count: 3, since: 0 }, 60_000, 60_000, target, err);
    const b = syncFailingStatus({ count: 9, since: 0 }, 120_000, 60_000, target, err);
    expect(a).toEqual(b);
  });
});

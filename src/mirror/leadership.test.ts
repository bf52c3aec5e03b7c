import { describe, expect, it } from 'vitest';
import { leadershipLogLine, leaseHolderIdentity, ownPodPrefix } from './leadership.js';

describe('leaseHolderIdentity', () => {
  it("names the pod from POD_NAME (the install's downward API), with a suffix unique to the run", () => {
    expect(leaseHolderIdentity({ POD_NAME: 'isthmus-controller-7d9f-abcde' }, 'host-a', 'k3x9q1')).toBe(
      'isthmus-controller-7d9f-abcde_k3x9q1',
    );
  });

  it('falls back to the hostname outside a pod or when POD_NAME is empty', () => {
    expect(leaseHolderIdentity({}, 'host-a', 'k3x9q1')).toBe('host-a_k3x9q1');
    expect(leaseHolderIdentity({ POD_NAME: '' }, 'host-a', 'k3x9q1')).toBe('host-a_k3x9q1');
  });
});

describe('leadershipLogLine', () => {
  it.each([
    [true, { reason: 'created' }, 'info', 'leadership gained', { leading: true, reason: 'created' }],
    [
      true,
      { reason: 'expired', previousHolder: 'isthmus-controller-7d9f-abcde_k3x9q1' },
      'info',
      'leadership gained',
      { leading: true, reason: 'expired', previousHolder: 'isthmus-controller-7d9f-abcde_k3x9q1' },
    ],
    [
      false,
      { reason: 'renew-failed', error: 'no answer from the API server within 10000 ms' },
      'warn',
      'leadership lost',
      { leading: false, reason: 'renew-failed', err: 'no answer from the API server within 10000 ms' },
    ],
    [
      false,
      { reason: 'taken', holder: 'b_x' },
      'warn',
      'leadership lost',
      { leading: false, reason: 'taken', holder: 'b_x' },
    ],
    [
      false,
      { reason: 'shutdown' },
      'info',
      'leadership released at shutdown',
      { leading: false, reason: 'shutdown' },
    ],
    [true, undefined, 'info', 'leadership gained', { leading: true, reason: 'election-off' }],
  ] as const)('leading=%s %j: %s %s', (leading, why, level, msg, fields) => {
    expect(leadershipLogLine(leading, why)).toEqual({ level, msg, fields });
  });
});

describe('ownPodPrefix', () => {
  it("is the pod's name from POD_NAME only, never a host name others may share", () => {
    expect(ownPodPrefix({ POD_NAME: 'isthmus-controller-7d9f-abcde' })).toEqual({
      ownPodPrefix: 'isthmus-controller-7d9f-abcde_',
    });
    expect(ownPodPrefix({})).toEqual({});
    expect(ownPodPrefix({ POD_NAME: '' })).toEqual({});
  });
});

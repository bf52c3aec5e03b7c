import { describe, expect, it } from 'vitest';
import { leaseHolderIdentity } from './leadership.js';

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

import { afterEach, describe, expect, it } from 'vitest';
import { type Sandbox, startSandbox } from '../sandbox/index.js';
import { KubeClient } from './client.js';
import { canAcquire, LeaderElector } from './leader-election.js';
import { R } from './resources.js';
import { waitFor } from './test-support.js';
import type { V1Lease } from './types.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe('canAcquire', () => {
  const lease = (holder: string | undefined): V1Lease => ({
    spec: { holderIdentity: holder, leaseDurationSeconds: 10 },
  });
  it.each<[string, V1Lease | undefined, number, boolean]>([
    ['no lease', undefined, 0, true],
    ['released', lease(''), 0, true],
    ['ours', lease('me'), 0, true],
    ['held, fresh', lease('other'), 5_000, false],
    ['held, expired by our clock', lease('other'), 10_001, true],
  ])('%s', (_name, l, elapsed, want) => {
    expect(canAcquire(l, 'me', 1_000_000, 1_000_000 + elapsed)).toBe(want);
  });
});

async function candidates(sandbox: Sandbox, releaseOnStop = true) {
  // How many lead at once, and the most ever seen: the safety property is max <= 1.
  const together = { now: 0, max: 0 };
  const make = (identity: string) => {
    const client = KubeClient.fromKubeconfigString(sandbox.kubeconfig());
    const state = { leading: false, started: 0, stopped: 0 };
    const elector = new LeaderElector(client, {
      namespace: 'default',
      name: 'isthmus-controller',
      identity,
      leaseDurationSeconds: 1,
      renewDeadlineMs: 600,
      retryPeriodMs: 100,
      releaseOnStop,
      onStartedLeading: () => {
        state.leading = true;
        state.started++;
        together.now++;
        together.max = Math.max(together.max, together.now);
      },
      onStoppedLeading: () => {
        state.leading = false;
        state.stopped++;
        together.now--;
      },
    });
    cleanups.push(() => client.close());
    cleanups.push(() => elector.stop());
    return { client, elector, state };
  };
  return { a: make('a'), b: make('b'), together };
}

describe('LeaderElector against the sandbox', () => {
  it('exactly one of two candidates leads; the other takes over after release', async () => {
    const sandbox = await startSandbox({ name: 'east' });
    cleanups.push(() => sandbox.close());
    const { a, b, together } = await candidates(sandbox);
    a.elector.start();
    b.elector.start();
    await waitFor('a leader', () => a.state.leading || b.state.leading);
    // Let several renewals pass (the Lease's renewTime moves), then check nobody else ever led.
    const renewals = new Set<string>();
    await waitFor('three renewals', async () => {
      const l = await a.client.get<V1Lease>(R.leases, 'default', 'isthmus-controller');
      renewals.add(String(l?.spec?.renewTime));
      return renewals.size >= 4;
    });
    expect(together.max).toBe(1);
    expect(a.state.started + b.state.started).toBe(1);
    const [leader, follower] = a.state.leading ? [a, b] : [b, a];
    await leader.elector.stop();
    expect(leader.state.stopped).toBe(1);
    await waitFor('takeover', () => follower.state.leading, 5_000);
    const lease = await follower.client.get<V1Lease>(R.leases, 'default', 'isthmus-controller');
    expect(lease?.spec?.holderIdentity).toBe(follower === a ? 'a' : 'b');
    expect(lease?.spec?.leaseTransitions).toBeGreaterThanOrEqual(1);
  });

  it('without release, the follower waits for the lease to expire', async () => {
    const sandbox = await startSandbox({ name: 'east' });
    cleanups.push(() => sandbox.close());
    const { a, b } = await candidates(sandbox, false);
    a.elector.start();
    await waitFor('a leads', () => a.state.leading);
    b.elector.start();
    await a.elector.stop();
    const stoppedAt = Date.now();
    await waitFor('b leads', () => b.state.leading, 5_000);
    // The lease lasts 1 s from b's first observation of it.
    expect(Date.now() - stoppedAt).toBeGreaterThanOrEqual(700);
  });

  it('a leader that cannot renew steps down within the renew deadline', async () => {
    const sandbox = await startSandbox({ name: 'east' });
    cleanups.push(() => sandbox.close());
    const { a } = await candidates(sandbox);
    a.elector.start();
    await waitFor('a leads', () => a.state.leading);
    await sandbox.faults.goOffline();
    const offlineAt = Date.now();
    await waitFor('a steps down', () => !a.state.leading, 5_000);
    // renewDeadline 600 ms + one retry period; well before the 1 s lease could let another in.
    expect(Date.now() - offlineAt).toBeLessThan(1_000 + 500);
    expect(a.elector.isLeader()).toBe(false);
    await sandbox.faults.goOnline();
    await waitFor('a leads again', () => a.state.leading, 5_000);
    expect(a.state.started).toBe(2);
  });
});

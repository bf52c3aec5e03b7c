import { afterEach, describe, expect, it, vi } from 'vitest';
import { type Sandbox, startSandbox } from '../sandbox/index.js';
import { KubeClient } from './client.js';
import { canAcquire, LeaderElector, type LeadershipGained, type LeadershipLost } from './leader-election.js';
import { R } from './resources.js';
import { waitFor } from './test-support.js';
import type { V1Lease } from './types.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A sandbox and candidate `a` of `candidates`, leading. */
async function leadingCandidate() {
  const sandbox = await startSandbox({ name: 'east' });
  cleanups.push(() => sandbox.close());
  const { a } = await candidates(sandbox);
  a.elector.start();
  await waitFor('a leads', () => a.state.leading);
  return { sandbox, a };
}

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

async function candidates(
  sandbox: Sandbox,
  releaseOnStop = true,
  clientFor: (identity: string, kubeconfig: string) => KubeClient = (_id, kc) =>
    KubeClient.fromKubeconfigString(kc),
) {
  // How many lead at once, and the most ever seen: the safety property is max <= 1.
  const together = { now: 0, max: 0 };
  const make = (identity: string) => {
    const client = clientFor(identity, sandbox.kubeconfig());
    const state = {
      leading: false,
      started: 0,
      stopped: 0,
      /** Why it started or stopped leading, each time. */
      why: [] as Array<LeadershipGained | LeadershipLost>,
    };
    const elector = new LeaderElector(client, {
      namespace: 'default',
      name: 'isthmus-controller',
      identity,
      leaseDurationSeconds: 1,
      renewDeadlineMs: 600,
      retryPeriodMs: 100,
      releaseOnStop,
      onStartedLeading: (why) => {
        state.why.push(why);
        state.leading = true;
        state.started++;
        together.now++;
        together.max = Math.max(together.max, together.now);
      },
      onStoppedLeading: (why) => {
        state.why.push(why);
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
    // Why each change happened, for the log.
    expect(leader.state.why).toEqual([{ reason: 'created' }, { reason: 'shutdown' }]);
    expect(follower.state.why).toEqual([{ reason: 'free' }]);
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
    expect(b.state.why).toEqual([{ reason: 'expired', previousHolder: 'a' }]);
  });

  it('a leader that cannot renew steps down within the renew deadline', async () => {
    const { sandbox, a } = await leadingCandidate();
    await sandbox.faults.goOffline();
    const offlineAt = Date.now();
    await waitFor('a steps down', () => !a.state.leading, 5_000);
    // renewDeadline 600 ms + one retry period; well before the 1 s lease could let another in.
    expect(Date.now() - offlineAt).toBeLessThan(1_000 + 500);
    expect(a.elector.isLeader()).toBe(false);
    expect(a.state.why[1]).toEqual({ reason: 'renew-failed', error: expect.stringMatching(/./) });
    await sandbox.faults.goOnline();
    await waitFor('a leads again', () => a.state.leading, 5_000);
    expect(a.state.started).toBe(2);
  });

  it('a leader whose renewals hang steps down at the renew deadline, before the lease can expire', async () => {
    const { sandbox, a } = await leadingCandidate();
    // Every answer now takes 3 s (an overloaded or half-reachable API server): a renewal that
    // succeeds that late must not keep a leading past its deadline while a follower's 1 s lease
    // clock runs out.
    sandbox.faults.setDelay(3_000);
    cleanups.push(() => sandbox.faults.setDelay(0));
    const slowAt = performance.now();
    await waitFor('a steps down', () => !a.state.leading, 2_500);
    expect(performance.now() - slowAt).toBeLessThan(1_000);
  });

  it('a wall-clock step back does not keep a leader that cannot renew in office', async () => {
    const { sandbox, a } = await leadingCandidate();
    await sandbox.faults.goOffline();
    // NTP steps the wall clock back an hour: durations must be measured on a monotonic clock.
    const realNow = Date.now.bind(Date);
    const spy = vi.spyOn(Date, 'now').mockImplementation(() => realNow() - 3_600_000);
    cleanups.push(() => spy.mockRestore());
    const offlineAt = performance.now();
    await waitFor('a steps down', () => !a.state.leading, 3_000);
    expect(performance.now() - offlineAt).toBeLessThan(1_000 + 500);
  });

  it('a leader that stops gives up leadership before it releases the Lease', async () => {
    const sandbox = await startSandbox({ name: 'east' });
    cleanups.push(() => sandbox.close());
    let bLeads = () => false;
    // a's release reaches the server, but its answer is held until b has taken over (or 3 s).
    class SlowReleaseClient extends KubeClient {
      override async request(...args: Parameters<KubeClient['request']>) {
        const res = await super.request(...args);
        const body = args[3]?.body as V1Lease | undefined;
        if (args[1] === 'PUT' && body?.spec?.holderIdentity === '')
          await waitFor('b leads', bLeads, 3_000).catch(() => {});
        return res;
      }
    }
    const { a, b, together } = await candidates(sandbox, true, (identity, kc) =>
      identity === 'a'
        ? new SlowReleaseClient(KubeClient.fromKubeconfigString(kc).config)
        : KubeClient.fromKubeconfigString(kc),
    );
    bLeads = () => b.state.leading;
    a.elector.start();
    await waitFor('a leads', () => a.state.leading);
    b.elector.start();
    await a.elector.stop();
    await waitFor('b leads', () => b.state.leading, 5_000);
    expect(together.max).toBe(1);
  });

  it('a candidate stopped while its acquire is in flight releases the Lease it won', async () => {
    const sandbox = await startSandbox({ name: 'east' });
    cleanups.push(() => sandbox.close());
    const { a } = await candidates(sandbox);
    sandbox.faults.setDelay(300);
    cleanups.push(() => sandbox.faults.setDelay(0));
    a.elector.start();
    // The Lease does not exist yet: stop while a's create of it is in flight.
    await waitFor('a is creating the Lease', () => a.client.stats().byVerb.create === 1);
    const stopping = a.elector.stop();
    // The create already in flight keeps its delay; the release that follows it need not wait.
    sandbox.faults.setDelay(0);
    await stopping;
    const lease = await a.client.get<V1Lease>(R.leases, 'default', 'isthmus-controller');
    expect(lease?.spec?.holderIdentity ?? '').toBe('');
    expect(a.state.started).toBe(0);
  });

  it("lease renewals do not queue behind the leader's own requests in its client's rate limiter", async () => {
    const sandbox = await startSandbox({ name: 'east' });
    cleanups.push(() => sandbox.close());
    // a's client is the controller's: 20 QPS, and a burst of writes queued ahead of the renewals.
    const { a, b, together } = await candidates(sandbox, true, (identity, kc) =>
      KubeClient.fromKubeconfigString(
        kc,
        undefined,
        identity === 'a' ? { rateLimit: { qps: 20, burst: 1 } } : {},
      ),
    );
    a.elector.start();
    await waitFor('a leads', () => a.state.leading);
    b.elector.start();
    // 40 requests: 2 s of the limiter's time, more than the 1 s lease.
    const backlog = Promise.all(
      Array.from({ length: 40 }, (_, i) => a.client.get(R.configMaps, 'default', `absent-${i}`)),
    );
    await backlog;
    expect(a.state.stopped).toBe(0);
    expect(b.state.started).toBe(0);
    expect(together.max).toBe(1);
  });
});

describe('why leadership changes', () => {
  it('another holder in the Lease: taken, naming it; won back once that one stops renewing', async () => {
    const { a } = await leadingCandidate();
    const lease = await a.client.get<V1Lease>(R.leases, 'default', 'isthmus-controller');
    const microNow = new Date().toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
    await a.client.replace<V1Lease>(R.leases, {
      ...lease,
      spec: { ...lease?.spec, holderIdentity: 'rival', renewTime: microNow as unknown as Date },
    });
    await waitFor('a steps down', () => !a.state.leading, 5_000);
    expect(a.state.why[1]).toEqual({ reason: 'taken', holder: 'rival' });
    await waitFor('a leads again', () => a.state.leading, 5_000);
    expect(a.state.why[2]).toEqual({ reason: 'expired', previousHolder: 'rival' });
  });
});

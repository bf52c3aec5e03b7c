import { afterEach, describe, expect, it, vi } from 'vitest';
import { type Sandbox, startSandbox } from '../sandbox/index.js';
import { updateWithRetry } from './apply.js';
import { KubeClient } from './client.js';
import { canAcquire, LeaderElector, type LeadershipGained, type LeadershipLost } from './leader-election.js';
import { R } from './resources.js';
import { waitFor } from './test-support.js';
import type { V1Lease } from './types.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/**
 * The candidates' durations. Each test picks the shortest that its claim needs, and long ones
 * otherwise: a test process stalled for a second (GC, another worker, a loaded 2-core CI machine)
 * must not make a leader step down in a test that is not about stepping down.
 */
interface Timing {
  leaseDurationSeconds: number;
  renewDeadlineMs: number;
  retryPeriodMs: number;
}
/** Not about timing: a leader keeps its Lease through a stall of several seconds. */
const STEADY: Timing = { leaseDurationSeconds: 15, renewDeadlineMs: 10_000, retryPeriodMs: 100 };
/** About stepping down: a 2 s renew deadline, far from the 10 s a follower waits for the Lease. */
const STEP_DOWN: Timing = { leaseDurationSeconds: 10, renewDeadlineMs: 2_000, retryPeriodMs: 100 };
/** About a follower waiting for the Lease to expire: short enough to wait for in a test. */
const EXPIRY: Timing = { leaseDurationSeconds: 3, renewDeadlineMs: 2_000, retryPeriodMs: 100 };

/** A sandbox and candidate `a` of `candidates`, leading. */
async function leadingCandidate(timing: Timing) {
  const sandbox = await startSandbox({ name: 'east' });
  cleanups.push(() => sandbox.close());
  const { a } = await candidates(sandbox, true, undefined, timing);
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

  // A fresh Lease of an earlier run of this pod is taken at once; any other pod's is not.
  it.each<[string, string, string | undefined, boolean]>([
    ['an earlier run of this pod', 'ctl-7d9f-abcde_k3x9q1', 'ctl-7d9f-abcde_', true],
    ['another pod', 'ctl-7d9f-zzzzz_k3x9q1', 'ctl-7d9f-abcde_', false],
    ['a pod whose name extends ours', 'ctl-7d9f-abcde2_k3x9q1', 'ctl-7d9f-abcde_', false],
    ['no pod name known', 'ctl-7d9f-abcde_k3x9q1', undefined, false],
    ['an empty prefix', 'ctl-7d9f-abcde_k3x9q1', '_', false],
  ])('held, fresh, by %s', (_name, holder, prefix, want) => {
    expect(canAcquire(lease(holder), 'ctl-7d9f-abcde_new', 1_000_000, 1_000_000, prefix)).toBe(want);
  });
});

describe('a restarted run of the same pod', () => {
  it("takes its crashed run's Lease at once; a candidate of another pod still waits for expiry", async () => {
    const sandbox = await startSandbox({ name: 'east' });
    cleanups.push(() => sandbox.close());
    const client = KubeClient.fromKubeconfigString(sandbox.kubeconfig());
    cleanups.push(() => client.close());
    // The crashed run: renewed just now, for a minute, and never again.
    const now = new Date().toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
    await client.create<V1Lease>(R.leases, {
      metadata: { namespace: 'default', name: 'isthmus-controller' },
      spec: {
        holderIdentity: 'ctl-abcde_old',
        leaseDurationSeconds: 60,
        acquireTime: now as unknown as Date,
        renewTime: now as unknown as Date,
        leaseTransitions: 0,
      },
    });
    const started = (identity: string, ownPodPrefix: string) => {
      const gained: LeadershipGained[] = [];
      const elector = new LeaderElector(client, {
        namespace: 'default',
        name: 'isthmus-controller',
        identity,
        ownPodPrefix,
        ...STEADY,
        onStartedLeading: (why) => gained.push(why),
      });
      cleanups.push(() => elector.stop());
      elector.start();
      return gained;
    };
    const other = started('ctl-zzzzz_new', 'ctl-zzzzz_');
    const restarted = started('ctl-abcde_new', 'ctl-abcde_');
    await waitFor('the restarted run leads', () => restarted.length > 0);
    expect(restarted).toEqual([{ reason: 'previous-run', previousHolder: 'ctl-abcde_old' }]);
    const l = await client.get<V1Lease>(R.leases, 'default', 'isthmus-controller');
    expect(l?.spec?.holderIdentity).toBe('ctl-abcde_new');
    expect(l?.spec?.leaseTransitions).toBe(1);
    expect(other).toEqual([]);
  });
});

async function candidates(
  sandbox: Sandbox,
  releaseOnStop = true,
  clientFor: (identity: string, kubeconfig: string) => KubeClient = (_id, kc) =>
    KubeClient.fromKubeconfigString(kc),
  timing: Timing = STEADY,
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
      ...timing,
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
    await waitFor('takeover', () => follower.state.leading, 15_000);
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
    const { a, b } = await candidates(sandbox, false, undefined, EXPIRY);
    a.elector.start();
    await waitFor('a leads', () => a.state.leading);
    b.elector.start();
    await a.elector.stop();
    const stoppedAt = Date.now();
    await waitFor('b leads', () => b.state.leading, 20_000);
    // The lease lasts 3 s from b's last observation of a's renewal, made at most a retry period
    // before a stopped: a lower bound, which a slow machine only makes longer.
    expect(Date.now() - stoppedAt).toBeGreaterThanOrEqual(2_000);
    expect(b.state.why).toEqual([{ reason: 'expired', previousHolder: 'a' }]);
  });

  it('a leader that cannot renew steps down at the renew deadline, before the lease could let another in', async () => {
    const { sandbox, a } = await leadingCandidate(STEP_DOWN);
    await sandbox.faults.goOffline();
    // The renew deadline is 2 s. The wait's deadline is the 10 s lease: what stepping down at the
    // renew deadline is for is being gone before a follower may take the Lease.
    await waitFor('a steps down before its lease expires', () => !a.state.leading, 10_000);
    expect(a.elector.isLeader()).toBe(false);
    expect(a.state.why[1]).toEqual({ reason: 'renew-failed', error: expect.stringMatching(/./) });
    await sandbox.faults.goOnline();
    // The Lease still names a: it takes it back at once, not after the lease.
    await waitFor('a leads again', () => a.state.leading, 10_000);
    expect(a.state.started).toBe(2);
    expect(a.state.why[2]).toEqual({ reason: 'held' });
  });

  it('a leader frozen past its term is no leader the moment it runs again, before its loop steps it down', async () => {
    // A 300 ms term: the freeze below outlasts it whatever the machine's load.
    const { a } = await leadingCandidate({
      leaseDurationSeconds: 3,
      renewDeadlineMs: 300,
      retryPeriodMs: 100,
    });
    expect(a.elector.isLeader()).toBe(true);
    // The process frozen (a GC pause, SIGSTOP, a starved VM): nothing else runs until it thaws.
    const frozenUntil = performance.now() + 400;
    while (performance.now() < frozenUntil) {}
    // No callback has run yet, so the elector still counts itself leading; its term says otherwise.
    expect(a.state.leading).toBe(true);
    expect(a.elector.isLeader()).toBe(false);
  });

  it('a leader whose renewals hang steps down at the renew deadline, before the lease can expire', async () => {
    const { sandbox, a } = await leadingCandidate(STEP_DOWN);
    // Every answer now takes 8 s (an overloaded or half-reachable API server): a renewal that
    // succeeds that late must not keep a leading past its 2 s deadline while a follower's 10 s
    // lease clock runs out.
    sandbox.faults.setDelay(8_000);
    cleanups.push(() => sandbox.faults.setDelay(0));
    // Stepped down before any delayed answer could come back, and for the renewal's budget running out.
    await waitFor('a steps down before the delayed answers arrive', () => !a.state.leading, 7_000);
    expect(a.state.why[1]).toEqual({
      reason: 'renew-failed',
      error: expect.stringMatching(/^no answer from the API server within \d+ ms$/),
    });
  });

  it('a wall-clock step back does not keep a leader that cannot renew in office', async () => {
    const { sandbox, a } = await leadingCandidate(STEP_DOWN);
    await sandbox.faults.goOffline();
    // NTP steps the wall clock back an hour: durations must be measured on a monotonic clock.
    const realNow = Date.now.bind(Date);
    const spy = vi.spyOn(Date, 'now').mockImplementation(() => realNow() - 3_600_000);
    cleanups.push(() => spy.mockRestore());
    // Measured on the wall clock, the term would look an hour from its end: a would never step down.
    await waitFor('a steps down before its lease expires', () => !a.state.leading, 10_000);
    expect(a.state.why[1]).toEqual({ reason: 'renew-failed', error: expect.stringMatching(/./) });
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
    await waitFor('b leads', () => b.state.leading, 15_000);
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
    // A renew deadline of 2.5 s: a renewal queued behind the 4 s backlog would miss it.
    const { a, b, together } = await candidates(
      sandbox,
      true,
      (identity, kc) =>
        KubeClient.fromKubeconfigString(
          kc,
          undefined,
          identity === 'a' ? { rateLimit: { qps: 20, burst: 1 } } : {},
        ),
      { leaseDurationSeconds: 6, renewDeadlineMs: 2_500, retryPeriodMs: 100 },
    );
    a.elector.start();
    await waitFor('a leads', () => a.state.leading);
    b.elector.start();
    // 80 requests: 4 s of the limiter's time, more than the renew deadline.
    const backlog = Promise.all(
      Array.from({ length: 80 }, (_, i) => a.client.get(R.configMaps, 'default', `absent-${i}`)),
    );
    await backlog;
    expect(a.state.stopped).toBe(0);
    expect(b.state.started).toBe(0);
    expect(together.max).toBe(1);
  });
});

describe('why leadership changes', () => {
  it('another holder in the Lease: taken, naming it; won back once that one stops renewing', async () => {
    const { a } = await leadingCandidate(EXPIRY);
    const microNow = new Date().toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
    // Retried on a conflict: a renews every 100 ms, and may write between this read and this write.
    await updateWithRetry<V1Lease>(a.client, R.leases, 'default', 'isthmus-controller', (lease) => ({
      ...lease,
      spec: { ...lease.spec, holderIdentity: 'rival', renewTime: microNow as unknown as Date },
    }));
    await waitFor('a steps down', () => !a.state.leading, 15_000);
    expect(a.state.why[1]).toEqual({ reason: 'taken', holder: 'rival' });
    await waitFor('a leads again', () => a.state.leading, 15_000);
    expect(a.state.why[2]).toEqual({ reason: 'expired', previousHolder: 'rival' });
  });
});

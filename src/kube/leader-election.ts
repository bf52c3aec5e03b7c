/**
 * Lease-based leader election (coordination.k8s.io/v1), the algorithm of client-go's
 * leaderelection package: a candidate takes the Lease when it is free or its holder has not renewed
 * within leaseDuration, the leader renews every retryPeriod and gives up if it cannot renew within
 * renewDeadline. Every write carries the Lease's resourceVersion, so of two candidates racing for
 * an expired Lease exactly one wins (the other gets 409). Expiry is judged by *our* clock from
 * when we last saw the record change, not by the holder's renewTime, so clock skew cannot make two
 * leaders; every duration is measured on the monotonic clock (performance.now), so a wall-clock
 * step (NTP) cannot either. Each attempt is bounded by renewDeadline (client-go's renew context),
 * and a leader counts its term from the *start* of its last successful attempt: it steps down no
 * later than that start + renewDeadline, while a follower, which saw that write after it began,
 * waits at least leaseDuration (> renewDeadline) from then.
 */
import { describeError, IsthmusError } from '../errors.js';
import type { KubeClient } from './client.js';
import { abortableDelay } from './rate-limiter.js';
import { R } from './resources.js';
import type { V1Lease } from './types.js';

export interface LeaderElectionConfig {
  namespace: string;
  name: string;
  identity: string;
  /** client-go defaults: 15 s / 10 s / 2 s. */
  leaseDurationSeconds?: number;
  renewDeadlineMs?: number;
  retryPeriodMs?: number;
  onStartedLeading?: (why: LeadershipGained) => void;
  onStoppedLeading?: (why: LeadershipLost) => void;
  /** Release the Lease on stop so a successor need not wait for expiry (client-go ReleaseOnCancel). */
  releaseOnStop?: boolean;
  /**
   * The prefix that every run of this candidate's pod puts before its own suffix (`<pod>_`): a
   * holder named so is an earlier run of the same pod, which has exited, since the kubelet restarts
   * a container only after it ended and no two pods share a name at once. Its Lease is taken at
   * once instead of after leaseDuration, so a controller restarted after a crash resumes without
   * ~15 s of nobody leading. Set only from the pod's name as the API knows it (the downward API),
   * never from a host name, which processes outside Kubernetes may share.
   */
  ownPodPrefix?: string;
}

/**
 * How the Lease was won, for the log: `created` (there was none), `free` (released by its last
 * holder, or never held), `expired` (its holder, named, did not renew within leaseDuration by our
 * clock), `previous-run` (its holder, named, was an earlier run of this pod: see ownPodPrefix), `held`
 * (it still named us: our renewals lapsed, nobody took it).
 */
export type LeadershipGained =
  | { reason: 'created' | 'free' | 'held' }
  | { reason: 'expired' | 'previous-run'; previousHolder: string };

/**
 * Why leading ended: `renew-failed` (no renewal within renewDeadline; the last attempt's error),
 * `taken` (the Lease names another holder), `shutdown` (stopping: the Lease is released unless
 * releaseOnStop is false).
 */
export type LeadershipLost =
  | { reason: 'renew-failed'; error: string }
  | { reason: 'taken'; holder: string }
  | { reason: 'shutdown' };

/** One acquire or renew round: held (since when, and how it was won) or not (who holds it, or why it failed). */
type Round =
  | { held: true; at: number; gained: LeadershipGained }
  | { held: false; holder?: string; error?: string };

/** MicroTime: RFC 3339 with microseconds, as the API serialises it. */
export function microTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

/** Why a leader whose last failed round was `failed` stepped down. */
function lostBecause(failed: Round): LeadershipLost {
  if (!failed.held && failed.holder) return { reason: 'taken', holder: failed.holder };
  const error = (!failed.held && failed.error) || 'no renewal within the renew deadline';
  return { reason: 'renew-failed', error };
}

/** The decision for a read Lease; pure so the table of cases is testable. */
export function canAcquire(
  lease: V1Lease | undefined,
  identity: string,
  observedAtMs: number,
  nowMs: number,
  ownPodPrefix?: string,
): boolean {
  const spec = lease?.spec;
  if (!spec?.holderIdentity || spec.holderIdentity === identity) return true;
  if (isPreviousRun(spec.holderIdentity, ownPodPrefix)) return true;
  const durationMs = (spec.leaseDurationSeconds ?? 15) * 1000;
  return observedAtMs + durationMs < nowMs;
}

/** Whether `holder` is an earlier run of this candidate's pod (LeaderElectionConfig.ownPodPrefix). */
export function isPreviousRun(holder: string, ownPodPrefix: string | undefined): boolean {
  return ownPodPrefix !== undefined && ownPodPrefix.length > 1 && holder.startsWith(ownPodPrefix);
}

export class LeaderElector {
  private readonly abort = new AbortController();
  private leading = false;
  /**
   * When the term of the last successful acquire or renewal ends (monotonic ms): its start +
   * renewDeadline. A leader stops writing then even if the loop that steps it down has not run yet
   * (a process frozen mid-sync resumes with its callbacks queued behind its own work).
   */
  private termEnd = 0;
  private loop: Promise<void> | undefined;
  private observed: { key: string; at: number } | undefined;
  private readonly leaseSeconds: number;
  private readonly renewDeadlineMs: number;
  private readonly retryMs: number;

  constructor(
    private readonly client: KubeClient,
    private readonly cfg: LeaderElectionConfig,
  ) {
    this.leaseSeconds = cfg.leaseDurationSeconds ?? 15;
    this.renewDeadlineMs = cfg.renewDeadlineMs ?? 10_000;
    this.retryMs = cfg.retryPeriodMs ?? 2_000;
    if (this.renewDeadlineMs >= this.leaseSeconds * 1000 || this.retryMs >= this.renewDeadlineMs) {
      throw new IsthmusError('USAGE', 'leader election needs retryPeriod < renewDeadline < leaseDuration', {
        terminal: true,
      });
    }
  }

  /** Leading, and within the term the last renewal granted (by the monotonic clock, now). */
  isLeader(): boolean {
    return this.leading && performance.now() < this.termEnd;
  }

  start(): void {
    this.loop ??= this.run();
  }

  /** Stops campaigning; a leader releases the Lease and gets onStoppedLeading. */
  async stop(): Promise<void> {
    this.abort.abort();
    await this.loop;
  }

  private get stopped(): boolean {
    return this.abort.signal.aborted;
  }

  /** client-go jitters the acquire retry by up to 1.2x so candidates do not move in lockstep. */
  private async sleep(ms: number): Promise<void> {
    await abortableDelay(ms, this.abort.signal).catch(() => {});
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      // Campaign until we hold the Lease.
      let won: Round | undefined;
      while (!this.stopped) {
        won = await this.tryAcquireOrRenew(this.renewDeadlineMs);
        if (won.held) break;
        await this.sleep(this.retryMs * (1 + Math.random() * 0.2));
      }
      if (this.stopped || !won?.held) break;
      this.termEnd = won.at + this.renewDeadlineMs;
      this.leading = true;
      this.cfg.onStartedLeading?.(won.gained);
      // Renew until stopped or the deadline passes without a successful renewal; an attempt may
      // only take what is left of the deadline (a late success would extend a term others no
      // longer grant us).
      let lastRenew = won.at;
      let failed: Round = { held: false };
      while (!this.stopped) {
        await this.sleep(this.retryMs);
        if (this.stopped) break;
        const left = lastRenew + this.renewDeadlineMs - performance.now();
        const round: Round = left > 0 ? await this.tryAcquireOrRenew(left) : failed;
        if (round.held) {
          lastRenew = round.at;
          this.termEnd = lastRenew + this.renewDeadlineMs;
        } else failed = round;
        if (!round.held && performance.now() - lastRenew >= this.renewDeadlineMs) break;
      }
      // Leadership ends here, before the Lease is released: a successor must not start first.
      this.leading = false;
      this.cfg.onStoppedLeading?.(this.stopped ? { reason: 'shutdown' } : lostBecause(failed));
    }
    // Also when stopped mid-campaign: an acquire in flight at stop() may have won the Lease.
    if (this.cfg.releaseOnStop !== false) await this.release();
  }

  private observe(lease: V1Lease | undefined): number {
    const key = `${lease?.spec?.holderIdentity ?? ''}|${lease?.spec?.renewTime ?? ''}|${lease?.metadata?.resourceVersion ?? ''}`;
    if (this.observed?.key !== key) this.observed = { key, at: performance.now() };
    return this.observed.at;
  }

  /**
   * One round, given `budgetMs` to finish (its requests are aborted after that). Held: when the
   * round started (monotonic ms) and how the Lease was won. Not held: who holds it, or the error
   * (API errors count as "not now").
   */
  private async tryAcquireOrRenew(budgetMs: number): Promise<Round> {
    const { namespace, name, identity } = this.cfg;
    const started = performance.now();
    const now = Date.now();
    const signal = AbortSignal.timeout(Math.max(1, Math.floor(budgetMs)));
    // The client is usually the controller's: its writes may queue seconds of rate-limit debt,
    // which a renewal must not wait behind (controller-runtime gives leader election its own client).
    try {
      const lease = await this.client.get<V1Lease>(R.leases, namespace, name, {
        signal,
        exemptFromRateLimit: true,
      });
      if (!lease) {
        await this.client.create<V1Lease>(
          R.leases,
          { metadata: { namespace, name }, spec: this.spec(now, now, 0) },
          { signal, exemptFromRateLimit: true },
        );
        this.observe(undefined);
        return { held: true, at: started, gained: { reason: 'created' } };
      }
      const observedAt = this.observe(lease);
      const spec = lease.spec ?? {};
      if (!canAcquire(lease, identity, observedAt, performance.now(), this.cfg.ownPodPrefix))
        return { held: false, holder: spec.holderIdentity ?? '' };
      const ours = spec.holderIdentity === identity;
      const acquireTime = ours && spec.acquireTime ? Date.parse(String(spec.acquireTime)) : now;
      const transitions = (spec.leaseTransitions ?? 0) + (ours ? 0 : 1);
      // PUT with the read resourceVersion: a concurrent candidate's write makes this 409.
      const updated = await this.client.replace<V1Lease>(
        R.leases,
        { ...lease, spec: { ...spec, ...this.spec(acquireTime, now, transitions) } },
        { signal, exemptFromRateLimit: true },
      );
      this.observe(updated);
      const previousHolder = spec.holderIdentity ?? '';
      const gained: LeadershipGained = ours
        ? { reason: 'held' }
        : previousHolder === ''
          ? { reason: 'free' }
          : isPreviousRun(previousHolder, this.cfg.ownPodPrefix)
            ? { reason: 'previous-run', previousHolder }
            : { reason: 'expired', previousHolder };
      return { held: true, at: started, gained };
    } catch (err) {
      // 409 (another candidate wrote first), API failures and the budget running out alike mean
      // "not this round"; a leader that keeps failing steps down when renewDeadline passes.
      const error = signal.aborted
        ? `no answer from the API server within ${Math.round(budgetMs)} ms`
        : describeError(err);
      return { held: false, error };
    }
  }

  private spec(acquireMs: number, renewMs: number, transitions: number): NonNullable<V1Lease['spec']> {
    return {
      holderIdentity: this.cfg.identity,
      leaseDurationSeconds: this.leaseSeconds,
      acquireTime: microTime(acquireMs) as unknown as Date,
      renewTime: microTime(renewMs) as unknown as Date,
      leaseTransitions: transitions,
    };
  }

  /** client-go's release: clear the holder and shorten the lease so a successor acquires at once. */
  private async release(): Promise<void> {
    // Bounded like a renewal, so stop() cannot hang on an unreachable API server.
    const signal = AbortSignal.timeout(this.renewDeadlineMs);
    try {
      const lease = await this.client.get<V1Lease>(R.leases, this.cfg.namespace, this.cfg.name, {
        signal,
        exemptFromRateLimit: true,
      });
      if (lease?.spec?.holderIdentity !== this.cfg.identity) return;
      const now = Date.now();
      await this.client.replace<V1Lease>(
        R.leases,
        {
          ...lease,
          spec: {
            ...lease.spec,
            holderIdentity: '',
            leaseDurationSeconds: 1,
            renewTime: microTime(now) as unknown as Date,
          },
        },
        { signal, exemptFromRateLimit: true },
      );
    } catch {
      // Best effort: the Lease expires on its own.
    }
  }
}

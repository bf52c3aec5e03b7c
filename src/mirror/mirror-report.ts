/**
 * What one Link's syncs found, per remote key (the ServiceMirrorStatus its status reports), and the
 * telling of it: the log lines and Events of mirror-notices.ts, the metrics of link-metrics.ts. The
 * LinkWatcher tells it of each sync's outcome; sync-failures.ts decides when a failing one counts.
 */
import type { Link } from '../kube/types.js';
import type { AppliedAction } from './applier.js';
import type { LinkMetrics } from './link-metrics.js';
import { deletionNotices, handOverNotices, mirroredChange, statusNotice } from './mirror-notices.js';
import type { SyncResult } from './mirror-sync.js';
import type { ServiceMirrorStatus } from './plan-mirror.js';
import type { SharedLocal } from './shared.js';
import { SYNC_FAILING_AFTER_MS } from './skip-reason.js';
import { countFailure, type FailureCount, syncFailingStatus } from './sync-failures.js';

export interface MirrorReportDeps {
  shared: SharedLocal;
  metrics: LinkMetrics;
  cluster(): string;
  link(): Link;
  logFields(): object;
  /** The remote keys with a mirror of this Link's here (mirror-sync.ts mirroredKeys). */
  mirrors(): readonly string[];
  /** Queues a status write. */
  statusChanged(): void;
}

export class MirrorReport {
  private readonly statuses = new Map<string, ServiceMirrorStatus>();
  /** Entries of `statuses` whose reason is Mirrored. */
  private mirroredCount = 0;
  /** A remote list has completed once: from then on `statuses` says what is mirrored. */
  private listed = false;
  /**
   * Keys of the last complete remote list not synced since: until none is left, ServicesMirrored
   * keeps what it said (link-status.ts), so a restart does not say "none failed" before a failing
   * Service is synced again.
   */
  private unsynced: Set<string> | undefined;
  /** Syncs of a key that threw in a row, since when (syncFailed). */
  private readonly failures = new Map<string, FailureCount>();

  constructor(private readonly deps: MirrorReportDeps) {}

  get(key: string): ServiceMirrorStatus | undefined {
    return this.statuses.get(key);
  }

  has(key: string): boolean {
    return this.statuses.has(key);
  }

  keys(): IterableIterator<string> {
    return this.statuses.keys();
  }

  values(): IterableIterator<ServiceMirrorStatus> {
    return this.statuses.values();
  }

  /** Whether a remote list has completed once. */
  get listedOnce(): boolean {
    return this.listed;
  }

  /** How many keys of the last complete list are not synced since; undefined before any list. */
  get unsyncedCount(): number | undefined {
    return this.unsynced?.size;
  }

  /** A remote list completed, of these keys. */
  listedAll(keys: readonly string[]): void {
    this.listed = true;
    this.unsynced = new Set(keys);
  }

  /** A sync of `key` that did not throw (it may still be retried: sync-failures.ts syncError). */
  synced(key: string, result: SyncResult): void {
    const { shared } = this.deps;
    this.failures.delete(key);
    const known = this.statuses.has(key);
    this.record(key, result.status, result.ready);
    this.unsynced?.delete(key);
    this.deps.statusChanged();
    for (const a of result.applied) {
      if (a.outcome !== 'unchanged')
        // Debug: two lines per new mirror were ~7% of the controller's CPU in a 10,000-mirror sync.
        shared.log.debug({ ...this.deps.logFields(), ...a }, 'mirror applied');
    }
    if (!result.status) this.reportDeletions(key, known, result.applied);
  }

  /**
   * A sync that threw (it is retried with backoff): once its failures make it SyncFailing
   * (sync-failures.ts), the key counts as synced, so ServicesMirrored can say False, and
   * status.services names it.
   */
  syncFailed(key: string, namespace: string, name: string, err: unknown): void {
    const now = Date.now();
    const seen = countFailure(this.failures.get(key), now);
    this.failures.set(key, seen);
    const afterMs = this.deps.shared.syncFailingAfterMs ?? SYNC_FAILING_AFTER_MS;
    const failing = syncFailingStatus(seen, now, afterMs, { namespace, name }, err);
    if (!failing) return;
    this.record(key, failing, false);
    this.unsynced?.delete(key);
    this.deps.statusChanged();
  }

  /**
   * A mirror name changing hands (mirror-notices.ts `handOverNotices`), told at each write: a
   * later write of the sync that fails must not take the news of this one with it.
   */
  reportHandOver(key: string, applied: AppliedAction, status: ServiceMirrorStatus): void {
    const { shared } = this.deps;
    for (const n of handOverNotices(this.deps.cluster(), key, status, [applied])) {
      shared.log[n.level]({ ...this.deps.logFields(), key, ...n.fields }, n.message);
      if (n.event)
        void shared.recorder?.record(this.deps.link(), n.event.type, n.event.reason, n.event.message);
    }
  }

  /**
   * Services mirrored: once a remote list has completed, those the syncs found mirrored; before,
   * the mirrors of this Link that exist (remote keys with a mirror of ours, as Linkerd's `mc
   * gateways` counts mirror Services), so a controller restarted while the remote API is
   * unreachable does not say 0 of mirrors that are there and serve.
   */
  mirrored(): number {
    return this.listed ? this.mirroredCount : this.deps.mirrors().length;
  }

  private record(key: string, status: ServiceMirrorStatus | undefined, ready: boolean): void {
    const { shared, metrics } = this.deps;
    const before = this.statuses.get(key);
    if (!status) {
      // Gone (the remote Service deleted): a count of its failures must not outlive it.
      this.failures.delete(key);
      this.statuses.delete(key);
      metrics.forget(key);
    } else {
      this.statuses.set(key, status);
      const notice = statusNotice(key, before, status);
      if (notice) {
        const fields = { ...this.deps.logFields(), key, reason: notice.reason };
        if (notice.type === 'Normal') shared.log.info(fields, notice.message);
        else shared.log.warn(fields, notice.message);
        void shared.recorder?.record(this.deps.link(), notice.type, notice.reason, notice.message);
      }
      // An export (export-timing.ts) is timed when its mirror is first ready.
      if (ready) metrics.ready(key);
    }
    // Counted incrementally: a scan of every status per sync made the initial sync O(N²).
    this.mirroredCount += mirroredChange(before, status);
    metrics.mirrored(() => this.mirrored());
  }

  /** The mirrors a sync deleted because the remote has no Service at `key` (mirror-notices.ts). */
  private reportDeletions(key: string, known: boolean, applied: SyncResult['applied']): void {
    const { shared } = this.deps;
    for (const n of deletionNotices(this.deps.cluster(), key, known, applied)) {
      shared.log.info({ ...this.deps.logFields(), key, mirror: n.mirror }, n.message);
      if (n.event) void shared.recorder?.record(this.deps.link(), 'Normal', 'MirrorDeleted', n.message);
    }
  }
}

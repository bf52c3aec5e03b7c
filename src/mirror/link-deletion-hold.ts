/**
 * One Link's guard against a remote list that shrank (deletion-hold.ts decides; this does the
 * I/O): which lists are judged, the log lines, the Warning Event, the gauge. The LinkWatcher tells
 * it of each list and asks it, per key, whether a removal is held.
 *
 * Judged: a connection's first complete list (the controller's start, a reconnect: its removals are
 * the orphans it finds), unless this process saw the Link's selectors change since its list before
 * (that edit decides what goes), and every re-list after 410 Gone (the removals the informer
 * inferred), together with the other watches' re-lists (deletion-hold.ts). What a previous process
 * listed with is not known: a selector edit made while the controller was down, or before its
 * first list completed, looks like a shrunk list and is held for the grace like one.
 */
import { DEFAULT_BACKOFF } from '../kube/backoff.js';
import type { Link } from '../kube/types.js';
import {
  DEFAULT_DELETION_GRACE_MS,
  DeletionHold,
  type HeldRemovals,
  listedBy,
  realClock,
} from './deletion-hold.js';
import type { LinkConfig } from './link-config.js';
import { heldMessage, REMOTE_LIST_SHRUNK } from './services-mirrored.js';
import type { SharedLocal } from './shared.js';

export interface LinkDeletionHoldDeps {
  shared: SharedLocal;
  cluster(): string;
  link(): Link;
  logFields(): object;
  /** Queues a remote key for a sync. */
  sync(key: string): void;
  /** Queues a status write. */
  statusChanged(): void;
}

export class LinkDeletionHold {
  private readonly hold: DeletionHold;
  /** What the last complete list listed (listedBy); undefined before one. */
  private listedWith: string | undefined;
  private stopped = false;

  constructor(private readonly deps: LinkDeletionHoldDeps) {
    const { shared } = deps;
    const graceMs = shared.deletionGraceMs ?? DEFAULT_DELETION_GRACE_MS;
    this.hold = new DeletionHold(
      graceMs,
      shared.deletionClock ?? realClock,
      {
        changed: (held, started) => this.changed(held, started),
        released: (keys) => {
          this.gauge(this.hold.current()?.count ?? 0);
          deps.statusChanged();
          shared.log.info(
            { ...deps.logFields(), mirrors: keys.length },
            'deletion hold ran out: the mirrors whose Services are still not listed are deleted',
          );
          for (const key of keys) deps.sync(key);
        },
        settled: (keys) => {
          for (const key of keys) deps.sync(key);
        },
      },
      // Every watch a restore broke retries within its longest backoff: by twice that, all re-listed.
      Math.min(graceMs, 2 * (shared.remoteBackoff ?? DEFAULT_BACKOFF).maxMs),
    );
    this.gauge(0);
  }

  /**
   * A connection's first complete list. `mirrored`: the remote keys with a mirror here;
   * `listed(key)`: whether the list picks it.
   */
  firstList(config: LinkConfig, mirrored: readonly string[], listed: (key: string) => boolean): void {
    const by = listedBy(config);
    const edited = this.listedWith !== undefined && this.listedWith !== by;
    this.listedWith = by;
    const lacking = mirrored.filter((key) => !listed(key));
    for (const key of mirrored) if (listed(key)) this.hold.back(key);
    if (!edited) this.hold.consider(mirrored.length, lacking);
  }

  /** A re-list lacked `keys` (remote-cluster.ts listShrunk); `mirrored` as for firstList. */
  relistLacks(mirrored: readonly string[], keys: readonly string[]): void {
    const have = new Set(mirrored);
    this.hold.inferred(
      have.size,
      keys.filter((key) => have.has(key)),
    );
  }

  /** The key's Service is listed (again): a removal held for it is off, its mirror kept as it is. */
  listed(key: string): void {
    this.hold.back(key);
  }

  holds(key: string): boolean {
    return this.hold.holds(key);
  }

  /**
   * The Link was edited. New selectors decide what is mirrored: what was held goes to the syncs
   * (the watcher queues every key on an edit), and the first list on them is not judged.
   */
  edited(before: LinkConfig, after: LinkConfig): void {
    if (listedBy(before) === listedBy(after)) return;
    const dropped = this.hold.clear();
    if (dropped.length > 0)
      this.deps.shared.log.info(
        { ...this.deps.logFields(), mirrors: dropped.length },
        "the Link's selectors changed: its held deletions are decided by the new ones",
      );
  }

  /** For the status: how many are held, until when (ISO). */
  current(): { count: number; until: string } | undefined {
    const held = this.hold.current();
    return held && { count: held.count, until: new Date(held.until).toISOString() };
  }

  stop(): void {
    this.stopped = true;
    this.hold.clear();
    this.deps.shared.metrics.deletionsHeld.remove({ target_cluster_name: this.deps.cluster() });
  }

  private gauge(held: number): void {
    this.deps.shared.metrics.deletionsHeld.set({ target_cluster_name: this.deps.cluster() }, held);
  }

  private changed(held: HeldRemovals | undefined, started: boolean): void {
    if (this.stopped) return;
    const { shared, logFields, link, statusChanged } = this.deps;
    this.gauge(held?.count ?? 0);
    statusChanged();
    const current = this.current();
    if (started && current) {
      const message = heldMessage(current);
      shared.log.warn({ ...logFields(), reason: REMOTE_LIST_SHRUNK, mirrors: current.count }, message);
      // Told by the leader, which alone deletes (link-events.ts leaves this reason to here).
      if (shared.leadership.isLeader())
        void shared.recorder?.record(link(), 'Warning', REMOTE_LIST_SHRUNK, message);
    } else if (!held) shared.log.info(logFields(), 'deletion hold ended');
  }
}

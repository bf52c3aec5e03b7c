/**
 * The guard against a remote list that shrank (Kubernetes' node lifecycle controller stops evicting
 * in "full disruption" for the same reason): a remote API restored from an old etcd snapshot, or
 * half-restored, lists few or no Services, and deleting every mirror it lacks would give the
 * callers of each one a new uid, clusterIP and egress ports once the Services are back. So when
 * one list (the first of a connection, or a re-list after 410 Gone) would remove too many of a
 * Link's mirrors at once (`holdsRemovals`), none of those removals is made for a grace period: a
 * Service back by then keeps its mirror untouched, the rest are removed as usual when it ends.
 *
 * Only removals a list infers are held: those a re-list after 410 Gone lacks (inferred-deletes.ts)
 * and the orphans a connection's first list finds (a restarted controller, a reconnect). A watch's
 * DELETED event (someone deleting or unexporting a Service, the server's own word) never is, nor a
 * removal a local change decides: a selector edit (its first list is not judged, listedBy), an
 * unlink or a deleted Link (cluster-cleanup.ts), a local namespace gone (the plan's
 * MissingNamespace), none of which asks the hold.
 */
import type { LinkConfig } from './link-config.js';

/** How long removals are held by default (`isthmus controller --mirror-deletion-grace`). */
export const DEFAULT_DELETION_GRACE_MS = 120_000;

/** Removals held only from this many on: losing one mirror of one is not a mass deletion. */
const MIN_HELD = 2;

/**
 * Whether one list's removals are too many to make at once: at least MIN_HELD of them and more
 * than half of the Link's `mirrored` remote Services (all of them, when there were 2 or more).
 * Exactly half is not held: a remote that unexports half its Services in one 410 window is
 * believable, an empty or mostly empty list after a restore is what this is for.
 */
export function holdsRemovals(mirrored: number, removed: number): boolean {
  return removed >= MIN_HELD && removed * 2 > mirrored;
}

/**
 * What a list is a list of: the Link's three selectors. A connection's first list after they were
 * edited removes what the edit un-selects, which is the user's decision, not the remote's loss.
 */
export function listedBy(
  config: Pick<LinkConfig, 'selector' | 'federatedServiceSelector' | 'remoteDiscoverySelector'>,
) {
  return JSON.stringify([config.selector, config.federatedServiceSelector, config.remoteDiscoverySelector]);
}

/** Time as the hold sees it: injected so that tests move it. */
export interface HoldClock {
  now(): number;
  /** Calls `fn` after `ms`; returns the cancel. */
  after(ms: number, fn: () => void): () => void;
}

export const realClock: HoldClock = {
  now: () => Date.now(),
  after(ms, fn) {
    const timer = setTimeout(fn, ms);
    timer.unref();
    return () => clearTimeout(timer);
  },
};

/** A hold in force: how many removals it keeps from being made, and until when (ms, the hold's clock). */
export interface HeldRemovals {
  count: number;
  until: number;
}

export interface DeletionHoldEvents {
  /** A hold began (`started`), grew, lost a key that came back, or ended before its time. */
  changed(held: HeldRemovals | undefined, started: boolean): void;
  /** The grace ran out (the hold is over): these keys are synced again, what is still absent is removed. */
  released(keys: string[]): void;
}

/**
 * The held removals of one Link (remote keys, `namespace/name`), and the timer that releases them.
 * Level-triggered like the rest: a key held is never removed by its syncs until the release queues
 * it again, whatever events come meanwhile.
 */
export class DeletionHold {
  private readonly keys = new Set<string>();
  private until = 0;
  private cancel: (() => void) | undefined;

  constructor(
    /** 0: no hold at all. */
    private readonly graceMs: number,
    private readonly clock: HoldClock,
    private readonly events: DeletionHoldEvents,
  ) {}

  /**
   * One list's removals (`removed`: keys that have a mirror and that the list lacks) against the
   * `mirrored` remote Services the Link had: held if they are too many, or if a hold is in force
   * already (a further shrink merges into it and pushes its end, never deletes early). Returns
   * whether they are held.
   */
  consider(mirrored: number, removed: readonly string[]): boolean {
    if (this.graceMs <= 0 || removed.length === 0) return false;
    const started = this.keys.size === 0;
    if (started && !holdsRemovals(mirrored, removed.length)) return false;
    for (const key of removed) this.keys.add(key);
    this.cancel?.();
    this.until = this.clock.now() + this.graceMs;
    this.cancel = this.clock.after(this.graceMs, () => this.release());
    this.events.changed(this.current(), started);
    return true;
  }

  holds(key: string): boolean {
    return this.keys.has(key);
  }

  /** The key's Service is listed again: its mirror is kept as it is; the last one back ends the hold. */
  back(key: string): void {
    if (!this.keys.delete(key)) return;
    if (this.keys.size === 0) this.end();
    this.events.changed(this.current(), false);
  }

  current(): HeldRemovals | undefined {
    return this.keys.size > 0 ? { count: this.keys.size, until: this.until } : undefined;
  }

  /** The Link's watcher stops, or what it lists changed: nothing is held any more, nothing released. */
  clear(): string[] {
    const keys = [...this.keys];
    this.keys.clear();
    this.end();
    if (keys.length > 0) this.events.changed(undefined, false);
    return keys;
  }

  private release(): void {
    this.cancel = undefined;
    const keys = [...this.keys];
    this.keys.clear();
    if (keys.length > 0) this.events.released(keys);
  }

  private end(): void {
    this.cancel?.();
    this.cancel = undefined;
  }
}

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
 * and the orphans a connection's first list finds (a restarted controller, a reconnect). A
 * connection's Service watches (exported, federated, remote-discovery) each get their own 410 and
 * re-list on their own, so their re-lists are judged together: a re-list's removals wait
 * `settleMs` (the informers' longest backoff, twice: by then each watch the restore broke has
 * re-listed) and are judged with every other re-list's of that wait against the mirrors there were
 * when it began; held if too many by then, else made when it ends. A watch's
 * DELETED event (someone deleting or unexporting a Service, the server's own word) never is, nor a
 * removal a local change decides: a selector edit this process sees (its first list is not judged,
 * listedBy), an unlink or a deleted Link (cluster-cleanup.ts), a local namespace gone (the plan's
 * MissingNamespace), none of which asks the hold. An edit made while no controller ran, or before
 * this one's first list, cannot be told from a shrunk list (what the process before listed with is
 * not kept): it is held for the grace like one.
 */
import { atExpiry } from '../gateway/certificate-expiry.js';
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
  // Chained past setTimeout's range, which fires a longer delay at once (a grace of 25 days).
  after: (ms, fn) => atExpiry(Date.now() + ms - 1, fn),
};

/**
 * A hold in force: how many removals it keeps from being made, and until when (ms, the hold's
 * clock): the latest deadline, when the last of them goes unless listed again.
 */
export interface HeldRemovals {
  count: number;
  until: number;
}

export interface DeletionHoldEvents {
  /** A hold began (`started`), grew, lost a key that came back, or ended before its time. */
  changed(held: HeldRemovals | undefined, started: boolean): void;
  /** These keys' grace ran out: they are synced again, what is still absent is removed. */
  released(keys: string[]): void;
  /** Re-lists' removals that were not too many after all, once every watch re-listed: synced again. */
  settled(keys: string[]): void;
}

/** Re-lists' removals being gathered (see the header): what they are judged against, and the wait. */
interface Settling {
  /** The Link's mirrored remote Services when the first of them came. */
  mirrored: number;
  /** The keys they lacked, each waiting; one listed again (a move between selectors) is no removal. */
  waiting: Set<string>;
  cancel: () => void;
}

/**
 * The held removals of one Link (remote keys, `namespace/name`), each with its deadline, and the
 * timer that releases them. Level-triggered like the rest: a key held is never removed by its
 * syncs until the release queues it again, whatever events come meanwhile.
 */
export class DeletionHold {
  /** Held key → when its grace ends. Set once per key: lacked again, it keeps its deadline. */
  private readonly held = new Map<string, number>();
  private cancel: (() => void) | undefined;
  private settling: Settling | undefined;

  constructor(
    /** 0: no hold at all. */
    private readonly graceMs: number,
    private readonly clock: HoldClock,
    private readonly events: DeletionHoldEvents,
    /** How long re-lists' removals are gathered before they are judged done (see the header). */
    private readonly settleMs = 0,
  ) {}

  /**
   * One complete list's removals (a connection's first list: `removed`, keys that have a mirror and
   * that the list lacks) against the `mirrored` remote Services the Link had: held if they are too
   * many, or if a hold is in force already (a further shrink merges into it, never deletes early).
   * Keys held already keep their deadline, new ones get a grace of their own: a reconnect lacking
   * them again never pushes the end. Returns whether they are held.
   */
  consider(mirrored: number, removed: readonly string[]): boolean {
    if (this.graceMs <= 0 || removed.length === 0) return false;
    if (this.held.size === 0 && !holdsRemovals(mirrored, removed.length)) return false;
    this.hold(removed);
    return true;
  }

  /**
   * One watch's re-list lacked `removed` (inferred-deletes.ts): gathered with the other watches'
   * re-lists of the same wait, judged on them all. Returns whether they are kept for now (held, or
   * waiting); false: removed at once (no grace, nothing to remove).
   */
  inferred(mirrored: number, removed: readonly string[]): boolean {
    if (this.graceMs <= 0 || removed.length === 0) return false;
    if (this.held.size > 0) {
      this.hold(removed);
      return true;
    }
    this.settling ??= {
      mirrored,
      waiting: new Set(),
      cancel: this.clock.after(this.settleMs, () => this.settled()),
    };
    const { settling } = this;
    for (const key of removed) settling.waiting.add(key);
    if (holdsRemovals(settling.mirrored, settling.waiting.size)) {
      const waiting = [...settling.waiting];
      this.endSettling();
      this.hold(waiting);
    }
    return true;
  }

  /** Held, or waiting for the other re-lists: no sync removes its mirror. */
  holds(key: string): boolean {
    return this.held.has(key) || (this.settling?.waiting.has(key) ?? false);
  }

  /** The key's Service is listed again: its mirror is kept as it is; the last one back ends the hold. */
  back(key: string): void {
    this.settling?.waiting.delete(key);
    if (!this.held.delete(key)) return;
    // The timer may stay: at the deadline of a key back since, it releases nothing and moves on.
    if (this.held.size === 0) this.schedule();
    this.events.changed(this.current(), false);
  }

  current(): HeldRemovals | undefined {
    if (this.held.size === 0) return undefined;
    return { count: this.held.size, until: deadline(this.held.values(), Math.max) };
  }

  /** The Link's watcher stops, or what it lists changed: nothing is held any more, nothing released. */
  clear(): string[] {
    const keys = [...this.held.keys(), ...(this.settling?.waiting ?? [])];
    const wasHeld = this.held.size > 0;
    this.held.clear();
    this.endSettling();
    this.schedule();
    if (wasHeld) this.events.changed(undefined, false);
    return keys;
  }

  private hold(keys: readonly string[]): void {
    const started = this.held.size === 0;
    const until = this.clock.now() + this.graceMs;
    for (const key of keys) if (!this.held.has(key)) this.held.set(key, until);
    this.schedule();
    this.events.changed(this.current(), started);
  }

  /** One timer, at the earliest deadline. */
  private schedule(): void {
    this.cancel?.();
    this.cancel = undefined;
    if (this.held.size === 0) return;
    const next = deadline(this.held.values(), Math.min);
    this.cancel = this.clock.after(Math.max(0, next - this.clock.now()), () => this.release());
  }

  private release(): void {
    this.cancel = undefined;
    const now = this.clock.now();
    const due = [...this.held].filter(([, until]) => until <= now).map(([key]) => key);
    for (const key of due) this.held.delete(key);
    this.schedule();
    if (due.length > 0) this.events.released(due);
  }

  private settled(): void {
    const keys = [...(this.settling?.waiting ?? [])];
    this.settling = undefined;
    if (keys.length > 0) this.events.settled(keys);
  }

  private endSettling(): void {
    this.settling?.cancel();
    this.settling = undefined;
  }
}

/** The earliest or latest of the deadlines (a loop: thousands of keys are too many arguments to spread). */
function deadline(untils: Iterable<number>, pick: (a: number, b: number) => number): number {
  let found: number | undefined;
  for (const until of untils) found = found === undefined ? until : pick(found, until);
  return found ?? 0;
}

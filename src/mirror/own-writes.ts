/**
 * The controller's own writes, so that the watch event echoing one does not queue another sync of
 * the same key (what client-go controllers call expectations). An echo carries exactly the
 * resourceVersion the write returned: nothing changed since the sync that wrote it decided, so
 * syncing again would only re-plan the same state — at an initial sync, two extra syncs per mirror.
 * Any other event of the object (another writer, a later version, a delete) is a real change and
 * is synced.
 *
 * The echo often arrives before the write's answer has been read (the watch and the request are
 * separate connections). An event of an object with a write in flight is therefore held until that
 * write settles: dropped when it carries the version the write returned, otherwise re-queued then —
 * so a real change is late by at most one request, never lost.
 */
import type { InformerEvent } from '../kube/informer.js';
import type { KubeObject } from '../kube/types.js';

export type WrittenKind = 'Service' | 'EndpointSlice';

const keyOf = (kind: WrittenKind, namespace: string | undefined, name: string | undefined) =>
  `${kind} ${namespace ?? ''}/${name ?? ''}`;

const objectKey = (kind: WrittenKind, obj: KubeObject) =>
  keyOf(kind, obj.metadata?.namespace, obj.metadata?.name);

/** An event held while a write of its object is in flight. */
interface Held {
  version: string | undefined;
  deleted: boolean;
  requeue: () => void;
}

interface InFlight {
  writes: number;
  held: Held[];
  /** The version the last settled write returned. */
  version?: string;
}

export class OwnWrites {
  private readonly versions = new Map<string, string>();
  private readonly inFlight = new Map<string, InFlight>();

  /** Writes noted and not yet echoed, plus objects with a write in flight. */
  get size(): number {
    return this.versions.size + this.inFlight.size;
  }

  /** Runs one create or update of the object; its echo, early or late, queues nothing. */
  async track<T extends KubeObject>(
    kind: WrittenKind,
    namespace: string,
    name: string,
    write: () => Promise<T>,
  ): Promise<T> {
    const key = keyOf(kind, namespace, name);
    const flight = this.inFlight.get(key) ?? { writes: 0, held: [] };
    this.inFlight.set(key, flight);
    flight.writes++;
    let written: T | undefined;
    try {
      written = await write();
      flight.version = written.metadata?.resourceVersion;
      return written;
    } finally {
      if (--flight.writes === 0) this.settle(key, flight, written);
    }
  }

  /**
   * True when the event needs no sync now: the echo of a settled write (once), or any event of an
   * object with a write in flight, which `requeue` will queue if it turns out not to be the echo.
   */
  isEcho(kind: WrittenKind, e: InformerEvent<KubeObject>, requeue: () => void = () => {}): boolean {
    const key = objectKey(kind, e.object);
    const version = e.object.metadata?.resourceVersion;
    const flight = this.inFlight.get(key);
    if (flight) {
      flight.held.push({ version, deleted: e.type === 'delete', requeue });
      return true;
    }
    const rv = this.versions.get(key);
    if (rv === undefined) return false;
    this.versions.delete(key);
    return e.type !== 'delete' && rv === version;
  }

  private settle(key: string, flight: InFlight, written: KubeObject | undefined): void {
    this.inFlight.delete(key);
    const rv = written ? flight.version : undefined;
    let echoed = false;
    for (const h of flight.held) {
      if (rv !== undefined && !h.deleted && h.version === rv && !echoed) echoed = true;
      else h.requeue();
    }
    // Not echoed yet: the echo is still to come on the watch.
    if (rv !== undefined && !echoed) this.versions.set(key, rv);
  }
}

/**
 * The informer's cache and the pure decisions about which events to emit. Kept free of I/O so
 * the subtle parts (relist diff, duplicate suppression) are tested with plain tables.
 */
import { isDeepStrictEqual } from 'node:util';
import type { KubeObject } from './types.js';

export type InformerEvent<T> =
  | { type: 'add'; object: T }
  | { type: 'update'; object: T; old: T }
  | { type: 'delete'; object: T };

/** Watch event types (Kubernetes API concepts, "Efficient detection of changes"). */
export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';

/** `namespace/name`, or `name` for cluster-scoped objects: the key work queues carry. */
export function objectKey(obj: KubeObject): string {
  return cacheKey(obj.metadata?.namespace, obj.metadata?.name ?? '');
}

export function cacheKey(namespace: string | undefined, name: string): string {
  return namespace ? `${namespace}/${name}` : name;
}

function rv(obj: KubeObject | undefined): string | undefined {
  return obj?.metadata?.resourceVersion;
}

/**
 * True when both are etcd revisions (decimal integers, as every kube-apiserver on etcd sends) and
 * `a` is the lower: the server's history went back below what we saw. Otherwise false: versions
 * are opaque to clients, and what cannot be compared is no sign of anything.
 */
export function resourceVersionBefore(a: string, b: string): boolean {
  return isBefore(revisionOf(a), revisionOf(b));
}

/** The etcd revision a resourceVersion is, or null when it is not a decimal integer (opaque). */
export function revisionOf(resourceVersion: string): bigint | null {
  return /^\d+$/.test(resourceVersion) ? BigInt(resourceVersion) : null;
}

/** resourceVersionBefore on parsed revisions (an informer keeps its own parsed). */
export function isBefore(a: bigint | null, b: bigint | null): boolean {
  return a !== null && b !== null && a < b;
}

export class InformerStore<T extends KubeObject> {
  private readonly items = new Map<string, T>();

  list(): T[] {
    return [...this.items.values()];
  }

  get(namespace: string | undefined, name: string): T | undefined {
    return this.items.get(cacheKey(namespace, name));
  }

  get size(): number {
    return this.items.size;
  }

  /**
   * Applies one ADDED/MODIFIED/DELETED event. An ADDED for a known object (resumed watch replaying
   * it) becomes an update; an event whose resourceVersion equals the cached one is a no-op when the
   * object is the same (nothing changed, so level-triggered handlers need not run), and an update
   * when it is not (the server's history went back, as `replace` allows for: the cache never
   * changes without an event, which handlers that follow the events, like a draining gateway's
   * PodListing, count on); DELETED of an unknown object is dropped.
   */
  apply(type: 'ADDED' | 'MODIFIED' | 'DELETED', object: T): InformerEvent<T> | null {
    const key = objectKey(object);
    const old = this.items.get(key);
    if (type === 'DELETED') {
      if (old === undefined) return null;
      this.items.delete(key);
      return { type: 'delete', object };
    }
    // Compared only at an equal version, which a resumed watch's replay is: rare.
    if (
      old !== undefined &&
      rv(old) !== undefined &&
      rv(old) === rv(object) &&
      isDeepStrictEqual(old, object)
    )
      return null;
    this.items.set(key, object);
    if (old === undefined) return { type: 'add', object };
    return { type: 'update', object, old };
  }

  /**
   * Replaces the cache with a complete list and returns the difference as events: objects that
   * vanished while we were away (e.g. between a 410 Gone and the relist) get `delete` with their
   * last known state, new ones `add`, changed ones `update`. An equal resourceVersion means
   * unchanged, unless `trustResourceVersions` is false: after the server's history went back (etcd
   * restored without --bump-revision) it may have written the same version again with other
   * content, so content decides.
   */
  replace(items: T[], { trustResourceVersions = true } = {}): InformerEvent<T>[] {
    const events: InformerEvent<T>[] = [];
    const next = new Map<string, T>();
    for (const object of items) next.set(objectKey(object), object);
    for (const [key, old] of this.items) {
      if (!next.has(key)) events.push({ type: 'delete', object: old });
    }
    for (const [key, object] of next) {
      const old = this.items.get(key);
      if (old === undefined) events.push({ type: 'add', object });
      else if (
        rv(old) === undefined ||
        rv(old) !== rv(object) ||
        (!trustResourceVersions && !isDeepStrictEqual(old, object))
      )
        events.push({ type: 'update', object, old });
    }
    this.items.clear();
    for (const [key, object] of next) this.items.set(key, object);
    return events;
  }
}

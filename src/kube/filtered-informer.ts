/**
 * A read-only view of a shared informer that shows only the objects `keep` accepts. Two
 * controllers in one process watching the same resource share one list-watch (client-go's
 * SharedInformerFactory): the API server streams each event once and the process parses and caches
 * it once. Events are translated as client-go's FilteringResourceEventHandler does: an update that
 * makes an object enter the view is an `add`, one that makes it leave is a `delete`.
 *
 * The view does not own the informer: start() and stop() do nothing; whoever created the shared
 * informer starts and stops it.
 */
import type { Informer, InformerEvent, InformerHealth } from './informer.js';
import type { KubeObject } from './types.js';

/** What an event on the shared informer means for a view that keeps only `keep` objects. */
export function viewEvent<T extends KubeObject>(
  e: InformerEvent<T>,
  keep: (obj: T) => boolean,
): InformerEvent<T> | null {
  if (e.type !== 'update') return keep(e.object) ? e : null;
  const now = keep(e.object);
  const before = keep(e.old);
  if (now && before) return e;
  if (now) return { type: 'add', object: e.object };
  if (before) return { type: 'delete', object: e.old };
  return null;
}

export function filteredInformer<T extends KubeObject>(
  base: Informer<T>,
  keep: (obj: T) => boolean,
): Informer<T> {
  return {
    start() {},
    async stop() {},
    synced: base.synced,
    hasSynced: () => base.hasSynced(),
    list: () => base.list().filter(keep),
    get(namespace, name) {
      const obj = base.get(namespace, name);
      return obj !== undefined && keep(obj) ? obj : undefined;
    },
    onEvent(handler: (e: InformerEvent<T>) => void) {
      return base.onEvent((e) => {
        const seen = viewEvent(e, keep);
        if (seen) handler(seen);
      });
    },
    onHealth: (handler: (h: InformerHealth) => void) => base.onHealth(handler),
    get resourceVersion() {
      return base.resourceVersion;
    },
  };
}

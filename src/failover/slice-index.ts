/**
 * namespace/service → slice keys over a shared EndpointSlice informer, so a reconcile reads one
 * Service's slices without scanning them all (used by the failover and federation controllers),
 * and the key batching that keeps a reconcile from reading such an index before it caught up.
 */
import type { Informer, InformerEvent } from '../kube/informer.js';
import { cacheKey, objectKey } from '../kube/informer-store.js';
import { SERVICE_NAME_LABEL } from '../kube/keys.js';
import type { V1EndpointSlice } from '../kube/types.js';

/** namespace/service → slice keys, so a split reads its backends' slices without a full scan. */
export class SliceIndex {
  private readonly byService = new Map<string, Set<string>>();

  apply(e: InformerEvent<V1EndpointSlice>): void {
    const key = objectKey(e.object);
    const service = cacheKey(
      e.object.metadata?.namespace,
      e.object.metadata?.labels?.[SERVICE_NAME_LABEL] ?? '',
    );
    if (e.type === 'update') {
      const oldService = cacheKey(
        e.old.metadata?.namespace,
        e.old.metadata?.labels?.[SERVICE_NAME_LABEL] ?? '',
      );
      this.byService.get(oldService)?.delete(key);
    }
    if (e.type === 'delete') {
      this.byService.get(service)?.delete(key);
      return;
    }
    const set = this.byService.get(service) ?? new Set<string>();
    set.add(key);
    this.byService.set(service, set);
  }

  /** Slices of one service, or of the whole namespace when `service` is undefined. */
  of(namespace: string, service: string | undefined, informer: Informer<V1EndpointSlice>): V1EndpointSlice[] {
    if (service === undefined) return informer.list().filter((s) => s.metadata?.namespace === namespace);
    const keys = this.byService.get(cacheKey(namespace, service)) ?? new Set<string>();
    return [...keys]
      .map((k) => informer.get(namespace, k.slice(namespace.length + 1)))
      .filter((s) => s !== undefined);
  }
}

/**
 * Keys from informer events, handed to the work queue once the current run of events is over.
 *
 * An index built from events (SliceIndex, the federation's member index) lags the informer's store
 * while a relist (the first list, one after 410 or a restore) is emitted: the informer replaces its
 * store at once, then emits one event per change in a single synchronous run (informer.ts relist).
 * WorkQueue.add runs a reconcile at once up to its first await, and reconciles decide before it:
 * queued mid-run, a split would see a healthy primary whose slice comes later in the run as having
 * none, and fail over. A microtask runs after the run, when every index holds what the store does.
 * (client-go has no such gap: its indexers are its store.)
 */
export class KeyBatch {
  private readonly keys = new Set<string>();

  constructor(private readonly flushTo: (key: string) => void) {}

  add(key: string): void {
    if (this.keys.size === 0) queueMicrotask(() => this.flush());
    this.keys.add(key);
  }

  private flush(): void {
    const keys = [...this.keys];
    this.keys.clear();
    for (const key of keys) this.flushTo(key);
  }
}

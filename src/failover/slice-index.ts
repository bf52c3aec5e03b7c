/**
 * namespace/service → slice keys over a shared EndpointSlice informer, so a reconcile reads one
 * Service's slices without scanning them all (used by the failover and federation controllers).
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

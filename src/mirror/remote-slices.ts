/**
 * The remote EndpointSlices of one connection, by the Service they serve (remote-cluster.ts feeds
 * it the slice watch's events), and the slices a re-list lacked that are kept until the remote says
 * whether their Service is there (deletion-hold.ts).
 */
import { Backoff, type BackoffPolicy, DEFAULT_BACKOFF } from '../kube/backoff.js';
import type { KubeClient } from '../kube/client.js';
import type { InformerEvent } from '../kube/informer.js';
import { objectKey } from '../kube/informer-store.js';
import { SERVICE_NAME_LABEL } from '../kube/keys.js';
import { R } from '../kube/resources.js';
import type { V1EndpointSlice, V1Service } from '../kube/types.js';
import { type DirectEndpoints, directEndpoints } from './direct-endpoints.js';
import { ListedVersions } from './inferred-deletes.js';
import type { RemoteEndpoints } from './mirror-sync.js';
import { remoteEndpoints } from './remote-endpoints.js';

export interface RemoteSlicesDeps {
  /** The remote client behind the identity gate: the GET of a Service whose slices a re-list lacked. */
  client: KubeClient;
  backoff: BackoffPolicy | undefined;
  /** Whether the Service at `key` has a mirror here (or its removal is held): RemoteClusterEvents.mirrored. */
  mirrored(key: string): boolean;
  /** Whether a watch's cache holds the Service. */
  cached(namespace: string, name: string): boolean;
  /** Whether no sync reads the endpoints of `key` any more: no cache lists it, and it is not leaving. */
  unread(key: string): boolean;
  /** The Service at `key` has endpoints to sync again. */
  changed(key: string): void;
}

export class RemoteSlices {
  /**
   * Remote slices by the Service they serve (`namespace/service-name`), kept from the slice events:
   * endpoints() runs on every sync, and scanning every slice there made an initial sync O(N²)
   * (37% of the controller's CPU for 2 × 5,000 Services in the mirror benchmark).
   */
  private readonly slicesByService = new Map<string, Map<string, V1EndpointSlice>>();
  /** Which slice deletes a re-list inferred (inferred-deletes.ts). */
  private readonly slicesListed = new ListedVersions();
  /**
   * Slices a re-list lacked, by the Service they serve, still counted in `slicesByService` until the
   * remote says whether that Service is there: a restored remote without its Services lacks their
   * slices too, and a mirror whose removal is held must keep its endpoints as they were
   * (deletion-hold.ts), whichever of the two re-lists comes first.
   */
  private readonly staleSlices = new Map<string, StaleSlices>();
  private stopped = false;

  constructor(private readonly deps: RemoteSlicesDeps) {}

  /** One event of the slice watch. */
  event(e: InformerEvent<V1EndpointSlice>): void {
    const { deps } = this;
    const name = e.object.metadata?.labels?.[SERVICE_NAME_LABEL];
    const ns = e.object.metadata?.namespace ?? '';
    const key = `${ns}/${name}`;
    if (this.slicesListed.inferred(e, objectKey(e.object))) {
      // The slice watch lists every Service's: a Service without a mirror here has nothing to keep.
      if (name && deps.mirrored(key)) {
        this.sliceLacked(key, e.object.metadata?.name ?? '');
        return;
      }
    } else if (name) this.drop(key);
    this.indexSlice(e);
    if (name && deps.cached(ns, name)) deps.changed(key);
  }

  endpoints(namespace: string, name: string): RemoteEndpoints {
    return remoteEndpoints(this.slicesByService.get(`${namespace}/${name}`)?.values() ?? []);
  }

  /** The remote pods of a remote-discovery Service, as its mirror's slice lists them. */
  directEndpoints(namespace: string, name: string, clusterFamily?: string): DirectEndpoints {
    return directEndpoints(this.slicesByService.get(`${namespace}/${name}`)?.values() ?? [], clusterFamily);
  }

  /** The slices a re-list lacked for `key` leave the index: the remote's word on them has come. */
  drop(key: string): void {
    const entry = this.staleSlices.get(key);
    if (!entry) return;
    clearTimeout(entry.timer);
    this.staleSlices.delete(key);
    const slices = this.slicesByService.get(key);
    for (const name of entry.names) slices?.delete(name);
    if (slices?.size === 0) this.slicesByService.delete(key);
  }

  stop(): void {
    this.stopped = true;
    for (const entry of this.staleSlices.values()) clearTimeout(entry.timer);
    this.staleSlices.clear();
  }

  /**
   * A re-list lacks a slice of the Service at `key`: kept until a GET of that Service says it is
   * there (then the slice is gone indeed and the key synced), or a watch reports the Service or one
   * of its slices again. A Service gone too keeps its endpoints: its own removal, held or not,
   * decides the mirror. A failed GET is asked again with backoff.
   */
  private sliceLacked(key: string, slice: string): void {
    const known = this.staleSlices.get(key);
    if (known) {
      known.names.add(slice);
      return;
    }
    const entry: StaleSlices = { names: new Set([slice]) };
    this.staleSlices.set(key, entry);
    void this.confirmSlices(key, entry, new Backoff(this.deps.backoff ?? DEFAULT_BACKOFF));
  }

  private async confirmSlices(key: string, entry: StaleSlices, backoff: Backoff): Promise<void> {
    const [namespace = '', name = ''] = key.split('/');
    let there: boolean;
    try {
      there = (await this.deps.client.get<V1Service>(R.services, namespace, name)) !== undefined;
    } catch {
      if (this.stopped || this.staleSlices.get(key) !== entry) return;
      entry.timer = setTimeout(() => void this.confirmSlices(key, entry, backoff), backoff.next());
      entry.timer.unref();
      return;
    }
    if (this.stopped || this.staleSlices.get(key) !== entry) return;
    // Gone, and gone from the caches too: no sync reads its endpoints any more.
    const unread = this.deps.unread(key);
    if (!there && !unread) return;
    this.drop(key);
    if (there) this.deps.changed(key);
  }

  /** Keeps `slicesByService` in step with one slice event (a relabelled slice moves entries). */
  private indexSlice(e: InformerEvent<V1EndpointSlice>): void {
    const serviceKey = (s: V1EndpointSlice) =>
      `${s.metadata?.namespace ?? ''}/${s.metadata?.labels?.[SERVICE_NAME_LABEL] ?? ''}`;
    const sliceName = e.object.metadata?.name ?? '';
    const gone = e.type === 'update' ? e.old : e.type === 'delete' ? e.object : undefined;
    if (gone) {
      const entry = this.slicesByService.get(serviceKey(gone));
      entry?.delete(sliceName);
      if (entry?.size === 0) this.slicesByService.delete(serviceKey(gone));
    }
    if (e.type === 'delete' || !e.object.metadata?.labels?.[SERVICE_NAME_LABEL]) return;
    const key = serviceKey(e.object);
    const entry = this.slicesByService.get(key) ?? new Map<string, V1EndpointSlice>();
    this.slicesByService.set(key, entry.set(sliceName, e.object));
  }
}

/** Slices (names) a re-list lacked, of one Service; `timer`: the GET of that Service asked again. */
interface StaleSlices {
  names: Set<string>;
  timer?: NodeJS.Timeout;
}

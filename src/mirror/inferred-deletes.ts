/**
 * Tells a deletion the API server reported from one an informer inferred. After 410 Gone an
 * informer re-lists and emits a delete for every cached object the new list lacks, carrying the
 * cached object: its resourceVersion is the one last seen. A watch's DELETED carries the object as
 * deleted, with the deletion's own (newer) resourceVersion. Only an inferred one can be a remote
 * that lost its history (an etcd restore, deletion-hold.ts); a reported one is someone's deletion.
 */
import type { InformerEvent } from '../kube/informer.js';
import type { KubeObject } from '../kube/types.js';

export class ListedVersions {
  /** The resourceVersion last seen per key. */
  private readonly versions = new Map<string, string>();

  /** Keeps in step with one event of the informer; true for a delete it inferred from a list. */
  inferred(e: InformerEvent<KubeObject>, key: string): boolean {
    const rv = e.object.metadata?.resourceVersion;
    if (e.type !== 'delete') {
      if (rv) this.versions.set(key, rv);
      return false;
    }
    const last = this.versions.get(key);
    this.versions.delete(key);
    return rv !== undefined && rv === last;
  }
}

/**
 * The controller's own writes, so that the watch event echoing one does not queue another sync of
 * the same key (what client-go controllers call expectations). An echo carries exactly the
 * resourceVersion the write returned: nothing changed since the sync that wrote it decided, so
 * syncing again would only re-plan the same state — at an initial sync, two extra syncs per mirror.
 * Any other event of the object (another writer, a later version, a delete) is a real change and
 * is synced. Best effort by design: an echo that arrives before the write's answer is synced.
 */
import type { InformerEvent } from '../kube/informer.js';
import type { KubeObject } from '../kube/types.js';

export type WrittenKind = 'Service' | 'EndpointSlice';

const keyOf = (kind: WrittenKind, obj: KubeObject) =>
  `${kind} ${obj.metadata?.namespace ?? ''}/${obj.metadata?.name ?? ''}`;

export class OwnWrites {
  private readonly versions = new Map<string, string>();

  get size(): number {
    return this.versions.size;
  }

  /** The object as the API server answered our create or update. */
  note(kind: WrittenKind, written: KubeObject): void {
    const rv = written.metadata?.resourceVersion;
    if (rv) this.versions.set(keyOf(kind, written), rv);
  }

  /** True for the event of a noted write, once; any event of the object forgets its entry. */
  isEcho(kind: WrittenKind, e: InformerEvent<KubeObject>): boolean {
    const key = keyOf(kind, e.object);
    const rv = this.versions.get(key);
    if (rv === undefined) return false;
    this.versions.delete(key);
    return e.type !== 'delete' && rv === e.object.metadata?.resourceVersion;
  }
}

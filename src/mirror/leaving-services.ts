/**
 * Remote Services that left one selector's watch while no other cache holds them (remote-cluster.ts).
 * A mode switch is a label change, which the three watches report separately: the one the Service
 * leaves may say DELETED before the one it enters says ADDED. Until a GET of the remote Service says
 * where it is, lookup() answers with what was last known, so no sync deletes the mirror meanwhile.
 */
import { Backoff, type BackoffPolicy, DEFAULT_BACKOFF } from '../kube/backoff.js';
import type { KubeClient } from '../kube/client.js';
import { R } from '../kube/resources.js';
import type { V1Service } from '../kube/types.js';
import { trimRemoteService } from './cache-trim.js';
import type { RemoteService } from './mirror-sync.js';

export interface LeavingServicesDeps {
  /** The remote client behind the identity gate. */
  client: KubeClient;
  backoff: BackoffPolicy | undefined;
  /** Whether one of the Link's selectors picks a remote Service, and how it is mirrored (classify). */
  classify(service: V1Service): RemoteService | undefined;
  /** The remote said where the Service is not: the slices a re-list lacked for it may go. */
  dropSlices(key: string): void;
  /** The Service at `key` is to be synced with the answer there is now. */
  changed(key: string): void;
}

export class LeavingServices {
  private readonly leaving = new Map<string, Leaving>();
  private stopped = false;

  constructor(private readonly deps: LeavingServicesDeps) {}

  /** The Service at `key` left every cache, last known as `found`: kept until the remote says. */
  hold(key: string, found: RemoteService): void {
    const entry: Leaving = { found, backoff: new Backoff(this.deps.backoff ?? DEFAULT_BACKOFF) };
    this.leaving.set(key, entry);
    void this.confirm(key, entry);
  }

  /** What lookup() answers for a Service between two watches. */
  found(key: string): RemoteService | undefined {
    return this.leaving.get(key)?.found;
  }

  has(key: string): boolean {
    return this.leaving.has(key);
  }

  forget(key: string): void {
    clearTimeout(this.leaving.get(key)?.timer);
    this.leaving.delete(key);
  }

  stop(): void {
    this.stopped = true;
    for (const entry of this.leaving.values()) clearTimeout(entry.timer);
    this.leaving.clear();
  }

  /**
   * Asks the remote where a leaving Service is. Gone, or picked by no selector: the key is synced
   * at once with nothing found (its mirror goes). Picked by another selector: that answer stands
   * until the watch of its selector reports the Service, and is asked again (with backoff) in case
   * it never does; a failing remote API is asked again too, as mirrors are kept through an outage.
   */
  private async confirm(key: string, entry: Leaving): Promise<void> {
    const [namespace = '', name = ''] = key.split('/');
    let current: RemoteService | undefined;
    try {
      const service = await this.deps.client.get<V1Service>(R.services, namespace, name);
      current = service && this.deps.classify(trimRemoteService(service));
    } catch {
      if (this.leaving.get(key) === entry) this.retryConfirm(key, entry);
      return;
    }
    if (this.stopped || this.leaving.get(key) !== entry) return;
    if (current) {
      entry.found = current;
      this.retryConfirm(key, entry);
    } else {
      this.leaving.delete(key);
      this.deps.dropSlices(key);
    }
    this.deps.changed(key);
  }

  private retryConfirm(key: string, entry: Leaving): void {
    if (this.stopped) return;
    entry.timer = setTimeout(() => void this.confirm(key, entry), entry.backoff.next());
    entry.timer.unref();
  }
}

interface Leaving {
  /** What lookup() answers: the last-known mode, then the remote's answer. */
  found: RemoteService;
  backoff: Backoff;
  timer?: NodeJS.Timeout;
}

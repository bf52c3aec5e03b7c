/**
 * Watches the local cluster's mirror EndpointSlices (one informer, as any client would) and knows
 * which mirrors advertise ready endpoints. The initial-sync clock, the floor's clock and the
 * export → ready latencies all stop on what this watch delivers.
 */
import type { KubeClient } from '../../src/kube/client.js';
import { createInformer } from '../../src/kube/informer.js';
import { MANAGED_BY_LABEL, MANAGED_BY_MIRROR } from '../../src/kube/keys.js';
import { R } from '../../src/kube/resources.js';
import type { V1EndpointSlice } from '../../src/kube/types.js';
import { waitUntil } from './wait.js';

export function sliceReady(slice: V1EndpointSlice | undefined): boolean {
  const eps = slice?.endpoints ?? [];
  return eps.length > 0 && eps.every((e) => e.conditions?.ready === true);
}

export class ReadyTracker {
  private readonly informer;
  private readonly ready = new Set<string>();
  private readonly waiters = new Map<string, () => void>();

  constructor(client: KubeClient) {
    this.informer = createInformer<V1EndpointSlice>(client, R.endpointSlices, {
      labelSelector: `${MANAGED_BY_LABEL}=${MANAGED_BY_MIRROR}`,
    });
    this.informer.onEvent((e) => {
      const key = `${e.object.metadata?.namespace}/${e.object.metadata?.name}`;
      if (e.type !== 'delete' && sliceReady(e.object)) {
        this.ready.add(key);
        const resolve = this.waiters.get(key);
        if (resolve) {
          this.waiters.delete(key);
          resolve();
        }
      } else this.ready.delete(key);
    });
  }

  async start(): Promise<void> {
    this.informer.start();
    await this.informer.synced;
  }

  get readyCount(): number {
    return this.ready.size;
  }

  /** Resolves when `count` mirror slices are ready; bounded. */
  waitForCount(count: number, timeoutMs: number): Promise<true> {
    return waitUntil(() => this.ready.size >= count, {
      timeoutMs,
      intervalMs: 50,
      what: `${count} ready mirror slices (have ${this.ready.size})`,
    });
  }

  /** Resolves when `namespace/name` is ready; rejects after `timeoutMs`. */
  waitForReady(namespace: string, name: string, timeoutMs: number): Promise<void> {
    const key = `${namespace}/${name}`;
    if (this.ready.has(key)) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(key);
        reject(new Error(`${key} not ready within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiters.set(key, () => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  stop(): Promise<void> {
    return this.informer.stop();
  }
}

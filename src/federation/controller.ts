/**
 * The federation controller (run by `isthmus controller` on the leader, next to the mirror and
 * failover controllers, on their shared Service and EndpointSlice informers, and a Namespace
 * informer of its own unless given one). Service, slice and namespace events become federation keys
 * (`namespace/name`) in one work queue; the handler is reconcile-federation.ts.
 */
import diagnostics from 'node:diagnostics_channel';
import type { Registry } from 'prom-client';
import { isIsthmusError } from '../errors.js';
import type { EventSink } from '../failover/reconcile-split.js';
import { KeyBatch, SliceIndex } from '../failover/slice-index.js';
import type { KubeClient } from '../kube/client.js';
import { createInformer, type Informer } from '../kube/informer.js';
import { cacheKey } from '../kube/informer-store.js';
import { SERVICE_NAME_LABEL } from '../kube/keys.js';
import { R } from '../kube/resources.js';
import type { V1EndpointSlice, V1Namespace, V1Service } from '../kube/types.js';
import { type QueueBackoff, WorkQueue } from '../kube/work-queue.js';
import { dropManagedFields } from '../mirror/cache-trim.js';
import { federationMetrics } from './metrics.js';
import { federationNameHeldBy, federationsOf, memberFederation } from './plan-federation.js';
import { type FederationCaches, reconcileFederation } from './reconcile-federation.js';

/** Published when a reconciliation fails (it is retried): `{ key, error, failures }`. */
export const federationErrorChannel = diagnostics.channel('isthmus:federation:reconcile-error');

export interface FederationControllerOptions {
  client: KubeClient;
  registry: Registry;
  recorder: EventSink;
  /** This cluster's name, listed among the members when it has a local member. */
  localCluster: string;
  /**
   * Every local Service and EndpointSlice, shared with the process's other controllers, and every
   * Namespace (absent: the controller watches them itself, started and stopped with it).
   */
  informers: {
    services: Informer<V1Service>;
    slices: Informer<V1EndpointSlice>;
    namespaces?: Informer<V1Namespace>;
  };
  /** Retry back-off of a failed reconciliation (default the work queue's, 100 ms doubling to 30 s). */
  queueBackoff?: QueueBackoff;
}

export interface FederationController {
  /** Resolves once the informers have listed and every federation was queued. */
  readonly synced: Promise<void>;
  /** Resolves when the queue is empty and nothing is in flight (tests). */
  idle(): Promise<void>;
  stop(): Promise<void>;
  /** Removes the leader-only gauges (a former leader's values would go stale); after stop(). */
  clearMetrics(): void;
}

export function runFederationController(opts: FederationControllerOptions): FederationController {
  const { services, slices } = opts.informers;
  // A namespace being deleted takes no new object: the federated Service is not written there.
  const namespaces =
    opts.informers.namespaces ??
    createInformer<V1Namespace>(opts.client, R.namespaces, { transform: dropManagedFields });
  const ownNamespaces = namespaces === opts.informers.namespaces ? undefined : namespaces;
  const members = new MemberIndex();
  const sliceIndex = new SliceIndex();
  const metrics = federationMetrics(opts.registry);
  const reported = new Map<string, string>();

  const caches: FederationCaches = {
    namespace: (name) => namespaces.get(undefined, name),
    service: (ns, name) => services.get(ns, name),
    members: (ns, name) =>
      members
        .of(ns, name)
        .map((svc) => services.get(ns, svc))
        .filter((s): s is V1Service => s !== undefined && memberFederation(s) === name),
    slicesOf: (ns, svc) => sliceIndex.of(ns, svc, slices),
  };
  const deps = {
    client: opts.client,
    caches,
    recorder: opts.recorder,
    metrics,
    localCluster: opts.localCluster,
    reported,
  };
  const queue = new WorkQueue({
    ...(opts.queueBackoff ? { backoff: opts.queueBackoff } : {}),
    handler: (key) => reconcileFederation(deps, key),
    onError: (key, error, failures) => {
      if (isIsthmusError(error, 'NOT_LEADER')) return;
      metrics.syncErrors.inc();
      federationErrorChannel.publish({ key, error, failures });
    },
  });

  // Set once every cache is full and indexed, and every federation queued (below). Events before
  // are dropped: that sync queues every federation anyway. Event keys are queued after their run
  // of events (KeyBatch): a relist's first events must not plan with the rest unindexed (a member
  // listed later would have its slices withdrawn).
  let ready = false;
  const batch = new KeyBatch((key) => queue.add(key));
  const enqueue = (key: string) => {
    if (ready) batch.add(key);
  };
  const enqueueFor = (svc: V1Service | undefined) => {
    const ns = svc?.metadata?.namespace ?? '';
    for (const name of federationsOf(svc)) enqueue(cacheKey(ns, name));
  };
  const unsubscribe = [
    services.onEvent((e) => {
      // The index first, then the keys, which must not see an updated member removed and not yet
      // added back (it would plan the Service away).
      if (e.type === 'update') members.apply(e.old, false);
      members.apply(e.object, e.type !== 'delete');
      if (e.type === 'update') enqueueFor(e.old);
      enqueueFor(e.object);
      // A name freed: the federation it kept from its `<name>-federated` (NotOwned) may take it.
      const held = e.type === 'delete' ? federationNameHeldBy(e.object) : undefined;
      const ns = e.object.metadata?.namespace ?? '';
      if (held && members.of(ns, held).length > 0) enqueue(cacheKey(ns, held));
    }),
    slices.onEvent((e) => {
      sliceIndex.apply(e);
      const ns = e.object.metadata?.namespace ?? '';
      const service = e.object.metadata?.labels?.[SERVICE_NAME_LABEL];
      if (service && ready) enqueueFor(services.get(ns, service));
    }),
    // A namespace that comes (back), or starts terminating: its federations are planned again.
    namespaces.onEvent((e) => {
      for (const key of members.inNamespace(e.object.metadata?.name ?? '')) enqueue(key);
    }),
  ];
  ownNamespaces?.start();
  // Shared informers may have listed before this controller started (it starts on leadership).
  for (const object of slices.list()) sliceIndex.apply({ type: 'add', object });
  for (const svc of services.list()) members.apply(svc, true);

  const synced = (async () => {
    await Promise.all([services.synced, slices.synced, namespaces.synced]);
    // Each informer resolves `synced` after emitting its first list, so the indexes are complete.
    for (const svc of services.list())
      for (const name of federationsOf(svc)) queue.add(cacheKey(svc.metadata?.namespace, name));
    ready = true;
  })();
  // Stopped before its namespaces synced (leadership lost at once): rejects, for awaiters only.
  synced.catch(() => {});

  return {
    synced,
    idle: () => queue.idle(),
    async stop() {
      for (const off of unsubscribe) off();
      await queue.stop();
      await ownNamespaces?.stop();
    },
    clearMetrics: () => metrics.clear(),
  };
}

/** `namespace/federation` → names of the member Services (the local one, mirrors of remote ones). */
class MemberIndex {
  private readonly byFederation = new Map<string, Set<string>>();

  apply(svc: V1Service, present: boolean): void {
    const federation = memberFederation(svc);
    if (!federation) return;
    const key = cacheKey(svc.metadata?.namespace, federation);
    const set = this.byFederation.get(key) ?? new Set<string>();
    if (present) set.add(svc.metadata?.name ?? '');
    else set.delete(svc.metadata?.name ?? '');
    if (set.size) this.byFederation.set(key, set);
    else this.byFederation.delete(key);
  }

  of(namespace: string, federation: string): string[] {
    return [...(this.byFederation.get(cacheKey(namespace, federation)) ?? [])];
  }

  /** The keys (`namespace/federation`) of the federations with a member in `namespace`. */
  inNamespace(namespace: string): string[] {
    return [...this.byFederation.keys()].filter((key) => key.startsWith(`${namespace}/`));
  }
}

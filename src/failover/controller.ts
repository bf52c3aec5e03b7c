/**
 * The failover controller (run by `isthmus controller`, next to the mirror controller on the same
 * KubeClient and prom-client Registry). Three informers — TrafficSplits, Services, EndpointSlices —
 * feed one keyed work queue of split keys; a Service or slice event enqueues every split of this
 * controller's whose apex or backend it is. The handler is reconcile-split.ts.
 */
import diagnostics from 'node:diagnostics_channel';
import type { Registry } from 'prom-client';
import { isIsthmusError } from '../errors.js';
import type { KubeClient } from '../kube/client.js';
import { createInformer, type Informer } from '../kube/informer.js';
import { objectKey } from '../kube/informer-store.js';
import { FAILOVER_CONTROLLED_BY_DEFAULT, SERVICE_NAME_LABEL } from '../kube/keys.js';
import { R } from '../kube/resources.js';
import type { KubeObject, TrafficSplit, V1EndpointSlice, V1Service } from '../kube/types.js';
import { type QueueBackoff, WorkQueue } from '../kube/work-queue.js';
import { isSliceOfSplit } from './apply-apex-slices.js';
import type { FailoverMemory } from './decide-weights.js';
import { failoverMetrics } from './metrics.js';
import { type EventSink, type FailoverCaches, reconcileSplit } from './reconcile-split.js';
import { KeyBatch, SliceIndex } from './slice-index.js';
import { isClaimed, splitMode } from './split-selection.js';
import { clearedStatus } from './split-status.js';

/** Published when a reconciliation fails (it is retried): `{ key, error, failures }`. */
export const reconcileErrorChannel = diagnostics.channel('isthmus:failover:reconcile-error');

export interface FailoverControllerOptions {
  client: KubeClient;
  registry: Registry;
  recorder: EventSink;
  /** Value of `failover.linkerd.io/controlled-by` this controller acts on. */
  controlledBy?: string;
  /**
   * Informers of every Service and EndpointSlice shared with the process's other controllers,
   * started and stopped by their owner. Absent: this controller watches them itself.
   */
  informers?: { services: Informer<V1Service>; slices: Informer<V1EndpointSlice> };
  /** Re-reconcile everything this often, healing anything a missed event left behind. */
  resyncMs?: number;
  /** Clock, for tests of hysteresis. */
  now?: () => number;
  /** Retry back-off of a failed reconciliation (default the work queue's, 100 ms doubling to 30 s). */
  queueBackoff?: QueueBackoff;
}

export interface FailoverController {
  /** Resolves once every informer has listed once. */
  readonly synced: Promise<void>;
  /** Resolves when the queue is empty and nothing is in flight (tests). */
  idle(): Promise<void>;
  stop(): Promise<void>;
  /** Removes the leader-only gauges (a former leader's values would go stale); after stop(). */
  clearMetrics(): void;
}

export function runFailoverController(opts: FailoverControllerOptions): FailoverController {
  const controlledBy = opts.controlledBy ?? FAILOVER_CONTROLLED_BY_DEFAULT;
  const resync = opts.resyncMs === undefined ? {} : { resyncMs: opts.resyncMs };
  // All splits, filtered here: a label selector could only pick one of the two labels we act on.
  const splits = createInformer<TrafficSplit>(opts.client, R.trafficSplitsV1alpha2, resync);
  const services = opts.informers?.services ?? createInformer<V1Service>(opts.client, R.services);
  const slices = opts.informers?.slices ?? createInformer<V1EndpointSlice>(opts.client, R.endpointSlices);
  const informers = [splits, services, slices] as Informer<KubeObject>[];
  const owned = opts.informers ? [splits] : informers;
  const unsubscribe: (() => void)[] = [];
  const sliceIndex = new SliceIndex();
  const metrics = failoverMetrics(opts.registry);
  const timers = new Map<string, NodeJS.Timeout>();
  const memories = new Map<string, FailoverMemory>();
  let stopped = false;

  const caches: FailoverCaches = {
    split: (ns, name) => splits.get(ns, name),
    splitsIn: (ns) => splits.list().filter((s) => s.metadata?.namespace === ns),
    service: (ns, name) => services.get(ns, name),
    slicesOf: (ns, svc) => sliceIndex.of(ns, svc, slices),
    splitSlices: (ns, split) =>
      sliceIndex.of(ns, undefined, slices).filter((s) => isSliceOfSplit(s, ns, split)),
  };

  const queue = new WorkQueue({
    ...(opts.queueBackoff ? { backoff: opts.queueBackoff } : {}),
    handler: (key) =>
      reconcileSplit(
        {
          client: opts.client,
          caches,
          recorder: opts.recorder,
          metrics,
          controlledBy,
          now: opts.now ?? Date.now,
          memories,
          requeueAfter,
        },
        key,
      ),
    onError: (key, error, failures) => {
      // The term ended mid-reconcile (fencedWrites): no failure; the controller stops on the callback.
      if (isIsthmusError(error, 'NOT_LEADER')) return;
      metrics.syncErrors.inc();
      reconcileErrorChannel.publish({ key, error, failures });
    },
  });

  function requeueAfter(key: string, ms: number): void {
    if (stopped) return;
    clearTimeout(timers.get(key));
    const timer = setTimeout(() => {
      timers.delete(key);
      queue.add(key);
    }, ms);
    timer.unref();
    timers.set(key, timer);
  }

  const mine = (s: TrafficSplit) => splitMode(s, controlledBy) !== null;
  // A split unclaimed while no controller ran (or between leaders) brought no event here; its
  // apex slices would steer its apex for ever, and its status say what no one keeps true. Queued
  // at start and on resync, it has them withdrawn and cleared.
  const stranded = (s: TrafficSplit) =>
    !isClaimed(s) &&
    (clearedStatus(s.status).changed ||
      caches.splitSlices(s.metadata?.namespace ?? '', s.metadata?.name ?? '').length > 0);

  /**
   * Splits this controller handles in `namespace` whose apex or a backend is `service`. Another
   * controller's splits are not queued: there is nothing to do for them here.
   */
  function splitsUsing(namespace: string, service: string): string[] {
    return splits
      .list()
      .filter((s) => s.metadata?.namespace === namespace && mine(s))
      .filter(
        (s) => s.spec?.service === service || (s.spec?.backends ?? []).some((b) => b.service === service),
      )
      .map(objectKey);
  }

  /**
   * This controller's other splits with the apex of `split` (before and after an update): which
   * of them steers it depends on this one (split-selection.ts, apexRivals), so a split that comes,
   * goes or moves re-decides them.
   */
  function rivalsOf(...versions: TrafficSplit[]): string[] {
    const key = objectKey(versions[0]!);
    return splits
      .list()
      .filter((s) => mine(s) && objectKey(s) !== key)
      .filter((s) =>
        versions.some(
          (v) => s.metadata?.namespace === v.metadata?.namespace && s.spec?.service === v.spec?.service,
        ),
      )
      .map(objectKey);
  }

  // Set once every cache is full and indexed, and every split queued (below). Events before are
  // dropped: that sync queues every split anyway. Event keys are queued after their run of events
  // (KeyBatch): a relist's first slice events must not decide with the rest unindexed.
  let ready = false;
  const batch = new KeyBatch((key) => queue.add(key));
  const enqueue = (key: string) => {
    if (ready) batch.add(key);
  };

  unsubscribe.push(
    splits.onEvent((e) => {
      // A split we stopped handling is still enqueued once: its apex slices go unless another
      // controller now claims it (reconcile-split.ts).
      if (mine(e.object) || (e.type === 'update' && mine(e.old)) || stranded(e.object))
        enqueue(objectKey(e.object));
      for (const key of rivalsOf(e.object, ...(e.type === 'update' ? [e.old] : []))) enqueue(key);
    }),
  );
  unsubscribe.push(
    services.onEvent((e) => {
      for (const key of splitsUsing(e.object.metadata?.namespace ?? '', e.object.metadata?.name ?? ''))
        enqueue(key);
    }),
  );
  unsubscribe.push(
    slices.onEvent((e) => {
      sliceIndex.apply(e);
      const service = e.object.metadata?.labels?.[SERVICE_NAME_LABEL];
      if (service && ready)
        for (const key of splitsUsing(e.object.metadata?.namespace ?? '', service)) enqueue(key);
    }),
  );
  // A shared informer may have listed before this controller started (it starts on leadership):
  // index what it already holds; events from here on keep the index current.
  for (const object of slices.list()) sliceIndex.apply({ type: 'add', object });

  // Splits are reconciled only after all caches are full: deciding on a half-listed cache would
  // see "no endpoints" and fail over for nothing.
  const synced = (async () => {
    for (const inf of owned) inf.start();
    await Promise.all(informers.map((i) => i.synced));
    // Each informer resolves `synced` after emitting its first list, so the index is complete.
    for (const s of splits.list()) if (mine(s) || stranded(s)) queue.add(objectKey(s));
    ready = true;
  })();
  // Stopped before its informers synced (leadership lost at once): rejects, for awaiters only.
  synced.catch(() => {});

  return {
    synced,
    idle: () => queue.idle(),
    async stop() {
      stopped = true;
      for (const t of timers.values()) clearTimeout(t);
      timers.clear();
      for (const off of unsubscribe) off();
      await Promise.all(owned.map((i) => i.stop()));
      await queue.stop();
    },
    clearMetrics() {
      metrics.active.reset();
      metrics.nothingReady.reset();
    },
  };
}

/**
 * The failover controller's slice index against an informer's relist: the informer replaces its
 * store at once, then emits one event per changed slice, so an index built from those events lags
 * the store until the last one. A split decided in between (the work queue runs a reconcile at
 * once, up to its first await, and the weights are decided before it) would see a healthy primary
 * whose slice is emitted later as having no endpoint, and fail over. Against the strict sandbox.
 */
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import type { KubeClient } from '../kube/client.js';
import { EventRecorder } from '../kube/events.js';
import {
  FAILOVER_PRIMARY_ANNOTATION,
  FAILOVER_RESTORE_AFTER_ANNOTATION,
  MANAGED_BY_LABEL,
} from '../kube/keys.js';
import { R } from '../kube/resources.js';
import { synced } from '../kube/test-support.js';
import type { CoreV1Event, TrafficSplit, V1EndpointSlice } from '../kube/types.js';
import { createLocalInformers } from '../mirror/controller.js';
import type { Sandbox } from '../sandbox/index.js';
import { waitFor } from '../wait-for.js';
import { type FailoverController, runFailoverController } from './controller.js';
import { GATEWAY_POD, PRIMARY_PODS, service, slice, trafficSplit } from './test-builders.js';
import { controllerSandbox } from './test-sandbox.js';

let sandbox: Sandbox;
let client: KubeClient;
let controllerClient: KubeClient;
let controller: FailoverController | undefined;
let ns: string;

controllerSandbox({
  nsPrefix: 'startup',
  use: (s) => {
    ({ sandbox, client, controllerClient, ns } = s);
    controller = undefined;
  },
  stopEach: () => controller?.stop(),
});

/**
 * The primary's slice as the EndpointSlice controller names it (generateName: a random suffix),
 * here one sorting after the mirrors' `<service>-gw`, so a relist emits it last.
 */
const primarySlice = (name: string): V1EndpointSlice => ({
  ...slice(ns, 'podinfo', { ready: PRIMARY_PODS }),
  metadata: {
    namespace: ns,
    name,
    labels: {
      'kubernetes.io/service-name': 'podinfo',
      [MANAGED_BY_LABEL]: 'endpointslice-controller.k8s.io',
    },
  },
});
const mirrorSlice = (svc: string, port: number) =>
  slice(ns, svc, { mirror: true, port, name: `${svc}-gw`, ready: [GATEWAY_POD] });

/** A healthy split on its primary podinfo (slice `primaryName`), backups podinfo-west and -north. */
async function fixture(primaryName: string): Promise<void> {
  await client.create(R.services, service(ns, 'podinfo', [{ name: 'http', port: 9898 }], { app: 'podinfo' }));
  await client.create(R.services, service(ns, 'podinfo-west'));
  await client.create(R.services, service(ns, 'podinfo-north'));
  await client.create(R.endpointSlices, primarySlice(primaryName));
  await client.create(R.endpointSlices, mirrorSlice('podinfo-west', 20001));
  await client.create(R.endpointSlices, mirrorSlice('podinfo-north', 20002));
  const backends = [
    { service: 'podinfo', weight: 1 },
    { service: 'podinfo-west', weight: 0 },
    { service: 'podinfo-north', weight: 0 },
  ];
  await client.create(
    R.trafficSplitsV1alpha2,
    trafficSplit(ns, 'podinfo', 'podinfo', backends, {
      // With a restore-after wait, a failover for nothing would keep traffic remote for 5 minutes.
      annotations: { [FAILOVER_PRIMARY_ANNOTATION]: 'podinfo', [FAILOVER_RESTORE_AFTER_ANNOTATION]: '5m' },
    }),
  );
}

function start(informers?: ReturnType<typeof createLocalInformers>): FailoverController {
  controller = runFailoverController({
    client: controllerClient,
    registry: new Registry(),
    recorder: new EventRecorder(controllerClient, { component: 'isthmus-failover' }),
    queueBackoff: { baseMs: 20, maxMs: 300 },
    ...(informers ? { informers } : {}),
  });
  return controller;
}

const getSplit = () => client.get<TrafficSplit>(R.trafficSplitsV1alpha2, ns, 'podinfo');
const weights = async () => (await getSplit())?.spec.backends.map((b) => b.weight);
const events = async () =>
  (await client.list<CoreV1Event>(R.events, { namespace: ns })).items.map((e) => `${e.reason}: ${e.message}`);

/** The split decided on its current state: a status, and nothing left in the queue. */
async function settled(): Promise<void> {
  await waitFor('a status on the split', async () => (await getSplit())?.status?.state);
  await controller!.idle();
}

describe('the slice index during a relist', () => {
  it('a controller started while the shared slice informer lists keeps a healthy split on its primary', async () => {
    await fixture('podinfo-x7k2p');
    // As run-controller-process.ts on leadership: the process-wide informers may still be listing.
    const shared = createLocalInformers(controllerClient);
    const watches = sandbox.stats().openWatches;
    const c = start(shared);
    try {
      // The split informer has listed (it watches now): the slices list, emitted next, is the last.
      await waitFor('the split informer watching', () => sandbox.stats().openWatches > watches);
      shared.services.start();
      await synced(shared.services, 'services');
      shared.slices.start();
      await synced(c, 'the failover controller');
      await settled();
      expect((await getSplit())?.status?.state).toBe('Primary');
      expect(await events(), 'no failover for a healthy primary').toEqual([]);
      expect(await weights()).toEqual([1, 0, 0]);
    } finally {
      await controller?.stop();
      controller = undefined;
      await Promise.all([shared.services.stop(), shared.slices.stop()]);
    }
  });

  it('a relist that replaces the primary slice by another keeps a healthy split on its primary', async () => {
    await fixture('podinfo-a1b2c');
    const shared = createLocalInformers(controllerClient);
    shared.services.start();
    shared.slices.start();
    const cached = (name: string) => shared.slices.get(ns, name) !== undefined;
    try {
      await Promise.all([synced(shared.services, 'services'), synced(shared.slices, 'slices')]);
      await synced(start(shared), 'the failover controller');
      await settled();
      const before = await getSplit();
      // An etcd snapshot with the primary served by podinfo-a1b2c, restored below.
      const snap = sandbox.faults.snapshot();
      // The EndpointSlice controller replaces the slice (same pods): the new one first, so the
      // primary never lacks one; the controller follows event by event.
      await client.create(R.endpointSlices, primarySlice('podinfo-z9y8x'));
      await client.delete(R.endpointSlices, ns, 'podinfo-a1b2c');
      await waitFor('the replacement cached', () => cached('podinfo-z9y8x') && !cached('podinfo-a1b2c'));
      await controller!.idle();
      // Nothing else changed for the split: after the restore, only the slices' relist has news for it.
      expect((await getSplit())?.metadata?.resourceVersion).toBe(before?.metadata?.resourceVersion);

      // Restored with a bumped revision: every watch gets 410 and its informer relists. The slices'
      // relist deletes podinfo-z9y8x before it adds podinfo-a1b2c back (informer-store.ts replace).
      sandbox.faults.restore(snap, { bumpRevision: 1000 });
      await waitFor('the restored slice cached', () => cached('podinfo-a1b2c') && !cached('podinfo-z9y8x'));
      await controller!.idle();
      expect(await events(), 'no failover for a healthy primary').toEqual([]);
      expect(await weights()).toEqual([1, 0, 0]);
      expect((await getSplit())?.status?.state).toBe('Primary');
    } finally {
      await controller?.stop();
      controller = undefined;
      await Promise.all([shared.services.stop(), shared.slices.stop()]);
    }
  });
});

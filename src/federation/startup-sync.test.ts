/**
 * The federation controller's indexes (members, slices) against an informer's first list: the
 * informer stores the whole list, then emits one event per object, so an index built from those
 * events lags the store until the last one. A federation reconciled in between (the work queue runs
 * it at once, up to its first await, and the plan is made before it) would write its Service and
 * slices without the members or slices emitted later. Against the strict sandbox.
 */
import { Registry } from 'prom-client';
import { expect, it } from 'vitest';
import { PRIMARY_PODS as CART_PODS, GATEWAY_POD, service, slice } from '../failover/test-builders.js';
import { controllerSandbox } from '../failover/test-sandbox.js';
import type { KubeClient } from '../kube/client.js';
import { EventRecorder } from '../kube/events.js';
import { createInformer } from '../kube/informer.js';
import {
  CLUSTER_NAME_LABEL,
  FEDERATED_LABEL,
  FEDERATION_LABEL,
  MANAGED_BY_LABEL,
  MIRRORED_SERVICE_LABEL,
  SERVICE_NAME_LABEL,
} from '../kube/keys.js';
import { R } from '../kube/resources.js';
import { synced } from '../kube/test-support.js';
import type { V1EndpointSlice, V1Namespace, V1Service } from '../kube/types.js';
import { createLocalInformers } from '../mirror/controller.js';
import type { Sandbox } from '../sandbox/index.js';
import { waitFor } from '../wait-for.js';
import { type FederationController, runFederationController } from './controller.js';

/** KubeClient methods that write. */
const WRITES = new Set([
  'create',
  'createForMetadata',
  'replace',
  'replaceForMetadata',
  'replaceStatus',
  'patch',
  'patchStatus',
  'delete',
]);

let sandbox: Sandbox;
let client: KubeClient;
let controllerClient: KubeClient;
let ns: string;
/** Stopped after each test, last first. */
let running: { stop(): Promise<void> }[] = [];

controllerSandbox({
  nsPrefix: 'federation-startup',
  use: (s) => ({ sandbox, client, controllerClient, ns } = s),
  stopEach: async () => {
    for (const r of running.reverse()) await r.stop();
    running = [];
  },
});

/**
 * Local member cart, its slice named as the EndpointSlice controller would (a random suffix, here
 * one sorting after the mirrors' and the federated Service's slices, so a list emits it last), and
 * the mirrors of remote members west and north.
 */
async function fixture(): Promise<void> {
  await client.create(R.services, {
    ...service(ns, 'cart', [{ name: 'http', port: 8080 }], { app: 'cart' }),
    metadata: { namespace: ns, name: 'cart', labels: { [FEDERATED_LABEL]: 'member' } },
  });
  await client.create(R.endpointSlices, {
    ...slice(ns, 'cart', { ready: CART_PODS, port: 8080 }),
    metadata: {
      namespace: ns,
      name: 'cart-x7k2p',
      labels: { [SERVICE_NAME_LABEL]: 'cart', [MANAGED_BY_LABEL]: 'endpointslice-controller.k8s.io' },
    },
  });
  for (const [cluster, port] of [
    ['west', 20001],
    ['north', 20002],
  ] as const) {
    await client.create(R.services, {
      ...service(ns, `cart-${cluster}`, [{ name: 'http', port: 8080 }]),
      metadata: {
        namespace: ns,
        name: `cart-${cluster}`,
        labels: {
          [MIRRORED_SERVICE_LABEL]: 'true',
          [CLUSTER_NAME_LABEL]: cluster,
          [FEDERATION_LABEL]: 'cart',
        },
      },
    });
    await client.create(
      R.endpointSlices,
      slice(ns, `cart-${cluster}`, { mirror: true, port, name: `cart-${cluster}-gw`, ready: [GATEWAY_POD] }),
    );
  }
}

/** Every ready address:port of cart-federated's slices. */
async function endpoints(): Promise<string[]> {
  const slices = await client.list<V1EndpointSlice>(R.endpointSlices, {
    namespace: ns,
    labelSelector: `${SERVICE_NAME_LABEL}=cart-federated`,
  });
  return slices.items
    .flatMap((s) =>
      s.endpoints.filter((e) => e.conditions?.ready).map((e) => `${e.addresses[0]}:${s.ports?.[0]?.port}`),
    )
    .sort();
}

/** A controller on its own informers, started at once; as a leader's, on the process's informers. */
function startController(writer: KubeClient, informers: ReturnType<typeof createLocalInformers>) {
  const namespaces = createInformer<V1Namespace>(controllerClient, R.namespaces);
  namespaces.start();
  const controller: FederationController = runFederationController({
    client: writer,
    registry: new Registry(),
    recorder: new EventRecorder(controllerClient, { component: 'isthmus-federation' }),
    localCluster: 'east',
    informers: { ...informers, namespaces },
    queueBackoff: { baseMs: 20, maxMs: 300 },
  });
  running.push(informers.services, informers.slices, namespaces, controller);
  return { controller, namespaces };
}

/** `controllerClient`, recording `<method> <resource>/<name>` of every write. */
function recordingWrites(writes: string[]): KubeClient {
  return new Proxy(controllerClient, {
    get(target, key, receiver) {
      const value = Reflect.get(target, key, receiver);
      if (typeof key !== 'string' || !WRITES.has(key) || typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        const [res, a, b] = args as [{ plural: string }, unknown, unknown];
        const name = typeof b === 'string' ? b : ((a as V1Service | undefined)?.metadata?.name ?? String(a));
        writes.push(`${key} ${res.plural}/${name}`);
        return value.apply(target, args);
      };
    },
  }) as KubeClient;
}

it.each(['slices', 'services'] as const)(
  'a new leader whose shared %s informer lists last rewrites nothing of a settled federation',
  async (last) => {
    await fixture();
    const want = ['10.0.0.5:20001', '10.0.0.5:20002', '10.1.0.7:8080', '10.1.0.8:8080'];
    // The former leader federates cart.
    const first = createLocalInformers(controllerClient);
    first.services.start();
    first.slices.start();
    const former = startController(controllerClient, first).controller;
    await synced(former, 'the former leader');
    await waitFor('cart federated', async () => {
      await former.idle();
      return JSON.stringify(await endpoints()) === JSON.stringify(want);
    });
    await former.idle();
    for (const r of running.reverse()) await r.stop();
    running = [];

    // A new leader, on the process's informers, which are still listing: `last` lists last.
    const writes: string[] = [];
    const shared = createLocalInformers(controllerClient);
    const { controller, namespaces } = startController(recordingWrites(writes), shared);
    await synced(namespaces, 'namespaces');
    const [early, late] =
      last === 'slices' ? [shared.services, shared.slices] : [shared.slices, shared.services];
    early.start();
    await synced(early, 'the informer listing first');
    late.start();
    await synced(controller, 'the new leader');
    await controller.idle();
    expect(writes, 'nothing to change').toEqual([]);
    expect(await endpoints()).toEqual(want);
  },
);

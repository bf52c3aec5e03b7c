/**
 * `--dial-pod-ips-only` against the strict sandbox, with the informers the gateway runs (the Pod
 * informer trimmed as in the gateway): what an exported Service's hand-written slice may point the
 * ingress at, and how Pod status changes are followed. Realistic pod IPs; nothing is dialled.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KubeClient } from '../kube/client.js';
import { createInformer, type Informer } from '../kube/informer.js';
import { R } from '../kube/resources.js';
import type { V1EndpointSlice, V1Service } from '../kube/types.js';
import { type Sandbox, startSandbox } from '../sandbox/index.js';
import { endpointSlice, exportedService, namespace, runningPod, waitFor } from './e2e/fixtures.js';
import { type PodAddresses, PodIPBook } from './pod-ips.js';
import { type RefusedEndpoints, type ResolveResult, ServiceIndex } from './service-index.js';
import { feedServiceIndex, SLICE_SELECTOR } from './watch-exports.js';
import { createPodInformer, feedPodIPs } from './watch-pods.js';

let sandbox: Sandbox;
let kube: KubeClient;
let informers: {
  services: Informer<V1Service>;
  slices: Informer<V1EndpointSlice>;
  pods: Informer<PodAddresses>;
};
const reports: RefusedEndpoints[] = [];
const book = new PodIPBook();
const index = new ServiceIndex({ onRefused: (r) => reports.push(r), podIPs: book });
const offs: Array<() => void> = [];

const resolve = (service: string): ResolveResult =>
  index.resolve({ kind: 'service', namespace: 'shop', service, port: 8080 });
const hosts = (service: string): string[] | string => {
  const r = resolve(service);
  return r.ok ? r.candidates.map((c) => c.host) : r.reason;
};
const reportsOf = (service: string) => reports.filter((r) => r.service === service).map((r) => r.refused);

beforeAll(async () => {
  sandbox = await startSandbox({ name: 'west' });
  kube = KubeClient.fromKubeconfigString(sandbox.kubeconfig());
  for (const ns of ['shop', 'bank']) await kube.create(R.namespaces, namespace(ns));
  await runningPod(kube, 'shop', 'web-1', ['10.244.1.7', 'fd00:10:244:1::7']);
  await runningPod(kube, 'bank', 'vault-0', ['10.244.2.9']);
  informers = {
    services: createInformer<V1Service>(kube, R.services, {
      labelSelector: 'mirror.linkerd.io/exported=true',
    }),
    slices: createInformer<V1EndpointSlice>(kube, R.endpointSlices, { labelSelector: SLICE_SELECTOR }),
    pods: createPodInformer(kube),
  };
  offs.push(
    feedServiceIndex(index, informers.services, informers.slices, { apiServerClusterIPs: [] }),
    feedPodIPs(index, book, informers.pods, informers.pods.synced),
  );
  for (const i of Object.values(informers)) i.start();
  await Promise.all(Object.values(informers).map((i) => i.synced));
});

afterAll(async () => {
  for (const off of offs) off();
  await Promise.all(Object.values(informers ?? {}).map((i) => i.stop()));
  kube?.close();
  await sandbox?.close();
});

describe('--dial-pod-ips-only against the API server', () => {
  it('holds each Pod trimmed to what the decision reads', () => {
    expect(informers.pods.get('shop', 'web-1')).toEqual({
      metadata: { namespace: 'shop', name: 'web-1', resourceVersion: expect.any(String) },
      status: { phase: 'Running', podIPs: [{ ip: '10.244.1.7' }, { ip: 'fd00:10:244:1::7' }] },
    });
  });

  it("refuses a hand-written slice that points an exported Service at another namespace's pod, with the reason", async () => {
    await kube.create(R.services, exportedService('shop', 'steal', 8080));
    await kube.create(R.endpointSlices, endpointSlice('shop', 'steal', '10.244.2.9', 8200));
    await waitFor('the refusal reported', () => reportsOf('steal').length > 0);
    expect(reportsOf('steal')).toEqual([
      [
        {
          address: '10.244.2.9',
          reason: '10.244.2.9 is not (or not yet) the IP of a running Pod in namespace shop',
        },
      ],
    ]);
    expect(hosts('steal')).toMatch(/no ready endpoint for shop\/steal:8080/);
  });

  it('takes the IP of a pod of the Service’s own namespace as a candidate, either family', async () => {
    await kube.create(R.services, exportedService('shop', 'web', 8080));
    await kube.create(R.endpointSlices, endpointSlice('shop', 'web', '10.244.1.7', 8080));
    const v6 = endpointSlice('shop', 'web', 'fd00:10:244:1::7', 8080);
    v6.metadata!.name = 'web-v6';
    await kube.create(R.endpointSlices, v6);
    await waitFor('both slices of web held', () => Array.isArray(hosts('web')) && hosts('web').length === 2);
    expect(hosts('web')).toEqual(['10.244.1.7', 'fd00:10:244:1::7']);
    expect(reportsOf('web')).toEqual([]);
  });

  it("follows the Pod's status: a finished pod stops being dialled, an IP given to a pod of the namespace starts", async () => {
    await runningPod(kube, 'shop', 'web-1', ['10.244.1.7', 'fd00:10:244:1::7'], 'Succeeded');
    await waitFor('web refused', () => !resolve('web').ok);
    expect(reportsOf('web')).toEqual([
      [
        {
          address: '10.244.1.7',
          reason: '10.244.1.7 is not (or not yet) the IP of a running Pod in namespace shop',
        },
      ],
      [
        {
          address: 'fd00:10:244:1::7',
          reason: 'fd00:10:244:1::7 is not (or not yet) the IP of a running Pod in namespace shop',
        },
      ],
    ]);

    // The address the slice of `steal` lists, reused by a pod of shop: no slice event needed.
    await kube.delete(R.pods, 'bank', 'vault-0');
    await runningPod(kube, 'shop', 'batch-3', [], 'Pending');
    await runningPod(kube, 'shop', 'batch-3', ['10.244.2.9']);
    await waitFor('steal resolvable', () => resolve('steal').ok);
    expect(hosts('steal')).toEqual(['10.244.2.9']);
    // Reported once per change, not once per Pod event.
    expect(reportsOf('steal')).toHaveLength(1);
  });

  it('refuses a hostNetwork pod: its IP is the node’s', async () => {
    await kube.create(R.pods, {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { namespace: 'shop', name: 'agent' },
      spec: { hostNetwork: true, containers: [{ name: 'agent', image: 'registry.example/agent:1' }] },
    });
    await runningPod(kube, 'shop', 'agent', ['172.18.0.2']);
    await kube.create(R.services, exportedService('shop', 'node', 8080));
    await kube.create(R.endpointSlices, endpointSlice('shop', 'node', '172.18.0.2', 10250));
    await waitFor('the refusal reported', () => reportsOf('node').length > 0);
    expect(reportsOf('node')).toEqual([
      [
        {
          address: '172.18.0.2',
          reason: '172.18.0.2 is not (or not yet) the IP of a running Pod in namespace shop',
        },
      ],
    ]);
  });
});

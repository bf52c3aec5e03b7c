/**
 * `isthmus lab up --gateway-dial-pod-ips-only`: the lab's podinfo replicas are Pods whose
 * `status.podIPs` are the loopback addresses its EndpointSlice controller lists, so a gateway in
 * that mode dials them as it dials real pods. Checked with the lab's own kubelet and EndpointSlice
 * controller and the gateway's informers and index; no process is started.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PodIPBook } from '../../gateway/pod-ips.js';
import { ServiceIndex } from '../../gateway/service-index.js';
import { feedServiceIndex, SLICE_SELECTOR } from '../../gateway/watch-exports.js';
import { createPodInformer, feedPodIPs } from '../../gateway/watch-pods.js';
import { KubeClient } from '../../kube/client.js';
import { createInformer } from '../../kube/informer.js';
import { DEFAULT_EXPORT_SELECTOR, EXPORTED_LABEL } from '../../kube/keys.js';
import { R } from '../../kube/resources.js';
import type { KubeObject, V1EndpointSlice, V1Service } from '../../kube/types.js';
import { type Sandbox, startSandbox } from '../../sandbox/index.js';
import { waitFor } from '../../wait-for.js';
import { installGrants } from '../install/rbac.js';
import { applyObjects } from './apply-objects.js';
import { labInstallOptions } from './bootstrap.js';
import { demoObjects } from './demo-objects.js';
import { LabEndpointSliceController } from './lab-endpointslices.js';
import { syncDeploymentPods } from './lab-pods.js';
import { LAB_NAMESPACE, labCluster, labNode, PODINFO_PORT } from './topology.js';

/** West of a lab at --base 160: apart from every other test's addresses. No server binds them. */
const WEST = labCluster('west', 161);
const stops: Array<() => unknown> = [];
let sandbox: Sandbox;
let admin: KubeClient;

beforeAll(async () => {
  sandbox = await startSandbox({ name: 'west', allowLoopbackEndpoints: true });
  stops.push(() => sandbox.close());
  admin = KubeClient.fromKubeconfigString(sandbox.kubeconfig());
  stops.push(() => admin.close());
});

afterAll(async () => {
  for (const stop of stops.reverse()) await stop();
});

describe('the lab with --gateway-dial-pod-ips-only', () => {
  it('installs the gateway with the flag recorded and the right to read pods', () => {
    const pem = { anchorPem: 'a', issuerCertPem: 'c', issuerKeyPem: 'k' };
    const opts = labInstallOptions(WEST, pem, { gatewayDialPodIPsOnly: true });
    expect(opts.gatewayDialPodIPsOnly).toBe(true);
    expect(opts.recordedFlags).toMatchObject({ 'gateway-dial-pod-ips-only': true });
    const gatewayRules = installGrants(opts).flatMap((g) =>
      g.serviceAccount === 'isthmus-gateway' ? g.rules : [],
    );
    expect(gatewayRules).toContainEqual({
      apiGroups: [''],
      resources: ['pods'],
      verbs: ['get', 'list', 'watch'],
    });
    expect(labInstallOptions(WEST, pem).gatewayDialPodIPsOnly).toBe(false);
  });

  it("dials the lab's podinfo replicas: their Pods hold the addresses its slices list", async () => {
    await applyObjects(admin, demoObjects({ [EXPORTED_LABEL]: 'true' }, undefined) as KubeObject[]);
    const slicesController = new LabEndpointSliceController(admin);
    await slicesController.start();
    stops.push(() => slicesController.stop());
    const replicas = [WEST.podinfo.hostOf(0), WEST.podinfo.hostOf(1)];
    await syncDeploymentPods(admin, LAB_NAMESPACE, 'podinfo', replicas, labNode(WEST));

    const refused: unknown[] = [];
    const book = new PodIPBook();
    const index = new ServiceIndex({ onRefused: (r) => refused.push(r), podIPs: book });
    const services = createInformer<V1Service>(admin, R.services, { labelSelector: DEFAULT_EXPORT_SELECTOR });
    const slices = createInformer<V1EndpointSlice>(admin, R.endpointSlices, {
      labelSelector: SLICE_SELECTOR,
    });
    const pods = createPodInformer(admin);
    stops.push(feedServiceIndex(index, services, slices, { apiServerClusterIPs: [] }));
    stops.push(feedPodIPs(index, book, pods, pods.synced));
    for (const i of [services, slices, pods]) {
      i.start();
      stops.push(() => i.stop());
    }
    const resolved = await waitFor('podinfo resolvable', () => {
      const r = index.resolve({
        kind: 'service',
        namespace: LAB_NAMESPACE,
        service: 'podinfo',
        port: PODINFO_PORT,
      });
      return r.ok && r.candidates.length === 2 ? r.candidates : undefined;
    });
    expect(resolved.map((c) => c.host).sort()).toEqual(replicas);
    expect(refused).toEqual([]);
  });
});

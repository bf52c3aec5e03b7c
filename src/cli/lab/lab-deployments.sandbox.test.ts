/**
 * The lab's kubelet for the Deployments it runs no process for (a user's `kubectl create
 * deployment`, in any namespace): a Ready Pod per replica at an address of the cluster's workload
 * range, and the Deployment's status; scale, pod deletion and Deployment deletion as a cluster's
 * ReplicaSet controller and kubelet handle them. No server is started at those addresses.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KubeClient } from '../../kube/client.js';
import { R } from '../../kube/resources.js';
import type { KubeObject, V1Pod } from '../../kube/types.js';
import { type Sandbox, startSandbox } from '../../sandbox/index.js';
import { waitFor } from '../../wait-for.js';
import { applyObjects } from './apply-objects.js';
import { LabDeploymentKubelet } from './lab-deployments.js';
import { labCluster, workloadPodHosts } from './topology.js';

/** A lab cluster at --base 163: apart from every other test's addresses. No server binds them. */
const EAST = labCluster('east', 163);
const stops: Array<() => unknown> = [];
let sandbox: Sandbox;
let admin: KubeClient;

function deployment(namespace: string, name: string, replicas: number, extraLabels = {}): KubeObject {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace },
    spec: {
      replicas,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name, ...extraLabels } },
        spec: { containers: [{ name: 'app', image: 'example.com/app:1' }] },
      },
    },
  } as KubeObject;
}

interface DeploymentStatus {
  observedGeneration?: number;
  replicas?: number;
  readyReplicas?: number;
  availableReplicas?: number;
}

async function podsOf(namespace: string, app: string): Promise<V1Pod[]> {
  const list = await admin.list<V1Pod>(R.pods, { namespace, labelSelector: `app=${app}` });
  return list.items.filter((p) => !p.metadata?.deletionTimestamp);
}

const ready = (p: V1Pod) => p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');

/** Waits until `namespace/app` has exactly `n` Running, Ready pods, each with an address; returns them. */
function waitForPods(namespace: string, app: string, n: number): Promise<V1Pod[]> {
  return waitFor(
    `${n} ready pods of ${namespace}/${app}`,
    async () => {
      const pods = await podsOf(namespace, app);
      const ok =
        pods.length === n && pods.every((p) => p.status?.phase === 'Running' && ready(p) && p.status?.podIP);
      return ok ? pods : undefined;
    },
    { timeoutMs: 20_000 },
  );
}

async function scale(namespace: string, name: string, replicas: number): Promise<void> {
  await admin.patch(R.deployments, namespace, name, { spec: { replicas } }, 'merge');
}

beforeAll(async () => {
  sandbox = await startSandbox({ name: 'east', allowLoopbackEndpoints: true });
  stops.push(() => sandbox.close());
  admin = KubeClient.fromKubeconfigString(sandbox.kubeconfig());
  stops.push(() => admin.close());
  await applyObjects(admin, [
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'shop' } },
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'test' } },
  ] as KubeObject[]);
}, 30_000);

afterAll(async () => {
  for (const stop of stops.reverse()) await stop();
});

describe("the lab's kubelet for every other Deployment", () => {
  it('gives each replica a Ready pod at a workload address, and the Deployment its status', async () => {
    // A pod made by hand at the first workload address: the lab gives that address to no other pod.
    const taken = workloadPodHosts(EAST)[0]!;
    await admin.create(R.pods, {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'by-hand', namespace: 'shop', labels: { app: 'by-hand' } },
      spec: { containers: [{ name: 'app', image: 'example.com/app:1' }], nodeName: 'east-control-plane' },
    } as KubeObject);
    await admin.patchStatus(
      R.pods,
      'shop',
      'by-hand',
      { status: { phase: 'Running', podIP: taken, podIPs: [{ ip: taken }] } },
      'merge',
    );
    await applyObjects(admin, [deployment('shop', 'cart', 2), deployment('test', 'podinfo', 1)]);

    const kubelet = new LabDeploymentKubelet(admin, EAST, (ns, name) => ns === 'test' && name === 'podinfo');
    await kubelet.start();
    stops.push(() => kubelet.stop());

    const pods = await waitForPods('shop', 'cart', 2);
    const ips = pods.map((p) => p.status!.podIP!);
    expect(new Set(ips).size).toBe(2);
    for (const ip of ips) {
      expect(workloadPodHosts(EAST)).toContain(ip);
      expect(ip).not.toBe(taken);
    }
    for (const p of pods) {
      expect(p.metadata?.name).toMatch(/^cart-[a-z0-9]{10}-[a-z0-9]{5}$/);
      expect(p.spec?.nodeName).toBe('east-control-plane');
    }
    const status = await waitFor('cart status', async () => {
      const d = await admin.get<KubeObject & { status?: DeploymentStatus }>(R.deployments, 'shop', 'cart');
      return d?.status?.readyReplicas === 2 ? d.status : undefined;
    });
    expect(status).toMatchObject({ observedGeneration: 1, replicas: 2, availableReplicas: 2 });
    // A Deployment another part of the lab runs is left to it.
    expect(await podsOf('test', 'podinfo')).toEqual([]);
  }, 60_000);

  it('follows a scale, brings a deleted pod back, and removes the pods with their Deployment', async () => {
    await scale('shop', 'cart', 3);
    const three = await waitForPods('shop', 'cart', 3);
    expect(new Set(three.map((p) => p.status?.podIP)).size).toBe(3);

    // `kubectl delete pod`: Terminating (graceful), finished by the kubelet, replaced.
    // (The lab names a replacement as it named the pod it replaces: the uid tells them apart.)
    const victim = three[0]!.metadata!;
    await admin.delete(R.pods, 'shop', victim.name!);
    await waitFor(
      `${victim.name} gone and replaced`,
      async () => {
        const all = await admin.list<V1Pod>(R.pods, { namespace: 'shop', labelSelector: 'app=cart' });
        const gone = !all.items.some((p) => p.metadata?.uid === victim.uid);
        const live = all.items.filter((p) => !p.metadata?.deletionTimestamp && ready(p));
        return gone && all.items.length === 3 && live.length === 3 ? true : undefined;
      },
      { timeoutMs: 20_000 },
    );

    await scale('shop', 'cart', 0);
    await waitForPods('shop', 'cart', 0);
    await waitFor('cart scaled to 0 in its status', async () => {
      const d = await admin.get<KubeObject & { status?: DeploymentStatus }>(R.deployments, 'shop', 'cart');
      return d?.status?.observedGeneration === 3 && d.status.replicas === undefined ? true : undefined;
    });

    // A second Deployment takes addresses the first one freed.
    await scale('shop', 'cart', 1);
    await applyObjects(admin, [deployment('shop', 'web', 1)]);
    await waitForPods('shop', 'cart', 1);
    await waitForPods('shop', 'web', 1);
    await admin.delete(R.deployments, 'shop', 'cart');
    await waitForPods('shop', 'cart', 0);
    const all = await admin.list<V1Pod>(R.pods, { namespace: 'shop', labelSelector: 'app=cart' });
    expect(all.items).toEqual([]);
    // The hand-made pod is nobody's: it stays.
    expect(await admin.get(R.pods, 'shop', 'by-hand')).toBeDefined();
  }, 90_000);
});

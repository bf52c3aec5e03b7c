/**
 * The lab's stand-in for the ReplicaSet controller and the kubelet for every Deployment no other
 * part of the lab runs (a user's own `kubectl create deployment`, in any namespace): the lab starts
 * no process for them. Each replica is a Pod, Running and Ready at once, whose pod IP is an address
 * of the cluster's workload range (topology.ts workloadPodHosts) that no other pod holds, and the
 * Deployment's status counts them (lab-pods.ts syncDeploymentPods, as for podinfo). The lab's
 * EndpointSlice controller lists those pods in the slices of the Services selecting them, so such a
 * Service has ready endpoints, which answer only if something serves at those addresses.
 *
 * A scale, a new pod template (`kubectl rollout restart`), a deleted pod (Terminating, then finished
 * with grace 0 as a kubelet finishes it, then replaced) and a deleted Deployment (its pods go, as the
 * garbage collector takes them) do what they do in a cluster.
 */
import type { KubeClient } from '../../kube/client.js';
import { createInformer, type Informer } from '../../kube/informer.js';
import { matchesLabelSelector } from '../../kube/label-selector.js';
import { R } from '../../kube/resources.js';
import type { V1LabelSelector, V1Pod } from '../../kube/types.js';
import { finalDelete, syncDeploymentPods } from './lab-pods.js';
import { type LabCluster, labNode, workloadPodHosts } from './topology.js';

interface Deployment {
  metadata?: { name?: string; namespace?: string; generation?: number };
  spec?: { replicas?: number; selector?: V1LabelSelector };
}

/** A failed reconcile (a conflict, an API error) is tried again after this long. */
const RETRY_MS = 1_000;

const keyOf = (namespace: string, name: string) => `${namespace}/${name}`;

export class LabDeploymentKubelet {
  private readonly deployments: Informer<Deployment>;
  private readonly pods: Informer<V1Pod>;
  /** Per Deployment, so a scale from 3 to 0 to 2 applies in order. */
  private readonly chains = new Map<string, Promise<void>>();
  /** Per Deployment, the pod IPs of its replicas, in replica order. */
  private readonly addresses = new Map<string, string[]>();
  private readonly retries = new Set<NodeJS.Timeout>();
  private stopped = false;

  constructor(
    private readonly client: KubeClient,
    private readonly cluster: LabCluster,
    /** The Deployments another part of the lab runs (podinfo, the frontend, isthmus-system's). */
    private readonly runElsewhere: (namespace: string, name: string) => boolean,
  ) {
    this.deployments = createInformer<Deployment>(client, R.deployments, {});
    this.pods = createInformer<V1Pod>(client, R.pods, {});
  }

  async start(): Promise<void> {
    this.deployments.onEvent((e) => {
      const { namespace, name } = e.object.metadata ?? {};
      if (!namespace || !name || this.runElsewhere(namespace, name)) return;
      // Its status (which this writes) is no news; a new generation (spec) is.
      if (e.type === 'update' && e.old.metadata?.generation === e.object.metadata?.generation) return;
      this.enqueue(namespace, name);
    });
    this.pods.onEvent((e) => {
      const owner = this.ownerOf(e.object);
      if (!owner) return;
      const namespace = e.object.metadata!.namespace!;
      if (e.type === 'delete') this.enqueue(namespace, owner);
      else if (e.object.metadata?.deletionTimestamp)
        void finalDelete(this.client, namespace, e.object.metadata.name!);
    });
    // The pods first: the addresses they hold are known before the first replica gets one.
    this.pods.start();
    await this.pods.synced;
    this.deployments.start();
    await this.deployments.synced;
    await Promise.all(this.chains.values());
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of this.retries) clearTimeout(t);
    this.retries.clear();
    await Promise.all([this.deployments.stop(), this.pods.stop()]);
    await Promise.all(this.chains.values());
  }

  /** The Deployment this handles whose selector selects `pod`, if any. */
  private ownerOf(pod: V1Pod): string | undefined {
    const namespace = pod.metadata?.namespace;
    if (!namespace) return undefined;
    return this.deployments
      .list()
      .find(
        (d) =>
          d.metadata?.namespace === namespace &&
          !this.runElsewhere(namespace, d.metadata.name ?? '') &&
          matchesLabelSelector(d.spec?.selector, pod.metadata?.labels),
      )?.metadata?.name;
  }

  private enqueue(namespace: string, name: string): void {
    if (this.stopped) return;
    const key = keyOf(namespace, name);
    const next = (this.chains.get(key) ?? Promise.resolve())
      .then(() => this.reconcile(namespace, name))
      .catch(() => {
        if (this.stopped) return;
        const t = setTimeout(() => {
          this.retries.delete(t);
          this.enqueue(namespace, name);
        }, RETRY_MS);
        t.unref();
        this.retries.add(t);
      });
    this.chains.set(key, next);
    void next.then(() => {
      if (this.chains.get(key) === next) this.chains.delete(key);
    });
  }

  private async reconcile(namespace: string, name: string): Promise<void> {
    if (this.stopped) return;
    const key = keyOf(namespace, name);
    const d = this.deployments.get(namespace, name);
    if (!d) {
      this.addresses.delete(key);
      await this.removePods(namespace, name);
      return;
    }
    const want = Math.max(0, d.spec?.replicas ?? 1);
    const mine = (this.addresses.get(key) ?? []).slice(0, want);
    if (mine.length < want) {
      const taken = new Set<string>();
      for (const [k, ips] of this.addresses) if (k !== key) for (const ip of ips) taken.add(ip);
      // Every other pod's address too (a pod made by hand); this Deployment's own pods are its to replace.
      for (const p of this.pods.list()) {
        const mineToReplace =
          p.metadata?.namespace === namespace && matchesLabelSelector(d.spec?.selector, p.metadata?.labels);
        if (!mineToReplace) for (const ip of p.status?.podIPs ?? []) taken.add(ip.ip);
        if (!mineToReplace && p.status?.podIP) taken.add(p.status.podIP);
      }
      // Fewer pods than replicas when the range is used up, as when a cluster has no room left.
      for (const ip of workloadPodHosts(this.cluster)) {
        if (mine.length >= want) break;
        if (!taken.has(ip) && !mine.includes(ip)) mine.push(ip);
      }
    }
    this.addresses.set(key, mine);
    await syncDeploymentPods(this.client, namespace, name, mine, labNode(this.cluster));
  }

  /** A deleted Deployment's pods: the ones made for it (named after it, with a template hash). */
  private async removePods(namespace: string, name: string): Promise<void> {
    const made = this.pods
      .list()
      .filter(
        (p) =>
          p.metadata?.namespace === namespace &&
          p.metadata.name?.startsWith(`${name}-`) &&
          p.metadata.labels?.['pod-template-hash'] !== undefined &&
          !p.metadata.deletionTimestamp,
      );
    for (const p of made)
      await this.client.delete(R.pods, namespace, p.metadata!.name!, { gracePeriodSeconds: 0 });
  }
}

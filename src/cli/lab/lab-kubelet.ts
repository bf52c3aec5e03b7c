/**
 * The lab's stand-in for the kubelet, for one Deployment: it runs `spec.replicas` podinfo servers
 * on the cluster's loopback addresses and keeps a Ready Pod per replica at its address. The lab's
 * EndpointSlice controller (lab-endpointslices.ts) lists those Pods in the slices of every Service
 * selecting them. So `kubectl scale deployment/podinfo --replicas=0` in the lab does what it does in
 * a real cluster: the endpoints go away and failover kicks in.
 */
import type { KubeClient } from '../../kube/client.js';
import { createInformer, type Informer } from '../../kube/informer.js';
import { R } from '../../kube/resources.js';
import type { V1Pod } from '../../kube/types.js';
import { type RunningServer, startPodinfo } from './demo-apps.js';
import { keepPods, syncDeploymentPods } from './lab-pods.js';
import { type LabCluster, labNode } from './topology.js';

interface Deployment {
  metadata?: { name?: string; namespace?: string };
  spec?: { replicas?: number };
}

export class LabKubelet {
  private readonly replicas: RunningServer[] = [];
  private readonly informer: Informer<Deployment>;
  private pods: Informer<V1Pod> | undefined;
  private chain: Promise<void> = Promise.resolve();

  constructor(
    private readonly client: KubeClient,
    private readonly cluster: LabCluster,
    private readonly namespace: string,
    private readonly name: string,
  ) {
    this.informer = createInformer<Deployment>(client, R.deployments, {
      namespace,
      fieldSelector: `metadata.name=${name}`,
    });
    this.informer.onEvent(() => this.enqueue());
  }

  /** Serialised: a scale from 3 to 0 to 2 applies in order, never interleaved. */
  private enqueue(): void {
    this.chain = this.chain.then(() => this.reconcile()).catch(() => undefined);
  }

  async start(): Promise<void> {
    this.informer.start();
    await this.informer.synced;
    await this.chain;
    // A deleted pod comes back, as its ReplicaSet would bring it back.
    this.pods = keepPods(this.client, this.namespace, `app=${this.name}`, () => this.enqueue());
  }

  /** Current number of running replicas (for status lines and tests). */
  running(): number {
    return this.replicas.length;
  }

  private async reconcile(): Promise<void> {
    const want = Math.min(
      this.informer.get(this.namespace, this.name)?.spec?.replicas ?? 0,
      this.cluster.podinfo.maxReplicas,
    );
    while (this.replicas.length > want) await this.replicas.pop()!.close();
    while (this.replicas.length < want) {
      const i = this.replicas.length;
      this.replicas.push(
        await startPodinfo({
          host: this.cluster.podinfo.hostOf(i),
          port: this.cluster.podinfo.port,
          hostname: `${this.name}-${this.cluster.name}-${i}`,
          message: `greetings from ${this.cluster.name}`,
        }),
      );
    }
    const addresses = this.replicas.map((_, i) => this.cluster.podinfo.hostOf(i));
    await syncDeploymentPods(this.client, this.namespace, this.name, addresses, labNode(this.cluster));
  }

  async stop(): Promise<void> {
    await this.pods?.stop();
    await this.informer.stop();
    await this.chain;
    await Promise.all(this.replicas.splice(0).map((r) => r.close()));
  }
}

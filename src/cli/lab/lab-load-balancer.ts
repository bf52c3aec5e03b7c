/**
 * The lab's stand-in for a cloud's load-balancer controller: the gateway's LoadBalancer Service
 * gets the cluster's gateway address in `status.loadBalancer.ingress` whenever it has none — at
 * the install, and again when an uninstall and a reinstall (or a `kubectl delete` and an apply)
 * re-create it, as a cloud controller assigns an address to every new LoadBalancer Service. Without
 * it a re-created gateway Service stayed `<pending>` and `isthmus link` refused to run against it.
 * Other LoadBalancer Services get nothing: nothing in the lab would answer at an address given them.
 */
import type { KubeClient } from '../../kube/client.js';
import { createInformer, type Informer } from '../../kube/informer.js';
import { GATEWAY_SERVICE_NAME, SYSTEM_NAMESPACE } from '../../kube/keys.js';
import { R } from '../../kube/resources.js';
import type { V1Service } from '../../kube/types.js';
import { WorkQueue } from '../../kube/work-queue.js';

/** The status patch `service` needs for the lab's gateway address, or undefined when it needs none. */
export function loadBalancerPatch(service: V1Service | undefined, address: string): object | undefined {
  if (service?.spec?.type !== 'LoadBalancer') return undefined;
  if (service.status?.loadBalancer?.ingress?.length) return undefined;
  return { status: { loadBalancer: { ingress: [{ ip: address }] } } };
}

export class LabLoadBalancer {
  private readonly services: Informer<V1Service>;
  private readonly queue: WorkQueue;

  constructor(
    private readonly client: KubeClient,
    private readonly address: string,
  ) {
    this.services = createInformer<V1Service>(client, R.services, {
      namespace: SYSTEM_NAMESPACE,
      fieldSelector: `metadata.name=${GATEWAY_SERVICE_NAME}`,
    });
    this.queue = new WorkQueue({ handler: () => this.reconcile() });
    this.services.onEvent(() => this.queue.add(GATEWAY_SERVICE_NAME));
  }

  async start(): Promise<void> {
    this.services.start();
    await this.services.synced;
  }

  /** Resolves once every queued change is written (for tests). */
  idle(): Promise<void> {
    return this.queue.idle();
  }

  async stop(): Promise<void> {
    await this.queue.stop();
    await this.services.stop();
  }

  private async reconcile(): Promise<void> {
    const patch = loadBalancerPatch(this.services.get(SYSTEM_NAMESPACE, GATEWAY_SERVICE_NAME), this.address);
    if (patch)
      await this.client.patchStatus(R.services, SYSTEM_NAMESPACE, GATEWAY_SERVICE_NAME, patch, 'merge');
  }
}

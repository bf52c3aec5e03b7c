/**
 * The lab's stand-in for kube-controller-manager's EndpointSlice controller: every Service with a
 * selector gets slices listing the Pods it selects, as a real cluster gives it. So a Service a user
 * adds in the lab — `kubectl expose deployment podinfo --name web`, then the exported label — has
 * endpoints and is mirrored and callable like podinfo, instead of a mirror that never gets a ready
 * endpoint; and the isthmus-system Services (the gateway's, its admin port's, identity's) list the
 * lab's pods of those processes with the readiness its kubelet probes (system-kubelet.ts): a
 * gateway that is not ready, or scaled to 0, has no ready endpoint, and its cluster's mirrors none.
 *
 * What it reproduces of the real controller (pkg/controller/endpointslice, staging's
 * endpointslice reconciler): endpoints from Pods with an IP that are not finished, terminating ones
 * included (`serving` from the Pod's Ready condition, `ready` only while not terminating), named target ports resolved per Pod from its container ports (a Pod that
 * lacks the name is left out of that port), one slice per IP family and port mapping, at most 100
 * endpoints per slice, a placeholder slice without ports when nothing is selected, the Service's
 * labels copied, `service.kubernetes.io/headless` on headless Services, a hostname only for a Pod
 * whose `subdomain` is the Service, and the Service as controlling owner.
 */
import { isIP } from 'node:net';
import type { KubeClient } from '../../kube/client.js';
import { createInformer, type Informer } from '../../kube/informer.js';
import { SERVICE_NAME_LABEL } from '../../kube/keys.js';
import { R } from '../../kube/resources.js';
import type { V1EndpointSlice, V1Pod, V1Service } from '../../kube/types.js';
import { WorkQueue } from '../../kube/work-queue.js';

/** What the real EndpointSlice controller names its manager. */
export const ENDPOINTSLICE_CONTROLLER = 'endpointslice-controller.k8s.io';
const MANAGED_BY = 'endpointslice.kubernetes.io/managed-by';
const HEADLESS_LABEL = 'service.kubernetes.io/headless';
/** kube-controller-manager's default --max-endpoints-per-slice. */
export const MAX_ENDPOINTS_PER_SLICE = 100;

type SlicePort = NonNullable<V1EndpointSlice['ports']>[number];
type SliceEndpoint = V1EndpointSlice['endpoints'][number];

function selects(selector: Record<string, string>, pod: V1Pod): boolean {
  const labels = pod.metadata?.labels ?? {};
  return Object.entries(selector).every(([k, v]) => labels[k] === v);
}

/** A Pod's port for a Service port (podutil.FindPort): a number as is, a name from its containers. */
function podPort(pod: V1Pod, target: number | string | undefined, servicePort: number): number | undefined {
  if (target === undefined) return servicePort;
  if (typeof target === 'number') return target;
  for (const c of pod.spec?.containers ?? [])
    for (const p of c.ports ?? []) if (p.name === target) return p.containerPort;
  return undefined;
}

/**
 * podToEndpoint's conditions: `serving` is the Pod's Ready condition; a Pod being deleted is
 * `terminating` and never `ready`, so clients drain it while it may still answer.
 */
function conditionsOf(pod: V1Pod): NonNullable<SliceEndpoint['conditions']> {
  const serving = pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') === true;
  const terminating = Boolean(pod.metadata?.deletionTimestamp);
  return { ready: serving && !terminating, serving, terminating };
}

function endpointOf(pod: V1Pod, service: string, address: string): SliceEndpoint {
  const hostname = pod.spec?.subdomain === service ? pod.spec?.hostname : undefined;
  return {
    addresses: [address],
    conditions: conditionsOf(pod),
    ...(hostname ? { hostname } : {}),
    ...(pod.spec?.nodeName ? { nodeName: pod.spec.nodeName } : {}),
    targetRef: {
      kind: 'Pod',
      namespace: pod.metadata?.namespace,
      name: pod.metadata?.name,
      uid: pod.metadata?.uid,
    },
  };
}

function sliceName(service: string, index: number): string {
  return index === 0 ? `${service}-lab` : `${service}-lab-${index + 1}`;
}

/** The slices the EndpointSlice controller would keep for `service`, given its namespace's Pods. */
export function planServiceSlices(service: V1Service, pods: readonly V1Pod[]): V1EndpointSlice[] {
  const selector = service.spec?.selector;
  const name = service.metadata?.name;
  const namespace = service.metadata?.namespace;
  if (!name || !namespace || !selector || Object.keys(selector).length === 0) return [];
  if (service.spec?.type === 'ExternalName') return [];

  // Pods grouped by (family, resolved ports), in a stable order, as the controller groups them.
  const groups = new Map<
    string,
    { family: 'IPv4' | 'IPv6'; ports: SlicePort[]; endpoints: SliceEndpoint[] }
  >();
  const candidates = pods
    .filter((p) => p.metadata?.namespace === namespace)
    .filter((p) => p.status?.phase !== 'Succeeded' && p.status?.phase !== 'Failed')
    .filter((p) => selects(selector, p))
    .sort((a, b) => (a.metadata?.name ?? '').localeCompare(b.metadata?.name ?? ''));
  for (const pod of candidates) {
    const ips = pod.status?.podIPs?.map((p) => p.ip) ?? (pod.status?.podIP ? [pod.status.podIP] : []);
    const ports: SlicePort[] = [];
    for (const sp of service.spec?.ports ?? []) {
      const port = podPort(pod, sp.targetPort as number | string | undefined, sp.port);
      if (port === undefined) continue;
      ports.push({ ...(sp.name ? { name: sp.name } : {}), port, protocol: sp.protocol ?? 'TCP' });
    }
    for (const ip of ips) {
      const family = isIP(ip) === 6 ? 'IPv6' : 'IPv4';
      const key = `${family} ${JSON.stringify(ports)}`;
      const group = groups.get(key) ?? { family, ports, endpoints: [] };
      groups.set(key, group);
      group.endpoints.push(endpointOf(pod, name, ip));
    }
  }

  const shapes: { family: string; ports: SlicePort[]; endpoints: SliceEndpoint[] }[] = [];
  for (const key of [...groups.keys()].sort()) {
    const g = groups.get(key)!;
    for (let i = 0; i < g.endpoints.length; i += MAX_ENDPOINTS_PER_SLICE)
      shapes.push({ ...g, endpoints: g.endpoints.slice(i, i + MAX_ENDPOINTS_PER_SLICE) });
  }
  // Nothing selected: one placeholder slice, no ports, of the Service's primary family.
  if (shapes.length === 0)
    shapes.push({ family: service.spec?.ipFamilies?.[0] ?? 'IPv4', ports: [], endpoints: [] });

  const headless = service.spec?.clusterIP === 'None';
  return shapes.map((s, i) => ({
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: {
      name: sliceName(name, i),
      namespace,
      labels: {
        ...service.metadata?.labels,
        [SERVICE_NAME_LABEL]: name,
        [MANAGED_BY]: ENDPOINTSLICE_CONTROLLER,
        ...(headless ? { [HEADLESS_LABEL]: '' } : {}),
      },
      ownerReferences: [
        {
          apiVersion: 'v1',
          kind: 'Service',
          name,
          uid: service.metadata?.uid ?? '',
          controller: true,
          blockOwnerDeletion: true,
        },
      ],
    },
    addressType: s.family,
    ports: s.ports,
    endpoints: s.endpoints,
  }));
}

/** True when `existing` already says what `desired` says (no write needed). */
function sameSlice(existing: V1EndpointSlice, desired: V1EndpointSlice): boolean {
  return (
    existing.addressType === desired.addressType &&
    JSON.stringify(existing.metadata?.labels ?? {}) === JSON.stringify(desired.metadata?.labels ?? {}) &&
    JSON.stringify(existing.ports ?? []) === JSON.stringify(desired.ports ?? []) &&
    JSON.stringify(existing.endpoints ?? []) === JSON.stringify(desired.endpoints ?? [])
  );
}

const keyOf = (namespace: string | undefined, name: string | undefined) => `${namespace}/${name}`;

/** The controller: informers on Services, Pods and its own slices; one queue key per Service. */
export class LabEndpointSliceController {
  private readonly services: Informer<V1Service>;
  private readonly pods: Informer<V1Pod>;
  private readonly slices: Informer<V1EndpointSlice>;
  private readonly queue: WorkQueue;

  constructor(private readonly client: KubeClient) {
    this.services = createInformer<V1Service>(client, R.services);
    this.pods = createInformer<V1Pod>(client, R.pods);
    this.slices = createInformer<V1EndpointSlice>(client, R.endpointSlices, {
      labelSelector: `${MANAGED_BY}=${ENDPOINTSLICE_CONTROLLER}`,
    });
    // Retried with the queue's backoff: a conflict with another writer settles on the next try.
    this.queue = new WorkQueue({ handler: (key) => this.reconcile(key) });
    this.services.onEvent((e) =>
      this.queue.add(keyOf(e.object.metadata?.namespace, e.object.metadata?.name)),
    );
    this.pods.onEvent((e) => this.enqueueNamespace(e.object.metadata?.namespace));
    this.slices.onEvent((e) => {
      const service = e.object.metadata?.labels?.[SERVICE_NAME_LABEL];
      if (service) this.queue.add(keyOf(e.object.metadata?.namespace, service));
    });
  }

  async start(): Promise<void> {
    for (const i of [this.services, this.pods, this.slices]) i.start();
    await Promise.all([this.services.synced, this.pods.synced, this.slices.synced]);
  }

  /** Resolves once every queued change is written (for the lab's start-up and tests). */
  idle(): Promise<void> {
    return this.queue.idle();
  }

  async stop(): Promise<void> {
    await this.queue.stop();
    await Promise.all([this.services.stop(), this.pods.stop(), this.slices.stop()]);
  }

  private enqueueNamespace(namespace: string | undefined): void {
    for (const s of this.services.list())
      if (s.metadata?.namespace === namespace) this.queue.add(keyOf(namespace, s.metadata?.name));
  }

  private async reconcile(key: string): Promise<void> {
    const [namespace, name] = key.split('/') as [string, string];
    const service = this.services.get(namespace, name);
    const desired = service ? planServiceSlices(service, this.pods.list()) : [];
    const existing = this.slices
      .list()
      .filter(
        (s) => s.metadata?.namespace === namespace && s.metadata?.labels?.[SERVICE_NAME_LABEL] === name,
      );
    for (const want of desired) {
      const have = existing.find((s) => s.metadata?.name === want.metadata?.name);
      if (!have) await this.client.create(R.endpointSlices, want);
      else if (!sameSlice(have, want))
        await this.client.replace(R.endpointSlices, {
          ...want,
          metadata: { ...want.metadata, resourceVersion: have.metadata?.resourceVersion },
        });
    }
    for (const stale of existing)
      if (!desired.some((d) => d.metadata?.name === stale.metadata?.name))
        await this.client.delete(R.endpointSlices, namespace, stale.metadata!.name!);
  }
}

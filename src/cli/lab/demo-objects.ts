/**
 * The lab's copy of examples/podinfo: namespace `test`, the podinfo Deployment and Service (exported
 * from west, a federation member in both; in the local lab also west's `podinfo-direct`), and in east the frontend and linkerd-failover's TrafficSplit. Same names, labels and
 * annotations as the kustomize overlays, so the two labs tell the same story. (A local lab of more
 * clusters exports podinfo from every cluster after west: local-lab.ts.)
 */
import {
  EXPORTED_LABEL,
  FAILOVER_CONTROLLED_BY_DEFAULT,
  FAILOVER_CONTROLLED_BY_LABEL,
  FAILOVER_PRIMARY_ANNOTATION,
  FAILOVER_RESTORE_AFTER_ANNOTATION,
  FEDERATED_LABEL,
  FEDERATED_MEMBER,
  REMOTE_DISCOVERY_EXPORT,
} from '../../kube/keys.js';
import type { KubeObject } from '../../kube/types.js';
import { FRONTEND_PORT, LAB_NAMESPACE, PODINFO_PORT } from './topology.js';

function deployment(name: string, image: string, port: number): KubeObject {
  const d = {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace: LAB_NAMESPACE, labels: { app: name } },
    spec: {
      replicas: 1,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        spec: { containers: [{ name, image, ports: [{ name: 'http', containerPort: port }] }] },
      },
    },
  };
  return d;
}

/** The podinfo pods under another name, exported in remote-discovery mode (`isthmus lab` only). */
export const DIRECT_SERVICE = 'podinfo-direct';

function podinfoService(name: string, labels: Record<string, string>): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name, namespace: LAB_NAMESPACE, labels: { app: 'podinfo', ...labels } },
    spec: {
      selector: { app: 'podinfo' },
      ports: [{ name: 'http', port: PODINFO_PORT, targetPort: 'http' }],
    },
  } as KubeObject;
}

/**
 * `failoverTo`: the frontend and the TrafficSplit, whose backup is `podinfo-<failoverTo>` (east's,
 * failing over to west). `direct`: also `podinfo-direct`, labelled
 * `mirror.linkerd.io/exported=remote-discovery`, as the kind lab's west overlay has it. The local
 * lab's "pods" share one host's loopback, a flat network; the kind lab routes each cluster's pod
 * CIDR to the other.
 */
export function demoObjects(
  serviceLabels: Record<string, string>,
  failoverTo: string | undefined,
  direct = false,
): KubeObject[] {
  const objects: KubeObject[] = [
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: LAB_NAMESPACE } },
    deployment('podinfo', 'ghcr.io/stefanprodan/podinfo:6.7.1', PODINFO_PORT),
    podinfoService('podinfo', { [FEDERATED_LABEL]: FEDERATED_MEMBER, ...serviceLabels }),
  ];
  if (direct) objects.push(podinfoService(DIRECT_SERVICE, { [EXPORTED_LABEL]: REMOTE_DISCOVERY_EXPORT }));
  if (failoverTo !== undefined) {
    objects.push(deployment('frontend', 'curlimages/curl:8.10.1', FRONTEND_PORT), {
      apiVersion: 'split.smi-spec.io/v1alpha2',
      kind: 'TrafficSplit',
      metadata: {
        name: 'podinfo',
        namespace: LAB_NAMESPACE,
        labels: { [FAILOVER_CONTROLLED_BY_LABEL]: FAILOVER_CONTROLLED_BY_DEFAULT },
        annotations: { [FAILOVER_PRIMARY_ANNOTATION]: 'podinfo', [FAILOVER_RESTORE_AFTER_ANNOTATION]: '5s' },
      },
      spec: {
        service: 'podinfo',
        backends: [
          // What the failover controller writes (ACTIVE_WEIGHT), so the split starts in step with it.
          { service: 'podinfo', weight: 1 },
          { service: `podinfo-${failoverTo}`, weight: 0 },
        ],
      },
    } as KubeObject);
  }
  return objects;
}

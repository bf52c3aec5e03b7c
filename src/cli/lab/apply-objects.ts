/**
 * Create-or-replace for rendered manifests, the way `kubectl apply` would for a first install,
 * without needing kubectl on the machine: the lab applies `isthmus install`'s own output.
 */
import { IsthmusError } from '../../errors.js';
import type { KubeClient } from '../../kube/client.js';
import { R, type ResourceRef } from '../../kube/resources.js';
import type { KubeObject } from '../../kube/types.js';

const BY_KIND: Record<string, ResourceRef> = {
  Namespace: R.namespaces,
  Service: R.services,
  Secret: R.secrets,
  ConfigMap: R.configMaps,
  ServiceAccount: R.serviceAccounts,
  EndpointSlice: R.endpointSlices,
  CustomResourceDefinition: R.crds,
  Link: R.links,
  TrafficSplit: R.trafficSplitsV1alpha2,
  Deployment: R.deployments,
  PodDisruptionBudget: R.podDisruptionBudgets,
  Role: R.roles,
  RoleBinding: R.roleBindings,
  ClusterRole: R.clusterRoles,
  ClusterRoleBinding: R.clusterRoleBindings,
  NetworkPolicy: R.networkPolicies,
};

export function resourceOf(obj: KubeObject): ResourceRef {
  const res = obj.kind ? BY_KIND[obj.kind] : undefined;
  if (!res) throw new IsthmusError('USAGE', `the lab cannot apply objects of kind ${obj.kind ?? '(none)'}`);
  return res;
}

/** Creates each object, or replaces it (keeping its resourceVersion) when it exists already. */
export async function applyObjects(client: KubeClient, objects: readonly KubeObject[]): Promise<void> {
  for (const obj of objects) {
    const res = resourceOf(obj);
    const existing = await client.get(res, obj.metadata?.namespace, obj.metadata?.name ?? '');
    if (!existing) await client.create(res, obj);
    else if (obj.kind !== 'CustomResourceDefinition') {
      await client.replace(res, {
        ...obj,
        metadata: { ...obj.metadata, resourceVersion: existing.metadata?.resourceVersion },
      });
    }
  }
}

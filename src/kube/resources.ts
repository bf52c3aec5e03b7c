/**
 * Descriptors of the API resources Isthmus reads and writes, and the REST paths for them
 * (Kubernetes API concepts, "Resource URIs": /api/v1/... for the core group,
 * /apis/<group>/<version>/... for the rest). A descriptor is all the client needs: no discovery
 * round trip per call, unlike client-node's KubernetesObjectApi.
 */
import { LINK_GROUP, LINK_PLURAL, LINK_VERSION, SPLIT_GROUP, SPLIT_PLURAL } from './types.js';

export interface ResourceRef {
  /** '' for the core group. */
  group: string;
  version: string;
  plural: string;
  kind: string;
  namespaced: boolean;
}

function ref(group: string, version: string, plural: string, kind: string, namespaced = true): ResourceRef {
  return Object.freeze({ group, version, plural, kind, namespaced });
}

export const R = {
  services: ref('', 'v1', 'services', 'Service'),
  endpoints: ref('', 'v1', 'endpoints', 'Endpoints'),
  secrets: ref('', 'v1', 'secrets', 'Secret'),
  namespaces: ref('', 'v1', 'namespaces', 'Namespace', false),
  events: ref('', 'v1', 'events', 'Event'),
  pods: ref('', 'v1', 'pods', 'Pod'),
  deployments: ref('apps', 'v1', 'deployments', 'Deployment'),
  configMaps: ref('', 'v1', 'configmaps', 'ConfigMap'),
  serviceAccounts: ref('', 'v1', 'serviceaccounts', 'ServiceAccount'),
  endpointSlices: ref('discovery.k8s.io', 'v1', 'endpointslices', 'EndpointSlice'),
  leases: ref('coordination.k8s.io', 'v1', 'leases', 'Lease'),
  podDisruptionBudgets: ref('policy', 'v1', 'poddisruptionbudgets', 'PodDisruptionBudget'),
  networkPolicies: ref('networking.k8s.io', 'v1', 'networkpolicies', 'NetworkPolicy'),
  validatingAdmissionPolicies: ref(
    'admissionregistration.k8s.io',
    'v1',
    'validatingadmissionpolicies',
    'ValidatingAdmissionPolicy',
    false,
  ),
  validatingAdmissionPolicyBindings: ref(
    'admissionregistration.k8s.io',
    'v1',
    'validatingadmissionpolicybindings',
    'ValidatingAdmissionPolicyBinding',
    false,
  ),
  roles: ref('rbac.authorization.k8s.io', 'v1', 'roles', 'Role'),
  roleBindings: ref('rbac.authorization.k8s.io', 'v1', 'rolebindings', 'RoleBinding'),
  clusterRoles: ref('rbac.authorization.k8s.io', 'v1', 'clusterroles', 'ClusterRole', false),
  clusterRoleBindings: ref(
    'rbac.authorization.k8s.io',
    'v1',
    'clusterrolebindings',
    'ClusterRoleBinding',
    false,
  ),
  links: ref(LINK_GROUP, LINK_VERSION, LINK_PLURAL, 'Link'),
  trafficSplitsV1alpha2: ref(SPLIT_GROUP, 'v1alpha2', SPLIT_PLURAL, 'TrafficSplit'),
  trafficSplitsV1alpha1: ref(SPLIT_GROUP, 'v1alpha1', SPLIT_PLURAL, 'TrafficSplit'),
  crds: ref('apiextensions.k8s.io', 'v1', 'customresourcedefinitions', 'CustomResourceDefinition', false),
  tokenReviews: ref('authentication.k8s.io', 'v1', 'tokenreviews', 'TokenReview', false),
  subjectAccessReviews: ref(
    'authorization.k8s.io',
    'v1',
    'subjectaccessreviews',
    'SubjectAccessReview',
    false,
  ),
  selfSubjectAccessReviews: ref(
    'authorization.k8s.io',
    'v1',
    'selfsubjectaccessreviews',
    'SelfSubjectAccessReview',
    false,
  ),
} as const satisfies Record<string, ResourceRef>;

/** The kinds Isthmus renders or applies, by kind: what `isthmus install`, `upgrade` and the lab write. */
const BY_KIND: Readonly<Record<string, ResourceRef>> = {
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
  ValidatingAdmissionPolicy: R.validatingAdmissionPolicies,
  ValidatingAdmissionPolicyBinding: R.validatingAdmissionPolicyBindings,
};

/** The resource of a kind Isthmus writes, or undefined for any other. */
export function resourceOfKind(kind: string): ResourceRef | undefined {
  return Object.hasOwn(BY_KIND, kind) ? BY_KIND[kind] : undefined;
}

/** `apiVersion` as written in objects of this resource: `v1` or `<group>/<version>`. */
export function apiVersionOf(res: ResourceRef): string {
  return res.group === '' ? res.version : `${res.group}/${res.version}`;
}

/** A short human name for messages: `services`, `links.multicluster.isthmus.dev`. */
export function resourceName(res: ResourceRef): string {
  return res.group === '' ? res.plural : `${res.plural}.${res.group}`;
}

/**
 * The collection path (no name) or the object path (with name). A namespaced resource without a
 * namespace gives the all-namespaces collection, which is what list/watch across namespaces use.
 */
export function resourcePath(res: ResourceRef, namespace?: string, name?: string): string {
  const base = res.group === '' ? `/api/${res.version}` : `/apis/${res.group}/${res.version}`;
  const ns = res.namespaced && namespace ? `/namespaces/${encodeURIComponent(namespace)}` : '';
  const obj = name === undefined ? '' : `/${encodeURIComponent(name)}`;
  return `${base}${ns}/${res.plural}${obj}`;
}

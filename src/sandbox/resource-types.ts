/**
 * What the sandbox knows about each resource it serves: names, scope, verbs and the registry
 * strategy flags kube-apiserver attaches to it (`pkg/registry/<group>/<resource>/strategy.go`).
 * Built-ins are declared here; CRDs become ResourceTypes in crds.ts.
 */
import type { GroupResource } from './api-status.js';

export type Verb = 'get' | 'list' | 'watch' | 'create' | 'update' | 'patch' | 'delete' | 'deletecollection';

export const ALL_VERBS: readonly Verb[] = [
  'create',
  'delete',
  'deletecollection',
  'get',
  'list',
  'patch',
  'update',
  'watch',
];

export interface PrinterColumn {
  name: string;
  type: string;
  jsonPath: string;
  description?: string;
  priority?: number;
  format?: string;
}

export interface CrdVersionInfo {
  name: string;
  served: boolean;
  storage: boolean;
  schema: unknown;
  status: boolean;
  printerColumns: PrinterColumn[];
}

export interface ResourceType {
  group: string;
  /** Served versions, storage version first for built-ins. */
  versions: string[];
  storageVersion: string;
  plural: string;
  singular: string;
  kind: string;
  namespaced: boolean;
  shortNames: string[];
  categories: string[];
  verbs: readonly Verb[];
  hasStatus: boolean;
  /** metadata.generation is maintained (bumped on every non-metadata, non-status change). */
  tracksGeneration: boolean;
  /** PUT without metadata.resourceVersion is accepted (rest.RESTUpdateStrategy.AllowUnconditionalUpdate). */
  allowUnconditionalUpdate: boolean;
  /** PUT of a missing object creates it (AllowCreateOnUpdate). */
  allowCreateOnUpdate: boolean;
  /** DELETE answers with the object rather than a Success Status (ReturnDeletedObject). */
  returnDeletedObject: boolean;
  /** Field selector labels beyond metadata.name/metadata.namespace (the kind's GetAttrs). */
  extraFields: readonly string[];
  /** Kinds whose objects carry no spec/status split (ConfigMap, Secret, ...) get no generation. */
  crd?: { name: string; versions: CrdVersionInfo[] };
}

export function groupResource(rt: ResourceType): GroupResource {
  return { group: rt.group, resource: rt.plural };
}

/** `v1` or `apps/v1`. */
export function apiVersionOf(group: string, version: string): string {
  return group ? `${group}/${version}` : version;
}

/** The gvk string the pure validation/patch modules take: `v1/Service`, `apps/v1/Deployment`. */
export function gvkOf(rt: ResourceType, version = rt.storageVersion): string {
  return `${apiVersionOf(rt.group, version)}/${rt.kind}`;
}

export function resourceKey(group: string, plural: string): string {
  return `${group}/${plural}`;
}

interface BuiltinSpec {
  group?: string;
  version?: string;
  plural: string;
  kind: string;
  namespaced?: boolean;
  shortNames?: string[];
  categories?: string[];
  verbs?: readonly Verb[];
  hasStatus?: boolean;
  tracksGeneration?: boolean;
  allowUnconditionalUpdate?: boolean;
  allowCreateOnUpdate?: boolean;
  returnDeletedObject?: boolean;
  extraFields?: readonly string[];
}

function builtin(s: BuiltinSpec): ResourceType {
  const version = s.version ?? 'v1';
  return {
    group: s.group ?? '',
    versions: [version],
    storageVersion: version,
    plural: s.plural,
    singular: s.kind.toLowerCase(),
    kind: s.kind,
    namespaced: s.namespaced ?? true,
    shortNames: s.shortNames ?? [],
    categories: s.categories ?? [],
    verbs: s.verbs ?? ALL_VERBS,
    hasStatus: s.hasStatus ?? false,
    tracksGeneration: s.tracksGeneration ?? false,
    allowUnconditionalUpdate: s.allowUnconditionalUpdate ?? true,
    allowCreateOnUpdate: s.allowCreateOnUpdate ?? false,
    returnDeletedObject: s.returnDeletedObject ?? false,
    extraFields: s.extraFields ?? [],
  };
}

const RBAC = 'rbac.authorization.k8s.io';

/** The built-in slice of the API Isthmus uses; field labels from each kind's `GetAttrs`/`AddFieldLabelConversionFunc`. */
export const BUILTIN_TYPES: readonly ResourceType[] = [
  builtin({
    plural: 'namespaces',
    kind: 'Namespace',
    namespaced: false,
    shortNames: ['ns'],
    verbs: ['create', 'delete', 'get', 'list', 'patch', 'update', 'watch'],
    hasStatus: true,
    returnDeletedObject: true,
    extraFields: ['status.phase'],
  }),
  builtin({
    plural: 'services',
    kind: 'Service',
    shortNames: ['svc'],
    categories: ['all'],
    hasStatus: true,
    returnDeletedObject: true,
    allowCreateOnUpdate: true,
  }),
  builtin({ plural: 'endpoints', kind: 'Endpoints', shortNames: ['ep'], allowCreateOnUpdate: true }),
  builtin({ plural: 'secrets', kind: 'Secret', extraFields: ['type'] }),
  builtin({ plural: 'configmaps', kind: 'ConfigMap', shortNames: ['cm'] }),
  builtin({
    plural: 'pods',
    kind: 'Pod',
    shortNames: ['po'],
    categories: ['all'],
    hasStatus: true,
    returnDeletedObject: true,
    extraFields: [
      'spec.nodeName',
      'spec.restartPolicy',
      'spec.schedulerName',
      'spec.serviceAccountName',
      'spec.hostNetwork',
      'status.phase',
      'status.podIP',
      'status.nominatedNodeName',
    ],
  }),
  builtin({ plural: 'serviceaccounts', kind: 'ServiceAccount', shortNames: ['sa'] }),
  builtin({
    plural: 'events',
    kind: 'Event',
    shortNames: ['ev'],
    allowCreateOnUpdate: true,
    extraFields: [
      'involvedObject.kind',
      'involvedObject.namespace',
      'involvedObject.name',
      'involvedObject.uid',
      'involvedObject.apiVersion',
      'involvedObject.resourceVersion',
      'involvedObject.fieldPath',
      'reason',
      'reportingComponent',
      'source',
      'type',
    ],
  }),
  // EndpointSlice storage has no AttrFunc and discovery/v1 no field label conversion: only the
  // metadata fields select (a fieldSelector on addressType is a 400 "field label not supported").
  builtin({ group: 'discovery.k8s.io', plural: 'endpointslices', kind: 'EndpointSlice' }),
  // leaseStrategy.AllowUnconditionalUpdate is false: a PUT must carry a resourceVersion.
  builtin({
    group: 'coordination.k8s.io',
    plural: 'leases',
    kind: 'Lease',
    allowCreateOnUpdate: true,
    allowUnconditionalUpdate: false,
  }),
  builtin({
    group: 'apps',
    plural: 'deployments',
    kind: 'Deployment',
    shortNames: ['deploy'],
    categories: ['all'],
    hasStatus: true,
    tracksGeneration: true,
  }),
  builtin({
    group: 'policy',
    plural: 'poddisruptionbudgets',
    kind: 'PodDisruptionBudget',
    shortNames: ['pdb'],
    hasStatus: true,
    tracksGeneration: true,
  }),
  builtin({
    group: 'networking.k8s.io',
    plural: 'networkpolicies',
    kind: 'NetworkPolicy',
    shortNames: ['netpol'],
    tracksGeneration: true,
  }),
  builtin({ group: RBAC, plural: 'roles', kind: 'Role', allowCreateOnUpdate: true }),
  builtin({ group: RBAC, plural: 'rolebindings', kind: 'RoleBinding', allowCreateOnUpdate: true }),
  builtin({
    group: RBAC,
    plural: 'clusterroles',
    kind: 'ClusterRole',
    namespaced: false,
    allowCreateOnUpdate: true,
  }),
  builtin({
    group: RBAC,
    plural: 'clusterrolebindings',
    kind: 'ClusterRoleBinding',
    namespaced: false,
    allowCreateOnUpdate: true,
  }),
  builtin({
    group: 'admissionregistration.k8s.io',
    plural: 'validatingadmissionpolicies',
    kind: 'ValidatingAdmissionPolicy',
    namespaced: false,
    categories: ['api-extensions'],
    hasStatus: true,
    tracksGeneration: true,
  }),
  builtin({
    group: 'admissionregistration.k8s.io',
    plural: 'validatingadmissionpolicybindings',
    kind: 'ValidatingAdmissionPolicyBinding',
    namespaced: false,
    categories: ['api-extensions'],
    tracksGeneration: true,
  }),
  builtin({
    group: 'authentication.k8s.io',
    plural: 'tokenreviews',
    kind: 'TokenReview',
    namespaced: false,
    verbs: ['create'],
  }),
  builtin({
    group: 'authorization.k8s.io',
    plural: 'selfsubjectaccessreviews',
    kind: 'SelfSubjectAccessReview',
    namespaced: false,
    verbs: ['create'],
  }),
  builtin({
    group: 'authorization.k8s.io',
    plural: 'subjectaccessreviews',
    kind: 'SubjectAccessReview',
    namespaced: false,
    verbs: ['create'],
  }),
  builtin({
    group: 'apiextensions.k8s.io',
    plural: 'customresourcedefinitions',
    kind: 'CustomResourceDefinition',
    namespaced: false,
    shortNames: ['crd', 'crds'],
    categories: ['api-extensions'],
    hasStatus: true,
    tracksGeneration: true,
    returnDeletedObject: true,
    // apiextensions' CRD strategy: AllowUnconditionalUpdate false.
    allowUnconditionalUpdate: false,
  }),
];

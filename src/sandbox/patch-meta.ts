/**
 * Strategic-merge metadata of the built-in kinds: the `patchStrategy` / `patchMergeKey` struct tags
 * of k8s.io/api (`core/v1/types.go`, `apps/v1/types.go`, `meta/v1/types.go`). A field absent here
 * has no strategy: maps merge key by key, lists are replaced whole (EndpointSlice endpoints and
 * ports, Endpoints subsets, RBAC rules and subjects, Namespace finalizers, tolerations, ...).
 */
export interface PatchMeta {
  /** Fields of the object at this level. */
  fields?: Record<string, PatchMeta>;
  /** `patchStrategy:"merge"` on a list: merge rather than replace. */
  mergeList?: boolean;
  /** `patchMergeKey`: how items of a merge list of objects are matched; absent for lists of scalars. */
  mergeKey?: string;
  /** Meta of each list item. */
  items?: PatchMeta;
}

const mergeBy = (mergeKey: string, items?: PatchMeta): PatchMeta => ({ mergeList: true, mergeKey, items });
/** Lists of scalars with patchStrategy merge (set-like). */
const mergeScalars: PatchMeta = { mergeList: true };
const conditions = mergeBy('type');

const objectMeta: PatchMeta = {
  fields: {
    finalizers: mergeScalars,
    ownerReferences: mergeBy('uid'),
  },
};

const container: PatchMeta = {
  fields: {
    ports: mergeBy('containerPort'),
    env: mergeBy('name'),
    volumeMounts: mergeBy('mountPath'),
    volumeDevices: mergeBy('devicePath'),
  },
};

const podSpec: PatchMeta = {
  fields: {
    containers: mergeBy('name', container),
    initContainers: mergeBy('name', container),
    ephemeralContainers: mergeBy('name', container),
    // patchStrategy "merge,retainKeys": items are matched by name and honour $retainKeys.
    volumes: mergeBy('name'),
    imagePullSecrets: mergeBy('name'),
    hostAliases: mergeBy('ip'),
    topologySpreadConstraints: mergeBy('topologyKey'),
    resourceClaims: mergeBy('name'),
    schedulingGates: mergeBy('name'),
  },
};

const podTemplate: PatchMeta = { fields: { metadata: objectMeta, spec: podSpec } };

const podStatus: PatchMeta = {
  fields: { conditions, podIPs: mergeBy('ip'), hostIPs: mergeBy('ip') },
};

function kind(spec?: PatchMeta, status?: PatchMeta, extra: Record<string, PatchMeta> = {}): PatchMeta {
  const fields: Record<string, PatchMeta> = { metadata: objectMeta, ...extra };
  if (spec) fields.spec = spec;
  if (status) fields.status = status;
  return { fields };
}

const workloadStatus: PatchMeta = { fields: { conditions } };
const workload = (extra: Record<string, PatchMeta> = {}): PatchMeta =>
  kind({ fields: { template: podTemplate, ...extra } }, workloadStatus);

/** Keyed by `apiVersion/Kind`. Kinds listed here accept strategic merge patch; others get a 415. */
export const STRATEGIC_PATCH_META: Readonly<Record<string, PatchMeta>> = {
  // ServiceSpec.Ports carries patchMergeKey:"port"; port+protocol is only its SSA list-map key, so a
  // strategic patch cannot tell 53/TCP from 53/UDP — kube's long-standing behaviour, kept.
  'v1/Service': kind({ fields: { ports: mergeBy('port') } }, { fields: { conditions } }),
  'v1/Pod': kind(podSpec, podStatus),
  'v1/PodTemplate': kind(undefined, undefined, { template: podTemplate }),
  'v1/ReplicationController': workload(),
  'v1/Endpoints': kind(),
  'v1/ConfigMap': kind(),
  'v1/Secret': kind(),
  'v1/Namespace': kind(undefined, { fields: { conditions } }),
  'v1/ServiceAccount': kind(undefined, undefined, { secrets: mergeBy('name') }),
  'v1/Event': kind(),
  'v1/Node': kind(
    { fields: { podCIDRs: mergeScalars } },
    { fields: { conditions, addresses: mergeBy('type') } },
  ),
  'v1/PersistentVolumeClaim': kind(undefined, { fields: { conditions } }),
  'v1/PersistentVolume': kind(),
  'v1/LimitRange': kind(),
  'v1/ResourceQuota': kind(),
  'apps/v1/Deployment': workload(),
  'apps/v1/ReplicaSet': workload(),
  'apps/v1/StatefulSet': workload(),
  'apps/v1/DaemonSet': workload(),
  'batch/v1/Job': workload(),
  'discovery.k8s.io/v1/EndpointSlice': kind(),
  'coordination.k8s.io/v1/Lease': kind(),
  'events.k8s.io/v1/Event': kind(),
  'rbac.authorization.k8s.io/v1/Role': kind(),
  'rbac.authorization.k8s.io/v1/ClusterRole': kind(),
  'rbac.authorization.k8s.io/v1/RoleBinding': kind(),
  'rbac.authorization.k8s.io/v1/ClusterRoleBinding': kind(),
  'networking.k8s.io/v1/NetworkPolicy': kind(),
  'networking.k8s.io/v1/Ingress': kind(),
  'policy/v1/PodDisruptionBudget': kind(undefined, { fields: { conditions } }),
  'apiextensions.k8s.io/v1/CustomResourceDefinition': kind(),
  'admissionregistration.k8s.io/v1/ValidatingWebhookConfiguration': kind(),
  'admissionregistration.k8s.io/v1/ValidatingAdmissionPolicy': kind(),
  'admissionregistration.k8s.io/v1/ValidatingAdmissionPolicyBinding': kind(),
  'admissionregistration.k8s.io/v1/MutatingWebhookConfiguration': kind(),
  'apiregistration.k8s.io/v1/APIService': kind(),
};

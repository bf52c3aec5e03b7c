/**
 * Least-privilege RBAC for each process, plus the read-only identity that other clusters use to
 * watch this one (`isthmus-remote-access`: its token goes into their Link credentials Secret).
 */
import { credentialsRoleName, REMOTE_ACCESS_SERVICE_ACCOUNT } from '../../kube/keys.js';
import { type InstallOptions, LINK_LABEL, PART_OF } from './options.js';

export type Rule = { apiGroups: string[]; resources: string[]; verbs: string[]; resourceNames?: string[] };

const READ = ['get', 'list', 'watch'];
const WRITE = ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete'];

/** Remote clusters see exported Services, their EndpointSlices and our gateway Service: nothing else. */
export const REMOTE_ACCESS_RULES: Rule[] = [
  { apiGroups: [''], resources: ['services', 'namespaces'], verbs: READ },
  { apiGroups: ['discovery.k8s.io'], resources: ['endpointslices'], verbs: READ },
];

const CONTROLLER_RULES: Rule[] = [
  // Mirrors: Services and EndpointSlices written in the namespaces of the exported services.
  { apiGroups: [''], resources: ['services'], verbs: WRITE },
  { apiGroups: ['discovery.k8s.io'], resources: ['endpointslices'], verbs: WRITE },
  // Mirror slices are owned by their Service with blockOwnerDeletion, which the
  // OwnerReferencesPermissionEnforcement admission plugin (OpenShift, hardened clusters) allows only
  // to who may update the owner's finalizers, as kube-controller-manager's endpointslice-controller may.
  { apiGroups: [''], resources: ['services/finalizers'], verbs: ['update'] },
  { apiGroups: [''], resources: ['namespaces'], verbs: READ },
  // EventRecorder (src/kube/events.ts) creates core/v1 Events and patches their counts: no
  // events.k8s.io, no update.
  { apiGroups: [''], resources: ['events'], verbs: ['create', 'patch'] },
  {
    apiGroups: ['split.smi-spec.io'],
    resources: ['trafficsplits'],
    verbs: ['get', 'list', 'watch', 'update', 'patch'],
  },
  { apiGroups: ['split.smi-spec.io'], resources: ['trafficsplits/status'], verbs: ['update', 'patch'] },
];

/**
 * Namespaced to isthmus-system: its Links and the leader-election Lease. No Secrets: the namespace holds the
 * identity issuer's key, so each Link's credentials Secret is granted by name with the Link
 * (`linkCredentialsAccess`), as Linkerd grants its service mirror per Link.
 */
const CONTROLLER_SYSTEM_RULES: Rule[] = [
  // Links: the controller watches those of its own namespace only, as the gateway does, and
  // patches its finalizer and their status (never a PUT).
  { apiGroups: ['multicluster.isthmus.dev'], resources: ['links'], verbs: ['get', 'list', 'watch', 'patch'] },
  // No links/finalizers: the Link finalizer is metadata, patched through `links`; that subresource
  // only matters for an ownerReference with blockOwnerDeletion pointing at a Link, and none does.
  { apiGroups: ['multicluster.isthmus.dev'], resources: ['links/status'], verbs: ['patch'] },
  // The leader elector gets, creates and replaces its one Lease by name: it lists and watches none.
  { apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['get', 'create', 'update'] },
];

/** Exported Services and their slices may live in any namespace; mirrors too. */
const GATEWAY_RULES: Rule[] = [
  { apiGroups: [''], resources: ['services'], verbs: READ },
  { apiGroups: ['discovery.k8s.io'], resources: ['endpointslices'], verbs: READ },
];

/**
 * With `--gateway-dial-pod-ips-only`, in the gateway's own ClusterRole: its Pod informer tells a
 * pod's IP from whatever else a slice lists. A rule of that role rather than a role of its own, so
 * an upgrade that turns the mode off takes the grant away with the `kubectl apply` itself.
 */
const GATEWAY_POD_RULE: Rule = { apiGroups: [''], resources: ['pods'], verbs: READ };

/** Namespaced to isthmus-system: the Links that say which peers are admitted (the gateway watches no others). */
const GATEWAY_SYSTEM_RULES: Rule[] = [
  { apiGroups: ['multicluster.isthmus.dev'], resources: ['links'], verbs: READ },
];

const IDENTITY_RULES: Rule[] = [
  { apiGroups: ['authentication.k8s.io'], resources: ['tokenreviews'], verbs: ['create'] },
];

function serviceAccount(name: string, namespace: string) {
  return { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name, namespace, labels: { ...PART_OF } } };
}

function clusterRoleWithBinding(name: string, rules: Rule[], sa: string, namespace: string) {
  return [
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRole',
      metadata: { name, labels: { ...PART_OF } },
      rules,
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: { name, labels: { ...PART_OF } },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name },
      subjects: [{ kind: 'ServiceAccount', name: sa, namespace }],
    },
  ];
}

function roleWithBinding(name: string, rules: Rule[], sa: string, namespace: string) {
  return [
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'Role',
      metadata: { name, namespace, labels: { ...PART_OF } },
      rules,
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBinding',
      metadata: { name, namespace, labels: { ...PART_OF } },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name },
      subjects: [{ kind: 'ServiceAccount', name: sa, namespace }],
    },
  ];
}

/**
 * Who is granted what: a ClusterRole (cluster-wide) or a Role in the install namespace, each named
 * and bound after its service account. `isthmus check` asks the API server about each of these
 * rules (SubjectAccessReview), so an edited role shows up as a failed check.
 */
export interface Grant {
  serviceAccount: string;
  scope: 'cluster' | 'namespace';
  rules: readonly Rule[];
  /** The Role's name, when it is not the service account's own (an opt-in grant beside it). */
  role?: string;
}

export const GRANTS: readonly Grant[] = [
  { serviceAccount: 'isthmus-identity', scope: 'cluster', rules: IDENTITY_RULES },
  { serviceAccount: 'isthmus-gateway', scope: 'cluster', rules: GATEWAY_RULES },
  { serviceAccount: 'isthmus-gateway', scope: 'namespace', rules: GATEWAY_SYSTEM_RULES },
  { serviceAccount: 'isthmus-controller', scope: 'cluster', rules: CONTROLLER_RULES },
  { serviceAccount: 'isthmus-controller', scope: 'namespace', rules: CONTROLLER_SYSTEM_RULES },
  { serviceAccount: REMOTE_ACCESS_SERVICE_ACCOUNT, scope: 'cluster', rules: REMOTE_ACCESS_RULES },
];

/**
 * Opt-in (`isthmus install --enable-namespace-creation`), as Linkerd grants it only with
 * enableNamespaceCreation: Links with `enableNamespaceCreation` create a mirror's missing namespace.
 * Cluster-wide namespace creation is more than most controllers should hold, so it is not a default.
 */
export const NAMESPACE_CREATION_GRANT: Grant = {
  serviceAccount: 'isthmus-controller',
  scope: 'cluster',
  role: 'isthmus-controller-namespace-creation',
  rules: [{ apiGroups: [''], resources: ['namespaces'], verbs: ['create'] }],
};

/** The accounts of the processes `--no-gateway` does not install. */
const GATEWAY_ACCOUNTS: ReadonlySet<string> = new Set(['isthmus-identity', 'isthmus-gateway']);

type GrantOptions = Pick<InstallOptions, 'enableNamespaceCreation' | 'gateway'> &
  Partial<Pick<InstallOptions, 'gatewayDialPodIPsOnly'>>;

/**
 * What one install grants: the fixed table, minus the gateway's and identity's without a gateway,
 * plus the opt-in grants its options ask for.
 */
export function installGrants(opts: GrantOptions): Grant[] {
  const fixed = opts.gateway ? GRANTS : GRANTS.filter((g) => !GATEWAY_ACCOUNTS.has(g.serviceAccount));
  const grants = fixed.map((g) =>
    opts.gatewayDialPodIPsOnly && g.rules === GATEWAY_RULES
      ? { ...g, rules: [...g.rules, GATEWAY_POD_RULE] }
      : g,
  );
  return opts.enableNamespaceCreation ? [...grants, NAMESPACE_CREATION_GRANT] : grants;
}

export function rbacManifests(opts: GrantOptions & Pick<InstallOptions, 'namespace'>): object[] {
  const ns = opts.namespace;
  const accounts = new Set<string>();
  const objects: object[] = [];
  for (const g of installGrants(opts)) {
    if (!accounts.has(g.serviceAccount)) objects.push(serviceAccount(g.serviceAccount, ns));
    accounts.add(g.serviceAccount);
    const withBinding = g.scope === 'cluster' ? clusterRoleWithBinding : roleWithBinding;
    objects.push(...withBinding(g.role ?? g.serviceAccount, [...g.rules], g.serviceAccount, ns));
  }
  return [
    ...objects,
    {
      // The token controller fills in data.token; `isthmus link` reads it from here.
      apiVersion: 'v1',
      kind: 'Secret',
      type: 'kubernetes.io/service-account-token',
      metadata: {
        name: `${REMOTE_ACCESS_SERVICE_ACCOUNT}-token`,
        namespace: ns,
        labels: { ...PART_OF },
        annotations: { 'kubernetes.io/service-account.name': REMOTE_ACCESS_SERVICE_ACCOUNT },
      },
    },
  ];
}

/**
 * Read access to one Link's credentials Secret, by name: the controller gets and watches it (the
 * watch pins the name with a field selector, which resourceNames grant), and nothing else there.
 */
export function linkCredentialsAccess(cluster: string, secret: string, namespace: string): object[] {
  const rules: Rule[] = [{ apiGroups: [''], resources: ['secrets'], verbs: READ, resourceNames: [secret] }];
  return roleWithBinding(credentialsRoleName(cluster), rules, 'isthmus-controller', namespace).map((o) => {
    const { metadata } = o as { metadata: { labels?: Record<string, string> } };
    return { ...o, metadata: { ...metadata, labels: { ...metadata.labels, [LINK_LABEL]: cluster } } };
  });
}

/**
 * `isthmus check --pre`: can this cluster take `isthmus install`, before anything is applied (as
 * `linkerd check --pre` does)? Facts are gathered once, each failed read becoming data; the checks
 * are pure functions of them.
 * - the API server's version (the install needs discovery.k8s.io/v1, policy/v1 and the
 *   PodDisruptionBudget's unhealthyPodEvictionPolicy, and is tested against what 1.27+ serves);
 * - whether the caller may create every kind the install applies (SelfSubjectAccessReview);
 * - whether it may grant what the install's roles grant: an API server refuses a (Cluster)Role
 *   granting what its writer does not hold unless it may `escalate`, and a binding to such a role
 *   unless it may `bind` that role (RBAC escalation prevention);
 * - whether the CRDs it installs are already there from another tool (Linkerd's SMI extension
 *   installs a TrafficSplit CRD), and whether `isthmus-system` exists already.
 */
import { describeError } from '../../errors.js';
import type { KubeClient } from '../../kube/client.js';
import { SYSTEM_NAMESPACE } from '../../kube/keys.js';
import { R } from '../../kube/resources.js';
import type { KubeObject } from '../../kube/types.js';
import { PART_OF, TRAFFIC_SPLIT_CRD } from '../install/options.js';
import { installGrants } from '../install/rbac.js';
import { resourceOf } from '../lab/apply-objects.js';
import { REQUIRED_CRDS } from './checks/crds.js';
import { resultOf } from './checks/result.js';
import { deniedToSelf, describePermission, permissionsOf } from './permissions.js';
import type { CheckResult, Fetched, Permission } from './types.js';

/** Every kind `isthmus install` renders (a test keeps this in step with the rendered manifests). */
export const INSTALL_KINDS = [
  'CustomResourceDefinition',
  'Namespace',
  'ServiceAccount',
  'ClusterRole',
  'ClusterRoleBinding',
  'Role',
  'RoleBinding',
  'ConfigMap',
  'Secret',
  'Service',
  'Deployment',
  'PodDisruptionBudget',
  'NetworkPolicy',
  'ValidatingAdmissionPolicy',
  'ValidatingAdmissionPolicyBinding',
] as const;

/** The install flags that render more kinds: `check --pre` takes the same ones. */
export interface OptInKinds {
  networkPolicy?: boolean;
  admissionPolicy?: boolean;
}

/** Kinds only an opt-in flag renders: `check --pre` asks about them with that flag only. */
export const OPTIONAL_INSTALL_KINDS: Readonly<Record<string, keyof OptInKinds>> = {
  NetworkPolicy: 'networkPolicy',
  ValidatingAdmissionPolicy: 'admissionPolicy',
  ValidatingAdmissionPolicyBinding: 'admissionPolicy',
};

/**
 * The install's PodDisruptionBudgets set `unhealthyPodEvictionPolicy` (KEP-3017): unknown to 1.25,
 * where kubectl's strict field validation refuses the apply, and alpha and off in 1.26, where the
 * API server drops it and a GitOps tool sees the object out of sync forever. Beta and on from 1.27.
 */
export const MIN_MINOR = 27;

/** The install's grant options `check --pre` asks about (default: the default install's). */
export interface PreGrantOptions {
  gateway?: boolean;
  enableNamespaceCreation?: boolean;
  gatewayDialPodIPsOnly?: boolean;
}

/** One role the install creates and binds, and what the caller may do about it. */
export interface RoleGrant {
  kind: 'ClusterRole' | 'Role';
  name: string;
  /** `escalate` on the kind (in isthmus-system for a Role): its rules need not be held. */
  escalate: boolean;
  /** `bind` on this role: its binding needs none of its rules held. */
  bind: boolean;
  /** The permissions of its rules the caller does not hold (asked only without escalate or bind). */
  notHeld: Permission[];
}

export interface PreFacts {
  /** `gitVersion` of the API server. */
  version: Fetched<string>;
  /** What the caller may not create of INSTALL_KINDS. */
  deniedCreates: Fetched<Permission[]>;
  /** The install's CRDs that exist already, and whether an Isthmus install made them. */
  crds: Fetched<{ name: string; ours: boolean }[]>;
  namespaceExists: Fetched<boolean>;
  /** Per role the install creates: whether RBAC escalation prevention lets the caller write it. */
  grants: Fetched<RoleGrant[]>;
}

async function fetched<T>(read: () => Promise<T>): Promise<Fetched<T>> {
  try {
    return { ok: true, value: await read() };
  } catch (err) {
    return { ok: false, error: describeError(err) };
  }
}

/**
 * One `create` per kind: in isthmus-system for namespaced kinds, cluster-wide for the others; the
 * opt-in kinds only when the install will render them (`check --pre --network-policy`,
 * `--admission-policy`).
 */
export function installCreates(opts: OptInKinds = {}): Permission[] {
  const wanted = (kind: string) => {
    const flag = OPTIONAL_INSTALL_KINDS[kind];
    return flag === undefined || opts[flag] === true;
  };
  return INSTALL_KINDS.filter(wanted).map((kind) => {
    const res = resourceOf({ kind } as KubeObject);
    return {
      serviceAccount: '(you)',
      verb: 'create',
      group: res.group,
      resource: res.plural,
      ...(res.namespaced ? { namespace: SYSTEM_NAMESPACE } : {}),
    };
  });
}

const RBAC_GROUP = 'rbac.authorization.k8s.io';

/** A verb on clusterroles (cluster-wide) or roles (in isthmus-system), one by name if given. */
function onRoles(verb: string, kind: RoleGrant['kind'], name?: string): Permission {
  return {
    serviceAccount: '(you)',
    verb,
    group: RBAC_GROUP,
    resource: kind === 'ClusterRole' ? 'clusterroles' : 'roles',
    ...(kind === 'Role' ? { namespace: SYSTEM_NAMESPACE } : {}),
    ...(name ? { name } : {}),
  };
}

/**
 * What kube-apiserver's RBAC escalation prevention will decide of each role of the install and its
 * binding: `escalate` asked without a name (a create has none), `bind` by the role's name in the
 * binding's scope; then, for the roles lacking either, each permission they grant.
 */
export async function gatherGrants(client: KubeClient, opts: PreGrantOptions = {}): Promise<RoleGrant[]> {
  const roles = installGrants({
    gateway: opts.gateway ?? true,
    enableNamespaceCreation: opts.enableNamespaceCreation ?? false,
    gatewayDialPodIPsOnly: opts.gatewayDialPodIPsOnly ?? false,
  }).map((g) => ({
    kind: g.scope === 'cluster' ? ('ClusterRole' as const) : ('Role' as const),
    name: g.role ?? g.serviceAccount,
    permissions: permissionsOf(g, SYSTEM_NAMESPACE).map((p) => ({ ...p, serviceAccount: '(you)' })),
  }));
  const escalate = { ClusterRole: onRoles('escalate', 'ClusterRole'), Role: onRoles('escalate', 'Role') };
  const binds = roles.map((r) => onRoles('bind', r.kind, r.name));
  const deniedVerbs = new Set(await deniedToSelf(client, [escalate.ClusterRole, escalate.Role, ...binds]));
  const decided = roles.map((r, i) => ({
    kind: r.kind,
    name: r.name,
    escalate: !deniedVerbs.has(escalate[r.kind]),
    bind: !deniedVerbs.has(binds[i]!),
  }));
  const asked = roles.flatMap((r, i) => (decided[i]!.escalate && decided[i]!.bind ? [] : r.permissions));
  const notHeld = new Set(await deniedToSelf(client, asked));
  return decided.map((d, i) => ({ ...d, notHeld: roles[i]!.permissions.filter((p) => notHeld.has(p)) }));
}

export async function gatherPreFacts(
  client: KubeClient,
  opts: OptInKinds & PreGrantOptions = {},
): Promise<PreFacts> {
  const version = fetched(async () => (await client.version()).gitVersion ?? '');
  const deniedCreates = fetched(() => deniedToSelf(client, installCreates(opts)));
  const crds = fetched(async () => {
    const found = await Promise.all(
      REQUIRED_CRDS.map((name) => client.get<KubeObject>(R.crds, undefined, name)),
    );
    return found.flatMap((crd, i) =>
      crd
        ? [
            {
              name: REQUIRED_CRDS[i]!,
              ours:
                crd.metadata?.labels?.['app.kubernetes.io/part-of'] === PART_OF['app.kubernetes.io/part-of'],
            },
          ]
        : [],
    );
  });
  const namespaceExists = fetched(
    async () => (await client.get(R.namespaces, undefined, SYSTEM_NAMESPACE)) !== undefined,
  );
  const grants = fetched(() => gatherGrants(client, opts));
  return {
    version: await version,
    deniedCreates: await deniedCreates,
    crds: await crds,
    namespaceExists: await namespaceExists,
    grants: await grants,
  };
}

function failedRead(description: string, what: string, f: Fetched<unknown>): CheckResult | undefined {
  return f.ok ? undefined : resultOf(description, [`cannot read ${what}: ${f.error}`]);
}

export function checkVersion(f: PreFacts): CheckResult {
  const what = `the Kubernetes API is v1.${MIN_MINOR} or newer`;
  const blocked = failedRead(what, '/version', f.version);
  if (blocked || !f.version.ok) return blocked!;
  const m = /^v?(\d+)\.(\d+)/.exec(f.version.value);
  if (!m) return resultOf(what, [], [`cannot tell the version from "${f.version.value}"`]);
  const [major, minor] = [Number(m[1]), Number(m[2])];
  const old = major < 1 || (major === 1 && minor < MIN_MINOR);
  return resultOf(
    what,
    old ? [`the API server is ${f.version.value}; Isthmus needs v1.${MIN_MINOR} or newer`] : [],
  );
}

export function checkCreates(f: PreFacts): CheckResult {
  const what = 'you may create what `isthmus install` applies';
  const blocked = failedRead(what, 'your permissions (SelfSubjectAccessReview)', f.deniedCreates);
  if (blocked || !f.deniedCreates.ok) return blocked!;
  const denied = f.deniedCreates.value;
  return resultOf(
    what,
    denied.length > 0
      ? [`you may not ${denied.map(describePermission).join(', ')}: install as a cluster administrator`]
      : [],
  );
}

const plural = (kind: string) => `${kind.toLowerCase()}s`;

/** Permissions as a hint reads them, the verbs on one resource together: `get, list, watch services cluster-wide`. */
function describeVerbsOn(permissions: Permission[]): string {
  const byTarget = new Map<string, string[]>();
  for (const p of permissions) {
    const target = describePermission({ ...p, verb: '' }).trimStart();
    byTarget.set(target, [...(byTarget.get(target) ?? []), p.verb]);
  }
  return [...byTarget].map(([target, verbs]) => `${verbs.join(', ')} ${target}`).join('; ');
}

/**
 * What an API server refuses of one role and its binding for RBAC escalation, or undefined when it
 * takes both. A kind the caller may not create at all is left to checkCreates.
 */
function refusal(g: RoleGrant, mayCreate: (resource: string) => boolean): string | undefined {
  const binding = `${g.kind}Binding`;
  const role = !g.escalate && mayCreate(plural(g.kind));
  const bound = !g.bind && mayCreate(plural(binding));
  if (g.notHeld.length === 0 || !(role || bound)) return undefined;
  const refused = role
    ? `${g.kind} ${g.name}${bound ? ` and its ${binding}` : ''}`
    : `${binding} ${g.name}, as you may not bind ${g.kind} ${g.name}`;
  return `the install grants ${describeVerbsOn(g.notHeld)}, which you do not hold: an API server refuses to create ${refused} (RBAC escalation)`;
}

export function checkGrants(f: PreFacts): CheckResult {
  const what = 'you may grant what `isthmus install` grants';
  const blocked = failedRead(what, 'your permissions (SelfSubjectAccessReview)', f.grants);
  if (blocked || !f.grants.ok) return blocked!;
  const deniedCreates = f.deniedCreates.ok ? f.deniedCreates.value : [];
  const mayCreate = (resource: string) =>
    !deniedCreates.some((p) => p.group === RBAC_GROUP && p.resource === resource);
  const refused = f.grants.value.filter((g) => refusal(g, mayCreate) !== undefined);
  if (refused.length === 0) return resultOf(what, []);
  const verbs = [
    ...(refused.some((g) => !g.escalate) ? ['escalate'] : []),
    ...(refused.some((g) => !g.bind) ? ['bind'] : []),
  ];
  const kinds = [...new Set(refused.map((g) => (g.kind === 'ClusterRole' ? 'clusterroles' : 'roles')))];
  return resultOf(what, [
    ...refused.map((g) => refusal(g, mayCreate)!),
    `ask for these permissions, or for the ${verbs.join(' and ')} ${verbs.length > 1 ? 'verbs' : 'verb'} on ${kinds.join(' and ')} (${RBAC_GROUP}), or install as a cluster administrator`,
  ]);
}

export function checkCrdsFree(f: PreFacts): CheckResult {
  const what = 'the Link and TrafficSplit CRDs are not owned by another tool';
  const blocked = failedRead(what, 'CustomResourceDefinitions', f.crds);
  if (blocked || !f.crds.ok) return blocked!;
  const foreign = f.crds.value.filter((c) => !c.ours);
  return resultOf(
    what,
    [],
    foreign.map((c) =>
      c.name === TRAFFIC_SPLIT_CRD
        ? `CRD ${c.name} exists and was not installed by Isthmus (Linkerd's SMI extension and linkerd-failover install it): install with --no-traffic-split-crd to leave it to its chart, or \`isthmus install\` replaces its schema`
        : `CRD ${c.name} exists and was not installed by Isthmus; \`isthmus install\` would replace its schema`,
    ),
  );
}

export function checkNamespaceFree(f: PreFacts): CheckResult {
  const what = `namespace ${SYSTEM_NAMESPACE} does not exist yet`;
  const blocked = failedRead(what, 'namespaces', f.namespaceExists);
  if (blocked || !f.namespaceExists.ok) return blocked!;
  return resultOf(
    what,
    [],
    f.namespaceExists.value
      ? [`${SYSTEM_NAMESPACE} exists: Isthmus may be installed already (\`isthmus check\` checks an install)`]
      : [],
  );
}

export const PRE_CHECKS = [
  checkVersion,
  checkCreates,
  checkGrants,
  checkCrdsFree,
  checkNamespaceFree,
] as const;

export function runPreChecks(f: PreFacts): CheckResult[] {
  return PRE_CHECKS.map((check) => check(f));
}

/**
 * RBAC evaluation (plugin/pkg/auth/authorizer/rbac): a request is allowed when some rule of a
 * Role/ClusterRole bound to the user — by a RoleBinding in the request's namespace or by a
 * ClusterRoleBinding — covers its verb, API group, resource (`x/status` for subresources,
 * `*`, or `*` on any resource with that subresource) and, when the rule names any, resourceNames;
 * a non-resource path by its verb and nonResourceURLs (exact, `*`, or a `prefix*`). Also the
 * static-token rules.
 */

import { resourceKey } from './resource-types.js';
import type { ObjectStore } from './store.js';

export interface PolicyRule {
  verbs: string[];
  resources: string[];
  apiGroups?: string[];
  namespaces?: string[];
  resourceNames?: string[];
  nonResourceURLs?: string[];
}

export interface UserInfo {
  username: string;
  uid?: string;
  groups: string[];
  /** TokenReview's `user.extra`: a pod-bound token's pod (POD_NAME_EXTRA, POD_UID_EXTRA). */
  extra?: Record<string, string[]>;
}

/** Authorizer attributes of a resource request (authorizer.AttributesRecord). */
export interface ResourceAttributes {
  verb: string;
  group: string;
  resource: string;
  subresource: string | undefined;
  namespace: string | undefined;
  name: string | undefined;
}

/**
 * A non-resource path (`/metrics`). `namespace` only when RBAC escalation prevention asks whether
 * the rules a user holds in a namespace (RoleBindings to ClusterRoles included) cover one.
 */
export interface NonResourceAttributes {
  verb: string;
  path: string;
  namespace?: string | undefined;
}

export type Attributes = ResourceAttributes | NonResourceAttributes;

const has = (list: readonly string[] | undefined, v: string) =>
  list !== undefined && (list.includes('*') || list.includes(v));

/** rbacv1helpers ResourceMatches: `*`, `resource/subresource`, and `*` + `/subresource`. */
function resourceMatches(rule: PolicyRule, a: ResourceAttributes): boolean {
  const combined = a.subresource ? `${a.resource}/${a.subresource}` : a.resource;
  return rule.resources.some(
    (r) => r === '*' || r === combined || (a.subresource !== undefined && r === `*/${a.subresource}`),
  );
}

/** rbacv1helpers NonResourceURLMatches: exact, `*`, or a prefix ending in `*`. */
function nonResourceURLMatches(rule: PolicyRule, path: string): boolean {
  return (rule.nonResourceURLs ?? []).some(
    (u) => u === '*' || u === path || (u.endsWith('*') && path.startsWith(u.replace(/\*+$/, ''))),
  );
}

export function ruleAllows(rule: PolicyRule, a: Attributes): boolean {
  if (!has(rule.verbs, a.verb)) return false;
  if ('path' in a) {
    if (rule.namespaces && !(a.namespace !== undefined && has(rule.namespaces, a.namespace))) return false;
    return nonResourceURLMatches(rule, a.path);
  }
  if (!has(rule.apiGroups ?? [], a.group)) return false;
  if (!resourceMatches(rule, a)) return false;
  if (rule.namespaces && !(a.namespace !== undefined && has(rule.namespaces, a.namespace))) return false;
  if (rule.resourceNames && rule.resourceNames.length > 0) {
    return a.name !== undefined && rule.resourceNames.includes(a.name);
  }
  return true;
}

/**
 * Static token rules: apiGroups absent means every group (they are written by tests and
 * the lab, where `resources: ['services']` should not silently exclude nothing-but-core).
 */
export function staticRuleAllows(rule: PolicyRule, a: Attributes): boolean {
  return ruleAllows({ ...rule, apiGroups: rule.apiGroups ?? ['*'] }, a);
}

interface Subject {
  kind: string;
  name: string;
  namespace?: string;
}

function subjectMatches(s: Subject, user: UserInfo, bindingNamespace: string | undefined): boolean {
  if (s.kind === 'User') return s.name === user.username;
  if (s.kind === 'Group') return user.groups.includes(s.name);
  if (s.kind === 'ServiceAccount') {
    const ns = s.namespace || bindingNamespace;
    return user.username === `system:serviceaccount:${ns}:${s.name}`;
  }
  return false;
}

interface Binding {
  metadata: { namespace?: string };
  subjects?: Subject[];
  roleRef?: { kind: string; name: string };
}

/**
 * The rules of the role a binding references (GetRoleReferenceRules), undefined when that role does
 * not exist (a Role is looked up in the binding's namespace).
 */
export function roleRefRules(
  store: ObjectStore,
  ref: { kind: string; name: string },
  namespace: string | undefined,
): PolicyRule[] | undefined {
  const role =
    ref.kind === 'ClusterRole'
      ? store.get(resourceKey('rbac.authorization.k8s.io', 'clusterroles'), undefined, ref.name)
      : store.get(resourceKey('rbac.authorization.k8s.io', 'roles'), namespace, ref.name);
  if (!role) return undefined;
  return ((role.rules as PolicyRule[] | undefined) ?? []).filter((r) => r && Array.isArray(r.verbs));
}

/**
 * The role references of the bindings that apply to `user` (VisitRulesFor): ClusterRoleBindings,
 * then, in `namespace`, RoleBindings (a Role is looked up there).
 */
function* appliedRoleRefs(
  store: ObjectStore,
  user: UserInfo,
  namespace: string | undefined,
): Generator<{ ref: { kind: string; name: string }; namespace: string | undefined }> {
  for (const b of store.list(
    resourceKey('rbac.authorization.k8s.io', 'clusterrolebindings'),
  ) as unknown as Binding[]) {
    if (b.roleRef && (b.subjects ?? []).some((s) => subjectMatches(s, user, undefined)))
      yield { ref: b.roleRef, namespace: undefined };
  }
  if (namespace === undefined) return;
  for (const b of store.list(
    resourceKey('rbac.authorization.k8s.io', 'rolebindings'),
    namespace,
  ) as unknown as Binding[]) {
    if (b.roleRef && (b.subjects ?? []).some((s) => subjectMatches(s, user, namespace)))
      yield { ref: b.roleRef, namespace };
  }
}

export function rbacAllows(store: ObjectStore, user: UserInfo, a: Attributes): boolean {
  // Cluster-wide rules apply to every namespace and to cluster-scoped requests.
  for (const { ref, namespace } of appliedRoleRefs(store, user, a.namespace)) {
    if ((roleRefRules(store, ref, namespace) ?? []).some((r) => ruleAllows(withResources(r), a))) return true;
  }
  return false;
}

/**
 * The rule resolver's errors for `user` in `namespace`: a binding that applies to it names a role
 * that does not exist (`clusterroles.rbac.authorization.k8s.io "x" not found`).
 */
export function unresolvedRoleRefs(
  store: ObjectStore,
  user: UserInfo,
  namespace: string | undefined,
): string[] {
  const errors: string[] = [];
  for (const { ref, namespace: ns } of appliedRoleRefs(store, user, namespace)) {
    if (roleRefRules(store, ref, ns) !== undefined) continue;
    const resource = ref.kind === 'ClusterRole' ? 'clusterroles' : 'roles';
    errors.push(`${resource}.rbac.authorization.k8s.io ${JSON.stringify(ref.name)} not found`);
  }
  return errors;
}

/** Stored rules may omit resources (nonResourceURLs rules): they match no resource request. */
function withResources(r: PolicyRule): PolicyRule {
  return { ...r, resources: r.resources ?? [], apiGroups: r.apiGroups ?? [] };
}

/** authorizer's denial reason as the Forbidden message (`User "x" cannot list resource ...`). */
export function forbiddenMessage(user: UserInfo, a: ResourceAttributes): string {
  const res = a.subresource ? `${a.resource}/${a.subresource}` : a.resource;
  const scope = a.namespace !== undefined ? `in the namespace "${a.namespace}"` : 'at the cluster scope';
  return `User "${user.username}" cannot ${a.verb} resource "${res}" in API group "${a.group}" ${scope}`;
}

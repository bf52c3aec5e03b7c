/**
 * RBAC escalation prevention, as kube-apiserver's policy-based RBAC storage does it
 * (pkg/registry/rbac/{role,clusterrole,rolebinding,clusterrolebinding}/policybased/storage.go,
 * pkg/registry/rbac/validation/rule.go ConfirmNoEscalation, pkg/registry/rbac/escalation_check.go):
 * - a Role or ClusterRole is created or updated only by a user holding every rule it grants (in its
 *   namespace for a Role, cluster-wide for a ClusterRole), or allowed to `escalate` it (by name on
 *   an update only: a create has no name in its request); an aggregationRule needs `*` on
 *   everything;
 * - a binding only by a user allowed to `bind` the role it references (in the binding's namespace),
 *   or holding every rule of that role there; a role that does not exist is a 404 then;
 * - an update that changes only what the garbage collector writes (ownerReferences, finalizers) is
 *   not checked; system:masters is never checked; the sandbox's controllers do not come this way.
 * Held rules are what the authorizer (`Auth.allows`: static token rules and RBAC bindings) allows,
 * asked once per single rule of the broken-down grant (validation.Covers' BreakdownRule).
 */
import { jsonEqual } from '../kube/validation/json-values.js';
import { ApiError, forbidden, notFound } from './api-status.js';
import type { Auth, Principal } from './auth.js';
import { type Attributes, type PolicyRule, roleRefRules, unresolvedRoleRefs } from './rbac.js';
import type { ResourceType } from './resource-types.js';
import type { KObj, ObjectStore } from './store.js';

const RBAC = 'rbac.authorization.k8s.io';
const ROLE_KINDS = new Set(['roles', 'clusterroles']);
const BINDING_KINDS = new Set(['rolebindings', 'clusterrolebindings']);

/** Checks a write of `obj` (over `old` on an update) before it is validated; throws 403/404. */
export type WriteGuard = (obj: KObj, old: KObj | null) => void;

/** One rule of a broken-down grant: one verb on one group/resource (one name), or on one URL. */
interface SingleRule {
  verb: string;
  group?: string;
  resource?: string;
  name?: string;
  url?: string;
}

interface StoredRule {
  verbs?: string[];
  apiGroups?: string[];
  resources?: string[];
  resourceNames?: string[];
  nonResourceURLs?: string[];
}

/** validation.BreakdownRule: group × resource × verb (× name), then URL × verb. */
function breakdown(rule: StoredRule): SingleRule[] {
  const out: SingleRule[] = [];
  const names = rule.resourceNames ?? [];
  for (const group of rule.apiGroups ?? [])
    for (const resource of rule.resources ?? [])
      for (const verb of rule.verbs ?? []) {
        if (names.length === 0) out.push({ verb, group, resource });
        else for (const name of names) out.push({ verb, group, resource, name });
      }
  for (const url of rule.nonResourceURLs ?? []) for (const verb of rule.verbs ?? []) out.push({ verb, url });
  return out;
}

/** The request a single rule stands for, put to the authorizer in `namespace`. */
function attributesOf(r: SingleRule, namespace: string | undefined): Attributes {
  if (r.url !== undefined) return { verb: r.verb, path: r.url, namespace };
  const slash = r.resource!.indexOf('/');
  return {
    verb: r.verb,
    group: r.group!,
    resource: slash < 0 ? r.resource! : r.resource!.slice(0, slash),
    subresource: slash < 0 ? undefined : r.resource!.slice(slash + 1),
    namespace,
    name: r.name,
  };
}

/** Go's %q of a []string: `["a" "b"]`. */
const quoted = (list: string[]) => `[${list.map((v) => JSON.stringify(v)).join(' ')}]`;

/**
 * CompactRules then rbacv1helpers.CompactString, sorted (sets.String.List): the verbs of one
 * group/resource without names are merged into one rule.
 */
function describeMissing(missing: SingleRule[]): string[] {
  const simple = new Map<string, { group: string; resource: string; verbs: string[] }>();
  const lines: string[] = [];
  for (const r of missing) {
    if (r.url !== undefined) {
      lines.push(`{NonResourceURLs:${quoted([r.url])}, Verbs:${quoted([r.verb])}}`);
    } else if (r.name !== undefined) {
      lines.push(
        `{APIGroups:${quoted([r.group!])}, Resources:${quoted([r.resource!])}, ResourceNames:${quoted([r.name])}, Verbs:${quoted([r.verb])}}`,
      );
    } else {
      const key = JSON.stringify([r.group, r.resource]);
      const entry = simple.get(key) ?? { group: r.group!, resource: r.resource!, verbs: [] };
      entry.verbs.push(r.verb);
      simple.set(key, entry);
    }
  }
  for (const s of simple.values())
    lines.push(
      `{APIGroups:${quoted([s.group])}, Resources:${quoted([s.resource])}, Verbs:${quoted(s.verbs)}}`,
    );
  return [...new Set(lines)].sort();
}

/** ConfirmNoEscalation: the single rules of `rules` the user does not hold in `namespace`. */
function notHeld(auth: Auth, p: Principal, rules: StoredRule[], namespace: string | undefined): SingleRule[] {
  return rules.flatMap(breakdown).filter((r) => !auth.allows(p, attributesOf(r, namespace)));
}

/**
 * The rule resolver's errors as ConfirmNoEscalation appends them: `%v` of a one-element []error
 * holding an utilerrors aggregate (deduplicated; bracketed when more than one).
 */
function resolutionErrors(store: ObjectStore, p: Principal, namespace: string | undefined): string {
  const errors = [...new Set(unresolvedRoleRefs(store, p.user, namespace))];
  if (errors.length === 0) return '';
  return `; resolution errors: [${errors.length === 1 ? errors[0] : `[${errors.join(', ')}]`}]`;
}

function confirmNoEscalation(
  store: ObjectStore,
  auth: Auth,
  p: Principal,
  rules: StoredRule[],
  namespace: string | undefined,
  rt: ResourceType,
  name: string,
): void {
  const missing = notHeld(auth, p, rules, namespace);
  if (missing.length === 0) return;
  const groups = `[${p.user.groups.map((g) => JSON.stringify(g)).join(' ')}]`;
  throw forbidden(
    { group: rt.group, resource: rt.plural },
    name,
    `user ${JSON.stringify(p.user.username)} (groups=${groups}) is attempting to grant RBAC permissions not currently held:\n${describeMissing(missing).join('\n')}${resolutionErrors(store, p, namespace)}`,
  );
}

/** rbacregistry.IsOnlyMutatingGCFields: the update changes nothing but what the GC writes. */
function onlyGcFields(obj: KObj, old: KObj | null): boolean {
  if (!old) return false;
  const copy = structuredClone(obj);
  for (const field of ['ownerReferences', 'finalizers', 'managedFields', 'selfLink'] as const) {
    const was = (old.metadata as Record<string, unknown>)[field];
    if (was === undefined) delete (copy.metadata as Record<string, unknown>)[field];
    else (copy.metadata as Record<string, unknown>)[field] = structuredClone(was);
  }
  return jsonEqual(copy, old);
}

/** What an aggregationRule needs (clusterrole policybased storage's fullAuthority). */
const FULL_AUTHORITY: PolicyRule[] = [
  { apiGroups: ['*'], resources: ['*'], verbs: ['*'] },
  { resources: [], nonResourceURLs: ['*'], verbs: ['*'] },
];

function hasAggregationRule(o: KObj | null): boolean {
  const selectors = (o as { aggregationRule?: { clusterRoleSelectors?: unknown[] } } | null)?.aggregationRule
    ?.clusterRoleSelectors;
  return Array.isArray(selectors) && selectors.length > 0;
}

/**
 * The escalation check of a create, update or patch of `rt` by `p`, or undefined when there is
 * none (not an RBAC kind, or a system:masters caller). `name` is the request's (none on a create).
 */
export function escalationGuard(
  store: ObjectStore,
  auth: Auth,
  p: Principal,
  rt: ResourceType,
  namespace: string | undefined,
  name: string | undefined,
): WriteGuard | undefined {
  if (rt.group !== RBAC || p.user.groups.includes('system:masters')) return undefined;
  if (ROLE_KINDS.has(rt.plural)) {
    // RoleEscalationAuthorized: `escalate` on the kind, with the request's name and namespace.
    const escalate = { verb: 'escalate', group: RBAC, resource: rt.plural, subresource: undefined };
    if (auth.allows(p, { ...escalate, namespace, name })) return undefined;
    return (obj, old) => {
      if (onlyGcFields(obj, old)) return;
      const objName = obj.metadata.name ?? '';
      confirmNoEscalation(
        store,
        auth,
        p,
        (obj.rules as StoredRule[] | undefined) ?? [],
        namespace,
        rt,
        objName,
      );
      if (rt.plural === 'clusterroles' && (hasAggregationRule(obj) || hasAggregationRule(old))) {
        if (notHeld(auth, p, FULL_AUTHORITY, undefined).length > 0)
          throw forbidden(
            { group: RBAC, resource: rt.plural },
            objName,
            'must have cluster-admin privileges to use the aggregationRule',
          );
      }
    };
  }
  if (!BINDING_KINDS.has(rt.plural)) return undefined;
  return (obj, old) => {
    if (onlyGcFields(obj, old)) return;
    const ref = (obj.roleRef ?? {}) as { apiGroup?: string; kind?: string; name?: string };
    const refResource =
      ref.kind === 'ClusterRole' ? 'clusterroles' : ref.kind === 'Role' ? 'roles' : undefined;
    // BindingAuthorized: `bind` on the referenced role, in the binding's namespace.
    if (
      refResource &&
      auth.allows(p, {
        verb: 'bind',
        group: ref.apiGroup ?? '',
        resource: refResource,
        subresource: undefined,
        namespace,
        name: ref.name ?? '',
      })
    )
      return;
    // GetRoleReferenceRules: an unknown kind is a plain error (a 500 without a reason, before
    // validation could refuse it), a missing role the registry's NotFound.
    if (!refResource)
      throw new ApiError(500, '', `unsupported role reference kind: ${JSON.stringify(ref.kind ?? '')}`);
    const rules = roleRefRules(store, { kind: ref.kind!, name: ref.name ?? '' }, namespace);
    if (!rules) throw notFound({ group: RBAC, resource: refResource }, ref.name ?? '');
    confirmNoEscalation(store, auth, p, rules as StoredRule[], namespace, rt, obj.metadata.name ?? '');
  };
}

/**
 * Which admission requests a ValidatingAdmissionPolicy or its binding is about (k8s.io/apiserver
 * `admission/plugin/policy/matching` over the webhook predicates `rules`, `namespace` and
 * `object`): resource rules minus exclude rules, namespace selector, object selector. Pure.
 */
import { isRecord } from '../kube/validation/json-values.js';
import type { UserInfo } from './rbac.js';
import type { KObj } from './store.js';
import { labelSelectorMatches } from './validation-workloads.js';

export type AdmissionOperation = 'CREATE' | 'UPDATE' | 'DELETE' | 'CONNECT';

/** admission.Attributes, as the sandbox's write paths know them. */
export interface AdmissionAttributes {
  operation: AdmissionOperation;
  resource: { group: string; version: string; resource: string };
  /** '' when the request is for the resource itself. */
  subresource: string;
  kind: { group: string; version: string; kind: string };
  /** Every version the resource is served at (matchPolicy Equivalent tries them all). */
  servedVersions: readonly string[];
  /** The name on the request: '' on a create whose object has only a generateName. */
  name: string;
  /** '' for a cluster-scoped object; a Namespace's own name for a request on a Namespace. */
  namespace: string;
  object: KObj | null;
  oldObject: KObj | null;
  userInfo: UserInfo;
  dryRun: boolean;
}

const strings = (v: unknown): string[] => (Array.isArray(v) ? v.filter((s) => typeof s === 'string') : []);
const isNamespaceRequest = (a: AdmissionAttributes) =>
  a.resource.group === '' && a.resource.resource === 'namespaces';

const listMatches = (values: string[], value: string) => values.includes('*') || values.includes(value);

/** rules.Matcher.scope: a Namespace is cluster-scoped even though its requests carry a namespace. */
function scopeMatches(scope: unknown, a: AdmissionAttributes): boolean {
  if (scope === undefined || scope === null || scope === '*') return true;
  const clusterScoped = isNamespaceRequest(a) || a.namespace === '';
  return scope === 'Cluster' ? clusterScoped : !clusterScoped;
}

/**
 * rules.Matcher.resource: `pods` is the resource alone, `pods/status` one subresource, `pods/*`
 * the resource and all its subresources, `*` every resource but no subresource, `*\/*` everything.
 */
function resourceMatches(resources: string[], a: AdmissionAttributes): boolean {
  return resources.some((entry) => {
    const slash = entry.indexOf('/');
    const res = slash < 0 ? entry : entry.slice(0, slash);
    const sub = slash < 0 ? '' : entry.slice(slash + 1);
    return (res === '*' || res === a.resource.resource) && (sub === '*' || sub === a.subresource);
  });
}

/** One NamedRuleWithOperations against the request, at `version` of its resource. */
export function ruleMatches(rule: unknown, a: AdmissionAttributes, version = a.resource.version): boolean {
  if (!isRecord(rule)) return false;
  if (!scopeMatches(rule.scope, a)) return false;
  if (!listMatches(strings(rule.operations), a.operation)) return false;
  if (!listMatches(strings(rule.apiGroups), a.resource.group)) return false;
  if (!listMatches(strings(rule.apiVersions), version)) return false;
  if (!resourceMatches(strings(rule.resources), a)) return false;
  // An empty resourceNames matches every name; a create by generateName has none yet.
  const names = strings(rule.resourceNames);
  return names.length === 0 || names.includes(a.name);
}

/**
 * matchesResourceRules: any rule, at the request's version; with matchPolicy Equivalent (the
 * default) also at the resource's other served versions.
 */
export function rulesMatch(rules: unknown, matchPolicy: unknown, a: AdmissionAttributes): boolean {
  const list = Array.isArray(rules) ? rules : [];
  if (list.some((r) => ruleMatches(r, a))) return true;
  if (matchPolicy === 'Exact') return false;
  return a.servedVersions.some((v) => v !== a.resource.version && list.some((r) => ruleMatches(r, a, v)));
}

/** A LabelSelector field: absent or empty selects everything (metav1.LabelSelectorAsSelector). */
function selects(selector: unknown, labels: Record<string, string> | undefined): boolean {
  if (!isRecord(selector)) return true;
  return labelSelectorMatches(selector, labels ?? {});
}

/**
 * namespace.Matcher: a cluster-scoped object (other than a Namespace) always matches; a request
 * on a Namespace is judged by that Namespace's own labels.
 */
function namespaceMatches(selector: unknown, a: AdmissionAttributes, namespaceObject: KObj | null): boolean {
  if (isNamespaceRequest(a)) return selects(selector, (a.object ?? a.oldObject)?.metadata.labels);
  if (a.namespace === '') return true;
  return selects(selector, namespaceObject?.metadata.labels);
}

/** object.Matcher: the old object or the new one matching is enough. */
function objectMatches(selector: unknown, a: AdmissionAttributes): boolean {
  if (!isRecord(selector)) return true;
  // CONNECT's options object has no metadata, hence no labels.
  return [a.object, a.oldObject].some((o) => o !== null && selects(selector, o.metadata?.labels));
}

/**
 * matching.Matcher.Matches for a policy's matchConstraints or a binding's matchResources: a
 * binding without resourceRules leaves the resources to its policy.
 */
export function matchResourcesMatch(
  matchResources: unknown,
  a: AdmissionAttributes,
  namespaceObject: KObj | null,
  isBinding: boolean,
): boolean {
  if (!isRecord(matchResources)) return isBinding;
  if (!namespaceMatches(matchResources.namespaceSelector, a, namespaceObject)) return false;
  if (!objectMatches(matchResources.objectSelector, a)) return false;
  const policy = matchResources.matchPolicy;
  if (rulesMatch(matchResources.excludeResourceRules, policy, a)) return false;
  if (isBinding && matchResources.resourceRules === undefined) return true;
  return rulesMatch(matchResources.resourceRules, policy, a);
}

/**
 * The (group, resource) pairs a policy's rules can match, for the index: undefined when a
 * wildcard group or resource makes it a candidate for every request.
 */
export function indexKeysOf(matchConstraints: unknown): string[] | undefined {
  if (!isRecord(matchConstraints) || !Array.isArray(matchConstraints.resourceRules)) return [];
  const keys: string[] = [];
  for (const rule of matchConstraints.resourceRules) {
    if (!isRecord(rule)) continue;
    for (const group of strings(rule.apiGroups)) {
      for (const entry of strings(rule.resources)) {
        const resource = entry.split('/')[0]!;
        if (group === '*' || resource === '*') return undefined;
        keys.push(`${group}/${resource}`);
      }
    }
  }
  return keys;
}

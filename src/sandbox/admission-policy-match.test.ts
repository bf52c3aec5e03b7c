/**
 * Which requests a ValidatingAdmissionPolicy or binding is about, case by case as kube-apiserver's
 * webhook predicates decide them: rules (operations, groups, versions, resources and
 * subresources, names, scope), exclude rules, namespace and object selectors.
 */
import { describe, expect, it } from 'vitest';
import {
  type AdmissionAttributes,
  indexKeysOf,
  matchResourcesMatch,
  ruleMatches,
  rulesMatch,
} from './admission-policy-match.js';
import type { KObj } from './store.js';

const slice = (labels?: Record<string, string>): KObj => ({
  apiVersion: 'discovery.k8s.io/v1',
  kind: 'EndpointSlice',
  metadata: { name: 's1', namespace: 'shop', ...(labels ? { labels } : {}) },
});

function attrs(over: Partial<AdmissionAttributes> = {}): AdmissionAttributes {
  return {
    operation: 'CREATE',
    resource: { group: 'discovery.k8s.io', version: 'v1', resource: 'endpointslices' },
    subresource: '',
    kind: { group: 'discovery.k8s.io', version: 'v1', kind: 'EndpointSlice' },
    servedVersions: ['v1'],
    name: 's1',
    namespace: 'shop',
    object: slice(),
    oldObject: null,
    userInfo: { username: 'alice', groups: ['system:authenticated'] },
    dryRun: false,
    ...over,
  };
}

const rule = (over: Record<string, unknown> = {}) => ({
  apiGroups: ['discovery.k8s.io'],
  apiVersions: ['v1'],
  operations: ['CREATE', 'UPDATE', 'DELETE'],
  resources: ['endpointslices'],
  ...over,
});

const namespaceNamed = (labels: Record<string, string>): KObj => ({ metadata: { name: 'shop', labels } });

describe('resource rules', () => {
  it('match on operation, group, version and resource, with * for any', () => {
    expect(ruleMatches(rule(), attrs())).toBe(true);
    expect(ruleMatches(rule(), attrs({ operation: 'CONNECT' }))).toBe(false);
    expect(ruleMatches(rule({ operations: ['*'] }), attrs({ operation: 'CONNECT' }))).toBe(true);
    expect(ruleMatches(rule({ apiGroups: [''] }), attrs())).toBe(false);
    expect(ruleMatches(rule({ apiGroups: ['*'], apiVersions: ['*'] }), attrs())).toBe(true);
    expect(ruleMatches(rule({ apiVersions: ['v1beta1'] }), attrs())).toBe(false);
    expect(ruleMatches(rule({ resources: ['services'] }), attrs())).toBe(false);
  });

  it('tell a subresource from its resource: `x` is x alone, `x/status` the status, `x/*` both, `*` no subresource', () => {
    const status = attrs({ operation: 'UPDATE', subresource: 'status' });
    expect(ruleMatches(rule(), status)).toBe(false);
    expect(ruleMatches(rule({ resources: ['endpointslices/status'] }), status)).toBe(true);
    expect(ruleMatches(rule({ resources: ['endpointslices/status'] }), attrs())).toBe(false);
    expect(ruleMatches(rule({ resources: ['endpointslices/*'] }), status)).toBe(true);
    expect(ruleMatches(rule({ resources: ['endpointslices/*'] }), attrs())).toBe(true);
    expect(ruleMatches(rule({ resources: ['*'] }), status)).toBe(false);
    expect(ruleMatches(rule({ resources: ['*'] }), attrs())).toBe(true);
    expect(ruleMatches(rule({ resources: ['*/*'] }), status)).toBe(true);
  });

  it('narrow to resourceNames (a create by generateName has no name to match)', () => {
    expect(ruleMatches(rule({ resourceNames: ['s1'] }), attrs())).toBe(true);
    expect(ruleMatches(rule({ resourceNames: ['s2'] }), attrs())).toBe(false);
    expect(ruleMatches(rule({ resourceNames: ['s1'] }), attrs({ name: '' }))).toBe(false);
  });

  it('scope: a Namespace is cluster-scoped although its requests carry its name as namespace', () => {
    expect(ruleMatches(rule({ scope: 'Namespaced' }), attrs())).toBe(true);
    expect(ruleMatches(rule({ scope: 'Cluster' }), attrs())).toBe(false);
    const ns = attrs({
      resource: { group: '', version: 'v1', resource: 'namespaces' },
      namespace: 'shop',
      name: 'shop',
    });
    const nsRule = rule({ apiGroups: [''], resources: ['namespaces'] });
    expect(ruleMatches({ ...nsRule, scope: 'Cluster' }, ns)).toBe(true);
    expect(ruleMatches({ ...nsRule, scope: 'Namespaced' }, ns)).toBe(false);
    expect(ruleMatches({ ...nsRule, scope: '*' }, ns)).toBe(true);
  });

  it('matchPolicy Equivalent (the default) tries the other served versions; Exact does not', () => {
    const a = attrs({ servedVersions: ['v1', 'v1beta1'] });
    const beta = [rule({ apiVersions: ['v1beta1'] })];
    expect(rulesMatch(beta, undefined, a)).toBe(true);
    expect(rulesMatch(beta, 'Equivalent', a)).toBe(true);
    expect(rulesMatch(beta, 'Exact', a)).toBe(false);
  });
});

describe('matchResources', () => {
  const constraints = (over: Record<string, unknown> = {}) => ({ resourceRules: [rule()], ...over });

  it('excludeResourceRules win over resourceRules', () => {
    expect(matchResourcesMatch(constraints(), attrs(), null, false)).toBe(true);
    const excluded = constraints({ excludeResourceRules: [rule({ resourceNames: ['s1'] })] });
    expect(matchResourcesMatch(excluded, attrs(), null, false)).toBe(false);
    expect(matchResourcesMatch(excluded, attrs({ name: 's2' }), null, false)).toBe(true);
  });

  it('objectSelector: the new object or the old one matching is enough', () => {
    const sel = constraints({
      objectSelector: { matchExpressions: [{ key: 'm', operator: 'In', values: ['isthmus'] }] },
    });
    const labelled = slice({ m: 'isthmus' });
    expect(matchResourcesMatch(sel, attrs({ object: labelled }), null, false)).toBe(true);
    expect(matchResourcesMatch(sel, attrs(), null, false)).toBe(false);
    const relabel = attrs({ operation: 'UPDATE', object: slice(), oldObject: labelled });
    expect(matchResourcesMatch(sel, relabel, null, false)).toBe(true);
    const del = attrs({ operation: 'DELETE', object: null, oldObject: labelled });
    expect(matchResourcesMatch(sel, del, null, false)).toBe(true);
  });

  it('namespaceSelector: by the namespace labels; cluster-scoped objects always match; a Namespace by its own', () => {
    const sel = constraints({ namespaceSelector: { matchLabels: { tenant: 'yes' } } });
    expect(matchResourcesMatch(sel, attrs(), namespaceNamed({ tenant: 'yes' }), false)).toBe(true);
    expect(matchResourcesMatch(sel, attrs(), namespaceNamed({}), false)).toBe(false);
    const clusterScoped = {
      resourceRules: [rule({ apiGroups: ['rbac.authorization.k8s.io'], resources: ['clusterroles'] })],
      namespaceSelector: { matchLabels: { tenant: 'yes' } },
    };
    const cr = attrs({
      resource: { group: 'rbac.authorization.k8s.io', version: 'v1', resource: 'clusterroles' },
      namespace: '',
    });
    expect(matchResourcesMatch(clusterScoped, cr, null, false)).toBe(true);
    const nsRules = {
      resourceRules: [rule({ apiGroups: [''], resources: ['namespaces'] })],
      namespaceSelector: { matchLabels: { tenant: 'yes' } },
    };
    const nsReq = (labels: Record<string, string>) =>
      attrs({
        resource: { group: '', version: 'v1', resource: 'namespaces' },
        name: 'shop',
        object: { metadata: { name: 'shop', labels } },
      });
    expect(matchResourcesMatch(nsRules, nsReq({ tenant: 'yes' }), null, false)).toBe(true);
    expect(matchResourcesMatch(nsRules, nsReq({}), null, false)).toBe(false);
  });

  it('a binding without matchResources, or without resourceRules, leaves the resources to its policy', () => {
    expect(matchResourcesMatch(undefined, attrs(), null, true)).toBe(true);
    expect(matchResourcesMatch({}, attrs(), null, true)).toBe(true);
    const other = { resourceRules: [rule({ resources: ['services'] })] };
    expect(matchResourcesMatch(other, attrs(), null, true)).toBe(false);
    expect(
      matchResourcesMatch(
        { namespaceSelector: { matchLabels: { a: 'b' } } },
        attrs(),
        namespaceNamed({}),
        true,
      ),
    ).toBe(false);
  });
});

describe('the index keys of a policy', () => {
  it('are its (group, resource) pairs, subresources folded in; any wildcard makes it a candidate for all', () => {
    expect(
      indexKeysOf({ resourceRules: [rule({ resources: ['endpointslices', 'endpointslices/status'] })] }),
    ).toEqual(['discovery.k8s.io/endpointslices', 'discovery.k8s.io/endpointslices']);
    expect(indexKeysOf({ resourceRules: [rule({ apiGroups: ['*'] })] })).toBeUndefined();
    expect(indexKeysOf({ resourceRules: [rule({ resources: ['*/status'] })] })).toBeUndefined();
  });
});

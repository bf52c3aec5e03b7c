import { describe, expect, it } from 'vitest';
import type { V1PolicyRule } from '../../../kube/types.js';
import { checkEndpointWriters, endpointWrites } from './endpoint-writers.js';

describe('endpointWrites', () => {
  it.each<[string, V1PolicyRule[], string[]]>([
    [
      'kube 1.22+ edit: reads only',
      [{ apiGroups: [''], resources: ['endpoints'], verbs: ['get', 'list', 'watch'] }],
      [],
    ],
    [
      'an upgraded cluster: edit still writes Endpoints',
      [{ apiGroups: [''], resources: ['endpoints', 'pods'], verbs: ['create', 'delete', 'patch', 'update'] }],
      ['endpoints'],
    ],
    [
      'EndpointSlices granted by hand',
      [{ apiGroups: ['discovery.k8s.io'], resources: ['endpointslices'], verbs: ['create'] }],
      ['endpointslices.discovery.k8s.io'],
    ],
    [
      'wildcards',
      [{ apiGroups: ['*'], resources: ['*'], verbs: ['*'] }],
      ['endpoints', 'endpointslices.discovery.k8s.io'],
    ],
    ['another group', [{ apiGroups: ['apps'], resources: ['endpointslices'], verbs: ['create'] }], []],
    [
      'a named object only',
      [{ apiGroups: [''], resources: ['endpoints'], resourceNames: ['x'], verbs: ['update'] }],
      [],
    ],
  ])('%s', (_what, rules, writes) => {
    expect(endpointWrites(rules)).toEqual(writes);
  });
});

describe('checkEndpointWriters', () => {
  const facts = (value: Record<string, string[]>, gatewayInstalled = true) =>
    ({ gatewayInstalled, endpointWriters: { ok: true, value } }) as never;

  it('warns, naming the roles and what they write, on a cluster that exports through a gateway', () => {
    const r = checkEndpointWriters(facts({ edit: ['endpoints'], admin: ['endpoints'] }));
    expect(r.status).toBe('warn');
    expect(r.hints).toEqual([
      "ClusterRole edit lets namespace editors write endpoints (kube's EndpointSlice mirroring turns them into slices): whoever may edit an exporting namespace can point this cluster's gateway at any address it reaches, past NetworkPolicies (CVE-2021-25740; Kubernetes 1.22 dropped it for new clusters, upgraded ones keep it); take it out of the role, see the README's \"Security notes\"",
      "ClusterRole admin lets namespace editors write endpoints (kube's EndpointSlice mirroring turns them into slices): whoever may edit an exporting namespace can point this cluster's gateway at any address it reaches, past NetworkPolicies (CVE-2021-25740; Kubernetes 1.22 dropped it for new clusters, upgraded ones keep it); take it out of the role, see the README's \"Security notes\"",
    ]);
  });

  it('passes when the default roles write neither, and says nothing without a gateway', () => {
    expect(checkEndpointWriters(facts({})).status).toBe('ok');
    expect(checkEndpointWriters(facts({ edit: ['endpoints'] }, false)).status).toBe('ok');
  });
});

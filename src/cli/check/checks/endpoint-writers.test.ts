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
  const gatewayArgs = (...extra: string[]) => ({
    ok: true,
    value: [
      { name: 'isthmus-gateway', replicas: 1, available: 1, args: ['gateway', '--in-cluster', ...extra] },
      { name: 'isthmus-controller', replicas: 1, available: 1, args: ['controller', '--dial-pod-ips-only'] },
    ],
  });
  const facts = (
    value: Record<string, string[]>,
    gatewayInstalled = true,
    deployments: unknown = gatewayArgs(),
  ) => ({ gatewayInstalled, endpointWriters: { ok: true, value }, deployments }) as never;
  const fix =
    'take it out of the role, or close the hole: isthmus upgrade --gateway-dial-pod-ips-only | kubectl apply -f - (the gateway then dials only the IPs of running Pods in each exported Service\'s namespace); see the README\'s "Security notes"';

  it('warns, naming the roles, what they write and the mode that closes the hole, on a cluster that exports through a gateway', () => {
    const r = checkEndpointWriters(facts({ edit: ['endpoints'], admin: ['endpoints'] }));
    expect(r.status).toBe('warn');
    expect(r.hints).toEqual([
      `ClusterRole edit lets namespace editors write endpoints (kube's EndpointSlice mirroring turns them into slices): whoever may edit an exporting namespace can point this cluster's gateway at any address it reaches, past NetworkPolicies (CVE-2021-25740; Kubernetes 1.22 dropped it for new clusters, upgraded ones keep it); ${fix}`,
      `ClusterRole admin lets namespace editors write endpoints (kube's EndpointSlice mirroring turns them into slices): whoever may edit an exporting namespace can point this cluster's gateway at any address it reaches, past NetworkPolicies (CVE-2021-25740; Kubernetes 1.22 dropped it for new clusters, upgraded ones keep it); ${fix}`,
    ]);
  });

  it('says the hole is closed when the gateway runs with --dial-pod-ips-only', () => {
    const r = checkEndpointWriters(facts({ edit: ['endpoints'] }, true, gatewayArgs('--dial-pod-ips-only')));
    expect(r).toEqual({
      status: 'ok',
      description:
        "namespace editors cannot point the gateway elsewhere: the gateway dials only the IPs of running Pods in each exported Service's namespace (--dial-pod-ips-only)",
      hints: [],
    });
  });

  it('names the mode as the fix when the gateway Deployment cannot be read or is not there', () => {
    for (const deployments of [
      { ok: false, error: 'forbidden' },
      { ok: true, value: [] },
    ]) {
      const r = checkEndpointWriters(facts({ edit: ['endpointslices.discovery.k8s.io'] }, true, deployments));
      expect(r.status).toBe('warn');
      expect(r.hints[0]).toContain('isthmus upgrade --gateway-dial-pod-ips-only');
    }
  });

  it('passes when the default roles write neither, and says nothing without a gateway', () => {
    expect(checkEndpointWriters(facts({})).status).toBe('ok');
    expect(checkEndpointWriters(facts({})).description).toBe(
      'namespace editors cannot point the gateway elsewhere',
    );
    expect(checkEndpointWriters(facts({ edit: ['endpoints'] }, false)).status).toBe('ok');
  });
});

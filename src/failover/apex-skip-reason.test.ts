import { describe, expect, it } from 'vitest';
import type { V1Service } from '../kube/types.js';
import { apexCaveat, apexSkipReason } from './apex-skip-reason.js';
import { service } from './test-builders.js';

const apex = (spec: Partial<NonNullable<V1Service['spec']>>): V1Service => {
  const s = service('shop', 'podinfo');
  return { ...s, spec: { ...s.spec, ...spec } };
};

describe('apexSkipReason', () => {
  it.each<[string, V1Service, string | null]>([
    [
      'a ClusterIP apex (policy Cluster)',
      apex({ clusterIP: '10.96.0.20', internalTrafficPolicy: 'Cluster' }),
      null,
    ],
    ['no policy set (Cluster, the default)', apex({ clusterIP: '10.96.0.20' }), null],
    [
      'internalTrafficPolicy Local',
      apex({ clusterIP: '10.96.0.20', internalTrafficPolicy: 'Local' }),
      'InternalTrafficPolicyLocal',
    ],
    ['headless', apex({ clusterIP: 'None' }), 'HeadlessApex'],
    [
      'headless and Local: headless first (kube-proxy ignores it anyway)',
      apex({ clusterIP: 'None', internalTrafficPolicy: 'Local' }),
      'HeadlessApex',
    ],
    [
      'ExternalName: a DNS alias, no endpoints at all',
      apex({ type: 'ExternalName', externalName: 'podinfo.example.com', clusterIP: undefined }),
      'ExternalNameApex',
    ],
  ])('%s', (_name, svc, reason) => {
    expect(apexSkipReason(svc)?.reason ?? null).toBe(reason);
  });

  it('says why and what to do', () => {
    expect(apexSkipReason(apex({ internalTrafficPolicy: 'Local' }))?.message).toMatch(
      /on their own node.*internalTrafficPolicy: Cluster/,
    );
    expect(apexSkipReason(apex({ clusterIP: 'None' }))?.message).toMatch(/clusterIP: None.*DNS.*cluster IP/);
    expect(apexSkipReason(apex({ type: 'ExternalName', externalName: 'db.example.com' }))?.message).toMatch(
      /ExternalName.*CNAME.*db\.example\.com.*ClusterIP/,
    );
  });
});

describe('apexCaveat', () => {
  it.each<[string, V1Service, boolean]>([
    ['a ClusterIP apex', apex({ clusterIP: '10.96.0.20' }), false],
    [
      'a LoadBalancer apex, policy Cluster',
      apex({ type: 'LoadBalancer', externalTrafficPolicy: 'Cluster' }),
      false,
    ],
    [
      'a LoadBalancer apex, policy Local',
      apex({ type: 'LoadBalancer', externalTrafficPolicy: 'Local' }),
      true,
    ],
    ['a NodePort apex, policy Local', apex({ type: 'NodePort', externalTrafficPolicy: 'Local' }), true],
  ])('%s', (_name, svc, caveat) => {
    expect(apexCaveat(svc) !== null).toBe(caveat);
  });

  it('says who is steered and who is not', () => {
    expect(apexCaveat(apex({ type: 'LoadBalancer', externalTrafficPolicy: 'Local' }))).toMatch(
      /in-cluster callers only.*externalTrafficPolicy: Local.*node-local/,
    );
  });
});

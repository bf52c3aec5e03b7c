import { describe, expect, it } from 'vitest';
import type { Link } from '../kube/types.js';
import { allowedClusters, authorizePeer, gatewayClusterOf, linkedClusters, PeerPolicy } from './peers.js';

const TD = 'root.isthmus.dev';
const link = (target: string): Link => ({
  metadata: { name: target, namespace: 'isthmus-system' },
  spec: {
    targetClusterName: target,
    clusterCredentialsSecret: `cluster-credentials-${target}`,
    gatewayAddress: '1.2.3.4',
  },
});

describe('gatewayClusterOf', () => {
  it.each([
    ['spiffe://root.isthmus.dev/cluster/west/gateway', 'west'],
    ['spiffe://root.isthmus.dev/cluster/us-east-1/gateway', 'us-east-1'],
    ['spiffe://other.dev/cluster/west/gateway', null],
    ['spiffe://root.isthmus.dev/cluster/west/controller', null],
    ['spiffe://root.isthmus.dev/cluster/west/x/gateway', null],
    ['spiffe://root.isthmus.dev/cluster/West/gateway', null],
    ['spiffe://root.isthmus.dev/cluster//gateway', null],
    ['https://root.isthmus.dev/cluster/west/gateway', null],
  ])('%s → %s', (identity, cluster) => {
    expect(gatewayClusterOf(identity, TD)).toBe(cluster);
  });
});

describe('authorizePeer', () => {
  const allowed = new Set(['west']);
  it.each<[string | undefined, boolean, string]>([
    ['spiffe://root.isthmus.dev/cluster/west/gateway', true, ''],
    ['spiffe://root.isthmus.dev/cluster/north/gateway', false, 'cluster "north" is not linked'],
    ['spiffe://evil.dev/cluster/west/gateway', false, 'is not a gateway identity of trust domain'],
    [undefined, false, 'no SPIFFE URI SAN'],
    ['', false, 'no SPIFFE URI SAN'],
  ])('%s → allowed=%s', (identity, ok, reason) => {
    const decision = authorizePeer(identity, allowed, TD);
    expect(decision.ok).toBe(ok);
    if (!decision.ok) expect(decision.reason).toContain(reason);
    else expect(decision.cluster).toBe('west');
  });
});

describe('allowedClusters and PeerPolicy', () => {
  it('unites Link targets and the static list, and follows the Link cache', () => {
    expect([...allowedClusters([link('west'), link('north')], ['south'])].sort()).toEqual([
      'north',
      'south',
      'west',
    ]);
    const links: Link[] = [];
    const policy = new PeerPolicy({ list: () => links }, [], TD);
    const west = 'spiffe://root.isthmus.dev/cluster/west/gateway';
    expect(policy.authorize(west).ok).toBe(false);
    links.push(link('west'));
    expect(policy.authorize(west)).toEqual({ ok: true, cluster: 'west' });
  });

  it('keeps admitting the cluster whose mirrors a retargeted Link still holds, until the controller verified the new one', () => {
    // A typo in spec.targetClusterName: the controller keeps west's mirrors (status.mirroredClusterName)
    // until "north" is verified and listed: west's traffic goes on meanwhile.
    const retargeted: Link = { ...link('north'), status: { mirroredClusterName: 'west' } };
    expect([...linkedClusters([retargeted])].sort()).toEqual(['north', 'west']);
    // The ingress admits by targets only: the kept mirrors need our egress, not west's traffic
    // here, and a retarget left unfixed must not admit west for good.
    expect([...allowedClusters([retargeted], [])]).toEqual(['north']);
  });

  it('admits no peer through a Link being deleted (its finalizer holds it while mirrors go)', () => {
    const unlinking: Link = {
      ...link('west'),
      metadata: { ...link('west').metadata, deletionTimestamp: new Date('2026-11-24T00:00:00Z') },
    };
    expect([...allowedClusters([unlinking, link('north')], [])]).toEqual(['north']);
    // The static list is an operator's explicit admission, independent of Links.
    expect([...allowedClusters([unlinking], ['west'])]).toEqual(['west']);
    const decision = new PeerPolicy({ list: () => [unlinking] }, [], TD).authorize(
      'spiffe://root.isthmus.dev/cluster/west/gateway',
    );
    expect(decision).toMatchObject({ ok: false, cluster: 'west' });
  });
});

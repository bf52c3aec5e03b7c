import { describe, expect, it } from 'vitest';
import type { Link, V1Service } from '../kube/types.js';
import { claimConflict, clusterHolder, heldCluster, type LinkClaim, orphanClusters } from './link-claims.js';
import { foreignService, linkerdMirror, linkObject, ourLabels } from './test-builders.js';

function link(name: string, cluster: string, created?: string): Link {
  const l = linkObject(cluster, {}, name);
  if (created) l.metadata!.creationTimestamp = new Date(created);
  return l;
}

const claim = (l: Link): LinkClaim => ({ link: l, cluster: l.spec.targetClusterName });

const T1 = '2024-05-01T10:00:00Z';
const T2 = '2024-05-01T10:00:01Z';

describe('clusterHolder', () => {
  it.each([
    { what: 'the only Link', links: [link('west', 'west', T1)], holder: 'west' },
    {
      what: 'the oldest Link',
      links: [link('a-west', 'west', T2), link('west', 'west', T1)],
      holder: 'west',
    },
    {
      what: 'by name within the same second',
      links: [link('west-web', 'west', T1), link('west', 'west', T1)],
      holder: 'west',
    },
    {
      what: 'a stored Link before one not yet stored',
      links: [link('a-west', 'west'), link('west', 'west', T2)],
      holder: 'west',
    },
    { what: 'none for another cluster', links: [link('north', 'north', T1)], holder: undefined },
  ])('$what', ({ links, holder }) => {
    expect(clusterHolder(links.map(claim), 'west')?.metadata?.name).toBe(holder);
  });
});

describe('claimConflict', () => {
  const first = link('west', 'west', T1);
  const second = link('west-web', 'west', T2);
  const claims = [first, second].map(claim);

  it('lets the holder mirror, and names the holder to the other Link', () => {
    expect(claimConflict(first, 'west', claims)).toBeUndefined();
    expect(claimConflict(second, 'west', claims)).toMatch(
      /targetClusterName west is already linked by Link isthmus-system\/west/,
    );
  });

  it('an invalid Link holds nothing: the valid one mirrors', () => {
    // claims holds only valid Links: `first` made invalid drops out.
    expect(claimConflict(second, 'west', [claim(second)])).toBeUndefined();
  });
});

describe('orphanClusters', () => {
  const mirror = (name: string, cluster: string): V1Service => ({
    metadata: { name, namespace: 'default', labels: ourLabels(cluster) },
  });

  it.each<{ what: string; services: V1Service[]; links: Link[]; watched?: string[]; orphans: string[] }>([
    {
      what: 'mirrors of a cluster no Link targets',
      services: [mirror('a-west', 'west'), mirror('b-west', 'west'), mirror('a-north', 'north')],
      links: [link('north', 'north')],
      orphans: ['west'],
    },
    {
      what: 'an invalid Link still targets its cluster (its deletion removes the mirrors)',
      services: [mirror('a-west', 'west')],
      links: [{ ...link('west', 'west'), spec: { ...link('west', 'west').spec, gatewayAddress: ' , ' } }],
      orphans: [],
    },
    {
      what: 'a retargeted Link holds the cluster its status names until its new name is checked',
      services: [mirror('a-west', 'west'), mirror('a-east', 'east')],
      links: [{ ...link('west', 'north'), status: { mirroredClusterName: 'west' } }],
      orphans: ['east'],
    },
    {
      what: 'a retargeted Link whose new name was checked holds only that one',
      services: [mirror('a-west', 'west'), mirror('a-north', 'north')],
      links: [{ ...link('west', 'north'), status: { mirroredClusterName: 'north' } }],
      orphans: ['west'],
    },
    {
      what: 'a cluster a running watcher serves (a Link edit not yet handled)',
      services: [mirror('a-west', 'west')],
      links: [link('west', 'north')],
      watched: ['west'],
      orphans: [],
    },
    {
      what: "Linkerd's mirrors and strangers are never ours",
      services: [linkerdMirror('a-west', 'west'), foreignService('b-west')],
      links: [],
      orphans: [],
    },
  ])('$what', ({ services, links, watched, orphans }) => {
    expect(orphanClusters(services, links, watched ?? [])).toEqual(orphans);
  });
});

describe('heldCluster', () => {
  it('the cluster the status says was checked, else the targetClusterName', () => {
    expect(heldCluster(link('west', 'west'))).toBe('west');
    expect(heldCluster({ ...link('west', 'north'), status: { mirroredClusterName: 'west' } })).toBe('west');
    expect(heldCluster({ ...link('west', 'north'), status: { mirroredClusterName: '' } })).toBe('north');
  });
});

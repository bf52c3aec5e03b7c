/**
 * Which Link mirrors which cluster: retargeted Links leave nothing of the old cluster behind, even
 * when the change happened while the controller was down; a second Link to a linked cluster is
 * invalid and never touches the mirrors (link-claims.ts).
 */
import { describe, expect, it } from 'vitest';
import { SYSTEM_NAMESPACE } from '../kube/keys.js';
import { R } from '../kube/resources.js';
import type { Link } from '../kube/types.js';
import { mirrorOwner } from './port-allocator.js';
import { linkObject } from './test-builders.js';
import {
  type Cluster,
  condition,
  credentialsSecret,
  editLinkSpec,
  exportService,
  getLink,
  getService,
  link,
  waitFor,
  waitReady,
  worldPerTest,
} from './test-harness.js';

const startWorld = worldPerTest();

const gone = (c: Cluster, name: string) =>
  waitFor(async () => !(await getService(c, 'default', name)), { what: `${name} removed` });

async function retargetToNorth(east: Cluster, north: Cluster, spec: Partial<Link['spec']> = {}) {
  const secret = await credentialsSecret(east, north, 'cluster-credentials-north');
  await editLinkSpec(east, 'west', (s) => ({
    ...s,
    targetClusterName: 'north',
    clusterCredentialsSecret: secret,
    ...spec,
  }));
}

/** East linked to west; west and north both export podinfo. */
async function eastLinkedToWest() {
  const world = await startWorld(['east', 'west', 'north']);
  const [east, west, north] = [world.c('east'), world.c('west'), world.c('north')];
  await exportService(west, 'podinfo', { ready: 1 });
  await exportService(north, 'podinfo', { ready: 1 });
  await link(east, west, 'west');
  return { world, east, north };
}

describe('Link targets', () => {
  it('retargeting a Link to another cluster replaces the old mirrors with the new ones', async () => {
    const { world, east, north } = await eastLinkedToWest();
    world.controller('east');
    await waitReady(east, 'default', 'podinfo-west');
    await retargetToNorth(east, north);
    await waitReady(east, 'default', 'podinfo-north');
    await gone(east, 'podinfo-west');
  });

  it('a Link retargeted while the controller was down: the old mirrors go at start-up, with their egress ports', async () => {
    const { world, east, north } = await eastLinkedToWest();
    const first = world.controller('east');
    await waitReady(east, 'default', 'podinfo-west');
    await first.stop();

    await retargetToNorth(east, north);
    const { ctl } = world.controller('east');
    await waitReady(east, 'default', 'podinfo-north');
    await waitFor(
      async () =>
        !(await getService(east, 'default', 'podinfo-west')) &&
        ctl.allocator.owned(mirrorOwner('west', 'default', 'podinfo-west')).size === 0,
      { what: 'podinfo-west removed and its egress port freed' },
    );
  });

  it('a Link retargeted through an invalid edit: the old mirrors go', async () => {
    const { world, east, north } = await eastLinkedToWest();
    world.controller('east');
    await waitReady(east, 'default', 'podinfo-west');

    await editLinkSpec(east, 'west', (spec) => ({
      ...spec,
      targetClusterName: 'north',
      gatewayAddress: ' , ',
    }));
    await waitFor(async () => condition(await getLink(east, 'west'), 'Ready')?.reason === 'LinkInvalid', {
      what: 'LinkInvalid',
    });
    await retargetToNorth(east, north, { gatewayAddress: '10.1.0.1' });
    await waitReady(east, 'default', 'podinfo-north');
    await gone(east, 'podinfo-west');
  });

  it('a second Link to a linked cluster is invalid and touches no mirror; it takes them over when the first goes', async () => {
    const world = await startWorld(['east', 'west']);
    const [east, west] = [world.c('east'), world.c('west')];
    await exportService(west, 'web', { ready: 1, labels: { tier: 'web' } });
    await exportService(west, 'db', { ready: 1, labels: { tier: 'db' } });
    await link(east, west, 'west');
    const { ctl } = world.controller('east');
    await waitReady(east, 'default', 'web-west');
    await waitReady(east, 'default', 'db-west');
    const uids = async () =>
      Promise.all(
        ['web-west', 'db-west'].map(async (n) => (await getService(east, 'default', n))?.metadata?.uid),
      );
    await waitFor(async () => condition(await getLink(east, 'west'), 'Ready')?.status === 'True', {
      what: 'first Link ready',
    });
    const before = await uids();

    const secret = await credentialsSecret(east, west, 'creds-west-web');
    await east.client.create<Link>(
      R.links,
      linkObject(
        'west',
        {
          clusterCredentialsSecret: secret,
          selector: { matchLabels: { 'mirror.linkerd.io/exported': 'true', tier: 'web' } },
        },
        'west-web',
      ),
    );
    const ready = await waitFor(
      async () => {
        const c = condition(await getLink(east, 'west-web'), 'Ready');
        return c?.reason === 'LinkInvalid' ? c : undefined;
      },
      { what: 'second Link invalid' },
    );
    expect(ready.message).toMatch(/already linked by Link isthmus-system\/west\b/);
    expect(ctl.manager()?.watcher(SYSTEM_NAMESPACE, 'west-web')).toBeUndefined();
    expect(await uids()).toEqual(before);
    expect(condition(await getLink(east, 'west'), 'Ready')?.status).toBe('True');

    // The first Link goes: the second adopts the mirrors its selector picks (same Service, same
    // cluster IP) and removes the rest.
    await east.client.delete(R.links, SYSTEM_NAMESPACE, 'west');
    await gone(east, 'db-west');
    await waitFor(async () => condition(await getLink(east, 'west-web'), 'Ready')?.status === 'True', {
      what: 'second Link ready',
    });
    expect((await getService(east, 'default', 'web-west'))?.metadata?.uid).toBe(before[0]);
  });
});

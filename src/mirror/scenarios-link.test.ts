import { describe, expect, it } from 'vitest';
import { REMOTE_GATEWAY_ANNOTATION } from '../kube/keys.js';
import { R } from '../kube/resources.js';
import type { Link } from '../kube/types.js';
import { linkObject } from './test-builders.js';
import {
  condition,
  credentialsSecret,
  editLinkSpec,
  exportService,
  getLink,
  getService,
  link,
  mirrorsOf,
  waitFor,
  waitReady,
  worldPerTest,
} from './test-harness.js';

const startWorld = worldPerTest();

describe('Link behaviour', () => {
  it('a selector edit re-lists the remote and removes only what no longer matches', async () => {
    const world = await startWorld(['east', 'west']);
    const [east, west] = [world.c('east'), world.c('west')];
    await exportService(west, 'web', { ready: 1, labels: { tier: 'web' } });
    await exportService(west, 'db', { ready: 1, labels: { tier: 'db' } });
    await link(east, west, 'west');
    world.controller('east');
    await waitReady(east, 'default', 'web-west');
    await waitReady(east, 'default', 'db-west');
    const webUid = (await getService(east, 'default', 'web-west'))?.metadata?.uid;

    await editLinkSpec(east, 'west', (spec) => ({
      ...spec,
      selector: { matchLabels: { 'mirror.linkerd.io/exported': 'true', tier: 'web' } },
    }));
    await waitFor(async () => !(await getService(east, 'default', 'db-west')), { what: 'db mirror removed' });
    expect((await getService(east, 'default', 'web-west'))?.metadata?.uid).toBe(webUid);

    // An empty selector mirrors nothing.
    await editLinkSpec(east, 'west', (spec) => ({ ...spec, selector: {} }));
    await waitFor(async () => (await mirrorsOf(east, 'west')).length === 0, { what: 'all mirrors removed' });
  });

  it('reports missing credentials, then connects once the Secret appears', async () => {
    const world = await startWorld(['east', 'west']);
    const [east, west] = [world.c('east'), world.c('west')];
    await exportService(west, 'podinfo', { ready: 1 });
    await east.client.create<Link>(R.links, linkObject('west', { clusterCredentialsSecret: 'creds-west' }));
    world.controller('east');
    await waitFor(
      async () => condition(await getLink(east, 'west'), 'Ready')?.reason === 'CredentialsUnavailable',
      {
        what: 'CredentialsUnavailable',
      },
    );
    await credentialsSecret(east, west, 'creds-west');
    await waitReady(east, 'default', 'podinfo-west', true, 15_000);
    await waitFor(async () => condition(await getLink(east, 'west'), 'Ready')?.status === 'True');
  });

  it('re-resolves a gateway hostname periodically and follows its address', async () => {
    const world = await startWorld(['east', 'west']);
    const [east, west] = [world.c('east'), world.c('west')];
    await exportService(west, 'podinfo', { ready: 1 });
    await link(east, west, 'west', { gatewayAddress: 'gw.west.example' });
    let ip = '10.5.0.1';
    world.controller('east', {
      resolve: async (host) => (host === 'gw.west.example' ? [ip] : []),
      resolveIntervalMs: 50,
    });
    const annotation = async () =>
      (await getService(east, 'default', 'podinfo-west'))?.metadata?.annotations?.[REMOTE_GATEWAY_ANNOTATION];
    await waitFor(async () => (await annotation()) === '10.5.0.1:4143', { what: 'resolved address' });
    ip = '10.5.0.2';
    await waitFor(async () => (await annotation()) === '10.5.0.2:4143', { what: 're-resolved address' });
  });

  it('retargeting a Link to another cluster replaces the old mirrors with the new ones', async () => {
    const world = await startWorld(['east', 'west', 'north']);
    const [east, west, north] = [world.c('east'), world.c('west'), world.c('north')];
    await exportService(west, 'podinfo', { ready: 1 });
    await exportService(north, 'podinfo', { ready: 1 });
    await link(east, west, 'west');
    world.controller('east');
    await waitReady(east, 'default', 'podinfo-west');
    const secret = await credentialsSecret(east, north, 'cluster-credentials-north');
    await editLinkSpec(east, 'west', (spec) => ({
      ...spec,
      targetClusterName: 'north',
      clusterCredentialsSecret: secret,
    }));
    await waitReady(east, 'default', 'podinfo-north');
    await waitFor(async () => !(await getService(east, 'default', 'podinfo-west')), {
      what: 'old mirror removed',
    });
  });
});

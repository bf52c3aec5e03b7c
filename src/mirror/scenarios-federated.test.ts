import { describe, expect, it } from 'vitest';
import { updateWithRetry } from '../kube/apply.js';
import { FEDERATED_LABEL, FEDERATED_MEMBER, FEDERATION_LABEL } from '../kube/keys.js';
import { R } from '../kube/resources.js';
import type { V1Service } from '../kube/types.js';
import {
  type Cluster,
  editLinkSpec,
  exportService,
  getService,
  link,
  mirrorsOf,
  waitFor,
  waitReady,
  worldPerTest,
} from './test-harness.js';

const member = { [FEDERATED_LABEL]: FEDERATED_MEMBER };

const startWorld = worldPerTest();

/** Drops the federated member label from a remote Service, as a user leaving the federation would. */
async function leaveFederation(remote: Cluster, name: string): Promise<void> {
  await updateWithRetry<V1Service>(remote.client, R.services, 'default', name, (svc) => {
    const { [FEDERATED_LABEL]: _gone, ...labels } = svc.metadata?.labels ?? {};
    return { ...svc, metadata: { ...svc.metadata, labels } };
  });
}

async function federationOf(local: Cluster, mirror: string): Promise<string | undefined> {
  return (await getService(local, 'default', mirror))?.metadata?.labels?.[FEDERATION_LABEL];
}

/** East mirrors west's `pay` (a federated member only) and `web` (exported and a member). */
async function federatedWorld(): Promise<{ east: Cluster; west: Cluster }> {
  const world = await startWorld(['east', 'west']);
  const [east, west] = [world.c('east'), world.c('west')];
  await exportService(west, 'pay', { ready: 1, exported: false, labels: member });
  await exportService(west, 'web', { ready: 1, labels: member });
  await link(east, west, 'west');
  world.controller('east');
  await waitReady(east, 'default', 'pay-west');
  await waitReady(east, 'default', 'web-west');
  return { east, west };
}

describe('federated members', () => {
  it('mirrors remote members with their federation label, and follows them leaving', async () => {
    const { east, west } = await federatedWorld();
    expect(await federationOf(east, 'pay-west')).toBe('pay');
    expect(await federationOf(east, 'web-west')).toBe('web');
    // Exported and a member: one mirror, not two.
    expect((await mirrorsOf(east, 'west')).map((s) => s.metadata?.name).sort()).toEqual([
      'pay-west',
      'web-west',
    ]);
    const webUid = (await getService(east, 'default', 'web-west'))?.metadata?.uid;

    await leaveFederation(west, 'web');
    await waitFor(async () => (await federationOf(east, 'web-west')) === undefined, {
      what: 'web-west loses its federation label',
    });
    expect((await getService(east, 'default', 'web-west'))?.metadata?.uid).toBe(webUid);

    await leaveFederation(west, 'pay');
    await waitFor(async () => !(await getService(east, 'default', 'pay-west')), {
      what: 'pay-west deleted',
    });
    await waitReady(east, 'default', 'web-west');
  });

  it('an empty federatedServiceSelector on the Link stops mirroring members', async () => {
    const { east } = await federatedWorld();
    await editLinkSpec(east, 'west', (spec) => ({ ...spec, federatedServiceSelector: {} }));
    await waitFor(async () => !(await getService(east, 'default', 'pay-west')), {
      what: 'pay-west deleted',
    });
    await waitFor(async () => (await federationOf(east, 'web-west')) === undefined, {
      what: 'web-west loses its federation label',
    });
    await waitReady(east, 'default', 'web-west');
  });
});

import { describe, expect, it } from 'vitest';
import { updateWithRetry } from '../kube/apply.js';
import {
  EXPORTED_LABEL,
  FEDERATED_LABEL,
  FEDERATED_MEMBER,
  FEDERATED_SERVICE_LABEL,
  FEDERATION_LABEL,
  FEDERATION_MEMBERS_ANNOTATION,
  SYSTEM_NAMESPACE,
} from '../kube/keys.js';
import { R } from '../kube/resources.js';
import type { CoreV1Event, V1Service } from '../kube/types.js';
import {
  type Cluster,
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

  it("west's own federated Service, exported by hand, is not mirrored, and the Link says why", async () => {
    const { east, west } = await federatedWorld();
    // `web-federated` as west's federation controller writes it, then labelled exported by hand.
    await west.client.create(R.services, {
      metadata: {
        name: 'web-federated',
        namespace: 'default',
        labels: { [FEDERATED_SERVICE_LABEL]: 'true', [EXPORTED_LABEL]: 'true' },
        annotations: { [FEDERATION_MEMBERS_ANNOTATION]: 'west' },
      },
      spec: { type: 'ClusterIP', ports: [{ name: 'http', port: 80, protocol: 'TCP' }] },
    });
    const message =
      'the Service is a federated Service that Isthmus made in west (isthmus.dev/federated-service): only its members are mirrored';
    const entry = await waitFor(
      async () => (await getLink(east, 'west'))?.status?.services?.find((s) => s.name === 'web-federated'),
      { what: 'web-federated in the Link status' },
    );
    expect(entry).toEqual({ namespace: 'default', name: 'web-federated', reason: 'OwnedByIsthmus', message });
    expect(await getService(east, 'default', 'web-federated-west')).toBeUndefined();
    await waitFor(
      async () => {
        const events = await east.client.list<CoreV1Event>(R.events, { namespace: SYSTEM_NAMESPACE });
        return events.items.some(
          (e) =>
            e.type === 'Warning' &&
            e.reason === 'OwnedByIsthmus' &&
            e.message === `default/web-federated: ${message}`,
        );
      },
      { what: 'OwnedByIsthmus Warning event' },
    );
    // The members are mirrored as before.
    expect((await mirrorsOf(east, 'west')).map((s) => s.metadata?.name).sort()).toEqual([
      'pay-west',
      'web-west',
    ]);
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

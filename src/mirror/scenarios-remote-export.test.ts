/**
 * What of a remote export the mirror controller takes into account. Exports that name the clusters
 * they admit (`isthmus.dev/allowed-clusters`): a controller that knows it is `east` mirrors only
 * exports that admit east, reports the others as NotAllowed (a Normal event, not a Warning: it is
 * the owner's choice), and follows the annotation as it changes. And only the remote Service's own
 * endpoints count: slices Isthmus wrote there (a split's apex) never make a mirror ready.
 */
import { describe, expect, it } from 'vitest';
import {
  ALLOWED_CLUSTERS_ANNOTATION,
  MANAGED_BY_FAILOVER,
  MANAGED_BY_LABEL,
  SERVICE_NAME_LABEL,
} from '../kube/keys.js';
import { R } from '../kube/resources.js';
import type { CoreV1Event } from '../kube/types.js';
import {
  type Cluster,
  exportService,
  getLink,
  getService,
  getSlice,
  link,
  setRemoteEndpoints,
  waitFor,
  waitReady,
  worldPerTest,
} from './test-harness.js';

const startWorld = worldPerTest();

const allow = (clusters: string) => ({ annotations: { [ALLOWED_CLUSTERS_ANNOTATION]: clusters } });
const reasonOf = async (east: Cluster, name: string) =>
  (await getLink(east, 'west'))?.status?.services?.find((s) => s.name === name)?.reason;

describe('exports restricted to some clusters', () => {
  it('mirrors what admits east, reports the rest as NotAllowed, and follows the annotation', async () => {
    const world = await startWorld(['east', 'west']);
    const [east, west] = [world.c('east'), world.c('west')];
    await exportService(west, 'open', { ready: 1 });
    await exportService(west, 'ours', { ready: 1, ...allow('east,north') });
    await exportService(west, 'theirs', { ready: 1, ...allow('north') });
    await link(east, west, 'west');
    world.controller('east', { cluster: 'east' });

    await waitReady(east, 'default', 'open-west');
    await waitReady(east, 'default', 'ours-west');
    await waitFor(async () => (await reasonOf(east, 'theirs')) === 'NotAllowed', {
      what: 'theirs NotAllowed',
    });
    expect(await getService(east, 'default', 'theirs-west')).toBeUndefined();
    // The allow-list is the remote Service's business: not copied onto the mirror.
    const ours = await getService(east, 'default', 'ours-west');
    expect(ours?.metadata?.annotations?.[ALLOWED_CLUSTERS_ANNOTATION]).toBeUndefined();
    const events = (await east.client.list<CoreV1Event>(R.events, { namespace: 'isthmus-system' })).items;
    expect(events.find((e) => e.reason === 'NotAllowed')).toMatchObject({
      type: 'Normal',
      message:
        'default/theirs: the Service admits only cluster(s) north (isthmus.dev/allowed-clusters), not east',
    });

    // Admitting east brings the mirror; withdrawing it takes the mirror away again.
    await west.client.patch(R.services, 'default', 'theirs', { metadata: allow('north,east') });
    await waitReady(east, 'default', 'theirs-west');
    await west.client.patch(R.services, 'default', 'ours', { metadata: allow('north') });
    await waitFor(async () => !(await getService(east, 'default', 'ours-west')), {
      what: 'ours-west deleted',
    });
    await waitReady(east, 'default', 'open-west');
  });

  it("counts only a remote Service's own endpoints: an apex slice Isthmus wrote there never makes its mirror ready", async () => {
    const world = await startWorld(['east', 'west']);
    const [east, west] = [world.c('east'), world.c('west')];
    await exportService(west, 'podinfo', { ready: 1 });
    // West's failover controller steers its podinfo to a backup: a slice listing west's own gateway.
    await west.client.create(R.endpointSlices, {
      metadata: {
        name: 'podinfo-isthmus-podinfo-north',
        namespace: 'default',
        labels: { [SERVICE_NAME_LABEL]: 'podinfo', [MANAGED_BY_LABEL]: MANAGED_BY_FAILOVER },
      },
      addressType: 'IPv4',
      endpoints: [{ addresses: ['10.0.0.9'], conditions: { ready: true } }],
      ports: [{ name: 'http', port: 20001, protocol: 'TCP' }],
    });
    await link(east, west, 'west');
    world.controller('east', { cluster: 'east' });
    await waitReady(east, 'default', 'podinfo-west');

    // West's pods go: only the apex slice has a ready endpoint now, and east must not count it.
    await setRemoteEndpoints(west, 'default', 'podinfo', 0);
    await waitFor(async () => (await getSlice(east, 'default', 'podinfo-west'))?.endpoints?.length === 0, {
      what: 'podinfo-west without endpoints',
    });
  });
});

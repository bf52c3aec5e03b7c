import { describe, expect, it } from 'vitest';
import { SYSTEM_NAMESPACE } from '../kube/keys.js';
import { R } from '../kube/resources.js';
import {
  condition,
  eastMirrorsWest,
  editLinkSpec,
  exportService,
  getLink,
  link,
  metricValue,
  mirrorsOf,
  remoteGatewayOf,
  setRemoteGatewayLB,
  waitFor,
  waitReady,
  worldPerTest,
} from './test-harness.js';

const startWorld = worldPerTest();

const fastProbe = { probeSpec: { period: '100ms', timeout: '500ms', failureThreshold: 2 } };

describe('mirror controller under failures', () => {
  it('marks endpoints not ready while the remote gateway is dead, ready again when it answers', async () => {
    const world = await startWorld(['east', 'west']);
    const { east, ctl } = await eastMirrorsWest(world, 'podinfo', fastProbe);

    world.probe.dead.add('10.1.0.1:4143');
    await waitReady(east, 'default', 'podinfo-west', false);
    await waitFor(async () => condition(await getLink(east, 'west'), 'GatewayAlive')?.status === 'False');
    expect(await metricValue(ctl.registry, 'gateway_alive', { target_cluster_name: 'west' })).toBe(0);

    world.probe.dead.clear();
    await waitReady(east, 'default', 'podinfo-west', true);
    await waitFor(async () => condition(await getLink(east, 'west'), 'GatewayAlive')?.status === 'True');
    expect(await metricValue(ctl.registry, 'gateway_alive', { target_cluster_name: 'west' })).toBe(1);
    expect(
      await metricValue(ctl.registry, 'isthmus_mirrored_services', { target_cluster_name: 'west' }),
    ).toBe(1);
  });

  it('a dead gateway no longer linked (Link deleted, or left without a gateway) leaves no gateway_alive series', async () => {
    const world = await startWorld(['east', 'west', 'north']);
    const [east, west, north] = [world.c('east'), world.c('west'), world.c('north')];
    await link(east, west, 'west', fastProbe);
    await link(east, north, 'north', fastProbe);
    const { ctl } = world.controller('east');
    world.probe.dead.add('*');
    const alive = (cluster: string) =>
      metricValue(ctl.registry, 'gateway_alive', { target_cluster_name: cluster });
    await waitFor(async () => (await alive('west')) === 0 && (await alive('north')) === 0, {
      what: 'both gateways dead',
    });
    await editLinkSpec(east, 'west', ({ gatewayAddress: _gone, probeSpec: _p, ...spec }) => spec);
    await waitFor(async () => (await alive('west')) === undefined, { what: "west's series removed" });
    await east.client.delete(R.links, SYSTEM_NAMESPACE, 'north');
    await waitFor(async () => (await alive('north')) === undefined, { what: "north's series removed" });
  });

  it("follows the remote gateway's LoadBalancer address and probes the new one", async () => {
    const world = await startWorld(['east', 'west']);
    const { east, west } = await eastMirrorsWest(world, 'podinfo', fastProbe);
    const annotation = () => remoteGatewayOf(east, 'default', 'podinfo-west');
    expect(await annotation()).toBe('10.1.0.1:4143');

    await setRemoteGatewayLB(west, ['10.2.0.7']);
    await waitFor(async () => (await annotation()) === '10.2.0.7:4143', { what: 'LB address followed' });
    await waitFor(() => world!.probe.seen.includes('10.2.0.7:4143'), { what: 'new address probed' });

    // The new address is dead: readiness follows the gateway the mirror now leads to.
    world.probe.dead.add('10.2.0.7:4143');
    await waitReady(east, 'default', 'podinfo-west', false);
    await setRemoteGatewayLB(west, ['10.2.0.8']);
    await waitFor(async () => (await annotation()) === '10.2.0.8:4143');
    await waitReady(east, 'default', 'podinfo-west', true);

    // A dual-stack remote LB lists IPv6 first; east is an IPv4 cluster, so its gateway dials IPv4.
    await setRemoteGatewayLB(west, ['fd00:2::9', '10.2.0.9']);
    await waitFor(async () => (await annotation()) === '10.2.0.9:4143', { what: "the LB's IPv4 address" });
  });

  it('keeps mirrors through dropped watches, 410s, 500s and an offline remote API; none lost or duplicated', async () => {
    const world = await startWorld(['east', 'west'], { watchWindow: 5 });
    const [east, west] = [world.c('east'), world.c('west')];
    for (const name of ['a', 'b', 'c']) await exportService(west, name, { ready: 1 });
    await link(east, west, 'west');
    const { ctl } = world.controller('east');
    await waitFor(async () => (await mirrorsOf(east, 'west')).length === 3, { what: '3 mirrors' });

    // Dropped watches while more than the watch window of writes happens: resume gives 410 → relist.
    west.sandbox.faults.dropWatches();
    await exportService(west, 'd', { ready: 1 });
    await west.client.delete(R.services, 'default', 'a');
    for (let i = 0; i < 8; i++) {
      await west.client.create(R.configMaps, { metadata: { name: `noise-${i}`, namespace: 'default' } });
    }
    await waitFor(
      async () =>
        (await mirrorsOf(east, 'west'))
          .map((s) => s.metadata?.name)
          .sort()
          .join() === 'b-west,c-west,d-west',
      { what: 'converged after 410' },
    );

    // A burst of 500s, then the API goes away entirely.
    west.sandbox.faults.failNext(5, 500);
    west.sandbox.faults.dropWatches();
    await west.sandbox.faults.goOffline();
    await waitFor(
      async () => condition(await getLink(east, 'west'), 'RemoteAPIAvailable')?.status === 'False',
      {
        what: 'RemoteAPIAvailable=False',
      },
    );
    expect(await metricValue(ctl.registry, 'isthmus_remote_api_up', { target_cluster_name: 'west' })).toBe(0);
    expect((await mirrorsOf(east, 'west')).length).toBe(3);

    await west.sandbox.faults.goOnline();
    await waitFor(
      async () => condition(await getLink(east, 'west'), 'RemoteAPIAvailable')?.status === 'True',
      {
        what: 'RemoteAPIAvailable=True',
      },
    );
    await exportService(west, 'e', { ready: 1 });
    await waitFor(async () => (await mirrorsOf(east, 'west')).length === 4, { what: 'mirror after outage' });
    const names = (await mirrorsOf(east, 'west')).map((s) => s.metadata?.name).sort();
    expect(names).toEqual(['b-west', 'c-west', 'd-west', 'e-west']);
    expect(await metricValue(ctl.registry, 'isthmus_remote_api_up', { target_cluster_name: 'west' })).toBe(1);
  });

  it('counts failed syncs in isthmus_mirror_sync_errors_total and retries them into a mirror', async () => {
    const world = await startWorld(['east', 'west']);
    const [east, west] = [world.c('east'), world.c('west')];
    await exportService(west, 'a', { ready: 1 });
    await link(east, west, 'west');
    const { ctl } = world.controller('east');
    await waitFor(async () => (await mirrorsOf(east, 'west')).length === 1, { what: 'the first mirror' });
    const ofWest = { target_cluster_name: 'west' };
    const errors = async () =>
      (await metricValue(ctl.registry, 'isthmus_mirror_sync_errors_total', ofWest)) ?? 0;
    expect(await errors()).toBe(0);
    const syncs = async () => (await metricValue(ctl.registry, 'isthmus_mirror_syncs_total', ofWest)) ?? 0;
    const syncsBefore = await syncs();
    expect(syncsBefore).toBeGreaterThan(0);

    // The local API server fails the next writes: the new mirror's sync fails, is counted, retried.
    east.sandbox.faults.failNext(3, 500);
    await exportService(west, 'b', { ready: 1 });
    await waitFor(async () => (await errors()) >= 1, { what: "a counted sync error of west's Link" });
    await waitFor(async () => (await mirrorsOf(east, 'west')).length === 2, {
      what: 'the mirror after retries',
    });
    await waitReady(east, 'default', 'b-west');
    // b's syncs (the failed ones included: controller-runtime's reconcile_total) were counted.
    expect(await syncs()).toBeGreaterThan(syncsBefore);
  });
});

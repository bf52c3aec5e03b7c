import { afterEach, describe, expect, it } from 'vitest';
import { KubeClient } from '../kube/client.js';
import { EGRESS_PORTS_ANNOTATION } from '../kube/keys.js';
import { R } from '../kube/resources.js';
import { SYNC_DEADLINE_MS, within } from '../kube/test-support.js';
import { electLeader } from './leadership.js';
import { Leadership } from './shared.js';
import {
  condition,
  exportService,
  getLink,
  link,
  metricValue,
  mirrorsOf,
  World,
  waitFor,
  waitReady,
} from './test-harness.js';

let world: World | undefined;
const closers: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
  await world?.close();
  world = undefined;
});

function egressPorts(svcs: Awaited<ReturnType<typeof mirrorsOf>>) {
  return Object.fromEntries(
    svcs.map((s) => [s.metadata?.name, s.metadata?.annotations?.[EGRESS_PORTS_ANNOTATION]]),
  );
}

describe('restarts and replicas', () => {
  it('a controller stopped mid-sync converges after restart, and a restart in sync writes nothing', async () => {
    world = await World.start(['east', 'west']);
    const [east, west] = [world.c('east'), world.c('west')];
    const names = Array.from({ length: 12 }, (_, i) => `svc-${i}`);
    for (const n of names) await exportService(west, n, { ready: 1 });
    await link(east, west, 'west');

    const first = world.controller('east');
    await waitFor(async () => (await mirrorsOf(east, 'west')).length >= 1, { what: 'first mirror' });
    await first.stop(); // mid-sync: some mirrors exist, some not
    const second = world.controller('east');
    await waitFor(async () => (await mirrorsOf(east, 'west')).length === names.length, {
      what: 'all mirrors',
    });
    for (const n of names) await waitReady(east, 'default', `${n}-west`);
    const watcher = () => second.ctl.manager()?.watcher('isthmus-system', 'west');
    await waitFor(async () => condition(await getLink(east, 'west'), 'GatewayAlive')?.status === 'True');
    await waitFor(() => watcher()?.settled());
    const ports = egressPorts(await mirrorsOf(east, 'west'));
    expect(new Set(Object.values(ports)).size).toBe(names.length); // unique

    await second.stop();
    const writesBefore = east.sandbox.stats().writes;
    const third = world.controller('east');
    await waitFor(() => third.ctl.manager()?.watcher('isthmus-system', 'west')?.settled(), {
      what: 'settled',
    });
    expect(east.sandbox.stats().writes).toBe(writesBefore);
    expect(egressPorts(await mirrorsOf(east, 'west'))).toEqual(ports);
    // Mirrors found ready are not new exports: the export-to-ready histogram stays empty.
    const hist = (await third.ctl.registry.getMetricsAsJSON()).find(
      (m) => m.name === 'isthmus_export_to_ready_seconds',
    );
    expect(
      hist?.values.find((v) => (v as { metricName?: string }).metricName?.endsWith('_count'))?.value ?? 0,
    ).toBe(0);
  });

  it('a controller restarted while the remote API is down counts the mirrors that exist, not 0', async () => {
    world = await World.start(['east', 'west']);
    const [east, west] = [world.c('east'), world.c('west')];
    const names = ['a', 'b', 'c'];
    for (const n of names) await exportService(west, n, { ready: 1 });
    await link(east, west, 'west');
    const first = world.controller('east');
    for (const n of names) await waitReady(east, 'default', `${n}-west`);
    await waitFor(async () => (await getLink(east, 'west'))?.status?.mirroredServices === 3, {
      what: 'status counts 3',
    });
    await first.stop();

    await west.sandbox.faults.goOffline();
    const second = world.controller('east');
    // The mirrors stay and serve; until the remote can be listed they are what there is to count.
    const written = await waitFor(
      async () => {
        const l = await getLink(east, 'west');
        return condition(l, 'RemoteAPIAvailable')?.status === 'False' ? l : undefined;
      },
      { what: 'RemoteAPIAvailable=False written' },
    );
    expect(written.status?.mirroredServices).toBe(3);
    expect(
      await metricValue(second.ctl.registry, 'isthmus_mirrored_services', { target_cluster_name: 'west' }),
    ).toBe(3);
  });

  it('links to two remote clusters with unique egress ports', async () => {
    world = await World.start(['east', 'west', 'north']);
    const [east, west, north] = [world.c('east'), world.c('west'), world.c('north')];
    await exportService(west, 'podinfo', { ready: 1 });
    await exportService(north, 'podinfo', { ready: 1 });
    await link(east, west, 'west');
    await link(east, north, 'north');
    world.controller('east');
    await waitReady(east, 'default', 'podinfo-west');
    await waitReady(east, 'default', 'podinfo-north');
    const all = [...(await mirrorsOf(east, 'west')), ...(await mirrorsOf(east, 'north'))];
    const ports = all.map((s) => s.metadata?.annotations?.[EGRESS_PORTS_ANNOTATION]);
    expect(new Set(ports).size).toBe(2);
  });

  it('two replicas: only the Lease holder writes; the other takes over when it stops', async () => {
    world = await World.start(['east', 'west']);
    const [east, west] = [world.c('east'), world.c('west')];
    await exportService(west, 'podinfo', { ready: 1 });
    await link(east, west, 'west');
    const replica = () => {
      const electionClient = KubeClient.fromKubeconfigString(east.sandbox.kubeconfig());
      // Long enough that a leader stalled for seconds on a loaded machine keeps the Lease (the
      // follower must make no write); the takeover below needs no expiry: a stopped leader releases it.
      const { leadership, elector } = electLeader(electionClient, {
        leaseDurationSeconds: 10,
        renewDeadlineMs: 7_000,
        retryPeriodMs: 200,
      });
      const ctl = world!.controller('east', { leadership });
      const stop = async () => {
        await ctl.stop();
        await elector.stop();
        electionClient.close();
      };
      closers.push(stop);
      return { ctl, leadership, stop };
    };
    const a = replica();
    const b = replica();
    await waitReady(east, 'default', 'podinfo-west');
    const [leader, follower] = a.leadership.isLeader() ? [a, b] : [b, a];
    expect(follower.leadership.isLeader()).toBe(false);
    const writes = (c: typeof a) => {
      const v = c.ctl.client.stats().byVerb;
      return (v.create ?? 0) + (v.update ?? 0) + (v.patch ?? 0) + (v.delete ?? 0);
    };
    expect(writes(leader)).toBeGreaterThan(0);
    expect(writes(follower)).toBe(0);

    await leader.stop();
    await waitFor(() => follower.leadership.isLeader(), { what: 'takeover' });
    await exportService(west, 'api', { ready: 1 });
    await waitReady(east, 'default', 'api-west');
    expect(writes(follower)).toBeGreaterThan(0);
  });

  it('a follower that takes over keeps the egress ports of mirrors the old leader made after it started', async () => {
    world = await World.start(['east', 'west']);
    const [east, west] = [world.c('east'), world.c('west')];
    await link(east, west, 'west');
    const followerLeadership = new Leadership(false);
    const follower = world.controller('east', { leadership: followerLeadership });
    await within(follower.ctl.ready, SYNC_DEADLINE_MS, 'the follower ready');
    const leader = world.controller('east', { leadership: new Leadership(true) });
    await within(leader.ctl.ready, SYNC_DEADLINE_MS, 'the leader ready');
    // Made by the leader after the follower recovered its (empty) ports at start-up; a's removal
    // leaves the first port free, where a renumbering would start.
    for (const n of ['a', 'b', 'c']) await exportService(west, n, { ready: 1 });
    for (const n of ['a', 'b', 'c']) await waitReady(east, 'default', `${n}-west`);
    await west.client.delete(R.services, 'default', 'a');
    await waitFor(async () => (await mirrorsOf(east, 'west')).length === 2, { what: 'a-west removed' });
    const before = egressPorts(await mirrorsOf(east, 'west'));
    expect(before).toEqual({ 'b-west': 'http=20001', 'c-west': 'http=20002' });

    await leader.stop();
    followerLeadership.set(true);
    // A new export mirrored shows the new leader at work; settled, it has synced b and c too.
    await exportService(west, 'd', { ready: 1 });
    await waitReady(east, 'default', 'd-west');
    await waitFor(() => follower.ctl.manager()?.watcher('isthmus-system', 'west')?.settled(), {
      what: 'new leader settled',
    });
    const after = egressPorts(await mirrorsOf(east, 'west'));
    expect(after).toMatchObject(before);
    expect(['http=20001', 'http=20002']).not.toContain(after['d-west']);
  });
});

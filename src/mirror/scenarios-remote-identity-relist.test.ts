/**
 * The remote's identity is checked again whenever its watches break or re-list, not only when a
 * connection is made: after an outage, the API address a Link's credentials name (a DNS name, a
 * load balancer's IP) may answer as another cluster, and kubeconfig CA pinning does not catch that
 * under a shared CA or insecure-skip-tls-verify. Whatever that cluster lists is never applied: no
 * mirror is created, rewritten or deleted, the Link says RemoteClusterMismatch, and the right
 * cluster back (or its label fixed) resumes on the same mirrors.
 */
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { KubeClient } from '../kube/client.js';
import { REMOTE_KUBECONFIG_KEY, REMOTE_KUBECONFIG_SECRET_TYPE, SYSTEM_NAMESPACE } from '../kube/keys.js';
import { R } from '../kube/resources.js';
import type { V1Service } from '../kube/types.js';
import { startSandbox } from '../sandbox/index.js';
import { linkObject } from './test-builders.js';
import {
  askedAgain,
  type Cluster,
  closeCluster,
  condition,
  expectWestRefused,
  exportService,
  getLink,
  getService,
  installedAs,
  link,
  linkReadyReason,
  metricValue,
  mirrorStates,
  recordWestMirrors,
  type World,
  waitFor,
  waitReady,
  worldPerTest,
} from './test-harness.js';

const startWorld = worldPerTest();
const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const readyReason = (c: Cluster, reason: string) => linkReadyReason(c, 'west', reason);

/**
 * Starts east's controller and waits until west's podinfo and api are mirrored; from then on
 * records the mirrors and every event of podinfo-west, which must not change.
 */
async function mirroring(world: World, east: Cluster) {
  const { ctl } = world.controller('east');
  for (const name of ['podinfo-west', 'api-west']) await waitReady(east, 'default', name);
  await readyReason(east, 'Synced');
  return { ctl, ...(await recordWestMirrors(east, cleanups)) };
}

/** Waits until the remote has answered `n` more requests: the controller asked it again, `n` times. */
/** The mismatch as the Link, its Event and its metric say it (the same as on a new connection). */
async function expectMismatch(east: Cluster, registry: Parameters<typeof metricValue>[0], installed: string) {
  await expectWestRefused(
    east,
    registry,
    'RemoteClusterMismatch',
    new RegExp(`which was installed as cluster "${installed}"`),
  );
}

/**
 * A TCP front for an API server, as a DNS name or load balancer is: `pointAt` sends new connections
 * elsewhere and cuts the open ones, as a failover of the address does.
 */
async function addressFront(target: string): Promise<{ url: string; pointAt(t: string): void }> {
  let upstream = new URL(target);
  const open = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const remote = net.connect(Number(upstream.port), upstream.hostname);
    for (const s of [client, remote]) {
      open.add(s);
      s.on('close', () => open.delete(s));
      s.on('error', () => {
        client.destroy();
        remote.destroy();
      });
    }
    client.pipe(remote).pipe(client);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  cleanups.push(() => {
    for (const s of open) s.destroy();
    return new Promise((r) => server.close(r));
  });
  return {
    url: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`,
    pointAt: (t) => {
      upstream = new URL(t);
      for (const s of open) s.destroy();
    },
  };
}

describe("the remote's identity is checked again when its watches re-list", () => {
  it('relabelled, then re-listed after a 410: nothing it lists is applied, RemoteClusterMismatch; the label fixed, mirroring resumes on the same mirrors', async () => {
    const world = await startWorld(['east', 'west'], { watchWindow: 5 });
    const [east, west] = [world.c('east'), world.c('west')];
    await installedAs(west, 'west');
    for (const name of ['podinfo', 'api']) await exportService(west, name, { ready: 1 });
    await link(east, west, 'west');
    const { ctl, before, recorded, seen } = await mirroring(world, east);

    // The API now says it is "north"; its watches are cut, and more writes than the watch window
    // follow, so a watch resumed from before is 410 Gone and re-lists.
    await installedAs(west, 'north');
    west.sandbox.faults.dropWatches();
    for (let i = 0; i < 8; i++)
      await west.client.create(R.configMaps, { metadata: { name: `noise-${i}`, namespace: 'default' } });
    await expectMismatch(east, ctl.registry, 'north');

    // What "north" lists now: one export gone, one new, one changed. None of it is applied.
    await west.client.delete(R.services, 'default', 'api');
    await exportService(west, 'late', { ready: 1 });
    const podinfo = await getService(west, 'default', 'podinfo');
    const changed = await west.client.replace<V1Service>(R.services, {
      ...podinfo,
      spec: { ...podinfo?.spec, ports: [...(podinfo?.spec?.ports ?? []), { name: 'grpc', port: 9999 }] },
    });
    await askedAgain(west.sandbox, 10);
    expect(await mirrorStates(east, 'west')).toEqual(before);
    expect(recorded.seen).toEqual(seen);
    expect((await getLink(east, 'west'))?.status?.mirroredServices).toBe(2);

    // The label fixed: west's list is believed again, and applied to the same mirrors.
    await installedAs(west, 'west');
    await readyReason(east, 'Synced');
    await waitFor(
      async () => {
        const now = await mirrorStates(east, 'west');
        const version = now['podinfo-west']?.version;
        return now['late-west'] && !now['api-west'] && version === changed.metadata?.resourceVersion;
      },
      { what: "west's changes applied" },
    );
    const after = await mirrorStates(east, 'west');
    expect(after['podinfo-west']).toMatchObject({
      uid: before['podinfo-west']?.uid,
      clusterIP: before['podinfo-west']?.clusterIP,
    });
  });

  it("the API address answers as another cluster after an outage: none of that cluster's Services mirrored, none of west's mirrors deleted or rewritten; west back at the address heals", async () => {
    const world = await startWorld(['east', 'west']);
    const [east, west] = [world.c('east'), world.c('west')];
    await installedAs(west, 'west');
    for (const name of ['podinfo', 'api']) await exportService(west, name, { ready: 1 });

    // North holds other Services, under credentials that work there too (a shared identity provider).
    const sandbox = await startSandbox({ name: 'north', tls: false, bookmarkIntervalMs: 200 });
    const north: Cluster = { sandbox, client: KubeClient.fromKubeconfigString(sandbox.kubeconfig()) };
    cleanups.push(() => closeCluster(north));
    await north.client.create(R.namespaces, { metadata: { name: SYSTEM_NAMESPACE } });
    await installedAs(north, 'north');
    await exportService(north, 'podinfo', { ready: 3 });
    await exportService(north, 'only-north', { ready: 1 });

    // West's API behind an address that can fail over to north.
    const front = await addressFront(west.sandbox.url);
    const token = 'reader-behind-the-address';
    for (const c of [west, north])
      c.sandbox.addToken(token, {
        username: 'remote-reader',
        rules: [{ verbs: ['get', 'list', 'watch'], resources: ['services', 'endpointslices', 'namespaces'] }],
      });
    const kubeconfig = west.sandbox
      .kubeconfig({ token, user: 'remote-reader' })
      .replace(west.sandbox.url, front.url);
    await east.client.create(R.secrets, {
      metadata: { name: 'cluster-credentials-west', namespace: SYSTEM_NAMESPACE },
      type: REMOTE_KUBECONFIG_SECRET_TYPE,
      stringData: { [REMOTE_KUBECONFIG_KEY]: kubeconfig },
    });
    await east.client.create(R.links, linkObject('west'));
    const { ctl, before, recorded, seen } = await mirroring(world, east);

    // The address fails over to north: every connection cut, new ones reach north.
    front.pointAt(north.sandbox.url);
    await expectMismatch(east, ctl.registry, 'north');
    await exportService(north, 'later-north', { ready: 1 });
    await askedAgain(north.sandbox, 10);
    expect(await mirrorStates(east, 'west')).toEqual(before);
    expect(recorded.seen).toEqual(seen);

    // West back at the address: the same mirrors, nothing of north.
    front.pointAt(west.sandbox.url);
    await readyReason(east, 'Synced');
    await waitFor(
      async () => condition(await getLink(east, 'west'), 'RemoteAPIAvailable')?.reason === 'Connected',
      { what: 'RemoteAPIAvailable=True/Connected' },
    );
    await waitFor(
      async () =>
        (await metricValue(ctl.registry, 'isthmus_remote_api_up', { target_cluster_name: 'west' })) === 1,
      { what: 'isthmus_remote_api_up 1' },
    );
    expect(await mirrorStates(east, 'west')).toEqual(before);
    expect(recorded.seen).toEqual(seen);
  });
});

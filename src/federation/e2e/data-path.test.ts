/**
 * A federated service on the data path, for a caller without a mesh: `cart` is a federation member
 * in east, west and north (in the remotes only that label: not exported). Requests to
 * `cart-federated` (through the kube-proxy stand-in) are answered by every cluster; a member that
 * loses its endpoints drops out. Real gateways admitting the federated members, real mTLS tunnels,
 * the real mirror controller mirroring them, the federation controller.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ServiceProxy } from '../../failover/e2e/service-proxy.js';
import { NS, SERVICE_PORT, startWorld, type World } from '../../failover/e2e/world.js';
import { endpointSlice, exportedService, httpGet } from '../../gateway/e2e/fixtures.js';
import { EventRecorder } from '../../kube/events.js';
import {
  FEDERATED_LABEL,
  FEDERATION_AFFINITY_ANNOTATION,
  FEDERATION_LABEL,
  MANAGED_BY_LABEL,
} from '../../kube/keys.js';
import { R } from '../../kube/resources.js';
import { synced } from '../../kube/test-support.js';
import type { V1Service } from '../../kube/types.js';
import { createLocalInformers, type LocalInformers } from '../../mirror/controller.js';
import { waitFor } from '../../mirror/test-wait.js';
import { type FederationController, runFederationController } from '../controller.js';

let world: World;
let informers: LocalInformers;
let federation: FederationController;
let proxy: ServiceProxy;

/** `cart`, a federation member and nothing else, served by the cluster's backend. */
async function addMember(cluster: World['east'], managedBy?: string): Promise<void> {
  const service = exportedService(NS, 'cart', SERVICE_PORT, false);
  service.metadata!.labels = { [FEDERATED_LABEL]: 'member' };
  await cluster.kube.create(R.services, service);
  const slice = endpointSlice(NS, 'cart', '127.0.0.1', cluster.backend.port);
  if (managedBy) slice.metadata!.labels![MANAGED_BY_LABEL] = managedBy;
  await cluster.kube.create(R.endpointSlices, slice);
}

async function setMemberReady(cluster: World['east'], ready: boolean): Promise<void> {
  await cluster.kube.patch(R.endpointSlices, NS, 'cart-abcde', {
    endpoints: [{ addresses: ['127.0.0.1'], conditions: { ready } }],
  });
}

beforeAll(async () => {
  world = await startWorld({
    east: '127.0.81.1',
    west: '127.0.82.1',
    north: '127.0.83.1',
    proxy: '127.0.81.10',
  });
  await addMember(world.east, 'endpointslice-controller.k8s.io');
  await addMember(world.west);
  await addMember(world.north);
  informers = createLocalInformers(world.east.kube);
  informers.services.start();
  informers.slices.start();
  federation = runFederationController({
    client: world.east.kube,
    registry: world.registry,
    recorder: new EventRecorder(world.east.kube, { component: 'isthmus-federation' }),
    localCluster: 'east',
    informers,
  });
  await synced(federation, 'the federation controller');
  proxy = await world.proxyFor('cart-federated');
}, 60_000);

afterAll(async () => {
  await federation?.stop();
  await Promise.all([informers?.services.stop(), informers?.slices.stop()]);
  await world?.close();
});

/**
 * Who answered one request through the federated Service, or `error`. The timeout is a hang guard:
 * an answer takes milliseconds, but the tallies below allow no error, and a loaded machine can
 * stall one for seconds.
 */
async function servedBy(): Promise<string> {
  try {
    const res = await httpGet(proxy.host, proxy.port, '/', 10_000);
    return res.status === 200 ? res.body.replace('hello from ', '') : `status ${res.status}`;
  } catch {
    return 'error';
  }
}

/** `n` requests one after another, counted by who answered. */
async function tally(n: number): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (let i = 0; i < n; i++) {
    const who = await servedBy();
    counts[who] = (counts[who] ?? 0) + 1;
  }
  return counts;
}

describe('federated service on the data path (three clusters, real gateways)', () => {
  it('the remote members are mirrored as federation members, though not exported', async () => {
    for (const cluster of ['west', 'north']) {
      await waitFor(
        async () => {
          const mirror = await world.east.kube.get<V1Service>(R.services, NS, `cart-${cluster}`);
          return mirror?.metadata?.labels?.[FEDERATION_LABEL] === 'cart';
        },
        { timeoutMs: 10_000, what: `mirror cart-${cluster} labelled as a member of cart` },
      );
    }
  });

  it('every member answers through cart-federated', async () => {
    await waitFor(async () => proxy.endpoints().length === 3, { timeoutMs: 10_000, what: 'three endpoints' });
    const counts = await tally(150);
    console.info(`cart-federated over 150 requests: ${JSON.stringify(counts)}`);
    expect(Object.keys(counts).sort()).toEqual(['east', 'north', 'west']);
    // kube-proxy picks uniformly: each of the 3 endpoints gets a third; 20 of 150 is far below.
    for (const who of ['east', 'north', 'west']) expect(counts[who]).toBeGreaterThan(20);
  });

  it('a remote member without ready endpoints drops out; it rejoins when they return', async () => {
    const t0 = Date.now();
    await setMemberReady(world.west, false);
    await waitFor(async () => proxy.endpoints().length === 2, { timeoutMs: 10_000, what: 'west withdrawn' });
    // Remote slice → west's mirror slice (mirror controller) → cart-federated's slices (federation).
    console.info(
      `west's member withdrawn from cart-federated ${Date.now() - t0} ms after its pods went unready`,
    );
    const counts = await tally(60);
    expect(Object.keys(counts).sort()).toEqual(['east', 'north']);

    const t1 = Date.now();
    await setMemberReady(world.west, true);
    await waitFor(async () => proxy.endpoints().length === 3, { timeoutMs: 10_000, what: 'west back' });
    console.info(`west's member back in cart-federated ${Date.now() - t1} ms after its pods were ready`);
    await waitFor(async () => (await servedBy()) === 'west', {
      timeoutMs: 10_000,
      what: 'west answering again',
    });
  });

  it('a remote member that leaves the federation is no longer reached', async () => {
    await world.north.kube.patch(R.services, NS, 'cart', {
      metadata: { labels: { [FEDERATED_LABEL]: null } },
    });
    await waitFor(async () => proxy.endpoints().length === 2, { timeoutMs: 10_000, what: 'north withdrawn' });
    const counts = await tally(60);
    expect(Object.keys(counts).sort()).toEqual(['east', 'west']);
  });

  it('affinity local: east answers alone while its pods are ready, west while they are not', async () => {
    await world.east.kube.patch(R.services, NS, 'cart', {
      metadata: { annotations: { [FEDERATION_AFFINITY_ANNOTATION]: 'local' } },
    });
    const eastPod = `127.0.0.1:${world.east.backend.port}`;
    await waitFor(async () => proxy.endpoints().join() === eastPod, {
      timeoutMs: 10_000,
      what: 'only the local pod',
    });
    expect(await tally(30)).toEqual({ east: 30 });

    await setMemberReady(world.east, false);
    await waitFor(async () => proxy.endpoints().length === 1 && !proxy.endpoints().includes(eastPod), {
      timeoutMs: 10_000,
      what: "west's gateway endpoint alone",
    });
    expect(await tally(30)).toEqual({ west: 30 });
    await setMemberReady(world.east, true);
    await waitFor(async () => (await servedBy()) === 'east', { timeoutMs: 10_000, what: 'east back' });
  });
});

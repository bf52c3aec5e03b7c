/**
 * Forged mirrors and the egress port allocator: a tenant who may create Services can write a
 * mirror's labels and annotations, but not the EndpointSlices that vouch for a mirror's egress
 * ports, and the gateway routes only vouched ports (src/gateway/watch-mirrors.ts, `admitRoutes`).
 * So the controller reserves nothing for such a Service: no claim, however large, keeps a port
 * from a mirror, and none takes a mirror's port on restart.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { KubeClient } from '../kube/client.js';
import {
  CLUSTER_NAME_LABEL,
  EGRESS_PORTS_ANNOTATION,
  EXPORTED_LABEL,
  ISTHMUS_MIRROR_LABEL,
  MIRRORED_SERVICE_LABEL,
  REMOTE_DISCOVERY_EXPORT,
  REMOTE_GATEWAY_ANNOTATION,
  REMOTE_SVC_FQ_NAME_ANNOTATION,
} from '../kube/keys.js';
import { R } from '../kube/resources.js';
import type { KubeObject, V1Service } from '../kube/types.js';
import { mirrorOwner } from './port-allocator.js';
import {
  type Cluster,
  eastMirrorsWest,
  exportService,
  getLink,
  getService,
  link,
  waitFor,
  waitReady,
  worldPerTest,
} from './test-harness.js';

const startWorld = worldPerTest();

afterEach(() => {
  vi.useRealTimers();
});

/** What a tenant can write: a mirror's labels and annotations, claiming `port`, in its own namespace. */
async function forgeMirror(
  local: Cluster,
  port: number,
  opts: { egressPorts?: string; labels?: Record<string, string> } = {},
): Promise<V1Service> {
  if (!(await local.client.get(R.namespaces, undefined, 'apps'))) {
    await local.client.create(R.namespaces, { metadata: { name: 'apps' } });
  }
  return local.client.create<V1Service>(R.services, {
    metadata: {
      name: 'payments',
      namespace: 'apps',
      labels: { [MIRRORED_SERVICE_LABEL]: 'true', [CLUSTER_NAME_LABEL]: 'west', ...opts.labels },
      annotations: {
        [REMOTE_GATEWAY_ANNOTATION]: '10.1.0.1:4143',
        [REMOTE_SVC_FQ_NAME_ANNOTATION]: 'a.default.svc.cluster.local',
        [EGRESS_PORTS_ANNOTATION]: opts.egressPorts ?? `http=${port}`,
      },
    },
    spec: { type: 'ClusterIP', ports: [{ name: 'http', port: 80, protocol: 'TCP' }] },
  });
}

/** Edits a field the controller owns on one of its mirrors and waits for the controller to undo it. */
async function tamperAndWaitRestored(local: Cluster, name: string): Promise<void> {
  const svc = await getService(local, 'default', name);
  const annotations = svc?.metadata?.annotations ?? {};
  const fqName = annotations[REMOTE_SVC_FQ_NAME_ANNOTATION];
  await local.client.replace(R.services, {
    ...svc,
    metadata: {
      ...svc?.metadata,
      annotations: { ...annotations, [REMOTE_SVC_FQ_NAME_ANNOTATION]: 'tampered' },
    },
  });
  await waitFor(
    async () =>
      (await getService(local, 'default', name))?.metadata?.annotations?.[REMOTE_SVC_FQ_NAME_ANNOTATION] ===
      fqName,
    { what: `${name} restored` },
  );
}

async function egressPortsOf(local: Cluster, name: string): Promise<string | undefined> {
  return (await getService(local, 'default', name))?.metadata?.annotations?.[EGRESS_PORTS_ANNOTATION];
}

describe('egress ports that a Service other than our mirrors claims', () => {
  it('reserve nothing: the next mirror takes the port, as the gateway routes only what its slice lists', async () => {
    const world = await startWorld(['east', 'west']);
    const { east, west, ctl } = await eastMirrorsWest(world, 'a');
    expect(await egressPortsOf(east, 'a-west')).toBe('http=20000');

    // The port the next mirror would get, claimed first by a Service the controller did not write.
    await forgeMirror(east, 20001);
    // A barrier, not a wait for time: the controller's one watch of local Services delivers the
    // forged Service before this later edit of a mirror, which it undoes.
    await tamperAndWaitRestored(east, 'a-west');
    await exportService(west, 'b', { ready: 1 });
    await waitReady(east, 'default', 'b-west');
    expect(await egressPortsOf(east, 'b-west')).toBe('http=20001');
    expect(ctl.allocator.reservedPorts()).toEqual([]);
    expect(ctl.allocator.owned(mirrorOwner('west', 'apps', 'payments')).size).toBe(0);
  });

  it('a claim of the whole range (a 120 KB annotation) leaves every port to the mirrors', async () => {
    const world = await startWorld(['east', 'west']);
    const { east, west, ctl } = await eastMirrorsWest(world, 'a');
    const everyPort = Array.from({ length: 10_000 }, (_, i) => `p${i}=${20000 + i}`).join(',');
    await forgeMirror(east, 20001, { egressPorts: everyPort });
    await tamperAndWaitRestored(east, 'a-west');
    await exportService(west, 'b', { ready: 1 });
    await waitReady(east, 'default', 'b-west');
    expect(await egressPortsOf(east, 'b-west')).toBe('http=20001');
    expect(ctl.allocator.reservedPorts()).toEqual([]);
  });

  it('a restart keeps the real mirror its port when a younger forged claim is listed first', async () => {
    const world = await startWorld(['east', 'west']);
    const [east, west] = [world.c('east'), world.c('west')];
    await exportService(west, 'a', { ready: 1 });
    await link(east, west, 'west');
    const first = world.controller('east');
    await waitReady(east, 'default', 'a-west');
    expect(await egressPortsOf(east, 'a-west')).toBe('http=20000');
    await first.stop();

    // `apps/payments` is listed before `default/a-west`; created a minute later (creationTimestamp
    // has whole seconds), it is the younger claim, the one the gateway refuses the port.
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(Date.now() + 60_000);
    await forgeMirror(east, 20000);
    vi.useRealTimers();

    const second = world.controller('east');
    await waitFor(() => second.ctl.manager()?.watcher('isthmus-system', 'west')?.settled(), {
      what: 'settled',
    });
    expect(second.ctl.allocator.owned(mirrorOwner('west', 'default', 'a-west'))).toEqual(
      new Map([['http', 20000]]),
    );
    expect(await egressPortsOf(east, 'a-west')).toBe('http=20000');
    await exportService(west, 'b', { ready: 1 });
    await waitReady(east, 'default', 'b-west');
    expect(await egressPortsOf(east, 'b-west')).toBe('http=20001');
  });

  it('a restart gives a Service marked as ours no port that no slice of ours lists', async () => {
    const world = await startWorld(['east', 'west']);
    const [east, west] = [world.c('east'), world.c('west')];
    await exportService(west, 'a', { ready: 1 });
    await link(east, west, 'west');
    const first = world.controller('east');
    await waitReady(east, 'default', 'a-west');
    await first.stop();
    // The mark can be written by anyone who may edit a Service; the slice that vouches cannot.
    await forgeMirror(east, 20001, { labels: { [ISTHMUS_MIRROR_LABEL]: 'west' } });
    const second = world.controller('east');
    await waitFor(() => second.ctl.manager()?.watcher('isthmus-system', 'west')?.settled(), {
      what: 'settled',
    });
    expect(second.ctl.allocator.owned(mirrorOwner('west', 'apps', 'payments')).size).toBe(0);
    await exportService(west, 'b', { ready: 1 });
    await waitReady(east, 'default', 'b-west');
    expect(await egressPortsOf(east, 'b-west')).toBe('http=20001');
  });
});

describe('two Links whose mirror names collide', () => {
  // `api-us` of west and `api` of us-west are both mirrored as `api-us-west`: us-west's mirror
  // holds the name, and west's sync of it is a Conflict with a mirror of Isthmus's, not a stranger.
  it("west's Conflict leaves us-west's mirror its egress port, which no other mirror is handed", async () => {
    const east = await collideThenFillTheRange({ ready: 1 });
    expect(await egressPortsOf(east, 'b-west')).toBe('http=20001');
  });
});

/** Waits until the status of `east`'s Link `linkName` gives `name` the reason `reason`. */
function waitReason(east: Cluster, linkName: string, name: string, reason: string, what: string) {
  return waitFor(
    async () =>
      (await getLink(east, linkName))?.status?.services?.find((s) => s.name === name)?.reason === reason,
    { what },
  );
}

/**
 * East mirrors us-west's `api` as `api-us-west` (egress port 20000 of a two-port range), then links
 * west, whose `api-us` (exported with `apiUs`) is mirrored at the same name: a Conflict, which
 * leaves us-west's mirror its port. With west's `b` at 20001 the range is full: west's new `c`
 * waits for a port rather than share 20000. Returns east, for the caller's own assertions.
 */
async function collideThenFillTheRange(apiUs: Parameters<typeof exportService>[2]): Promise<Cluster> {
  const world = await startWorld(['east', 'west', 'us-west']);
  const [east, west, usWest] = [world.c('east'), world.c('west'), world.c('us-west')];
  await exportService(usWest, 'api', { ready: 1 });
  await link(east, usWest, 'us-west');
  const { ctl } = world.controller('east', { egressPortRange: { first: 20000, last: 20001 } });
  await waitReady(east, 'default', 'api-us-west');
  expect(await egressPortsOf(east, 'api-us-west')).toBe('http=20000');

  await exportService(west, 'api-us', apiUs);
  await exportService(west, 'b', { ready: 1 });
  await link(east, west, 'west');
  await waitReady(east, 'default', 'b-west');
  // Recorded once its sync, and whatever it released, is done.
  await waitReason(east, 'west', 'api-us', 'Conflict', "west's api-us a Conflict");
  expect(ctl.allocator.owned(mirrorOwner('us-west', 'default', 'api-us-west'))).toEqual(
    new Map([['http', 20000]]),
  );

  // The range is full (20000 api-us-west, 20001 b-west): a new mirror waits rather than share 20000.
  await exportService(west, 'c', { ready: 1 });
  await waitReason(east, 'west', 'c', 'PortRangeExhausted', "west's c waiting for a port");
  expect(await getService(east, 'default', 'c-west')).toBeUndefined();
  expect(await egressPortsOf(east, 'api-us-west')).toBe('http=20000');
  return east;
}

/**
 * Holds the controller's creates of the Service `name` by the clusters' mirrors until each of them
 * asked for one (every sync has allocated its egress ports by then, and none sees another's mirror
 * in its cache), then lets them through one after another in the order they were asked: the first
 * one asked makes the mirror, the others meet it (409 AlreadyExists). Later creates pass.
 */
function raceCreates(client: KubeClient, name: string, clusters: readonly string[]): void {
  const create = client.createForMetadata.bind(client);
  const asked: string[] = [];
  let allAsked = () => {};
  const everyone = new Promise<void>((resolve) => {
    allAsked = resolve;
  });
  const done = new Map<string, Promise<unknown>>();
  vi.spyOn(client, 'createForMetadata').mockImplementation(async (res, obj: KubeObject) => {
    const cluster = obj.metadata?.labels?.[CLUSTER_NAME_LABEL] ?? '';
    if (res !== R.services || obj.metadata?.name !== name || !clusters.includes(cluster) || done.has(cluster))
      return create(res, obj);
    const before = done.get(asked.at(-1) ?? '');
    asked.push(cluster);
    const turn = (async () => {
      await everyone;
      await before?.catch(() => {});
      return create(res, obj);
    })();
    done.set(cluster, turn);
    if (asked.length === clusters.length) allAsked();
    return turn;
  });
}

describe('two Links that create the same mirror name at once', () => {
  // `api` of us-west and `api-us` of west (other port names) both make `api-us-west`, neither
  // sync seeing the other's mirror: both allocate before either create answers, and one meets the
  // other's mirror. While the allocator's key was `namespace/name` (no cluster), the loser's
  // allocation dropped the winner's port key after the winner had written it into its mirror (its
  // port freed for any new mirror), and the winner's next sync re-numbered it (http=20002).
  it("the loser's allocation leaves the winner's egress port to it", async () => {
    const world = await startWorld(['east', 'west', 'us-west']);
    const [east, west, usWest] = [world.c('east'), world.c('west'), world.c('us-west')];
    await exportService(usWest, 'api', { ready: 1 });
    await exportService(west, 'api-us', { ports: [{ name: 'grpc', port: 9090 }], ready: 1 });
    await link(east, usWest, 'us-west');
    await link(east, west, 'west');
    const { ctl, client } = world.controller('east');
    raceCreates(client, 'api-us-west', ['us-west', 'west']);

    const made = await waitFor(() => getService(east, 'default', 'api-us-west'), { what: 'api-us-west' });
    const winner = made.metadata?.labels?.[CLUSTER_NAME_LABEL] ?? '';
    const won = made.metadata?.annotations?.[EGRESS_PORTS_ANNOTATION];
    const [remote, remoteName, loser, lost] =
      winner === 'west' ? [west, 'api-us', 'us-west', 'api'] : [usWest, 'api', 'west', 'api-us'];
    await waitReason(east, loser, lost, 'Conflict', `${loser}'s ${lost} a Conflict`);
    // Each Link's key at the name is its own: the winner holds its port, the loser's went back.
    const port = Number(won?.split('=')[1]);
    expect(ctl.allocator.ownerOf(port)).toBe(mirrorOwner(winner, 'default', 'api-us-west'));
    expect(ctl.allocator.owned(mirrorOwner(loser, 'default', 'api-us-west')).size).toBe(0);

    // The winner's next sync (an edit of its remote Service, copied onto its mirror) keeps its port.
    const svc = await getService(remote, 'default', remoteName);
    await remote.client.replace(R.services, {
      ...svc,
      metadata: { ...svc?.metadata, labels: { ...svc?.metadata?.labels, team: 'a' } },
    });
    const synced = await waitFor(
      async () => {
        const mirror = await getService(east, 'default', 'api-us-west');
        return mirror?.metadata?.labels?.team === 'a' ? mirror : undefined;
      },
      { what: "the winner's edit mirrored" },
    );
    expect(synced.metadata?.annotations?.[EGRESS_PORTS_ANNOTATION]).toBe(won);
  });
});

describe('two Links whose mirror names collide, the one that loses the name a remote-discovery mirror', () => {
  it("west's Conflict frees none of us-west's egress port: the next new mirror waits for one", async () => {
    // West's api-us, exported for remote discovery (no egress ports of its own), is mirrored at the
    // same name: a Conflict with us-west's mirror, whose ports its own (cluster's) allocator key holds.
    const discovery = { exported: false, labels: { [EXPORTED_LABEL]: REMOTE_DISCOVERY_EXPORT } };
    await collideThenFillTheRange({ ...discovery, ready: 1 });
  });
});

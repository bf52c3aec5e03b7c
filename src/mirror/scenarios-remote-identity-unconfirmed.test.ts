/**
 * A remote that said which cluster it is, and then cannot say, is not believed any more: its label
 * gone, its `isthmus-system` namespace no longer readable (403) or gone are what another cluster
 * answers once the Link's API address reaches it, under credentials valid on both (a cloud IAM
 * exec plugin, client certificates of a shared CA). Its re-list would delete every mirror as an
 * orphan. So nothing it lists is applied, the Link says RemoteClusterUnconfirmed (Ready and
 * RemoteAPIAvailable, a Warning Event, `isthmus_remote_api_up` 0), a mismatch followed by such an
 * answer stays refused across the reconnect, and the remote saying the Link's name again heals on
 * the same mirrors. A remote that never said a name (scenarios-link.test.ts and the others, whose
 * remotes carry no label) is trusted as before.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { updateWithRetry } from '../kube/apply.js';
import {
  INSTALL_CLUSTER_NAME_LABEL,
  REMOTE_KUBECONFIG_KEY,
  REMOTE_KUBECONFIG_SECRET_TYPE,
  SYSTEM_NAMESPACE,
} from '../kube/keys.js';
import { R } from '../kube/resources.js';
import type { Link, V1Namespace, V1Service } from '../kube/types.js';
import type { PolicyRule } from '../sandbox/index.js';
import { linkObject } from './test-builders.js';
import {
  askedAgain,
  type Cluster,
  condition,
  expectWestRefused,
  exportService,
  getLink,
  getService,
  installedAs,
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

const TOKEN = 'reader-of-west';
const READS = ['services', 'endpointslices'];
/** What the remote-access role may read: with `namespaces`, the remote can say who it is. */
const rules = (resources: string[]): PolicyRule[] => [{ verbs: ['get', 'list', 'watch'], resources }];

/** Links east to west with a token whose rules the test changes (what `isthmus link` writes). */
async function linkWest(east: Cluster, west: Cluster): Promise<void> {
  west.sandbox.addToken(TOKEN, { username: 'remote-reader', rules: rules([...READS, 'namespaces']) });
  await east.client.create(R.secrets, {
    metadata: { name: 'cluster-credentials-west', namespace: SYSTEM_NAMESPACE },
    type: REMOTE_KUBECONFIG_SECRET_TYPE,
    stringData: { [REMOTE_KUBECONFIG_KEY]: west.sandbox.kubeconfig({ token: TOKEN, user: 'remote-reader' }) },
  });
  await east.client.create(R.links, linkObject('west'));
}

/** West's `isthmus-system` without the install's cluster-name label (or with it back). */
async function unlabelled(west: Cluster): Promise<void> {
  await updateWithRetry<V1Namespace>(west.client, R.namespaces, undefined, SYSTEM_NAMESPACE, (ns) => {
    const { [INSTALL_CLUSTER_NAME_LABEL]: _, ...labels } = ns.metadata?.labels ?? {};
    return { ...ns, metadata: { ...ns.metadata, labels } };
  });
}

/** West's `isthmus-system` deleted, and gone once the namespace controller has emptied it. */
async function uninstalled(west: Cluster): Promise<void> {
  await west.client.delete(R.namespaces, undefined, SYSTEM_NAMESPACE);
  await waitFor(async () => !(await west.client.get(R.namespaces, undefined, SYSTEM_NAMESPACE)), {
    what: `west's ${SYSTEM_NAMESPACE} gone`,
  });
}

/** West's `isthmus-system` created again with the install's cluster-name label. */
async function reinstalled(west: Cluster, name: string): Promise<void> {
  await west.client.create(R.namespaces, {
    metadata: { name: SYSTEM_NAMESPACE, labels: { [INSTALL_CLUSTER_NAME_LABEL]: name } },
  });
}

/**
 * West labelled "west", exporting podinfo and api, linked from east; east's controller mirroring
 * both. From then on records the mirrors and every event of podinfo-west, which must not change.
 */
async function confirmedAndMirroring(world: World) {
  const [east, west] = [world.c('east'), world.c('west')];
  await installedAs(west, 'west');
  for (const name of ['podinfo', 'api']) await exportService(west, name, { ready: 1 });
  await linkWest(east, west);
  const { ctl } = world.controller('east');
  for (const name of ['podinfo-west', 'api-west']) await waitReady(east, 'default', name);
  const synced = await linkReadyReason(east, 'west', 'Synced');
  expect(synced.status?.mirroredClusterName).toBe('west');
  return { east, west, ctl, ...(await recordWestMirrors(east, cleanups)) };
}

/** West's watches cut, and more writes than the watch window after: every informer re-lists. */
async function forceRelist(west: Cluster): Promise<void> {
  west.sandbox.faults.dropWatches();
  for (let i = 0; i < 8; i++)
    await west.client.create(R.configMaps, { metadata: { name: `noise-${i}`, namespace: 'default' } });
}

/**
 * What west lists now, none of which may be applied while it is refused: one export gone, one
 * new, one changed. Returns podinfo's new resourceVersion.
 */
async function changeWest(west: Cluster): Promise<string | undefined> {
  await west.client.delete(R.services, 'default', 'api');
  await exportService(west, 'late', { ready: 1 });
  const podinfo = await getService(west, 'default', 'podinfo');
  const changed = await west.client.replace<V1Service>(R.services, {
    ...podinfo,
    spec: { ...podinfo?.spec, ports: [...(podinfo?.spec?.ports ?? []), { name: 'grpc', port: 9999 }] },
  });
  return changed.metadata?.resourceVersion;
}

/** Waits until the remote has answered `n` more requests: the controller asked it again, `n` times. */
/** West believed again: Synced and Connected, the metric 1, its changes applied to the same mirrors. */
async function healed(
  east: Cluster,
  registry: Parameters<typeof metricValue>[0],
  before: Awaited<ReturnType<typeof mirrorStates>>,
  version: string | undefined,
): Promise<Link> {
  const synced = await linkReadyReason(east, 'west', 'Synced');
  await waitFor(
    async () => condition(await getLink(east, 'west'), 'RemoteAPIAvailable')?.reason === 'Connected',
    { what: 'RemoteAPIAvailable=True/Connected' },
  );
  await waitFor(
    async () => (await metricValue(registry, 'isthmus_remote_api_up', { target_cluster_name: 'west' })) === 1,
    { what: 'isthmus_remote_api_up 1' },
  );
  await waitFor(
    async () => {
      const now = await mirrorStates(east, 'west');
      return now['late-west'] && !now['api-west'] && now['podinfo-west']?.version === version;
    },
    { what: "west's changes applied" },
  );
  expect((await mirrorStates(east, 'west'))['podinfo-west']).toMatchObject({
    uid: before['podinfo-west']?.uid,
    clusterIP: before['podinfo-west']?.clusterIP,
  });
  return synced;
}

describe('a remote that said its name and then cannot say is not believed', () => {
  it.each([
    {
      what: 'its label removed',
      now: 'its namespace isthmus-system has no label isthmus.dev/cluster-name',
      fault: (west: Cluster) => unlabelled(west),
      fix: (west: Cluster) => installedAs(west, 'west'),
    },
    {
      what: 'its namespace no longer readable (403)',
      now: 'the credentials may no longer read its namespace isthmus-system (forbidden)',
      fault: async (west: Cluster) =>
        west.sandbox.addToken(TOKEN, { username: 'remote-reader', rules: rules(READS) }),
      fix: async (west: Cluster) =>
        west.sandbox.addToken(TOKEN, { username: 'remote-reader', rules: rules([...READS, 'namespaces']) }),
    },
    {
      what: 'Isthmus uninstalled (its namespace deleted)',
      now: 'it has no namespace isthmus-system',
      fault: (west: Cluster) => uninstalled(west),
      fix: (west: Cluster) => reinstalled(west, 'west'),
    },
  ])(
    'confirmed, then $what and re-listed: nothing it lists is applied, RemoteClusterUnconfirmed; its name back, mirroring resumes on the same mirrors',
    async ({ now, fault, fix }) => {
      const world = await startWorld(['east', 'west'], { watchWindow: 5 });
      const { east, west, ctl, before, recorded, seen } = await confirmedAndMirroring(world);

      await fault(west);
      await forceRelist(west);
      await expectWestRefused(
        east,
        ctl.registry,
        'RemoteClusterUnconfirmed',
        `the credentials in Secret isthmus-system/cluster-credentials-west reach the API server ${new URL(west.sandbox.url)}, ` +
          `which no longer says it is cluster "west": it answered as cluster "west" before, and now ${now}, ` +
          'as another cluster reached at the same address would answer: until it says "west" again, no mirror is ' +
          "created, changed or deleted; restore the label, the namespace or the remote-access role's permission " +
          'to read it, or the API address if it now reaches another cluster',
      );

      const version = await changeWest(west);
      await askedAgain(west.sandbox, 10);
      expect(await mirrorStates(east, 'west')).toEqual(before);
      expect(recorded.seen).toEqual(seen);
      expect((await getLink(east, 'west'))?.status?.mirroredServices).toBe(2);

      await fix(west);
      const synced = await healed(east, ctl.registry, before, version);
      expect(synced.status?.mirroredClusterName).toBe('west');
    },
  );

  it('a mismatch, then the label removed: still refused after the reconnect, naming what it said; labelled west again, mirroring resumes', async () => {
    const world = await startWorld(['east', 'west'], { watchWindow: 5 });
    const { east, west, ctl, before, recorded, seen } = await confirmedAndMirroring(world);

    await installedAs(west, 'north');
    await forceRelist(west);
    await expectWestRefused(east, ctl.registry, 'RemoteClusterMismatch', /installed as cluster "north"/);

    // The mismatch started the connection over; its first answer now cannot say.
    await unlabelled(west);
    await expectWestRefused(
      east,
      ctl.registry,
      'RemoteClusterUnconfirmed',
      /no longer says it is cluster "west": it answered as cluster "north" before, and now its namespace isthmus-system has no label/,
    );
    const version = await changeWest(west);
    await askedAgain(west.sandbox, 10);
    expect(await mirrorStates(east, 'west')).toEqual(before);
    expect(recorded.seen).toEqual(seen);

    await installedAs(west, 'west');
    await healed(east, ctl.registry, before, version);
  });
});

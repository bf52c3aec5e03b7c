/**
 * Which cluster a Link's credentials really reach (remote-identity.ts): the controller checks the
 * remote's install label (`isthmus.dev/cluster-name` on `isthmus-system`) against the Link's
 * targetClusterName on every connection, as `isthmus link` does before printing a Link. A Secret
 * mixed up by GitOps, or a mistyped targetClusterName, touches no mirror: the Link says why
 * (RemoteClusterMismatch), a Warning Event too, and `isthmus check` fails naming what to fix.
 */
import { describe, expect, it } from 'vitest';
import { checkLinksValid } from '../cli/check/checks/index.js';
import { oneLinkFacts } from '../cli/check/test-builders.js';
import { updateWithRetry } from '../kube/apply.js';
import { REMOTE_KUBECONFIG_KEY, SYSTEM_NAMESPACE } from '../kube/keys.js';
import { R } from '../kube/resources.js';
import type { CoreV1Event, Link, V1Secret, V1Service } from '../kube/types.js';
import { mirrorOwner } from './port-allocator.js';
import { ourLabels } from './test-builders.js';
import {
  type Cluster,
  condition,
  eastMirrorsWest,
  editLinkSpec,
  exportService,
  getLink,
  getService,
  installedAs,
  link,
  linkReadyReason,
  metricValue,
  mirrorIdentityOf,
  mirrorsOf,
  recordService,
  waitFor,
  waitReady,
  worldPerTest,
} from './test-harness.js';

const startWorld = worldPerTest();

/** Rewrites a credentials Secret in place with a read-only kubeconfig of `remote` (a GitOps mix-up). */
async function pointSecretAt(local: Cluster, remote: Cluster, secret: string): Promise<void> {
  const token = `reader-${Math.random().toString(36).slice(2)}`;
  remote.sandbox.addToken(token, {
    username: 'remote-reader',
    rules: [{ verbs: ['get', 'list', 'watch'], resources: ['services', 'endpointslices', 'namespaces'] }],
  });
  await updateWithRetry<V1Secret>(local.client, R.secrets, SYSTEM_NAMESPACE, secret, (s) => ({
    ...s,
    data: undefined,
    stringData: { [REMOTE_KUBECONFIG_KEY]: remote.sandbox.kubeconfig({ token, user: 'remote-reader' }) },
  }));
}

const readyReason = (c: Cluster, reason: string) => linkReadyReason(c, 'west', reason);

/** What `isthmus check`'s "every Link is valid" says of this Link. */
const checkOf = (l: Link) => checkLinksValid(oneLinkFacts(l));

describe("a Link's credentials are checked against the cluster they reach", () => {
  it('a Secret that reaches another cluster: every mirror kept as it is, Ready=False RemoteClusterMismatch, a Warning, remote_api_up 0, check fails; the right Secret resumes on the same mirrors', async () => {
    const world = await startWorld(['east', 'west']);
    const [east, west] = [world.c('east'), world.c('west')];
    await installedAs(east, 'east');
    await installedAs(west, 'west');
    await exportService(west, 'podinfo', { ready: 1 });
    // East exports a podinfo of its own, and more: what the mixed-up Secret would mirror.
    await exportService(east, 'podinfo', { ready: 1 });
    await exportService(east, 'only-east', { ready: 1 });
    await link(east, west, 'west');
    const { ctl } = world.controller('east');
    await waitReady(east, 'default', 'podinfo-west');
    const checked = await readyReason(east, 'Synced');
    expect(checked.status?.mirroredClusterName).toBe('west');
    const before = mirrorIdentityOf(await getService(east, 'default', 'podinfo-west'));
    const recorded = await recordService(east, 'default', 'podinfo-west');
    const listed = [...recorded.seen];

    // West's Secret now holds a kubeconfig of east itself.
    await pointSecretAt(east, east, 'cluster-credentials-west');
    const mismatched = await readyReason(east, 'RemoteClusterMismatch');
    const ready = condition(mismatched, 'Ready');
    expect(ready?.status).toBe('False');
    expect(ready?.message).toBe(
      `the credentials in Secret isthmus-system/cluster-credentials-west reach the API server ${east.sandbox.url}/, ` +
        'which was installed as cluster "east" (label isthmus.dev/cluster-name on namespace isthmus-system), ' +
        'not "west" (spec.targetClusterName): until they agree, no mirror is created, changed or deleted; ' +
        'fix the Secret or spec.targetClusterName',
    );
    expect(condition(mismatched, 'RemoteAPIAvailable')).toMatchObject({
      status: 'False',
      reason: 'RemoteClusterMismatch',
    });
    // The Link's cluster is not what its credentials reach: not listed, so not up.
    await waitFor(
      async () =>
        (await metricValue(ctl.registry, 'isthmus_remote_api_up', { target_cluster_name: 'west' })) === 0,
      { what: 'isthmus_remote_api_up 0' },
    );
    await waitFor(
      async () => {
        const events = await east.client.list<CoreV1Event>(R.events, { namespace: SYSTEM_NAMESPACE });
        return events.items.some(
          (e) => e.type === 'Warning' && e.reason === 'RemoteClusterMismatch' && e.message === ready?.message,
        );
      },
      { what: 'a RemoteClusterMismatch Warning Event' },
    );
    const verdict = checkOf(mismatched);
    expect(verdict.status).toBe('fail');
    expect(verdict.hints.join('\n')).toContain(
      `Link west: ${ready?.message}. If the Link names the right cluster, the Secret is another cluster's: ` +
        're-create isthmus-system/cluster-credentials-west with `isthmus link --context <west> --cluster-name west',
    );

    // Nothing of east mirrored, nothing of west deleted or rewritten.
    expect(mirrorIdentityOf(await getService(east, 'default', 'podinfo-west'))).toEqual(before);
    expect(await getService(east, 'default', 'only-east-west')).toBeUndefined();
    expect(recorded.seen).toEqual(listed);
    expect(mismatched.status?.mirroredServices).toBe(1);

    // The right Secret back: mirroring resumes on the same mirror.
    await pointSecretAt(east, west, 'cluster-credentials-west');
    const back = await readyReason(east, 'Synced');
    expect(condition(back, 'RemoteAPIAvailable')?.reason).toBe('Connected');
    expect(mirrorIdentityOf(await getService(east, 'default', 'podinfo-west'))).toEqual(before);
    expect(recorded.seen).toEqual(listed);
    await recorded.stop();
  });

  it('a mistyped targetClusterName deletes no mirror, across a controller restart too; fixed, the same mirrors (cluster IPs, egress ports) serve on', async () => {
    const world = await startWorld(['east', 'west']);
    const [east, west] = [world.c('east'), world.c('west')];
    await installedAs(west, 'west');
    await exportService(west, 'podinfo', { ready: 1 });
    await exportService(west, 'api', { ready: 1 });
    await link(east, west, 'west');
    const first = world.controller('east');
    await waitReady(east, 'default', 'podinfo-west');
    await waitReady(east, 'default', 'api-west');
    await waitFor(async () => (await getLink(east, 'west'))?.status?.mirroredClusterName === 'west', {
      what: 'the checked name in the status',
    });
    const snapshot = async () =>
      Promise.all(
        ['podinfo-west', 'api-west'].map(async (n) => mirrorIdentityOf(await getService(east, 'default', n))),
      );
    const before = await snapshot();

    await editLinkSpec(east, 'west', (spec) => ({ ...spec, targetClusterName: 'north' }));
    const typo = await readyReason(east, 'RemoteClusterMismatch');
    expect(condition(typo, 'Ready')?.message).toContain(
      'which was installed as cluster "west" (label isthmus.dev/cluster-name on namespace isthmus-system), not "north"',
    );
    // The Link still holds west's mirrors: its status names the cluster last checked.
    expect(typo.status?.mirroredClusterName).toBe('west');
    expect(await snapshot()).toEqual(before);
    expect(await mirrorsOf(east, 'north')).toEqual([]);

    // A restarted controller knows the old name from the status alone. A mirror of a cluster no
    // Link names at all ("zeta", swept after "west" in the same pass) shows the sweep has run.
    await first.stop();
    await east.client.create<V1Service>(R.services, {
      metadata: { name: 'witness-zeta', namespace: 'default', labels: ourLabels('zeta') },
      spec: { ports: [{ name: 'http', port: 80, protocol: 'TCP' }] },
    });
    world.controller('east');
    await waitFor(async () => !(await getService(east, 'default', 'witness-zeta')), {
      what: 'the orphan of a cluster no Link names swept',
    });
    expect(await snapshot()).toEqual(before);

    // Fixed: the same Services, cluster IPs and egress ports.
    await editLinkSpec(east, 'west', (spec) => ({ ...spec, targetClusterName: 'west' }));
    await readyReason(east, 'Synced');
    await waitReady(east, 'default', 'podinfo-west');
    expect(await snapshot()).toEqual(before);
    expect(await mirrorsOf(east, 'north')).toEqual([]);
  });

  it('restarted while the targetClusterName is mistyped, fixed: each mirror keeps its egress ports, even with a port freed before the restart', async () => {
    const world = await startWorld(['east', 'west']);
    const [east, west] = [world.c('east'), world.c('west')];
    await installedAs(west, 'west');
    await exportService(west, 'a', { ready: 1 });
    await link(east, west, 'west');
    const first = world.controller('east');
    await waitReady(east, 'default', 'a-west');
    await exportService(west, 'b', { ready: 1 });
    await waitReady(east, 'default', 'b-west');
    await waitFor(async () => (await getLink(east, 'west'))?.status?.mirroredClusterName === 'west', {
      what: 'the checked name in the status',
    });
    // a's mirror goes and frees 20000, the first port a re-numbering would hand out; b-west has 20001.
    await west.client.delete(R.services, 'default', 'a');
    await waitFor(async () => !(await getService(east, 'default', 'a-west')), { what: 'a-west deleted' });
    const before = mirrorIdentityOf(await getService(east, 'default', 'b-west'));
    expect(before.egress).toBe('http=20001');

    await editLinkSpec(east, 'west', (spec) => ({ ...spec, targetClusterName: 'north' }));
    await readyReason(east, 'RemoteClusterMismatch');
    // Restarted, the controller knows west's mirrors are the Link's from its status alone: their
    // ports are west's, not claims of Services no Link names.
    await first.stop();
    const second = world.controller('east');
    await second.ctl.ready;
    expect(second.ctl.allocator.owned(mirrorOwner('west', 'default', 'b-west'))).toEqual(
      new Map([['http', 20001]]),
    );
    await editLinkSpec(east, 'west', (spec) => ({ ...spec, targetClusterName: 'west' }));
    await readyReason(east, 'Synced');
    await waitFor(() => second.ctl.manager()?.watcher(SYSTEM_NAMESPACE, 'west')?.settled(), {
      what: 'west settled',
    });
    expect(mirrorIdentityOf(await getService(east, 'default', 'b-west'))).toEqual(before);
  });

  it('a remote installed before the label (or that cannot say) is trusted, as isthmus link trusts it', async () => {
    const world = await startWorld(['east', 'west']);
    const { east } = await eastMirrorsWest(world, 'podinfo');
    const l = await readyReason(east, 'Synced');
    expect(l.status?.mirroredClusterName).toBe('west');
  });
});

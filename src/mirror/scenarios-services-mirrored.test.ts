/**
 * A Link whose Services cannot be mirrored says so in a condition of its own (services-mirrored.ts):
 * ServicesMirrored=False, naming them, while Ready stays about the link itself. The status is not
 * rewritten by the retries of a failure that stays the same, and the condition turns True once the
 * cause is gone: the stranger's Service holding the name deleted, or the Role fixed (a 403 is
 * terminal, tried again every TERMINAL_RETRY_MS, here made short).
 */
import { describe, expect, it } from 'vitest';
import { checkExportsMirrored } from '../cli/check/checks/index.js';
import { oneLinkFacts } from '../cli/check/test-builders.js';
import { IsthmusError } from '../errors.js';
import { KubeClient } from '../kube/client.js';
import { SYSTEM_NAMESPACE } from '../kube/keys.js';
import { R } from '../kube/resources.js';
import type { Link } from '../kube/types.js';
import type { PolicyRule } from '../sandbox/index.js';
import { foreignService } from './test-builders.js';
import {
  type Cluster,
  condition,
  exportService,
  getLink,
  link,
  metricValue,
  type World,
  waitFor,
  waitReady,
  worldPerTest,
} from './test-harness.js';

const startWorld = worldPerTest();

const TOKEN = 'isthmus-controller-token';
const ALL: PolicyRule[] = [{ verbs: ['*'], resources: ['*'] }];
/** A controller's Role that may not create Services in namespace `locked`. */
const NOT_IN_LOCKED: PolicyRule[] = [
  { verbs: ['get', 'list', 'watch', 'update', 'patch', 'delete'], resources: ['*'] },
  { verbs: ['create'], resources: ['endpointslices', 'events'] },
  { verbs: ['create'], resources: ['services'], namespaces: ['default'] },
];

/** East's controller, on a token whose rules the test changes (as a Role edited in place). */
function controllerWithToken(world: World, east: Cluster, rules: PolicyRule[]) {
  east.sandbox.addToken(TOKEN, { username: 'isthmus-controller', rules });
  const client = KubeClient.fromKubeconfigString(
    east.sandbox.kubeconfig({ token: TOKEN, user: 'controller' }),
  );
  const { ctl } = world.controller('east', { client, terminalRetryMs: 200 });
  return { ctl, client };
}

async function servicesMirroredIs(east: Cluster, status: string, reason: string): Promise<Link> {
  return waitFor(
    async () => {
      const l = await getLink(east, 'west');
      const c = condition(l, 'ServicesMirrored');
      return c?.status === status && c.reason === reason ? l : undefined;
    },
    { what: `ServicesMirrored=${status}/${reason}` },
  );
}

/** West exporting `names` (in `namespace`), linked from east. */
async function linked(world: World, names: string[], namespace = 'default') {
  const [east, west] = [world.c('east'), world.c('west')];
  for (const name of names) await exportService(west, name, { ready: 1, namespace });
  await link(east, west, 'west');
  return { east, west };
}

describe('ServicesMirrored says whether the Services a Link picks are mirrored', () => {
  it("a local Service of a mirror's name that is not ours: False naming it, Ready still True; the stranger gone, True", async () => {
    const world = await startWorld(['east', 'west']);
    await world.c('east').client.create(R.services, foreignService('web-west'));
    const { east } = await linked(world, ['ok', 'web']);
    world.controller('east');
    await waitReady(east, 'default', 'ok-west');
    const refused = await servicesMirroredIs(east, 'False', 'SomeNotMirrored');
    expect(condition(refused, 'ServicesMirrored')?.message).toBe(
      '1 of 2 services not mirrored: default/web (Conflict); status.services says why',
    );
    expect(condition(refused, 'Ready')).toMatchObject({ status: 'True', reason: 'Synced' });

    await east.client.delete(R.services, 'default', 'web-west');
    await waitReady(east, 'default', 'web-west');
    const healed = await servicesMirroredIs(east, 'True', 'AllMirrored');
    expect(condition(healed, 'ServicesMirrored')?.message).toBe('2 services mirrored, none failed');
  });

  it('RBAC refusing every mirror: False/NoneMirrored, not rewritten by the retries; the Role fixed, True at the next retry', async () => {
    const world = await startWorld(['east', 'west']);
    const { east } = await linked(world, ['web'], 'locked');
    await east.client.create(R.namespaces, { metadata: { name: 'locked' } });
    const { ctl, client } = controllerWithToken(world, east, NOT_IN_LOCKED);
    try {
      const refused = await servicesMirroredIs(east, 'False', 'NoneMirrored');
      const message = '1 of 1 services not mirrored: locked/web (ApplyFailed); status.services says why';
      expect(condition(refused, 'ServicesMirrored')?.message).toBe(message);
      expect(condition(refused, 'Ready')).toMatchObject({ status: 'True', reason: 'Synced' });
      // `isthmus check` fails the Link: it serves nothing of what it picks. The Service the
      // condition names is on one line of its own, with status.services' reason, not twice.
      const checked = checkExportsMirrored(oneLinkFacts(refused));
      expect(checked.status).toBe('fail');
      expect(checked.hints).toEqual([
        "Link west: none of the Services it picks is mirrored (ServicesMirrored=False), so it serves nothing; each Service's reason follows",
        expect.stringMatching(/^Link west: locked\/web is not mirrored \(ApplyFailed: .+\)$/),
      ]);
      await waitFor(() => ctl.manager()?.watcher(SYSTEM_NAMESPACE, 'west')?.settled(), { what: 'settled' });

      // Tried again every terminalRetryMs, failing the same way: counted, the Link not rewritten.
      const written = (await getLink(east, 'west'))?.metadata?.resourceVersion;
      const errors = async () =>
        (await metricValue(ctl.registry, 'isthmus_mirror_sync_errors_total', {
          target_cluster_name: 'west',
        })) ?? 0;
      const before = await errors();
      await waitFor(async () => (await errors()) >= before + 3, { what: '3 more failed syncs of west' });
      expect((await getLink(east, 'west'))?.metadata?.resourceVersion).toBe(written);

      east.sandbox.addToken(TOKEN, { username: 'isthmus-controller', rules: ALL });
      await waitReady(east, 'locked', 'web-west');
      const healed = await servicesMirroredIs(east, 'True', 'AllMirrored');
      expect(condition(healed, 'ServicesMirrored')?.message).toBe('1 services mirrored, none failed');
      expect(healed.status?.services).toEqual([]);
    } finally {
      client.close();
    }
  });

  it('a sync that keeps failing with a retried error (a webhook failing closed): False naming it, not Syncing for ever; the fault gone, True', async () => {
    const world = await startWorld(['east', 'west']);
    const { east } = await linked(world, ['ok', 'bad']);
    const client = KubeClient.fromKubeconfigString(east.sandbox.kubeconfig());
    // Every create of bad's mirror fails with a 500 while `failing` holds (retried with backoff).
    let failing = true;
    const create = client.createForMetadata.bind(client);
    client.createForMetadata = (async (...args: Parameters<typeof create>) => {
      const [res, obj] = args;
      if (failing && res === R.services && obj.metadata?.name === 'bad-west')
        throw new IsthmusError('KUBE_API_UNAVAILABLE', 'Internal error occurred: failed calling webhook');
      return create(...args);
    }) as typeof client.createForMetadata;
    try {
      const { ctl } = world.controller('east', { client, syncFailingAfterMs: 300 });
      await waitReady(east, 'default', 'ok-west');
      const failed = await servicesMirroredIs(east, 'False', 'SomeNotMirrored');
      expect(condition(failed, 'ServicesMirrored')?.message).toBe(
        '1 of 2 services not mirrored: default/bad (SyncFailing); status.services says why',
      );
      expect(failed.status?.services).toEqual([
        expect.objectContaining({
          namespace: 'default',
          name: 'bad',
          reason: 'SyncFailing',
          message: expect.stringMatching(/^sync failing, retried with backoff .*failed calling webhook/),
        }),
      ]);

      // Retried with backoff, failing the same way: nothing of the Link is rewritten.
      const written = failed.metadata?.resourceVersion;
      const errors = async () =>
        (await metricValue(ctl.registry, 'isthmus_mirror_sync_errors_total', {
          target_cluster_name: 'west',
        })) ?? 0;
      const before = await errors();
      await waitFor(async () => (await errors()) >= before + 3, { what: '3 more failed syncs of bad' });
      expect((await getLink(east, 'west'))?.metadata?.resourceVersion).toBe(written);

      failing = false;
      await waitReady(east, 'default', 'bad-west');
      const healed = await servicesMirroredIs(east, 'True', 'AllMirrored');
      expect(healed.status?.services).toEqual([]);
    } finally {
      client.close();
    }
  });
});

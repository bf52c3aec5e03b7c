/**
 * A headless Service's pods whose `<hostname>-<cluster>` mirror name is taken: left out of the
 * parent, and said so in the Link's status, an Event and the log (they used to vanish silently).
 * Once the holder is deleted, the key it blocked is synced again and takes the name (the Conflict
 * used to stay until something else synced it), and so does an export blocked by a per-pod mirror.
 */
import { describe, expect, it } from 'vitest';
import { updateWithRetry } from '../kube/apply.js';
import {
  EXPORTED_LABEL,
  HEADLESS_MIRROR_LABEL,
  REMOTE_SVC_FQ_NAME_ANNOTATION,
  SYSTEM_NAMESPACE,
} from '../kube/keys.js';
import { R } from '../kube/resources.js';
import type { CoreV1Event, V1Service } from '../kube/types.js';
import { foreignService } from './test-builders.js';
import {
  type Cluster,
  eastMirrorsWest,
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

/** The Link's status entry of a remote Service (only those not mirrored have one). */
async function statusEntry(local: Cluster, name: string) {
  return (await getLink(local, 'west'))?.status?.services?.find((s) => s.name === name);
}

/** Waits until `name` has a Conflict entry in the Link's status, and returns its message. */
async function conflictOf(local: Cluster, name: string): Promise<string> {
  const entry = await waitFor(
    async () => {
      const e = await statusEntry(local, name);
      return e?.reason === 'Conflict' ? e : undefined;
    },
    { what: `a Conflict entry for ${name}` },
  );
  return entry.message ?? '';
}

/** Waits until `name` is mirrored: its status entry gone. */
async function mirrored(local: Cluster, name: string): Promise<void> {
  await waitFor(async () => (await statusEntry(local, name)) === undefined, {
    what: `${name} without a status entry`,
  });
}

/** Waits until `default/<mirror>` is the per-pod mirror of `parent`'s pod, and ready. */
async function perPodMirror(local: Cluster, mirror: string, parent: string): Promise<void> {
  await waitFor(
    async () =>
      (await getService(local, 'default', mirror))?.metadata?.labels?.[HEADLESS_MIRROR_LABEL] === parent,
    { what: `${mirror} a per-pod mirror of ${parent}` },
  );
  await waitReady(local, 'default', mirror);
}

describe('per-pod mirror names', () => {
  it("a pod whose <hostname>-<cluster> is another Service's mirror is left out, and the Link's status, an Event and the log say which and why", async () => {
    const world = await startWorld(['east', 'west']);
    const [east, west] = [world.c('east'), world.c('west')];
    await exportService(west, 'podinfo', { ready: 1 });
    await link(east, west, 'west', { mirrorHeadless: true });
    const warnings: string[] = [];
    const log = {
      debug() {},
      info() {},
      warn(_fields: object, message: string) {
        warnings.push(message);
      },
      error() {},
    };
    world.controller('east', { log });
    await waitReady(east, 'default', 'podinfo-west');
    // db's pod `podinfo` would be mirrored as podinfo-west: the name podinfo's mirror holds.
    await exportService(west, 'db', { headless: true, ready: 2, hostnames: ['db-0', 'podinfo'] });

    const entry = await waitFor(
      async () => (await getLink(east, 'west'))?.status?.services?.find((s) => s.name === 'db'),
      { what: "db in the Link's status.services" },
    );
    const message =
      '1 pod(s) left out of db-west, without a DNS name there: pod podinfo: Service default/podinfo-west ' +
      'already mirrors podinfo.default.svc.cluster.local, so podinfo.db.default.svc.cluster.local gets no ' +
      'mirror of that name';
    expect(entry).toEqual({ namespace: 'default', name: 'db', reason: 'Conflict', message });
    // The parent still serves the pods it can: db-0 only.
    const parent = await getSlice(east, 'default', 'db-west');
    expect(parent?.endpoints?.map((e) => e.hostname)).toEqual(['db-0']);
    // podinfo's mirror is left as it was.
    await waitReady(east, 'default', 'podinfo-west');
    await waitFor(
      async () => {
        const events = await east.client.list<CoreV1Event>(R.events, { namespace: SYSTEM_NAMESPACE });
        return events.items.some(
          (e) => e.type === 'Warning' && e.reason === 'Conflict' && e.message === `default/db: ${message}`,
        );
      },
      { what: 'a Conflict Warning Event on the Link' },
    );
    expect(warnings).toContain(`default/db: ${message}`);
  });

  it('a pod left out for a name held by another mirror gets its per-pod mirror once that mirror goes', async () => {
    const world = await startWorld(['east', 'west']);
    const { east, west } = await eastMirrorsWest(world, 'podinfo', { mirrorHeadless: true });
    await exportService(west, 'db', { headless: true, ready: 2, hostnames: ['db-0', 'podinfo'] });
    expect(await conflictOf(east, 'db')).toMatch(
      /pod podinfo: Service default\/podinfo-west already mirrors/,
    );

    // podinfo is unexported: its mirror goes, and with it what kept db's pod out.
    await updateWithRetry<V1Service>(west.client, R.services, 'default', 'podinfo', (svc) => {
      const { [EXPORTED_LABEL]: _, ...labels } = svc.metadata?.labels ?? {};
      return { ...svc, metadata: { ...svc.metadata, labels } };
    });
    await perPodMirror(east, 'podinfo-west', 'db-west');
    await mirrored(east, 'db');
    const parent = await getSlice(east, 'default', 'db-west');
    expect(parent?.endpoints?.map((e) => e.hostname).sort()).toEqual(['db-0', 'podinfo']);
  });

  it("an export whose name a per-pod mirror holds is mirrored once that pod's mirror goes", async () => {
    const world = await startWorld(['east', 'west']);
    const [east, west] = [world.c('east'), world.c('west')];
    await exportService(west, 'db', { headless: true, ready: 2, hostnames: ['db-0', 'podinfo'] });
    await link(east, west, 'west', { mirrorHeadless: true });
    world.controller('east');
    await perPodMirror(east, 'podinfo-west', 'db-west');
    await exportService(west, 'podinfo', { ready: 1 });
    expect(await conflictOf(east, 'podinfo')).toBe(
      'Service default/podinfo-west already mirrors podinfo.db.default.svc.cluster.local, so podinfo.default.svc.cluster.local gets no mirror of that name',
    );

    // db's pod `podinfo` goes: its per-pod mirror with it, and the name is podinfo's.
    await setRemoteEndpoints(west, 'default', 'db', 1, ['db-0']);
    await mirrored(east, 'podinfo');
    const mirror = await getService(east, 'default', 'podinfo-west');
    expect(mirror?.metadata?.labels?.[HEADLESS_MIRROR_LABEL]).toBeUndefined();
    expect(mirror?.metadata?.annotations?.[REMOTE_SVC_FQ_NAME_ANNOTATION]).toBe(
      'podinfo.default.svc.cluster.local',
    );
    await waitReady(east, 'default', 'podinfo-west');
  });

  it("a pod left out for a stranger's Service of that name gets its per-pod mirror once the stranger is deleted", async () => {
    const world = await startWorld(['east', 'west']);
    const [east, west] = [world.c('east'), world.c('west')];
    await east.client.create(R.services, foreignService('web-west'));
    await exportService(west, 'db', { headless: true, ready: 2, hostnames: ['db-0', 'web'] });
    await link(east, west, 'west', { mirrorHeadless: true });
    world.controller('east');
    expect(await conflictOf(east, 'db')).toMatch(
      /pod web: Service default\/web-west exists and is not a mirror of west: delete or rename the local Service default\/web-west, or stop exporting west's default\/db$/,
    );

    await east.client.delete(R.services, 'default', 'web-west');
    await perPodMirror(east, 'web-west', 'db-west');
    await mirrored(east, 'db');
  });
});

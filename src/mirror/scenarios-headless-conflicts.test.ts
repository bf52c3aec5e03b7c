/**
 * A headless Service's pods whose `<hostname>-<cluster>` mirror name is taken: left out of the
 * parent, and said so in the Link's status, an Event and the log (they used to vanish silently).
 */
import { describe, expect, it } from 'vitest';
import { SYSTEM_NAMESPACE } from '../kube/keys.js';
import { R } from '../kube/resources.js';
import type { CoreV1Event } from '../kube/types.js';
import { exportService, getLink, getSlice, link, waitFor, waitReady, worldPerTest } from './test-harness.js';

const startWorld = worldPerTest();

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
});

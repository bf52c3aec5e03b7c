/**
 * `isthmus_export_to_ready_seconds` times an export: from when a remote Service became exported to
 * when its mirror is ready. A Service labelled long after it was made is timed from the label, and
 * the lists that (re)start a Link's watch (a new Link, a re-link, a restart) are resyncs, not
 * exports, so they time nothing.
 */
import type { Registry } from 'prom-client';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { EXPORTED_LABEL, SYSTEM_NAMESPACE } from '../kube/keys.js';
import { R } from '../kube/resources.js';
import type { Link } from '../kube/types.js';
import { linkObject } from './test-builders.js';
import {
  condition,
  exportService,
  getLink,
  link,
  mirrorsOf,
  waitFor,
  waitReady,
  worldPerTest,
} from './test-harness.js';

const startWorld = worldPerTest();
afterEach(() => {
  vi.restoreAllMocks();
});

/** The histogram's count and sum for one Link. */
async function exportTimings(registry: Registry, cluster = 'west') {
  const metric = (await registry.getMetricsAsJSON()).find(
    (m) => m.name === 'isthmus_export_to_ready_seconds',
  );
  const sample = (suffix: string) =>
    metric?.values.find(
      (v) =>
        (v as { metricName?: string }).metricName === `isthmus_export_to_ready_seconds_${suffix}` &&
        v.labels.target_cluster_name === cluster,
    )?.value ?? 0;
  return { count: sample('count'), sum: sample('sum') };
}

describe('isthmus_export_to_ready_seconds', () => {
  it('times a Service exported long after it was made from its export, not from its creation', async () => {
    const world = await startWorld(['east', 'west']);
    const [east, west] = [world.c('east'), world.c('west')];
    await link(east, west, 'west');
    const { ctl } = world.controller('east');
    await waitFor(async () => condition(await getLink(east, 'west'), 'Ready')?.status === 'True', {
      what: 'Link ready',
    });
    await exportService(west, 'web', { ready: 1, exported: false });
    // An hour passes before someone exports it (the local clock moves; the Service's
    // creationTimestamp, stamped by the remote API server, stays an hour back).
    const realNow = Date.now.bind(Date);
    vi.spyOn(Date, 'now').mockImplementation(() => realNow() + 3_600_000);
    await west.client.patch(R.services, 'default', 'web', {
      metadata: { labels: { [EXPORTED_LABEL]: 'true' } },
    });
    await waitReady(east, 'default', 'web-west');
    const timed = await waitFor(
      async () => {
        const t = await exportTimings(ctl.registry);
        return t.count === 1 ? t : undefined;
      },
      { what: 'one export timed' },
    );
    // Ready within waitReady's deadline of the label, not an hour after the creation.
    expect(timed.sum).toBeLessThan(60);
  });

  it('times a Service made exported, and nothing at a re-link or a restart (their lists are resyncs)', async () => {
    const world = await startWorld(['east', 'west']);
    const [east, west] = [world.c('east'), world.c('west')];
    await exportService(west, 'old-a', { ready: 1 });
    await exportService(west, 'old-b', { ready: 1 });
    await link(east, west, 'west');
    const first = world.controller('east');
    await waitReady(east, 'default', 'old-a-west');
    await waitReady(east, 'default', 'old-b-west');
    // Exported before the Link existed: the first list is no export.
    expect(await exportTimings(first.ctl.registry)).toEqual({ count: 0, sum: 0 });

    await exportService(west, 'new', { ready: 1 });
    await waitReady(east, 'default', 'new-west');
    await waitFor(async () => (await exportTimings(first.ctl.registry)).count === 1, {
      what: 'the new export timed',
    });

    // Unlink (the mirrors go) and link again: every Service comes back in the first list.
    await east.client.delete(R.links, SYSTEM_NAMESPACE, 'west');
    await waitFor(async () => !(await getLink(east, 'west')), { what: 'Link finalized' });
    expect(await mirrorsOf(east, 'west')).toEqual([]);
    await east.client.create<Link>(
      R.links,
      linkObject('west', { clusterCredentialsSecret: 'cluster-credentials-west' }),
    );
    for (const name of ['old-a', 'old-b', 'new']) await waitReady(east, 'default', `${name}-west`);
    await waitFor(() => first.ctl.manager()?.watcher(SYSTEM_NAMESPACE, 'west')?.settled(), {
      what: 're-linked and settled',
    });
    expect((await exportTimings(first.ctl.registry)).count).toBe(1);

    // A restarted controller lists them all again: no export either, though it re-writes nothing.
    await first.stop();
    await exportService(west, 'while-down', { ready: 1 });
    const second = world.controller('east');
    await waitReady(east, 'default', 'while-down-west');
    await waitFor(() => second.ctl.manager()?.watcher(SYSTEM_NAMESPACE, 'west')?.settled(), {
      what: 'restarted and settled',
    });
    expect(await exportTimings(second.ctl.registry)).toEqual({ count: 0, sum: 0 });
  });
});

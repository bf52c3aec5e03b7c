/**
 * The remote cluster's etcd restored from a snapshot (and its API server restarted): the mirror set
 * must become the restored remote's, whatever its resourceVersions did. Without --bump-revision
 * they went back below the controller's informers' own, which kube-apiserver answers with a silent
 * watch: the informers must notice and relist (src/kube/informer.ts).
 */
import { describe, expect, it } from 'vitest';
import { R } from '../kube/resources.js';
import { condition, exportService, getLink, link, mirrorsOf, waitFor, worldPerTest } from './test-harness.js';

const world = worldPerTest();

const mirrorNames = async (...args: Parameters<typeof mirrorsOf>) =>
  (await mirrorsOf(...args))
    .map((s) => s.metadata?.name)
    .sort()
    .join();

describe('remote restored from an etcd snapshot', () => {
  it('without --bump-revision: mirrors converge to the restored remote, then follow it', async () => {
    const w = await world(['east', 'west']);
    const [east, west] = [w.c('east'), w.c('west')];
    for (const n of ['a', 'c', 'e']) await exportService(west, n, { ready: 1 });
    await link(east, west, 'west');
    w.controller('east');
    await waitFor(async () => (await mirrorNames(east, 'west')) === 'a-west,c-west,e-west', {
      what: 'a, c, e mirrored',
    });

    const snap = west.sandbox.faults.snapshot();
    await west.client.delete(R.services, 'default', 'c');
    await exportService(west, 'b', { ready: 1 });
    // History the snapshot lacks, so that the remote's versions go well back on restore.
    for (let i = 0; i < 60; i++)
      await west.client.create(R.configMaps, { metadata: { name: `n${i}`, namespace: 'default' } });
    await waitFor(async () => (await mirrorNames(east, 'west')) === 'a-west,b-west,e-west', {
      what: 'c unmirrored, b mirrored',
    });
    const before = Number((await west.client.list(R.services, {})).resourceVersion);

    west.sandbox.faults.restore(snap);
    expect(Number((await west.client.list(R.services, {})).resourceVersion)).toBeLessThan(before);
    // b (created after the snapshot) is gone: 1 mirror of 3 removed; c (only the snapshot has it) is back.
    await waitFor(async () => (await mirrorNames(east, 'west')) === 'a-west,c-west,e-west', {
      what: 'mirrors of the restored remote',
    });
    await exportService(west, 'd', { ready: 1 });
    await waitFor(async () => (await mirrorNames(east, 'west')) === 'a-west,c-west,d-west,e-west', {
      what: 'd, created after the restore, mirrored',
    });
    await waitFor(
      async () => {
        const ready = condition(await getLink(east, 'west'), 'Ready');
        return ready?.status === 'True' && ready.message === '4 services mirrored';
      },
      { what: 'Link counts the 4 mirrors' },
    );
  });
});

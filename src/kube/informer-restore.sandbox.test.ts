/**
 * An informer against an API server whose etcd was restored from a snapshot: every watch ends, and
 * the server's resourceVersions are back where the snapshot had them (without --bump-revision:
 * below the informer's, so a resumed watch would stay silent) or past every old one (with it: the
 * informer's version is compacted, 410). Either way the cache must become the restored state and
 * then follow new changes.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { type Sandbox, startSandbox } from '../sandbox/index.js';
import { KubeClient } from './client.js';
import { createInformer, type Informer, type InformerEvent } from './informer.js';
import { R } from './resources.js';
import { SYNC_DEADLINE_MS, service, synced, waitFor } from './test-support.js';
import type { V1Service } from './types.js';

const NS = 'apps';
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function setup() {
  const sandbox = await startSandbox({ name: 'west', tls: false, loadCrds: false, bookmarkIntervalMs: 200 });
  cleanups.push(() => sandbox.close());
  const writer = KubeClient.fromKubeconfigString(sandbox.kubeconfig());
  cleanups.push(() => writer.close());
  const reader = KubeClient.fromKubeconfigString(sandbox.kubeconfig());
  cleanups.push(() => reader.close());
  await writer.create(R.namespaces, { metadata: { name: NS } });
  const informer = createInformer<V1Service>(reader, R.services, {
    namespace: NS,
    backoff: { initialMs: 20, maxMs: 200 },
  });
  cleanups.push(() => informer.stop());
  const events: InformerEvent<V1Service>[] = [];
  informer.onEvent((e) => events.push(e));
  informer.start();
  await synced(informer, 'services informer');
  return { sandbox, writer, informer, events };
}

const names = (inf: Informer<V1Service>) =>
  inf
    .list()
    .map((s) => s.metadata?.name)
    .sort()
    .join();

/**
 * a and c exist at the snapshot; afterwards c is deleted, b created, and history runs on (60 more
 * writes), all seen by the informer. Then the restore.
 */
async function restoredWorld(bumpRevision?: number) {
  const w = await setup();
  for (const n of ['a', 'c']) await w.writer.create(R.services, service(NS, n));
  await waitFor('informer has a,c', () => names(w.informer) === 'a,c', SYNC_DEADLINE_MS);
  const snap = w.sandbox.faults.snapshot();
  await w.writer.delete(R.services, NS, 'c');
  await w.writer.create(R.services, service(NS, 'b'));
  for (let i = 0; i < 60; i++)
    await w.writer.create(R.configMaps, { metadata: { name: `n${i}`, namespace: NS } });
  await waitFor('informer has a,b', () => names(w.informer) === 'a,b', SYNC_DEADLINE_MS);
  const before = Number(w.informer.resourceVersion);
  w.sandbox.faults.restore(snap, bumpRevision === undefined ? {} : { bumpRevision });
  return { ...w, before };
}

async function convergesAndFollows(w: Awaited<ReturnType<typeof restoredWorld>>, sandbox: Sandbox) {
  await waitFor('informer has the restored a,c', () => names(w.informer) === 'a,c', SYNC_DEADLINE_MS);
  expect(w.events.some((e) => e.type === 'delete' && e.object.metadata?.name === 'b')).toBe(true);
  await w.writer.create(R.services, service(NS, 'd'));
  await waitFor('informer follows: d', () => names(w.informer) === 'a,c,d', SYNC_DEADLINE_MS);
  expect(sandbox.stats().openWatches).toBeGreaterThan(0);
}

describe('informer after an etcd restore', () => {
  it('without --bump-revision (versions went back below its own): relists, then follows changes', async () => {
    const w = await restoredWorld();
    expect(Number((await w.writer.list(R.services, { namespace: NS })).resourceVersion)).toBeLessThan(
      w.before,
    );
    await convergesAndFollows(w, w.sandbox);
    // Its version is the server's again, not the lost history's.
    expect(Number(w.informer.resourceVersion)).toBeLessThan(w.before);
  });

  it('with --bump-revision: relists on 410, then follows changes', async () => {
    const w = await restoredWorld(1000);
    await convergesAndFollows(w, w.sandbox);
    expect(Number(w.informer.resourceVersion)).toBeGreaterThan(w.before);
  });
});

import type { Readable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { startSandbox } from '../sandbox/index.js';
import { KubeClient } from './client.js';
import { createInformer, type Informer, type InformerEvent, type InformerHealth } from './informer.js';
import { loadKubeconfigString } from './kubeconfig.js';
import { R } from './resources.js';
import { service, synced, waitFor, within } from './test-support.js';
import type { V1Service } from './types.js';

const NS = 'apps';
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A client whose watches wait while held: the test decides when a dropped watch may resume. */
class HeldWatchClient extends KubeClient {
  private held: Promise<void> | undefined;

  /** Holds every watch opened from now on; the returned function lets them go. */
  hold(): () => void {
    let release!: () => void;
    this.held = new Promise<void>((resolve) => {
      release = resolve;
    });
    cleanups.push(release);
    return release;
  }

  override async watch(...args: Parameters<KubeClient['watch']>): Promise<Readable> {
    await this.held;
    return super.watch(...args);
  }
}

async function setup<C extends KubeClient = KubeClient>(
  opts: { watchWindow?: number; reader?: (kubeconfig: string) => C } = {},
) {
  const sandbox = await startSandbox({
    name: 'west',
    watchWindow: opts.watchWindow,
    bookmarkIntervalMs: 200,
  });
  cleanups.push(() => sandbox.close());
  const writer = KubeClient.fromKubeconfigString(sandbox.kubeconfig());
  cleanups.push(() => writer.close());
  // Without `reader`, C is KubeClient itself.
  const reader = (opts.reader?.(sandbox.kubeconfig()) ??
    KubeClient.fromKubeconfigString(sandbox.kubeconfig())) as C;
  cleanups.push(() => reader.close());
  // A namespace of our own: `default` holds the `kubernetes` Service.
  await writer.create(R.namespaces, { metadata: { name: NS } });
  return { sandbox, writer, reader };
}

function track(informer: Informer<V1Service>) {
  const events: InformerEvent<V1Service>[] = [];
  const health: boolean[] = [];
  informer.onEvent((e) => events.push(e));
  informer.onHealth((h: InformerHealth) => health.push(h.connected));
  const names = () =>
    informer
      .list()
      .map((s) => s.metadata?.name)
      .sort();
  const seen = (type: string, name: string) =>
    events.some((e) => e.type === type && e.object.metadata?.name === name);
  return { events, health, names, seen };
}

function start(reader: KubeClient, opts: Parameters<typeof createInformer>[2] = {}): Informer<V1Service> {
  const inf = createInformer<V1Service>(reader, R.services, {
    namespace: NS,
    backoff: { initialMs: 20, maxMs: 200 },
    ...opts,
  });
  cleanups.push(() => inf.stop());
  inf.start();
  return inf;
}

describe('informer against the sandbox', () => {
  it('applies the transform to listed and watched objects before they are cached or emitted', async () => {
    const { writer, reader } = await setup();
    const annotated = (name: string) => {
      const svc = service(NS, name);
      return { ...svc, metadata: { ...svc.metadata, annotations: { keep: 'yes', drop: 'no' } } };
    };
    await writer.create(R.services, annotated('listed'));
    const seenByTransform: string[] = [];
    const inf = start(reader, {
      transform: (obj) => {
        seenByTransform.push(obj.metadata?.name ?? '');
        const { drop: _drop, ...kept } = obj.metadata?.annotations ?? {};
        return { ...obj, metadata: { ...obj.metadata, annotations: kept } };
      },
    });
    const t = track(inf);
    await synced(inf, 'the informer');
    await writer.create(R.services, annotated('watched'));
    await waitFor('add of watched', () => t.seen('add', 'watched'));
    for (const name of ['listed', 'watched']) {
      expect(inf.get(NS, name)?.metadata?.annotations).toEqual({ keep: 'yes' });
      expect(inf.get(NS, name)?.metadata?.resourceVersion).toBeTruthy();
    }
    for (const e of t.events) expect(e.object.metadata?.annotations).toEqual({ keep: 'yes' });
    expect(seenByTransform).toEqual(['listed', 'watched']);
  });

  it('syncs, then delivers add, update and delete', async () => {
    const { writer, reader } = await setup();
    await writer.create(R.services, service(NS, 'before'));
    const inf = start(reader, { labelSelector: 'app.kubernetes.io/part-of!=nothing' });
    const t = track(inf);
    await synced(inf, 'the informer');
    expect(inf.hasSynced()).toBe(true);
    expect(t.names()).toEqual(['before']);
    expect(inf.resourceVersion).not.toBe('');

    await writer.create(R.services, service(NS, 'web'));
    await waitFor('add of web', () => t.seen('add', 'web'));
    await writer.patch(R.services, NS, 'web', { metadata: { labels: { tier: 'front' } } });
    await waitFor('update of web', () => inf.get(NS, 'web')?.metadata?.labels?.tier === 'front');
    const update = t.events.find((e) => e.type === 'update');
    expect(update?.type === 'update' && update.old.metadata?.labels?.tier).toBeUndefined();
    await writer.delete(R.services, NS, 'before');
    await waitFor('delete of before', () => t.seen('delete', 'before'));
    expect(t.names()).toEqual(['web']);
    expect(t.health).toEqual([true]);
  });

  it('resumes from the last version after the watch is dropped, without relisting', async () => {
    const { sandbox, writer, reader } = await setup();
    const inf = start(reader);
    const t = track(inf);
    await synced(inf, 'the informer');
    await waitFor('the watch is open', () => sandbox.stats().openWatches === 1);
    const listsBefore = reader.stats().byVerb.list;
    sandbox.faults.dropWatches();
    await writer.create(R.services, service(NS, 'after-drop'));
    await waitFor('add after drop', () => t.seen('add', 'after-drop'));
    expect(reader.stats().byVerb.list).toBe(listsBefore);
    expect(reader.stats().byVerb.watch).toBeGreaterThanOrEqual(2);
  });

  it('lists page by page, first list and relists alike', async () => {
    const { writer, reader } = await setup();
    for (let i = 0; i < 7; i++) await writer.create(R.services, service(NS, `s-${i}`));
    const inf = start(reader, { pageSize: 3 });
    const t = track(inf);
    await synced(inf, 'the informer');
    expect(t.names()).toHaveLength(7);
    expect(reader.stats().byVerb.list).toBe(3);
  });

  it('relists after 410 Gone and emits the difference, deletes included', async () => {
    // The informer's client holds its watch back, once dropped, until many writes have passed the
    // small window: the resumed watch is too old.
    const { sandbox, writer, reader } = await setup({
      watchWindow: 5,
      reader: (kubeconfig) => new HeldWatchClient(loadKubeconfigString(kubeconfig)),
    });
    await writer.create(R.services, service(NS, 'doomed'));
    await writer.create(R.services, service(NS, 'kept'));
    // Pages of 5: the first list is 1 request, the relist of 13 Services 3.
    const inf = start(reader, { pageSize: 5 });
    const t = track(inf);
    await synced(inf, 'the informer');
    await waitFor('the watch is open', () => sandbox.stats().openWatches === 1);
    const release = reader.hold();
    sandbox.faults.dropWatches();
    await writer.delete(R.services, NS, 'doomed');
    for (let i = 0; i < 12; i++) await writer.create(R.services, service(NS, `burst-${i}`));
    release();
    await waitFor('relist converged', () => t.names().length === 13 && !inf.get(NS, 'doomed'), 15_000);
    expect(t.seen('delete', 'doomed')).toBe(true);
    expect(t.seen('add', 'burst-11')).toBe(true);
    expect(reader.stats().byVerb.list).toBeGreaterThanOrEqual(1 + 3);
  });

  it('backs off under 500s, reports unhealthy, then recovers', async () => {
    const { sandbox, writer, reader } = await setup();
    await writer.create(R.services, service(NS, 'x'));
    sandbox.faults.failNext(3, 500);
    const inf = start(reader);
    const t = track(inf);
    await synced(inf, 'the informer');
    expect(t.names()).toEqual(['x']);
    expect(t.health).toEqual([false, true]);
    expect(reader.stats().errors).toBeGreaterThanOrEqual(3);
  });

  it('goOffline → unhealthy, goOnline → healthy and the cache converges', async () => {
    const { sandbox, writer, reader } = await setup();
    const inf = start(reader);
    const t = track(inf);
    await synced(inf, 'the informer');
    await sandbox.faults.goOffline();
    await waitFor('unhealthy', () => t.health.at(-1) === false);
    await sandbox.faults.goOnline();
    await writer.create(R.services, service(NS, 'back'));
    await waitFor('healthy and converged', () => t.health.at(-1) === true && inf.get(NS, 'back'), 15_000);
  });

  it('stop() closes the watch, clears timers and silences handlers', async () => {
    const { sandbox, writer, reader } = await setup();
    const inf = start(reader, { resyncMs: 50 });
    const t = track(inf);
    await synced(inf, 'the informer');
    await writer.create(R.services, service(NS, 'r'));
    // Resync re-emits cached objects as update with old === object.
    await waitFor('a resync', () => t.events.some((e) => e.type === 'update' && e.old === e.object));
    await waitFor('a watch is open', () => sandbox.stats().openWatches === 1);
    await inf.stop();
    await waitFor('no open watch', () => sandbox.stats().openWatches === 0);
    const count = t.events.length;
    await writer.create(R.services, service(NS, 'late'));
    // Wait until another watcher has seen the write, so a leak would have fired by now.
    const probe = start(writer);
    await synced(probe, 'the probe informer');
    expect(t.events.length).toBe(count);
  });

  it('synced rejects when stopped before the first list completes', async () => {
    const { sandbox, reader } = await setup();
    await sandbox.faults.goOffline();
    const inf = start(reader);
    await inf.stop();
    await expect(inf.synced).rejects.toThrow(/stopped before sync/);
  });

  it('stop() during a slow list returns promptly', async () => {
    const { sandbox, reader } = await setup();
    sandbox.faults.setDelay(20_000);
    const inf = start(reader);
    await waitFor('the list is in flight', () => reader.stats().byVerb.list === 1);
    // A hang guard, not a speed claim: a stop that waited for the list would take the 20 s delay.
    await within(inf.stop(), 10_000, 'stop() to end the list in flight');
    sandbox.faults.setDelay(0);
  });

  it('bookmarks advance the resourceVersion; a throwing handler does not stop the others', async () => {
    const { writer, reader } = await setup();
    const inf = start(reader);
    inf.onEvent(() => {
      throw new Error('handler bug');
    });
    const t = track(inf);
    await synced(inf, 'the informer');
    const listed = Number(inf.resourceVersion);
    // Writes elsewhere produce no events here, but bookmarks carry the newer version.
    await writer.create(R.configMaps, { metadata: { namespace: 'default', name: 'elsewhere' } });
    await waitFor('a bookmark past the write', () => Number(inf.resourceVersion) > listed, 5_000);
    await writer.create(R.services, service(NS, 'seen-despite-bug'));
    await waitFor('add delivered to the healthy handler', () => t.seen('add', 'seen-despite-bug'));
  });
});

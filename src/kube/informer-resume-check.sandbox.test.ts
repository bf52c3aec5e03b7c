/**
 * When an informer checks, before resuming a watch, that the server has reached its version (a
 * one-item NotOlderThan list, verb `list-check`): only after a watch that did not end cleanly (a
 * reset connection, a 5xx), the way an API server restart ends it. A watch the server ended at its
 * timeoutSeconds, after bookmarks at or above the informer's version, needs no check: on kube
 * <= 1.32 a selective list with a limit is read from etcd, every object of the resource per resume.
 * The check is sent without the label selector, for the same reason, and with the field selector,
 * so that it is authorized as the watch is.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { startSandbox } from '../sandbox/index.js';
import { KubeClient } from './client.js';
import { createInformer } from './informer.js';
import { R } from './resources.js';
import { SYNC_DEADLINE_MS, service, synced, waitFor } from './test-support.js';
import type { V1Service } from './types.js';

const NS = 'apps';
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function informing(opts: { labelSelector?: string; fieldSelector?: string } = {}) {
  const sandbox = await startSandbox({ name: 'west', tls: false, loadCrds: false, bookmarkIntervalMs: 100 });
  cleanups.push(() => sandbox.close());
  const reader = KubeClient.fromKubeconfigString(sandbox.kubeconfig());
  cleanups.push(() => reader.close());
  const writer = KubeClient.fromKubeconfigString(sandbox.kubeconfig());
  cleanups.push(() => writer.close());
  await writer.create(R.namespaces, { metadata: { name: NS } });
  await writer.create(R.services, service(NS, 'a', { app: 'a' }));
  const informer = createInformer<V1Service>(reader, R.services, {
    namespace: NS,
    watchTimeoutSeconds: 1,
    backoff: { initialMs: 20, maxMs: 200 },
    ...opts,
  });
  cleanups.push(() => informer.stop());
  informer.start();
  await synced(informer, 'services informer');
  const count = (verb: string) => reader.stats().byVerb[verb] ?? 0;
  /** Waits until `n` more watches were opened than now. */
  const watchesMore = async (n: number) => {
    const target = count('watch') + n;
    await waitFor(`${n} more watches`, () => count('watch') >= target, SYNC_DEADLINE_MS);
  };
  /** Resets every connection once the informer's watch is open (its server side too). */
  const resetWatch = async () => {
    await waitFor('a watch open', () => sandbox.stats().openWatches > 0, SYNC_DEADLINE_MS);
    sandbox.faults.resetWatches();
  };
  return { sandbox, reader, writer, informer, count, watchesMore, resetWatch };
}

describe('the check before a resumed watch', () => {
  it('is not sent after watches the server ended at their timeout, bookmarks seen; is sent once after a reset connection', async () => {
    const w = await informing();
    // Two watches ended at their timeoutSeconds (1 s, bookmarks every 100 ms), each resumed.
    await w.watchesMore(2);
    expect(w.count('list-check')).toBe(0);

    await w.resetWatch();
    await w.watchesMore(1);
    expect(w.count('list-check')).toBe(1);
    // And the informer follows changes on the resumed watch.
    await w.writer.create(R.services, service(NS, 'b'));
    await waitFor('b seen', () => w.informer.get(NS, 'b'), SYNC_DEADLINE_MS);
  });

  it('is sent after a watch refused with a 5xx', async () => {
    const w = await informing();
    await w.watchesMore(1);
    w.sandbox.faults.failNext(1, 500);
    await waitFor('the refused watch retried', () => w.count('list-check') >= 1, SYNC_DEADLINE_MS);
    await w.watchesMore(1);
    expect(w.count('list-check')).toBe(1);
  });

  it('is sent without the label selector, with the field selector', async () => {
    const w = await informing({ labelSelector: 'app=a', fieldSelector: 'metadata.name=a' });
    const sent: Record<string, unknown>[] = [];
    const request = w.reader.request.bind(w.reader);
    w.reader.request = (verb, method, path, opts) => {
      if (verb === 'list-check') sent.push({ path, ...opts?.query });
      return request(verb, method, path, opts);
    };
    await w.resetWatch();
    await waitFor('a check sent', () => sent.length > 0, SYNC_DEADLINE_MS);
    expect(sent[0]).toEqual({
      path: `/api/v1/namespaces/${NS}/services`,
      fieldSelector: 'metadata.name=a',
      labelSelector: undefined,
      limit: 1,
      continue: undefined,
      resourceVersion: w.informer.resourceVersion,
      resourceVersionMatch: 'NotOlderThan',
    });
  });
});

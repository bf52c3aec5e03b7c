import { afterEach, describe, expect, it } from 'vitest';
import type { IsthmusError } from '../errors.js';
import { startSandbox } from '../sandbox/index.js';
import { KubeClient } from './client.js';
import { createInformer, type InformerHealth } from './informer.js';
import { R } from './resources.js';
import { TcpRelay } from './tcp-relay.js';
import { service, synced, waitFor } from './test-support.js';
import type { V1Service } from './types.js';

const NS = 'apps';
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/**
 * A sandbox, a writer straight to it, and a relay in front of it that the test can freeze. By
 * default bookmarks far apart: the watch is quiet, as a real one often is for minutes.
 */
async function setup(bookmarkIntervalMs = 600_000) {
  const sandbox = await startSandbox({ name: 'west', tls: false, bookmarkIntervalMs });
  cleanups.push(() => sandbox.close());
  const writer = KubeClient.fromKubeconfigString(sandbox.kubeconfig());
  cleanups.push(() => writer.close());
  await writer.create(R.namespaces, { metadata: { name: NS } });
  const relay = await TcpRelay.start(new URL(sandbox.url));
  cleanups.push(() => relay.close());
  const kubeconfig = sandbox.kubeconfig().replace(sandbox.url, relay.via(sandbox.url));
  return { sandbox, writer, relay, kubeconfig };
}

/** A Service informer on `reader` (production's 5–10 min watches: only the health check can cut one short). */
async function watchServices(reader: KubeClient, watchSilenceFloorMs?: number) {
  const informer = createInformer<V1Service>(reader, R.services, {
    namespace: NS,
    backoff: { initialMs: 20, maxMs: 100 },
    watchTimeoutSeconds: 600,
    watchSilenceFloorMs,
  });
  cleanups.push(() => informer.stop());
  const health: InformerHealth[] = [];
  informer.onHealth((h) => health.push(h));
  informer.start();
  await synced(informer, 'the informer');
  await waitFor('watching', () => health.at(-1)?.connected === true, 5_000);
  return { informer, health };
}

describe('a hung API server (connections open, nothing forwarded)', () => {
  it("is found dead by the client's health check, reported, and the watch resumes once it answers", async () => {
    const { writer, relay, kubeconfig } = await setup();
    const reader = KubeClient.fromKubeconfigString(kubeconfig, undefined, {
      healthCheck: { periodMs: 100, timeoutMs: 300 },
      timeoutMs: 1_000,
    });
    cleanups.push(() => reader.close());
    const { informer, health } = await watchServices(reader);

    relay.freeze();
    await waitFor('hang reported', () => health.at(-1)?.connected === false, 10_000);
    const lost = health.at(-1)?.lastError as IsthmusError | undefined;
    expect(lost?.message).toMatch(/did not answer/);
    expect(lost?.code).toBe('KUBE_API_UNAVAILABLE');

    // Made while the relay is frozen: the watch that resumes after the thaw brings it.
    await writer.create(R.services, service(NS, 'late'));
    relay.thaw();
    await waitFor('reconnected', () => health.at(-1)?.connected === true, 10_000);
    await waitFor('late Service seen', () => informer.get(NS, 'late') !== undefined, 10_000);
  });

  it('a healthy but quiet API server is not reported down', async () => {
    const { writer, kubeconfig } = await setup();
    const reader = KubeClient.fromKubeconfigString(kubeconfig, undefined, {
      healthCheck: { periodMs: 20, timeoutMs: 1_000 },
    });
    cleanups.push(() => reader.close());
    const { informer, health } = await watchServices(reader);
    // Many health checks on a watch with nothing to say: none ends it.
    await waitFor('health checks made', () => (reader.stats().byVerb.health ?? 0) >= 20, 10_000);
    await writer.create(R.services, service(NS, 'quiet'));
    await waitFor('event on the same watch', () => informer.get(NS, 'quiet') !== undefined, 5_000);
    expect(health.every((h) => h.connected)).toBe(true);
    expect(reader.stats().byVerb.watch).toBe(1);
  });
});

describe('one dead watch connection while the API server answers (a NAT entry dropped, no reset)', () => {
  it('is found by the missing bookmarks, reported, and the watch resumes on a new connection', async () => {
    // Bookmarks every 100 ms here, as kube-apiserver sends one a minute to every watch.
    const { writer, relay, kubeconfig } = await setup(100);
    // No health check: it would go over a connection the black hole also took (the pooled one of
    // the list). What finds the dead watch here is the watch's own silence.
    const reader = KubeClient.fromKubeconfigString(kubeconfig, undefined, {
      healthCheck: false,
      timeoutMs: 2_000,
    });
    cleanups.push(() => reader.close());
    const { informer, health } = await watchServices(reader, 300);
    // A write elsewhere moves the server's version; a bookmark on the watch brings it.
    await writer.create(R.namespaces, { metadata: { name: 'elsewhere' } });
    const moved = await writer.create<V1Service>(R.services, service('elsewhere', 'other'));
    await waitFor(
      'bookmark received',
      () => informer.resourceVersion === moved.metadata?.resourceVersion,
      5_000,
    );

    relay.blackholeOpen();
    await writer.create(R.services, service(NS, 'late'));
    await waitFor('dead watch reported', () => health.at(-1)?.connected === false, 10_000);
    const lost = health.at(-1)?.lastError as IsthmusError | undefined;
    expect(lost?.code).toBe('KUBE_API_UNAVAILABLE');
    // The bound is the floor (0.3 s) or three of the longest gaps seen, whichever is longer.
    expect(lost?.message).toMatch(/nothing received for [\d.]+ s on a watch whose server sent a bookmark/);
    // Resumed from the last version on a new connection: the Service made meanwhile arrives, no relist.
    await waitFor('late Service seen', () => informer.get(NS, 'late') !== undefined, 10_000);
    await waitFor('reconnected', () => health.at(-1)?.connected === true, 10_000);
    expect(reader.stats().byVerb.list).toBe(1);
  });

  it('a watch whose server sends no bookmarks is not cut at the floor', async () => {
    const { writer, kubeconfig } = await setup();
    // The health check, on connections of its own, is the clock: 20 checks 20 ms apart are a
    // silence on the watch of 8 floors at least.
    const reader = KubeClient.fromKubeconfigString(kubeconfig, undefined, {
      healthCheck: { periodMs: 20, timeoutMs: 1_000 },
    });
    cleanups.push(() => reader.close());
    const { informer, health } = await watchServices(reader, 50);
    await waitFor('health checks made', () => (reader.stats().byVerb.health ?? 0) >= 20, 10_000);
    await writer.create(R.services, service(NS, 'after-the-quiet'));
    await waitFor('event on the same watch', () => informer.get(NS, 'after-the-quiet') !== undefined, 5_000);
    expect(health.every((h) => h.connected)).toBe(true);
    expect(reader.stats().byVerb.watch).toBe(1);
  });
});

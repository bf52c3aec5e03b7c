/**
 * What the failover controller remembers of a split, and where it resumes from, against the strict
 * sandbox: a TrafficSplit CRD without a status subresource (linkerd-smi's), a split created again
 * under its name, a new primary, a restart between the weight patch and the status write, a hand
 * edit of the weights.
 */
import type { Registry } from 'prom-client';
import { describe, expect, it, onTestFinished } from 'vitest';
import { updateWithRetry } from '../kube/apply.js';
import { KubeClient } from '../kube/client.js';
import { EventRecorder } from '../kube/events.js';
import {
  FAILOVER_PRIMARY_ANNOTATION,
  FAILOVER_RESTORE_AFTER_ANNOTATION,
  MANAGED_BY_LABEL,
} from '../kube/keys.js';
import { R } from '../kube/resources.js';
import { TcpRelay } from '../kube/tcp-relay.js';
import { synced } from '../kube/test-support.js';
import type { CoreV1Event, TrafficSplit } from '../kube/types.js';
import { createLocalInformers } from '../mirror/controller.js';
import { waitFor } from '../mirror/test-wait.js';
import type { Sandbox } from '../sandbox/index.js';
import {
  type FailoverController,
  type FailoverControllerOptions,
  runFailoverController,
} from './controller.js';
import { statusUnsupportedChannel } from './reconcile-split.js';
import { GATEWAY_POD, LINKERD_SMI_CRD, PRIMARY_PODS, service, slice, trafficSplit } from './test-builders.js';
import { controllerSandbox } from './test-sandbox.js';

let sandbox: Sandbox;
/** The test's own client, not rate-limited (its polling would drain the controller's bucket). */
let client: KubeClient;
let controllerClient: KubeClient;
let controller: FailoverController | undefined;
let registry: Registry;
let ns: string;
let clock = Date.now();

function start(opts: Partial<FailoverControllerOptions> = {}): FailoverController {
  const c = opts.client ?? controllerClient;
  controller = runFailoverController({
    client: c,
    registry,
    recorder: new EventRecorder(c, { component: 'isthmus-failover' }),
    now: () => clock,
    queueBackoff: { baseMs: 20, maxMs: 300 },
    ...opts,
  });
  return controller;
}

/** Apex podinfo (selecting the primary pods), backends podinfo, podinfo-west, podinfo-north. */
async function fixture(
  weights: [number, number, number] = [1, 0, 0],
  annotations: Record<string, string> = {},
): Promise<void> {
  await client.create(R.services, service(ns, 'podinfo', [{ name: 'http', port: 9898 }], { app: 'podinfo' }));
  await client.create(R.services, service(ns, 'podinfo-west'));
  await client.create(R.services, service(ns, 'podinfo-north'));
  await client.create(R.endpointSlices, {
    ...slice(ns, 'podinfo', { ready: PRIMARY_PODS }),
    metadata: {
      namespace: ns,
      name: 'podinfo-abc12',
      labels: {
        'kubernetes.io/service-name': 'podinfo',
        [MANAGED_BY_LABEL]: 'endpointslice-controller.k8s.io',
      },
    },
  });
  for (const [svc, port] of [
    ['podinfo-west', 20001],
    ['podinfo-north', 20002],
  ] as const)
    await client.create(
      R.endpointSlices,
      slice(ns, svc, { mirror: true, port, name: `${svc}-gw`, ready: [GATEWAY_POD] }),
    );
  await createSplit(weights, annotations);
}

const createSplit = (weights: [number, number, number], annotations: Record<string, string>) =>
  client.create(
    R.trafficSplitsV1alpha2,
    trafficSplit(
      ns,
      'podinfo',
      'podinfo',
      [
        { service: 'podinfo', weight: weights[0] },
        { service: 'podinfo-west', weight: weights[1] },
        { service: 'podinfo-north', weight: weights[2] },
      ],
      { annotations: { [FAILOVER_PRIMARY_ANNOTATION]: 'podinfo', ...annotations } },
    ),
  );

async function setPrimaryReady(ready: boolean): Promise<void> {
  const endpoints = PRIMARY_PODS.map((a) => ({ addresses: [a], conditions: { ready } }));
  await client.patch(R.endpointSlices, ns, 'podinfo-abc12', { endpoints });
}

const getSplit = () => client.get<TrafficSplit>(R.trafficSplitsV1alpha2, ns, 'podinfo');
const weightsOf = async () => (await getSplit())?.spec.backends.map((b) => b.weight);
const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);
const events = async () =>
  (await client.list<CoreV1Event>(R.events, { namespace: ns })).items.map(
    (e) => `${e.reason}: ${e.message} (x${e.count ?? 1})`,
  );
async function metric(name: string): Promise<number | undefined> {
  const m = await registry.getSingleMetric(name)?.get();
  return m?.values.find((v) => !v.labels.split || (v.labels.namespace === ns && v.labels.split === 'podinfo'))
    ?.value;
}

/**
 * Shared informers the test starts, so it can tell when the controller has seen a change: their
 * handlers queue the split as the cache takes the object, and `idle()` then waits for the decision.
 */
async function sharedInformers(c: KubeClient = controllerClient) {
  const shared = createLocalInformers(c);
  shared.services.start();
  shared.slices.start();
  onTestFinished(() => Promise.all([shared.services.stop(), shared.slices.stop()]).then(() => {}));
  await Promise.all([synced(shared.services, 'services'), synced(shared.slices, 'slices')]);
  return shared;
}

/** The primary's readiness changed, as the controller's slice informer has it, and decided on. */
async function seen(shared: Awaited<ReturnType<typeof sharedInformers>>, ready: boolean): Promise<void> {
  await waitFor(() => shared.slices.get(ns, 'podinfo-abc12')?.endpoints?.[0]?.conditions?.ready === ready, {
    what: `the primary ${ready ? 'ready' : 'not ready'} in the controller's cache`,
  });
  await controller!.idle();
}

function sandboxPerFile(opts: { loadCrds: boolean }) {
  controllerSandbox({
    nsPrefix: 'memory',
    loadCrds: opts.loadCrds,
    ...(opts.loadCrds ? {} : { prepare: installLinkerdSmiCrd }),
    stopEach: () => controller?.stop(),
    use: (s) => {
      controller = undefined;
      clock = Date.now();
      ({ sandbox, client, controllerClient, registry, ns } = s);
    },
  });
}

async function installLinkerdSmiCrd(c: KubeClient): Promise<void> {
  await c.create(R.crds, LINKERD_SMI_CRD);
  await waitFor(() => c.list(R.trafficSplitsV1alpha2, { namespace: 'default' }).then(() => true), {
    what: 'the linkerd-smi CRD served',
  });
}

describe("next to linkerd-smi's TrafficSplit CRD, which has no status subresource", () => {
  sandboxPerFile({ loadCrds: false });

  it('fails over and back with its events, gauge and restore-after, counts no sync error, and says so once', async () => {
    const published: unknown[] = [];
    const onPublish = (message: unknown) => published.push(message);
    statusUnsupportedChannel.subscribe(onPublish);
    onTestFinished(() => {
      statusUnsupportedChannel.unsubscribe(onPublish);
    });
    await fixture([1, 0, 0], { [FAILOVER_RESTORE_AFTER_ANNOTATION]: '30s' });
    // A backend that names no Service: a Warning, once per change, not once per sync.
    await client.patch(R.trafficSplitsV1alpha2, ns, 'podinfo', {
      spec: {
        backends: [
          { service: 'podinfo', weight: 1 },
          { service: 'podinfo-west', weight: 0 },
          { service: 'podinfo-north', weight: 0 },
          { service: 'podinfo-gone', weight: 0 },
        ],
      },
    });
    const shared = await sharedInformers();
    await synced(start({ informers: shared }), 'the failover controller');
    await controller!.idle();

    await setPrimaryReady(false);
    await waitFor(async () => same(await weightsOf(), [0, 1, 1, 0]), { what: 'weights on the backups' });
    await seen(shared, false);
    expect(await metric('isthmus_failover_active')).toBe(1);
    expect(await events()).toContain('Failover: failing over to podinfo-west, podinfo-north (x1)');

    // The primary is back: restore-after holds the traffic on the backups ...
    await setPrimaryReady(true);
    await seen(shared, true);
    expect(await weightsOf()).toEqual([0, 1, 1, 0]);
    expect(await metric('isthmus_failover_active')).toBe(1);
    // ... until it has been ready for 30 s (any event re-runs the decision; the timer would too).
    clock += 31_000;
    await client.patch(R.services, ns, 'podinfo-west', { metadata: { labels: { touched: 'yes' } } });
    await waitFor(async () => same(await weightsOf(), [1, 0, 0, 0]), { what: 'restored after the wait' });
    await controller!.idle();
    expect(await metric('isthmus_failover_active')).toBe(0);
    const settled = await events();
    expect(settled).toContain('Failover: restored to primary podinfo (x1)');
    expect(settled.some((e) => e.startsWith('BackendNotFound: no Service named podinfo-gone'))).toBe(true);
    // A sync that changes nothing (the status kept in memory is the same) records no Warning again.
    await client.patch(R.services, ns, 'podinfo-north', { metadata: { labels: { touched: 'yes' } } });
    await waitFor(() => shared.services.get(ns, 'podinfo-north')?.metadata?.labels?.touched === 'yes', {
      what: 'the touch seen',
    });
    await controller!.idle();
    expect(await events()).toEqual(settled);
    expect(await metric('isthmus_failover_sync_errors_total')).toBe(0);
    expect(published).toEqual([{ key: `${ns}/podinfo` }]);
    expect((await getSplit())?.status).toBeUndefined();
  });
});

describe('failover memory: which split, which primary, what the split says', () => {
  sandboxPerFile({ loadCrds: true });

  it('a split created again under its name while the controller did not see the delete starts fresh', async () => {
    await fixture([1, 0, 0], { [FAILOVER_RESTORE_AFTER_ANNOTATION]: '30s' });
    // Only the split watch goes through a relay the test cuts: the controller misses the delete,
    // while its Service and slice caches (shared informers) stay current, so what it decides on
    // the new split is not an honest failover on a stale cache.
    const relay = await TcpRelay.start(new URL(sandbox.url));
    onTestFinished(() => relay.close());
    const relayed = KubeClient.fromKubeconfigString(
      sandbox.kubeconfig().replace(sandbox.url, relay.via(sandbox.url)),
    );
    onTestFinished(() => relayed.close());
    const shared = await sharedInformers();
    await synced(start({ client: relayed, informers: shared }), 'the failover controller');
    await setPrimaryReady(false);
    await waitFor(async () => (await getSplit())?.status?.state === 'Fallback', { what: 'Fallback' });
    await controller!.idle();

    // Out of sight of the controller: the split is replaced (kubectl replace --force, a Helm
    // reinstall), the primary healthy again.
    relay.cut();
    const old = (await getSplit())?.metadata?.uid;
    await client.delete(R.trafficSplitsV1alpha2, ns, 'podinfo');
    await waitFor(async () => (await getSplit()) === undefined, { what: 'the old split gone' });
    await setPrimaryReady(true);
    await seen(shared, true);
    await createSplit([1, 0, 0], { [FAILOVER_RESTORE_AFTER_ANNOTATION]: '30s' });
    relay.restore();

    await waitFor(
      async () => {
        const split = await getSplit();
        return split?.metadata?.uid !== old && split?.status?.state !== undefined;
      },
      { what: 'the new split reconciled', timeoutMs: 20_000 },
    );
    await controller!.idle();
    // Its primary is healthy and it never failed over: no inherited Fallback, no wait.
    expect((await getSplit())?.status?.state).toBe('Primary');
    expect(await weightsOf()).toEqual([1, 0, 0]);
  });

  it('a new primary named during a failover keeps the traffic it carries: no restore-after wait off it', async () => {
    await fixture([1, 0, 0], { [FAILOVER_RESTORE_AFTER_ANNOTATION]: '30s' });
    await synced(start(), 'the failover controller');
    await setPrimaryReady(false);
    await waitFor(async () => same(await weightsOf(), [0, 1, 1]), { what: 'on both backups' });
    await controller!.idle();
    await client.patch(R.trafficSplitsV1alpha2, ns, 'podinfo', {
      metadata: { annotations: { [FAILOVER_PRIMARY_ANNOTATION]: 'podinfo-west' } },
    });
    await waitFor(
      async () =>
        (await getSplit())?.status?.conditions
          ?.find((c) => c.type === 'Accepted')
          ?.message.includes('primary podinfo-west'),
      { what: 'the new primary seen' },
    );
    await controller!.idle();
    expect(await weightsOf()).toEqual([0, 1, 0]);
    expect((await getSplit())?.status?.state).toBe('Primary');
  });

  it('resumes from the weights, not a status a step behind them: a restored primary stays restored', async () => {
    // What a leader that stopped between the weight patch and the status write leaves.
    await fixture([1, 0, 0], { [FAILOVER_RESTORE_AFTER_ANNOTATION]: '5m' });
    const current = (await getSplit())!;
    await client.replaceStatus<TrafficSplit>(R.trafficSplitsV1alpha2, {
      ...current,
      status: { state: 'Fallback', activeBackends: ['podinfo-west', 'podinfo-north'] },
    });
    const shared = await sharedInformers();
    await synced(start({ informers: shared }), 'the failover controller');
    await waitFor(async () => (await getSplit())?.status?.state === 'Primary', { what: 'Primary' });
    await controller!.idle();
    expect(await weightsOf()).toEqual([1, 0, 0]);
    expect(await events()).toEqual([]);
  });

  it('a hand edit of the weights is reverted, and a Normal event WeightsOverwritten says what was found and written', async () => {
    await fixture();
    await synced(start(), 'the failover controller');
    await waitFor(async () => (await getSplit())?.status?.state === 'Primary', { what: 'Primary' });
    // Read again on a 409: the controller may still be writing the status it just decided.
    await updateWithRetry<TrafficSplit>(client, R.trafficSplitsV1alpha2, ns, 'podinfo', (current) => ({
      ...current,
      spec: {
        ...current.spec,
        backends: [
          { service: 'podinfo', weight: 0 },
          { service: 'podinfo-west', weight: 1 },
          { service: 'podinfo-north', weight: 0 },
        ],
      },
    }));
    await waitFor(async () => same(await weightsOf(), [1, 0, 0]), { what: 'the edit reverted' });
    await controller!.idle();
    expect(await events()).toEqual([
      'WeightsOverwritten: weights podinfo=0, podinfo-west=1, podinfo-north=0 found, not the ones the failover controller left (podinfo=1, podinfo-west=0, podinfo-north=0): wrote podinfo=1, podinfo-west=0, podinfo-north=0 (x1)',
    ]);
  });

  it("a failover patches the controller's own weights: Failover, no WeightsOverwritten", async () => {
    await fixture();
    const shared = await sharedInformers();
    await synced(start({ informers: shared }), 'the failover controller');
    await waitFor(async () => (await getSplit())?.status?.state === 'Primary', { what: 'Primary' });
    await setPrimaryReady(false);
    await waitFor(async () => same(await weightsOf(), [0, 1, 1]), { what: 'on the backups' });
    await seen(shared, false);
    await setPrimaryReady(true);
    await waitFor(async () => same(await weightsOf(), [1, 0, 0]), { what: 'restored' });
    await seen(shared, true);
    expect((await events()).sort()).toEqual([
      'Failover: failing over to podinfo-west, podinfo-north (x1)',
      'Failover: restored to primary podinfo (x1)',
    ]);
  });
});

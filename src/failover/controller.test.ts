/**
 * The failover controller against the strict sandbox API server (realistic 10.x pod IPs, loopback
 * endpoints refused). Slices of the primary are written as the EndpointSlice controller would;
 * mirror slices as the mirror controller would (gateway pod 10.0.0.5 at egress ports).
 */
import { Registry } from 'prom-client';
import { describe, expect, it, onTestFinished } from 'vitest';
import { KubeClient } from '../kube/client.js';
import { EventRecorder } from '../kube/events.js';
import { FlakyClient } from '../kube/flaky-client.js';
import { createInformer } from '../kube/informer.js';
import {
  FAILOVER_CONTROLLED_BY_LABEL,
  FAILOVER_PRIMARY_ANNOTATION,
  FAILOVER_RESTORE_AFTER_ANNOTATION,
  MANAGED_BY_FAILOVER,
  MANAGED_BY_LABEL,
} from '../kube/keys.js';
import { R } from '../kube/resources.js';
import { TcpRelay } from '../kube/tcp-relay.js';
import { synced } from '../kube/test-support.js';
import type { CoreV1Event, TrafficSplit, V1EndpointSlice, V1Service } from '../kube/types.js';
import { createLocalInformers } from '../mirror/controller.js';
import { waitFor } from '../mirror/test-wait.js';
import { type Sandbox, startSandbox } from '../sandbox/index.js';
import {
  type FailoverController,
  type FailoverControllerOptions,
  runFailoverController,
} from './controller.js';
import { SPLIT_LABEL, splitLabelValue } from './plan-apex-slices.js';
import { STEER_LABEL } from './split-selection.js';
import type { SplitStatus } from './split-status.js';
import { failoverStatusRows } from './status-view.js';
import {
  GATEWAY_POD,
  PRIMARY_PODS,
  podIPs,
  podSlices,
  service,
  slice,
  trafficSplit,
} from './test-builders.js';
import { controllerSandbox } from './test-sandbox.js';

let sandbox: Sandbox;
/** The test's own client, not rate-limited; the controller's, at the production limit (test-sandbox.ts). */
let client: KubeClient;
let controllerClient: KubeClient;
let controller: FailoverController | undefined;
let registry: Registry;
let ns: string;
let clock = Date.now();

controllerSandbox({
  nsPrefix: 'failover',
  use: (s) => {
    ({ sandbox, client, controllerClient, registry, ns } = s);
    controller = undefined;
    clock = Date.now();
  },
  stopEach: () => controller?.stop(),
});

function start(
  opts: Pick<FailoverControllerOptions, 'controlledBy' | 'informers'> & { client?: KubeClient } = {},
): FailoverController {
  controller = runFailoverController({
    client: controllerClient,
    registry,
    recorder: new EventRecorder(controllerClient, { component: 'isthmus-failover' }),
    now: () => clock,
    // Retries of a failed reconcile (the flaky-client test) after 20 ms, 40 ms…, not 100, 200…
    queueBackoff: { baseMs: 20, maxMs: 300 },
    ...opts,
  });
  return controller;
}

const primarySlice = (ready: boolean) => ({
  ...slice(ns, 'podinfo', ready ? { ready: PRIMARY_PODS } : { notReady: PRIMARY_PODS }),
  metadata: {
    namespace: ns,
    name: 'podinfo-abc12',
    labels: {
      'kubernetes.io/service-name': 'podinfo',
      [MANAGED_BY_LABEL]: 'endpointslice-controller.k8s.io',
    },
  },
});
const mirrorSlice = (svc: string, port: number, ready: boolean) =>
  slice(ns, svc, { mirror: true, port, name: `${svc}-gw`, [ready ? 'ready' : 'notReady']: [GATEWAY_POD] });

/** Apex podinfo (selecting the primary pods), backends podinfo, podinfo-west, podinfo-north. */
async function fixture(
  opts: { weights?: [number, number, number]; annotations?: Record<string, string>; name?: string } = {},
) {
  await client.create(R.services, service(ns, 'podinfo', [{ name: 'http', port: 9898 }], { app: 'podinfo' }));
  await client.create(R.services, service(ns, 'podinfo-west'));
  await client.create(R.services, service(ns, 'podinfo-north'));
  await client.create(R.endpointSlices, primarySlice(true));
  await client.create(R.endpointSlices, mirrorSlice('podinfo-west', 20001, true));
  await client.create(R.endpointSlices, mirrorSlice('podinfo-north', 20002, true));
  const [p, w, n] = opts.weights ?? [1, 0, 0];
  const backends = [
    { service: 'podinfo', weight: p },
    { service: 'podinfo-west', weight: w },
    { service: 'podinfo-north', weight: n },
  ];
  await client.create(
    R.trafficSplitsV1alpha2,
    trafficSplit(ns, opts.name ?? 'podinfo', 'podinfo', backends, opts),
  );
}

async function setReady(sliceName: string, ready: boolean): Promise<void> {
  const current = await client.get<V1EndpointSlice>(R.endpointSlices, ns, sliceName);
  const endpoints = (current?.endpoints ?? []).map((e) => ({ ...e, conditions: { ready } }));
  await client.patch(R.endpointSlices, ns, sliceName, { endpoints });
}

const getSplit = (name = 'podinfo') => client.get<TrafficSplit>(R.trafficSplitsV1alpha2, ns, name);
const weightsOf = async (name = 'podinfo') => (await getSplit(name))?.spec.backends.map((b) => b.weight);
const conditionOf = async (type: string, name = 'podinfo') =>
  (await getSplit(name))?.status?.conditions?.find((c) => c.type === type);
const apexSlices = async (split = 'podinfo') =>
  (
    await client.list<V1EndpointSlice>(R.endpointSlices, {
      namespace: ns,
      labelSelector: `${SPLIT_LABEL}=${split}`,
    })
  ).items;
const eventMessages = async () =>
  (await client.list<CoreV1Event>(R.events, { namespace: ns })).items.map((e) => `${e.reason}: ${e.message}`);
const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);
/** The fixture, its controller started, the primary down: traffic on both backups' apex slices. */
async function failedOver(): Promise<void> {
  await fixture();
  await synced(start(), 'the failover controller');
  await setReady('podinfo-abc12', false);
  await waitFor(async () => (await apexSlices()).length === 2, { what: 'apex slices' });
}

/** Waits for a condition's reason; a timeout names the condition last seen. */
const untilReason = (type: string, reason: string, split = 'podinfo') =>
  waitFor(
    async () => {
      const c = await conditionOf(type, split);
      if (c?.reason !== reason) throw new Error(`${type} is ${c?.status}/${c?.reason}: ${c?.message}`);
      return c;
    },
    { what: `${type}=${reason} on ${split}` },
  );

async function gauge(name: string, split: string): Promise<number | undefined> {
  const metric = await registry.getSingleMetric(name)?.get();
  return metric?.values.find((v) => v.labels.namespace === ns && v.labels.split === split)?.value;
}
const activeMetric = (split = 'podinfo') => gauge('isthmus_failover_active', split);
const nothingReadyMetric = (split = 'podinfo') => gauge('isthmus_failover_nothing_ready', split);

describe('failover controller', () => {
  it('healthy primary: all the weight on it, no apex slice, status Primary', async () => {
    await fixture({ weights: [50, 50, 0] });
    await synced(start(), 'the failover controller');
    await waitFor(async () => same(await weightsOf(), [1, 0, 0]), { what: 'weights on the primary' });
    await waitFor(async () => (await getSplit())?.status?.state === 'Primary', { what: 'status Primary' });
    expect(await apexSlices()).toEqual([]);
    expect(await activeMetric()).toBe(0);
  });

  it('primary not ready: equal share to ready backups, apex slices to the gateway egress', async () => {
    await fixture();
    const c = start();
    await synced(c, 'the failover controller');
    await waitFor(async () => (await getSplit())?.status?.state === 'Primary', { what: 'status Primary' });
    // How fast is a benchmark's question (bench/); here, that it happens.
    await setReady('podinfo-abc12', false);
    await waitFor(async () => (await apexSlices()).length === 2, { what: 'apex slices' });
    await waitFor(async () => same(await weightsOf(), [0, 1, 1]), { what: 'weights on the backups' });
    const slices = (await apexSlices()).map((s) => ({
      service: s.metadata?.labels?.['kubernetes.io/service-name'],
      ports: s.ports?.map((p) => `${p.name}=${p.port}`),
      endpoints: s.endpoints.map((e) => `${e.addresses[0]}:${e.conditions?.ready}`),
      owner: s.metadata?.ownerReferences?.[0]?.kind,
    }));
    expect(slices.sort((a, b) => String(a.ports).localeCompare(String(b.ports)))).toEqual([
      {
        service: 'podinfo',
        ports: ['http=20001'],
        endpoints: [`${GATEWAY_POD}:true`],
        owner: 'TrafficSplit',
      },
      {
        service: 'podinfo',
        ports: ['http=20002'],
        endpoints: [`${GATEWAY_POD}:true`],
        owner: 'TrafficSplit',
      },
    ]);
    await waitFor(async () => (await activeMetric()) === 1, { what: 'metric 1' });
    await waitFor(
      async () => (await eventMessages()).includes('Failover: failing over to podinfo-west, podinfo-north'),
      {
        what: 'failover event',
      },
    );
    expect(await failoverStatusRows(client, { namespace: ns })).toEqual([
      {
        namespace: ns,
        trafficSplit: 'podinfo',
        status: 'Fallback',
        activeBackends: ['podinfo-west', 'podinfo-north'],
      },
    ]);

    // The primary returns: weights back, Isthmus's slices withdrawn.
    await setReady('podinfo-abc12', true);
    await waitFor(async () => same(await weightsOf(), [1, 0, 0]), { what: 'weights restored' });
    await waitFor(async () => (await apexSlices()).length === 0, { what: 'apex slices removed' });
    await waitFor(async () => (await eventMessages()).includes('Failover: restored to primary podinfo'), {
      what: 'restore event',
    });
    expect(await activeMetric()).toBe(0);
  });

  it('its API server gone mid-watch after sync and back: what changed meanwhile is acted on, nothing lost', async () => {
    await fixture();
    // The controller reaches the API server through a relay the test cuts: for the controller the
    // server is down (every connection reset), while the test writes on, as the EndpointSlice and
    // mirror controllers would. (An offline sandbox would take every writer with it.)
    const relay = await TcpRelay.start(new URL(sandbox.url));
    onTestFinished(() => relay.close());
    const relayed = KubeClient.fromKubeconfigString(
      sandbox.kubeconfig().replace(sandbox.url, relay.via(sandbox.url)),
    );
    onTestFinished(() => relayed.close());
    const informers = createLocalInformers(relayed);
    const connected = { services: true, slices: true };
    informers.services.onHealth((h) => {
      connected.services = h.connected;
    });
    informers.slices.onHealth((h) => {
      connected.slices = h.connected;
    });
    informers.services.start();
    informers.slices.start();
    onTestFinished(() => Promise.all([informers.services.stop(), informers.slices.stop()]).then(() => {}));
    await synced(start({ client: relayed, informers }), 'the failover controller');
    await untilReason('Available', 'Primary');

    relay.cut();
    await waitFor(() => !connected.services && !connected.slices, {
      what: "the controller's watches cut off",
    });
    // While it cannot see: the primary's pods and north's gateway endpoint stop being ready.
    await setReady('podinfo-abc12', false);
    await setReady('podinfo-north-gw', false);
    expect(await weightsOf()).toEqual([1, 0, 0]);
    relay.restore();

    // Both changes acted on once it is back: west alone carries the traffic.
    await waitFor(async () => same(await weightsOf(), [0, 1, 0]), {
      timeoutMs: 20_000,
      what: 'the weights on west alone',
    });
    await waitFor(
      async () =>
        same(
          (await apexSlices()).map((s) => s.ports?.[0]?.port),
          [20001],
        ),
      {
        what: "an apex slice to west's egress port only",
      },
    );
    await untilReason('Available', 'Fallback');
    // And both watches back (one may still be in its backoff when the other brought the change).
    await waitFor(() => connected.services && connected.slices, {
      timeoutMs: 20_000,
      what: "the controller's watches back",
    });
  });

  it('on the process shared informers, listed before it started (a new leader): decides on what they hold, leaves them running when it stops', async () => {
    await fixture();
    const shared = createLocalInformers(controllerClient);
    shared.services.start();
    shared.slices.start();
    try {
      await Promise.all([
        synced(shared.services, 'the shared Service informer'),
        synced(shared.slices, 'the shared slice informer'),
      ]);
      const c = start({ informers: shared });
      await synced(c, 'the failover controller');
      // Primary, not Fallback: the primary's slice, listed before the controller existed, was indexed.
      await waitFor(async () => (await getSplit())?.status?.state === 'Primary', { what: 'status Primary' });
      await setReady('podinfo-abc12', false);
      await waitFor(async () => same(await weightsOf(), [0, 1, 1]), { what: 'weights on the backups' });

      await c.stop();
      controller = undefined;
      await client.create(R.services, service(ns, 'after-stop'));
      await waitFor(() => shared.services.get(ns, 'after-stop') !== undefined, {
        what: 'shared informer still watching after the controller stopped',
      });
      await setReady('podinfo-abc12', true);
      await waitFor(
        () => shared.slices.get(ns, 'podinfo-abc12')?.endpoints?.[0]?.conditions?.ready === true,
        { what: 'shared slice informer still watching' },
      );
      // Nobody acts on the split any more: the weights stay where the stopped controller left them.
      expect(await weightsOf()).toEqual([0, 1, 1]);
    } finally {
      await Promise.all([shared.services.stop(), shared.slices.stop()]);
    }
  });

  it('restore-after holds traffic on the backups until the primary has been ready long enough', async () => {
    await fixture({ annotations: { [FAILOVER_RESTORE_AFTER_ANNOTATION]: '30s' } });
    const c = start();
    await synced(c, 'the failover controller');
    await setReady('podinfo-abc12', false);
    await waitFor(async () => same(await weightsOf(), [0, 1, 1]), { what: 'failover' });
    await setReady('podinfo-abc12', true);
    await waitFor(async () => (await conditionOf('Available'))?.reason === 'Fallback', {
      what: 'still fallback',
    });
    // kube-proxy has the primary's pods (the apex's own slice) beside the backups: ACTIVE_BACKENDS
    // lists all three, and Available says which only callers without a mesh reach.
    await waitFor(
      async () =>
        same((await getSplit())?.status?.activeBackends, ['podinfo', 'podinfo-west', 'podinfo-north']),
      {
        what: 'the primary listed beside the backups',
      },
    );
    expect((await conditionOf('Available'))?.message).toBe(
      "traffic on podinfo-west, podinfo-north; callers without a mesh also reach podinfo through the apex's own endpoints (its selector), whatever the weights",
    );
    expect((await failoverStatusRows(client, { namespace: ns }))[0]?.activeBackends).toEqual([
      'podinfo',
      'podinfo-west',
      'podinfo-north',
    ]);
    await c.idle();
    expect(await weightsOf()).toEqual([0, 1, 1]);
    // The fixture's apex selects the primary's pods: its status says unmeshed callers are not held.
    expect(await conditionOf('RestoreAfter')).toMatchObject({ status: 'True', reason: 'RestoreAfter' });
    expect((await conditionOf('RestoreAfter'))?.message).toContain(
      'for callers in a mesh only: apex Service podinfo has a selector',
    );
    clock += 31_000;
    // Any event re-runs the level-triggered decision; the requeue timer would too, after 30 s.
    await client.patch(R.services, ns, 'podinfo-west', { metadata: { labels: { touched: 'yes' } } });
    await waitFor(async () => same(await weightsOf(), [1, 0, 0]), { what: 'restored after the wait' });
    await waitFor(async () => same((await getSplit())?.status?.activeBackends, ['podinfo']), {
      what: 'the primary alone once restored',
    });
  });

  it('a restore-after that is no duration does not turn failover off: ignored (no hysteresis), RestoreAfter=False and a Warning say so', async () => {
    await fixture({ annotations: { [FAILOVER_RESTORE_AFTER_ANNOTATION]: 'soon' } });
    await synced(start(), 'the failover controller');
    await untilReason('RestoreAfter', 'InvalidRestoreAfter');
    expect(await conditionOf('Accepted')).toMatchObject({ status: 'True', reason: 'Valid' });
    await setReady('podinfo-abc12', false);
    await waitFor(async () => same(await weightsOf(), [0, 1, 1]), { what: 'failover' });
    await waitFor(async () => (await activeMetric()) === 1, { what: 'metric 1' });
    // No hysteresis: back at once.
    await setReady('podinfo-abc12', true);
    await waitFor(async () => same(await weightsOf(), [1, 0, 0]), { what: 'restored at once' });
    await waitFor(async () => (await eventMessages()).some((m) => m.startsWith('InvalidRestoreAfter: ')), {
      what: 'warning event',
    });
    // Fixed: the condition says so, with the wait it now holds.
    await client.patch(R.trafficSplitsV1alpha2, ns, 'podinfo', {
      metadata: { annotations: { [FAILOVER_RESTORE_AFTER_ANNOTATION]: '30s' } },
    });
    await untilReason('RestoreAfter', 'RestoreAfter');
  });

  it('nothing ready: weights unchanged (never all zero), condition NothingReady, apex slices withdrawn', async () => {
    await fixture();
    const c = start();
    await synced(c, 'the failover controller');
    await setReady('podinfo-abc12', false);
    await waitFor(async () => same(await weightsOf(), [0, 1, 1]), { what: 'failover' });
    await setReady('podinfo-west-gw', false);
    await waitFor(async () => same(await weightsOf(), [0, 0, 1]), { what: 'west dropped' });
    await setReady('podinfo-north-gw', false);
    await waitFor(async () => (await conditionOf('Available'))?.reason === 'NothingReady', {
      what: 'NothingReady',
    });
    expect((await conditionOf('Available'))?.status).toBe('False');
    expect(await weightsOf()).toEqual([0, 0, 1]);
    await waitFor(async () => (await apexSlices()).length === 0, { what: 'no ready endpoint listed' });
    await waitFor(async () => (await eventMessages()).some((m) => m.startsWith('NothingReady:')), {
      what: 'event',
    });
  });

  it('a split named past 63 characters steers too: its slices carry a shortened, hashed label', async () => {
    const long = `podinfo-${'failover-'.repeat(8)}split`;
    expect(long.length).toBeGreaterThan(63);
    await fixture({ name: long });
    await synced(start(), 'the failover controller');
    await setReady('podinfo-abc12', false);
    await waitFor(async () => same(await weightsOf(long), [0, 1, 1]), { what: 'weights on the backups' });
    await waitFor(async () => (await apexSlices(splitLabelValue(long))).length === 2, {
      what: 'apex slices',
    });
    await setReady('podinfo-abc12', true);
    await waitFor(async () => (await apexSlices(splitLabelValue(long))).length === 0, {
      what: 'apex slices withdrawn',
    });
  });

  it('a failed weight patch is retried until it lands', async () => {
    await fixture();
    const flaky = new FlakyClient(
      sandbox.kubeconfig(),
      2,
      (method, path) => method === 'PUT' && /trafficsplits\/[^/]+$/.test(path),
    );
    try {
      const c = start({ client: flaky });
      await synced(c, 'the failover controller');
      await waitFor(async () => (await getSplit())?.status?.state === 'Primary', { what: 'status Primary' });
      await setReady('podinfo-abc12', false);
      await waitFor(async () => same(await weightsOf(), [0, 1, 1]), { what: 'weights after retries' });
      expect(flaky.failuresLeft).toBe(0);
      const errors = await registry.getSingleMetric('isthmus_failover_sync_errors_total')?.get();
      expect(errors?.values[0]?.value).toBe(2);
    } finally {
      await controller?.stop();
      controller = undefined;
      flaky.close();
    }
  });

  it('bad input gets a condition and an event, and other splits keep working', async () => {
    await fixture();
    // Non-numeric weight: only v1alpha1 (int-or-string) admits it.
    await client.create(R.trafficSplitsV1alpha1, {
      ...trafficSplit(ns, 'heavy', 'podinfo', [{ service: 'podinfo', weight: 'heavy' }]),
      apiVersion: 'split.smi-spec.io/v1alpha1',
    });
    await client.create(
      R.trafficSplitsV1alpha2,
      trafficSplit(ns, 'ghost', 'podinfo', [
        { service: 'podinfo', weight: 1 },
        { service: 'podinfo-south', weight: 0 },
      ]),
    );
    const headless: V1Service = {
      metadata: { namespace: ns, name: 'portless' },
      spec: { clusterIP: 'None', selector: { app: 'portless' } },
    };
    await client.create(R.services, headless);
    await client.create(
      R.trafficSplitsV1alpha2,
      trafficSplit(ns, 'portless', 'portless', [
        { service: 'podinfo', weight: 1 },
        { service: 'podinfo-west', weight: 0 },
      ]),
    );
    const c = start();
    await synced(c, 'the failover controller');
    await waitFor(async () => (await conditionOf('Accepted', 'heavy'))?.reason === 'InvalidWeight', {
      what: 'InvalidWeight',
    });
    await waitFor(async () => (await conditionOf('ResolvedRefs', 'ghost'))?.reason === 'BackendNotFound', {
      what: 'BackendNotFound',
    });
    // Only a headless (or ExternalName) Service may lack ports; headless is the reason it cannot be steered.
    await untilReason('Steered', 'HeadlessApex', 'portless');
    await waitFor(
      async () => {
        const events = await eventMessages();
        return ['InvalidWeight:', 'BackendNotFound:', 'HeadlessApex:'].every((p) =>
          events.some((m) => m.startsWith(p)),
        );
      },
      { what: 'warning events' },
    );
    // The good split still fails over.
    await setReady('podinfo-abc12', false);
    await waitFor(async () => same(await weightsOf(), [0, 1, 1]), { what: 'good split fails over' });
  });

  it('a steer-only 50/50 split keeps its weights and reports the share it can reach', async () => {
    await fixture();
    // One split per apex: the failover split would steer it (it is older), not this one.
    await client.delete(R.trafficSplitsV1alpha2, ns, 'podinfo');
    await client.create(
      R.trafficSplitsV1alpha2,
      trafficSplit(
        ns,
        'shift',
        'podinfo',
        [
          { service: 'podinfo', weight: 50 },
          { service: 'podinfo-west', weight: 50 },
        ],
        { labels: { [STEER_LABEL]: 'true' } },
      ),
    );
    const c = start();
    await synced(c, 'the failover controller');
    await waitFor(async () => (await conditionOf('Steered', 'shift'))?.status === 'True', {
      what: 'steered',
    });
    expect(await weightsOf('shift')).toEqual([50, 50]);
    expect((await getSplit('shift'))?.status?.state).toBe('Weighted');
    expect((await apexSlices('shift')).map((s) => s.endpoints.length)).toEqual([1]);
    expect((await conditionOf('Steered', 'shift'))?.message).toBe(
      'podinfo 2 endpoint(s) 66.7% (weight 50%), podinfo-west 1 endpoint(s) 33.3% (weight 50%); max share error 16.7%',
    );
    // Deleting the split withdraws its slices.
    await client.delete(R.trafficSplitsV1alpha2, ns, 'shift');
    await waitFor(async () => (await apexSlices('shift')).length === 0, { what: 'slices withdrawn' });
  });

  it("a split moved to an apex that does not exist (yet) withdraws the old apex's slices", async () => {
    await failedOver();
    await client.patch(R.trafficSplitsV1alpha2, ns, 'podinfo', { spec: { service: 'podinfo-global' } });
    await waitFor(async () => (await conditionOf('Steered'))?.reason === 'ApexNotFound', {
      what: 'ApexNotFound',
    });
    // Withdrawn in the reconcile that wrote the condition: podinfo's callers are not sent to the backups.
    expect(await apexSlices()).toEqual([]);
  });

  it('a split whose apex Service does not exist steers nothing: isthmus_failover_active 0 with its weights on a backup, status shows ApexNotFound', async () => {
    await fixture();
    await client.create(
      R.trafficSplitsV1alpha2,
      trafficSplit(ns, 'ghost', 'ghost', [
        { service: 'podinfo', weight: 1 },
        { service: 'podinfo-west', weight: 0 },
      ]),
    );
    await synced(start(), 'the failover controller');
    await setReady('podinfo-abc12', false);
    // The weights still follow readiness (the apex may yet be created), but no caller goes through them.
    await waitFor(async () => same(await weightsOf('ghost'), [0, 1]), {
      what: 'ghost weights on the backup',
    });
    await untilReason('Steered', 'ApexNotFound', 'ghost');
    await waitFor(async () => (await activeMetric()) === 1, { what: 'the real split failed over' });
    expect(await activeMetric('ghost')).toBe(0);
    expect(await nothingReadyMetric('ghost')).toBe(0);
    const rows = await failoverStatusRows(client, { namespace: ns });
    expect(rows.find((r) => r.trafficSplit === 'ghost')).toMatchObject({
      status: 'ApexNotFound',
      activeBackends: [],
    });
  });

  it('apex slices under names an earlier version gave them are replaced, not leaked', async () => {
    await fixture();
    // What the planner used to call the second slice of a backend.
    const old = apexSlice('podinfo-isthmus-podinfo-west-1', 'podinfo-west');
    await client.create(R.endpointSlices, old);
    await synced(start(), 'the failover controller');
    await setReady('podinfo-abc12', false);
    await waitFor(
      async () =>
        same((await apexSlices()).map((s) => s.metadata?.name).sort(), [
          'podinfo-isthmus-podinfo-north',
          'podinfo-isthmus-podinfo-west',
        ]),
      { what: 'only the planned names left' },
    );
  });

  it('a backup with 1500 ready pods is listed in slices of at most 1000; a chunk no longer needed is withdrawn', async () => {
    await client.create(
      R.services,
      service(ns, 'podinfo', [{ name: 'http', port: 9898 }], { app: 'podinfo' }),
    );
    await client.create(R.services, service(ns, 'podinfo-big'));
    await client.create(R.endpointSlices, primarySlice(false));
    const pods = podIPs(1500, '10.2');
    for (const s of podSlices(ns, 'podinfo-big', pods)) await client.create(R.endpointSlices, s);
    const backends = [
      { service: 'podinfo', weight: 1 },
      { service: 'podinfo-big', weight: 0 },
    ];
    await client.create(R.trafficSplitsV1alpha2, trafficSplit(ns, 'podinfo', 'podinfo', backends));
    await synced(start(), 'the failover controller');
    const listed = async () =>
      (await apexSlices())
        .map((s) => [s.metadata?.name, s.endpoints.length])
        .sort((a, b) => String(a[0]).localeCompare(String(b[0])));
    await waitFor(
      async () =>
        same(await listed(), [
          ['podinfo-isthmus-podinfo-big', 1000],
          ['podinfo-isthmus-podinfo-big.1', 500],
        ]),
      { what: 'the backup in two slices' },
    );
    const addresses = (await apexSlices()).flatMap((s) => s.endpoints.map((e) => e.addresses[0]));
    expect(addresses.sort()).toEqual([...pods].sort());
    await waitFor(
      async () => {
        const c = await conditionOf('Steered');
        return c?.status === 'True' && c.message.includes('podinfo-big 1500 endpoint(s)');
      },
      { what: 'Steered with all 1500 endpoints' },
    );

    await client.delete(R.endpointSlices, ns, 'podinfo-big-1');
    await waitFor(async () => same(await listed(), [['podinfo-isthmus-podinfo-big', 750]]), {
      what: 'the second chunk withdrawn',
    });
  });
});

describe('failover controller: what a restart or a lost backend leaves behind', () => {
  it('a backend whose Service is gone counts as not ready, even while slices of its name remain', async () => {
    await fixture();
    await synced(start(), 'the failover controller');
    await waitFor(async () => (await getSplit())?.status?.state === 'Primary', { what: 'status Primary' });
    // Slices written by hand (no owner): deleting the Service leaves them, as GC lag does for a while.
    await client.delete(R.services, ns, 'podinfo-west');
    await waitFor(async () => (await conditionOf('ResolvedRefs'))?.reason === 'BackendNotFound', {
      what: 'BackendNotFound',
    });
    await setReady('podinfo-abc12', false);
    await waitFor(async () => (await getSplit())?.status?.state === 'Fallback', { what: 'Fallback' });
    await controller?.idle();
    expect(await weightsOf()).toEqual([0, 0, 1]);
    expect((await apexSlices()).map((s) => s.metadata?.labels?.['failover.isthmus.dev/backend'])).toEqual([
      'podinfo-north',
    ]);
  });

  it("a backup without one of the apex's ports: Steered=False names it, the shares of what is listed stay in the status", async () => {
    await client.create(
      R.services,
      service(
        ns,
        'podinfo',
        [
          { name: 'http', port: 9898 },
          { name: 'grpc', port: 9999 },
        ],
        { app: 'podinfo' },
      ),
    );
    await client.create(R.services, service(ns, 'podinfo-west'));
    await client.create(R.endpointSlices, primarySlice(false));
    await client.create(R.endpointSlices, mirrorSlice('podinfo-west', 20001, true));
    const backends = [
      { service: 'podinfo', weight: 1 },
      { service: 'podinfo-west', weight: 0 },
    ];
    await client.create(R.trafficSplitsV1alpha2, trafficSplit(ns, 'podinfo', 'podinfo', backends));
    await synced(start(), 'the failover controller');
    await waitFor(async () => (await conditionOf('Steered'))?.reason === 'PortMismatch', {
      what: 'PortMismatch',
    });
    expect((await conditionOf('Steered'))?.message).toMatch(
      /^backend podinfo-west: no port for the apex's grpc; /,
    );
    expect((await apexSlices()).map((s) => s.ports?.map((p) => `${p.name}=${p.port}`))).toEqual([
      ['http=20001'],
    ]);
    expect(((await getSplit())?.status as SplitStatus | undefined)?.apexShares).toEqual([
      { service: 'podinfo-west', endpoints: 1, desiredPercent: 100, achievedPercent: 100 },
    ]);
  });

  it('a backend scaled to 0 (the EndpointSlice controller empties its slice: no ports, no endpoints) is not ready, never a PortMismatch', async () => {
    await client.create(R.services, service(ns, 'pm'));
    await client.create(
      R.services,
      service(ns, 'podinfo', [{ name: 'http', port: 9898 }], { app: 'podinfo' }),
    );
    await client.create(R.services, service(ns, 'podinfo-west'));
    await client.create(R.services, service(ns, 'podinfo-direct-west'));
    await client.create(R.endpointSlices, primarySlice(true));
    await client.create(R.endpointSlices, mirrorSlice('podinfo-west', 20001, true));
    // Remote discovery: west's pod itself, at its own port.
    await client.create(
      R.endpointSlices,
      slice(ns, 'podinfo-direct-west', {
        mirror: true,
        name: 'podinfo-direct-west-pods',
        ready: ['10.2.0.7'],
      }),
    );
    const backends = [
      { service: 'podinfo', weight: 1 },
      { service: 'podinfo-west', weight: 0 },
      { service: 'podinfo-direct-west', weight: 0 },
    ];
    const annotations = { 'failover.linkerd.io/primary-service': 'podinfo' };
    await client.create(R.trafficSplitsV1alpha2, trafficSplit(ns, 'pm', 'pm', backends, { annotations }));
    await synced(start(), 'the failover controller');
    await untilReason('Steered', 'Steered', 'pm');

    await client.patch(R.endpointSlices, ns, 'podinfo-abc12', { ports: [], endpoints: [] });
    await waitFor(async () => same(await weightsOf('pm'), [0, 1, 1]), { what: 'weights on the backups' });
    await untilReason('Available', 'Fallback', 'pm');
    await controller?.idle();
    expect(await conditionOf('Steered', 'pm')).toMatchObject({ status: 'True', reason: 'Steered' });
    expect(((await getSplit('pm'))?.status as SplitStatus | undefined)?.apexShares).toEqual([
      { service: 'podinfo-west', endpoints: 1, desiredPercent: 50, achievedPercent: 50 },
      { service: 'podinfo-direct-west', endpoints: 1, desiredPercent: 50, achievedPercent: 50 },
    ]);
    expect((await eventMessages()).filter((m) => m.startsWith('PortMismatch'))).toEqual([]);
  });

  it('a split that lost its controlled-by label while no controller ran has its apex slices withdrawn at start', async () => {
    await fixture();
    const c = start();
    await synced(c, 'the failover controller');
    await setReady('podinfo-abc12', false);
    await waitFor(async () => (await apexSlices()).length === 2, { what: 'apex slices' });
    await c.stop();
    controller = undefined;
    await client.patch(R.trafficSplitsV1alpha2, ns, 'podinfo', {
      metadata: { labels: { [FAILOVER_CONTROLLED_BY_LABEL]: null } },
    });
    await synced(start(), 'the failover controller');
    await waitFor(async () => (await apexSlices()).length === 0, { what: 'apex slices withdrawn' });
    await waitFor(async () => (await getSplit())?.status?.state === undefined, { what: 'status cleared' });
  });

  it('a split that lost its controlled-by label while no controller ran has its status cleared at start, slices or none', async () => {
    await fixture();
    const c = start();
    await synced(c, 'the failover controller');
    await waitFor(async () => (await getSplit())?.status?.state === 'Primary', { what: 'status Primary' });
    await c.stop();
    controller = undefined;
    await client.patch(R.trafficSplitsV1alpha2, ns, 'podinfo', {
      metadata: { labels: { [FAILOVER_CONTROLLED_BY_LABEL]: null } },
    });
    await synced(start(), 'the failover controller');
    await waitFor(async () => (await getSplit())?.status?.state === undefined, { what: 'status cleared' });
    expect((await getSplit())?.status).toEqual({});
  });
});

/** An apex slice of split `podinfo` as the controller writes it. */
function apexSlice(name: string, backend: string): V1EndpointSlice {
  const base = slice(ns, 'podinfo', { ready: [GATEWAY_POD], port: 20001, name });
  return {
    ...base,
    metadata: {
      ...base.metadata,
      labels: {
        ...base.metadata?.labels,
        [MANAGED_BY_LABEL]: MANAGED_BY_FAILOVER,
        [SPLIT_LABEL]: 'podinfo',
        'failover.isthmus.dev/backend': backend,
      },
    },
  };
}

describe('failover controllers for two controlled-by values', () => {
  it("one never withdraws the other's apex slices when a backend changes", async () => {
    await failedOver();

    // Every slice event in the namespace from here on: a deletion is recorded, not sampled.
    const watch = createInformer<V1EndpointSlice>(client, R.endpointSlices, { namespace: ns });
    const deleted: string[] = [];
    watch.onEvent((e) => {
      if (e.type === 'delete' && e.object.metadata?.labels?.[SPLIT_LABEL])
        deleted.push(e.object.metadata.name ?? '');
    });
    watch.start();
    onTestFinished(() => watch.stop());
    await synced(watch, "the test's slice informer");

    // Team B's controller, on informers the test can read, so it can tell when B saw the change.
    const shared = createLocalInformers(controllerClient);
    shared.services.start();
    shared.slices.start();
    onTestFinished(() => Promise.all([shared.services.stop(), shared.slices.stop()]).then(() => {}));
    const teamB = runFailoverController({
      client: controllerClient,
      registry: new Registry(),
      recorder: new EventRecorder(controllerClient, { component: 'isthmus-failover' }),
      controlledBy: 'team-b',
      informers: shared,
      now: () => clock,
    });
    onTestFinished(() => teamB.stop());
    await synced(teamB, "team B's failover controller");

    // A backend of the default controller's split changes: B sees it (and, before the fix, queued the split).
    await client.patch(R.services, ns, 'podinfo-west', { metadata: { labels: { touched: 'yes' } } });
    await waitFor(() => shared.services.get(ns, 'podinfo-west')?.metadata?.labels?.touched === 'yes', {
      what: 'team B saw the change',
    });
    await teamB.idle();
    // A write after anything B did: once the watch has it, it has every deletion B made before.
    await client.create(R.endpointSlices, slice(ns, 'unrelated', { ready: ['10.2.0.9'], name: 'barrier' }));
    await waitFor(() => watch.get(ns, 'barrier'), { what: 'the barrier in the watch' });
    expect(deleted).toEqual([]);
    expect(await apexSlices()).toHaveLength(2);
  });

  it('a split relabelled for another controller keeps its slices for that one; one labelled for none loses them', async () => {
    await fixture();
    const shift = [
      { service: 'podinfo', weight: 50 },
      { service: 'podinfo-west', weight: 50 },
    ];
    await client.create(
      R.trafficSplitsV1alpha2,
      trafficSplit(ns, 'shift', 'podinfo-global', shift, { labels: { [STEER_LABEL]: 'true' } }),
    );
    await client.create(R.services, service(ns, 'podinfo-global'));
    const c = start();
    await synced(c, 'the failover controller');
    await setReady('podinfo-abc12', false);
    await waitFor(async () => (await apexSlices()).length === 2 && (await apexSlices('shift')).length === 1, {
      what: 'apex slices of both splits',
    });

    await client.patch(R.trafficSplitsV1alpha2, ns, 'podinfo', {
      metadata: { labels: { [FAILOVER_CONTROLLED_BY_LABEL]: 'team-b' } },
    });
    // The metric series goes in the reconcile that let the split go.
    await waitFor(async () => (await activeMetric()) === undefined, { what: 'split let go' });
    await c.idle();
    expect(await apexSlices()).toHaveLength(2);
    // Its status too is the other controller's to take over (and resume from).
    expect((await getSplit())?.status?.state).toBe('Fallback');

    await client.patch(R.trafficSplitsV1alpha2, ns, 'shift', {
      metadata: { labels: { [STEER_LABEL]: null } },
    });
    await waitFor(async () => (await apexSlices('shift')).length === 0, { what: "nobody's split withdrawn" });
    // What Isthmus said of it is no one's to keep true any more: cleared, not left saying Weighted.
    await waitFor(async () => (await getSplit('shift'))?.status?.state === undefined, {
      what: "nobody's split's status cleared",
    });
    expect((await getSplit('shift'))?.status).toEqual({});
  });
});

describe('failover controller in an IPv6-first dual-stack cluster', () => {
  it("steers the IPv6 apex to a dual-stack backup through the backup's IPv6 endpoints alone", async () => {
    const dual = await startSandbox({ name: 'dual', serviceCidr: 'fd00:10:96::/112,10.96.0.0/16' });
    const dualClient = KubeClient.fromKubeconfigString(dual.kubeconfig());
    try {
      const space = 'dual';
      await dualClient.create(R.namespaces, { metadata: { name: space } });
      const apex = await dualClient.create<V1Service>(
        R.services,
        service(space, 'podinfo', [{ name: 'http', port: 9898 }], { app: 'podinfo' }),
      );
      expect(apex.spec?.ipFamilies).toEqual(['IPv6']);
      const canary = service(space, 'podinfo-canary', [{ name: 'http', port: 9898 }], { app: 'canary' });
      canary.spec!.ipFamilyPolicy = 'PreferDualStack';
      await dualClient.create(R.services, canary);
      // What the EndpointSlice controller writes: one slice per family of each Service.
      await dualClient.create(R.endpointSlices, slice(space, 'podinfo', { notReady: ['fd00:1::7'] }));
      for (const [name, ready] of [
        ['canary-v4', ['10.1.0.9', '10.1.0.10']],
        ['canary-v6', ['fd00:1::9', 'fd00:1::a']],
      ] as const) {
        await dualClient.create(
          R.endpointSlices,
          slice(space, 'podinfo-canary', { name, ready: [...ready] }),
        );
      }
      const backends = [
        { service: 'podinfo', weight: 1 },
        { service: 'podinfo-canary', weight: 0 },
      ];
      await dualClient.create(R.trafficSplitsV1alpha2, trafficSplit(space, 'podinfo', 'podinfo', backends));
      const recorder = new EventRecorder(dualClient, { component: 'isthmus-failover' });
      controller = runFailoverController({ client: dualClient, registry, recorder, now: () => clock });
      await synced(controller, 'the failover controller');
      const steered = await waitFor(
        async () => {
          const items = (
            await dualClient.list<V1EndpointSlice>(R.endpointSlices, {
              namespace: space,
              labelSelector: `${SPLIT_LABEL}=podinfo`,
            })
          ).items;
          return items.length > 0 ? items : undefined;
        },
        { what: 'apex slices' },
      );
      // kube-proxy serves the IPv6 apex from IPv6 slices only: an IPv4 slice would be dead weight.
      expect(steered.map((s) => [s.addressType, s.endpoints.map((e) => e.addresses[0])])).toEqual([
        ['IPv6', ['fd00:1::9', 'fd00:1::a']],
      ]);
    } finally {
      await controller?.stop();
      controller = undefined;
      dualClient.close();
      await dual.close();
    }
  });
});

describe('failover controller: apexes it cannot steer, and two splits on one apex', () => {
  it('an apex with internalTrafficPolicy Local: weights fail over, its slices are withdrawn (kube-proxy would drop them), Steered=False says why', async () => {
    await failedOver();
    await client.patch(R.services, ns, 'podinfo', { spec: { internalTrafficPolicy: 'Local' } });
    const steered = await untilReason('Steered', 'InternalTrafficPolicyLocal');
    expect(steered?.status).toBe('False');
    expect(steered?.message).toContain('internalTrafficPolicy: Cluster');
    await waitFor(async () => (await apexSlices()).length === 0, { what: 'slices withdrawn' });
    expect(await weightsOf()).toEqual([0, 1, 1]);
    expect(((await getSplit())?.status as SplitStatus | undefined)?.apexShares).toEqual([]);
  });

  it('an apex with externalTrafficPolicy Local is still steered, and Steered says external callers are not', async () => {
    await failedOver();
    await client.patch(R.services, ns, 'podinfo', {
      spec: { type: 'LoadBalancer', externalTrafficPolicy: 'Local' },
    });
    const steered = await waitFor(
      async () => {
        const c = await conditionOf('Steered', 'podinfo');
        if (!c?.message?.includes('externalTrafficPolicy: Local')) throw new Error(`Steered: ${c?.message}`);
        return c;
      },
      { what: 'the caveat in Steered' },
    );
    expect(steered.status).toBe('True');
    expect(steered.message).toContain('steers in-cluster callers only');
    expect((await apexSlices()).length).toBeGreaterThan(0);
  });

  it('a headless apex: no slice is written (DNS would hand callers the gateway at the apex port), Steered=False says why', async () => {
    await fixture();
    const direct: V1Service = {
      metadata: { namespace: ns, name: 'podinfo-direct' },
      spec: { clusterIP: 'None', selector: { app: 'podinfo' }, ports: [{ name: 'http', port: 9898 }] },
    };
    await client.create(R.services, direct);
    const backends = [{ service: 'podinfo-west', weight: 1 }];
    const labels = { [STEER_LABEL]: 'true' };
    await client.create(
      R.trafficSplitsV1alpha2,
      trafficSplit(ns, 'direct', 'podinfo-direct', backends, { labels }),
    );
    await synced(start(), 'the failover controller');
    expect((await untilReason('Steered', 'HeadlessApex', 'direct')).message).toContain('clusterIP: None');
    expect(await apexSlices('direct')).toEqual([]);
  });

  it('two splits on one apex: the older steers, the newer withdraws its slices; both say so; the newer takes over when the older goes', async () => {
    await fixture();
    await synced(start(), 'the failover controller');
    await waitFor(async () => (await getSplit())?.status?.state === 'Primary', { what: 'Primary' });
    const shift = [{ service: 'podinfo-west', weight: 1 }];
    await client.create(
      R.trafficSplitsV1alpha2,
      trafficSplit(ns, 'shift', 'podinfo', shift, { labels: { [STEER_LABEL]: 'true' } }),
    );
    expect((await untilReason('Steered', 'ApexConflict', 'shift')).message).toContain('TrafficSplit podinfo');
    expect(await apexSlices('shift')).toEqual([]);
    await waitFor(
      async () => (await conditionOf('Steered'))?.message?.includes('TrafficSplit shift') ?? false,
      {
        what: 'the older split names the newer',
      },
    );
    expect((await conditionOf('Steered'))?.status).toBe('True');
    await client.delete(R.trafficSplitsV1alpha2, ns, 'podinfo');
    await waitFor(async () => (await apexSlices('shift')).length === 1, { what: 'the newer takes over' });
    await untilReason('Steered', 'Steered', 'shift');
  });

  it('Invalid splits of an apex steer nothing: no ApexConflict for them, and an older one does not keep a valid one from steering', async () => {
    // Created before the valid split and first by name: the oldest, were they counted.
    await client.create(R.trafficSplitsV1alpha2, trafficSplit(ns, 'bad1', 'podinfo', []));
    await client.create(R.trafficSplitsV1alpha1, {
      ...trafficSplit(ns, 'bad4', 'podinfo', [{ service: 'podinfo', weight: 'heavy' }]),
      apiVersion: 'split.smi-spec.io/v1alpha1',
    });
    await fixture();
    const c = start();
    await synced(c, 'the failover controller');
    await untilReason('Accepted', 'NoBackends', 'bad1');
    await untilReason('Accepted', 'InvalidWeight', 'bad4');
    await setReady('podinfo-abc12', false);
    await waitFor(async () => (await apexSlices()).length === 2, { what: 'the valid split steers' });
    expect((await untilReason('Steered', 'Steered')).message).not.toContain('bad');
    await c.idle();
    expect((await eventMessages()).filter((m) => m.startsWith('ApexConflict'))).toEqual([]);
  });

  it('a split that turns Invalid keeps steering its apex with the slices it wrote, and a newer split says so', async () => {
    await fixture({ name: 'a-old' });
    await synced(start(), 'the failover controller');
    await setReady('podinfo-abc12', false);
    await waitFor(async () => (await apexSlices('a-old')).length === 2, { what: 'a-old steers' });
    await client.create(
      R.trafficSplitsV1alpha2,
      trafficSplit(ns, 'podinfo', 'podinfo', [
        { service: 'podinfo', weight: 1 },
        { service: 'podinfo-west', weight: 0 },
      ]),
    );
    await untilReason('Steered', 'ApexConflict');
    await client.patch(R.trafficSplitsV1alpha1, ns, 'a-old', {
      spec: { backends: [{ service: 'podinfo', weight: 'heavy' }] },
    });
    await untilReason('Accepted', 'InvalidWeight', 'a-old');
    await waitFor(async () => (await conditionOf('Steered'))?.message?.includes('became Invalid') ?? false, {
      what: 'ApexConflict naming the Invalid split that holds the apex',
    });
    expect(await apexSlices('a-old')).toHaveLength(2);
    expect(await apexSlices()).toEqual([]);
  });

  it('a steer-only split whose weights are all 0 says so, not NothingReady', async () => {
    await fixture();
    await client.create(R.services, service(ns, 'podinfo-global'));
    const backends = [
      { service: 'podinfo', weight: 0 },
      { service: 'podinfo-west', weight: 0 },
    ];
    const labels = { [STEER_LABEL]: 'true' };
    await client.create(
      R.trafficSplitsV1alpha2,
      trafficSplit(ns, 'drain', 'podinfo-global', backends, { labels }),
    );
    await synced(start(), 'the failover controller');
    await untilReason('Available', 'NoWeight', 'drain');
    expect((await getSplit('drain'))?.status?.state).toBe('NoWeight');
    expect((await conditionOf('Available', 'drain'))?.status).toBe('False');
  });

  it('isthmus_failover_active stays 1 while the weights stay on the backups: NothingReady, then Invalid', async () => {
    await fixture();
    await synced(start(), 'the failover controller');
    await setReady('podinfo-abc12', false);
    await waitFor(async () => (await activeMetric()) === 1, { what: 'metric 1 in Fallback' });
    expect(await nothingReadyMetric()).toBe(0);
    await setReady('podinfo-west-gw', false);
    await setReady('podinfo-north-gw', false);
    await waitFor(async () => (await getSplit())?.status?.state === 'NothingReady', { what: 'NothingReady' });
    expect(await weightsOf()).not.toEqual([1, 0, 0]);
    expect(await activeMetric()).toBe(1);
    expect(await nothingReadyMetric()).toBe(1);
    await client.patch(R.trafficSplitsV1alpha2, ns, 'podinfo', {
      metadata: { annotations: { [FAILOVER_PRIMARY_ANNOTATION]: 'podinfo-south' } },
    });
    await waitFor(async () => (await getSplit())?.status?.state === 'Invalid', { what: 'Invalid' });
    expect(await activeMetric()).toBe(1);
    // The gauge says what status.state says: Invalid, which `isthmus check` fails on, is not NothingReady.
    expect(await nothingReadyMetric()).toBe(0);
  });

  it('an Invalid split whose weights are on the backups keeps isthmus_failover_active 1 across a controller restart', async () => {
    await failedOver();
    await waitFor(async () => (await activeMetric()) === 1, { what: 'metric 1 in Fallback' });
    await client.patch(R.trafficSplitsV1alpha2, ns, 'podinfo', {
      metadata: { annotations: { [FAILOVER_PRIMARY_ANNOTATION]: 'podinfo-south' } },
    });
    await waitFor(async () => (await getSplit())?.status?.state === 'Invalid', { what: 'Invalid' });
    await controller?.stop();
    controller = undefined;
    // A new process: a new registry, nothing remembered but what the split holds.
    registry = new Registry();
    await synced(start(), 'the failover controller');
    await waitFor(async () => (await activeMetric()) !== undefined, { what: 'the gauge after the restart' });
    expect(await activeMetric()).toBe(1);
    expect(await nothingReadyMetric()).toBe(0);
    expect(await weightsOf()).toEqual([0, 1, 1]);
  });

  it('isthmus_failover_nothing_ready is 1 while a failover or steer-only split is NothingReady, which lists no active backend; its series goes with the split', async () => {
    await fixture();
    await client.create(R.services, service(ns, 'podinfo-global'));
    const labels = { [STEER_LABEL]: 'true' };
    await client.create(
      R.trafficSplitsV1alpha2,
      trafficSplit(ns, 'shift', 'podinfo-global', [{ service: 'podinfo-west', weight: 1 }], { labels }),
    );
    await synced(start(), 'the failover controller');
    await untilReason('Available', 'Primary');
    await untilReason('Available', 'Weighted', 'shift');
    expect([await nothingReadyMetric(), await nothingReadyMetric('shift')]).toEqual([0, 0]);

    await setReady('podinfo-west-gw', false);
    await setReady('podinfo-north-gw', false);
    await setReady('podinfo-abc12', false);
    await untilReason('Available', 'NothingReady');
    await untilReason('Available', 'NothingReady', 'shift');
    await controller?.idle();
    expect([await nothingReadyMetric(), await nothingReadyMetric('shift')]).toEqual([1, 1]);
    // Nothing carries traffic: the unready primary keeping its weight is not active, nor anything else.
    expect(await failoverStatusRows(client, { namespace: ns })).toEqual([
      { namespace: ns, trafficSplit: 'podinfo', status: 'NothingReady', activeBackends: [] },
      { namespace: ns, trafficSplit: 'shift', status: 'NothingReady', activeBackends: [] },
    ]);

    await setReady('podinfo-west-gw', true);
    await untilReason('Available', 'Fallback');
    await untilReason('Available', 'Weighted', 'shift');
    await controller?.idle();
    expect([await nothingReadyMetric(), await nothingReadyMetric('shift')]).toEqual([0, 0]);

    await client.delete(R.trafficSplitsV1alpha2, ns, 'podinfo');
    await client.patch(R.trafficSplitsV1alpha2, ns, 'shift', {
      metadata: { labels: { [STEER_LABEL]: null } },
    });
    await waitFor(
      async () =>
        (await nothingReadyMetric()) === undefined &&
        (await nothingReadyMetric('shift')) === undefined &&
        (await activeMetric()) === undefined,
      { what: 'the series of splits no longer handled removed' },
    );
  });

  it('after a restart in NothingReady, a primary that returns is no restore when traffic was on it (no hysteresis, no event)', async () => {
    await fixture({ annotations: { [FAILOVER_RESTORE_AFTER_ANNOTATION]: '30s' } });
    await synced(start(), 'the failover controller');
    await untilReason('Available', 'Primary');
    // The backups go first, so traffic is still on the primary when it goes too.
    await setReady('podinfo-west-gw', false);
    await setReady('podinfo-north-gw', false);
    await setReady('podinfo-abc12', false);
    await untilReason('Available', 'NothingReady');
    expect(await weightsOf()).toEqual([1, 0, 0]);
    await controller?.stop();
    controller = undefined;

    await setReady('podinfo-west-gw', true);
    await setReady('podinfo-abc12', true);
    const restarted = start();
    await synced(restarted, 'the failover controller');
    await untilReason('Available', 'Primary');
    await restarted.idle();
    expect(await weightsOf()).toEqual([1, 0, 0]);
    expect((await eventMessages()).filter((m) => m.startsWith('Failover:'))).toEqual([]);
  });
});

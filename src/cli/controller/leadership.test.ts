/**
 * `isthmus controller` in-process against strict sandboxes, for how leadership ends: a replica
 * that loses the Lease drops the series only a leader exposes, and a stop releases the Lease at
 * once even while a remote API server hangs; each change is logged with why.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { Writable } from 'node:stream';
import { request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { service, trafficSplit } from '../../failover/test-builders.js';
import { updateWithRetry } from '../../kube/apply.js';
import { KubeClient } from '../../kube/client.js';
import {
  FEDERATED_LABEL,
  FEDERATED_MEMBER,
  REMOTE_KUBECONFIG_KEY,
  REMOTE_KUBECONFIG_SECRET_TYPE,
  SYSTEM_NAMESPACE,
} from '../../kube/keys.js';
import { LeaderElector } from '../../kube/leader-election.js';
import { R } from '../../kube/resources.js';
import { within } from '../../kube/test-support.js';
import type { V1Lease } from '../../kube/types.js';
import { MIRROR_LEASE_NAME } from '../../mirror/leadership.js';
import { linkObject } from '../../mirror/test-builders.js';
import {
  type Cluster,
  closeCluster,
  exportService,
  link,
  ProbeStub,
  startCluster,
  waitFor,
  waitReady,
} from '../../mirror/test-harness.js';
import { type ControllerProcessOptions, runControllerProcess } from './run-controller-process.js';

/**
 * Lease timings short enough for a test (client-go's ratios: retry < renew deadline < lease), long
 * enough that a leader stalled for a few seconds on a loaded machine keeps its Lease: losing it is
 * what these tests cause on purpose, and an extra loss would be a change they do not expect.
 */
const FAST = { leaseDurationSeconds: 6, renewDeadlineMs: 4_000, retryPeriodMs: 200 };

const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function cluster(name: string): Promise<Cluster> {
  const c = await startCluster(name);
  cleanups.push(() => closeCluster(c));
  return c;
}

async function controller(local: Cluster, over: Partial<ControllerProcessOptions> = {}) {
  const probe = new ProbeStub();
  await probe.start();
  cleanups.push(() => probe.close());
  const running = await runControllerProcess({
    cluster: 'east',
    client: KubeClient.fromKubeconfigString(local.sandbox.kubeconfig()),
    gatewayAdminUrl: probe.url,
    gatewayEndpoints: ['10.0.0.5'],
    egressPortRange: { first: 20000, last: 20099 },
    failoverControlledBy: 'linkerd-failover',
    leaderElect: true,
    admin: { host: '127.0.0.1', port: 0 },
    logLevel: 'silent',
    ...over,
  });
  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= running.stop();
    return stopping;
  };
  cleanups.push(stop);
  const scrape = async () => (await request(`http://127.0.0.1:${running.adminPort}/metrics`)).body.text();
  return { stop, scrape };
}

function lease(c: Cluster): Promise<V1Lease | undefined> {
  return c.client.get<V1Lease>(R.leases, SYSTEM_NAMESPACE, MIRROR_LEASE_NAME);
}

/** MicroTime, as the elector writes it. */
const microNow = () => new Date().toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');

/**
 * Another replica, `rival`, takes the Lease (this one's renewals failed meanwhile, say) and keeps
 * renewing it until stopped.
 */
async function rivalTakesLease(c: Cluster): Promise<{ stop(): Promise<void> }> {
  await updateWithRetry<V1Lease>(c.client, R.leases, SYSTEM_NAMESPACE, MIRROR_LEASE_NAME, (l) => ({
    ...l,
    spec: { ...l.spec, holderIdentity: 'rival', renewTime: microNow() as unknown as Date },
  }));
  const rivalClient = KubeClient.fromKubeconfigString(c.sandbox.kubeconfig());
  const rival = new LeaderElector(rivalClient, {
    namespace: SYSTEM_NAMESPACE,
    name: MIRROR_LEASE_NAME,
    identity: 'rival',
    ...FAST,
  });
  rival.start();
  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= rival.stop().then(() => rivalClient.close());
    return stopping;
  };
  cleanups.push(stop);
  return { stop };
}

/** A log destination whose JSON lines land parsed in `lines`. */
function logLines(lines: Array<Record<string, unknown>>): Writable {
  return new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(line));
      done();
    },
  });
}

describe('isthmus controller leadership', () => {
  it('a replica that loses the Lease removes the series only a leader exposes', async () => {
    const [east, west] = await Promise.all([cluster('east'), cluster('west')]);
    await exportService(west, 'podinfo', { ready: 1 });
    await link(east, west, 'west');
    // A local federated member and a failover split: the federation and failover controllers'
    // gauges are leader-only too.
    await east.client.create(R.services, {
      ...service('default', 'cart', [{ name: 'http', port: 80 }], { app: 'cart' }),
      metadata: { namespace: 'default', name: 'cart', labels: { [FEDERATED_LABEL]: FEDERATED_MEMBER } },
    });
    await east.client.create(R.services, service('default', 'podinfo'));
    await east.client.create(
      R.trafficSplitsV1alpha2,
      trafficSplit('default', 'podinfo', 'podinfo', [
        { service: 'podinfo', weight: 1 },
        { service: 'podinfo-west', weight: 0 },
      ]),
    );
    const { scrape } = await controller(east, { leaderElection: FAST });
    await waitReady(east, 'default', 'podinfo-west');
    const leaderOnly = [
      'isthmus_mirrored_services{target_cluster_name="west"} 1',
      'isthmus_federation_members{namespace="default",service="cart"} 1',
      'isthmus_failover_active{namespace="default",split="podinfo"}',
      'isthmus_failover_nothing_ready{namespace="default",split="podinfo"}',
    ];
    await waitFor(
      async () => {
        const text = await scrape();
        return leaderOnly.every((series) => text.includes(series));
      },
      { what: 'the leader exposes its mirror count, federation members and failover state' },
    );

    await rivalTakesLease(east);

    // Its last value would be stale: `max by` alerts would keep firing and sums count it twice.
    const names = [
      'isthmus_mirrored_services{',
      'isthmus_federation_members{',
      'isthmus_federation_ready_members{',
      'isthmus_failover_active{',
      'isthmus_failover_nothing_ready{',
    ];
    await waitFor(
      async () => {
        const text = await scrape();
        return names.every((name) => !text.includes(name));
      },
      { what: 'the leader-only series removed by the former leader' },
    );
    expect((await lease(east))?.spec?.holderIdentity).toBe('rival');
    // What every replica observes for itself (it keeps probing, to take over warm) stays.
    expect(await scrape()).toContain('gateway_alive{target_cluster_name="west"} 1');
  });

  it('stops within its deadline and releases the Lease while a remote API server hangs', async () => {
    const east = await cluster('east');
    // Accepts TCP and never answers: a TLS handshake that never ends.
    const sockets: Socket[] = [];
    const hanging: Server = createServer((s) => sockets.push(s));
    await new Promise<void>((r) => hanging.listen(0, '127.0.0.1', r));
    cleanups.push(() => {
      for (const s of sockets) s.destroy();
      return new Promise((r) => hanging.close(r));
    });
    const { port } = hanging.address() as { port: number };
    const kubeconfig = [
      'apiVersion: v1',
      'kind: Config',
      `clusters: [{name: west, cluster: {server: "https://127.0.0.1:${port}", insecure-skip-tls-verify: true}}]`,
      'users: [{name: reader, user: {token: remote-reader}}]',
      'contexts: [{name: west, context: {cluster: west, user: reader}}]',
      'current-context: west',
    ].join('\n');
    await east.client.create(R.secrets, {
      metadata: { name: 'creds-west', namespace: SYSTEM_NAMESPACE },
      type: REMOTE_KUBECONFIG_SECRET_TYPE,
      stringData: { [REMOTE_KUBECONFIG_KEY]: kubeconfig },
    });
    await east.client.create(R.links, linkObject('west', { clusterCredentialsSecret: 'creds-west' }));
    const { stop } = await controller(east);
    await waitFor(async () => (await lease(east))?.spec?.holderIdentity, { what: 'leading' });
    await waitFor(() => sockets.length > 0, { what: 'the remote watch connecting' });

    // A hang guard, not a speed claim: a stop that waited on the remote's handshake would end only
    // at its 10 s connect timeout (the kube transport's), or never. A normal stop takes well under 1 s.
    await within(stop(), 8_000, 'the controller to stop while the remote API server hangs');
    // Released as the elector releases it: no holder, a 1 s lease, so a successor takes it at once.
    expect((await lease(east))?.spec).toMatchObject({ holderIdentity: '', leaseDurationSeconds: 1 });
  });

  it('logs why leadership changed: won, lost to the holder the Lease names, won back, released at shutdown', async () => {
    const east = await cluster('east');
    const lines: Array<Record<string, unknown>> = [];
    const { stop } = await controller(east, {
      leaderElection: FAST,
      logLevel: 'info',
      logDestination: logLines(lines),
    });
    const changes = () => lines.filter((l) => String(l.msg).startsWith('leadership '));
    await waitFor(() => changes().length === 1, { what: 'leading' });
    const rival = await rivalTakesLease(east);
    await waitFor(() => changes().length === 2, { what: 'the Lease lost to the rival' });
    await rival.stop();
    await waitFor(() => changes().length === 3, { what: 'the Lease won back once the rival released it' });
    await stop();

    const holder = String((await lease(east))?.spec?.holderIdentity ?? '');
    expect(changes()).toEqual([
      expect.objectContaining({ level: 30, msg: 'leadership gained', leading: true, reason: 'created' }),
      // A leader that stops leading when it did not mean to is what an operator looks into.
      expect.objectContaining({
        level: 40,
        msg: 'leadership lost',
        leading: false,
        reason: 'taken',
        holder: 'rival',
      }),
      expect.objectContaining({ level: 30, msg: 'leadership gained', leading: true, reason: 'free' }),
      expect.objectContaining({
        level: 30,
        msg: 'leadership released at shutdown',
        leading: false,
        reason: 'shutdown',
      }),
    ]);
    expect(holder).toBe('');
  });
});

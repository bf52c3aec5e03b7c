/**
 * `--dial-pod-ips-only` on the data path (CVE-2021-25740): west's gateway runs in that mode, east's
 * tunnels into it. An exported Service whose hand-written slice lists another namespace's pod (a
 * listener standing in for it, which counts connections) gets 503 and the address is never
 * dialled; a Service backed by a pod of its own namespace is carried as usual. Without the right to
 * list Pods the gateway stays unready and says why.
 */
import { writeFile } from 'node:fs/promises';
import net from 'node:net';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { R } from '../../kube/resources.js';
import type { RunningGateway } from '../run-gateway.js';
import {
  type Cluster,
  endpointSlice,
  exportedService,
  namespace,
  runningPod,
  startBackend,
  startLinkedClusters,
  statusThrough,
  waitFor,
} from './fixtures.js';
import { startGateway } from './start-gateways.js';

/** The flag under test: the gateway dials only the pod IPs of a Service's endpoints. */
const POD_IPS_ONLY = { dialPodIpsOnly: true };

/** Loopback "cluster addresses" of this file; other test files use other 127.x addresses. */
const EAST_HOST = '127.0.151.1';
const WEST_HOST = '127.0.152.1';
const WEST_SPARE_HOST = '127.0.152.2';
/** West's pods: shop/web-1 (the legitimate backend) and bank/vault-0 (what a slice in shop steals). */
const WEB_POD = '127.0.152.10';
const VAULT_POD = '127.0.152.20';
const NS = 'shop';
const PORT = 80;
const authority = (service: string): string => `${service}.${NS}.svc.cluster.local:${PORT}`;

/** A TCP listener that counts the connections it accepts: a pod the gateway must never reach. */
async function trap(host: string): Promise<{ port: number; accepted: () => number; close(): Promise<void> }> {
  let accepted = 0;
  const server = net.createServer((socket) => {
    accepted++;
    socket.destroy();
  });
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    accepted: () => accepted,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

describe('--dial-pod-ips-only through a gateway pair', () => {
  let west: Cluster;
  let eastGw: RunningGateway;
  let westGw: RunningGateway;
  let vault: Awaited<ReturnType<typeof trap>>;
  const westLog: string[] = [];
  const cleanups: Array<() => unknown> = [];
  const westIngress = () => ({ host: WEST_HOST, port: westGw.ingress.address.port });
  const resolves = (service: string) =>
    westGw.index.resolve({ kind: 'service', namespace: NS, service, port: PORT }).ok;

  beforeAll(async () => {
    let east: Cluster;
    ({ east, west } = await startLinkedClusters(EAST_HOST, NS, cleanups));
    await west.kube.create(R.namespaces, namespace('bank'));
    const web = await startBackend('shop/web-1', WEB_POD);
    cleanups.push(() => web.close());
    vault = await trap(VAULT_POD);
    cleanups.push(() => vault.close());
    await runningPod(west.kube, NS, 'web-1', [WEB_POD]);
    await runningPod(west.kube, 'bank', 'vault-0', [VAULT_POD]);
    await west.kube.create(R.services, exportedService(NS, 'web', PORT));
    await west.kube.create(R.endpointSlices, endpointSlice(NS, 'web', WEB_POD, web.port));
    // Whoever may write EndpointSlices in shop points an exported Service at bank's pod.
    await west.kube.create(R.services, exportedService(NS, 'redirect', PORT));
    await west.kube.create(R.endpointSlices, endpointSlice(NS, 'redirect', VAULT_POD, vault.port));

    const logger = pino({ level: 'warn' }, { write: (line: string) => westLog.push(line) });
    westGw = await startGateway(west, 'west', WEST_HOST, POD_IPS_ONLY, logger);
    cleanups.push(() => westGw.stop());
    eastGw = await startGateway(east, 'east', EAST_HOST);
    cleanups.push(() => eastGw.stop());
    await waitFor('both gateways ready', () => eastGw.readiness().ready && westGw.readiness().ready);
  });

  afterAll(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  });

  it("answers 503 for a slice listing another namespace's pod, and never dials it", async () => {
    await expect(eastGw.pool.openTunnel(westIngress(), authority('redirect'))).rejects.toThrow(/503/);
    const refused = westLog
      .map((l) => JSON.parse(l) as { msg: string; service?: string; refused?: { reason: string }[] })
      .find((l) => l.msg === 'endpoints refused: never dialled' && l.service === `${NS}/redirect`);
    expect(refused?.refused).toEqual([
      {
        address: VAULT_POD,
        reason: `${VAULT_POD} is not (or not yet) the IP of a running Pod in namespace shop`,
      },
    ]);
    expect(vault.accepted()).toBe(0);
  });

  it('carries a tunnel to a Service backed by a pod of its own namespace', async () => {
    expect(await statusThrough(await eastGw.pool.openTunnel(westIngress(), authority('web')))).toBe(
      'HTTP/1.1 200 OK',
    );
  });

  it('follows the Pods: an IP that becomes a pod of the namespace is dialled, a finished pod no more', async () => {
    // The redirect target turns out to be a pod of shop after all (its IP reused by shop): no slice
    // event, the Pod alone makes it dialable.
    await runningPod(west.kube, 'bank', 'vault-0', [VAULT_POD], 'Succeeded');
    await runningPod(west.kube, NS, 'reuser', [VAULT_POD]);
    await waitFor('redirect resolvable', () => resolves('redirect'));
    const tunnel = await eastGw.pool.openTunnel(westIngress(), authority('redirect'));
    await waitFor('the listener reached', () => vault.accepted() === 1);
    tunnel.destroy();

    await runningPod(west.kube, NS, 'web-1', [WEB_POD], 'Succeeded');
    await waitFor('web refused', () => !resolves('web'));
    await expect(eastGw.pool.openTunnel(westIngress(), authority('web'))).rejects.toThrow(/503/);
    await runningPod(west.kube, NS, 'web-2', [WEB_POD]);
    await waitFor('web resolvable again', () => resolves('web'));
  });

  it('stays unready and says why when it may not list Pods', async () => {
    // The install's gateway rules without the pods grant that --gateway-dial-pod-ips-only adds.
    west.sandbox.addToken('no-pods', {
      username: 'system:serviceaccount:isthmus-system:isthmus-gateway',
      rules: [
        { verbs: ['get', 'list', 'watch'], resources: ['services'] },
        { verbs: ['get', 'list', 'watch'], apiGroups: ['discovery.k8s.io'], resources: ['endpointslices'] },
        { verbs: ['get', 'list', 'watch'], apiGroups: ['multicluster.isthmus.dev'], resources: ['links'] },
      ],
    });
    const kubeconfigFile = join(west.certs.dir, 'no-pods.kubeconfig');
    await writeFile(kubeconfigFile, west.sandbox.kubeconfig({ token: 'no-pods', user: 'no-pods' }));
    const lines: string[] = [];
    const logger = pino({ level: 'warn' }, { write: (line: string) => lines.push(line) });
    const spare = await startGateway(
      { ...west, kubeconfigFile },
      'west',
      WEST_SPARE_HOST,
      POD_IPS_ONLY,
      logger,
    );
    try {
      const reasons = await waitFor('the refusal in /ready', () => {
        const r = spare.readiness().reasons;
        return r.some((reason) => reason.includes('403')) ? r : undefined;
      });
      expect(spare.readiness().ready).toBe(false);
      expect(reasons).toContain(
        '--dial-pod-ips-only: the API server refuses to list Pods (403): grant the gateway get, list and watch on pods cluster-wide (isthmus upgrade --gateway-dial-pod-ips-only renders it); nothing is dialled until then',
      );
      expect(reasons).toContain('pods not synced');
      const logged = lines.map((l) => JSON.parse(l) as { level: number; msg: string });
      expect(logged.some((l) => l.level === 50 && l.msg.includes('refuses to list Pods (403)'))).toBe(true);
    } finally {
      await spare.stop();
    }
  });
});

/**
 * The tunnel loop through a Service that forwards to the gateway, on the data path: east's gateway
 * tunnels into west, where an exported Service's hand-written slice lists the ClusterIP of one of
 * west's mirrors, of a `<name>-federated` Service or of a TrafficSplit apex the failover controller
 * steers (kube-proxy would forward each to west's gateway egress: a tunnel per tunnel), or of one of
 * Isthmus's own Services (its gateway's admin Service: the admin port open to every linked cluster). West's
 * ingress answers 503 and never dials it; once the address no longer forwards there, the same
 * Service is carried again. West's gateway runs with the install's RBAC, so what it watches must be
 * granted. West's Services take their ClusterIPs from a loopback range, so a listener stands in for
 * whatever the ClusterIP leads to and counts what reaches it.
 */
import { writeFile } from 'node:fs/promises';
import net from 'node:net';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { installGrants } from '../../cli/install/rbac.js';
import {
  CLUSTER_NAME_LABEL,
  FEDERATED_SERVICE_LABEL,
  MANAGED_BY_FAILOVER,
  MANAGED_BY_LABEL,
  MIRRORED_SERVICE_LABEL,
  REMOTE_DISCOVERY_LABEL,
  SERVICE_NAME_LABEL,
  SYSTEM_NAMESPACE,
} from '../../kube/keys.js';
import { R } from '../../kube/resources.js';
import type { V1EndpointSlice, V1Service } from '../../kube/types.js';
import {
  APEX_CLUSTER_IP_REFUSAL,
  FEDERATED_CLUSTER_IP_REFUSAL,
  MIRROR_CLUSTER_IP_REFUSAL,
  SYSTEM_SERVICE_CLUSTER_IP_REFUSAL,
} from '../dial-refusal.js';
import type { RunningGateway } from '../run-gateway.js';
import {
  type Cluster,
  exportedService,
  mirrorService,
  startLinkedClusters,
  statusThrough,
  waitFor,
} from './fixtures.js';
import { startGateway } from './start-gateways.js';

/** Loopback "cluster addresses" of this file; other test files use other 127.x addresses. */
const EAST_HOST = '127.0.171.1';
const WEST_HOST = '127.0.172.1';
/** West's Service range: its mirrors' ClusterIPs are loopback addresses a listener can take. */
const WEST_SERVICE_CIDR = '127.0.173.0/24';
const NS = 'shop';
const PORT = 80;
const authority = (service: string): string => `${service}.${NS}.svc.cluster.local:${PORT}`;

/** A TCP listener that answers one HTTP response per connection and counts the connections. */
async function listener(
  host: string,
): Promise<{ port: number; accepted: () => number; close(): Promise<void> }> {
  let accepted = 0;
  const server = net.createServer((socket) => {
    accepted++;
    socket.once('data', () =>
      socket.end('HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n'),
    );
    socket.on('error', () => {});
  });
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    accepted: () => accepted,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** An EndpointSlice of `service`: one endpoint, `address:port`; written by hand unless `labels` say. */
function slice(
  service: string,
  address: string,
  port: number,
  name = `${service}-by-hand`,
  labels: Record<string, string> = {},
): V1EndpointSlice {
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { namespace: NS, name, labels: { [SERVICE_NAME_LABEL]: service, ...labels } },
    addressType: 'IPv4',
    endpoints: [{ addresses: [address], conditions: { ready: true } }],
    ports: [{ name: 'http', port, protocol: 'TCP' }],
  };
}

/** A Service of west as a user or a controller writes it, with `labels`. */
function westService(name: string, labels: Record<string, string> = {}): V1Service {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { namespace: NS, name, labels },
    spec: { ports: [{ name: 'http', port: PORT, protocol: 'TCP' }] },
  };
}

/** A kubeconfig of `cluster` whose token holds exactly what the install grants the gateway. */
async function gatewayKubeconfig(cluster: Cluster): Promise<string> {
  const rules = installGrants({ gateway: true, enableNamespaceCreation: false }).flatMap((g) =>
    g.serviceAccount !== 'isthmus-gateway'
      ? []
      : g.rules.map((r) => ({
          ...r,
          ...(g.scope === 'namespace' ? { namespaces: [SYSTEM_NAMESPACE] } : {}),
        })),
  );
  cluster.sandbox.addToken('gateway', {
    username: `system:serviceaccount:${SYSTEM_NAMESPACE}:isthmus-gateway`,
    rules,
  });
  const file = join(cluster.certs.dir, 'gateway.kubeconfig');
  await writeFile(file, cluster.sandbox.kubeconfig({ token: 'gateway', user: 'gateway' }));
  return file;
}

/**
 * One Service whose ClusterIP forwards to the gateway: `create` makes it so and returns the
 * address, `release` makes the address forward there no more, `reason` is the refusal logged.
 */
interface LoopCase {
  service: string;
  reason: string;
  create(kube: Cluster['kube']): Promise<string>;
  release(kube: Cluster['kube']): Promise<unknown>;
}

const clusterIPOf = (svc: V1Service): string => svc.spec?.clusterIP ?? '';

/** A Service that forwards while it exists: its deletion releases the address. */
function whileItExists(service: string, reason: string, loop: V1Service): LoopCase {
  return {
    service,
    reason,
    create: async (kube) => clusterIPOf(await kube.create<V1Service>(R.services, loop)),
    release: (kube) => kube.delete(R.services, NS, loop.metadata?.name ?? ''),
  };
}

const CASES: [string, LoopCase][] = [
  [
    'a gateway mirror',
    whileItExists(
      'loop',
      MIRROR_CLUSTER_IP_REFUSAL,
      mirrorService({
        ns: NS,
        service: 'db',
        cluster: 'east',
        port: PORT,
        egressPort: 20001,
        gateway: '10.0.0.9:4143',
      }),
    ),
  ],
  [
    'a remote-discovery mirror',
    // As Linkerd's and Isthmus's controllers label it: its endpoints are remote pods.
    whileItExists(
      'detour',
      MIRROR_CLUSTER_IP_REFUSAL,
      westService('cache-east', {
        [MIRRORED_SERVICE_LABEL]: 'true',
        [REMOTE_DISCOVERY_LABEL]: 'east',
        [CLUSTER_NAME_LABEL]: 'east',
      }),
    ),
  ],
  [
    "a <name>-federated Service (released: no longer the federation's)",
    {
      service: 'fed-loop',
      reason: FEDERATED_CLUSTER_IP_REFUSAL,
      create: async (kube) =>
        clusterIPOf(
          await kube.create<V1Service>(
            R.services,
            westService('orders-federated', { [FEDERATED_SERVICE_LABEL]: 'true' }),
          ),
        ),
      release: (kube) =>
        kube.patch(R.services, NS, 'orders-federated', {
          metadata: { labels: { [FEDERATED_SERVICE_LABEL]: null } },
        }),
    },
  ],
  [
    'a TrafficSplit apex the failover controller steers (released: its slices gone)',
    {
      service: 'apex-loop',
      reason: APEX_CLUSTER_IP_REFUSAL,
      create: async (kube) => {
        const apex = await kube.create<V1Service>(R.services, westService('checkout'));
        // As plan-apex-slices.ts writes it: a backend's endpoint (here the gateway egress) under the apex.
        await kube.create(
          R.endpointSlices,
          slice('checkout', WEST_HOST, 20001, 'checkout-isthmus-checkout-east', {
            [MANAGED_BY_LABEL]: MANAGED_BY_FAILOVER,
            'failover.isthmus.dev/split': 'checkout',
          }),
        );
        return clusterIPOf(apex);
      },
      release: (kube) => kube.delete(R.endpointSlices, NS, 'checkout-isthmus-checkout-east'),
    },
  ],
  [
    "the gateway's admin Service (Isthmus's system namespace; released: deleted)",
    {
      service: 'admin-loop',
      reason: SYSTEM_SERVICE_CLUSTER_IP_REFUSAL,
      // As the install writes it; kube-proxy forwards it to the gateway pods' admin port.
      create: async (kube) =>
        clusterIPOf(
          await kube.create<V1Service>(R.services, {
            ...westService('isthmus-gateway-admin'),
            metadata: { namespace: SYSTEM_NAMESPACE, name: 'isthmus-gateway-admin' },
          }),
        ),
      release: (kube) => kube.delete(R.services, SYSTEM_NAMESPACE, 'isthmus-gateway-admin'),
    },
  ],
];

describe("the ingress never dials a ClusterIP of its own cluster's Services that forward to a gateway", () => {
  let west: Cluster;
  let eastGw: RunningGateway;
  let westGw: RunningGateway;
  const westLog: string[] = [];
  const cleanups: Array<() => unknown> = [];
  const westIngress = () => ({ host: WEST_HOST, port: westGw.ingress.address.port });
  const resolves = (service: string) =>
    westGw.index.resolve({ kind: 'service', namespace: NS, service, port: PORT }).ok;
  const refusalsLogged = (service: string) =>
    westLog
      .map((l) => JSON.parse(l) as { msg: string; service?: string; refused?: unknown[] })
      .filter((l) => l.msg === 'endpoints refused: never dialled' && l.service === `${NS}/${service}`)
      .map((l) => l.refused);

  beforeAll(async () => {
    let east: Cluster;
    ({ east, west } = await startLinkedClusters(EAST_HOST, NS, cleanups, WEST_SERVICE_CIDR));
    const logger = pino({ level: 'warn' }, { write: (line: string) => westLog.push(line) });
    westGw = await startGateway(
      { ...west, kubeconfigFile: await gatewayKubeconfig(west) },
      'west',
      WEST_HOST,
      {},
      logger,
    );
    cleanups.push(() => westGw.stop());
    eastGw = await startGateway(east, 'east', EAST_HOST);
    cleanups.push(() => eastGw.stop());
    await waitFor('both gateways ready', () => eastGw.readiness().ready && westGw.readiness().ready);
  });

  afterAll(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  });

  it.each(CASES)(
    '%s: 503 and never dialled while it forwards there; carried once it does not',
    async (_what, loop) => {
      const { service } = loop;
      const clusterIP = await loop.create(west.kube);
      expect(clusterIP).toMatch(/^127\.0\.173\./);
      const target = await listener(clusterIP);
      cleanups.push(() => target.close());
      await west.kube.create(R.services, exportedService(NS, service, PORT));
      await west.kube.create(R.endpointSlices, slice(service, clusterIP, target.port));
      await waitFor('the refusal logged', () => refusalsLogged(service).length > 0);

      await expect(eastGw.pool.openTunnel(westIngress(), authority(service))).rejects.toThrow(/503/);
      expect(refusalsLogged(service)).toEqual([[{ address: clusterIP, reason: loop.reason }]]);
      expect(target.accepted()).toBe(0);

      // It no longer forwards to the gateway (the Link deleted, the federation or the split gone).
      await loop.release(west.kube);
      await waitFor(`${service} resolvable`, () => resolves(service));
      expect(await statusThrough(await eastGw.pool.openTunnel(westIngress(), authority(service)))).toBe(
        'HTTP/1.1 200 OK',
      );
      expect(target.accepted()).toBe(1);
    },
  );
});

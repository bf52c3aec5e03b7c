/**
 * The tunnel loop through a mirror, on the data path: east's gateway tunnels into west, where an
 * exported Service's hand-written slice lists the ClusterIP of one of west's mirrors (which
 * kube-proxy would forward to west's gateway egress: a tunnel per tunnel). West's ingress answers
 * 503 and never dials it; once no mirror holds the address, the same Service is carried again.
 * West's Services take their ClusterIPs from a loopback range, so a listener stands in for
 * whatever the ClusterIP leads to and counts what reaches it.
 */
import net from 'node:net';
import { type Logger, pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CLUSTER_NAME_LABEL,
  MIRRORED_SERVICE_LABEL,
  REMOTE_DISCOVERY_LABEL,
  SERVICE_NAME_LABEL,
} from '../../kube/keys.js';
import { R } from '../../kube/resources.js';
import type { V1EndpointSlice, V1Service } from '../../kube/types.js';
import { gatewayOptionsFromFlags } from '../config.js';
import { MIRROR_CLUSTER_IP_REFUSAL } from '../dial-refusal.js';
import { type RunningGateway, runGateway } from '../run-gateway.js';
import {
  type Cluster,
  exportedService,
  gatewayFlags,
  mirrorService,
  startLinkedClusters,
  statusThrough,
  waitFor,
} from './fixtures.js';

/** Loopback "cluster addresses" of this file; other test files use other 127.x addresses. */
const EAST_HOST = '127.0.171.1';
const WEST_HOST = '127.0.172.1';
/** West's Service range: its mirrors' ClusterIPs are loopback addresses a listener can take. */
const WEST_SERVICE_CIDR = '127.0.173.0/24';
const NS = 'shop';
const PORT = 80;
const authority = (service: string): string => `${service}.${NS}.svc.cluster.local:${PORT}`;

function startGateway(cluster: Cluster, name: string, host: string, logger: Logger) {
  return runGateway(gatewayOptionsFromFlags(gatewayFlags(cluster, name, host)), {
    logger,
    processMetrics: false,
  });
}

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

/** An EndpointSlice of `service` written by hand: one endpoint, `address:port`. */
function handWrittenSlice(service: string, address: string, port: number): V1EndpointSlice {
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { namespace: NS, name: `${service}-by-hand`, labels: { [SERVICE_NAME_LABEL]: service } },
    addressType: 'IPv4',
    endpoints: [{ addresses: [address], conditions: { ready: true } }],
    ports: [{ name: 'http', port, protocol: 'TCP' }],
  };
}

/** A remote-discovery mirror as Linkerd's and Isthmus's controllers label it: its endpoints are remote pods. */
function remoteDiscoveryMirror(name: string): V1Service {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: {
      namespace: NS,
      name,
      labels: {
        [MIRRORED_SERVICE_LABEL]: 'true',
        [REMOTE_DISCOVERY_LABEL]: 'east',
        [CLUSTER_NAME_LABEL]: 'east',
      },
    },
    spec: { ports: [{ name: 'http', port: PORT, protocol: 'TCP' }] },
  };
}

describe("the ingress never dials a mirror Service's ClusterIP of its own cluster", () => {
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
    westGw = await startGateway(west, 'west', WEST_HOST, logger);
    cleanups.push(() => westGw.stop());
    eastGw = await startGateway(east, 'east', EAST_HOST, pino({ level: 'silent' }));
    cleanups.push(() => eastGw.stop());
    await waitFor('both gateways ready', () => eastGw.readiness().ready && westGw.readiness().ready);
  });

  afterAll(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  });

  it.each([
    [
      'a gateway mirror',
      'loop',
      mirrorService({
        ns: NS,
        service: 'db',
        cluster: 'east',
        port: PORT,
        egressPort: 20001,
        gateway: '10.0.0.9:4143',
      }),
    ],
    ['a remote-discovery mirror', 'detour', remoteDiscoveryMirror('cache-east')],
  ])(
    '%s: 503 and never dialled while it holds the ClusterIP; carried once it is gone',
    async (_what, service, mirror) => {
      const created = await west.kube.create<V1Service>(R.services, mirror);
      const clusterIP = created.spec?.clusterIP ?? '';
      expect(clusterIP).toMatch(/^127\.0\.173\./);
      const target = await listener(clusterIP);
      cleanups.push(() => target.close());
      await west.kube.create(R.services, exportedService(NS, service, PORT));
      await west.kube.create(R.endpointSlices, handWrittenSlice(service, clusterIP, target.port));
      await waitFor('the refusal logged', () => refusalsLogged(service).length > 0);

      await expect(eastGw.pool.openTunnel(westIngress(), authority(service))).rejects.toThrow(/503/);
      expect(refusalsLogged(service)).toEqual([[{ address: clusterIP, reason: MIRROR_CLUSTER_IP_REFUSAL }]]);
      expect(target.accepted()).toBe(0);

      // The mirror goes (its Link was deleted): its ClusterIP is an address like any other.
      await west.kube.delete(R.services, NS, mirror.metadata?.name ?? '');
      await waitFor(`${service} resolvable`, () => resolves(service));
      expect(await statusThrough(await eastGw.pool.openTunnel(westIngress(), authority(service)))).toBe(
        'HTTP/1.1 200 OK',
      );
      expect(target.accepted()).toBe(1);
    },
  );
});

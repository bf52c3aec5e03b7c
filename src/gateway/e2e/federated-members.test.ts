/**
 * West's ingress admits federated members (`mirror.linkerd.io/federated=member`) as it admits
 * exported Services: east's gateway reaches a member through the pair with the same authority
 * form, a Service in neither set gets 403, and `--federated-selector ""` turns admission off. An
 * export that names its clusters (`isthmus.dev/allowed-clusters`) admits only those peers.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ALLOWED_CLUSTERS_ANNOTATION,
  EXPORTED_LABEL,
  FEDERATED_LABEL,
  FEDERATED_MEMBER,
  MANAGED_BY_FAILOVER,
  MANAGED_BY_LABEL,
} from '../../kube/keys.js';
import { R } from '../../kube/resources.js';
import type { V1Service } from '../../kube/types.js';
import type { RunningGateway } from '../run-gateway.js';
import { echo, startTcpBackend } from '../test-support/backends.js';
import { within } from '../test-support/wait.js';
import {
  type Cluster,
  createMirror,
  endpointSlice,
  exportedService,
  freeEgressPort,
  httpGet,
  linkGateway,
  mirrorService,
  startBackend,
  startLinkedClusters,
  waitFor,
} from './fixtures.js';
import { startGateway } from './start-gateways.js';

/** Loopback "cluster addresses" of this file; other test files use other 127.x addresses. */
const EAST_HOST = '127.0.43.1';
const WEST_HOST = '127.0.44.1';
const WEST_SPARE_HOST = '127.0.44.2';
const NS = 'test';
const PORT = 9898;
const MEMBER = 'members';
const authority = (service: string): string => `${service}.${NS}.svc.cluster.local:${PORT}`;

/** A Service with exactly these labels (none: neither exported nor a member). */
function labelledService(name: string, labels: Record<string, string>): V1Service {
  const svc = exportedService(NS, name, PORT, false);
  return { ...svc, metadata: { ...svc.metadata, labels } };
}

describe('federated members through a gateway pair', () => {
  let west: Cluster;
  let eastGw: RunningGateway;
  let westGw: RunningGateway;
  let egressPort: number;
  let backendPort: number;
  const cleanups: Array<() => unknown> = [];
  const westIngress = () => ({ host: WEST_HOST, port: westGw.ingress.address.port });
  const relabel = (name: string, labels: Record<string, string | null>) =>
    west.kube.patch(R.services, NS, name, { metadata: { labels } }, 'merge');
  /** In the ingress's index, endpoints or not: anything but the 403 of a Service it may not open. */
  /** The same, for one peer cluster: what an allow-list makes of it. */
  const admittedFor = (gw: RunningGateway, service: string, peer: string): boolean => {
    const result = gw.index.resolve({ kind: 'service', namespace: NS, service, port: PORT }, peer);
    return result.ok || result.status !== 403;
  };
  const admitted = (gw: RunningGateway, service: string): boolean => {
    const result = gw.index.resolve({ kind: 'service', namespace: NS, service, port: PORT });
    return result.ok || result.status !== 403;
  };

  beforeAll(async () => {
    let east: Cluster;
    ({ east, west } = await startLinkedClusters(EAST_HOST, NS, cleanups));
    const backend = await startBackend('west');
    cleanups.push(() => backend.close());
    backendPort = backend.port;
    for (const [name, labels] of [
      [MEMBER, { [FEDERATED_LABEL]: FEDERATED_MEMBER }],
      ['plain', {}],
    ] as const) {
      await west.kube.create(R.services, labelledService(name, labels));
      await west.kube.create(R.endpointSlices, endpointSlice(NS, name, '127.0.0.1', backend.port));
    }
    westGw = await startGateway(west, 'west', WEST_HOST);
    cleanups.push(() => westGw.stop());
    eastGw = await startGateway(east, 'east', EAST_HOST);
    cleanups.push(() => eastGw.stop());
    egressPort = await freeEgressPort(EAST_HOST);
    const gateway = `${WEST_HOST}:${westGw.ingress.address.port}`;
    // East's Link to west names west's gateway: what east's egress routes a mirror of west to.
    await linkGateway(east.kube, 'west', westGw.ingress.address);
    await createMirror(
      east.kube,
      mirrorService({ ns: NS, service: MEMBER, cluster: 'west', port: PORT, egressPort, gateway }),
    );
    await waitFor('both gateways ready', () => eastGw.readiness().ready && westGw.readiness().ready);
    await waitFor('east egress listening', () => eastGw.egress.listening().includes(egressPort));
  });

  afterAll(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  });

  it('carries a request to a Service labelled only as a federated member', async () => {
    expect(await httpGet(EAST_HOST, egressPort, '/')).toEqual({ status: 200, body: 'hello from west' });
  });

  it('refuses CONNECT with 403 to a Service neither exported nor a member', async () => {
    await expect(eastGw.pool.openTunnel(westIngress(), authority('plain'))).rejects.toThrow(/403/);
  });

  it('refuses new CONNECTs with 403 once the member label is removed', async () => {
    await relabel(MEMBER, { [FEDERATED_LABEL]: null });
    await waitFor('west to stop admitting the member', () => !admitted(westGw, MEMBER));
    await expect(eastGw.pool.openTunnel(westIngress(), authority(MEMBER))).rejects.toThrow(/403/);
    await expect(httpGet(EAST_HOST, egressPort, '/')).rejects.toThrow();
  });

  it('keeps a Service that leaves the member set while exported, until it leaves both', async () => {
    await relabel(MEMBER, { [FEDERATED_LABEL]: FEDERATED_MEMBER, [EXPORTED_LABEL]: 'true' });
    await waitFor('admitted again', async () => (await httpGet(EAST_HOST, egressPort, '/')).status === 200);
    await relabel(MEMBER, { [FEDERATED_LABEL]: null });
    // One watch stream is ordered: once a later member is admitted, the member informer has seen
    // the relabel too, so the 200 below is not a race won before it.
    await west.kube.create(R.services, labelledService('marker', { [FEDERATED_LABEL]: FEDERATED_MEMBER }));
    await waitFor('the marker admitted', () => admitted(westGw, 'marker'));
    expect(await httpGet(EAST_HOST, egressPort, '/')).toMatchObject({ status: 200 });

    await relabel(MEMBER, { [EXPORTED_LABEL]: null });
    await waitFor('west to stop admitting it', () => !admitted(westGw, MEMBER));
    await expect(eastGw.pool.openTunnel(westIngress(), authority(MEMBER))).rejects.toThrow(/403/);
  });

  it('admits no member with --federated-selector ""', async () => {
    await relabel(MEMBER, { [FEDERATED_LABEL]: FEDERATED_MEMBER, [EXPORTED_LABEL]: null });
    await waitFor('the member admitted', () => admitted(westGw, MEMBER));
    const spare = await startGateway(west, 'west', WEST_SPARE_HOST, { federatedSelector: '' });
    try {
      await waitFor('spare gateway ready', () => spare.readiness().ready);
      const spareIngress = { host: WEST_SPARE_HOST, port: spare.ingress.address.port };
      await expect(eastGw.pool.openTunnel(spareIngress, authority(MEMBER))).rejects.toThrow(/403/);
    } finally {
      await spare.stop();
    }
  });

  it('admits only the clusters an export names in isthmus.dev/allowed-clusters, by their mTLS identity', async () => {
    const restricted = labelledService('restricted', { [EXPORTED_LABEL]: 'true' });
    restricted.metadata!.annotations = { [ALLOWED_CLUSTERS_ANNOTATION]: 'north' };
    await west.kube.create(R.services, restricted);
    await west.kube.create(R.endpointSlices, endpointSlice(NS, 'restricted', '127.0.0.1', backendPort));
    await waitFor(
      'west to admit it for north only',
      () => admittedFor(westGw, 'restricted', 'north') && !admittedFor(westGw, 'restricted', 'east'),
    );
    await expect(eastGw.pool.openTunnel(westIngress(), authority('restricted'))).rejects.toThrow(/403/);

    await west.kube.patch(
      R.services,
      NS,
      'restricted',
      { metadata: { annotations: { [ALLOWED_CLUSTERS_ANNOTATION]: 'north,east' } } },
      'merge',
    );
    await waitFor('east admitted', () => admittedFor(westGw, 'restricted', 'east'));
    const tunnel = await eastGw.pool.openTunnel(westIngress(), authority('restricted'));
    const answer = new Promise<string>((resolve) =>
      tunnel.once('data', (b: Buffer) => resolve(b.toString())),
    );
    tunnel.write('GET / HTTP/1.1\r\nHost: restricted\r\nConnection: close\r\n\r\n');
    expect(await within(answer, 10_000, "the backend's answer through the tunnel")).toMatch(
      /^HTTP\/1\.1 200/,
    );
    tunnel.destroy();
  });

  it("never dials the endpoints of a slice Isthmus wrote (a split's apex): no tunnel chains through it", async () => {
    // The apex slice lists a listener of its own, which counts connections: were the slice
    // admitted, the tunnel would reach it (and succeed), so the 503 and the count below can tell.
    const bait = await startTcpBackend(echo);
    cleanups.push(() => bait.close());
    const resolves = (service: string): boolean =>
      westGw.index.resolve({ kind: 'service', namespace: NS, service, port: PORT }).ok;
    await west.kube.create(R.services, labelledService('steered', { [EXPORTED_LABEL]: 'true' }));
    const apexSlice = endpointSlice(NS, 'steered', '127.0.0.1', bait.port);
    apexSlice.metadata!.labels![MANAGED_BY_LABEL] = MANAGED_BY_FAILOVER;
    await west.kube.create(R.endpointSlices, apexSlice);
    // One watch stream is ordered: once a slice created after the apex slice is in the index, the
    // slice informer has had the apex slice's event too, so the 503 below is no race won before it.
    await west.kube.create(R.services, labelledService('steered-marker', { [EXPORTED_LABEL]: 'true' }));
    await west.kube.create(R.endpointSlices, endpointSlice(NS, 'steered-marker', '127.0.0.1', backendPort));
    await waitFor('the later slice in the index', () => resolves('steered-marker'));
    await waitFor('west to admit steered', () => admitted(westGw, 'steered'));
    expect(resolves('steered')).toBe(false);
    await expect(eastGw.pool.openTunnel(westIngress(), authority('steered'))).rejects.toThrow(/503/);
    expect(bait.accepted).toBe(0);

    // A slice of its own pods (the EndpointSlice controller's) is dialled as usual; the apex's still not.
    const podSlice = endpointSlice(NS, 'steered', '127.0.0.1', backendPort);
    podSlice.metadata!.name = 'steered-pods';
    podSlice.metadata!.labels![MANAGED_BY_LABEL] = 'endpointslice-controller.k8s.io';
    await west.kube.create(R.endpointSlices, podSlice);
    await waitFor('steered resolvable', () => resolves('steered'));
    for (let i = 0; i < 5; i++) (await eastGw.pool.openTunnel(westIngress(), authority('steered'))).destroy();
    expect(bait.accepted).toBe(0);
  });

  it('is not ready until the member informer has synced', async () => {
    await west.sandbox.faults.goOffline();
    let spare: RunningGateway | undefined;
    try {
      spare = await startGateway(west, 'west', WEST_SPARE_HOST);
      expect(spare.readiness().reasons).toContain('federated not synced');
      await west.sandbox.faults.goOnline();
      await waitFor('spare gateway ready', () => spare?.readiness().ready);
    } finally {
      await west.sandbox.faults.goOnline();
      await spare?.stop();
    }
  });
});

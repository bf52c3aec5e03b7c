/**
 * Two simulated clusters, east and west, each with its own sandbox API server and its own gateway
 * on its own loopback address, certificates under one anchor. West exports `podinfo`; east has
 * the mirror `podinfo-west` as the mirror controller would write it. The tests walk the data path
 * and the admin surface of the gateways as a user and the controller see them.
 */
import { X509Certificate } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import http2 from 'node:http2';
import net from 'node:net';
import tls from 'node:tls';
import { type Logger, pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { issueGatewayCertificate } from '../../identity/ca.js';
import { TEST_TRUST_DOMAIN, testPki } from '../../identity/testing.js';
import { EXPORTED_LABEL, SYSTEM_NAMESPACE } from '../../kube/keys.js';
import { R } from '../../kube/resources.js';
import type { V1Service } from '../../kube/types.js';
import { checkHealth, createHealthClient } from '../health-service.js';
import type { RunningGateway } from '../run-gateway.js';
import { SessionPool } from '../session-pool.js';
import {
  type CertFiles,
  type Cluster,
  canConnect,
  createMirror,
  endpointSlice,
  exportedService,
  freeEgressPort,
  httpGet,
  link,
  linkGateway,
  mirrorService,
  startBackend,
  startLinkedClusters,
  waitFor,
} from './fixtures.js';
import { startGateway } from './start-gateways.js';

/** Loopback "cluster addresses" of this file; other test files use other 127.x addresses. */
const EAST_HOST = '127.0.41.1';
const WEST_HOST = '127.0.42.1';
const WEST_SPARE_HOST = '127.0.42.2';
const NS = 'test';
const SERVICE_PORT = 9898;
const AUTHORITY = `podinfo.${NS}.svc.cluster.local:${SERVICE_PORT}`;

/** A logger whose lines land in `lines`, for asserting what an operator sees. */
function capturingLogger(lines: string[], level = 'warn'): Logger {
  return pino({ level }, { write: (line: string) => lines.push(line) });
}

/** The access-log lines ("tunnel", "tunnel refused") among captured log lines. */
function accessLines(lines: string[], msg: string): Array<Record<string, unknown>> {
  return lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.msg === msg);
}

const adminUrl = (gw: RunningGateway, path: string): string =>
  `http://${gw.admin.address.host}:${gw.admin.address.port}${path}`;

/** Collects what a raw socket receives; `until` waits for the n-th occurrence of a text. */
function responseReader(socket: net.Socket): { until(text: string, count: number): Promise<void> } {
  let received = '';
  socket.setEncoding('utf8');
  socket.on('data', (chunk: string) => {
    received += chunk;
  });
  return {
    until: async (text, count) => {
      await waitFor(`${count}× "${text}"`, () => received.split(text).length - 1 >= count, 5_000);
    },
  };
}

/** Serial number of the certificate a TLS server presents to a client holding `client`'s certificate. */
async function servedSerial(host: string, port: number, client: CertFiles): Promise<string> {
  const [cert, key, ca] = await Promise.all(
    [client.certFile, client.keyFile, client.caFile].map((f) => readFile(f, 'utf8')),
  );
  return new Promise((resolve, reject) => {
    const socket = tls.connect({
      host,
      port,
      cert,
      key,
      ca,
      ALPNProtocols: ['h2'],
      // Gateways are verified by chain and SPIFFE ID, not host name (as the session pool does).
      checkServerIdentity: () => undefined,
    });
    socket.setTimeout(5_000, () => socket.destroy(new Error('TLS handshake timed out')));
    socket.once('secureConnect', () => {
      const serial = socket.getPeerX509Certificate()?.serialNumber ?? '';
      socket.destroy();
      resolve(serial);
    });
    socket.once('error', reject);
  });
}

describe('two clusters, one gateway each', () => {
  let east: Cluster;
  let west: Cluster;
  let eastGw: RunningGateway;
  let westGw: RunningGateway;
  let backend: Awaited<ReturnType<typeof startBackend>>;
  let egressPort: number;
  const cleanups: Array<() => unknown> = [];
  const eastLog: string[] = [];
  const westLog: string[] = [];
  const westIngressAddress = () => ({ host: WEST_HOST, port: westGw.ingress.address.port });

  /**
   * East's Link to west removed, for a test about a west that east has no Link to: waits until east
   * has seen it (its /probe refuses west again) and its egress has closed the mirror's listener.
   */
  async function unlinkWest(): Promise<void> {
    const westIngress = `${WEST_HOST}:${westGw.ingress.address.port}`;
    await east.kube.delete(R.links, SYSTEM_NAMESPACE, 'west');
    await waitFor('east to see its Link to west gone', async () => {
      const probe = await fetch(adminUrl(eastGw, `/probe?gateway=${westIngress}&timeoutMs=50`));
      return probe.status === 403;
    });
    await waitFor('east egress closed', () => !eastGw.egress.listening().includes(egressPort));
  }

  /** East's Link to west back (the mirror's routes need it), and its egress listening again. */
  async function relinkWest(): Promise<void> {
    await linkGateway(east.kube, 'west', westIngressAddress());
    await waitFor('east egress listening again', () => eastGw.egress.listening().includes(egressPort));
  }

  beforeAll(async () => {
    // West links back to east (pairwise linking), which is what admits east's gateway at west's ingress.
    ({ east, west } = await startLinkedClusters(EAST_HOST, NS, cleanups));
    backend = await startBackend('west');
    cleanups.push(() => backend.close());

    // West: the exported service with a loopback endpoint.
    await west.kube.create(R.services, exportedService(NS, 'podinfo', SERVICE_PORT));
    await west.kube.create(R.endpointSlices, endpointSlice(NS, 'podinfo', '127.0.0.1', backend.port));
    westGw = await startGateway(
      west,
      'west',
      WEST_HOST,
      { accessLog: true },
      capturingLogger(westLog, 'info'),
    );
    cleanups.push(() => westGw.stop());

    eastGw = await startGateway(
      east,
      'east',
      EAST_HOST,
      { accessLog: true },
      capturingLogger(eastLog, 'info'),
    );
    cleanups.push(() => eastGw.stop());
    egressPort = await freeEgressPort(EAST_HOST);
    // East's Link to west names west's gateway: what east's egress routes the mirror of west to.
    await linkGateway(east.kube, 'west', westIngressAddress());
    await createMirror(
      east.kube,
      mirrorService({
        ns: NS,
        service: 'podinfo',
        cluster: 'west',
        port: SERVICE_PORT,
        egressPort,
        gateway: `${WEST_HOST}:${westGw.ingress.address.port}`,
      }),
    );
    await waitFor('both gateways ready', () => eastGw.readiness().ready && westGw.readiness().ready);
    await waitFor('east egress listening', () => eastGw.egress.listening().includes(egressPort));
  });

  afterAll(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  });

  it('carries a request from east egress to the backend behind west', async () => {
    const res = await httpGet(EAST_HOST, egressPort, '/');
    expect(res).toEqual({ status: 200, body: 'hello from west' });
  });

  it('writes an access-log line for each tunnel on both gateways, and for a refused one', async () => {
    const egressLines = () => accessLines(eastLog, 'tunnel').filter((l) => l.direction === 'egress');
    const ingressLines = () => accessLines(westLog, 'tunnel');
    const before = { egress: egressLines().length, ingress: ingressLines().length };
    expect(await httpGet(EAST_HOST, egressPort, '/')).toMatchObject({ status: 200 });
    await waitFor(
      'both gateways logged the tunnel',
      () => egressLines().length > before.egress && ingressLines().length > before.ingress,
    );
    expect(egressLines().at(-1)).toMatchObject({
      level: 30,
      peer: 'west',
      authority: AUTHORITY,
      client: expect.stringMatching(/^127\.\d+\.\d+\.\d+:\d+$/),
      bytesIn: expect.any(Number),
      bytesOut: expect.any(Number),
      durationMs: expect.any(Number),
      result: 'closed',
    });
    expect(ingressLines().at(-1)).toMatchObject({
      direction: 'ingress',
      peer: 'east',
      authority: AUTHORITY,
      endpoint: `127.0.0.1:${backend.port}`,
      result: 'closed',
    });
    // What one side counted going out, the other counted coming in.
    expect(egressLines().at(-1)!.bytesIn).toBeGreaterThan(0);
    expect(ingressLines().at(-1)!.bytesOut).toBe(egressLines().at(-1)!.bytesIn);

    const westIngress = { host: WEST_HOST, port: westGw.ingress.address.port };
    await expect(eastGw.pool.openTunnel(westIngress, `nothing.${NS}.svc.cluster.local:80`)).rejects.toThrow(
      /403/,
    );
    await waitFor('the refusal in the access log', () =>
      accessLines(westLog, 'tunnel refused').some((l) => l.status === 403 && l.peer === 'east'),
    );
  });

  it('lists its egress listeners on /routes', async () => {
    const body = (await (await fetch(adminUrl(eastGw, '/routes'))).json()) as { routes: unknown[] };
    expect(body.routes).toContainEqual({
      port: egressPort,
      remote: { host: WEST_HOST, port: westGw.ingress.address.port },
      authority: AUTHORITY,
      mirror: expect.stringMatching(new RegExp(`^${NS}/`)),
      cluster: 'west',
    });
    // The ingress-only side has no egress listeners (and no mirror it refused).
    expect(await (await fetch(adminUrl(westGw, '/routes'))).json()).toEqual({ routes: [], refused: [] });
  });

  it('answers /live and /ready, and reports tunnels on /metrics', async () => {
    expect((await fetch(adminUrl(eastGw, '/live'))).status).toBe(200);
    expect((await fetch(adminUrl(eastGw, '/ready'))).status).toBe(200);
    await httpGet(EAST_HOST, egressPort, '/');
    // Each side's counters on its own /metrics (diagnostics channels are process-wide, so in this
    // shared test process both registries see both sides; a real gateway has its own process).
    const eastText = await (await fetch(adminUrl(eastGw, '/metrics'))).text();
    expect(eastText).toMatch(
      /isthmus_tunnel_connections_total\{direction="egress",peer_cluster="west",result="success"\} [1-9]/,
    );
    expect(eastText).toMatch(/isthmus_tunnel_bytes_total\{direction="egress"\} [1-9]/);
    expect(eastText).toMatch(/isthmus_tunnel_connect_duration_ms_count\{direction="egress"\} [1-9]/);
    const text = await (await fetch(adminUrl(westGw, '/metrics'))).text();
    expect(text).toMatch(
      /isthmus_tunnel_connections_total\{direction="ingress",peer_cluster="east",result="success"\} [1-9]/,
    );
    expect(text).toContain('isthmus_tunnel_open{direction="egress"}');
    expect(text).toMatch(/isthmus_tunnel_connect_duration_ms_count\{direction="ingress"\} [1-9]/);
    // Per Service: the mirror's remote Service on egress, the exported Service on ingress.
    const podinfo = (direction: string, peer: string) =>
      new RegExp(
        `isthmus_service_tunnels_total\\{direction="${direction}",peer_cluster="${peer}",namespace="${NS}",service="podinfo",result="success"\\} [1-9]`,
      );
    expect(eastText).toMatch(podinfo('egress', 'west'));
    expect(text).toMatch(podinfo('ingress', 'east'));
    expect(text).toMatch(
      new RegExp(
        `isthmus_service_tunnel_bytes_total\\{direction="ingress",namespace="${NS}",service="podinfo"\\} [1-9]`,
      ),
    );
    // The 403 of the earlier test named a Service that is not exported: never a label value.
    expect(text).not.toMatch(/service="nothing"/);
  });

  it('answers gRPC health SERVING on the admin port', async () => {
    const client = createHealthClient(`${WEST_HOST}:${westGw.admin.address.port}`);
    try {
      expect(await checkHealth(client)).toBe('SERVING');
    } finally {
      client.close();
    }
  });

  it('probes west through the mTLS path once a Link names it: /probe alive', async () => {
    const westIngress = `${WEST_HOST}:${westGw.ingress.address.port}`;
    await unlinkWest();
    try {
      // Asked before east has a Link to west: the answer waits for the Link, within the timeout.
      const asked = fetch(adminUrl(eastGw, `/probe?gateway=${westIngress}&cluster=west&timeoutMs=10000`));
      await east.kube.create(R.links, link('west', WEST_HOST, westGw.ingress.address.port));
      const res = await asked;
      expect(res.status).toBe(200);
      expect(await res.json()).toMatchObject({ alive: true });
      // The Link gone, west is neither probed nor (a later test) admitted at east's ingress.
      await east.kube.delete(R.links, SYSTEM_NAMESPACE, 'west');
      await waitFor('the probe refused again', async () => {
        const again = await fetch(adminUrl(eastGw, `/probe?gateway=${westIngress}&timeoutMs=50`));
        return again.status === 403;
      });
    } finally {
      await relinkWest();
    }
  });

  it('refuses to probe an address no Link names, and never dials it (403)', async () => {
    // A listener that counts connections: /probe must not even open TCP to it.
    let dialled = 0;
    const bait = net.createServer((socket) => {
      dialled++;
      socket.destroy();
    });
    await new Promise<void>((resolve) => bait.listen(0, WEST_SPARE_HOST, resolve));
    const port = (bait.address() as net.AddressInfo).port;
    await east.kube.create(R.links, {
      ...link('north', '127.0.42.9'),
      metadata: { namespace: SYSTEM_NAMESPACE, name: 'north' },
    });
    try {
      const res = await fetch(adminUrl(eastGw, `/probe?gateway=${WEST_SPARE_HOST}:${port}&timeoutMs=200`));
      expect(res.status).toBe(403);
      expect(await res.json()).toMatchObject({
        alive: false,
        refused: true,
        error: expect.stringContaining('/probe dials only linked gateways'),
      });
      // A Link names the address, but for another cluster than the one asked about.
      await east.kube.patch(R.links, SYSTEM_NAMESPACE, 'north', {
        spec: { gatewayAddress: WEST_SPARE_HOST, gatewayPort: port },
      });
      const other = await fetch(
        adminUrl(eastGw, `/probe?gateway=${WEST_SPARE_HOST}:${port}&cluster=west&timeoutMs=200`),
      );
      expect(other.status).toBe(403);
      expect(await other.json()).toMatchObject({
        error: expect.stringContaining('the Link to cluster "west"'),
      });
      expect(dialled).toBe(0);
      // Named for the cluster asked about (north), it is dialled, and found no gateway.
      const named = await fetch(
        adminUrl(eastGw, `/probe?gateway=${WEST_SPARE_HOST}:${port}&cluster=north&timeoutMs=1000`),
      );
      expect(named.status).toBe(503);
      expect(dialled).toBeGreaterThan(0);
    } finally {
      await east.kube.delete(R.links, SYSTEM_NAMESPACE, 'north');
      await new Promise((resolve) => bait.close(resolve));
    }
    // Good probes still work afterwards: the gateway serves.
    const live = await fetch(adminUrl(eastGw, '/live'));
    expect(live.status).toBe(200);
  });

  it('rotates west certificate without dropping an open tunnel', async () => {
    const client = net.connect({ host: EAST_HOST, port: egressPort });
    try {
      const reader = responseReader(client);
      client.write('GET /1 HTTP/1.1\r\nhost: podinfo-west\r\n\r\n');
      await reader.until('hello from west', 1);

      const next = issueGatewayCertificate(testPki().issuers.west, {
        trustDomain: TEST_TRUST_DOMAIN,
        cluster: 'west',
        lifetimeMs: 48 * 3600_000, // outlives the current one, as a renewal does
      });
      await writeFile(west.certs.certFile, next.chainPem);
      await writeFile(west.certs.keyFile, next.keyPem);
      expect(await westGw.renewCertificates()).toBe(true);

      client.write('GET /2 HTTP/1.1\r\nhost: podinfo-west\r\n\r\n');
      await reader.until('hello from west', 2);
      expect(await servedSerial(WEST_HOST, westGw.ingress.address.port, east.certs)).toBe(
        new X509Certificate(next.certPem).serialNumber,
      );
    } finally {
      client.destroy();
    }
  });

  it('refuses a gateway whose cluster is not linked, and says so in metrics and the log', async () => {
    // East has no Link to west, so west's gateway may not open tunnels into east.
    await unlinkWest();
    try {
      const eastIngress = { host: EAST_HOST, port: eastGw.ingress.address.port };
      await expect(westGw.pool.openTunnel(eastIngress, AUTHORITY)).rejects.toThrow();
      await waitFor('the refusal in east log', () => eastLog.some((l) => l.includes('peer gateway refused')));
      const line = eastLog.find((l) => l.includes('peer gateway refused')) ?? '';
      expect(line).toContain('spiffe://cluster.local/cluster/west/gateway');
      // And from where: the operator's first question about a refused peer.
      expect(line).toMatch(/"peer":"127\.0\.0\.1:\d+"/);
      const text = await (await fetch(adminUrl(eastGw, '/metrics'))).text();
      expect(text).toMatch(
        /isthmus_tunnel_connections_total\{direction="ingress",peer_cluster="west",result="unauthorized"\} [1-9]/,
      );
    } finally {
      await relinkWest();
    }
  });

  it("refuses a gateway certificate of a linked cluster signed by another cluster's issuer, both ways", async () => {
    // West's issuer key, stolen, mints east's identity: it chains to the shared anchor all the same.
    const forged = issueGatewayCertificate(testPki().issuers.west, {
      trustDomain: TEST_TRUST_DOMAIN,
      cluster: 'east',
    });
    const forgedContext = { key: forged.keyPem, cert: forged.chainPem, ca: testPki().anchor.certPem };
    const pool = new SessionPool({ secureContext: () => forgedContext, connectTimeoutMs: 2_000 });
    try {
      const westIngress = { host: WEST_HOST, port: westGw.ingress.address.port };
      await expect(pool.openTunnel(westIngress, AUTHORITY)).rejects.toThrow();
      await waitFor('the refusal in west log', () =>
        westLog.some((l) =>
          l.includes(
            'a gateway certificate for cluster \\"east\\" signed by the issuer of cluster \\"west\\"',
          ),
        ),
      );
    } finally {
      await pool.close();
    }
    // The other way: east's pool refuses a server presenting such a certificate (north's, by west's issuer).
    const north = issueGatewayCertificate(testPki().issuers.west, {
      trustDomain: TEST_TRUST_DOMAIN,
      cluster: 'north',
    });
    const server = http2.createSecureServer({
      key: north.keyPem,
      cert: north.chainPem,
      ca: testPki().anchor.certPem,
      ALPNProtocols: ['h2'],
    });
    await new Promise<void>((resolve) => server.listen(0, WEST_SPARE_HOST, resolve));
    try {
      const port = (server.address() as net.AddressInfo).port;
      await expect(eastGw.pool.openTunnel({ host: WEST_SPARE_HOST, port }, AUTHORITY)).rejects.toThrow(
        /a gateway certificate for cluster "north" signed by the issuer of cluster "west"/,
      );
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('refuses CONNECT with 403 once the service is unexported, and serves it again when re-exported', async () => {
    const westIngress = { host: WEST_HOST, port: westGw.ingress.address.port };
    const current = (await west.kube.get<V1Service>(R.services, NS, 'podinfo'))!;
    const labels = { ...current.metadata?.labels };
    delete labels[EXPORTED_LABEL];
    await west.kube.replace(R.services, { ...current, metadata: { ...current.metadata, labels } });
    await waitFor('west to stop serving podinfo', () => westGw.index.size() === 0);
    await expect(eastGw.pool.openTunnel(westIngress, AUTHORITY)).rejects.toMatchObject({
      code: 'TUNNEL_REFUSED',
    });
    await expect(eastGw.pool.openTunnel(westIngress, AUTHORITY)).rejects.toThrow(/403/);
    await expect(httpGet(EAST_HOST, egressPort, '/')).rejects.toThrow();

    await west.kube.patch(
      R.services,
      NS,
      'podinfo',
      { metadata: { labels: { [EXPORTED_LABEL]: 'true' } } },
      'merge',
    );
    await waitFor(
      'podinfo served again',
      async () => (await httpGet(EAST_HOST, egressPort, '/')).status === 200,
    );
  });

  it('flips /ready with the watchers sync', async () => {
    await west.sandbox.faults.goOffline();
    let spare: RunningGateway | undefined;
    try {
      spare = await startGateway(west, 'west', WEST_SPARE_HOST, { accessLog: false });
      const notReady = await fetch(adminUrl(spare, '/ready'));
      expect(notReady.status).toBe(503);
      expect(await notReady.text()).toMatch(/not synced/);
      await west.sandbox.faults.goOnline();
      await waitFor(
        'spare gateway ready',
        async () => (await fetch(adminUrl(spare!, '/ready'))).status === 200,
      );
    } finally {
      await west.sandbox.faults.goOnline();
      await spare?.stop();
    }
  });

  it('closes the egress listener when the mirror is deleted', async () => {
    await east.kube.delete(R.services, NS, 'podinfo-west');
    await waitFor('egress listener closed', () => !eastGw.egress.listening().includes(egressPort));
    expect(await canConnect(EAST_HOST, egressPort)).toBe(false);
  });

  it('reports west dead on /probe once west stops', async () => {
    const westIngress = `${WEST_HOST}:${westGw.ingress.address.port}`;
    // The Link the mirror needed is still there; this test needs it too.
    await linkGateway(east.kube, 'west', westIngressAddress());
    await westGw.stop();
    const res = await fetch(adminUrl(eastGw, `/probe?gateway=${westIngress}&timeoutMs=1000`));
    expect(res.status).toBe(503);
    expect(await res.json()).toMatchObject({ alive: false });
  });
});

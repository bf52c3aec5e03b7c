/**
 * The tunnel loop of the security review (finding 2): an exported Service's hand-written
 * EndpointSlice points at a gateway of this cluster (its egress listener, which tunnels again), so
 * one TCP connection chains tunnels through the gateways without end. The ingress never dials a
 * gateway pod of its cluster: the addresses of the system namespace's gateway Services' slices
 * (decided on slice events, reported once, 503 when nothing else is left), and, at each dial, its
 * own listeners (ingress, admin, every egress port) at whatever local address they answer on.
 */
import type { ClientHttp2Session } from 'node:http2';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { GATEWAY_SERVICE_NAME, SYSTEM_NAMESPACE } from '../kube/keys.js';
import type { V1EndpointSlice, V1Service } from '../kube/types.js';
import { waitFor } from '../wait-for.js';
import { GATEWAY_POD_REFUSAL } from './dial-refusal.js';
import { MemorySource } from './e2e/memory-source.js';
import { EgressListeners } from './egress.js';
import { type Ingress, startIngress } from './ingress.js';
import { resolverFor } from './resolver.js';
import { OWN_LISTENER_REFUSAL, OwnListeners } from './self-dial.js';
import { type RefusedEndpoints, ServiceIndex } from './service-index.js';
import type { SessionPool } from './session-pool.js';
import { echo, startTcpBackend, type TcpBackend } from './test-support/backends.js';
import { ask, type ClientTls, connectTo, h2connect } from './test-support/h2-client.js';
import { authorizeClusters, CLUSTER_DOMAIN, PROBE_PATH } from './test-support/harness.js';
import { makePki, type TestPki } from './test-support/pki.js';
import { freePort } from './test-support/wait.js';
import { feedServiceIndex } from './watch-exports.js';

const exported = (namespace: string, name: string): V1Service => ({
  metadata: { namespace, name, labels: { 'mirror.linkerd.io/exported': 'true' } },
  spec: { ports: [{ name: 'tcp', port: 80 }] },
});
const slice = (
  namespace: string,
  name: string,
  service: string,
  endpoints: { address: string; ready?: boolean }[],
  addressType: 'IPv4' | 'IPv6' = 'IPv4',
): V1EndpointSlice => ({
  addressType,
  metadata: { namespace, name, labels: { 'kubernetes.io/service-name': service } },
  endpoints: endpoints.map((e) => ({ addresses: [e.address], conditions: { ready: e.ready ?? true } })),
  ports: [{ name: 'tcp', port: 20000 }],
});
const target = { kind: 'service', namespace: 'tenant', service: 'loop', port: 80 } as const;

describe("the ServiceIndex refuses this cluster's gateway pods (the gateway Services' slices)", () => {
  function fed() {
    const services = new MemorySource<V1Service>();
    const slices = new MemorySource<V1EndpointSlice>();
    const reports: RefusedEndpoints[] = [];
    const index = new ServiceIndex({ onRefused: (r) => reports.push(r) });
    feedServiceIndex(index, services, slices, { apiServerClusterIPs: [] });
    services.put(exported('tenant', 'loop'));
    return { services, slices, reports, index };
  }

  it('refuses a gateway pod listed in an exported Service slice (its egress port: the loop), 503 when nothing else is left', () => {
    const { slices, reports, index } = fed();
    slices.put(
      slice(SYSTEM_NAMESPACE, 'isthmus-gateway-abcde', GATEWAY_SERVICE_NAME, [{ address: '10.244.0.5' }]),
    );
    slices.put(slice('tenant', 'loop-x', 'loop', [{ address: '10.244.0.5' }]));
    expect(index.resolve(target)).toMatchObject({ ok: false, status: 503 });
    expect(reports).toEqual([
      {
        namespace: 'tenant',
        service: 'loop',
        slice: 'loop-x',
        refused: [{ address: '10.244.0.5', reason: GATEWAY_POD_REFUSAL }],
      },
    ]);
    // Another endpoint of the slice is still dialled.
    slices.put(slice('tenant', 'loop-x', 'loop', [{ address: '10.244.0.5' }, { address: '10.244.1.7' }]));
    expect(index.resolve(target)).toEqual({ ok: true, candidates: [{ host: '10.244.1.7', port: 20000 }] });
  });

  it('refuses every gateway pod: not ready (draining) ones, other replicas, the admin Service, NAT64 forms', () => {
    const { slices, index } = fed();
    slices.put(
      slice(SYSTEM_NAMESPACE, 'isthmus-gateway-abcde', GATEWAY_SERVICE_NAME, [
        { address: '10.244.0.5' },
        { address: '10.244.2.9', ready: false },
      ]),
    );
    slices.put(
      slice(SYSTEM_NAMESPACE, 'isthmus-gateway-admin-xyz', `${GATEWAY_SERVICE_NAME}-admin`, [
        { address: '10.244.3.3' },
      ]),
    );
    slices.put(
      slice(
        SYSTEM_NAMESPACE,
        'isthmus-gateway-v6',
        GATEWAY_SERVICE_NAME,
        [{ address: 'fd00:10:244::5' }],
        'IPv6',
      ),
    );
    slices.put(
      slice(
        'tenant',
        'loop-v6',
        'loop',
        // The pod's IPv6 address spelt otherwise, and its IPv4 one through NAT64.
        [{ address: 'FD00:10:244:0::5' }, { address: '64:ff9b::af4:5' }],
        'IPv6',
      ),
    );
    slices.put(
      slice('tenant', 'loop-x', 'loop', [
        { address: '10.244.2.9' },
        { address: '10.244.3.3' },
        { address: '10.244.0.5' },
      ]),
    );
    expect(index.resolve(target)).toMatchObject({ ok: false, status: 503 });
  });

  it("follows the gateway Services' slices: an address no gateway pod holds any more is a pod's like any other", () => {
    const { slices, reports, index } = fed();
    const gateway = slice(SYSTEM_NAMESPACE, 'isthmus-gateway-abcde', GATEWAY_SERVICE_NAME, [
      { address: '10.244.0.5' },
    ]);
    slices.put(gateway);
    slices.put(slice('tenant', 'loop-x', 'loop', [{ address: '10.244.0.5' }]));
    expect(index.resolve(target)).toMatchObject({ ok: false, status: 503 });
    slices.remove(gateway);
    expect(index.resolve(target)).toEqual({ ok: true, candidates: [{ host: '10.244.0.5', port: 20000 }] });
    // Listed again (a new gateway pod got the IP): refused again, and reported once more.
    slices.put(gateway);
    expect(index.resolve(target)).toMatchObject({ ok: false, status: 503 });
    expect(reports).toHaveLength(2);
  });

  it('only the gateway Services of the system namespace count', () => {
    const { slices, index } = fed();
    slices.put(slice('tenant', 'isthmus-gateway-abcde', GATEWAY_SERVICE_NAME, [{ address: '10.244.0.5' }]));
    slices.put(
      slice(SYSTEM_NAMESPACE, 'isthmus-identity-abcde', 'isthmus-identity', [{ address: '10.244.1.7' }]),
    );
    slices.put(slice('tenant', 'loop-x', 'loop', [{ address: '10.244.0.5' }, { address: '10.244.1.7' }]));
    expect(index.resolve(target)).toMatchObject({ ok: true, candidates: { length: 2 } });
  });

  it('the gateway slices listed first refuse from the start (no endpoint admitted, then refused)', () => {
    const services = new MemorySource<V1Service>();
    const slices = new MemorySource<V1EndpointSlice>();
    services.put(exported('tenant', 'loop'));
    slices.put(slice('tenant', 'loop-x', 'loop', [{ address: '10.244.0.5' }]));
    slices.put(
      slice(SYSTEM_NAMESPACE, 'isthmus-gateway-abcde', GATEWAY_SERVICE_NAME, [{ address: '10.244.0.5' }]),
    );
    const reports: RefusedEndpoints[] = [];
    const index = new ServiceIndex({ onRefused: (r) => reports.push(r) });
    feedServiceIndex(index, services, slices, { apiServerClusterIPs: [] });
    expect(index.resolve(target)).toMatchObject({ ok: false, status: 503 });
    expect(reports).toHaveLength(1);
  });
});

describe("the ingress never dials this gateway's own listeners", () => {
  const HOST = '127.0.0.1';
  let pki: TestPki;
  let east: ClientTls;
  let backend: TcpBackend;
  let ingress: Ingress;
  let egress: EgressListeners;
  const cleanups: Array<() => unknown> = [];

  beforeAll(async () => {
    pki = makePki();
    east = pki.gateway('east');
    backend = await startTcpBackend(echo, HOST);
  });
  afterAll(async () => {
    await backend.close();
  });
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  /**
   * West's gateway: its ingress and its egress listeners on one address, wired as run-gateway wires
   * them; the egress's pool only counts what would have been tunnelled.
   */
  async function gateway(): Promise<{
    index: ServiceIndex;
    egressPort: number;
    tunnelled: string[];
    refused: { endpoint: string; reason: string }[];
  }> {
    const index = new ServiceIndex();
    const tunnelled: string[] = [];
    const pool = {
      tunnel: (_gateway: unknown, authority: string, cb: (err: Error) => void) => {
        tunnelled.push(authority);
        cb(new Error('no remote in this test'));
      },
    } as unknown as Pick<SessionPool, 'tunnel'>;
    egress = new EgressListeners({ host: HOST, pool });
    cleanups.push(() => egress.close());
    const refused: { endpoint: string; reason: string }[] = [];
    const own = new OwnListeners({ onRefused: (endpoint, reason) => refused.push({ endpoint, reason }) });
    ingress = await startIngress({
      host: HOST,
      port: 0,
      secureContext: pki.gateway('west'),
      authorizePeer: authorizeClusters(['east']),
      resolve: resolverFor(index, CLUSTER_DOMAIN),
      probe: { path: PROBE_PATH, isReady: () => true },
      limits: { handshakeTimeoutMs: 10_000 },
      refuseDial: (endpoint) => own.refusal(endpoint.host, endpoint.port),
    });
    cleanups.push(() => ingress.close());
    own.add(ingress.address.host, (port) => port === ingress.address.port);
    own.add(HOST, (port) => egress.listens(port));
    const egressPort = await freePort(HOST);
    await egress.apply([
      {
        port: egressPort,
        remote: { host: '127.0.0.1', port: 1 },
        authority: `loop.tenant.svc.${CLUSTER_DOMAIN}:80`,
        mirror: 'tenant/loop-east',
        cluster: 'east',
      },
    ]);
    return { index, egressPort, tunnelled, refused };
  }

  function exportLoop(index: ServiceIndex, ports: number[]): void {
    index.upsertService({
      namespace: 'tenant',
      name: 'loop',
      headless: false,
      ports: [{ name: 'tcp', port: 80 }],
    });
    index.setSliceEndpoints(
      'tenant',
      'loop',
      'loop-x',
      ports.map((p) => ({ address: HOST, ready: true, ports: [{ name: 'tcp', port: p }] })),
    );
  }

  function client(): ClientHttp2Session {
    const s = h2connect(ingress.address, east);
    cleanups.push(() => s.destroy());
    return s;
  }

  it("refuses an endpoint at the gateway's own egress listener (502); no egress connection is made; reported once", async () => {
    const { index, egressPort, tunnelled, refused } = await gateway();
    exportLoop(index, [egressPort]);
    const s = client();
    for (let i = 0; i < 2; i++) {
      expect(await ask(s, connectTo(`loop.tenant.svc.${CLUSTER_DOMAIN}:80`))).toEqual({
        status: 502,
        body: '',
      });
    }
    expect(tunnelled).toEqual([]);
    expect(egress.connections()).toBe(0);
    expect(ingress.activeTunnels()).toBe(0);
    expect(refused).toEqual([{ endpoint: `${HOST}:${egressPort}`, reason: expect.stringMatching(/own/) }]);
  });

  it('refuses its own ingress port too, and still dials a backend on the same address', async () => {
    const { index, egressPort, tunnelled } = await gateway();
    exportLoop(index, [egressPort, ingress.address.port, backend.port]);
    const s = client();
    const before = backend.accepted;
    // Whichever endpoint P2C picks first, the backend is the one dialled.
    for (let i = 0; i < 3; i++) {
      const answer = await ask(s, connectTo(`loop.tenant.svc.${CLUSTER_DOMAIN}:80`));
      expect(answer).toEqual({ status: 200, body: '' });
    }
    await waitFor('three tunnels to reach the backend', () => backend.accepted === before + 3);
    expect(tunnelled).toEqual([]);
    expect(egress.connections()).toBe(0);
  });
});

describe('OwnListeners', () => {
  const own = (host: string, ports: number[]) => {
    const refused: string[] = [];
    const o = new OwnListeners({
      onRefused: (endpoint) => refused.push(endpoint),
      localAddresses: () => ['10.244.0.5', 'fd00:10:244::5', 'fe80::1%eth0', '127.0.0.1'],
    });
    o.add(host, (p) => ports.includes(p));
    return { o, refused };
  };

  it.each<[string, string, string, number, boolean]>([
    ['every address (IPv6 wildcard): the pod IP', '::', '10.244.0.5', 4143, true],
    ['every address: the pod IP, IPv4-mapped', '::', '::ffff:10.244.0.5', 4143, true],
    ['every address: the IPv6 pod IP, spelt otherwise', '::', 'FD00:10:244:0::5', 4143, true],
    ['every address: any loopback address', '0.0.0.0', '127.0.0.2', 4143, true],
    ['every address: the unspecified address', '::', '0.0.0.0', 4143, true],
    ['every address: a link-local interface address', '::', 'fe80::1', 4143, true],
    ['every address: another pod, same port', '::', '10.244.0.6', 4143, false],
    ['every address: the pod IP, another port', '::', '10.244.0.5', 8080, false],
    ['a name: taken as every address', 'localhost', '10.244.0.5', 4143, true],
    ['one address: it', '127.0.150.2', '127.0.150.2', 4143, true],
    [
      'one address: another loopback address (the lab: a backend)',
      '127.0.150.2',
      '127.0.150.10',
      4143,
      false,
    ],
    ['one address: the pod IP, not bound', '127.0.150.2', '10.244.0.5', 4143, false],
  ])('%s: %s listening, %s:%i → %s', (_what, host, address, port, refused) => {
    const { o } = own(host, [4143]);
    expect(o.refusal(address, port)).toBe(refused ? OWN_LISTENER_REFUSAL : null);
  });

  it('reports each endpoint once', () => {
    const { o, refused } = own('::', [4143, 20000]);
    o.refusal('10.244.0.5', 20000);
    o.refusal('10.244.0.5', 20000);
    o.refusal('127.0.0.1', 20000);
    expect(refused).toEqual(['10.244.0.5:20000', '127.0.0.1:20000']);
  });

  it('follows the ports a face listens on (egress listeners come and go)', () => {
    const ports = new Set<number>();
    const o = new OwnListeners({ localAddresses: () => [] });
    o.add('127.0.0.1', (p) => ports.has(p));
    expect(o.refusal('127.0.0.1', 20000)).toBeNull();
    ports.add(20000);
    expect(o.refusal('127.0.0.1', 20000)).toBe(OWN_LISTENER_REFUSAL);
    ports.delete(20000);
    expect(o.refusal('127.0.0.1', 20000)).toBeNull();
  });
});

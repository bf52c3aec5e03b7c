/**
 * A tunnel pair on loopback for the data-path tests: an ingress ("west") over an in-memory service
 * index, a session pool and egress listeners ("east"). The peer policy is a small stand-in for the
 * colleague's peers.ts: gateway identities of the allowed clusters only.
 */
import { EgressListeners, type EgressRoute } from '../egress.js';
import { type Ingress, type IngressOptions, startIngress } from '../ingress.js';
import { resolverFor } from '../resolver.js';
import { type EndpointView, ServiceIndex } from '../service-index.js';
import { SessionPool, type SessionPoolOptions } from '../session-pool.js';
import type { TunnelSecureContext } from '../tunnel-settings.js';
import { type TestPki, TRUST_DOMAIN } from './pki.js';
import { freePort } from './wait.js';

export const CLUSTER_DOMAIN = 'cluster.local';
export const PROBE_PATH = '/ready';

export function authorizeClusters(allowed: string[]): IngressOptions['authorizePeer'] {
  return (identity) => {
    const m =
      identity === undefined ? null : /^spiffe:\/\/([^/]+)\/cluster\/([^/]+)\/gateway$/.exec(identity);
    if (!m || m[1] !== TRUST_DOMAIN)
      return { ok: false, reason: `not a gateway identity: ${identity ?? '(none)'}` };
    const cluster = m[2]!;
    return allowed.includes(cluster)
      ? { ok: true, cluster }
      : { ok: false, reason: `cluster ${cluster} not linked` };
  };
}

export interface Harness {
  index: ServiceIndex;
  ingress: Ingress;
  pool: SessionPool;
  egress: EgressListeners;
  ready: { value: boolean };
  /** Exports `<name>.<ns>` on `port` with one ready endpoint per backend port (port name `tcp`). */
  exportService(ns: string, name: string, port: number, backendPorts: number[]): void;
  /** Opens an egress listener for `<name>.<ns>.svc.cluster.local:<port>`; returns the local port. */
  route(ns: string, name: string, port: number): Promise<number>;
  close(): Promise<void>;
}

export async function startHarness(
  pki: TestPki,
  opts: {
    limits?: IngressOptions['limits'];
    pool?: Partial<SessionPoolOptions>;
    ingressContext?: TunnelSecureContext;
    allowed?: string[];
    /** Instead of admitting `allowed` by identity alone. */
    authorizePeer?: IngressOptions['authorizePeer'];
    /** EgressListeners' option of that name. */
    clientAddresses?: boolean;
    /**
     * The loopback address of both gateway faces and of the backends `exportService` names (default
     * 127.0.0.1): a test file that owns an address range keeps to it.
     */
    host?: string;
  } = {},
): Promise<Harness> {
  const host = opts.host ?? '127.0.0.1';
  const index = new ServiceIndex();
  const ready = { value: true };
  const ingress = await startIngress({
    host,
    port: 0,
    secureContext: opts.ingressContext ?? pki.gateway('west'),
    authorizePeer: opts.authorizePeer ?? authorizeClusters(opts.allowed ?? ['east']),
    resolve: resolverFor(index, CLUSTER_DOMAIN),
    probe: { path: PROBE_PATH, isReady: () => ready.value },
    ...(opts.limits ? { limits: opts.limits } : {}),
  });
  const eastContext = pki.gateway('east');
  const pool = new SessionPool({ secureContext: () => eastContext, ...opts.pool });
  const egress = new EgressListeners({
    host,
    pool,
    clientAddresses: opts.clientAddresses ?? false,
  });
  const routes: EgressRoute[] = [];
  return {
    index,
    ingress,
    pool,
    egress,
    ready,
    exportService(ns, name, port, backendPorts) {
      index.upsertService({ namespace: ns, name, headless: false, ports: [{ name: 'tcp', port }] });
      const endpoints: EndpointView[] = backendPorts.map((p) => ({
        address: host,
        ready: true,
        ports: [{ name: 'tcp', port: p }],
      }));
      index.setSliceEndpoints(ns, name, `${name}-slice`, endpoints);
    },
    async route(ns, name, port) {
      const local = await freePort(host);
      routes.push({
        port: local,
        remote: ingress.address,
        authority: `${name}.${ns}.svc.${CLUSTER_DOMAIN}:${port}`,
        // The harness's ingress holds west's gateway certificate (ingressContext may change that).
        cluster: 'west',
        mirror: `${ns}/${name}-west`,
      });
      await egress.apply([...routes]);
      return local;
    },
    async close() {
      await egress.close();
      await pool.close();
      await ingress.close();
    },
  };
}

/**
 * West's ingress on 127.0.0.1 admitting east, in front of one exported Service `test/echo` (port
 * 7000, name `tcp`) whose one ready endpoint is 127.0.0.1:`backendPort`. Its handshake timeout is a
 * generous 10 s unless `limits` says otherwise: every test does real mTLS handshakes, which a
 * loaded CI machine can stall for more than a second.
 */
export async function startEchoIngress(
  pki: TestPki,
  backendPort: number,
  opts: { isReady?: () => boolean; limits?: IngressOptions['limits']; extra?: Partial<IngressOptions> } = {},
): Promise<{ ingress: Ingress; index: ServiceIndex }> {
  const index = new ServiceIndex();
  index.upsertService({
    namespace: 'test',
    name: 'echo',
    headless: false,
    ports: [{ name: 'tcp', port: 7000 }],
  });
  index.setSliceEndpoints('test', 'echo', 's', [
    { address: '127.0.0.1', ready: true, ports: [{ name: 'tcp', port: backendPort }] },
  ]);
  const ingress = await startIngress({
    host: '127.0.0.1',
    port: 0,
    secureContext: pki.gateway('west'),
    authorizePeer: authorizeClusters(['east']),
    resolve: resolverFor(index, CLUSTER_DOMAIN),
    probe: { path: PROBE_PATH, isReady: opts.isReady ?? (() => true) },
    limits: { handshakeTimeoutMs: 10_000, ...opts.limits },
    ...opts.extra,
  });
  return { ingress, index };
}

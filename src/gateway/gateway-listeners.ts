/**
 * The gateway's two listeners that answer peers and operators: the admin port (first of all, so
 * `/live` answers and `/ready` explains what is missing while certificates are fetched) and the
 * ingress (once the certificate is loaded), which never dials its own listeners.
 */
import { type AdminServer, presentedCertificate, startAdmin } from './admin.js';
import { onSessionExpired } from './certificate-expiry.js';
import type { EgressListeners } from './egress.js';
import type { GatewayCertificates } from './gateway-certificates.js';
import type { GatewayContext } from './gateway-context.js';
import type { GatewayInformers } from './gateway-informers.js';
import { cannotProbe, certificateProblem, type ReadinessState, readinessOf } from './gateway-readiness.js';
import { type Ingress, startIngress } from './ingress.js';
import { linkedClusters, PeerPolicy } from './peers.js';
import { linkedGatewaysOnly } from './probe-targets.js';
import { resolverFor } from './resolver.js';
import { OwnListeners } from './self-dial.js';
import type { ServiceIndex } from './service-index.js';
import type { SessionPool } from './session-pool.js';
import type { MirrorWatcher } from './watch-mirrors.js';

/** The path a remote gateway's probe asks for (Link `probeSpec.path` default). */
export const PROBE_PATH = '/ready';

/** Parts that start after the admin port, which answers for them (absent: not started yet). */
export interface LaterParts {
  certificates?: GatewayCertificates;
  pool?: SessionPool;
  egress?: EgressListeners;
  mirrors?: MirrorWatcher;
}

/** The admin port: readiness, metrics, probes of linked gateways, the egress routes, the certificate. */
export async function startAdminPort(
  ctx: GatewayContext,
  informers: GatewayInformers,
  state: ReadinessState,
  later: LaterParts,
): Promise<AdminServer> {
  const { config, log, metrics, stops } = ctx;
  const linkedProbe = linkedGatewaysOnly(informers.links, (gateway, path, timeoutMs, cluster) =>
    later.pool === undefined
      ? cannotProbe('certificates not loaded')
      : later.pool.probe(gateway, path, timeoutMs, cluster),
  );
  const admin = await startAdmin({
    host: config.admin.host,
    port: config.admin.port,
    readiness: () => readinessOf(state, informers),
    metrics: () => metrics.render(),
    // Without a certificate a peer takes (none, expired, or one the CRL every peer loads revokes),
    // every remote would look dead, refusing it: say the failure is ours (`local`).
    probe: (gateway, path, timeoutMs, cluster) => {
      const unable = certificateProblem(state);
      return unable === undefined ? linkedProbe(gateway, path, timeoutMs, cluster) : cannotProbe(unable);
    },
    routes: () => later.egress?.routes() ?? [],
    refused: () => later.mirrors?.refused() ?? [],
    // The context new handshakes take, the one rotation last swapped in: never its key.
    certificate: () => later.certificates && presentedCertificate(later.certificates.secureContext().cert),
  });
  stops.add('admin server', () => admin.close());
  log.info({ address: admin.address }, 'admin listening');
  return admin;
}

export interface IngressParts {
  informers: GatewayInformers;
  state: ReadinessState;
  index: ServiceIndex;
  certificates: GatewayCertificates;
  pool: SessionPool;
  admin: AdminServer;
  later: LaterParts;
}

/**
 * The ingress: peers of linked clusters (PeerPolicy) with a certificate the CRL does not revoke,
 * tunnels to what the ServiceIndex resolves, never to this process's own listeners. An unlink
 * cuts the sessions of the clusters no longer linked, both ways.
 */
export async function startGatewayIngress(ctx: GatewayContext, parts: IngressParts): Promise<Ingress> {
  const { config, log, stops } = ctx;
  const { informers, state, index, certificates, pool, admin, later } = parts;
  const policy = new PeerPolicy(informers.links, config.allowedClusters, config.trustDomain);
  // Never dialled, whatever a slice lists: this process's own listeners (a tunnel loop).
  const own = new OwnListeners({
    onRefused: (endpoint, reason) => log.warn({ endpoint, reason }, 'endpoint refused: never dialled'),
  });
  const ingress = await startIngress({
    host: config.ingress.host,
    port: config.ingress.port,
    secureContext: certificates.secureContext(),
    authorizePeer: (identity, cert, issuer) => {
      const reason = cert && certificates.revoked(cert, issuer);
      return reason ? { ok: false, reason } : policy.authorize(identity);
    },
    resolve: resolverFor(index, config.clusterDomain),
    // The path still works while draining: a remote's probe must not call this cluster dead for it.
    probe: { path: PROBE_PATH, isReady: () => readinessOf({ ...state, draining: false }, informers).ready },
    refuseDial: (endpoint) => own.refusal(endpoint.host, endpoint.port),
    // Each admitted cluster shares --max-tunnels even before it connects; re-read at each Link
    // event (ingress.revalidate below). What the policy admits: not a retargeted Link's old cluster.
    admittedPeers: () => policy.allowed(),
    onTunnelLimit: (e) =>
      e.reached
        ? log.warn({ limit: e.limit }, 'tunnel limit reached: new tunnels refused (503) until some end')
        : log.info({ limit: e.limit, refused: e.refused }, 'tunnel limit: admitting tunnels again'),
    onHandshakeLimit: (e) =>
      e.reached
        ? log.warn(
            { limit: e.limit },
            'TLS handshake limit reached: new connections closed on arrival until handshakes finish (a connection flood?)',
          )
        : log.info({ limit: e.limit, closed: e.refused }, 'TLS handshake limit: accepting connections again'),
    limits: {
      connectTimeoutMs: config.limits.connectTimeoutMs,
      maxTunnels: config.limits.maxTunnels,
      maxSessionsPerPeer: config.limits.maxSessionsPerPeer,
      maxSessions: config.limits.maxSessions,
      streamWindowBytes: config.limits.ingressStreamWindowBytes,
      ...(config.limits.tunnelIdleTimeoutMs > 0
        ? { tunnelIdleTimeoutMs: config.limits.tunnelIdleTimeoutMs }
        : {}),
      idleSessionTimeoutMs: config.limits.idleSessionTimeoutMs,
    },
  });
  own.add(ingress.address.host, (port) => port === ingress.address.port);
  own.add(admin.address.host, (port) => port === admin.address.port);
  own.add(config.egressHost, (port) => later.egress?.listens(port) === true);
  stops.add('ingress', () => ingress.close());
  // Routine (each session of a peer reaches its certificate's notAfter after the peer rotates):
  // info, not the warn of a refused peer.
  stops.add(
    'session expiry log',
    onSessionExpired((m) =>
      log.info(
        { cluster: m.peerCluster, identity: m.identity, peer: m.peer },
        "peer gateway session reached its certificate's notAfter: GOAWAY, its open tunnels finish",
      ),
    ),
  );
  log.info({ address: ingress.address }, 'ingress listening');
  // An unlink (a Link deleted or retargeted) withdraws the admission now: sessions of clusters no
  // longer admitted are cut, not left to open tunnels for as long as keepalives hold them open.
  // Our own sessions to such a cluster's gateway go too, and the pool opens none there until a
  // Link names the cluster again: its mirrors and probes went with the Link. The ingress needs no
  // more: it admits each session at its handshake by the Links as listed then.
  const followLinks = (): void => {
    const cut = ingress.revalidate();
    if (cut > 0) log.warn({ sessions: cut }, 'cut the sessions of clusters no longer linked');
    const dropped = pool.cutUnlinked(linkedClusters(informers.links.list()));
    if (dropped > 0)
      log.warn({ sessions: dropped }, 'cut the sessions to gateways of clusters no longer linked');
  };
  stops.add(
    'link policy',
    informers.links.onEvent(() => {
      if (informers.links.hasSynced()) followLinks();
    }),
  );
  // The pool refuses nothing until told which clusters are linked. The Links may have been listed
  // before this (the informers start before the certificates load), and none at all sends no
  // event: it is told at the sync too, before the egress's first apply (a debounce later).
  informers.links.synced.then(followLinks, () => {});
  return ingress;
}

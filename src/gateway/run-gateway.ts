/**
 * Assembles a gateway from its parts: certificates (with rotation), the watchers of its own
 * cluster, the ingress, the egress listeners and the admin port. Startup order follows what each
 * part needs: the admin port first (so `/live` answers and `/ready` explains what is missing while
 * certificates are fetched), then certificates, then everything that speaks TLS. `stop()` closes in
 * reverse order and leaves no socket, timer or watch behind.
 */

import diagnosticsChannel from 'node:diagnostics_channel';
import { readFile } from 'node:fs/promises';
import { setTimeout as delay } from 'node:timers/promises';
import { type Logger, pino } from 'pino';
import { describeError } from '../errors.js';
import { parseCertificate } from '../identity/certificate-info.js';
import {
  CertificateRotator,
  certifySource,
  fileSource,
  type CertificateSource as RotatorSource,
  type TlsMaterial,
} from '../identity/rotation.js';
import { identityServiceId } from '../identity/spiffe.js';
import { KubeClient } from '../kube/client.js';
import { createInformer, type Informer } from '../kube/informer.js';
import {
  gatewayIdentity,
  MANAGED_BY_LABEL,
  MANAGED_BY_MIRROR,
  MIRRORED_SERVICE_LABEL,
  REMOTE_DISCOVERY_LABEL,
} from '../kube/keys.js';
import { R } from '../kube/resources.js';
import type { Link, V1EndpointSlice, V1Service } from '../kube/types.js';
import { type AdminServer, type ProbeResult, type Readiness, startAdmin } from './admin.js';
import type { GatewayConfig } from './config.js';
import { type CrlWatcher, type HandshakeRefusal, handshakeRefusal, watchCrlFile } from './crl-watch.js';
import { CHANNELS, type TunnelCloseMessage } from './diagnostics.js';
import { EgressListeners } from './egress.js';
import { type Ingress, startIngress } from './ingress.js';
import { createGatewayMetrics, type GatewayMetrics } from './metrics.js';
import { followOwnRevocation, gatewayCertificateCheck, refusalOf } from './own-certificate-revocation.js';
import { gatewayClusterOf, linkedClusters, PeerPolicy } from './peers.js';
import { PodIPBook } from './pod-ips.js';
import { linkedGatewaysOnly } from './probe-targets.js';
import { logRefusals } from './refusal-log.js';
import { resolverFor } from './resolver.js';
import { OwnListeners } from './self-dial.js';
import { ServiceIndex } from './service-index.js';
import { SessionPool } from './session-pool.js';
import type { TunnelSecureContext } from './tunnel-settings.js';
import { unionSource } from './union-source.js';
import { feedServiceIndex, GATEWAY_SERVICES, SLICE_SELECTOR } from './watch-exports.js';
import {
  lastingRefusals,
  type MirrorWatcher,
  UNVOUCHED_LOG_AFTER_MS,
  watchMirrors,
} from './watch-mirrors.js';
import { createPodInformer, feedPodIPs, podListRefusal } from './watch-pods.js';

/** The path a remote gateway's probe asks for (Link `probeSpec.path` default). */
const PROBE_PATH = '/ready';

export interface RunGatewayDeps {
  /** An API client to use instead of one built from `config.kube` (tests, the embedded lab). */
  kube?: KubeClient;
  logger?: Logger;
  /** Process metrics on /metrics (default true; tests running many gateways turn them off). */
  processMetrics?: boolean;
  /** Aborting before startup completes stops what was started and rejects. */
  signal?: AbortSignal;
  /** How often the CRL file is looked at (default 10 s: kubelet updates a mount no faster); tests shorten it. */
  crlIntervalMs?: number;
}

export interface RunningGateway {
  readonly ingress: Ingress;
  readonly admin: AdminServer;
  readonly egress: EgressListeners;
  readonly pool: SessionPool;
  readonly index: ServiceIndex;
  readonly metrics: GatewayMetrics;
  readiness(): Readiness;
  /**
   * Fetches a certificate now (SIGHUP after replacing --cert-file/--key-file); resolves true when a
   * new one is in use. Established sessions keep theirs; new handshakes use the new one.
   */
  renewCertificates(): Promise<boolean>;
  /**
   * The graceful stop of a SIGTERM (config.shutdown): /ready turns 503 at once, so the gateway
   * leaves its Service's endpoints and the mirrors' EndpointSlices, while it keeps serving for the
   * drain delay (load balancers and kube-proxy catch up). Then it stops accepting on both sides and
   * sends GOAWAY to remote pools, whose next tunnels go to another replica; tunnels in flight have
   * until the grace period ends, then the rest are cut, and everything is stopped. Safe to call more
   * than once.
   */
  shutdown(): Promise<void>;
  /** Closes everything at once; safe to call more than once. */
  stop(): Promise<void>;
}

export async function runGateway(config: GatewayConfig, deps: RunGatewayDeps = {}): Promise<RunningGateway> {
  const log = deps.logger ?? pino({ name: 'isthmus-gateway' });
  const closers: Array<{ what: string; close: () => unknown }> = [];
  const onStop = (what: string, close: () => unknown): void => {
    closers.push({ what, close });
  };
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      for (const { what, close } of closers.reverse()) {
        try {
          await close();
        } catch (err) {
          log.warn({ err: describeError(err) }, `closing ${what} failed`);
        }
      }
    })();
    return stopping;
  };

  try {
    const metrics = createGatewayMetrics({
      processMetrics: deps.processMetrics ?? true,
      trustDomain: config.trustDomain,
    });
    onStop('metrics', () => metrics.close());
    onStop('diagnostics log', logRefusals(log, config.accessLog));
    if (config.accessLog) onStop('access log', logTunnels(log));

    const kube = deps.kube ?? kubeClientFor(config);
    if (deps.kube === undefined) onStop('API client', () => kube.close());

    // Federated members are admitted like exported Services; '' turns that off (no informer at all).
    const federated =
      config.federatedSelector === ''
        ? undefined
        : createInformer<V1Service>(kube, R.services, { labelSelector: config.federatedSelector });
    // --dial-pod-ips-only: every Pod of the cluster (trimmed to its phase and IPs); none otherwise.
    const pods = config.dialPodIPsOnly ? createPodInformer(kube) : undefined;
    const informers = {
      exports: createInformer<V1Service>(kube, R.services, { labelSelector: config.exportSelector }),
      ...(federated === undefined ? {} : { federated }),
      slices: createInformer<V1EndpointSlice>(kube, R.endpointSlices, { labelSelector: SLICE_SELECTOR }),
      // Remote-discovery mirrors point at remote pods directly: no egress listener to open.
      mirrors: createInformer<V1Service>(kube, R.services, {
        labelSelector: `${MIRRORED_SERVICE_LABEL}=true,!${REMOTE_DISCOVERY_LABEL}`,
      }),
      // The mirror controller's slices: what vouches for a mirror's egress ports (admitRoutes).
      mirrorSlices: createInformer<V1EndpointSlice>(kube, R.endpointSlices, {
        labelSelector: `${MANAGED_BY_LABEL}=${MANAGED_BY_MIRROR}`,
      }),
      links: createInformer<Link>(kube, R.links, { namespace: config.systemNamespace }),
      ...(pods === undefined ? {} : { pods }),
    };
    const state: ReadinessState = { certificates: false, egressApplied: false, draining: false };
    const readiness = (): Readiness => readinessOf(state, informers);

    let pool: SessionPool | undefined;
    let egressListeners: EgressListeners | undefined;
    let mirrorRoutes: MirrorWatcher | undefined;
    const linkedProbe = linkedGatewaysOnly(informers.links, (gateway, path, timeoutMs, cluster) =>
      pool === undefined
        ? cannotProbe('certificates not loaded')
        : pool.probe(gateway, path, timeoutMs, cluster),
    );
    const admin = await startAdmin({
      host: config.admin.host,
      port: config.admin.port,
      readiness,
      metrics: () => metrics.render(),
      // Without a certificate a peer takes (none, expired, or one the CRL every peer loads revokes),
      // every remote would look dead, refusing it: say the failure is ours (`local`).
      probe: (gateway, path, timeoutMs, cluster) => {
        const unable = certificateProblem(state);
        return unable === undefined ? linkedProbe(gateway, path, timeoutMs, cluster) : cannotProbe(unable);
      },
      routes: () => egressListeners?.routes() ?? [],
      refused: () => mirrorRoutes?.refused() ?? [],
    });
    onStop('admin server', () => admin.close());
    log.info({ address: admin.address }, 'admin listening');

    // Before the informers start: a 403 on the first list must reach the log and /ready.
    pods?.onHealth((h) => {
      const refusal = h.connected ? undefined : podListRefusal(h.lastError);
      if (refusal !== undefined && refusal !== state.podListRefused) log.error(refusal);
      state.podListRefused = refusal;
    });
    for (const [name, informer] of Object.entries(informers)) {
      informer.onHealth((h) => {
        if (!h.connected)
          log.warn({ informer: name, err: describeError(h.lastError) }, 'watch failing; serving from cache');
        admin.refresh();
      });
      informer.synced.then(() => admin.refresh()).catch(() => {});
      informer.start();
      onStop(`${name} informer`, () => informer.stop());
    }

    const podIPs = pods === undefined ? undefined : new PodIPBook();
    const index = new ServiceIndex({
      // Once per slice change: an exported Service's slice lists an address never dialled.
      onRefused: (r) =>
        log.warn(
          { service: `${r.namespace}/${r.service}`, slice: r.slice, refused: r.refused },
          'endpoints refused: never dialled',
        ),
      ...(podIPs === undefined ? {} : { podIPs }),
    });
    if (pods !== undefined && podIPs !== undefined)
      onStop('pod IP feed', feedPodIPs(index, podIPs, pods, pods.synced));
    const admitted = federated === undefined ? informers.exports : unionSource(informers.exports, federated);
    onStop(
      'service index feed',
      feedServiceIndex(index, admitted, informers.slices, {
        gatewayServices: { namespace: config.systemNamespace, names: GATEWAY_SERVICES.names },
      }),
    );

    const anchorPem = await readFile(config.certificates.caFile, 'utf8');
    // Revocation: refused at each handshake, both ways; a CRL update also cuts open sessions.
    let revalidate = (): number => 0;
    let checkOwnCertificate = (): void => {};
    const revocations = await watchRevocations(config, anchorPem, log, metrics, deps.crlIntervalMs, () => {
      const cut = revalidate();
      checkOwnCertificate();
      // Readiness depends on the list too (our own certificate revoked): the health service follows.
      admin.refresh();
      return cut;
    });
    if (revocations) onStop('CRL watch', () => revocations.stop());
    // Refused at each handshake, both ways, and by the identity service we send our token to (so
    // loaded before the first certificate is asked for): revoked, or certified by another cluster's issuer.
    const revoked = handshakeRefusal(revocations, config.trustDomain);
    const rotator = new CertificateRotator({ source: rotatorSource(config, anchorPem, revoked), anchorPem });
    onStop('certificate rotator', () => rotator.stop());
    rotator.on('error', (err) => {
      metrics.certificateRenewed('error');
      log.error({ err: err.message, code: err.code }, 'certificate renewal failed');
      // Past expiry the rotator retries (and lands here) every 30 s at most: gRPC health watchers
      // learn of the expiry then.
      admin.refresh();
    });
    const abort = (): void => rotator.stop();
    deps.signal?.addEventListener('abort', abort, { once: true });
    let material: TlsMaterial;
    try {
      if (deps.signal?.aborted) rotator.stop();
      material = await rotator.start();
    } finally {
      deps.signal?.removeEventListener('abort', abort);
    }
    let secureContext = tunnelContextOf(material);
    state.certificates = true;
    state.certificateNotAfter = material.notAfter;
    metrics.certificateRenewed('ok', validityOf(material));
    admin.refresh();

    const ownIdentity = gatewayIdentity(config.trustDomain, config.clusterName);
    const tunnelPool = new SessionPool({
      checkPeerCertificate: revoked,
      secureContext: () => secureContext,
      // Any gateway of this trust domain except ourselves: the mirror says which address, the
      // certificate must at least be a gateway's (a workload certificate is never a tunnel end).
      expectPeer: (identity) =>
        identity !== undefined &&
        identity !== ownIdentity &&
        gatewayClusterOf(identity, config.trustDomain) !== null,
      connectTimeoutMs: config.limits.connectTimeoutMs,
    });
    pool = tunnelPool;
    onStop('session pool', () => tunnelPool.close());

    const policy = new PeerPolicy(informers.links, config.allowedClusters, config.trustDomain);
    // Never dialled, whatever a slice lists: this process's own listeners (a tunnel loop).
    const own = new OwnListeners({
      onRefused: (endpoint, reason) => log.warn({ endpoint, reason }, 'endpoint refused: never dialled'),
    });
    const ingress = await startIngress({
      host: config.ingress.host,
      port: config.ingress.port,
      secureContext,
      authorizePeer: (identity, cert, issuer) => {
        const reason = cert && revoked(cert, issuer);
        return reason ? { ok: false, reason } : policy.authorize(identity);
      },
      resolve: resolverFor(index, config.clusterDomain),
      // The path still works while draining: a remote's probe must not call this cluster dead for it.
      probe: { path: PROBE_PATH, isReady: () => readinessOf({ ...state, draining: false }, informers).ready },
      refuseDial: (endpoint) => own.refusal(endpoint.host, endpoint.port),
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
          : log.info(
              { limit: e.limit, closed: e.refused },
              'TLS handshake limit: accepting connections again',
            ),
      limits: {
        connectTimeoutMs: config.limits.connectTimeoutMs,
        maxTunnels: config.limits.maxTunnels,
        idleSessionTimeoutMs: config.limits.idleSessionTimeoutMs,
      },
    });
    own.add(ingress.address.host, (port) => port === ingress.address.port);
    own.add(admin.address.host, (port) => port === admin.address.port);
    own.add(config.egressHost, (port) => egressListeners?.listens(port) === true);
    onStop('ingress', () => ingress.close());
    log.info({ address: ingress.address }, 'ingress listening');
    revalidate = () => ingress.revalidate() + tunnelPool.revalidate();
    // An unlink (a Link deleted or retargeted) withdraws the admission now: sessions of clusters no
    // longer admitted are cut, not left to open tunnels for as long as keepalives hold them open.
    // Our own sessions to such a cluster's gateway go too: its mirrors and probes went with the Link.
    onStop(
      'link policy',
      informers.links.onEvent(() => {
        if (!informers.links.hasSynced()) return;
        const cut = ingress.revalidate();
        if (cut > 0) log.warn({ sessions: cut }, 'cut the sessions of clusters no longer linked');
        const dropped = tunnelPool.cutUnlinked(linkedClusters(informers.links.list()));
        if (dropped > 0)
          log.warn({ sessions: dropped }, 'cut the sessions to gateways of clusters no longer linked');
      }),
    );

    // Rotation swaps the context for new handshakes only: established sessions and their tunnels
    // keep the certificate they were made with, so no tunnel is dropped.
    const rotated = (next: TlsMaterial): void => {
      secureContext = tunnelContextOf(next);
      ingress.setSecureContext(secureContext);
      tunnelPool.setSecureContext(secureContext);
      state.certificateNotAfter = next.notAfter;
      metrics.certificateRenewed('ok', validityOf(next));
      admin.refresh();
      log.info({ notAfter: next.notAfter.toISOString() }, 'certificate rotated');
    };
    rotator.on('rotated', rotated);
    // A renewal while the ingress was starting found no listener: take it now.
    if (rotator.current && rotator.current !== material) rotated(rotator.current);
    // Our own certificate against the list, now and after each reload: peers refuse a revoked one.
    if (revocations) {
      const c = config.certificates;
      const checkOwn = followOwnRevocation({
        check: gatewayCertificateCheck({
          crl: revocations.current,
          rotator,
          renewable: c.kind === 'certify',
        }),
        refused: (chainPem) => refusalOf(revocations.current(), chainPem),
        log,
        count: metrics.ownCertificateRevoked,
        ...(c.kind === 'files' ? { certFile: c.certFile } : {}),
      });
      checkOwnCertificate = () => void checkOwn.check();
      rotator.on('rotated', (next: TlsMaterial) => checkOwn.rotated(next));
      checkOwnCertificate();
      const ownRevocation = (): string | undefined => {
        const held = rotator.current;
        const refused = held && refusalOf(revocations.current(), held.chainPem);
        return refused ? `this gateway's certificate is revoked (${refused}): peers refuse it` : undefined;
      };
      state.ownRevocation = ownRevocation;
      admin.refresh();
      metrics.ownCertificateRevokedWhile(() => ownRevocation() !== undefined);
    }

    const egress = new EgressListeners({
      host: config.egressHost,
      pool: tunnelPool,
      clientAddresses: config.accessLog,
    });
    egressListeners = egress;
    onStop('egress listeners', () => egress.close());
    let lastRefused = '';
    const unvouchedLog = lastingRefusals(
      () => mirrorRoutes?.refused() ?? [],
      UNVOUCHED_LOG_AFTER_MS,
      (lasting) =>
        log.warn({ refused: lasting.map((r) => `${r.mirror}: ${r.reason}`) }, 'mirror routes refused'),
    );
    onStop('unvouched route log', () => unvouchedLog.stop());
    const mirrorWatcher: MirrorWatcher = watchMirrors(informers.mirrors, egress, {
      links: informers.links,
      slices: informers.mirrorSlices,
      egressRange: config.egressPortRange,
      ready: () => informers.links.hasSynced() && informers.mirrorSlices.hasSynced(),
      debounceMs: config.limits.egressApplyDebounceMs,
      // Once per change of the set, not per apply: a burst of events that changes nothing is quiet.
      // A port no controller slice lists yet is the usual moment between a new mirror's Service and
      // its slice: said only if it lasts.
      onRefused: (refused) => {
        const settled = refused.filter((r) => !r.unvouched);
        const text = JSON.stringify(settled);
        if (text !== lastRefused && settled.length > 0)
          log.warn({ refused: settled.map((r) => `${r.mirror}: ${r.reason}`) }, 'mirror routes refused');
        lastRefused = text;
        unvouchedLog.update();
      },
      onError: (err) => log.error({ err: describeError(err) }, 'egress listeners not fully applied'),
    });
    mirrorRoutes = mirrorWatcher;
    onStop('mirror watcher', () => mirrorWatcher.close());
    // The first apply after both lists are known (an unlisted Link would refuse its mirrors) is what
    // "egress ready" means.
    Promise.all([informers.mirrors.synced, informers.links.synced, informers.mirrorSlices.synced])
      .then(() => {
        mirrorWatcher.refresh();
        return mirrorWatcher.idle();
      })
      .then(() => {
        state.egressApplied = true;
        admin.refresh();
      })
      .catch(() => {});

    let shuttingDown: Promise<void> | undefined;
    const shutdown = (): Promise<void> => {
      shuttingDown ??= (async () => {
        const { drainDelayMs, graceMs } = config.shutdown;
        const started = Date.now();
        state.draining = true;
        admin.refresh();
        log.info(
          { tunnels: ingress.openTunnels() + egress.openTunnels(), drainDelayMs, graceMs },
          'shutting down: not ready, draining',
        );
        await delay(drainDelayMs);
        await mirrorWatcher.close();
        const left = Math.max(0, graceMs - (Date.now() - started));
        const [cutIn, cutOut] = await Promise.all([ingress.close(left), egress.close(left)]);
        if (cutIn + cutOut > 0)
          log.warn({ ingress: cutIn, egress: cutOut }, 'grace period over: connections cut');
        else log.info('drained: every tunnel finished');
        await stop();
      })();
      return shuttingDown;
    };

    return {
      ingress,
      admin,
      egress,
      pool: tunnelPool,
      index,
      metrics,
      readiness,
      shutdown,
      renewCertificates: async () => {
        const before = rotator.current;
        const after = await rotator.renewNow();
        return after !== undefined && after !== before;
      },
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

export interface ReadinessState {
  certificates: boolean;
  /** End of the certificate in use: once passed (renewal kept failing), every peer refuses it. */
  certificateNotAfter?: Date;
  egressApplied: boolean;
  draining?: boolean;
  /** --dial-pod-ips-only and the API server refuses to list Pods: why, as /ready says it. */
  podListRefused?: string;
  /** Why the CRL in force refuses the certificate in use (every peer refuses it), if it does. */
  ownRevocation?: () => string | undefined;
}

/**
 * Ready = certificates loaded, neither expired nor revoked by the CRL in force
 * (certificateProblem), every watcher has listed once (the Pods too with
 * --dial-pod-ips-only: until then nothing is dialled), the egress follows the mirrors, and not
 * shutting down. An expired certificate keeps the process live (the rotator
 * keeps retrying) but takes it out of its Services: no tunnel through it could open.
 */
export function readinessOf(
  state: ReadinessState,
  informers: Record<string, Pick<Informer<never>, 'hasSynced'>>,
  nowMs: number = Date.now(),
): Readiness {
  const reasons: string[] = [];
  if (state.draining) reasons.push('shutting down: draining tunnels');
  const certificate = certificateProblem(state, nowMs);
  if (certificate !== undefined) reasons.push(certificate);
  for (const [name, informer] of Object.entries(informers)) {
    if (!informer.hasSynced()) reasons.push(`${name} not synced`);
  }
  if (state.podListRefused !== undefined) reasons.push(state.podListRefused);
  if (state.certificates && !state.egressApplied) reasons.push('egress listeners not applied');
  return { ready: reasons.length === 0, reasons };
}

/**
 * Why this gateway holds no certificate a peer would take (none loaded yet, expired and not
 * renewed, or revoked by the CRL in force, which every peer that loaded it applies), else
 * undefined: it can then neither tunnel nor probe, whatever the remote does, and is not ready, so
 * its cluster's mirrors lose their endpoints and failover moves callers to what still works.
 */
export function certificateProblem(state: ReadinessState, nowMs: number = Date.now()): string | undefined {
  if (!state.certificates) return 'certificates not loaded';
  if (state.certificateNotAfter !== undefined && nowMs > state.certificateNotAfter.getTime())
    return `certificate expired at ${state.certificateNotAfter.toISOString()} and not renewed`;
  return state.ownRevocation?.();
}

/** A probe this gateway cannot make: its own failure (`local`), which tells nothing of the remote. */
function cannotProbe(error: string): Promise<ProbeResult> {
  return Promise.resolve({ alive: false, latencyMs: 0, error, failure: 'local' });
}

/** The access log (--access-log): one line per tunnel when it ends. */
function logTunnels(log: Logger): () => void {
  const onClose = (msg: unknown): void => {
    const m = msg as TunnelCloseMessage;
    log.info(
      {
        direction: m.direction,
        peer: m.peerCluster,
        authority: m.authority,
        [m.direction === 'egress' ? 'client' : 'endpoint']: m.endpoint,
        bytesIn: m.bytesIn,
        bytesOut: m.bytesOut,
        durationMs: Math.round(m.durationMs * 10) / 10,
        result: m.reset ? 'reset' : 'closed',
      },
      'tunnel',
    );
  };
  diagnosticsChannel.subscribe(CHANNELS.tunnelClose, onClose);
  return () => diagnosticsChannel.unsubscribe(CHANNELS.tunnelClose, onClose);
}

function kubeClientFor(config: GatewayConfig): KubeClient {
  if (config.kube.kind === 'in-cluster') return KubeClient.inCluster();
  const { paths, context } = config.kube;
  return paths.length === 1
    ? KubeClient.fromKubeconfigFile(paths[0] as string, context)
    : KubeClient.fromKubeconfigList(paths, context);
}

/**
 * `anchorPem`: the bundle of --ca-file, which the identity service's own chain must reach too;
 * `refusal`: the peers' handshake check, which its serving certificate must pass as well.
 */
function rotatorSource(config: GatewayConfig, anchorPem: string, refusal: HandshakeRefusal): RotatorSource {
  const c = config.certificates;
  return c.kind === 'files'
    ? fileSource({ certFile: c.certFile, keyFile: c.keyFile })
    : certifySource({
        address: c.identityAddress,
        server: {
          anchorPem,
          serverId: identityServiceId(config.trustDomain, config.clusterName),
          checkPeerCertificate: refusal,
        },
        tokenFile: c.tokenFile,
        identity: gatewayIdentity(config.trustDomain, config.clusterName),
      });
}

function tunnelContextOf(m: TlsMaterial): TunnelSecureContext {
  return { key: m.keyPem, cert: m.chainPem, ca: m.anchorPem };
}

/** The validity of the leaf in `m`, for the certificate metrics (once per renewal). */
function validityOf(m: TlsMaterial): { notBefore: Date; notAfter: Date } {
  return { notBefore: new Date(parseCertificate(m.certPem).validFrom), notAfter: m.notAfter };
}

/**
 * The CRL watch of `--crl-file`, or undefined without one; a bad file stops the start. `reloaded`
 * acts on a new list and says how many sessions of peers it now revokes were cut.
 */
async function watchRevocations(
  config: GatewayConfig,
  anchorPem: string,
  log: Logger,
  metrics: GatewayMetrics,
  intervalMs: number | undefined,
  reloaded: () => number,
): Promise<CrlWatcher | undefined> {
  if (config.crlFile === undefined) return undefined;
  const watcher = await watchCrlFile({
    file: config.crlFile,
    anchorPem,
    ...(intervalMs === undefined ? {} : { intervalMs }),
    onChange: (list) => {
      const cut = reloaded();
      metrics.crlReloaded('ok', list.size());
      log.info({ file: config.crlFile, revoked: list.size(), sessionsCut: cut }, 'CRL reloaded');
    },
    onError: (err) => {
      metrics.crlReloaded('refused');
      log.error({ err: err.message }, 'CRL update refused; the list in force stays');
    },
  });
  if (watcher.present()) metrics.crlReloaded('ok', watcher.current().size());
  if (watcher.present()) log.info({ file: config.crlFile, revoked: watcher.current().size() }, 'CRL loaded');
  else log.warn({ file: config.crlFile }, 'no CRL file (yet): nothing is revoked until it appears');
  return watcher;
}

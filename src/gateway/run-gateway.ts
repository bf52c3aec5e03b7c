/**
 * Assembles a gateway from its parts: certificates (with rotation), the watchers of its own
 * cluster, the ingress, the egress listeners and the admin port. Startup order follows what each
 * part needs: the admin port first (so `/live` answers and `/ready` explains what is missing while
 * certificates are fetched), then certificates, then everything that speaks TLS. `stop()` closes in
 * reverse order and leaves no socket, timer or watch behind.
 *
 * The parts: gateway-informers.ts (the watches), service-index-feeds.ts (what the ingress may
 * dial), gateway-certificates.ts (certificate, rotation, CRL), gateway-listeners.ts (admin port,
 * ingress), gateway-egress.ts (session pool, egress listeners), gateway-shutdown.ts (the drain).
 */
import { type Logger, pino } from 'pino';
import type { KubeClient } from '../kube/client.js';
import type { AdminServer, Readiness } from './admin.js';
import type { GatewayConfig } from './config.js';
import type { EgressListeners } from './egress.js';
import { loadCertificates } from './gateway-certificates.js';
import type { GatewayContext } from './gateway-context.js';
import { startEgress, startSessionPool } from './gateway-egress.js';
import { createGatewayInformers, kubeClientFor, startInformers } from './gateway-informers.js';
import { type LaterParts, startAdminPort, startGatewayIngress } from './gateway-listeners.js';
import { type ReadinessState, readinessOf } from './gateway-readiness.js';
import { gracefulShutdown } from './gateway-shutdown.js';
import type { Ingress } from './ingress.js';
import { createGatewayMetrics, type GatewayMetrics } from './metrics.js';
import { logRefusals } from './refusal-log.js';
import type { ServiceIndex } from './service-index.js';
import { followServices } from './service-index-feeds.js';
import type { SessionPool } from './session-pool.js';
import { StopList } from './stop-list.js';
import { logTunnels } from './tunnel-access-log.js';

export { certificateProblem, type ReadinessState, readinessOf } from './gateway-readiness.js';

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
   * drain delay (load balancers and kube-proxy catch up). Then the ingress stops accepting and sends
   * GOAWAY to remote pools, whose next tunnels go to another replica; the egress listeners stay open
   * until no EndpointSlice Isthmus writes (a mirror's, a split apex's, a federated Service's) lists
   * this pod (config.podIPs) and a settle has passed (slice-drain.ts), within the grace. Tunnels in
   * flight have until the grace period ends, then the rest are cut, and everything is stopped. Safe
   * to call more than once.
   */
  shutdown(): Promise<void>;
  /** Closes everything at once; safe to call more than once. */
  stop(): Promise<void>;
}

export async function runGateway(config: GatewayConfig, deps: RunGatewayDeps = {}): Promise<RunningGateway> {
  const log = deps.logger ?? pino({ name: 'isthmus-gateway' });
  const stops = new StopList(log);
  const stop = (): Promise<void> => stops.stop();
  try {
    const metrics = startMetrics(config, deps, log, stops);
    // Nothing asks before the admin port exists: the informers start after it.
    let admin: AdminServer | undefined;
    const ctx: GatewayContext = { config, log, metrics, stops, refresh: () => admin?.refresh() };
    const informers = createGatewayInformers(apiClient(config, deps, stops), config);
    const state: ReadinessState = { certificates: false, egressApplied: false, draining: false };
    const readiness = (): Readiness => readinessOf(state, informers);
    const later: LaterParts = {};

    admin = await startAdminPort(ctx, informers, state, later);
    startInformers(informers, state, log, ctx.refresh, stops);
    const index = followServices(config, informers, log, stops);
    const certificates = await loadCertificates(ctx, state, {
      ...(deps.signal === undefined ? {} : { signal: deps.signal }),
      ...(deps.crlIntervalMs === undefined ? {} : { crlIntervalMs: deps.crlIntervalMs }),
    });
    later.certificates = certificates;
    const pool = startSessionPool(ctx, certificates, informers.links);
    later.pool = pool;
    const ingress = await startGatewayIngress(ctx, {
      informers,
      state,
      index,
      certificates,
      pool,
      admin,
      later,
    });
    certificates.follow([ingress, pool]);
    const { egress, mirrorWatcher } = startEgress(ctx, informers, pool, state, later);

    return {
      ingress,
      admin,
      egress,
      pool,
      index,
      metrics,
      readiness,
      shutdown: gracefulShutdown(ctx, {
        state,
        ingress,
        egress,
        mirrorWatcher,
        slices: { mirrorSlices: informers.mirrorSlices, forwardingSlices: informers.forwardingSlices },
        stop,
      }),
      renewCertificates: certificates.renewNow,
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** The gateway's metrics, the diagnostics log and (--access-log) the access log. */
function startMetrics(
  config: GatewayConfig,
  deps: RunGatewayDeps,
  log: Logger,
  stops: StopList,
): GatewayMetrics {
  const metrics = createGatewayMetrics({
    processMetrics: deps.processMetrics ?? true,
    trustDomain: config.trustDomain,
  });
  stops.add('metrics', () => metrics.close());
  stops.add('diagnostics log', logRefusals(log, config.accessLog));
  if (config.accessLog) stops.add('access log', logTunnels(log));
  return metrics;
}

/** The API client of `deps`, else one of `config.kube`, which the gateway then closes. */
function apiClient(config: GatewayConfig, deps: RunGatewayDeps, stops: StopList): KubeClient {
  const kube = deps.kube ?? kubeClientFor(config);
  if (deps.kube === undefined) stops.add('API client', () => kube.close());
  return kube;
}

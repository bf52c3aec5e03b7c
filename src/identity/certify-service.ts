/**
 * The identity service assembled: Certify (certify-handler.ts, served by certify-grpc.ts) over TLS
 * with a serving certificate minted from the issuer (serving-cert.ts), and a plaintext health
 * server for the kubelet. The Certify API's names are re-exported here, where the CLI, the tests
 * and index.ts import them.
 */
import { Server } from '@grpc/grpc-js';
import { anyAddress } from '../host-port.js';
import { DEFAULT_CLUSTER_DOMAIN, IDENTITY_SERVICE_NAME, PORTS, SYSTEM_NAMESPACE } from '../kube/keys.js';
import { certifyMethod } from './certify-grpc.js';
import { type CertifyDeps, createCertifyHandler, issuerSource } from './certify-handler.js';
import { publishConnectionRefused } from './connection-refused.js';
import { type GrpcListener, listenForGrpc } from './grpc-listener.js';
import { shutdownServer } from './grpc-util.js';
import { addHealthService } from './health.js';
import {
  CERTIFY_LIMITS,
  type CertifyLimits,
  grpcServerOptions,
  HEALTH_LIMITS,
  type ServerLimits,
} from './identity-limits.js';
import { identityServiceDefinition, ServingStatus } from './protocol.js';
import {
  identityDnsNames,
  type ServingCertificate,
  type ServingCertificateOptions,
  ServingCertificateProvider,
} from './serving-cert.js';

export { issuerWindowProblem } from './ca.js';
export {
  DEFAULT_REVIEW_TIMEOUT_MS,
  POD_NAME_EXTRA,
  type TokenReviewer,
} from './certify-authorisation.js';
export { type CertifyEvent, certifyChannel } from './certify-event.js';
export { type CertifyCall, MAX_CERTIFY_IN_FLIGHT } from './certify-gate.js';
export { type CertifyDeps, createCertifyHandler } from './certify-handler.js';
export type {
  CertifyCaller,
  CertifyOutcome,
  CertifyResult,
  TokenReviewFailure,
} from './certify-outcome.js';

/**
 * A projected token is ~1 kB and an 8192-bit CSR ~4.4 kB. gRPC's default of 4 MiB would let anyone
 * who reaches the port have the API server review megabyte tokens; larger requests get
 * RESOURCE_EXHAUSTED before any handler runs.
 */
export const MAX_REQUEST_BYTES = 64 * 1024;

export interface IdentityServerOptions extends CertifyDeps {
  /** Default: all interfaces (`anyAddress`). */
  host?: string;
  /** Default 8080 (shared/DESIGN.md, Ports); 0 picks a free port. */
  port?: number;
  /**
   * The certificate Certify is served with, minted from the issuer (serving-cert.ts). Default DNS
   * names: those of the installed Service (`isthmus-identity.isthmus-system.svc.cluster.local`…).
   */
  serving?: Partial<Omit<ServingCertificateOptions, 'issuer' | 'trustDomain' | 'cluster'>>;
  /**
   * Plaintext grpc.health.v1 for the kubelet's gRPC probes, which speak no TLS (9990 in a pod,
   * PORTS.identityHealth). Absent: no health server.
   */
  health?: { host?: string; port: number };
  /** Bounds on each server's connections and streams (identity-limits.ts); tests make them small. */
  limits?: { certify?: Partial<CertifyLimits>; health?: Partial<ServerLimits> };
}

export interface IdentityServer {
  port: number;
  /** The bound health port, when `health` was asked for. */
  healthPort?: number;
  /** The certificate new TLS connections are served with. */
  servingCertificate(): ServingCertificate;
  /** Connections open on each port, and those of Certify's still in their TLS handshake. */
  connections(): { certify: number; handshaking: number; health: number };
  /** Mints a new serving certificate now, from the issuer in force: call it when the issuer is reloaded. */
  renewServingCertificate(): Promise<ServingCertificate>;
  close(): Promise<void>;
}

export async function startIdentityServer(opts: IdentityServerOptions): Promise<IdentityServer> {
  const handle = createCertifyHandler(opts);
  const serving = await ServingCertificateProvider.start({
    dnsNames: identityDnsNames({
      serviceName: IDENTITY_SERVICE_NAME,
      namespace: SYSTEM_NAMESPACE,
      clusterDomain: DEFAULT_CLUSTER_DOMAIN,
    }),
    ...opts.serving,
    issuer: issuerSource(opts.issuer),
    trustDomain: opts.trustDomain,
    cluster: opts.cluster,
  });
  const limits = { ...CERTIFY_LIMITS, ...opts.limits?.certify };
  const server = new Server({
    'grpc.max_receive_message_length': MAX_REQUEST_BYTES,
    ...grpcServerOptions(limits),
  });
  server.addService(identityServiceDefinition, { Certify: certifyMethod(handle) });
  const closers: Array<() => Promise<void>> = [async () => serving.stop()];
  const close = async () => {
    for (const c of closers.splice(0).reverse()) await c();
  };
  try {
    const listener = await listenForGrpc(server, {
      host: opts.host ?? anyAddress(),
      port: opts.port ?? PORTS.identity,
      limits,
      tls: serving,
      onRefused: publishConnectionRefused('certify'),
    });
    closers.push(() => listener.close(() => shutdownServer(server)));
    const health = opts.health
      ? await startHealth(opts.health, { ...HEALTH_LIMITS, ...opts.limits?.health }, closers)
      : undefined;
    return {
      port: listener.port,
      ...(health === undefined ? {} : { healthPort: health.port }),
      connections: () => ({
        certify: listener.connections(),
        handshaking: listener.handshakes(),
        health: health?.connections() ?? 0,
      }),
      servingCertificate: () => serving.current,
      renewServingCertificate: () => serving.renewNow(),
      close,
    };
  } catch (err) {
    await close();
    throw err;
  }
}

/** The plaintext health server: SERVING once Certify is bound (it starts after), for '' and Identity. */
async function startHealth(
  at: { host?: string; port: number },
  limits: ServerLimits,
  closers: Array<() => Promise<void>>,
): Promise<GrpcListener> {
  const health = new Server(grpcServerOptions(limits));
  addHealthService(health, (service) =>
    service === '' || service === 'isthmus.identity.v1.Identity' ? ServingStatus.SERVING : undefined,
  );
  const listener = await listenForGrpc(health, {
    host: at.host ?? anyAddress(),
    port: at.port,
    limits,
    onRefused: publishConnectionRefused('health'),
  });
  closers.push(() => listener.close(() => shutdownServer(health)));
  return listener;
}

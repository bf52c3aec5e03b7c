/**
 * The gateway's certificate and what follows it: loaded (from files or the identity service)
 * before anything speaks TLS, renewed by the rotator, checked against the CRL of --crl-file (which
 * also refuses peers at each handshake, both ways), and swapped into the ingress and the session
 * pool on rotation, for new handshakes only.
 */
import { readFile } from 'node:fs/promises';
import type { Logger } from 'pino';
import { parseCertificate } from '../identity/certificate-info.js';
import {
  CertificateRotator,
  certifySource,
  fileSource,
  type CertificateSource as RotatorSource,
  type TlsMaterial,
} from '../identity/rotation.js';
import { identityServiceId } from '../identity/spiffe.js';
import { gatewayIdentity } from '../kube/keys.js';
import type { GatewayConfig } from './config.js';
import { type CrlWatcher, type HandshakeRefusal, handshakeRefusal, watchCrlFile } from './crl-watch.js';
import type { GatewayContext } from './gateway-context.js';
import type { ReadinessState } from './gateway-readiness.js';
import type { GatewayMetrics } from './metrics.js';
import { followOwnRevocation, gatewayCertificateCheck, refusalOf } from './own-certificate-revocation.js';
import type { TunnelSecureContext } from './tunnel-settings.js';

export interface GatewayCertificates {
  /** The TLS material of new handshakes (the one rotation last swapped in). */
  secureContext(): TunnelSecureContext;
  /** Refused at each handshake, both ways: revoked, or certified by another cluster's issuer. */
  readonly revoked: HandshakeRefusal;
  /**
   * Once the ingress and the session pool exist: rotation swaps their contexts, a CRL update cuts
   * their sessions of peers it now revokes, and our own certificate is checked against the list.
   */
  follow(users: readonly TlsUsers[]): void;
  /** Fetches a certificate now; true when a new one is in use. */
  renewNow(): Promise<boolean>;
}

/** What serves with the certificate: the ingress and the session pool. */
export interface TlsUsers {
  setSecureContext(context: TunnelSecureContext): void;
  /** Cuts the sessions of peers the CRL in force now refuses; how many. */
  revalidate(): number;
}

/**
 * Loads the certificate (aborted by `signal`), and the CRL first: the identity service we send our
 * token to is checked against it too. `state` learns the certificate's end (readiness).
 */
export async function loadCertificates(
  ctx: GatewayContext,
  state: ReadinessState,
  options: { signal?: AbortSignal; crlIntervalMs?: number },
): Promise<GatewayCertificates> {
  const { config, log, metrics, stops } = ctx;
  const anchorPem = await readFile(config.certificates.caFile, 'utf8');
  // Revocation: refused at each handshake, both ways; a CRL update also cuts open sessions.
  let revalidate = (): number => 0;
  let checkOwnCertificate = (): void => {};
  const revocations = await watchRevocations(config, anchorPem, log, metrics, options.crlIntervalMs, () => {
    const cut = revalidate();
    checkOwnCertificate();
    // Readiness depends on the list too (our own certificate revoked): the health service follows.
    ctx.refresh();
    return cut;
  });
  if (revocations) stops.add('CRL watch', () => revocations.stop());
  // Refused at each handshake, both ways, and by the identity service we send our token to (so
  // loaded before the first certificate is asked for): revoked, or certified by another cluster's issuer.
  const revoked = handshakeRefusal(revocations, config.trustDomain);
  const rotator = new CertificateRotator({ source: rotatorSource(config, anchorPem, revoked), anchorPem });
  stops.add('certificate rotator', () => rotator.stop());
  rotator.on('error', (err) => {
    metrics.certificateRenewed('error');
    log.error({ err: err.message, code: err.code }, 'certificate renewal failed');
    // Past expiry the rotator retries (and lands here) every 30 s at most: gRPC health watchers
    // learn of the expiry then.
    ctx.refresh();
  });
  const material = await startRotator(rotator, options.signal);
  let secureContext = tunnelContextOf(material);
  state.certificates = true;
  state.certificateNotAfter = material.notAfter;
  metrics.certificateRenewed('ok', validityOf(material));
  ctx.refresh();

  const follow = (users: readonly TlsUsers[]): void => {
    revalidate = () => users.reduce((cut, u) => cut + u.revalidate(), 0);
    // Rotation swaps the context for new handshakes only: established sessions and their tunnels
    // keep the certificate they were made with, so no tunnel is dropped.
    const rotated = (next: TlsMaterial): void => {
      secureContext = tunnelContextOf(next);
      for (const u of users) u.setSecureContext(secureContext);
      state.certificateNotAfter = next.notAfter;
      metrics.certificateRenewed('ok', validityOf(next));
      ctx.refresh();
      log.info({ notAfter: next.notAfter.toISOString() }, 'certificate rotated');
    };
    rotator.on('rotated', rotated);
    // A renewal while the ingress was starting found no listener: take it now.
    if (rotator.current && rotator.current !== material) rotated(rotator.current);
    // Our own certificate against the list, now and after each reload: peers refuse a revoked one.
    if (revocations) {
      const own = followOwnCertificate(ctx, rotator, revocations);
      checkOwnCertificate = own.check;
      checkOwnCertificate();
      state.ownRevocation = own.revocation;
      ctx.refresh();
      metrics.ownCertificateRevokedWhile(() => own.revocation() !== undefined);
    }
  };

  return {
    secureContext: () => secureContext,
    revoked,
    follow,
    renewNow: async () => {
      const before = rotator.current;
      const after = await rotator.renewNow();
      return after !== undefined && after !== before;
    },
  };
}

/** The first certificate; aborting `signal` stops the rotator, which rejects. */
async function startRotator(
  rotator: CertificateRotator,
  signal: AbortSignal | undefined,
): Promise<TlsMaterial> {
  const abort = (): void => rotator.stop();
  signal?.addEventListener('abort', abort, { once: true });
  try {
    if (signal?.aborted) rotator.stop();
    return await rotator.start();
  } finally {
    signal?.removeEventListener('abort', abort);
  }
}

/**
 * Follows whether the CRL in force revokes our own certificate (peers would refuse it): `check`,
 * to run after each CRL reload, logs and counts it; `revocation` says why, for /ready.
 */
function followOwnCertificate(
  ctx: GatewayContext,
  rotator: CertificateRotator,
  revocations: CrlWatcher,
): { check: () => void; revocation: () => string | undefined } {
  const c = ctx.config.certificates;
  const checkOwn = followOwnRevocation({
    check: gatewayCertificateCheck({
      crl: revocations.current,
      rotator,
      renewable: c.kind === 'certify',
    }),
    refused: (chainPem) => refusalOf(revocations.current(), chainPem),
    log: ctx.log,
    count: ctx.metrics.ownCertificateRevoked,
    ...(c.kind === 'files' ? { certFile: c.certFile } : {}),
  });
  rotator.on('rotated', (next: TlsMaterial) => checkOwn.rotated(next));
  return {
    check: () => void checkOwn.check(),
    revocation: () => {
      const held = rotator.current;
      const refused = held && refusalOf(revocations.current(), held.chainPem);
      return refused ? `this gateway's certificate is revoked (${refused}): peers refuse it` : undefined;
    },
  };
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
  // Info, not warn: the install always names the file (the isthmus-crl ConfigMap is optional), and
  // a cluster that never revoked anything has none; a warning at every start taught to ignore it.
  else log.info({ file: config.crlFile }, 'no CRL file (yet): nothing is revoked until it appears');
  return watcher;
}

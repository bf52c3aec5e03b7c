import type { X509Certificate } from 'node:crypto';
import { type ServiceError, status } from '@grpc/grpc-js';
import { describeError, IsthmusError, type IsthmusErrorCode } from '../errors.js';
import { IDENTITY_SERVICE_NAME } from '../kube/keys.js';
import { infoOf, parseCertificate } from './certificate-info.js';
import { createCsr } from './csr.js';
import type { ServerVerification } from './grpc-tls.js';
import { callUnary } from './grpc-util.js';
import { issuerClusterOf } from './issuer-scope.js';
import { generateLeafKeyAsync, type LeafKeyType } from './keys.js';
import { identityServiceDefinition } from './protocol.js';
import { keyMismatch } from './validate.js';

/** A certificate with its private key, as a gateway uses it. */
export interface IssuedCertificate {
  certPem: string;
  keyPem: string;
  /** Leaf followed by the issuer. */
  chainPem: string;
  notAfter: Date;
}

export const DEFAULT_CERTIFY_TIMEOUT_MS = 10_000;

/**
 * How a gateway knows it is talking to its own identity service before it sends its token: the
 * server's chain must reach the trust anchor bundle it already holds (`--ca-file`), and its
 * certificate must name exactly `identityServiceId(<trust domain>, <its own cluster>)`. Another
 * cluster's identity, a gateway certificate, another CA's server: each is refused in the handshake.
 */
export interface IdentityServiceTrust {
  /** PEM, one or more anchors. */
  anchorPem: string;
  /** The SPIFFE ID the server must present (spiffe.ts, identityServiceId). */
  serverId: string;
  /**
   * Why the server's certificate is refused though its chain verified, asked at each handshake:
   * the gateway's own check of its peers (crl-watch.ts, `handshakeRefusal`), so a revoked serving
   * certificate, or a revoked issuer, gets no token, and a CRL reloaded since counts.
   */
  checkPeerCertificate?: (leaf: X509Certificate, issuer: X509Certificate | undefined) => string | undefined;
}

/**
 * Asks the identity service for a certificate. A fresh key each time (generated off the event loop),
 * so a leaked key is only good until the certificate it belongs to expires: ECDSA P-256 unless
 * `keyType` says otherwise (keys.ts says why).
 */
export async function requestCertificate(opts: {
  address: string;
  token: string;
  server: IdentityServiceTrust;
  /** Name this identity in the CSR and check the answer holds it; else the server assigns it. */
  identity?: string;
  timeoutMs?: number;
  keyType?: LeafKeyType;
}): Promise<IssuedCertificate> {
  const key = await generateLeafKeyAsync(opts.keyType);
  const csrPem = createCsr(key.privateKeyPem, opts.identity);
  let res: Awaited<ReturnType<typeof callCertify>>;
  try {
    res = await callCertify(
      opts.address,
      opts.token,
      csrPem,
      opts.timeoutMs ?? DEFAULT_CERTIFY_TIMEOUT_MS,
      opts.server,
    );
  } catch (err) {
    const e = err as Partial<ServiceError>;
    throw new IsthmusError(
      codeFor(e.code),
      `identity service ${opts.address}: ${e.details || describeError(err)}`,
      {
        cause: err,
      },
    );
  }
  const cert = parseCertificate(res.certPem);
  const mismatch = keyMismatch(cert, key.privateKeyPem);
  if (mismatch)
    throw new IsthmusError('CERT_INVALID', `identity service returned a certificate for another key`);
  const problem = identityProblem(infoOf(cert).uriSans, opts.identity);
  if (problem) throw new IsthmusError('CERT_INVALID', `identity service returned ${problem}`);
  return {
    certPem: res.certPem,
    keyPem: key.privateKeyPem,
    chainPem: res.chainPem,
    notAfter: new Date(cert.validTo),
  };
}

/**
 * Why a certificate with these URI SANs is not the one asked for. An X.509-SVID holds exactly one
 * (peers refuse more as ambiguous), and a substring test would take `…/gateway-x` for `…/gateway`.
 */
export function identityProblem(
  uriSans: readonly string[],
  expected: string | undefined,
): string | undefined {
  if (expected === undefined) {
    return uriSans.length === 1
      ? undefined
      : `a certificate with ${uriSans.length} URI SANs, not exactly one`;
  }
  return uriSans.length === 1 && uriSans[0] === expected
    ? undefined
    : `a certificate without exactly ${expected} (URI SANs: ${uriSans.join(', ') || 'none'})`;
}

/** Why the identity service's certificate is not the one `server` names, or undefined. */
export function identityServerProblem(cert: X509Certificate, serverId: string): string | undefined {
  const info = infoOf(cert);
  if (info.isCa) return 'it presents a CA certificate, not a serving certificate';
  const uris = info.uriSans;
  if (uris.length !== 1 || uris[0] !== serverId)
    return `it presents ${uris.join(', ') || 'no URI SAN'}, not the identity service's ${serverId}`;
  // Every cluster's issuer chains to the shared anchor: as for gateways (issuer-scope.ts), the
  // identity ID of a cluster is only believed from that cluster's issuer, so a stolen issuer key of
  // another cluster cannot serve Certify here and collect this cluster's tokens.
  const wanted = /^spiffe:\/\/([^/]+)\/cluster\/([^/]+)\/identity$/.exec(serverId);
  const signer = wanted ? issuerClusterOf(cert.issuer, wanted[1]!) : undefined;
  return signer !== undefined && signer !== wanted?.[2]
    ? `it is signed by cluster ${signer}'s issuer, not ${wanted?.[2]}'s`
    : undefined;
}

/**
 * Why the identity service's certificate is refused by the gateway's CRL, and what replaces it:
 * identity follows the same CRL file and replaces a revoked serving certificate once it loads it
 * (serving-revocation.ts), so the gateway's retries soon succeed; a revoked issuer must be renewed,
 * which identity follows (and then renews its serving certificate) on its own.
 */
function revokedServerProblem(
  server: IdentityServiceTrust,
  cert: X509Certificate,
  issuer: X509Certificate | undefined,
): string | undefined {
  const reason = server.checkPeerCertificate?.(cert, issuer);
  return reason === undefined
    ? undefined
    : `its serving certificate is refused: ${reason} (the identity service replaces it once it loads the same CRL; a revoked issuer must be renewed first)`;
}

function callCertify(
  address: string,
  token: string,
  csrPem: string,
  timeoutMs: number,
  server: IdentityServiceTrust,
) {
  const tls: ServerVerification = {
    caPem: server.anchorPem,
    identityProblem: (cert, issuer) =>
      identityServerProblem(cert, server.serverId) ?? revokedServerProblem(server, cert, issuer),
    // The SNI when the address is an IP: the server ignores it, and RFC 6066 allows no IP there.
    serverName: IDENTITY_SERVICE_NAME,
  };
  return callUnary(address, identityServiceDefinition.Certify, { token, csrPem }, timeoutMs, { tls });
}

/** Denials are not fixed by retrying the same request, but a rotated token may fix them: not terminal. */
function codeFor(code: status | undefined): IsthmusErrorCode {
  if (code === status.UNAUTHENTICATED || code === status.PERMISSION_DENIED) return 'IDENTITY_DENIED';
  if (code === status.INVALID_ARGUMENT) return 'CSR_INVALID';
  return 'IDENTITY_UNAVAILABLE';
}

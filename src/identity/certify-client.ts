import { type ServiceError, status } from '@grpc/grpc-js';
import { describeError, IsthmusError, type IsthmusErrorCode } from '../errors.js';
import { infoOf, parseCertificate } from './certificate-info.js';
import { createCsr } from './csr.js';
import { callUnary } from './grpc-util.js';
import { identityServiceDefinition } from './protocol.js';
import { generateRsaKeyAsync } from './rsa-keys.js';
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
 * Asks the identity service for a certificate. A fresh key each time (generated off the event loop),
 * so a leaked key is only good until the certificate it belongs to expires.
 */
export async function requestCertificate(opts: {
  address: string;
  token: string;
  /** Name this identity in the CSR and check the answer holds it; else the server assigns it. */
  identity?: string;
  timeoutMs?: number;
}): Promise<IssuedCertificate> {
  const key = await generateRsaKeyAsync();
  const csrPem = createCsr(key.privateKeyPem, opts.identity);
  let res: Awaited<ReturnType<typeof callCertify>>;
  try {
    res = await callCertify(opts.address, opts.token, csrPem, opts.timeoutMs ?? DEFAULT_CERTIFY_TIMEOUT_MS);
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

function callCertify(address: string, token: string, csrPem: string, timeoutMs: number) {
  return callUnary(address, identityServiceDefinition.Certify, { token, csrPem }, timeoutMs);
}

/** Denials are not fixed by retrying the same request, but a rotated token may fix them: not terminal. */
function codeFor(code: status | undefined): IsthmusErrorCode {
  if (code === status.UNAUTHENTICATED || code === status.PERMISSION_DENIED) return 'IDENTITY_DENIED';
  if (code === status.INVALID_ARGUMENT) return 'CSR_INVALID';
  return 'IDENTITY_UNAVAILABLE';
}

import { type ServiceError, status } from '@grpc/grpc-js';
import { describeError, IsthmusError, type IsthmusErrorCode } from '../errors.js';
import { parseCertificate } from './certificate-info.js';
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
  if (opts.identity !== undefined && !(cert.subjectAltName ?? '').includes(`URI:${opts.identity}`)) {
    throw new IsthmusError(
      'CERT_INVALID',
      `identity service returned a certificate without ${opts.identity}`,
    );
  }
  return {
    certPem: res.certPem,
    keyPem: key.privateKeyPem,
    chainPem: res.chainPem,
    notAfter: new Date(cert.validTo),
  };
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

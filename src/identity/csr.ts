import forge from 'node-forge';
import { describeError } from '../errors.js';

/**
 * PKCS#10 certificate signing requests (RFC 2986). The client side builds one; the server side
 * decides whether to sign it. The server never copies anything from a CSR but its public key: the
 * identity in the certificate comes from the caller's service account, so a CSR can only lose.
 */
const { pki } = forge;
/** GeneralName tags (RFC 5280 §4.2.1.6) and their openssl-style names for messages. */
const SAN_NAMES: Record<number, string> = { 1: 'email', 2: 'DNS', 6: 'URI', 7: 'IP' };
const SAN_URI = 6;
const MIN_RSA_BITS = 2048;

/** A CSR signed by `privateKeyPem` (RSA), naming `identity` as its only URI SAN when given. */
export function createCsr(privateKeyPem: string, identity?: string): string {
  const privateKey = pki.privateKeyFromPem(privateKeyPem) as forge.pki.rsa.PrivateKey;
  const csr = pki.createCertificationRequest();
  csr.publicKey = pki.setRsaPublicKey(privateKey.n, privateKey.e);
  if (identity !== undefined) {
    csr.setAttributes([
      {
        name: 'extensionRequest',
        extensions: [{ name: 'subjectAltName', altNames: [{ type: SAN_URI, value: identity }] }],
      },
    ]);
  }
  csr.sign(privateKey, forge.md.sha256.create());
  return pki.certificationRequestToPem(csr).replace(/\r\n/g, '\n');
}

export type CsrDecision =
  | { ok: true; publicKeyPem: string }
  /** invalid → gRPC INVALID_ARGUMENT; denied → PERMISSION_DENIED. */
  | { ok: false; status: 'invalid' | 'denied'; reason: string };

/**
 * May the holder of this CSR receive a certificate for `allowedIdentity`? A CSR may leave the
 * identity out (it is assigned) or name exactly it; any other name, extra SAN or CA request is denied.
 */
export function checkCsr(csrPem: string, allowedIdentity: string): CsrDecision {
  let csr: forge.pki.CertificateSigningRequest;
  try {
    csr = pki.certificationRequestFromPem(csrPem);
  } catch (err) {
    return {
      ok: false,
      status: 'invalid',
      reason: `not a PEM PKCS#10 RSA certificate request: ${describeError(err)}`,
    };
  }
  // The self-signature proves possession of the private key (RFC 2986 §3).
  let verified = false;
  try {
    verified = csr.verify();
  } catch {
    verified = false;
  }
  if (!verified) return { ok: false, status: 'invalid', reason: 'the CSR signature does not verify' };
  const publicKey = csr.publicKey as forge.pki.rsa.PublicKey | null;
  if (!publicKey) return { ok: false, status: 'invalid', reason: 'the CSR has no public key' };
  if (publicKey.n.bitLength() < MIN_RSA_BITS) {
    return { ok: false, status: 'invalid', reason: `RSA keys must have at least ${MIN_RSA_BITS} bits` };
  }

  const requested = requestedExtensions(csr);
  const denied = (reason: string): CsrDecision => ({ ok: false, status: 'denied', reason });
  for (const ext of requested) {
    if (ext.name === 'basicConstraints' && ext.cA === true)
      return denied('the CSR asks for a CA certificate');
    if (ext.name === 'keyUsage' && (ext.keyCertSign === true || ext.cRLSign === true)) {
      return denied('the CSR asks for certificate-signing key usage');
    }
  }
  const sans = requested
    .filter((e) => e.name === 'subjectAltName')
    .flatMap((e) => (e.altNames as Array<{ type: number; value?: string; ip?: string }> | undefined) ?? []);
  const others = sans.filter((s) => s.type !== SAN_URI || s.value !== allowedIdentity);
  if (others.length > 0) {
    const names = others.map((s) => `${SAN_NAMES[s.type] ?? `type${s.type}`}:${s.ip ?? s.value ?? '?'}`);
    return denied(`the CSR asks for ${names.join(', ')}; this caller may only hold ${allowedIdentity}`);
  }
  return { ok: true, publicKeyPem: pki.publicKeyToPem(publicKey).replace(/\r\n/g, '\n') };
}

type RequestedExtension = { name?: string } & Record<string, unknown>;

function requestedExtensions(csr: forge.pki.CertificateSigningRequest): RequestedExtension[] {
  const attr = csr.getAttribute({ name: 'extensionRequest' }) as { extensions?: RequestedExtension[] } | null;
  return attr?.extensions ?? [];
}

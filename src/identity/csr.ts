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
/** Go's crypto/tls refuses larger RSA keys in a handshake (maxRSAKeySize), so peers would too. */
const MAX_RSA_BITS = 8192;
/** Keys in use have e = 65537 (rarely 3): odd, 3 ≤ e < 2^32 keeps them and bounds verify's cost.
 * FIPS 186-5's 2^16 < e would refuse e = 3 for no gain here. */
const MAX_RSA_EXPONENT_BITS = 32;

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
  const publicKey = csr.publicKey as forge.pki.rsa.PublicKey | null;
  if (!publicKey) return { ok: false, status: 'invalid', reason: 'the CSR has no public key' };
  // Before the signature: forge verifies in pure JS on the event loop, where a 16384-bit key with a
  // 16383-bit exponent (an 8.6 kB CSR) took 218 s, and the cost grows with the square of the size.
  const keyProblem = rsaKeyProblem(publicKey);
  if (keyProblem) return { ok: false, status: 'invalid', reason: keyProblem };
  // The self-signature proves possession of the private key (RFC 2986 §3).
  let verified = false;
  try {
    verified = csr.verify();
  } catch {
    verified = false;
  }
  if (!verified) return { ok: false, status: 'invalid', reason: 'the CSR signature does not verify' };

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

/** Why an RSA public key is not one to certify, or undefined. Cheap: sizes only, no arithmetic. */
export function rsaKeyProblem(key: Pick<forge.pki.rsa.PublicKey, 'n' | 'e'>): string | undefined {
  const bits = key.n.bitLength();
  if (bits < MIN_RSA_BITS) return `RSA keys must have at least ${MIN_RSA_BITS} bits`;
  if (bits > MAX_RSA_BITS) return `RSA keys may have at most ${MAX_RSA_BITS} bits (this one has ${bits})`;
  // e = 1 makes the private key equal to the public one; an even e is no RSA key.
  if (key.e.bitLength() > MAX_RSA_EXPONENT_BITS || key.e.bitLength() < 2 || !key.e.testBit(0))
    return 'the RSA public exponent must be odd, at least 3 and below 2^32';
  return undefined;
}

type RequestedExtension = { name?: string } & Record<string, unknown>;

function requestedExtensions(csr: forge.pki.CertificateSigningRequest): RequestedExtension[] {
  const attr = csr.getAttribute({ name: 'extensionRequest' }) as { extensions?: RequestedExtension[] } | null;
  return attr?.extensions ?? [];
}

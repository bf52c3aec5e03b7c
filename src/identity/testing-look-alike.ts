/**
 * Test fixtures (test-only) for chains that show a TLS peer's verifier one issuer while OpenSSL
 * verifies with another: look-alikes of an issuer (same Name, same key, so the same key
 * identifier, another serial), which whoever holds a revoked issuer's key can mint, and the
 * chains that put one first (revocation.ts says why that matters).
 */
import forge from 'node-forge';
import { type KeyPairPem, serialNumber } from './ca.js';
import { joinPem, splitPem } from './pem.js';

const { pki } = forge;
const DAY_MS = 86_400_000;

/** Expired 300 days ago, as an issuer certificate kept from long before. */
export const EXPIRED = {
  notBefore: new Date(Date.now() - 400 * DAY_MS),
  notAfter: new Date(Date.now() - 300 * DAY_MS),
};
/** Valid for a year from now on. */
export const VALID = {
  notBefore: new Date(Date.now() - DAY_MS),
  notAfter: new Date(Date.now() + 365 * DAY_MS),
};

/**
 * A certificate of `issuer`'s Name and key with a new serial, valid from `notBefore` to
 * `notAfter`: signed by `signer` (only the anchor's holder can mint such a twin), or by the
 * issuer's own key (self-signed: anyone who holds the key can).
 */
export function lookAlike(
  issuer: KeyPairPem,
  opts: { notBefore: Date; notAfter: Date; signer?: KeyPairPem },
): string {
  const real = pki.certificateFromPem(issuer.certPem);
  const signer = opts.signer === undefined ? real : pki.certificateFromPem(opts.signer.certPem);
  const cert = pki.createCertificate();
  cert.publicKey = real.publicKey;
  cert.serialNumber = serialNumber();
  cert.validity.notBefore = opts.notBefore;
  cert.validity.notAfter = opts.notAfter;
  cert.setSubject(real.subject.attributes);
  cert.setIssuer(signer.subject.attributes);
  cert.setExtensions([
    { name: 'basicConstraints', cA: true, pathLenConstraint: 0, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
    // Derived from the key: the same as the real issuer's, so the leaf's key identifier matches.
    { name: 'subjectKeyIdentifier' },
    { name: 'authorityKeyIdentifier', keyIdentifier: signer.generateSubjectKeyIdentifier().getBytes() },
  ]);
  cert.sign(pki.privateKeyFromPem((opts.signer ?? issuer).keyPem), forge.md.sha256.create());
  return pki.certificateToPem(cert).replace(/\r\n/g, '\n');
}

/** `chainPem` (leaf first) with `inserted` right after the leaf: what Node then shows as its issuer. */
export function withAfterLeaf(chainPem: string, inserted: string): string {
  const [leaf, ...rest] = splitPem(chainPem);
  return joinPem([leaf!, inserted, ...rest]);
}

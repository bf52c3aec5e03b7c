import { createPrivateKey, createPublicKey, type X509Certificate } from 'node:crypto';
import { describeError } from '../errors.js';
import { oneLineName, parseCertificate } from './certificate-info.js';
import { splitPem } from './pem.js';
import { verifyChain } from './verify-chain.js';

/**
 * Checks of certificate material read from disk or a Secret. Each returns the problems found (empty
 * when fine) so a caller can report all of them at once, naming the file each comes from.
 */

/** Problems with a certificate/key pair meant to sign others (anchor or issuer). */
export function caPairProblems(certPem: string, keyPem: string | undefined, at: Date): string[] {
  let cert: X509Certificate;
  try {
    cert = parseCertificate(certPem);
  } catch (err) {
    return [describeError(err)];
  }
  const problems: string[] = [];
  if (!cert.ca) problems.push(`"${oneLineName(cert.subject)}" is not a CA certificate`);
  const expiry = windowProblem(cert, at);
  if (expiry) problems.push(expiry);
  if (keyPem !== undefined) {
    const keyProblem = keyMismatch(cert, keyPem);
    if (keyProblem) problems.push(keyProblem);
  }
  return problems;
}

/** Problems with a trust anchor: a CA pair that is also self-signed. */
export function anchorProblems(certPem: string, keyPem: string | undefined, at: Date): string[] {
  const problems = caPairProblems(certPem, keyPem, at);
  if (problems.length > 0) return problems;
  const verdict = verifyChain(certPem, [], [certPem], at);
  return verdict.ok ? [] : ['the trust anchor is not self-signed'];
}

/**
 * Problems with a trust-anchor file as gateways, identity and install read it: one self-signed CA,
 * or, while the anchor is being rotated, a bundle of them (the old one and the new one).
 */
export function anchorBundleProblems(bundlePem: string, at: Date): string[] {
  const anchors = splitPem(bundlePem);
  if (anchors.length === 0) return ['no PEM certificate in the trust anchor file'];
  return anchors.flatMap((pem, i) =>
    anchorProblems(pem, undefined, at).map((p) =>
      anchors.length > 1 ? `anchor #${i + 1} of the bundle: ${p}` : p,
    ),
  );
}

/** Problems with an issuer: a CA pair whose certificate chains to the anchor (or one of a bundle's). */
export function issuerProblems(certPem: string, keyPem: string, anchorPem: string, at: Date): string[] {
  const problems = caPairProblems(certPem, keyPem, at);
  if (problems.length > 0) return problems;
  const verdict = verifyChain(certPem, [], splitPem(anchorPem), at);
  return verdict.ok ? [] : [`not signed by the trust anchor: ${verdict.reason}`];
}

/** Why `keyPem` is not the private key of `cert`, or undefined when it is. */
export function keyMismatch(cert: X509Certificate, keyPem: string): string | undefined {
  try {
    const fromKey = createPublicKey(createPrivateKey(keyPem)).export({ type: 'spki', format: 'der' });
    const fromCert = cert.publicKey.export({ type: 'spki', format: 'der' });
    return fromKey.equals(fromCert) ? undefined : 'the private key does not match the certificate';
  } catch (err) {
    return `not a readable private key: ${describeError(err)}`;
  }
}

function windowProblem(cert: X509Certificate, at: Date): string | undefined {
  if (at > new Date(cert.validTo)) return `expired at ${new Date(cert.validTo).toISOString()}`;
  if (at < new Date(cert.validFrom)) return `not valid before ${new Date(cert.validFrom).toISOString()}`;
  return undefined;
}

import { createPrivateKey, createPublicKey, type KeyObject, type X509Certificate } from 'node:crypto';
import { describeError } from '../errors.js';
import { oneLineName, parseCertificate } from './certificate-info.js';
import { splitPem } from './pem.js';
import { signs, verifyChain } from './verify-chain.js';
import { unsupportedSigningKey } from './x509-signing.js';

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
  return problems.length > 0 ? problems : anchorShapeProblems(parseCertificate(certPem));
}

/** What makes a certificate no trust anchor at any time: not a CA, or not self-signed. */
function anchorShapeProblems(cert: X509Certificate): string[] {
  if (!cert.ca) return [`"${oneLineName(cert.subject)}" is not a CA certificate`];
  return signs(cert, cert) ? [] : ['the trust anchor is not self-signed'];
}

/** What a trust-anchor file holds: why it cannot be used, and what is wrong but harmless. */
export interface AnchorBundleReview {
  problems: string[];
  warnings: string[];
}

/**
 * A trust-anchor file as gateways, identity and install read it: one self-signed CA, or, while the
 * anchor is being rotated, a bundle of them (the old one and the new one). An anchor of a bundle
 * outside its validity is only a warning while another is valid: if step 3 of a rotation is late,
 * the old anchor expires in the bundle, where it is unused (TLS and verifyChain pick the signer by
 * name and key), and refusing the whole file would stop identity for an anchor nothing chains to.
 * An issuer that does chain to it is refused by issuerProblems.
 */
export function reviewAnchorBundle(bundlePem: string, at: Date): AnchorBundleReview {
  const anchors = splitPem(bundlePem);
  if (anchors.length === 0)
    return { problems: ['no PEM certificate in the trust anchor file'], warnings: [] };
  const label = (i: number, p: string) => (anchors.length > 1 ? `anchor #${i + 1} of the bundle: ${p}` : p);
  const problems: string[] = [];
  const outOfWindow: string[] = [];
  let valid = 0;
  for (const [i, pem] of anchors.entries()) {
    let cert: X509Certificate;
    try {
      cert = parseCertificate(pem);
    } catch (err) {
      problems.push(label(i, describeError(err)));
      continue;
    }
    problems.push(...anchorShapeProblems(cert).map((p) => label(i, p)));
    const window = windowProblem(cert, at);
    if (window) outOfWindow.push(label(i, window));
    else valid++;
  }
  if (valid === 0) return { problems: [...problems, ...outOfWindow], warnings: [] };
  return {
    problems,
    warnings: outOfWindow.map(
      (w) =>
        `${w}: ignored while another anchor of the bundle is valid; drop it from the bundle (after an anchor rotation: isthmus certs new-anchor --finish, then step 3 in every cluster)`,
    ),
  };
}

/** Problems with a trust-anchor file (see reviewAnchorBundle; its warnings are not among them). */
export function anchorBundleProblems(bundlePem: string, at: Date): string[] {
  return reviewAnchorBundle(bundlePem, at).problems;
}

/** What is wrong with a trust-anchor file but does not stop its use, for a log line. */
export function anchorBundleWarnings(bundlePem: string, at: Date): string[] {
  return reviewAnchorBundle(bundlePem, at).warnings;
}

/** Problems with an issuer: a CA pair whose certificate chains to the anchor (or one of a bundle's). */
export function issuerProblems(certPem: string, keyPem: string, anchorPem: string, at: Date): string[] {
  const problems = [...caPairProblems(certPem, keyPem, at), ...signingKeyProblems(certPem, 'issuer')];
  if (problems.length > 0) return problems;
  const anchors = splitPem(anchorPem);
  // The valid anchors first: an expired one renewed with the same name and key must not hide it.
  const valid = anchors.filter((a) => {
    try {
      return windowProblem(parseCertificate(a), at) === undefined;
    } catch {
      return false;
    }
  });
  if (valid.length > 0 && verifyChain(certPem, [], valid, at).ok) return [];
  const verdict = verifyChain(certPem, [], anchors, at);
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

/** What a CA certificate is to sign with: says what to do about a key Isthmus cannot sign with. */
export type SigningRole = 'issuer' | 'trust anchor';

/**
 * Why Isthmus cannot sign with the key of `certPem` (x509-signing.ts: RSA, or ECDSA on P-256, P-384
 * or P-521). An issuer of another key type would pass every other check, then fail every Certify
 * call. Any anchor is fine to trust (node:crypto verifies), so only what signs with it checks it.
 */
export function signingKeyProblems(certPem: string, role: SigningRole): string[] {
  let key: KeyObject;
  try {
    key = parseCertificate(certPem).publicKey;
  } catch {
    return []; // unreadable: caPairProblems says so
  }
  const unsupported = unsupportedSigningKey(key);
  if (unsupported === undefined) return [];
  return [
    role === 'issuer'
      ? `the issuer key is ${unsupported}; make the issuer with one (cert-manager Certificate: privateKey.algorithm: ECDSA, size: 256, or RSA; step certificate create --profile intermediate-ca, whose default is ECDSA P-256; or isthmus certs)`
      : `the trust anchor key is ${unsupported}, so isthmus certs cannot sign issuers or CRLs with it. Make this cluster's issuers with the tool that made the anchor, with such keys, or move to an anchor made by isthmus certs (isthmus certs new-anchor rotates to one)`,
  ];
}

function windowProblem(cert: X509Certificate, at: Date): string | undefined {
  if (at > new Date(cert.validTo)) return `expired at ${new Date(cert.validTo).toISOString()}`;
  if (at < new Date(cert.validFrom)) return `not valid before ${new Date(cert.validFrom).toISOString()}`;
  return undefined;
}

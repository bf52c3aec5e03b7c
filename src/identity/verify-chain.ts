import type { X509Certificate } from 'node:crypto';
import { describeError } from '../errors.js';
import { oneLineName, parseCertificate } from './certificate-info.js';

export type ChainVerdict = { ok: true } | { ok: false; reason: string };

/** RFC 5280 allows longer paths; ours are leaf → issuer → anchor, so a short bound stops loops early. */
const MAX_DEPTH = 5;

/**
 * Path validation in the spirit of RFC 5280 §6.1, enough to diagnose what OpenSSL would refuse during
 * the handshake: names chain (and key identifiers, via checkIssued), signatures verify, every
 * certificate is valid at `at`, every signer is a CA. Not checked here: pathLen and key usage bits
 * (node:crypto does not expose them); node:tls enforces those on the wire.
 */
export function verifyChain(
  leafPem: string,
  intermediatesPem: readonly string[],
  anchorsPem: readonly string[],
  at: Date = new Date(),
): ChainVerdict {
  let leaf: X509Certificate;
  let intermediates: X509Certificate[];
  let anchors: X509Certificate[];
  try {
    leaf = parseCertificate(leafPem);
    intermediates = intermediatesPem.map((p) => parseCertificate(p));
    anchors = anchorsPem.map((p) => parseCertificate(p));
  } catch (err) {
    return { ok: false, reason: describeError(err) };
  }
  if (anchors.length === 0) return { ok: false, reason: 'no trust anchor given' };

  let current = leaf;
  const unused = [...intermediates];
  for (let depth = 0; depth < MAX_DEPTH; depth++) {
    const window = validityProblem(current, at);
    if (window) return { ok: false, reason: window };
    const anchor = anchors.find((a) => signs(a, current));
    if (anchor) {
      const anchorWindow = validityProblem(anchor, at);
      if (anchorWindow) return { ok: false, reason: `trust anchor: ${anchorWindow}` };
      if (!anchor.ca) return { ok: false, reason: `trust anchor "${anchor.subject}" is not a CA` };
      return { ok: true };
    }
    const index = unused.findIndex((c) => signs(c, current));
    if (index < 0) {
      return {
        ok: false,
        reason: `"${describe(current)}" is not signed by any given trust anchor or intermediate (issuer "${oneLineName(current.issuer)}")`,
      };
    }
    const parent = unused.splice(index, 1)[0]!;
    if (!parent.ca) return { ok: false, reason: `intermediate "${describe(parent)}" is not a CA` };
    current = parent;
  }
  return { ok: false, reason: `chain longer than ${MAX_DEPTH} certificates` };
}

/** Whether `parent` names and keys match `child`'s issuer and its key verifies `child`'s signature. */
export function signs(parent: X509Certificate, child: X509Certificate): boolean {
  try {
    return child.checkIssued(parent) && child.verify(parent.publicKey);
  } catch {
    return false;
  }
}

function validityProblem(cert: X509Certificate, at: Date): string | undefined {
  const notBefore = new Date(cert.validFrom);
  const notAfter = new Date(cert.validTo);
  if (at < notBefore) return `"${describe(cert)}" is not valid before ${notBefore.toISOString()}`;
  if (at > notAfter) return `"${describe(cert)}" expired at ${notAfter.toISOString()}`;
  return undefined;
}

function describe(cert: X509Certificate): string {
  return oneLineName(cert.subject) || cert.subjectAltName || cert.serialNumber;
}

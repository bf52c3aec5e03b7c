/**
 * `isthmus identity` holds its own serving certificate to the CRL the gateways load (`--crl-file`,
 * crl-watch.ts). Gateways refuse a revoked one before they send their token, so identity replaces
 * it at once, through the serving certificate's usual renewal (serving-cert.ts: open connections
 * and calls in flight keep theirs, new handshakes get the new one). The new certificate has a new
 * serial, so the list that revoked the old one does not revoke it. A revoked issuer is another
 * matter: whatever it signs is refused too, so renewing cannot help, and the operator is told to
 * renew the issuer, which identity follows (issuer-watch.ts).
 */
import { X509Certificate } from 'node:crypto';
import type { KeyPairPem } from './ca.js';
import type { IdentityServer } from './certify-service.js';
import { normaliseSerial } from './crl.js';
import { splitPem } from './pem.js';
import type { RevocationList } from './revocation.js';
import type { ServingCertificate } from './serving-cert.js';

/** What the CRL says of the serving certificate: in force, to be replaced, or past renewing. */
export type ServingVerdict =
  | { revoked: false }
  | { revoked: 'serving'; reason: string }
  | { revoked: 'issuer'; reason: string; issuerSerial: string };

/**
 * Judges the serving chain (leaf, then the issuer that signed it) and, when the list refuses it,
 * whether the issuer in force could sign one it accepts: it cannot if the anchor's CRL revokes it.
 * The two issuers differ while a renewal after an issuer reload is pending.
 */
export function servingVerdict(
  list: RevocationList,
  servingChainPem: string,
  issuerCertPem: string,
): ServingVerdict {
  const [leafPem, signerPem] = splitPem(servingChainPem);
  const reason = list.check(
    new X509Certificate(leafPem!),
    signerPem ? new X509Certificate(signerPem) : undefined,
  );
  if (reason === undefined) return { revoked: false };
  // Without a bundled issuer that signed it, the issuer is checked against the anchor's CRL.
  const issuerReason = list.check(new X509Certificate(splitPem(issuerCertPem)[0] ?? issuerCertPem));
  return issuerReason === undefined
    ? { revoked: 'serving', reason }
    : { revoked: 'issuer', reason: issuerReason, issuerSerial: serialOfPem(issuerCertPem) };
}

/** The serial of the first certificate of `pem` (cert-manager's tls.crt carries the issuer's CA after it). */
function serialOfPem(pem: string): string {
  return normaliseSerial(new X509Certificate(splitPem(pem)[0] ?? pem).serialNumber);
}

/** What one check did. */
export type ServingCheck =
  | { outcome: 'in-force' }
  | { outcome: 'replaced'; revoked: ServingCertificate; renewed: ServingCertificate; reason: string }
  /** The renewal failed (its error is reported by the provider, which retries with backoff). */
  | { outcome: 'renewal-failed'; revoked: ServingCertificate; reason: string }
  | { outcome: 'issuer-revoked'; serving: ServingCertificate; issuerSerial: string; reason: string };

export interface ServingRevocationOptions {
  /** The list in force (CrlWatcher.current). */
  crl: () => RevocationList;
  /** The issuer in force (IssuerWatcher.current). */
  issuer: () => KeyPairPem;
  server: Pick<IdentityServer, 'servingCertificate' | 'renewServingCertificate'>;
}

/**
 * The check to run once the server is up, after each CRL load and after each issuer reload. Checks
 * run one at a time, each against the list and certificate in force when it starts, so two loads
 * in quick succession renew once. It renews only on a verdict of 'serving', and each check is
 * caused by a load or a reload, never by its own outcome: a revoked issuer is reported, not
 * renewed from in a loop.
 */
export function servingRevocationCheck(opts: ServingRevocationOptions): () => Promise<ServingCheck> {
  let queue: Promise<unknown> = Promise.resolve();
  /** A renewal from this issuer was refused too: the serving serial it made, and why. */
  let futile: { issuerPem: string; serial: string; reason: string } | undefined;
  const check = async (): Promise<ServingCheck> => {
    const serving = opts.server.servingCertificate();
    const issuerPem = opts.issuer().certPem;
    const verdict = servingVerdict(opts.crl(), serving.chainPem, issuerPem);
    if (verdict.revoked === false) return { outcome: 'in-force' };
    // Renewing again from the issuer whose last renewal was refused would only mint another.
    if (verdict.revoked === 'serving' && futile?.issuerPem === issuerPem && futile.serial === serving.serial)
      return {
        outcome: 'issuer-revoked',
        serving,
        issuerSerial: serialOfPem(issuerPem),
        reason: verdict.reason,
      };
    if (verdict.revoked === 'issuer') {
      return {
        outcome: 'issuer-revoked',
        serving,
        issuerSerial: verdict.issuerSerial,
        reason: verdict.reason,
      };
    }
    const renewed = await opts.server.renewServingCertificate();
    if (renewed.serial === serving.serial)
      return { outcome: 'renewal-failed', revoked: serving, reason: verdict.reason };
    // The issuer's serial may be clean while its key is not (renewed with the same key, the old
    // certificate revoked): then the new one is refused too, and only a new issuer helps.
    const still = servingVerdict(opts.crl(), renewed.chainPem, issuerPem);
    if (still.revoked !== false) {
      futile = { issuerPem, serial: renewed.serial, reason: still.reason };
      return {
        outcome: 'issuer-revoked',
        serving: renewed,
        issuerSerial: serialOfPem(issuerPem),
        reason: still.reason,
      };
    }
    return { outcome: 'replaced', revoked: serving, renewed, reason: verdict.reason };
  };
  return () => {
    const next = queue.then(check);
    queue = next.catch(() => {});
    return next;
  };
}

/** The log line for a check, and whether it is an error; nothing when the certificate is in force. */
export function servingCheckLine(check: ServingCheck): { error: boolean; line: string } | undefined {
  switch (check.outcome) {
    case 'in-force':
      return undefined;
    case 'replaced':
      return {
        error: false,
        line: `identity: serving certificate serial=${check.revoked.serial} is revoked (${check.reason}): replaced by serial=${check.renewed.serial} notAfter=${check.renewed.notAfter.toISOString()}`,
      };
    case 'renewal-failed':
      return {
        error: true,
        line: `identity: serving certificate serial=${check.revoked.serial} is revoked (${check.reason}) and could not be replaced yet; the renewal is retried`,
      };
    case 'issuer-revoked':
      return {
        error: true,
        line: `identity: serving certificate serial=${check.serving.serial} is refused by the CRL and a new one would be too: the issuer in force (serial ${check.issuerSerial}) is revoked (${check.reason}). Renew the issuer (isthmus certs --clusters <cluster> --reuse-anchor --force, then isthmus upgrade): identity follows it and renews its serving certificate`,
      };
  }
}

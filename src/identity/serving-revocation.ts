/**
 * `isthmus identity` holds its own serving certificate to the CRL the gateways load (`--crl-file`,
 * crl-watch.ts). Gateways refuse a revoked one before they send their token, so identity replaces
 * it at once, through the serving certificate's usual renewal (serving-cert.ts: open connections
 * and calls in flight keep theirs, new handshakes get the new one). The new certificate has a new
 * serial, so the list that revoked the old one does not revoke it. A revoked issuer is another
 * matter: whatever it signs is refused too, so renewing cannot help, and the operator is told to
 * renew the issuer, which identity follows (issuer-watch.ts).
 */
import type { KeyPairPem } from './ca.js';
import type { IdentityServer } from './certify-service.js';
import { type OwnRevocationCheck, ownRevocationCheck } from './own-revocation.js';
import type { RevocationList } from './revocation.js';
import type { ServingCertificate } from './serving-cert.js';

/** What one check did (own-revocation.ts). */
export type ServingCheck = OwnRevocationCheck<ServingCertificate>;

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
 * in quick succession renew once. Identity knows the issuer it signs with: a revoked one is
 * reported, never renewed from, and each check is caused by a load or a reload, never by its own
 * outcome.
 */
export function servingRevocationCheck(opts: ServingRevocationOptions): () => Promise<ServingCheck> {
  return ownRevocationCheck({
    crl: opts.crl,
    current: () => opts.server.servingCertificate(),
    issuerInForce: () => opts.issuer().certPem,
    renew: () => opts.server.renewServingCertificate(),
  });
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
        line: `identity: serving certificate serial=${check.certificate.serial} is refused by the CRL and a new one would be too: the issuer in force (serial ${check.issuerSerial}) is revoked (${check.reason}). Renew the issuer (isthmus certs --clusters <cluster> --reuse-anchor --force, then isthmus upgrade): identity follows it and renews its serving certificate`,
      };
  }
}

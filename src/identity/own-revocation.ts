/**
 * What a CRL means for a certificate a process holds itself and can renew: identity's serving
 * certificate (serving-revocation.ts) and a gateway's own (src/gateway/own-certificate-revocation.ts).
 * Renewing replaces a revoked leaf: the new one has a new serial, which the list does not name. A
 * revoked issuer is another matter: whatever it signs is refused too, so a new leaf from it cannot
 * help. A holder that knows the issuer new certificates come from (identity) reports a revoked one
 * without renewing; one that does not (a gateway: identity may have renewed its issuer since) finds
 * out by renewing once. Either way a check runs because of a load, never because of its own result,
 * and a renewal that came back refused is not repeated: nothing renews in a loop.
 */
import { X509Certificate } from 'node:crypto';
import { IsthmusError } from '../errors.js';
import { normaliseSerial } from './crl.js';
import { splitPem } from './pem.js';
import type { RevocationList } from './revocation.js';

/** What the CRL says of a chain: in force, a revoked leaf (renewing helps) or a revoked issuer. */
export type OwnCertificateVerdict =
  | { revoked: false }
  | { revoked: 'leaf'; reason: string }
  | { revoked: 'issuer'; reason: string; issuerSerial: string };

/**
 * Judges `chainPem` (leaf, then the issuer that signed it) and, when the list refuses it, whether
 * `issuerCertPem` could sign one it accepts: it cannot if the anchor's CRL revokes it. The two
 * issuers differ while identity's renewal after an issuer reload is pending.
 */
export function ownCertificateVerdict(
  list: RevocationList,
  chainPem: string,
  issuerCertPem: string,
): OwnCertificateVerdict {
  const [leafPem, signerPem] = splitPem(chainPem);
  const reason = list.check(
    new X509Certificate(leafPem!),
    signerPem ? new X509Certificate(signerPem) : undefined,
  );
  if (reason === undefined) return { revoked: false };
  // Without a bundled issuer that signed it, the issuer is checked against the anchor's CRL.
  const issuerReason = list.check(new X509Certificate(splitPem(issuerCertPem)[0] ?? issuerCertPem));
  return issuerReason === undefined
    ? { revoked: 'leaf', reason }
    : { revoked: 'issuer', reason: issuerReason, issuerSerial: serialOfPem(issuerCertPem) };
}

/** The serial of the first certificate of `pem` (cert-manager's tls.crt carries the issuer's CA after it). */
export function serialOfPem(pem: string): string {
  return normaliseSerial(new X509Certificate(splitPem(pem)[0] ?? pem).serialNumber);
}

/** The issuer a chain carries after its leaf (identity's `chain_pem` always does). */
function issuerOfChain(chainPem: string): string {
  const issuer = splitPem(chainPem)[1];
  if (issuer === undefined)
    throw new IsthmusError('CERT_INVALID', 'the certificate in use carries no issuer to judge');
  return issuer;
}

/** A certificate in use, as a check needs it: `serial` lowercase hex, as `certs revoke` takes it. */
export interface HeldCertificate {
  chainPem: string;
  serial: string;
}

/** What one check did. */
export type OwnRevocationCheck<C extends HeldCertificate> =
  | { outcome: 'in-force' }
  | { outcome: 'replaced'; revoked: C; renewed: C; reason: string }
  /**
   * The renewal failed: its error is reported by whoever renews, which retries with backoff.
   * `issuerSerial`: the issuer of the certificate in use is what the list revokes.
   */
  | { outcome: 'renewal-failed'; revoked: C; reason: string; issuerSerial?: string }
  | { outcome: 'issuer-revoked'; certificate: C; issuerSerial: string; reason: string };

export interface OwnRevocationOptions<C extends HeldCertificate> {
  /** The list in force (CrlWatcher.current). */
  crl: () => RevocationList;
  /** The certificate in use. */
  current: () => C;
  /**
   * The issuer new certificates come from, when the holder knows it (identity holds it): a revoked
   * one is reported and nothing renewed. Absent (a gateway, which asks identity), the issuer of
   * the certificate in use stands for it, and a revoked one is renewed from once: identity may
   * sign with another issuer by now.
   */
  issuerInForce?: () => string;
  /** Renews now; resolves with the certificate in use afterwards (the same one when it failed). */
  renew: () => Promise<C>;
}

/**
 * The check to run after each CRL load. Checks run one at a time, each against the list and the
 * certificate in use when it starts, so two loads in quick succession renew once.
 */
export function ownRevocationCheck<C extends HeldCertificate>(
  opts: OwnRevocationOptions<C>,
): () => Promise<OwnRevocationCheck<C>> {
  let queue: Promise<unknown> = Promise.resolve();
  /** A renewal from this issuer was refused too: the serial it made. */
  let futile: { issuerPem: string; serial: string } | undefined;
  const issuerFor = (held: C): string => opts.issuerInForce?.() ?? issuerOfChain(held.chainPem);
  const check = async (): Promise<OwnRevocationCheck<C>> => {
    const held = opts.current();
    const issuerPem = issuerFor(held);
    const verdict = ownCertificateVerdict(opts.crl(), held.chainPem, issuerPem);
    if (verdict.revoked === false) return { outcome: 'in-force' };
    const issuerSerial = verdict.revoked === 'issuer' ? verdict.issuerSerial : serialOfPem(issuerPem);
    // Renewing again from the issuer whose last renewal was refused would only mint another.
    const known = futile?.issuerPem === issuerPem && futile.serial === held.serial;
    if (known || (verdict.revoked === 'issuer' && opts.issuerInForce))
      return { outcome: 'issuer-revoked', certificate: held, issuerSerial, reason: verdict.reason };
    const renewed = await opts.renew();
    if (renewed.serial === held.serial) {
      const failed = { outcome: 'renewal-failed', revoked: held, reason: verdict.reason } as const;
      return verdict.revoked === 'issuer' ? { ...failed, issuerSerial } : failed;
    }
    // The issuer's serial may be clean while its key is not (renewed with the same key, the old
    // certificate revoked): then the new one is refused too, and only a new issuer helps.
    const renewedIssuer = opts.issuerInForce ? issuerPem : issuerOfChain(renewed.chainPem);
    const still = ownCertificateVerdict(opts.crl(), renewed.chainPem, renewedIssuer);
    if (still.revoked !== false) {
      futile = { issuerPem: renewedIssuer, serial: renewed.serial };
      return {
        outcome: 'issuer-revoked',
        certificate: renewed,
        issuerSerial: serialOfPem(renewedIssuer),
        reason: still.reason,
      };
    }
    return { outcome: 'replaced', revoked: held, renewed, reason: verdict.reason };
  };
  return () => {
    const next = queue.then(check);
    queue = next.catch(() => {});
    return next;
  };
}

/**
 * `isthmus certs revoke`, the pure part: what it is asked (RevokeOptions), which CAs sign the new
 * CRL entry (pickSigners), what it did (RevokeResult) and how that is said (revokedLines). The
 * files are read and written by revoke.ts and revoke-signers.ts.
 */
import { X509Certificate } from 'node:crypto';
import { dirname } from 'node:path';
import { describeError } from '../errors.js';
import type { CaFiles } from './ca-files.js';
import type { RevocationReason } from './crl.js';
import type { Skipped } from './crl-bundle.js';

export interface RevokeOptions {
  dir: string;
  /** Revoke a gateway certificate of this cluster (its issuer signs the CRL) … */
  cluster?: string;
  /** … or this cluster's issuer itself (the trust anchor signs; needs ca.key). */
  issuerOf?: string;
  /** The certificate to revoke (its serial is taken and its issuer checked) … */
  certFile?: string;
  /**
   * … or its serial number in hex, as `openssl x509 -serial` prints it: revoked by every unexpired
   * CA, or with issuerOf, by the anchor that signed the cluster's issuer of that serial if it is here.
   */
  serial?: string;
  reason?: RevocationReason;
  /**
   * With --serial, pass over a CA whose key is missing (kept offline, say) rather than refuse: its
   * CRL stays as it is, and the result's `unsigned` names it.
   */
  skipMissingKeys?: boolean;
  at?: Date;
}

/** Where a CA stands in the directory: in force, replaced (retired/), or under previous/ in a rotation. */
export type CaStanding = 'in force' | 'replaced' | 'previous anchor';

/** One CRL written: by which CA, and what it lists now. */
export interface CrlWritten {
  crlFile: string;
  /** The serial of the CA that signs it (lowercase hex). */
  caSerial: string;
  standing: CaStanding;
  /** False when the serial was already listed (the CRL is re-signed all the same). */
  added: boolean;
  revokedCount: number;
  /**
   * The bundle (crl.pem) the CA's earlier list was taken from, when its own CRL file was missing:
   * its entries and CRL number go on from there.
   */
  recoveredFrom?: string;
  /** The CRL file was there but older than its copy in `recoveredFrom`: both CRL numbers. */
  olderFile?: { own: bigint | undefined; copy: bigint | undefined };
}

/**
 * A CRL the new crl.pem would have dropped while its CA is still usable (its file lost, or a CA's
 * list that only crl.pem still held), taken from the crl.pem in force: gateways refuse a bundle
 * that drops it.
 */
export interface CrlCarried {
  /** The CA's subject, on one line. */
  subject: string;
  caSerial: string;
  crlNumber: bigint | undefined;
  revokedCount: number;
  /** The crl.pem it was taken from. */
  from: string;
  /** The CA's CRL file it was written back to, when the CA is in the directory without one. */
  restored?: string;
}

/** A replaced issuer's CRL found as the issuer.crl of the one in force, kept with it in retired/. */
export interface IssuerRetired {
  /** Where its CRL is now: <cluster>/retired/<serial>/issuer.crl. */
  crlFile: string;
  caSerial: string;
  /** Where it was: <cluster>/issuer.crl. */
  from: string;
}

export interface RevokeResult {
  /** The first of `crls`: the CA that signed --cert, or the one in force with --serial. */
  crlFile: string;
  bundleFile: string;
  serial: string;
  /** False when every CRL already listed the serial. */
  added: boolean;
  /** What the first of `crls` lists now. */
  revokedCount: number;
  /** Every CRL written: one with --cert; with --serial, one per unexpired CA that may have signed it. */
  crls: CrlWritten[];
  /**
   * The CRLs not written, with the reason: a CA whose certificate is unreadable, and with
   * skipMissingKeys one whose key is missing.
   */
  unsigned: Skipped[];
  /** Whether the certificate was named by serial alone, so which CA signed it was not known. */
  bySerial: boolean;
  /** Files left out of the bundle because gateways could not verify them, with the reason. */
  skipped: Skipped[];
  /** CRLs taken over from the crl.pem in force, which the new one would have dropped. */
  carried?: CrlCarried[];
  /** Replaced issuers whose CRL was found in place of the current one's, moved to retired/. */
  retired?: IssuerRetired[];
  /** The clusters of the directory (those with an issuer), every one of which needs the bundle. */
  clusters: string[];
  /**
   * During an anchor rotation, why a gateway that trusts the old anchor alone (before step 1)
   * refuses crl.pem, when it does: it holds a CRL or an issuer under the new anchor.
   */
  oldAnchorRefuses?: string;
  /** What was revoked: a leaf (gateway or identity) certificate of `cluster`, or an issuer of `issuerOf`. */
  cluster?: string;
  /** With cluster and --cert: whose leaf it is, by its URI SAN (unknown from a serial alone). */
  holder?: 'gateway' | 'identity';
  issuerOf?: string;
  /** With issuerOf: whether the issuer revoked is the cluster's current one (<dir>/<cluster>/issuer.crt). */
  currentIssuer?: boolean;
}

/** A CA of the directory as `pickSigners` weighs it. */
export interface CandidateCa {
  files: CaFiles;
  cert: X509Certificate;
  hasKey: boolean;
}

/**
 * Pure: a CA as pickSigners weighs it, or why it cannot be (an unreadable certificate, such as the
 * broken issuer.crt that `certs --force` keeps in retired/unreadable-<ms>/). Skipped, not fatal:
 * one bad file must not stop the revocation of what the others signed.
 */
export function candidateOf(files: CaFiles, certPem: string, hasKey: boolean): CandidateCa | Skipped {
  try {
    return { files, cert: new X509Certificate(certPem), hasKey };
  } catch (err) {
    return {
      file: files.crl,
      reason: `${files.cert} is not a certificate (${describeError(err)}): a certificate that CA signed is not revoked by this`,
    };
  }
}

/**
 * Pure: the CAs whose CRL gets the entry, current first. With `target`, the one that issued it;
 * with a serial alone, every distinct one still valid at `at` (an expired CA's leaves have expired
 * too, and crl.pem leaves it out). A CA without its key cannot sign; any that may have signed the
 * serial is in `missingKeys` (the caller refuses, writing nothing), since revoking in the others
 * only would report success while the certificate stays admitted. With `skipMissingKeys`, the
 * operator's choice, they are passed over with the reason, unless no CA is left.
 */
export function pickSigners(
  candidates: readonly CandidateCa[],
  target: X509Certificate | undefined,
  at: Date,
  skipMissingKeys = false,
): { signers: CandidateCa[]; unsigned: Skipped[]; missingKeys: CandidateCa[] } | { notIssued: true } {
  if (target) {
    const ca = candidates.find((c) => issued(c.cert, target));
    if (!ca) return { notIssued: true };
    return ca.hasKey
      ? { signers: [ca], unsigned: [], missingKeys: [] }
      : { signers: [], unsigned: [], missingKeys: [ca] };
  }
  const seen = new Set<string>();
  const valid = candidates.filter((c, i) => {
    // The one in force is always weighed: loadCertificates has checked it.
    if (seen.has(c.cert.fingerprint256) || (i > 0 && at > new Date(c.cert.validTo))) return false;
    seen.add(c.cert.fingerprint256);
    return true;
  });
  const signers = valid.filter((c) => c.hasKey);
  const keyless = valid.filter((c) => !c.hasKey);
  if (keyless.length > 0 && (!skipMissingKeys || signers.length === 0))
    return { signers: [], unsigned: [], missingKeys: keyless };
  const unsigned = keyless.map((c) => ({
    file: c.files.crl,
    reason: `${c.files.key} is missing: a certificate that CA signed is not revoked by this`,
  }));
  return { signers, unsigned, missingKeys: [] };
}

function issued(ca: X509Certificate, cert: X509Certificate): boolean {
  return cert.checkIssued(ca) && cert.verify(ca.publicKey);
}

/**
 * What `certs revoke` says it did: the CRL written, or with --serial each one, naming its CA, so
 * the operator sees which issuers now revoke the serial.
 */
export function revokedLines(r: RevokeResult): string {
  return (
    (r.retired ?? []).map(retiredLine).join('') +
    revokedSummary(r) +
    r.crls.map(recoveredLine).join('') +
    (r.carried ?? []).map(carriedLine).join('')
  );
}

/** An issuer.crl of the issuer the one in force replaced, kept with that one in retired/. */
function retiredLine(c: IssuerRetired): string {
  return `${c.from} was the CRL of the issuer this one replaced (serial ${c.caSerial}, still valid: renewed with a new key, as cert-manager does): it is kept with that issuer's certificate in ${c.crlFile}, and crl.pem carries both until that issuer expires. Its key is not kept (the Secret holds the new one): to revoke a certificate that issuer signed, put its key in ${dirname(c.crlFile)}/issuer.key, or revoke that issuer itself (--issuer-of)\n`;
}

/** A CRL crl.pem would have lost, taken from the one in force. */
function carriedLine(c: CrlCarried): string {
  const where = c.restored
    ? `written back to ${c.restored}, which was missing`
    : 'carried into the new crl.pem (its CA has no CRL file in this directory)';
  return `the CRL of "${c.subject}" (serial ${c.caSerial}, CRL number ${c.crlNumber ?? 'none'}, ${c.revokedCount} revoked) was not in the files while that CA is still usable, and gateways refuse a crl.pem that drops it: taken from ${c.from}, ${where}\n`;
}

/** A CRL file that was missing, or older than its copy in crl.pem, and went on from the copy, said so. */
function recoveredLine(c: CrlWritten): string {
  if (c.recoveredFrom === undefined) return '';
  if (c.olderFile)
    return `${c.crlFile} was older than its copy in ${c.recoveredFrom} (CRL number ${c.olderFile.own ?? 'none'} < ${c.olderFile.copy ?? 'none'}): its entries and CRL number were taken from the copy\n`;
  return `${c.crlFile} was missing: its earlier entries and CRL number were taken from the copy in ${c.recoveredFrom}\n`;
}

function revokedSummary(r: RevokeResult): string {
  const verb = r.added ? 'revoked' : 'already revoked';
  if (!r.bySerial || r.crls.length === 1) {
    const only = r.crls[0]!;
    return `${verb} serial ${r.serial}: ${only.crlFile} now lists ${only.revokedCount}\n`;
  }
  const cas = r.cluster !== undefined ? `issuer of ${r.cluster}` : 'trust anchor';
  const kind = r.cluster !== undefined ? 'issuer' : 'anchor';
  return (
    `${verb} serial ${r.serial} in the CRL of each ${cas} that may have signed it (a serial alone does not say which):\n` +
    r.crls
      .map(
        (c) =>
          `  ${c.crlFile} (${kind} serial ${c.caSerial}, ${STANDING[c.standing]}): ${c.added ? 'now lists' : 'already listed it; lists'} ${c.revokedCount}\n`,
      )
      .join('')
  );
}

const STANDING: Record<CaStanding, string> = {
  'in force': 'in force',
  replaced: 'replaced',
  'previous anchor': 'under the previous anchor',
};

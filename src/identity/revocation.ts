/**
 * Which peer certificates are revoked, from a CRL bundle (`isthmus certs revoke` writes it): the
 * trust anchor's CRL, each cluster issuer's CRL, and the issuer certificates themselves. A gateway
 * leaf is revoked when the CRL of the issuer that signed it lists its serial, an issuer when the
 * anchor's CRL lists it. Every CRL must be signed by the anchor or by a bundled issuer that chains
 * to the anchor, or the bundle is refused: a forged or foreign list never counts. The issuer
 * certificates travel in the bundle because a TLS server cannot count on seeing its client's
 * issuer (Node 24 does not expose it). Unlike OpenSSL's CRL checking, which Node turns on for
 * every CA of every chain at once, a cluster without a CRL simply has nothing revoked.
 *
 * The issuer a TLS stack shows is not proof of anything. Node shows a client the first certificate
 * the server sent whose Name and key identifier match the leaf's issuer, and a server (Node 20,
 * 22) the certificate its client sent after the leaf, never checking a signature or a date; OpenSSL
 * verified with the first one valid at the time. Whoever holds a revoked issuer's key could send
 * [leaf, an expired look-alike of the issuer (same Name and key, another serial), the real one]:
 * OpenSSL verifies through the real one, Node shows the look-alike, which no CRL lists. So the
 * leaf is judged by the key that signed it (`signs`), and once the anchor's CRL revokes anything,
 * an issuer shown is believed only when it signed the leaf, the anchor signed it and it is valid
 * now; otherwise the peer is refused, since an honest one sends its certificate with the issuer
 * that signed it.
 */
import { X509Certificate } from 'node:crypto';
import { IsthmusError } from '../errors.js';
import { type Crl, isIssuedBy, normaliseSerial, parseCrlBundle, sameName } from './crl.js';
import { splitPem } from './pem.js';
import { signs } from './verify-chain.js';

interface VerifiedCrl {
  crl: Crl;
  /** The CA whose key signed it: the anchor or a bundled issuer. */
  ca: X509Certificate;
}

export class RevocationList {
  /** An anchor's CRL lists a serial: an issuer may be revoked, so the issuer shown must be the real one. */
  private readonly anchorRevokes: boolean;

  private constructor(
    /** One, or while the anchor is rotated the old and the new. */
    private readonly anchors: readonly X509Certificate[],
    private readonly issuers: readonly X509Certificate[],
    private readonly lists: readonly VerifiedCrl[],
  ) {
    this.anchorRevokes = lists.some((l) => anchors.includes(l.ca) && l.crl.revoked.size > 0);
  }

  /** Parses and verifies the bundle; throws CRL_INVALID naming what does not check out. */
  static fromPem(bundle: string, anchorPem: string): RevocationList {
    const anchors = anchorsOf(anchorPem);
    const issuers = splitPem(bundle).map((pem, i) => {
      const cert = new X509Certificate(pem);
      if (!anchors.some((a) => cert.checkIssued(a) && cert.verify(a.publicKey))) {
        throw new IsthmusError(
          'CRL_INVALID',
          `certificate #${i + 1} of the CRL bundle (${oneLine(cert.subject)}) is not an issuer under this trust anchor`,
        );
      }
      return cert;
    });
    const lists = parseCrlBundle(bundle).map((crl, i) => {
      const ca = [...anchors, ...issuers].find((c) => isIssuedBy(crl, c));
      if (!ca) {
        throw new IsthmusError(
          'CRL_INVALID',
          `CRL #${i + 1} of the bundle is signed by neither the trust anchor nor an issuer certificate in the bundle`,
        );
      }
      return { crl, ca };
    });
    return new RevocationList(anchors, issuers, lists);
  }

  static empty(anchorPem: string): RevocationList {
    return new RevocationList(anchorsOf(anchorPem), [], []);
  }

  /**
   * Why this list may not replace `inForce`, or undefined. RFC 5280 §5.2.3: a CA's CRL numbers
   * only increase, so a CRL numbered lower than the one in force for the same CA (the same issuer
   * Name and key, whichever certificate of it verified the list) is an older list put back: applied,
   * it would admit again what the newer one revoked. The same number is the same list re-applied
   * (a reload for a new anchor); a CA with no CRL in force is not compared. A CRL without a number
   * cannot be ordered, so it may not replace a numbered one.
   *
   * A CA whose CRLs are in force and gone from this list is refused too while its leaves still
   * pass the TLS handshake (`usableCertificates`: a certificate of it valid at `at`, under an anchor
   * of this list, while this list does not carry a certificate of it that its anchor CRL revokes),
   * unless they revoked nothing: dropped, they would admit again what they revoked. An emptied
   * file is judged by the same rule, CA by CA: refused while one of them is usable, taken once
   * none is (identity, after the last step of an anchor rotation, on a file with no CRL left). A rotation drops a CA's CRL once the CA is no longer usable: an issuer
   * expired, or its anchor gone from the trust bundle (the last step of an anchor rotation; a
   * gateway reads its anchor at start, so it takes that drop when it restarts with the new anchor
   * alone, as a start takes what it finds).
   */
  rollbackFrom(inForce: RevocationList, at: Date = new Date()): string | undefined {
    return this.refusalFrom(inForce, at)?.reason;
  }

  /**
   * `rollbackFrom` with, for a refusal that holds only while CAs are usable (their CRLs dropped),
   * the time it may lift: the earliest time one of those CAs stops being usable (the latest
   * notAfter of its usable certificates), so a watch tries the same file again then. A rollback
   * never lifts by itself: no `retryAt`.
   */
  refusalFrom(
    inForce: RevocationList,
    at: Date = new Date(),
  ): { reason: string; retryAt?: Date } | undefined {
    const before = highestBySigner(inForce.lists);
    const after = highestBySigner(this.lists);
    const drops = this.droppedFrom(inForce, at);
    const first = drops[0];
    if (first) {
      const retryAt = new Date(Math.min(...drops.map((d) => d.usableUntil.getTime())));
      const { was, usable } = first;
      // No CA left at all: an emptied file (the ConfigMap's crl.pem cleared), said as such. `certs
      // revoke` never writes one while a CA in force is usable; lifting revocations is a newer list.
      const emptied =
        this.lists.length === 0
          ? `the file holds no CRL while ${inForce.lists.length} ${inForce.lists.length === 1 ? 'is' : 'are'} in force, and `
          : '';
      return {
        reason:
          `${emptied}the CRL of "${oneLine(was.subject)}" (CRL number ${was.number ?? 'none'}, ${was.revoked} revoked) is gone ` +
          `while that CA is still usable (its certificate serial ${usable.serialNumber} is valid until ` +
          `${isoDate(usable.validTo)} under a trusted anchor): dropped, it would admit again what it revoked ` +
          `(a CA's CRL leaves the bundle once the CA has expired or its anchor is no longer trusted)`,
        retryAt,
      };
    }
    for (const [key, now] of after) {
      const was = before.get(key);
      if (was?.number === undefined) continue;
      if (now.number !== undefined && now.number >= was.number) continue;
      const got = now.number === undefined ? 'a CRL without a CRL number' : `CRL number ${now.number}`;
      return {
        reason:
          `the CRL of "${oneLine(was.subject)}" went back from CRL number ${was.number} to ${got}: ` +
          `an older list put back would admit again what the newer one revoked (RFC 5280 §5.2.3: a CA's CRL numbers only increase)`,
      };
    }
    return undefined;
  }

  /**
   * The CAs whose CRLs are in force in `inForce`, revoke something, are gone from this list and
   * are still usable at `at` (`usableCertificates`): what a reload from `inForce` to this list is
   * refused for. Each with every CRL of it `inForce` holds and the certificate that verified it
   * there (what `certs revoke` carries over into a bundle that lost them), and the time it stops
   * being usable (the latest notAfter of its usable certificates).
   */
  droppedFrom(inForce: RevocationList, at: Date = new Date()): DroppedCa[] {
    const before = highestBySigner(inForce.lists);
    const after = highestBySigner(this.lists);
    const drops: DroppedCa[] = [];
    for (const [key, was] of before) {
      if (after.has(key) || was.revoked === 0) continue;
      const usable = this.usableCertificates(inForce, was.crl, key, at);
      if (usable.length === 0) continue;
      const until = Math.max(...usable.map((c) => new Date(c.validTo).getTime()));
      drops.push({
        was: { subject: was.subject, number: was.number, revoked: was.revoked },
        usable: usable[0]!,
        usableUntil: new Date(until),
        lists: inForce.lists.filter((l) => signerKey(l.crl, l.ca) === key),
      });
    }
    return drops;
  }

  /**
   * The certificates of the CA (its Name and key, `key` as highestBySigner makes it) that signed
   * `crl`, of those this list or `inForce` holds, that are valid at `at` and are, or are signed
   * by, an anchor of this list valid then: while there is one, a peer chaining to that CA still
   * passes the TLS handshake, so its CRL may not go. None: the CA expired, its anchor left the
   * trust bundle (the last step of an anchor rotation), or this list's anchor CRL revokes a
   * certificate of its key that this list carries, and its leaves are refused anyway, with or
   * without an issuer shown. An anchor's CRL is only ever signed by the anchor and cannot be put
   * back older (the numbers), so it cannot be forged into that case: an issuer it revokes was
   * revoked. A revoked issuer cut out of the bundle with its CRL is usable again where no issuer
   * is shown (check(leaf, undefined)), so its CRL may not go with it.
   */
  private usableCertificates(inForce: RevocationList, crl: Crl, key: string, at: Date): X509Certificate[] {
    const known = [...this.anchors, ...this.issuers, ...inForce.anchors, ...inForce.issuers].filter(
      (c) => signerKey(crl, c) === key,
    );
    const anchors = this.anchors.filter((a) => validAt(a, at));
    // Revoked by this list's anchor CRL, its leaves are refused anyway, but only while this list
    // still carries a revoked certificate of that key: a TLS server that sees no issuer (Node 24)
    // finds the leaf's issuer in the bundle, and one cut out with its CRL would admit its leaves.
    const revoked = this.issuers.some(
      (c) => signerKey(crl, c) === key && this.anchors.some((a) => signs(a, c) && this.listedBy(a, c) !== ''),
    );
    if (revoked) return [];
    return known.filter(
      (c) => validAt(c, at) && anchors.some((a) => a.fingerprint256 === c.fingerprint256 || signs(a, c)),
    );
  }

  /** Revoked serials in all, for logs. */
  size(): number {
    return this.lists.reduce((n, l) => n + l.crl.revoked.size, 0);
  }

  /** How many CRLs the bundle holds. */
  crlCount(): number {
    return this.lists.length;
  }

  /**
   * Why `leaf` must be refused, or undefined. `issuer` is the certificate the peer's chain shows
   * above it, when the TLS stack shows one (as a peer sent it: see above); otherwise the bundled
   * issuers that signed the leaf stand for it. `at`: when the chain is judged.
   *
   * The leaf is revoked when a CRL of the CA whose key signed it lists its serial, whichever
   * certificate of that CA the peer showed. A leaf the anchor did not sign is refused when the
   * anchor's CRL lists the issuer shown or a bundled issuer whose key signed the leaf (another
   * certificate of a revoked issuer's key is no less compromised), and, once the anchor's CRL
   * lists anything, when the issuer shown is not one OpenSSL could have verified it with (it did
   * not sign the leaf, the anchor did not sign it, or it is not valid at `at`).
   */
  check(leaf: X509Certificate, issuer?: X509Certificate, at: Date = new Date()): string | undefined {
    const listed = this.listing(leaf);
    if (listed) {
      const by = this.anchors.includes(listed.ca) ? "the trust anchor's CRL" : "its issuer's CRL";
      return `certificate serial ${leaf.serialNumber} is revoked by ${by}${since(listed.entry)}`;
    }
    if (this.anchors.some((a) => signs(a, leaf))) return undefined;
    const shown = issuer && this.anchorRevokes ? this.shownProblem(leaf, issuer, at) : undefined;
    if (shown) return shown;
    const signers = this.issuers.filter((i) => signs(i, leaf));
    for (const ca of issuer ? [issuer, ...signers] : signers) {
      const anchor = this.anchors.find((a) => signs(a, ca));
      const up = anchor ? this.listedBy(anchor, ca) : '';
      if (up)
        return `issuer "${oneLine(ca.subject)}" (serial ${ca.serialNumber}) is revoked by the trust anchor's CRL${up}`;
    }
    return undefined;
  }

  /**
   * Whether a CRL lists `leaf` itself: when `check` refuses a leaf that none lists, what it refuses
   * is an issuer of it (a new leaf from that issuer's key would be refused too), or the chain shown.
   */
  revokesItself(leaf: X509Certificate): boolean {
    return this.listing(leaf) !== undefined;
  }

  private listing(leaf: X509Certificate) {
    const serial = normaliseSerial(leaf.serialNumber);
    for (const { crl, ca } of this.lists) {
      const entry = signs(ca, leaf) ? crl.revoked.get(serial) : undefined;
      if (entry) return { ca, entry };
    }
    return undefined;
  }

  /**
   * Why `issuer`, shown above `leaf` in the peer's chain, cannot be the issuer OpenSSL verified it
   * with, or undefined: then its revocation says nothing of the chain that was verified.
   */
  private shownProblem(leaf: X509Certificate, issuer: X509Certificate, at: Date): string | undefined {
    let problem: string | undefined;
    if (!signs(issuer, leaf)) problem = 'did not sign it';
    else if (!this.anchors.some((a) => signs(a, issuer))) problem = 'the trust anchor did not sign';
    else if (at < new Date(issuer.validFrom)) problem = `is not valid before ${isoDate(issuer.validFrom)}`;
    else if (at > new Date(issuer.validTo)) problem = `expired at ${isoDate(issuer.validTo)}`;
    if (problem === undefined) return undefined;
    return (
      `its chain shows "${oneLine(issuer.subject)}" (serial ${issuer.serialNumber}) above certificate serial ` +
      `${leaf.serialNumber}, which ${problem}: not the issuer its chain was verified with (an honest peer sends ` +
      `its certificate and the issuer that signed it), so whether that issuer is revoked cannot be told`
    );
  }

  /** ` (keyCompromise, since …)` when a CRL signed by `ca` lists `cert`, else ''. */
  private listedBy(ca: X509Certificate, cert: X509Certificate): string {
    const serial = normaliseSerial(cert.serialNumber);
    for (const { crl, ca: signer } of this.lists) {
      if (signer.fingerprint256 !== ca.fingerprint256) continue;
      const entry = crl.revoked.get(serial);
      if (entry) return since(entry);
    }
    return '';
  }
}

/**
 * Per signer as RFC 5280 §5.2.3 numbers its lists (its issuer Name and the CA's key), the highest
 * CRL number of `lists`: two certificates of one key and Name (a renewal that kept the key) number
 * one sequence, so only its top is compared.
 */
function highestBySigner(lists: readonly VerifiedCrl[]): Map<string, SignerTop> {
  const highest = new Map<string, SignerTop>();
  for (const l of lists) {
    const key = signerKey(l.crl, l.ca);
    const seen = highest.get(key);
    // Every CRL of the signer counts in `check`, not only its newest.
    const revoked = (seen?.revoked ?? 0) + l.crl.revoked.size;
    if (!seen || newer(l.crl.crlNumber, seen.number))
      highest.set(key, { number: l.crl.crlNumber, subject: l.ca.subject, crl: l.crl, revoked });
    else seen.revoked = revoked;
  }
  return highest;
}

/** A CA a reload would drop while it is still usable (RevocationList.droppedFrom). */
export interface DroppedCa {
  was: { subject: string; number: bigint | undefined; revoked: number };
  /** A certificate of it valid then, under a trusted anchor. */
  usable: X509Certificate;
  /** When it stops being usable: the latest notAfter of its usable certificates. */
  usableUntil: Date;
  /** Its CRLs in force, each with the certificate that verified it. */
  lists: ReadonlyArray<{ crl: Crl; ca: X509Certificate }>;
}

interface SignerTop {
  number: bigint | undefined;
  subject: string;
  crl: Crl;
  /**
   * How many entries the signer's CRLs hold in all (the message's count): CRLs that revoke nothing
   * admit nothing again when they go.
   */
  revoked: number;
}

/**
 * A CA as RFC 5280 §5.2.3 numbers its CRLs: the CRL's issuer Name and the key of `ca`. A
 * certificate `ca` of another Name gives a key no CRL of `crl`'s issuer has.
 */
function signerKey(crl: Crl, ca: X509Certificate): string {
  const spki = ca.publicKey.export({ type: 'spki', format: 'der' });
  const name = sameName(crl, ca) ? crl.issuerDer.toString('hex') : `other:${ca.fingerprint256}`;
  return `${name}/${spki.toString('hex')}`;
}

function validAt(cert: X509Certificate, at: Date): boolean {
  return at >= new Date(cert.validFrom) && at <= new Date(cert.validTo);
}

/** Whether `a` is a higher CRL number than `b` (a numbered list above an unnumbered one). */
function newer(a: bigint | undefined, b: bigint | undefined): boolean {
  if (a === undefined) return false;
  return b === undefined || a > b;
}

function since(entry: { reason?: string; revokedAt: Date }): string {
  return ` (${entry.reason ?? 'unspecified'}, since ${entry.revokedAt.toISOString()})`;
}

function isoDate(x509Date: string): string {
  return new Date(x509Date).toISOString();
}

function anchorsOf(anchorPem: string): X509Certificate[] {
  const pems = splitPem(anchorPem);
  return (pems.length > 0 ? pems : [anchorPem]).map((pem) => new X509Certificate(pem));
}

function oneLine(name: string): string {
  return name.replace(/\n/g, ', ');
}

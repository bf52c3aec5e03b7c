/**
 * Which peer certificates are revoked, from a CRL bundle (`isthmus certs revoke` writes it): the
 * trust anchor's CRL, each cluster issuer's CRL, and the issuer certificates themselves. A gateway
 * leaf is revoked when the CRL of the issuer that signed it lists its serial, an issuer when the
 * anchor's CRL lists it. Every CRL must be signed by the anchor or by a bundled issuer that chains
 * to the anchor, or the bundle is refused: a forged or foreign list never counts. The issuer
 * certificates travel in the bundle because a TLS server cannot count on seeing its client's
 * issuer (Node 24 does not expose it). Unlike OpenSSL's CRL checking, which Node turns on for
 * every CA of every chain at once, a cluster without a CRL simply has nothing revoked.
 */
import { X509Certificate } from 'node:crypto';
import { IsthmusError } from '../errors.js';
import { type Crl, isIssuedBy, normaliseSerial, parseCrlBundle } from './crl.js';
import { splitPem } from './pem.js';

interface VerifiedCrl {
  crl: Crl;
  /** The CA whose key signed it: the anchor or a bundled issuer. */
  ca: X509Certificate;
}

export class RevocationList {
  private constructor(
    /** One, or while the anchor is rotated the old and the new. */
    private readonly anchors: readonly X509Certificate[],
    private readonly issuers: readonly X509Certificate[],
    private readonly lists: readonly VerifiedCrl[],
  ) {}

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

  /** Revoked serials in all, for logs. */
  size(): number {
    return this.lists.reduce((n, l) => n + l.crl.revoked.size, 0);
  }

  /** How many CRLs the bundle holds. */
  crlCount(): number {
    return this.lists.length;
  }

  /**
   * Why `leaf` must be refused, or undefined. `issuer` is the CA certificate the peer sent, when
   * the TLS stack shows it; otherwise the bundled issuer that signed the leaf is used.
   */
  check(leaf: X509Certificate, issuer?: X509Certificate): string | undefined {
    const ca = issuer ?? this.issuerOf(leaf);
    const anchor = (c: X509Certificate) =>
      this.anchors.find((a) => c.checkIssued(a) && c.verify(a.publicKey));
    if (ca === undefined || this.anchors.some((a) => a.fingerprint256 === ca.fingerprint256)) {
      const signer = anchor(leaf);
      const direct = signer ? this.listedBy(signer, leaf) : '';
      return direct
        ? `certificate serial ${leaf.serialNumber} is revoked by the trust anchor's CRL${direct}`
        : undefined;
    }
    const own = this.listedBy(ca, leaf);
    if (own) return `certificate serial ${leaf.serialNumber} is revoked by its issuer's CRL${own}`;
    const signer = anchor(ca);
    const up = signer ? this.listedBy(signer, ca) : '';
    return up
      ? `issuer "${oneLine(ca.subject)}" (serial ${ca.serialNumber}) is revoked by the trust anchor's CRL${up}`
      : undefined;
  }

  /** The bundled issuer that signed `leaf`: same Name, and its key verifies the signature. */
  private issuerOf(leaf: X509Certificate): X509Certificate | undefined {
    return this.issuers.find((i) => leaf.checkIssued(i) && leaf.verify(i.publicKey));
  }

  /** ` (keyCompromise, since …)` when a CRL signed by `ca` lists `cert`, else ''. */
  private listedBy(ca: X509Certificate, cert: X509Certificate): string {
    const serial = normaliseSerial(cert.serialNumber);
    for (const { crl, ca: signer } of this.lists) {
      if (signer.fingerprint256 !== ca.fingerprint256) continue;
      const entry = crl.revoked.get(serial);
      if (entry) return ` (${entry.reason ?? 'unspecified'}, since ${entry.revokedAt.toISOString()})`;
    }
    return '';
  }
}

function anchorsOf(anchorPem: string): X509Certificate[] {
  const pems = splitPem(anchorPem);
  return (pems.length > 0 ? pems : [anchorPem]).map((pem) => new X509Certificate(pem));
}

function oneLine(name: string): string {
  return name.replace(/\n/g, ', ');
}

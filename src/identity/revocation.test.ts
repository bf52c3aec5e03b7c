/**
 * RevocationList.check given the issuer a TLS stack shows, which is the first certificate of the
 * peer's chain with the right Name, not the one OpenSSL verified with: a look-alike of a revoked
 * issuer (same Name and key, another serial) shown above the leaf must not hide the revocation,
 * and an honest chain is judged as before.
 */
import { X509Certificate } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createIssuer, issueGatewayCertificate, issueLeaf } from './ca.js';
import { createCrl } from './crl.js';
import { splitPem } from './pem.js';
import { RevocationList } from './revocation.js';
import { TEST_TRUST_DOMAIN, testCrlBundle, testGatewayCertificate, testPki } from './testing.js';
import { EXPIRED, lookAlike, VALID } from './testing-look-alike.js';

const pki = testPki();
const x509 = (pem: string) => new X509Certificate(pem);
const east = x509(pki.issuers.east.certPem);
const west = x509(pki.issuers.west.certPem);
const eastLeaf = x509(testGatewayCertificate('east').certPem);
const westLeaf = x509(testGatewayCertificate('west').certPem);

/** The anchor's CRL revoking `serials`, and what else the bundle holds. */
const anchorRevoking = (serials: string[], ...more: string[]) =>
  RevocationList.fromPem(testCrlBundle(pki.anchor, serials) + more.join(''), pki.anchor.certPem);

/** East's issuer's own twins: self-signed with its key, or (only the anchor could) signed by the anchor. */
const selfSigned = x509(lookAlike(pki.issuers.east, EXPIRED));
const selfSignedValid = x509(lookAlike(pki.issuers.east, VALID));
const anchorSignedExpired = x509(lookAlike(pki.issuers.east, { ...EXPIRED, signer: pki.anchor }));
const anchorSignedValid = x509(lookAlike(pki.issuers.east, { ...VALID, signer: pki.anchor }));

describe('RevocationList.check, given the issuer the peer showed', () => {
  it("refuses a leaf of a revoked issuer behind the issuer's expired, self-signed look-alike (same Name and key)", () => {
    const list = anchorRevoking([east.serialNumber]);
    // The issuer as OpenSSL verified it: refused, as before.
    expect(list.check(eastLeaf, east)).toMatch(
      /^issuer "CN=identity\.east\.cluster\.local.*" \(serial [0-9A-F]+\) is revoked by the trust anchor's CRL \(keyCompromise/,
    );
    // The look-alike Node shows: the leaf verifies with its key, but it does not chain to the anchor.
    expect(eastLeaf.verify(selfSigned.publicKey)).toBe(true);
    expect(list.check(eastLeaf, selfSigned)).toBe(
      `its chain shows "CN=identity.east.cluster.local" (serial ${selfSigned.serialNumber}) above certificate serial ` +
        `${eastLeaf.serialNumber}, which the trust anchor did not sign: not the issuer its chain was verified with ` +
        '(an honest peer sends its certificate and the issuer that signed it), so whether that issuer is revoked cannot be told',
    );
    expect(list.check(eastLeaf, selfSignedValid)).toMatch(/which the trust anchor did not sign/);
  });

  it('refuses an issuer shown above the leaf that did not sign it, or that OpenSSL would not have taken (out of its validity)', () => {
    const list = anchorRevoking([east.serialNumber]);
    expect(list.check(eastLeaf, west)).toMatch(
      /^its chain shows "CN=identity\.west\.cluster\.local" \(serial [0-9A-F]+\) above certificate serial [0-9A-F]+, which did not sign it: /,
    );
    expect(list.check(eastLeaf, x509(pki.anchor.certPem))).toMatch(/which did not sign it: /);
    expect(list.check(eastLeaf, anchorSignedExpired)).toMatch(
      new RegExp(
        `\\(serial ${anchorSignedExpired.serialNumber}\\) .*, which expired at ${EXPIRED.notAfter.toISOString().slice(0, 16)}`,
      ),
    );
    const early = x509(
      lookAlike(pki.issuers.east, {
        ...VALID,
        notBefore: new Date(Date.now() + 3_600_000),
        signer: pki.anchor,
      }),
    );
    expect(list.check(eastLeaf, early)).toMatch(/, which is not valid before /);
  });

  it("refuses a leaf whose issuer's key the anchor revoked, through any certificate of that key it was shown", () => {
    // A second certificate of east's key, valid and signed by the anchor, is no less compromised.
    const list = anchorRevoking([east.serialNumber], pki.issuers.east.certPem);
    expect(list.check(eastLeaf, anchorSignedValid)).toMatch(
      new RegExp(
        `^issuer "CN=identity\\.east\\.cluster\\.local.*" \\(serial ${east.serialNumber}\\) is revoked by the trust anchor's CRL`,
      ),
    );
    // The twin's own serial revoked, the issuer shown is refused.
    expect(anchorRevoking([anchorSignedValid.serialNumber]).check(eastLeaf, anchorSignedValid)).toMatch(
      /is revoked by the trust anchor's CRL/,
    );
  });

  it("refuses a leaf its issuer's CRL revokes, whatever look-alike of that issuer is shown", () => {
    const list = RevocationList.fromPem(
      testCrlBundle(pki.issuers.east, [eastLeaf.serialNumber]),
      pki.anchor.certPem,
    );
    for (const shown of [east, selfSigned, anchorSignedValid, west, undefined])
      expect(list.check(eastLeaf, shown)).toMatch(
        /^certificate serial [0-9A-F]+ is revoked by its issuer's CRL \(keyCompromise/,
      );
  });

  it('judges a leaf the anchor signed by the anchor itself, whatever look-alike of the anchor is shown', () => {
    const leaf = issueLeaf(pki.anchor, { uriSans: ['spiffe://cluster.local/cluster/east/identity'] });
    const direct = x509(leaf.certPem);
    const anchorTwin = x509(lookAlike(pki.anchor, EXPIRED));
    expect(anchorRevoking([direct.serialNumber]).check(direct, anchorTwin)).toMatch(
      /^certificate serial [0-9A-F]+ is revoked by the trust anchor's CRL/,
    );
    expect(anchorRevoking([east.serialNumber]).check(direct, anchorTwin)).toBeUndefined();
  });

  it('passes an honest chain, and any chain while the anchor revokes nothing', () => {
    const list = anchorRevoking([west.serialNumber], pki.issuers.west.certPem);
    expect(list.check(eastLeaf, east)).toBeUndefined();
    expect(list.check(eastLeaf)).toBeUndefined();
    expect(list.check(westLeaf, west)).toMatch(/revoked by the trust anchor's CRL/);
    // Without the issuer shown (a TLS server may not see it), the bundled one that signed the leaf.
    expect(list.check(westLeaf)).toMatch(/revoked by the trust anchor's CRL/);
    // A renewed east (another key) signs leaves the old one's revocation does not touch.
    const renewed = createIssuer(pki.anchor, { cluster: 'east', trustDomain: TEST_TRUST_DOMAIN });
    const renewedLeaf = x509(
      splitPem(
        issueGatewayCertificate(renewed, { trustDomain: TEST_TRUST_DOMAIN, cluster: 'east' }).chainPem,
      )[0]!,
    );
    expect(
      anchorRevoking([east.serialNumber], pki.issuers.east.certPem).check(renewedLeaf, x509(renewed.certPem)),
    ).toBeUndefined();
    // Nothing an anchor's CRL lists: no issuer can be revoked, so what is shown does not matter.
    const leavesOnly = RevocationList.fromPem(
      testCrlBundle(pki.issuers.east, ['4a11ce']),
      pki.anchor.certPem,
    );
    expect(leavesOnly.check(eastLeaf, selfSigned)).toBeUndefined();
    expect(RevocationList.empty(pki.anchor.certPem).check(eastLeaf, selfSigned)).toBeUndefined();
    const emptyAnchorCrl = createCrl({
      issuerCertPem: pki.anchor.certPem,
      issuerKeyPem: pki.anchor.keyPem,
      revoked: [],
      crlNumber: 1n,
    });
    expect(RevocationList.fromPem(emptyAnchorCrl, pki.anchor.certPem).check(eastLeaf, west)).toBeUndefined();
  });
});

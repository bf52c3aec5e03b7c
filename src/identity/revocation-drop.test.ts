/**
 * RevocationList.rollbackFrom and one CA's CRL gone from a reload while another's stays: refused
 * while that CA is still usable (a certificate of it valid now, under an anchor still trusted),
 * since its leaves still pass the TLS handshake and would be admitted again; taken once the CA has
 * expired or its anchor has left the trust bundle, as a rotation drops it.
 */
import { X509Certificate } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createIssuer, type KeyPairPem } from './ca.js';
import { createCrl } from './crl.js';
import { RevocationList } from './revocation.js';
import { foreignTestPki, TEST_TRUST_DOMAIN, testGatewayCertificate, testPki } from './testing.js';
import { opensslCa } from './testing-openssl.js';

interface Pki {
  anchor: KeyPairPem;
  east: KeyPairPem;
  west: KeyPairPem;
}

/** `ca`'s CRL numbered `n` revoking `serials`, after `ca`'s certificate unless it is an anchor. */
function crlOf(ca: KeyPairPem, serials: string[], n = 1n, withCert = true): string {
  const crl = createCrl({
    issuerCertPem: ca.certPem,
    issuerKeyPem: ca.keyPem,
    revoked: serials.map((serial) => ({ serial, revokedAt: new Date('2026-11-01T00:00:00Z') })),
    crlNumber: n,
  });
  return withCert ? ca.certPem + crl : crl;
}

const rsa = (): Pki => ({
  anchor: testPki().anchor,
  east: testPki().issuers.east,
  west: testPki().issuers.west,
});
let ec: Pki | undefined;
/** An ECDSA anchor and issuers, as step makes them for Linkerd. */
const ecdsa = (): Pki => {
  if (ec) return ec;
  const anchor = opensslCa({ key: 'ec', commonName: 'drop-anchor', days: 365 });
  ec = {
    anchor,
    east: opensslCa({ key: 'ec', commonName: 'drop-east', signer: anchor, days: 30 }),
    west: opensslCa({ key: 'ec', commonName: 'drop-west', signer: anchor, days: 30 }),
  };
  return ec;
};

const subjectOf = (ca: KeyPairPem) => new X509Certificate(ca.certPem).subject.replace(/\n/g, ', ');
const validTo = (ca: KeyPairPem) => new Date(new X509Certificate(ca.certPem).validTo);

describe.each([
  ['RSA', rsa],
  ['ECDSA', ecdsa],
])('a reload that drops one CA’s CRL (%s CAs)', (_, pki) => {
  it('is refused while that issuer is unexpired under an anchor still trusted, naming it', () => {
    const { anchor, east, west } = pki();
    const inForce = RevocationList.fromPem(crlOf(east, ['0a'], 4n) + crlOf(west, ['0b']), anchor.certPem);
    const next = RevocationList.fromPem(crlOf(west, ['0b'], 2n), anchor.certPem);
    const eastCert = new X509Certificate(east.certPem);
    expect(next.rollbackFrom(inForce)).toBe(
      `the CRL of "${subjectOf(east)}" (CRL number 4, 1 revoked) is gone while that CA is still usable ` +
        `(its certificate serial ${eastCert.serialNumber} is valid until ${validTo(east).toISOString()} under a trusted anchor): ` +
        `dropped, it would admit again what it revoked (a CA's CRL leaves the bundle once the CA has expired or its anchor is no longer trusted)`,
    );
  });

  it("is refused for the anchor's own CRL while the anchor is trusted", () => {
    const { anchor, east } = pki();
    const inForce = RevocationList.fromPem(
      crlOf(anchor, ['0c'], 3n, false) + crlOf(east, ['0a']),
      anchor.certPem,
    );
    const next = RevocationList.fromPem(crlOf(east, ['0a'], 2n), anchor.certPem);
    expect(next.rollbackFrom(inForce)).toMatch(
      new RegExp(
        `^the CRL of "${subjectOf(anchor)}" \\(CRL number 3, 1 revoked\\) is gone while that CA is still usable`,
      ),
    );
  });

  it('is taken once the issuer has expired', () => {
    const { anchor, east, west } = pki();
    const inForce = RevocationList.fromPem(crlOf(east, ['0a']) + crlOf(west, ['0b']), anchor.certPem);
    const next = RevocationList.fromPem(crlOf(west, ['0b'], 2n), anchor.certPem);
    const afterEast = new Date(validTo(east).getTime() + 1000);
    // West expires with east in these PKIs, and west's CRL stays: only a dropped CA is judged.
    expect(next.rollbackFrom(inForce, afterEast)).toBeUndefined();
    expect(next.rollbackFrom(inForce, new Date(validTo(east).getTime() - 1000))).toMatch(/is gone while/);
  });

  it("is taken once the issuer's anchor is gone from the trust bundle (an anchor rotation's last step)", () => {
    const { anchor, east } = pki();
    const other = foreignTestPki();
    const both = other.anchor.certPem + anchor.certPem;
    const inForce = RevocationList.fromPem(
      crlOf(east, ['0a']) + crlOf(anchor, ['0c'], 1n, false) + crlOf(other.issuers.east, ['0d']),
      both,
    );
    const newOnly = crlOf(other.issuers.east, ['0d'], 2n);
    // Still under the bundle of both anchors: refused.
    expect(RevocationList.fromPem(newOnly, both).rollbackFrom(inForce)).toMatch(
      /is gone while that CA is still usable/,
    );
    // Under the new anchor alone: the old anchor's and its issuer's CRLs go.
    expect(RevocationList.fromPem(newOnly, other.anchor.certPem).rollbackFrom(inForce)).toBeUndefined();
  });
});

describe('a dropped CRL, other cases', () => {
  const { anchor, issuers } = testPki();

  it('one that revoked nothing may go: nothing is admitted again', () => {
    const inForce = RevocationList.fromPem(
      crlOf(issuers.east, []) + crlOf(issuers.west, ['0b']),
      anchor.certPem,
    );
    const next = RevocationList.fromPem(crlOf(issuers.west, ['0b'], 2n), anchor.certPem);
    expect(next.rollbackFrom(inForce)).toBeUndefined();
  });

  it("the renewed issuer's CRL does not stand for the replaced one's (another key), which stays while it is valid", () => {
    const renewed = createIssuer(anchor, { cluster: 'east', trustDomain: TEST_TRUST_DOMAIN });
    const inForce = RevocationList.fromPem(crlOf(issuers.east, ['0a'], 5n), anchor.certPem);
    const dropped = RevocationList.fromPem(crlOf(renewed, []), anchor.certPem);
    expect(dropped.rollbackFrom(inForce)).toMatch(
      /\(CRL number 5, 1 revoked\) is gone while that CA is still usable/,
    );
    // As `certs` keeps it: the replaced issuer's CRL beside the new one's.
    const kept = RevocationList.fromPem(crlOf(issuers.east, ['0a'], 5n) + crlOf(renewed, []), anchor.certPem);
    expect(kept.rollbackFrom(inForce)).toBeUndefined();
  });

  it("one of an issuer the new list's anchor CRL revokes may go: its leaves are refused anyway", () => {
    const eastSerial = new X509Certificate(issuers.east.certPem).serialNumber;
    const inForce = RevocationList.fromPem(crlOf(issuers.east, ['0a'], 3n), anchor.certPem);
    const next = RevocationList.fromPem(
      crlOf(anchor, [eastSerial], 1n, false) + issuers.east.certPem,
      anchor.certPem,
    );
    expect(next.rollbackFrom(inForce)).toBeUndefined();
    expect(next.check(new X509Certificate(testGatewayCertificate('east').certPem))).toMatch(
      /is revoked by the trust anchor's CRL/,
    );
    // Another serial in the anchor's CRL: east stays usable, and its CRL may not go.
    const other = RevocationList.fromPem(crlOf(anchor, ['4a11ce'], 1n, false), anchor.certPem);
    expect(other.rollbackFrom(inForce)).toMatch(/is gone while that CA is still usable/);
  });

  it('a start has nothing in force and takes what it finds', () => {
    const next = RevocationList.fromPem(crlOf(issuers.west, ['0b']), anchor.certPem);
    expect(next.rollbackFrom(RevocationList.empty(anchor.certPem))).toBeUndefined();
  });
});

describe('a dropped CRL: what the refusal carries, and files with no CRL', () => {
  const { anchor, issuers } = testPki();

  it('a drop refusal says when it may lift: when the dropped CA is no longer usable; a rollback never', () => {
    const inForce = RevocationList.fromPem(
      crlOf(issuers.east, ['0a'], 4n) + crlOf(issuers.west, ['0b']),
      anchor.certPem,
    );
    const dropped = RevocationList.fromPem(crlOf(issuers.west, ['0b'], 2n), anchor.certPem);
    expect(dropped.refusalFrom(inForce)).toEqual({
      reason: dropped.rollbackFrom(inForce),
      retryAt: validTo(issuers.east),
    });
    const older = RevocationList.fromPem(
      crlOf(issuers.east, ['0a'], 3n) + crlOf(issuers.west, ['0b']),
      anchor.certPem,
    );
    expect(older.refusalFrom(inForce)).toEqual({
      reason: expect.stringMatching(/went back from CRL number 4 to CRL number 3/),
    });
  });

  it("a revoked issuer's CRL may not go with its certificate: where no issuer is shown, its leaves would be admitted", () => {
    const east = new X509Certificate(issuers.east.certPem);
    const leaf = new X509Certificate(testGatewayCertificate('east').certPem);
    const anchorCrl = crlOf(anchor, [east.serialNumber], 7n, false);
    const inForce = RevocationList.fromPem(
      anchorCrl + crlOf(issuers.east, ['0a'], 3n) + crlOf(issuers.west, ['0b'], 3n),
      anchor.certPem,
    );
    // The ConfigMap edited: east's certificate and CRL cut out, the rest as signed.
    const cut = RevocationList.fromPem(anchorCrl + crlOf(issuers.west, ['0b'], 3n), anchor.certPem);
    expect(cut.check(leaf, undefined)).toBeUndefined();
    expect(cut.rollbackFrom(inForce)).toMatch(/is gone while that CA is still usable/);
    // Its certificate kept, only its CRL cut: its leaves are still refused, so that may go.
    const kept = RevocationList.fromPem(
      anchorCrl + issuers.east.certPem + crlOf(issuers.west, ['0b'], 3n),
      anchor.certPem,
    );
    expect(kept.check(leaf, undefined)).toMatch(/revoked by the trust anchor's CRL/);
    expect(kept.rollbackFrom(inForce)).toBeUndefined();
  });

  it('a file with no CRL is refused while a CA of those in force is usable, and taken once none is (the last step of an anchor rotation)', () => {
    const other = foreignTestPki();
    const both = other.anchor.certPem + anchor.certPem;
    const inForce = RevocationList.fromPem(crlOf(issuers.east, ['0a'], 4n), both);
    expect(RevocationList.fromPem('', both).rollbackFrom(inForce)).toMatch(
      /^the file holds no CRL while 1 is in force, and the CRL of .* is gone while that CA is still usable/,
    );
    // Identity after reloading the new anchor alone: east's anchor is no longer trusted.
    expect(RevocationList.fromPem('', other.anchor.certPem).rollbackFrom(inForce)).toBeUndefined();
    // CRLs that revoked nothing: nothing is admitted again.
    const nothing = RevocationList.fromPem(crlOf(issuers.east, [], 4n), anchor.certPem);
    expect(RevocationList.fromPem('', anchor.certPem).rollbackFrom(nothing)).toBeUndefined();
  });
});

import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import forge from 'node-forge';
import { afterAll, describe, expect, it } from 'vitest';
import { isIsthmusError } from '../errors.js';
import { createCrl, isIssuedBy, normaliseSerial, parseCrl, parseCrlBundle } from './crl.js';
import { derToPem } from './pem.js';
import { RevocationList } from './revocation.js';
import { foreignTestPki, testGatewayCertificate, testPki } from './testing.js';
import { parseDer, signedDer, signingKey } from './x509-signing.js';

const dir = mkdtempSync(join(tmpdir(), 'isthmus-crl-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const x509 = (pem: string) => new X509Certificate(pem);
const eastLeaf = () => x509(testGatewayCertificate('east').certPem);
const eastIssuer = () => x509(testPki().issuers.east.certPem);
const westIssuer = () => x509(testPki().issuers.west.certPem);

/** A bundle as `certs revoke` writes it: the issuer's certificate, then its CRL. */
function issuerBundle(cluster: 'east' | 'west', serials: string[], pki = testPki()): string {
  return pki.issuers[cluster].certPem + issuerCrl(cluster, serials, pki);
}

function issuerCrl(cluster: 'east' | 'west', serials: string[], pki = testPki()): string {
  return createCrl({
    issuerCertPem: pki.issuers[cluster].certPem,
    issuerKeyPem: pki.issuers[cluster].keyPem,
    revoked: serials.map((serial) => ({
      serial,
      revokedAt: new Date('2026-11-22T08:00:00Z'),
      reason: 'keyCompromise',
    })),
    crlNumber: 7n,
  });
}

describe('CRLs', () => {
  it('makes a CRL that OpenSSL verifies against its issuer and that lists what was revoked', () => {
    const leaf = eastLeaf();
    const pem = issuerCrl('east', [leaf.serialNumber]);
    const files = { crl: join(dir, 'east.crl'), ca: join(dir, 'east-issuer.crt') };
    writeFileSync(files.crl, pem);
    writeFileSync(files.ca, testPki().issuers.east.certPem);
    const text = execFileSync('openssl', ['crl', '-in', files.crl, '-CAfile', files.ca, '-noout', '-text'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    expect(text).toContain('X509v3 CRL Number');
    expect(text).toContain('Key Compromise');
    expect(text.toUpperCase()).toContain(normaliseSerial(leaf.serialNumber).toUpperCase());
    // openssl prints "verify OK" on stderr when -CAfile checks the signature.
    const verified = execFileSync(
      'sh',
      ['-c', `openssl crl -in ${files.crl} -CAfile ${files.ca} -noout 2>&1`],
      {
        encoding: 'utf8',
      },
    );
    expect(verified).toContain('verify OK');
  });

  it('parses back what it made: number, serials, reason, dates', () => {
    const crl = parseCrl(issuerCrl('east', ['00AB', '1f']));
    expect(crl.crlNumber).toBe(7n);
    expect([...crl.revoked.keys()].sort()).toEqual(['1f', 'ab']);
    expect(crl.revoked.get('ab')?.reason).toBe('keyCompromise');
    expect(crl.revoked.get('ab')?.revokedAt.toISOString()).toBe('2026-11-22T08:00:00.000Z');
    expect(crl.nextUpdate!.getTime()).toBeGreaterThan(crl.thisUpdate.getTime());
  });

  it('refuses garbage with an error naming the bad block', () => {
    const good = issuerCrl('west', []);
    const bad = '-----BEGIN X509 CRL-----\nMIIBnotreallyacrl\n-----END X509 CRL-----\n';
    expect(parseCrlBundle(good)).toHaveLength(1);
    expect(parseCrlBundle('')).toEqual([]);
    for (const text of [good + bad, 'just some text']) {
      try {
        parseCrlBundle(text);
        expect.unreachable();
      } catch (err) {
        expect(isIsthmusError(err, 'CRL_INVALID')).toBe(true);
        expect((err as Error).message).toMatch(/CRL #2 of the bundle|no "-----BEGIN X509 CRL-----" block/);
      }
    }
    expect(() => normaliseSerial('xyz')).toThrow(/not a hex serial/);
  });
});

describe('revocation list', () => {
  const anchor = testPki().anchor.certPem;

  it('revokes a leaf listed by the CRL of the issuer that signed it, and nothing else', () => {
    const leaf = eastLeaf();
    const list = RevocationList.fromPem(issuerBundle('east', [leaf.serialNumber]), anchor);
    expect(list.check(leaf, eastIssuer())).toMatch(
      /revoked by its issuer's CRL \(keyCompromise, since 2026-11-22/,
    );
    // Without the peer's issuer (a TLS server may not see it), the bundled one is found.
    expect(list.check(leaf)).toMatch(/revoked by its issuer's CRL/);
    expect(list.check(x509(testGatewayCertificate('west').certPem), westIssuer())).toBeUndefined();
  });

  it('revokes nothing through a CRL of another issuer, and refuses a bundle it cannot verify', () => {
    const leaf = eastLeaf();
    // West's issuer listing east's serial: not east's issuer, so it revokes nothing of east's.
    const wrongIssuer = RevocationList.fromPem(issuerBundle('west', [leaf.serialNumber]), anchor);
    expect(wrongIssuer.check(leaf, eastIssuer())).toBeUndefined();
    expect(wrongIssuer.check(leaf)).toBeUndefined();
    // A foreign PKI's "east" issuer has the same Name but another key.
    const foreign = foreignTestPki();
    const cases: Array<[string, RegExp]> = [
      [
        issuerBundle('east', [leaf.serialNumber], foreign),
        /certificate #1 .* is not an issuer under this trust anchor/,
      ],
      [issuerCrl('east', [leaf.serialNumber], foreign), /CRL #1 of the bundle is signed by neither/],
      [issuerCrl('east', [leaf.serialNumber]), /CRL #1 of the bundle is signed by neither/], // its issuer not bundled
    ];
    for (const [bundle, why] of cases) {
      try {
        RevocationList.fromPem(bundle, anchor);
        expect.unreachable();
      } catch (err) {
        expect(isIsthmusError(err, 'CRL_INVALID')).toBe(true);
        expect((err as Error).message).toMatch(why);
      }
    }
  });

  it("revokes a whole cluster through the anchor's CRL of its issuer", () => {
    const pki = testPki();
    const anchorCrl = createCrl({
      issuerCertPem: pki.anchor.certPem,
      issuerKeyPem: pki.anchor.keyPem,
      revoked: [{ serial: eastIssuer().serialNumber, revokedAt: new Date() }],
      crlNumber: 1n,
    });
    const list = RevocationList.fromPem(
      anchorCrl + pki.issuers.east.certPem + issuerBundle('west', []),
      anchor,
    );
    expect(list.check(eastLeaf(), eastIssuer())).toMatch(
      /issuer .* is revoked by the trust anchor's CRL \(unspecified/,
    );
    expect(list.check(eastLeaf())).toMatch(/revoked by the trust anchor's CRL/);
    expect(list.check(x509(testGatewayCertificate('west').certPem), westIssuer())).toBeUndefined();
    expect(list.size()).toBe(1);
  });
});

/**
 * A CRL of east's issuer with `extra` added to its crlExtensions and each entry's extensions
 * (`entryExtra`), signed again with the issuer's key: a list the CA did make.
 */
function crlWith(extra: forge.asn1.Asn1[], entryExtra: forge.asn1.Asn1[] = []): string {
  const pki = testPki();
  const pem = createCrl({
    issuerCertPem: pki.issuers.east.certPem,
    issuerKeyPem: pki.issuers.east.keyPem,
    revoked: [{ serial: '0a', revokedAt: new Date('2030-01-01T00:00:00Z'), reason: 'keyCompromise' }],
    crlNumber: 5n,
  });
  const body = pem.replace(/-----[A-Z0-9 ]+-----/g, '').replace(/\s+/g, '');
  const tbs = (parseDer(Buffer.from(body, 'base64')).value as forge.asn1.Asn1[])[0]!;
  const fields = tbs.value as forge.asn1.Asn1[];
  const exts = (fields.at(-1)!.value as forge.asn1.Asn1[])[0]!;
  (exts.value as forge.asn1.Asn1[]).push(...extra);
  const entries = fields.find(
    (f) => f.type === forge.asn1.Type.SEQUENCE && f !== fields[1] && f !== fields[2],
  )!;
  for (const entry of entries.value as forge.asn1.Asn1[]) {
    const entryExts = (entry.value as forge.asn1.Asn1[])[2]!;
    (entryExts.value as forge.asn1.Asn1[]).push(...entryExtra);
  }
  return derToPem(signedDer(tbs, signingKey(pki.issuers.east.keyPem)), 'X509 CRL');
}

function ext(oid: string, critical: boolean, value: forge.asn1.Asn1): forge.asn1.Asn1 {
  const { asn1 } = forge;
  const U = asn1.Class.UNIVERSAL;
  return asn1.create(U, asn1.Type.SEQUENCE, true, [
    asn1.create(U, asn1.Type.OID, false, asn1.oidToDer(oid).getBytes()),
    ...(critical ? [asn1.create(U, asn1.Type.BOOLEAN, false, '\xff')] : []),
    asn1.create(U, asn1.Type.OCTETSTRING, false, asn1.toDer(value).getBytes()),
  ]);
}

const anInteger = () => forge.asn1.create(forge.asn1.Class.UNIVERSAL, forge.asn1.Type.INTEGER, false, '\x01');

describe('critical extensions (RFC 5280 §5.2, §5.3; review finding)', () => {
  it('the CRL as made, and with a non-critical unknown extension, is read', () => {
    expect(parseCrl(crlWith([])).crlNumber).toBe(5n);
    const ignored = parseCrl(
      crlWith(
        [ext('1.3.6.1.4.1.99999.1', false, anInteger())],
        [ext('1.3.6.1.4.1.99999.2', false, anInteger())],
      ),
    );
    expect(ignored.revoked.get('a')?.reason).toBe('keyCompromise');
    expect(isIssuedBy(ignored, eastIssuer())).toBe(true);
  });

  it.each([
    [
      'a delta CRL (deltaCRLIndicator)',
      '2.5.29.27',
      /critical extension Isthmus does not process, deltaCRLIndicator \(a delta CRL, not a complete list: RFC 5280 §5\.2\.4\)/,
    ],
    [
      'issuingDistributionPoint',
      '2.5.29.28',
      /issuingDistributionPoint \(a CRL of limited scope: RFC 5280 §5\.2\.5\)/,
    ],
    [
      'an unknown one',
      '1.3.6.1.4.1.99999.1',
      /the CRL has a critical extension Isthmus does not process, 1\.3\.6\.1\.4\.1\.99999\.1: a relying party must not use such a CRL/,
    ],
  ])('a CRL with %s marked critical is refused, and so is a bundle holding it', (_, oid, message) => {
    const crl = crlWith([ext(oid, true, anInteger())]);
    expect(() => parseCrl(crl)).toThrow(message);
    const bundle = testPki().issuers.east.certPem + crl;
    let err: unknown;
    try {
      RevocationList.fromPem(bundle, testPki().anchor.certPem);
    } catch (e) {
      err = e;
    }
    expect(isIsthmusError(err, 'CRL_INVALID'), String(err)).toBe(true);
    expect(String(err)).toMatch(/CRL #1 of the bundle: the CRL has a critical extension/);
  });

  it.each([
    [
      'an indirect CRL entry (certificateIssuer)',
      '2.5.29.29',
      /the entry for serial a has a critical extension Isthmus does not process, certificateIssuer \(an indirect CRL: RFC 5280 §5\.3\.3\)/,
    ],
    [
      'an unknown one',
      '1.3.6.1.4.1.99999.2',
      /the entry for serial a has a critical extension Isthmus does not process, 1\.3\.6\.1\.4\.1\.99999\.2/,
    ],
  ])('a CRL entry with %s marked critical is refused', (_, oid, message) => {
    expect(() => parseCrl(crlWith([], [ext(oid, true, anInteger())]))).toThrow(message);
  });
});

import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { isIsthmusError } from '../errors.js';
import { createCrl, normaliseSerial, parseCrl, parseCrlBundle } from './crl.js';
import { RevocationList } from './revocation.js';
import { foreignTestPki, testGatewayCertificate, testPki } from './testing.js';

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

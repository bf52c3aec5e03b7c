import { X509Certificate } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createIssuer, type KeyPairPem } from './ca.js';
import { createCrl } from './crl.js';
import { type CaOnDisk, planCrlBundle } from './crl-bundle.js';
import { RevocationList } from './revocation.js';
import { foreignTestPki, TEST_TRUST_DOMAIN, testPki } from './testing.js';

const pki = testPki();
/** East's issuer before a renewal: same Name as the current one, another key. */
const replacedEast = createIssuer(pki.anchor, { cluster: 'east', trustDomain: TEST_TRUST_DOMAIN });
const serialOf = (ca: KeyPairPem) => new X509Certificate(ca.certPem).serialNumber;

function crlBy(ca: KeyPairPem, revoked: KeyPairPem[] = []): string {
  return createCrl({
    issuerCertPem: ca.certPem,
    issuerKeyPem: ca.keyPem,
    revoked: revoked.map((r) => ({ serial: serialOf(r), revokedAt: new Date(), reason: 'keyCompromise' })),
    crlNumber: 1n,
  });
}

function onDisk(name: string, ca: KeyPairPem, crlPem?: string): CaOnDisk {
  return {
    certFile: `${name}.crt`,
    certPem: ca.certPem,
    crlFile: `${name}.crl`,
    ...(crlPem === undefined ? {} : { crlPem }),
  };
}

const anchor = (crlPem?: string) => [onDisk('ca', pki.anchor, crlPem)];
const names = new Map<string, string>([
  [pki.anchor.certPem, 'ca.crt'],
  [pki.issuers.east.certPem, 'east.crt'],
  [pki.issuers.west.certPem, 'west.crt'],
  [replacedEast.certPem, 'retired-east.crt'],
  [foreignTestPki().issuers.east.certPem, 'foreign-east.crt'],
]);

describe('planCrlBundle', () => {
  it.each<[string, CaOnDisk[], CaOnDisk[], string[], RegExp[]]>([
    [
      'an issuer without a CRL, not revoked, is not needed',
      anchor(),
      [onDisk('east', pki.issuers.east), onDisk('west', pki.issuers.west, crlBy(pki.issuers.west))],
      ['west.crt', 'crl'],
      [],
    ],
    [
      'a renewed issuer: the replaced one verifies its own CRL',
      anchor(),
      [
        onDisk('east', pki.issuers.east, crlBy(pki.issuers.east)),
        onDisk('retired-east', replacedEast, crlBy(replacedEast)),
      ],
      ['east.crt', 'crl', 'retired-east.crt', 'crl'],
      [],
    ],
    [
      "a revoked issuer travels without a CRL of its own, for the anchor's to revoke it",
      anchor(crlBy(pki.anchor, [replacedEast])),
      [onDisk('east', pki.issuers.east), onDisk('retired-east', replacedEast)],
      ['crl', 'retired-east.crt'],
      [],
    ],
    [
      'a copy of an issuer kept twice goes in once',
      anchor(crlBy(pki.anchor, [pki.issuers.east])),
      [onDisk('east', pki.issuers.east, crlBy(pki.issuers.east)), onDisk('kept-east', pki.issuers.east)],
      ['crl', 'east.crt', 'crl'],
      [],
    ],
    [
      "a CRL left by the issuer it replaced, next to the new issuer's certificate, is left out",
      anchor(),
      [
        onDisk('east', pki.issuers.east, crlBy(replacedEast)),
        onDisk('west', pki.issuers.west, crlBy(pki.issuers.west)),
      ],
      ['west.crt', 'crl'],
      [/east\.crl: not signed by east\.crt/],
    ],
    [
      "the anchor's CRL of an anchor no longer in the directory is left out",
      [onDisk('ca', pki.anchor, crlBy(foreignTestPki().anchor))],
      [],
      [],
      [/ca\.crl: not signed by ca\.crt/],
    ],
    [
      'an issuer of another anchor is left out with its CRL',
      anchor(),
      [onDisk('foreign-east', foreignTestPki().issuers.east, crlBy(foreignTestPki().issuers.east))],
      [],
      [/foreign-east\.crl: foreign-east\.crt: it is not issued by a trust anchor/],
    ],
  ])('%s', (_, anchors, issuers, expected, skips) => {
    const plan = planCrlBundle({ anchors, issuers }, new Date());
    expect(plan.pems.map((p) => (p.includes('X509 CRL') ? 'crl' : names.get(p)))).toEqual(expected);
    expect(plan.skipped).toHaveLength(skips.length);
    skips.forEach((why, i) => {
      const s = plan.skipped[i]!;
      expect(`${s.file}: ${s.reason}`).toMatch(why);
    });
    // Whatever it leaves in, a gateway trusting the anchor loads.
    expect(() => RevocationList.fromPem(plan.pems.join(''), pki.anchor.certPem)).not.toThrow();
  });

  it('leaves an expired issuer out: every leaf it signed has expired too', () => {
    const afterIssuers = new Date(Date.now() + 400 * 24 * 3600 * 1000); // issuers live 365 days
    const plan = planCrlBundle(
      { anchors: anchor(), issuers: [onDisk('east', pki.issuers.east, crlBy(pki.issuers.east))] },
      afterIssuers,
    );
    expect(plan.pems).toEqual([]);
    expect(plan.skipped).toEqual([
      { file: 'east.crl', reason: expect.stringMatching(/east\.crt: it expired at/) },
    ]);
  });
});

import { createPublicKey, generateKeyPairSync, X509Certificate } from 'node:crypto';
import forge from 'node-forge';
import { describe, expect, it } from 'vitest';
import { isIsthmusError } from '../errors.js';
import { createIssuer, issueGatewayCertificate, issueLeaf, type KeyPairPem } from './ca.js';
import { createCrl, isIssuedBy, parseCrl } from './crl.js';
import { derToPem, splitPem } from './pem.js';
import { TEST_TRUST_DOMAIN, testPki } from './testing.js';
import { type EcCurve, opensslCa, runOpenssl, stepLikeAnchor, stepLikeIssuer } from './testing-openssl.js';
import { signingKeyProblems } from './validate.js';
import {
  parseDer,
  readSignerCertificate,
  signCertificate,
  signedDer,
  signingKey,
  unsupportedSigningKey,
} from './x509-signing.js';

const { asn1 } = forge;

/** An ECDSA key of `curve` from node:crypto, as PKCS#8 PEM. */
function ecKeyPem(curve: EcCurve): string {
  return generateKeyPairSync('ec', {
    namedCurve: curve,
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    publicKeyEncoding: { type: 'spki', format: 'pem' },
  }).privateKey;
}

/** The outer signatureAlgorithm of a certificate or CRL and the one inside its TBS, as DER hex. */
function algorithmsOf(pem: string): { outer: string; inner: string } {
  const body = pem.replace(/-----[A-Z0-9 ]+-----/g, '').replace(/\s+/g, '');
  const top = parseDer(Buffer.from(body, 'base64'));
  const [tbs, outer] = top.value as forge.asn1.Asn1[];
  const fields = tbs!.value as forge.asn1.Asn1[];
  // Certificate: [0] version, serial, signature; CertList: version, signature.
  const inner = fields[0]!.tagClass === asn1.Class.CONTEXT_SPECIFIC ? fields[2]! : fields[1]!;
  const hex = (n: forge.asn1.Asn1) => forge.util.bytesToHex(asn1.toDer(n).getBytes());
  return { outer: hex(outer!), inner: hex(inner) };
}

/** AlgorithmIdentifier DER of RFC 5758 §3.2: the OID alone, no parameters. */
const ECDSA_ALGORITHM_HEX = {
  'P-256': '300a06082a8648ce3d040302',
  'P-384': '300a06082a8648ce3d040303',
  'P-521': '300a06082a8648ce3d040304',
};
const ECDSA_NAME = {
  'P-256': 'ecdsa-with-SHA256',
  'P-384': 'ecdsa-with-SHA384',
  'P-521': 'ecdsa-with-SHA512',
};

/** `openssl verify -CAfile anchor -untrusted issuer leaf`: its output. */
function opensslVerify(anchor: string, issuer: string, leaf: string): string {
  return runOpenssl({ 'ca.crt': anchor, 'issuer.crt': issuer, 'leaf.crt': leaf }, [
    'verify',
    '-CAfile',
    'ca.crt',
    '-untrusted',
    'issuer.crt',
    'leaf.crt',
  ]).output;
}

const opensslText = (pem: string) =>
  runOpenssl({ 'c.pem': pem }, ['x509', '-in', 'c.pem', '-noout', '-text']).output;

function expectSignedBy(leafPem: string, issuer: KeyPairPem, anchorPem: string, curve: EcCurve): void {
  const leaf = new X509Certificate(leafPem);
  const issuerCert = new X509Certificate(issuer.certPem);
  expect(leaf.verify(issuerCert.publicKey)).toBe(true);
  expect(leaf.checkIssued(issuerCert)).toBe(true);
  // The issuer Name is the signer's subject byte for byte.
  expect(issuerNameDer(leaf.raw)).toEqual(readSignerCertificate(issuer.certPem).subjectDer);
  expect(opensslVerify(anchorPem, issuer.certPem, leafPem)).toBe('leaf.crt: OK\n');
  expect(opensslText(leafPem)).toContain(`Signature Algorithm: ${ECDSA_NAME[curve]}`);
  expect(algorithmsOf(leafPem)).toEqual({
    outer: ECDSA_ALGORITHM_HEX[curve],
    inner: ECDSA_ALGORITHM_HEX[curve],
  });
}

/** DER of a certificate's issuer Name (TBS field after the signature algorithm). */
function issuerNameDer(der: Buffer): Buffer {
  const top = parseDer(der);
  const fields = (top.value as forge.asn1.Asn1[])[0]!.value as forge.asn1.Asn1[];
  return Buffer.from(asn1.toDer(fields[3]!).getBytes(), 'binary');
}

describe.each(['P-256', 'P-384', 'P-521'] as const)('an ECDSA %s issuer', (curve) => {
  // Its key from node:crypto, certified by the RSA test anchor (cert-manager's CA issuer does this).
  const issuer = opensslCa({
    key: 'ec',
    curve,
    keyPem: ecKeyPem(curve),
    commonName: `identity.east.${TEST_TRUST_DOMAIN}`,
    signer: testPki().anchor,
  });

  it('signs a gateway leaf that node, OpenSSL and the chain check accept, with ecdsa-with-SHA* and no parameters', () => {
    const leaf = issueGatewayCertificate(issuer, { trustDomain: TEST_TRUST_DOMAIN, cluster: 'east' });
    expectSignedBy(leaf.certPem, issuer, testPki().anchor.certPem, curve);
    // The authority key identifier is the issuer's subject key identifier, as openssl prints it.
    const keyId = readSignerCertificate(issuer.certPem).subjectKeyId.toString('hex').toUpperCase();
    expect(opensslText(leaf.certPem)).toMatch(
      new RegExp(`Authority Key Identifier: *\\n *(keyid:)?${keyId.match(/../g)!.join(':')}\\n`),
    );
  });

  it('signs a CRL that openssl and the CRL parsing verify', () => {
    const leaf = issueGatewayCertificate(issuer, { trustDomain: TEST_TRUST_DOMAIN, cluster: 'east' });
    const serial = new X509Certificate(leaf.certPem).serialNumber;
    const pem = createCrl({
      issuerCertPem: issuer.certPem,
      issuerKeyPem: issuer.keyPem,
      revoked: [{ serial, revokedAt: new Date(), reason: 'keyCompromise' }],
      crlNumber: 3n,
    });
    const verified = runOpenssl({ 'ca.crt': issuer.certPem, 'crl.pem': pem }, [
      'crl',
      '-in',
      'crl.pem',
      '-noout',
      '-verify',
      '-CAfile',
      'ca.crt',
    ]);
    expect(verified).toEqual({ status: 0, output: 'verify OK\n' });
    expect(algorithmsOf(pem)).toEqual({
      outer: ECDSA_ALGORITHM_HEX[curve],
      inner: ECDSA_ALGORITHM_HEX[curve],
    });
    const crl = parseCrl(pem);
    expect(crl.revoked.has(serial.toLowerCase().replace(/^0+/, ''))).toBe(true);
    expect(isIssuedBy(crl, new X509Certificate(issuer.certPem))).toBe(true);
    expect(isIssuedBy(crl, new X509Certificate(testPki().issuers.east.certPem))).toBe(false);
  });
});

describe('an anchor and issuer made as step makes them for Linkerd (ECDSA P-256)', () => {
  const anchor = stepLikeAnchor('P-256');
  const issuer = stepLikeIssuer(anchor, `identity.east.${TEST_TRUST_DOMAIN}`);

  it('are accepted as signers, and the issuer signs a gateway leaf that chains to the anchor', () => {
    expect(signingKeyProblems(anchor.certPem, 'trust anchor')).toEqual([]);
    expect(signingKeyProblems(issuer.certPem, 'issuer')).toEqual([]);
    expect(new X509Certificate(issuer.certPem).subject).toBe(
      `O=Linkerd\nCN=identity.east.${TEST_TRUST_DOMAIN}`,
    );
    const leaf = issueGatewayCertificate(issuer, { trustDomain: TEST_TRUST_DOMAIN, cluster: 'east' });
    expectSignedBy(leaf.certPem, issuer, anchor.certPem, 'P-256');
  });

  it('the anchor signs an RSA issuer (isthmus certs --reuse-anchor), whose leaves chain to it', () => {
    const rsaIssuer = createIssuer(anchor, { cluster: 'west', trustDomain: TEST_TRUST_DOMAIN });
    const cert = new X509Certificate(rsaIssuer.certPem);
    expect(cert.publicKey.asymmetricKeyType).toBe('rsa');
    expectSignedBy(rsaIssuer.certPem, anchor, anchor.certPem, 'P-256');
    const leaf = issueGatewayCertificate(rsaIssuer, { trustDomain: TEST_TRUST_DOMAIN, cluster: 'west' });
    expect(opensslVerify(anchor.certPem, rsaIssuer.certPem, leaf.certPem)).toBe('leaf.crt: OK\n');
  });
});

describe('the issuer Name', () => {
  it("is the signer's subject byte for byte, a multi-valued RDN and its string types kept", () => {
    const issuer = opensslCa({
      key: 'ec',
      commonName: 'x',
      subject: `/O=Linkerd+OU=mesh/CN=identity.east.${TEST_TRUST_DOMAIN}`,
      signer: testPki().anchor,
    });
    const leaf = issueLeaf(issuer, { uriSans: ['spiffe://cluster.local/cluster/east/gateway'] });
    const der = new X509Certificate(leaf.certPem).raw;
    expect(issuerNameDer(der)).toEqual(readSignerCertificate(issuer.certPem).subjectDer);
    expect(opensslVerify(testPki().anchor.certPem, issuer.certPem, leaf.certPem)).toBe('leaf.crt: OK\n');
  });
});

describe('RSA signing', () => {
  it('makes the bytes forge made: same structure, sha256WithRSAEncryption with NULL parameters', () => {
    const anchor = testPki().anchor;
    const build = () => {
      const cert = forge.pki.createCertificate();
      cert.publicKey = forge.pki.publicKeyFromPem(
        createPublicKey(testPki().issuers.west.keyPem).export({
          type: 'spki',
          format: 'pem',
        }) as string,
      );
      cert.serialNumber = '4a0b0c0d';
      cert.validity.notBefore = new Date('2026-01-01T00:00:00Z');
      cert.validity.notAfter = new Date('2026-01-02T00:00:00Z');
      cert.setSubject([{ shortName: 'CN', value: 'a leaf' }]);
      cert.setIssuer(forge.pki.certificateFromPem(anchor.certPem).subject.attributes);
      cert.setExtensions([
        { name: 'basicConstraints', cA: false, critical: true },
        { name: 'subjectKeyIdentifier' },
      ]);
      return cert;
    };
    const byForge = build();
    byForge.sign(forge.pki.privateKeyFromPem(anchor.keyPem), forge.md.sha256.create());
    const ours = signCertificate(build(), anchor.keyPem, readSignerCertificate(anchor.certPem));
    expect(ours).toBe(forge.pki.certificateToPem(byForge).replace(/\r\n/g, '\n'));
    expect(algorithmsOf(ours).outer).toBe('300d06092a864886f70d01010b0500');
  });

  it('computes the key identifier of a signer without one as forge does (RFC 5280 §4.2.1.2 method 1)', () => {
    const cert = forge.pki.createCertificate();
    const key = testPki().issuers.east;
    cert.publicKey = forge.pki.publicKeyFromPem(
      createPublicKey(key.keyPem).export({ type: 'spki', format: 'pem' }) as string,
    );
    cert.serialNumber = '4a';
    cert.setSubject([{ shortName: 'CN', value: 'no key id' }]);
    cert.setIssuer([{ shortName: 'CN', value: 'no key id' }]);
    const pem = signCertificate(cert, key.keyPem, undefined);
    const signer = readSignerCertificate(pem);
    expect(signer.subjectKeyIdExtension).toBeUndefined();
    expect(signer.subjectKeyId.toString('hex')).toBe(cert.generateSubjectKeyIdentifier().toHex());
  });
});

describe('keys Isthmus does not sign with', () => {
  it.each([
    ['Ed25519', () => generateKeyPairSync('ed25519').privateKey, /^Ed25519: /],
    [
      'secp256k1',
      () => generateKeyPairSync('ec', { namedCurve: 'secp256k1' }).privateKey,
      /^ECDSA \(secp256k1\): /,
    ],
    ['RSA-PSS', () => generateKeyPairSync('rsa-pss', { modulusLength: 2048 }).privateKey, /^RSA-PSS: /],
  ])('%s is refused, naming it and what is supported', (_name, make, kind) => {
    const key = make();
    const problem = unsupportedSigningKey(key);
    expect(problem).toMatch(kind);
    expect(problem).toMatch(/Isthmus signs with RSA or ECDSA \(P-256, P-384, P-521\) keys only$/);
    const pem = key.export({ type: 'pkcs8', format: 'pem' }) as string;
    let err: unknown;
    try {
      signingKey(pem);
    } catch (e) {
      err = e;
    }
    expect(isIsthmusError(err, 'CERT_INVALID')).toBe(true);
    expect(String(err)).toMatch(/the signing key is /);
  });

  it('an Ed25519 issuer signs no leaf, and says why', () => {
    const issuer = opensslCa({
      key: 'ed25519',
      commonName: 'identity.east.cluster.local',
      signer: testPki().anchor,
    });
    expect(() =>
      issueGatewayCertificate(issuer, { trustDomain: TEST_TRUST_DOMAIN, cluster: 'east' }),
    ).toThrow(/the signing key is Ed25519: Isthmus signs with RSA or ECDSA/);
  });
});

/** `ca`'s certificate with `edit` applied to its TBS fields, signed again with its own key. */
function rebuilt(ca: KeyPairPem, edit: (fields: forge.asn1.Asn1[]) => void): string {
  const body = ca.certPem.replace(/-----[A-Z0-9 ]+-----/g, '').replace(/\s+/g, '');
  const tbs = (parseDer(Buffer.from(body, 'base64')).value as forge.asn1.Asn1[])[0]!;
  edit(tbs.value as forge.asn1.Asn1[]);
  return derToPem(signedDer(tbs, signingKey(ca.keyPem)), 'CERTIFICATE');
}

function thrown(f: () => unknown): unknown {
  try {
    f();
  } catch (err) {
    return err;
  }
  return undefined;
}

describe('a signing key that is not the signer certificate’s (review finding)', () => {
  const anchor = stepLikeAnchor('P-384');
  const issuer = stepLikeIssuer(anchor, 'identity.east.cluster.local', 'P-384');
  const others = {
    'another P-384 key': stepLikeIssuer(anchor, 'identity.east.cluster.local', 'P-384').keyPem,
    'a P-256 key': ecKeyPem('P-256'),
    'an RSA key': testPki().issuers.east.keyPem,
  };

  it.each(Object.entries(others))('%s signs no leaf: CERT_INVALID naming the certificate', (_, keyPem) => {
    // The algorithm follows the key, so a P-256 key under a P-384 issuer signed an unverifiable leaf.
    const err = thrown(() => issueLeaf({ certPem: issuer.certPem, keyPem }, { uriSans: ['spiffe://x/y'] }));
    expect(isIsthmusError(err, 'CERT_INVALID'), String(err)).toBe(true);
    expect(String(err)).toMatch(
      /the private key does not match the signer certificate \(".*CN=identity\.east\.cluster\.local.*", serial [0-9a-f]+\)/,
    );
  });

  it.each(Object.entries(others))('%s signs no CRL', (_, keyPem) => {
    const err = thrown(() =>
      createCrl({ issuerCertPem: issuer.certPem, issuerKeyPem: keyPem, revoked: [], crlNumber: 1n }),
    );
    expect(isIsthmusError(err, 'CERT_INVALID'), String(err)).toBe(true);
    expect(String(err)).toMatch(/the private key does not match the signer certificate/);
  });

  it('the matching key still signs both', () => {
    const leaf = issueLeaf(issuer, { uriSans: ['spiffe://x/y'] });
    expect(new X509Certificate(leaf.certPem).verify(new X509Certificate(issuer.certPem).publicKey)).toBe(
      true,
    );
    const crl = createCrl({
      issuerCertPem: issuer.certPem,
      issuerKeyPem: issuer.keyPem,
      revoked: [],
      crlNumber: 1n,
    });
    expect(isIssuedBy(parseCrl(crl), new X509Certificate(issuer.certPem))).toBe(true);
  });
});

describe('the signer certificate read as validation reads it (review findings)', () => {
  const anchor = stepLikeAnchor('P-256');
  const issuer = stepLikeIssuer(anchor, 'identity.east.cluster.local');

  it('takes the first block splitPem finds, not one without a line break after BEGIN', () => {
    const der = Buffer.from(
      anchor.certPem.replace(/-----[A-Z0-9 ]+-----/g, '').replace(/\s+/g, ''),
      'base64',
    );
    const oneLine = `-----BEGIN CERTIFICATE-----${der.toString('base64')}-----END CERTIFICATE-----\n`;
    const text = oneLine + issuer.certPem;
    expect(splitPem(text)).toEqual([issuer.certPem]);
    expect(readSignerCertificate(text).subjectDer).toEqual(readSignerCertificate(issuer.certPem).subjectDer);
    // Alone, such a block is no certificate to validation, nor to signing.
    expect(
      isIsthmusError(
        thrown(() => readSignerCertificate(oneLine)),
        'CERT_INVALID',
      ),
    ).toBe(true);
  });

  it('refuses a subjectKeyIdentifier that does not hold an OCTET STRING (it gave key id 0000)', () => {
    const seq = asn1
      .toDer(
        asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, true, [
          asn1.create(asn1.Class.UNIVERSAL, asn1.Type.INTEGER, false, '\x01'),
        ]),
      )
      .getBytes();
    const odd = rebuilt(issuer, (fields) => {
      const wrapper = fields.find((n) => n.tagClass === asn1.Class.CONTEXT_SPECIFIC && n.type === 3)!;
      for (const ext of (wrapper.value as forge.asn1.Asn1[])[0]!.value as forge.asn1.Asn1[]) {
        const parts = ext.value as forge.asn1.Asn1[];
        if (asn1.derToOid(forge.util.createBuffer(parts[0]!.value as string)) === '2.5.29.14')
          parts[parts.length - 1] = asn1.create(asn1.Class.UNIVERSAL, asn1.Type.OCTETSTRING, false, seq);
      }
    });
    const err = thrown(() => readSignerCertificate(odd));
    expect(isIsthmusError(err, 'CERT_INVALID'), String(err)).toBe(true);
    expect(String(err)).toMatch(
      /subjectKeyIdentifier extension does not hold an OCTET STRING \(RFC 5280 §4\.2\.1\.2\)/,
    );
    expect(() => issueLeaf({ certPem: odd, keyPem: issuer.keyPem }, { uriSans: ['spiffe://x/y'] })).toThrow(
      /subjectKeyIdentifier/,
    );
  });
});

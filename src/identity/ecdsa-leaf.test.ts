/**
 * Leaves for ECDSA keys (ca.ts issueLeaf, x509-signing.ts): the certificate carries the CSR's
 * SubjectPublicKeyInfo byte for byte, asserts digitalSignature alone (keyEncipherment is RSA key
 * transport), and verifies with openssl under an RSA CA (`isthmus certs`) and an ECDSA one (step).
 */
import { createHash, createPublicKey, generateKeyPairSync, X509Certificate } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { isIsthmusError } from '../errors.js';
import { issueGatewayCertificate, issueLeaf, type KeyPairPem } from './ca.js';
import { checkCsr, createCsr } from './csr.js';
import { TEST_TRUST_DOMAIN, testLeafKey, testPki } from './testing.js';
import { runOpenssl, stepLikeAnchor, stepLikeIssuer } from './testing-openssl.js';
import { keyMismatch } from './validate.js';

const EAST = `spiffe://${TEST_TRUST_DOMAIN}/cluster/east/gateway`;

function ecKey(namedCurve: string) {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve });
  return {
    privateKeyPem: String(privateKey.export({ type: 'pkcs8', format: 'pem' })),
    spki: publicKey.export({ type: 'spki', format: 'der' }),
  };
}

/** An ECDSA leaf as Certify issues it: the gateway's CSR, checked, its key certified by `issuer`. */
function leafFromCsr(issuer: KeyPairPem, key: ReturnType<typeof ecKey>): string {
  const decision = checkCsr(createCsr(key.privateKeyPem, EAST), EAST);
  if (!decision.ok) throw new Error(decision.reason);
  return issueLeaf(issuer, { uriSans: [EAST], publicKeyPem: decision.publicKeyPem }).certPem;
}

function opensslVerify(anchor: KeyPairPem, issuer: KeyPairPem, leafPem: string) {
  return runOpenssl({ 'anchor.pem': anchor.certPem, 'issuer.pem': issuer.certPem, 'leaf.pem': leafPem }, [
    'verify',
    '-CAfile',
    'anchor.pem',
    '-untrusted',
    'issuer.pem',
    '-purpose',
    'sslclient',
    'leaf.pem',
  ]);
}

const text = (certPem: string) =>
  runOpenssl({ 'c.pem': certPem }, ['x509', '-noout', '-text', '-in', 'c.pem']).output;

describe.each([
  [
    'an RSA anchor and issuer (isthmus certs)',
    () => ({ anchor: testPki().anchor, issuer: testPki().issuers.east }),
  ],
  [
    'an ECDSA P-256 anchor and issuer (step)',
    () => {
      const anchor = stepLikeAnchor('P-256', `root.${TEST_TRUST_DOMAIN}`);
      return { anchor, issuer: stepLikeIssuer(anchor, `identity.east.${TEST_TRUST_DOMAIN}`) };
    },
  ],
])('an ECDSA P-256 leaf under %s', (_what, pki) => {
  const { anchor, issuer } = pki();
  const key = ecKey('prime256v1');
  const leafPem = leafFromCsr(issuer, key);

  it('verifies with openssl (verify -CAfile anchor -untrusted issuer leaf)', () => {
    const verdict = opensslVerify(anchor, issuer, leafPem);
    expect(verdict.output).toContain('leaf.pem: OK');
    expect(verdict.status).toBe(0);
  });

  it("carries the CSR's SubjectPublicKeyInfo byte for byte, and the key id of its point", () => {
    // The key's DER export is in the certificate as it is, where its key is.
    const x509 = new X509Certificate(leafPem);
    expect(x509.raw.includes(key.spki)).toBe(true);
    expect(x509.publicKey.export({ type: 'spki', format: 'der' }).equals(key.spki)).toBe(true);
    const point = key.spki.subarray(key.spki.length - 65);
    expect(point[0]).toBe(0x04);
    const keyId = createHash('sha1').update(point).digest('hex').toUpperCase().match(/../g)!.join(':');
    expect(text(leafPem)).toContain(`X509v3 Subject Key Identifier: \n                ${keyId}`);
  });

  it('asserts digitalSignature only: no keyEncipherment on an ECDSA key', () => {
    const printed = text(leafPem);
    expect(printed).toContain('Public Key Algorithm: id-ecPublicKey');
    expect(printed).toMatch(/X509v3 Key Usage: critical\s+Digital Signature\n/);
    expect(printed).not.toContain('Key Encipherment');
  });
});

describe('leaves by key type', () => {
  const { anchor, issuer } = { anchor: testPki().anchor, issuer: testPki().issuers.east };

  it('an RSA leaf keeps keyEncipherment (RSA key transport in TLS 1.2) with digitalSignature', () => {
    const leaf = issueLeaf(issuer, {
      uriSans: [EAST],
      publicKeyPem: createPublicKeyPem(testLeafKey().privateKeyPem),
    });
    expect(text(leaf.certPem)).toMatch(/X509v3 Key Usage: critical\s+Digital Signature, Key Encipherment\n/);
  });

  it('a P-384 leaf verifies with openssl', () => {
    const leafPem = leafFromCsr(issuer, ecKey('secp384r1'));
    expect(opensslVerify(anchor, issuer, leafPem).status).toBe(0);
    expect(text(leafPem)).toContain('NIST CURVE: P-384');
  });

  it.each([
    [
      'Ed25519',
      () => generateKeyPairSync('ed25519').publicKey,
      /public key refused: Ed25519 keys are not certified/,
    ],
    [
      'secp256k1',
      () => generateKeyPairSync('ec', { namedCurve: 'secp256k1' }).publicKey,
      /public key refused: ECDSA \(secp256k1\) keys are not certified/,
    ],
  ])('refuses to certify an %s key (CSR_INVALID)', (_what, key, reason) => {
    const publicKeyPem = String(key().export({ type: 'spki', format: 'pem' }));
    let thrown: unknown;
    try {
      issueLeaf(issuer, { uriSans: [EAST], publicKeyPem });
    } catch (err) {
      thrown = err;
    }
    expect(isIsthmusError(thrown) && thrown.code).toBe('CSR_INVALID');
    expect((thrown as Error).message).toMatch(reason);
  });

  it('issueGatewayCertificate makes an ECDSA P-256 key when asked, whose certificate it matches', () => {
    const cert = issueGatewayCertificate(issuer, {
      trustDomain: TEST_TRUST_DOMAIN,
      cluster: 'east',
      keyType: 'ecdsa-p256',
    });
    const x509 = new X509Certificate(cert.certPem);
    expect(x509.publicKey.asymmetricKeyType).toBe('ec');
    expect(x509.publicKey.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
    expect(keyMismatch(x509, cert.keyPem)).toBeUndefined();
    expect(keyMismatch(x509, ecKey('prime256v1').privateKeyPem)).toBe(
      'the private key does not match the certificate',
    );
    expect(keyMismatch(x509, testLeafKey().privateKeyPem)).toBe(
      'the private key does not match the certificate',
    );
    expect(opensslVerify(anchor, issuer, cert.certPem).status).toBe(0);
  });
});

function createPublicKeyPem(privateKeyPem: string): string {
  return String(createPublicKey(privateKeyPem).export({ type: 'spki', format: 'pem' }));
}

/**
 * ECDSA certificate requests (csr.ts): what the gateway sends since its leaf keys are P-256, what
 * checkCsr accepts besides RSA (P-256, P-384), and the keys it refuses by name. Interop with the
 * openssl CLI both ways: openssl verifies the CSRs Isthmus makes, Isthmus reads the ones openssl makes.
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, sign } from 'node:crypto';
import forge from 'node-forge';
import { describe, expect, it } from 'vitest';
import { checkCsr, createCsr } from './csr.js';
import { childrenOf, tlvAt } from './der.js';
import { testLeafKey } from './testing.js';
import { bits, craftedCsr, ecSpki, NULL, OID, oid, seq, testKey } from './testing-der.js';
import { runOpenssl } from './testing-openssl.js';

const EAST = 'spiffe://cluster.local/cluster/east/gateway';
const WEST = 'spiffe://cluster.local/cluster/west/gateway';
/** RFC 5758 §3.2. */
const ECDSA_WITH_SHA256 = '1.2.840.10045.4.3.2';

function ecKey(namedCurve: string): { privateKeyPem: string; publicKeyPem: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve });
  return {
    privateKeyPem: String(privateKey.export({ type: 'pkcs8', format: 'pem' })),
    publicKeyPem: String(publicKey.export({ type: 'spki', format: 'pem' })),
  };
}
const p256 = ecKey('prime256v1');

const oidDer = (oid: string) => {
  const body = Buffer.from(forge.asn1.oidToDer(oid).getBytes(), 'binary');
  return Buffer.concat([Buffer.from([0x06, body.length]), body]);
};
const u16 = (n: number) => {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n);
  return b;
};
const derOf = (pem: string) => Buffer.from(pem.replace(/-----[^-]+-----|\s/g, ''), 'base64');
const csrPem = (der: Buffer) =>
  `-----BEGIN CERTIFICATE REQUEST-----\n${der.toString('base64')}\n-----END CERTIFICATE REQUEST-----\n`;

/** `openssl req` of `keyPem` (written as key.pem): a CSR of a key type Isthmus may refuse. */
function opensslCsr(keyPem: string, ...extra: string[]): string {
  const made = runOpenssl({ 'key.pem': keyPem }, [
    'req',
    '-new',
    '-key',
    'key.pem',
    '-subj',
    '/CN=gw',
    ...extra,
  ]);
  expect(made.status, made.output).toBe(0);
  return made.output.slice(made.output.indexOf('-----BEGIN'));
}

/** A key the openssl CLI makes (`genpkey` arguments), as PKCS#8 PEM. */
function opensslKey(...args: string[]): string {
  const made = runOpenssl({}, ['genpkey', ...args]);
  expect(made.status, made.output).toBe(0);
  return made.output.slice(made.output.indexOf('-----BEGIN'));
}

describe('createCsr with an ECDSA P-256 key', () => {
  it('makes a CSR openssl verifies: ecdsa-with-SHA256, the key as node:crypto exports it, the URI SAN', () => {
    const pem = createCsr(p256.privateKeyPem, EAST);
    const verified = runOpenssl({ 'csr.pem': pem }, ['req', '-verify', '-noout', '-in', 'csr.pem']);
    expect(verified.status, verified.output).toBe(0);
    expect(verified.output).toMatch(/verify OK/);
    const text = runOpenssl({ 'csr.pem': pem }, ['req', '-noout', '-text', '-in', 'csr.pem']).output;
    expect(text).toContain('Signature Algorithm: ecdsa-with-SHA256');
    expect(text).toContain('ASN1 OID: prime256v1');
    expect(text).toContain(`URI:${EAST}`);
    // The SubjectPublicKeyInfo is the key's DER export, as it is.
    const spki = createPublicKey(p256.publicKeyPem).export({ type: 'spki', format: 'der' });
    expect(derOf(pem).includes(spki)).toBe(true);
  });

  it('is accepted by checkCsr with and without the identity, which hands on the key as the CSR holds it', () => {
    for (const pem of [createCsr(p256.privateKeyPem, EAST), createCsr(p256.privateKeyPem)]) {
      expect(checkCsr(pem, EAST)).toEqual({ ok: true, publicKeyPem: p256.publicKeyPem });
    }
  });

  it('accepts P-384 keys, and CSRs openssl makes for P-256 and P-384 keys', () => {
    const p384 = ecKey('secp384r1');
    expect(checkCsr(createCsr(p384.privateKeyPem, EAST), EAST)).toEqual({
      ok: true,
      publicKeyPem: p384.publicKeyPem,
    });
    for (const key of [p256, p384]) {
      const pem = opensslCsr(key.privateKeyPem, '-addext', `subjectAltName=URI:${EAST}`);
      expect(checkCsr(pem, EAST)).toEqual({ ok: true, publicKeyPem: key.publicKeyPem });
      expect(checkCsr(pem, WEST)).toMatchObject({ ok: false, status: 'denied' });
    }
  });
});

describe('createCsr with an RSA key', () => {
  it('makes the bytes forge made (its csr.sign, as createCsr did before ECDSA)', () => {
    const key = testLeafKey();
    const byForge = (identity?: string) => {
      const privateKey = forge.pki.privateKeyFromPem(key.privateKeyPem) as forge.pki.rsa.PrivateKey;
      const csr = forge.pki.createCertificationRequest();
      csr.publicKey = forge.pki.setRsaPublicKey(privateKey.n, privateKey.e);
      if (identity !== undefined) {
        csr.setAttributes([
          {
            name: 'extensionRequest',
            extensions: [{ name: 'subjectAltName', altNames: [{ type: 6, value: identity }] }],
          },
        ]);
      }
      csr.sign(privateKey, forge.md.sha256.create());
      return forge.pki.certificationRequestToPem(csr).replace(/\r\n/g, '\n');
    };
    expect(createCsr(key.privateKeyPem, EAST)).toBe(byForge(EAST));
    expect(createCsr(key.privateKeyPem)).toBe(byForge());
  });
});

describe('checkCsr decides for an ECDSA CSR as for an RSA one (csr.test.ts: the rest)', () => {
  it('denies what openssl asks for besides the identity', () => {
    const pem = opensslCsr(p256.privateKeyPem, '-addext', `subjectAltName=URI:${EAST},DNS:evil.example`);
    expect(checkCsr(pem, EAST)).toMatchObject({
      ok: false,
      status: 'denied',
      reason: expect.stringContaining(`the CSR asks for DNS:evil.example; this caller may only hold ${EAST}`),
    });
    const ca = opensslCsr(p256.privateKeyPem, '-addext', 'basicConstraints=critical,CA:TRUE');
    expect(checkCsr(ca, EAST)).toMatchObject({ ok: false, status: 'denied', reason: /CA certificate/ });
  });
});

describe('checkCsr refuses', () => {
  it.each([
    [
      'secp256k1',
      () => opensslKey('-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:secp256k1'),
      /ECDSA \(secp256k1\) keys are not certified \(no TLS 1\.3 signature scheme/,
    ],
    [
      'P-192',
      () => opensslKey('-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-192'),
      /ECDSA \(prime192v1\) keys are not certified/,
    ],
    [
      'P-521',
      () => opensslKey('-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-521'),
      /ECDSA \(secp521r1\) keys are not certified \(rustls on ring, as in Linkerd proxies, cannot verify P-521/,
    ],
    ['Ed25519', () => opensslKey('-algorithm', 'ed25519'), /^Ed25519 keys are not certified/],
    ['Ed448', () => opensslKey('-algorithm', 'ed448'), /^Ed448 keys are not certified/],
    [
      'RSA-PSS',
      () => opensslKey('-algorithm', 'RSA-PSS', '-pkeyopt', 'rsa_keygen_bits:2048'),
      /^RSA-PSS keys are not certified \(an id-RSASSA-PSS key/,
    ],
    [
      'DSA',
      () =>
        String(
          generateKeyPairSync('dsa', { modulusLength: 2048, divisorLength: 256 }).privateKey.export({
            type: 'pkcs8',
            format: 'pem',
          }),
        ),
      /^DSA keys are not certified \(TLS 1\.3 has no DSA\)/,
    ],
  ])('a CSR for a %s key, by name', (_what, key, reason) => {
    const pem = opensslCsr(key(), '-addext', `subjectAltName=URI:${EAST}`);
    const decision = checkCsr(pem, EAST);
    expect(decision).toMatchObject({ ok: false, status: 'invalid', reason: expect.stringMatching(reason) });
    expect(decision.ok === false && decision.reason).toContain(
      'Isthmus certifies RSA (2048 to 8192 bits) or ECDSA P-256 or P-384 keys',
    );
  });

  it('an ECDSA CSR whose signature does not verify', () => {
    const der = derOf(createCsr(p256.privateKeyPem, EAST));
    // The last byte is the signature's s (a DER INTEGER): still an Ecdsa-Sig-Value, for another s.
    der[der.length - 1] = der[der.length - 1]! ^ 0x01;
    expect(checkCsr(csrPem(der), EAST)).toMatchObject({
      ok: false,
      status: 'invalid',
      reason: /does not verify/,
    });
  });

  it('an ECDSA CSR signed by another key than the one it holds', () => {
    const other = ecKey('prime256v1');
    const der = derOf(createCsr(other.privateKeyPem, EAST));
    const spkiOf = (k: string) => createPublicKey(k).export({ type: 'spki', format: 'der' });
    const at = der.indexOf(spkiOf(other.publicKeyPem));
    spkiOf(p256.publicKeyPem).copy(der, at);
    expect(checkCsr(csrPem(der), EAST)).toMatchObject({
      ok: false,
      status: 'invalid',
      reason: /does not verify/,
    });
  });

  /**
   * The CertificationRequestInfo re-encoded with a long-form length (0x30 0x81 n → 0x30 0x82 0 n):
   * the same ASN.1 value in other bytes. A check that re-encodes before verifying (forge's) would
   * verify the signature made over the DER; the bytes the CSR carries are not the ones signed.
   */
  function withLongFormInfoLength(der: Buffer): Buffer {
    // SEQUENCE 0x30 0x82 <len> { CertificationRequestInfo 0x30 0x81 <len> … } for a P-256 CSR.
    expect([der[0], der[1], der[4], der[5]]).toEqual([0x30, 0x82, 0x30, 0x81]);
    const infoLength = der[6]!;
    const info = Buffer.concat([Buffer.from([0x30, 0x82]), u16(infoLength), der.subarray(7, 7 + infoLength)]);
    const body = Buffer.concat([info, der.subarray(7 + infoLength)]);
    return Buffer.concat([Buffer.from([0x30, 0x82]), u16(body.length), body]);
  }

  it('an ECDSA CSR whose signature was made over another encoding of what it carries', () => {
    const der = derOf(createCsr(p256.privateKeyPem, EAST));
    const reencoded = withLongFormInfoLength(der);
    expect(checkCsr(csrPem(reencoded), EAST)).toMatchObject({
      ok: false,
      status: 'invalid',
      reason: /does not verify/,
    });
  });

  it('(while a signature over the bytes it carries verifies: they are verified as they are)', () => {
    const reencoded = withLongFormInfoLength(derOf(createCsr(p256.privateKeyPem, EAST)));
    const info = reencoded.subarray(4, 4 + 4 + reencoded.readUInt16BE(6));
    const signature = sign('sha256', info, createPrivateKey(p256.privateKeyPem));
    const algorithm = Buffer.concat([Buffer.from([0x30, 0x0a]), oidDer(ECDSA_WITH_SHA256)]);
    const bits = Buffer.concat([Buffer.from([0x03, signature.length + 1, 0x00]), signature]);
    const body = Buffer.concat([info, algorithm, bits]);
    const der = Buffer.concat([Buffer.from([0x30, 0x82]), u16(body.length), body]);
    expect(checkCsr(csrPem(der), EAST)).toEqual({ ok: true, publicKeyPem: p256.publicKeyPem });
  });

  it('an ECDSA key in a form OpenSSL does not write (a compressed point), which the certificate would carry', () => {
    const compressed = runOpenssl({ 'key.pem': p256.privateKeyPem }, [
      'ec',
      '-in',
      'key.pem',
      '-conv_form',
      'compressed',
    ]);
    const keyPem = compressed.output.slice(compressed.output.indexOf('-----BEGIN'));
    const pem = opensslCsr(keyPem);
    expect(checkCsr(pem, EAST)).toMatchObject({
      ok: false,
      status: 'invalid',
      reason: /not encoded as OpenSSL writes it \(DER, a named curve, an uncompressed point\)/,
    });
  });

  it('bytes after the CertificationRequest', () => {
    const der = derOf(createCsr(p256.privateKeyPem, EAST));
    expect(checkCsr(csrPem(Buffer.concat([der, Buffer.from([0])])), EAST)).toMatchObject({
      ok: false,
      status: 'invalid',
      reason: /not a PEM PKCS#10 certificate request: bytes after/,
    });
  });
});

describe('the key type, read from the DER alone', () => {
  const key = testKey('ec');
  const [algorithm, keyBits] = childrenOf(key.spki, tlvAt(key.spki, 0, key.spki.length));
  const point = key.spki.subarray(keyBits!.body + 1);

  it.each([
    [
      'a trailing element inside the SubjectPublicKeyInfo',
      seq(key.spki.subarray(algorithm!.start, algorithm!.end), bits(point), NULL),
    ],
    ['the P-384 curve OID on a P-256 point', ecSpki(point, OID.secp384r1)],
    ['NULL curve parameters (implicitlyCA)', seq(seq(oid(OID.ecPublicKey), NULL), bits(point))],
    ['no curve parameters', seq(seq(oid(OID.ecPublicKey)), bits(point))],
  ])('refuses %s as not encoded as OpenSSL writes it', (_what, spki) => {
    expect(checkCsr(craftedCsr({ key, spki }), EAST)).toMatchObject({
      ok: false,
      status: 'invalid',
      reason: expect.stringMatching(
        /not encoded as OpenSSL writes it \(DER, a named curve, an uncompressed point\)/,
      ),
    });
  });

  it('refuses a P-256 point whose x is not reduced modulo p (x + p, the layout right): OpenSSL reads no key', () => {
    // x = 5 is on P-256 (5^3 - 15 + b is a square mod p); x + p still fits 32 octets.
    const p = 2n ** 256n - 2n ** 224n + 2n ** 192n + 2n ** 96n - 1n;
    const b = 0x5ac635d8aa3a93e7b3ebbd55769886bc651d06b0cc53b0f63bce3c3e27d2604bn;
    const power = (base: bigint, e: bigint): bigint => {
      let r = 1n;
      for (let x = base % p, n = e; n > 0n; n >>= 1n, x = (x * x) % p) if (n & 1n) r = (r * x) % p;
      return r;
    };
    const y = power((125n - 15n + b) % p, (p + 1n) / 4n);
    expect((y * y) % p).toBe((125n - 15n + b) % p);
    const octets = (n: bigint) => Buffer.from(n.toString(16).padStart(64, '0'), 'hex');
    const unreduced = ecSpki(Buffer.concat([Buffer.from([4]), octets(5n + p), octets(y)]));
    expect(unreduced.length).toBe(91);
    expect(checkCsr(craftedCsr({ key, spki: unreduced }), EAST)).toMatchObject({
      ok: false,
      status: 'invalid',
      reason: expect.stringMatching(/^the CSR's ECDSA P-256 key is unreadable/),
    });
  });

  it('refuses a curve it has no name for by its OID', () => {
    const brainpool = seq(seq(oid(OID.ecPublicKey), oid('1.3.36.3.3.2.8.1.1.7')), bits(point));
    expect(checkCsr(craftedCsr({ key, spki: brainpool }), EAST)).toMatchObject({
      ok: false,
      status: 'invalid',
      reason: expect.stringMatching(
        /^ECDSA \(curve 1\.3\.36\.3\.3\.2\.8\.1\.1\.7\) keys are not certified \(no TLS 1\.3 signature scheme/,
      ),
    });
  });

  it('takes EC keys only past the RSA path: an RSA key under id-ea-rsa (2.5.8.1.1), which OpenSSL reads as RSA, is refused by its OID', () => {
    const small = generateKeyPairSync('rsa', { modulusLength: 1024 });
    const rsaSpki = small.publicKey.export({ type: 'spki', format: 'der' });
    const [, keyBits] = childrenOf(rsaSpki, tlvAt(rsaSpki, 0, rsaSpki.length));
    const aliased = seq(seq(oid('2.5.8.1.1'), NULL), rsaSpki.subarray(keyBits!.start));
    expect(createPublicKey({ key: aliased, format: 'der', type: 'spki' }).asymmetricKeyType).toBe('rsa');
    const pem = craftedCsr({
      key: { privateKey: small.privateKey, spki: aliased },
      algorithm: seq(oid(OID.sha256WithRsa), NULL),
    });
    expect(checkCsr(pem, EAST)).toMatchObject({
      ok: false,
      status: 'invalid',
      reason: expect.stringMatching(/^Algorithm 2\.5\.8\.1\.1 keys are not certified/),
    });
  });

  it('refuses an ecdsa-with-SHA256 AlgorithmIdentifier with NULL parameters (RFC 5758 §3.2: absent)', () => {
    expect(checkCsr(craftedCsr({ key, algorithm: seq(oid(OID.ecdsaWithSha256), NULL) }), EAST)).toMatchObject(
      {
        ok: false,
        status: 'invalid',
        reason: expect.stringMatching(/signature algorithm .*parameters/),
      },
    );
    expect(checkCsr(craftedCsr({ key, algorithm: seq(oid(OID.ecdsaWithSha256)) }), EAST).ok).toBe(true);
  });
});

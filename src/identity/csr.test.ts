import { execFile } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import forge from 'node-forge';
import { afterAll, describe, expect, it } from 'vitest';
import { buildCsr, checkCsr, createCsr } from './csr.js';
import { allowedIdentityFor, defaultIdentityRules, parseServiceAccountUsername } from './identity-policy.js';
import { generateEcKey, generateRsaKey } from './keys.js';
import {
  caExtension,
  craftedCsr,
  extensionRequest,
  NULL,
  OID,
  oid,
  sanExtension,
  seq,
  testKey,
  uriName,
} from './testing-der.js';

const EAST = 'spiffe://cluster.local/cluster/east/gateway';
const WEST = 'spiffe://cluster.local/cluster/west/gateway';
const key = generateRsaKey();

/** An ECDSA P-256 key, as gateways make theirs (keys.ts). */
const ecKey = generateEcKey();

/** A CSR with arbitrary requested extensions, signed by `signer` (RSA: the bytes forge's csr.sign made). */
function csrWith(extensions: object[], signer = key.privateKeyPem): string {
  return buildCsr(signer, extensions, [{ shortName: 'CN', value: 'anything' }]);
}
const san = (...altNames: object[]) => ({ name: 'subjectAltName', altNames });

describe('checkCsr', () => {
  it('accepts a CSR naming the allowed identity, and one naming none', () => {
    for (const pem of [createCsr(key.privateKeyPem, EAST), createCsr(key.privateKeyPem)]) {
      const decision = checkCsr(pem, EAST);
      expect(decision).toEqual({ ok: true, publicKeyPem: expect.stringContaining('PUBLIC KEY') });
    }
  });

  it.each([
    [
      'another gateway identity',
      [san({ type: 6, value: WEST })],
      /asks for URI:spiffe:\/\/cluster.local\/cluster\/west\/gateway/,
    ],
    [
      'its identity plus another',
      [san({ type: 6, value: EAST }, { type: 6, value: WEST })],
      /asks for URI:.*west/,
    ],
    [
      'an extra DNS name',
      [san({ type: 6, value: EAST }, { type: 2, value: 'evil.example' })],
      /DNS:evil\.example/,
    ],
    ['an IP address', [san({ type: 7, ip: '10.0.0.1' })], /IP:10\.0\.0\.1/],
    ['a CA certificate', [{ name: 'basicConstraints', cA: true }], /asks for a CA certificate/],
    ['certificate signing', [{ name: 'keyUsage', keyCertSign: true }], /certificate-signing key usage/],
    [
      'CRL signing',
      [{ name: 'keyUsage', digitalSignature: true, cRLSign: true }],
      /certificate-signing key usage/,
    ],
  ])('denies %s, for an RSA key and an ECDSA P-256 one alike', (_what, extensions, reason) => {
    for (const signer of [key.privateKeyPem, ecKey.privateKeyPem]) {
      const decision = checkCsr(csrWith(extensions, signer), EAST);
      expect(decision).toMatchObject({ ok: false, status: 'denied', reason: expect.stringMatching(reason) });
    }
  });

  it('names the allowed identity in a denial', () => {
    const decision = checkCsr(csrWith([san({ type: 6, value: WEST })]), EAST);
    expect(decision.ok === false && decision.reason).toContain(`may only hold ${EAST}`);
  });

  it.each([
    ['garbage', 'hello', /not a PEM PKCS#10/],
    ['empty', '', /not a PEM PKCS#10/],
    [
      'a certificate instead of a CSR',
      '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n',
      /not a PEM/,
    ],
  ])('refuses %s as invalid', (_what, pem, reason) => {
    expect(checkCsr(pem, EAST)).toMatchObject({
      ok: false,
      status: 'invalid',
      reason: expect.stringMatching(reason),
    });
  });

  it('refuses a CSR whose signature does not verify (no proof of possession)', () => {
    const pem = createCsr(key.privateKeyPem, EAST);
    const der = Buffer.from(pem.replace(/-----[^-]+-----|\s/g, ''), 'base64');
    der[der.length - 1] = der[der.length - 1]! ^ 0xff; // the last byte belongs to the signature
    const tampered = `-----BEGIN CERTIFICATE REQUEST-----\n${der.toString('base64')}\n-----END CERTIFICATE REQUEST-----\n`;
    expect(checkCsr(tampered, EAST)).toMatchObject({
      ok: false,
      status: 'invalid',
      reason: /does not verify/,
    });
  });

  /**
   * A CSR for an arbitrary RSA public key `(n, e)`. With e = 1 the signature is the padded digest
   * itself (s^1 = s), so the self-signature verifies without any private key.
   */
  function csrForKey(n: forge.jsbn.BigInteger, e: forge.jsbn.BigInteger): string {
    const csr = forge.pki.createCertificationRequest();
    csr.publicKey = forge.pki.setRsaPublicKey(n, e);
    const bytes = (n.bitLength() + 7) >> 3;
    const signer = {
      sign: (md: forge.md.MessageDigest) => {
        const digestInfo =
          forge.util.hexToBytes('3031300d060960864801650304020105000420') + md.digest().getBytes();
        return `\x00\x01${'\xff'.repeat(bytes - 3 - digestInfo.length)}\x00${digestInfo}`;
      },
    };
    csr.sign(signer as unknown as forge.pki.rsa.PrivateKey, forge.md.sha256.create());
    return forge.pki.certificationRequestToPem(csr);
  }
  const BigInteger = forge.jsbn.BigInteger;
  const ones = (bits: number) => new BigInteger('1'.repeat(bits), 2);

  it('refuses a public exponent of 1: its "private" key is public, and the signature proves nothing', () => {
    const pem = csrForKey(ones(2048), new BigInteger('1'));
    expect(checkCsr(pem, EAST)).toMatchObject({
      ok: false,
      status: 'invalid',
      reason: expect.stringMatching(/public exponent/),
    });
  });

  it.each([
    // Held the event loop 7 s in forge's pure-JS verify (16384 bits, 8.6 kB of PEM: 218 s).
    ['an 8192-bit key with an 8191-bit exponent', ones(8192), ones(8191), /public exponent/],
    ['a 65536-bit modulus', ones(65536), new BigInteger('65537'), /at most 8192 bits/],
  ])('refuses %s before verifying its signature (seconds to minutes of CPU)', (_what, n, e, reason) => {
    const pem = csrForKey(n, e);
    // Its signature does not verify either: the key's reason shows the key was checked first.
    expect(checkCsr(pem, EAST)).toMatchObject({
      ok: false,
      status: 'invalid',
      reason: expect.stringMatching(reason),
    });
  });

  it('refuses keys shorter than 2048 bits', () => {
    const small = generateRsaKey(1024);
    expect(checkCsr(createCsr(small.privateKeyPem, EAST), EAST)).toMatchObject({
      ok: false,
      status: 'invalid',
      reason: /at least 2048/,
    });
  });
});

describe('identity policy', () => {
  const rules = defaultIdentityRules('cluster.local', 'east');

  it.each([
    ['system:serviceaccount:isthmus-system:isthmus-gateway', EAST],
    ['system:serviceaccount:default:isthmus-gateway', undefined],
    ['system:serviceaccount:isthmus-system:default', undefined],
    ['system:serviceaccount:isthmus-system:isthmus-gateway:x', undefined],
    ['kubernetes-admin', undefined],
    ['system:serviceaccount::isthmus-gateway', undefined],
  ])('%s may hold %s', (username, identity) => {
    expect(allowedIdentityFor(username, rules)).toBe(identity);
  });

  it('parses service account usernames', () => {
    expect(parseServiceAccountUsername('system:serviceaccount:ns:sa')).toEqual({
      namespace: 'ns',
      serviceAccount: 'sa',
    });
    expect(parseServiceAccountUsername('system:node:foo')).toBeUndefined();
  });
});

describe('CSRs made by openssl', () => {
  const run = promisify(execFile);
  let dir: string | undefined;
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  async function opensslCsr(keyPem: string, ...extra: string[]): Promise<string> {
    dir ??= await mkdtemp(join(tmpdir(), 'isthmus-csr-'));
    const keyFile = join(dir, `${Math.random().toString(36).slice(2)}.key`);
    await writeFile(keyFile, keyPem, { mode: 0o600 });
    const { stdout } = await run('openssl', ['req', '-new', '-key', keyFile, '-subj', '/CN=gw', ...extra]);
    return stdout;
  }

  it('accepts an RSA CSR naming the identity', async () => {
    const pem = await opensslCsr(key.privateKeyPem, '-addext', `subjectAltName=URI:${EAST}`);
    expect(checkCsr(pem, EAST)).toMatchObject({ ok: true });
    expect(checkCsr(pem, WEST)).toMatchObject({ ok: false, status: 'denied' });
  });

  it('accepts an ECDSA P-256 CSR (csr-ecdsa.test.ts has the rest)', async () => {
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({
      type: 'pkcs8',
      format: 'pem',
    });
    const pem = await opensslCsr(String(ec), '-addext', `subjectAltName=URI:${EAST}`);
    expect(checkCsr(pem, EAST)).toMatchObject({ ok: true });
    expect(checkCsr(pem, WEST)).toMatchObject({ ok: false, status: 'denied' });
  });
});

describe('checkCsr reads every extensionRequest', () => {
  const wanted = [sanExtension(uriName(EAST))];
  const evil = [caExtension(), sanExtension(uriName(WEST))];
  it.each([
    ['a second extensionRequest attribute', [extensionRequest(wanted), extensionRequest(evil)]],
    ['a second value in the SET of its extensionRequest', [extensionRequest(wanted, evil)]],
    ['an empty extensionRequest, then another', [extensionRequest([]), extensionRequest(evil)]],
  ])(
    'refuses %s as invalid (PKCS#9: one value, once), for an RSA key and an ECDSA one alike',
    (_what, attributes) => {
      for (const signer of [testKey('rsa'), testKey('ec')]) {
        // The requests alone: what they ask is seen, and denied.
        for (const only of [wanted, evil]) {
          const decision = checkCsr(craftedCsr({ key: signer, attributes: [extensionRequest(only)] }), EAST);
          expect(decision.ok).toBe(only === wanted);
        }
        expect(checkCsr(craftedCsr({ key: signer, attributes }), EAST)).toMatchObject({
          ok: false,
          status: 'invalid',
          reason: expect.stringMatching(/more than one extensionRequest/),
        });
      }
    },
  );
});

describe('checkCsr takes an RSA self-signature with SHA-2 only', () => {
  const rsa = testKey('rsa');
  it.each([
    ['md5WithRSAEncryption', OID.md5WithRsa, 'md5'],
    ['sha1WithRSAEncryption', OID.sha1WithRsa, 'sha1'],
  ])('refuses %s, which forge verifies', (name, algorithm, hash) => {
    expect(
      checkCsr(craftedCsr({ key: rsa, algorithm: seq(oid(algorithm), NULL), hash }), EAST),
    ).toMatchObject({
      ok: false,
      status: 'invalid',
      reason: expect.stringMatching(
        new RegExp(`signature algorithm ${algorithm.replace(/\./g, '\\.')} .*${name}`),
      ),
    });
  });

  it.each([
    [OID.sha256WithRsa, 'sha256'],
    [OID.sha384WithRsa, 'sha384'],
    [OID.sha512WithRsa, 'sha512'],
  ])('accepts %s', (algorithm, hash) => {
    expect(
      checkCsr(craftedCsr({ key: rsa, algorithm: seq(oid(algorithm), NULL), hash }), EAST),
    ).toMatchObject({
      ok: true,
    });
  });
});

/**
 * A CRL's signature covers its tbsCertList as DER (RFC 5280 §5.1.1.3). Verified over forge's
 * re-encoding of what it read, a validly signed CRL whose bytes were re-encoded (a long-form length
 * where DER has the short one) verified too: one list, many byte strings. Now the signature is
 * verified over the bytes as they stand, and a CRL that is not DER is refused, even one the CA's own
 * key signed over non-DER bytes (no tool Isthmus meets makes one; openssl verifies it, see below).
 */
import { execFileSync } from 'node:child_process';
import { createPrivateKey, sign, X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { KeyPairPem } from './ca.js';
import { createCrl, isIssuedBy, parseCrl } from './crl.js';
import { derToPem } from './pem.js';
import { RevocationList } from './revocation.js';
import { testPki } from './testing.js';
import { opensslCa } from './testing-openssl.js';

const dir = mkdtempSync(join(tmpdir(), 'isthmus-crl-der-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A DER length, or the long form with `extra` leading zero octets (BER allows it, DER does not). */
function lengthOctets(n: number, extra = 0): Buffer {
  if (n < 0x80 && extra === 0) return Buffer.from([n]);
  let hex = n.toString(16);
  if (hex.length % 2) hex = `0${hex}`;
  const value = Buffer.concat([Buffer.alloc(extra), Buffer.from(hex, 'hex')]);
  return Buffer.concat([Buffer.from([0x80 | value.length]), value]);
}

function tlv(tag: number, content: Buffer, extra = 0): Buffer {
  return Buffer.concat([Buffer.from([tag]), lengthOctets(content.length, extra), content]);
}

/** The elements of the SEQUENCE `der` (DER, lengths below 2^32). */
function elements(der: Buffer): Buffer[] {
  const contentOf = (at: number) => {
    const first = der[at + 1]!;
    if (first < 0x80) return { start: at + 2, length: first };
    const n = first & 0x7f;
    return { start: at + 2 + n, length: der.readUIntBE(at + 2, n) };
  };
  const outer = contentOf(0);
  const out: Buffer[] = [];
  for (let at = outer.start; at < outer.start + outer.length; ) {
    const { start, length } = contentOf(at);
    out.push(der.subarray(at, start + length));
    at = start + length;
  }
  return out;
}

const derOf = (pem: string) =>
  Buffer.from(pem.replace(/-----(BEGIN|END) X509 CRL-----/g, '').replace(/\s+/g, ''), 'base64');

/**
 * `tbs` with its version INTEGER (02 01 01) written with a long-form length (02 81 01 01): the same
 * value, in BER that is not DER.
 */
function longFormVersion(tbs: Buffer): Buffer {
  const [version, ...rest] = elements(tbs);
  expect(version!.equals(Buffer.from([0x02, 0x01, 0x01]))).toBe(true);
  return tlv(0x30, Buffer.concat([tlv(0x02, Buffer.from([0x01]), 1), ...rest]));
}

const pemOf = (der: Buffer) => derToPem(der, 'X509 CRL');

interface Case {
  name: string;
  ca: () => KeyPairPem;
  hash: string;
}

const cases: Case[] = [
  { name: 'an RSA CA', ca: () => testPki().anchor, hash: 'sha256' },
  {
    name: 'an ECDSA (P-256) CA',
    ca: (() => {
      let made: KeyPairPem | undefined;
      return () => {
        made ??= opensslCa({ key: 'ec', commonName: 'der-test-ec' });
        return made;
      };
    })(),
    hash: 'sha256',
  },
];

describe.each(cases)('a CRL that is not DER, from $name', ({ ca, hash }) => {
  const crlOf = () =>
    createCrl({
      issuerCertPem: ca().certPem,
      issuerKeyPem: ca().keyPem,
      revoked: [{ serial: '0abc', revokedAt: new Date('2026-11-20T00:00:00Z'), reason: 'keyCompromise' }],
      crlNumber: 9n,
    });

  it('as made, is DER, and its signature is checked over the tbsCertList bytes as they stand', () => {
    const pem = crlOf();
    const crl = parseCrl(pem);
    expect(crl.tbsDer.equals(elements(derOf(pem))[0]!)).toBe(true);
    expect(isIssuedBy(crl, new X509Certificate(ca().certPem))).toBe(true);
  });

  it('a validly signed CRL re-encoded with a long-form length inside what it signs is refused', () => {
    const [tbs, algorithm, signature] = elements(derOf(crlOf()));
    const malleated = tlv(0x30, Buffer.concat([longFormVersion(tbs!), algorithm!, signature!]));
    expect(() => parseCrl(pemOf(malleated))).toThrow(/the CRL is not DER-encoded \(its bytes differ/);
    // The CA is an anchor here: the bundle is its CRL alone, as the anchor's ca.crl is in crl.pem.
    expect(() => RevocationList.fromPem(pemOf(malleated), ca().certPem)).toThrow(
      /CRL #1 of the bundle: .*not DER/,
    );
  });

  it('and so is one whose outer length takes more octets than it needs', () => {
    const der = derOf(crlOf());
    const content = Buffer.concat(elements(der));
    expect(() => parseCrl(pemOf(tlv(0x30, content, 1)))).toThrow(/not DER-encoded/);
  });

  it("one the CA's own key signed over non-DER bytes is refused too, though openssl verifies it", () => {
    const [tbs, algorithm] = elements(derOf(crlOf()));
    const berTbs = longFormVersion(tbs!);
    const key = createPrivateKey(ca().keyPem);
    const sig = sign(hash, berTbs, key);
    const signed = tlv(
      0x30,
      Buffer.concat([berTbs, algorithm!, tlv(0x03, Buffer.concat([Buffer.from([0]), sig]))]),
    );
    // Signed over these very bytes: OpenSSL, which verifies over the bytes it received, takes it.
    const files = {
      crl: join(dir, `ber-${hash}-${Math.random()}.crl`),
      ca: join(dir, `ca-${Math.random()}.crt`),
    };
    writeFileSync(files.crl, pemOf(signed));
    writeFileSync(files.ca, ca().certPem);
    const openssl = execFileSync(
      'sh',
      ['-c', `openssl crl -in ${files.crl} -CAfile ${files.ca} -noout 2>&1`],
      {
        encoding: 'utf8',
      },
    );
    expect(openssl).toMatch(/verify OK/);
    // Refused all the same: RFC 5280 §5.1 requires DER, nothing Isthmus or openssl signs is other.
    expect(() => parseCrl(pemOf(signed))).toThrow(/not DER-encoded/);
  });

  it('a non-minimal INTEGER is refused (forge re-encodes it minimally, so the bytes differ)', () => {
    const [tbs, algorithm, signature] = elements(derOf(crlOf()));
    const [, ...rest] = elements(tbs!);
    const padded = tlv(0x30, Buffer.concat([Buffer.from([0x02, 0x02, 0x00, 0x01]), ...rest]));
    const der = tlv(0x30, Buffer.concat([padded, algorithm!, signature!]));
    expect(() => parseCrl(pemOf(der))).toThrow(/not DER-encoded \(its bytes differ/);
  });

  it('a BOOLEAN other than FF for TRUE, which forge keeps as it came, is refused', () => {
    const [tbs, algorithm, signature] = elements(derOf(crlOf()));
    const fields = elements(tbs!);
    const [crlExtensions] = elements(fields.at(-1)!);
    const exts = elements(crlExtensions!);
    const [oid, value] = elements(exts.at(-1)!); // the CRL number
    const flagged = tlv(0x30, Buffer.concat([oid!, Buffer.from([0x01, 0x01, 0x01]), value!]));
    const rebuilt = tlv(0xa0, tlv(0x30, Buffer.concat([...exts.slice(0, -1), flagged])));
    const newTbs = tlv(0x30, Buffer.concat([...fields.slice(0, -1), rebuilt]));
    const der = tlv(0x30, Buffer.concat([newTbs, algorithm!, signature!]));
    expect(() => parseCrl(pemOf(der))).toThrow(/not DER-encoded \(a BOOLEAN other than 00 or FF\)/);
  });
});

/** A CRL as `openssl ca -gencrl` signs it with `ca`'s key, revoking serial 0B (keyCompromise). */
function opensslCrl(ca: KeyPairPem): string {
  const work = mkdtempSync(join(dir, 'openssl-ca-'));
  writeFileSync(join(work, 'ca.crt'), ca.certPem);
  writeFileSync(join(work, 'ca.key'), ca.keyPem);
  writeFileSync(join(work, 'crlnumber'), '1000\n');
  writeFileSync(
    join(work, 'index.txt'),
    'R\t301231000000Z\t261101000000Z,keyCompromise\t0B\tunknown\t/CN=revoked\n',
  );
  writeFileSync(
    join(work, 'ca.cnf'),
    '[ca]\ndefault_ca = d\n[d]\ndatabase = index.txt\ncrlnumber = crlnumber\ndefault_md = sha256\n' +
      'default_crl_days = 7\ncrl_extensions = ext\n[ext]\nauthorityKeyIdentifier = keyid:always\n',
  );
  execFileSync(
    'openssl',
    ['ca', '-config', 'ca.cnf', '-gencrl', '-cert', 'ca.crt', '-keyfile', 'ca.key', '-out', 'c.crl'],
    {
      cwd: work,
      stdio: 'pipe',
    },
  );
  return execFileSync('openssl', ['crl', '-in', 'c.crl'], { cwd: work, encoding: 'utf8' });
}

describe.each(cases)('a CRL openssl signs with $name', ({ ca }) => {
  it('is DER, read and verified as before', () => {
    const crl = parseCrl(opensslCrl(ca()));
    expect(crl.crlNumber).toBe(0x1000n);
    expect(crl.revoked.get('b')?.reason).toBe('keyCompromise');
    expect(isIssuedBy(crl, new X509Certificate(ca().certPem))).toBe(true);
  });
});

describe.each(cases)(
  'a CertificateList of other than three elements, or another signature, from $name',
  ({ ca }) => {
    const parts = () =>
      elements(
        derOf(
          createCrl({ issuerCertPem: ca().certPem, issuerKeyPem: ca().keyPem, revoked: [], crlNumber: 3n }),
        ),
      );
    const crlWith = (...items: Buffer[]) => pemOf(tlv(0x30, Buffer.concat(items)));

    it('refuses a fourth element after the signature (RFC 5280 §5.1: exactly three), which the signature does not cover', () => {
      const [tbs, algorithm, signature] = parts();
      expect(
        isIssuedBy(parseCrl(crlWith(tbs!, algorithm!, signature!)), new X509Certificate(ca().certPem)),
      ).toBe(true);
      expect(() => parseCrl(crlWith(tbs!, algorithm!, signature!, Buffer.from([0x05, 0x00])))).toThrow(
        /CertificateList has 4 elements, not 3/,
      );
    });

    it('refuses a signature BIT STRING with unused bits, constructed, or no BIT STRING', () => {
      const [tbs, algorithm, signature] = parts();
      const value = signature!.subarray(signature![1]! < 0x80 ? 2 : 2 + (signature![1]! & 0x7f));
      expect(value[0]).toBe(0);
      const unusedBits = Buffer.concat([Buffer.from([1]), value.subarray(1)]);
      for (const [bad, reason] of [
        [tlv(0x03, unusedBits), /signatureValue BIT STRING has 1 unused bits/],
        [tlv(0x23, tlv(0x03, value)), /signatureValue is not a primitive BIT STRING/],
        [tlv(0x04, value), /signatureValue is not a primitive BIT STRING/],
      ] as const) {
        expect(() => parseCrl(crlWith(tbs!, algorithm!, bad))).toThrow(reason);
      }
    });
  },
);

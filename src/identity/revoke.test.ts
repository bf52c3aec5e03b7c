import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isIsthmusError } from '../errors.js';
import { issueGatewayCertificate } from './ca.js';
import { parseCrl } from './crl.js';
import { writeCertificates } from './files.js';
import { RevocationList } from './revocation.js';
import { revokeCertificate } from './revoke.js';

const root = mkdtempSync(join(tmpdir(), 'isthmus-revoke-'));
const dir = join(root, 'certs');
afterAll(() => rmSync(root, { recursive: true, force: true }));
beforeAll(async () => {
  await writeCertificates({ outDir: dir, clusters: ['east', 'west'], anchorKeyBits: 2048 });
});

const read = (f: string) => readFileSync(join(dir, f), 'utf8');
const issuerPair = (c: string) => ({ certPem: read(`${c}/issuer.crt`), keyPem: read(`${c}/issuer.key`) });

function gatewayCertFile(cluster: string): { file: string; cert: X509Certificate } {
  const cert = issueGatewayCertificate(issuerPair(cluster), { trustDomain: 'cluster.local', cluster });
  const file = join(root, `${cluster}-${Date.now()}-${Math.random()}.crt`);
  writeFileSync(file, cert.certPem);
  return { file, cert: new X509Certificate(cert.certPem) };
}

describe('isthmus certs revoke', () => {
  it('adds a gateway certificate to its issuer CRL, keeps earlier entries, and rebuilds the bundle', async () => {
    const first = gatewayCertFile('east');
    const second = gatewayCertFile('east');
    const r1 = await revokeCertificate({
      dir,
      cluster: 'east',
      certFile: first.file,
      reason: 'keyCompromise',
    });
    expect(r1).toMatchObject({ added: true, revokedCount: 1, crlFile: join(dir, 'east', 'issuer.crl') });
    const r2 = await revokeCertificate({ dir, cluster: 'east', certFile: second.file });
    expect(r2).toMatchObject({ added: true, revokedCount: 2 });
    const again = await revokeCertificate({ dir, cluster: 'east', serial: first.cert.serialNumber });
    expect(again).toMatchObject({ added: false, revokedCount: 2 });

    const crl = parseCrl(read('east/issuer.crl'));
    expect(crl.crlNumber).toBe(3n); // every write is a new, complete CRL with a higher number
    expect(crl.revoked.get(r1.serial)?.reason).toBe('keyCompromise');

    const list = RevocationList.fromPem(read('crl.pem'), read('ca.crt'));
    const eastIssuer = new X509Certificate(read('east/issuer.crt'));
    expect(list.check(first.cert, eastIssuer)).toMatch(/revoked/);
    expect(list.check(second.cert, eastIssuer)).toMatch(/revoked/);
    expect(list.check(gatewayCertFile('east').cert, eastIssuer)).toBeUndefined();
  });

  it("revokes a cluster's issuer in the anchor's CRL, which the bundle carries too", async () => {
    const westIssuer = new X509Certificate(read('west/issuer.crt'));
    const r = await revokeCertificate({ dir, issuerOf: 'west', certFile: join(dir, 'west', 'issuer.crt') });
    expect(r.crlFile).toBe(join(dir, 'ca.crl'));
    const list = RevocationList.fromPem(read('crl.pem'), read('ca.crt'));
    expect(list.crlCount()).toBe(2); // ca.crl + east/issuer.crl
    expect(list.check(gatewayCertFile('west').cert, westIssuer)).toMatch(/revoked by the trust anchor's CRL/);
  });

  it('refuses what it cannot do, with the reason, and writes nothing', async () => {
    const before = read('crl.pem');
    const cases: Array<[Parameters<typeof revokeCertificate>[0], string, RegExp]> = [
      [
        { dir, cluster: 'east', certFile: gatewayCertFile('west').file },
        'CERT_INVALID',
        /not issued by the issuer of cluster east/,
      ],
      [{ dir, cluster: 'east', serial: 'zz' }, 'CRL_INVALID', /not a hex serial/],
      [{ dir, cluster: 'east' }, 'USAGE', /--cert .* or --serial/],
      [{ dir, cluster: 'east', issuerOf: 'west', serial: '01' }, 'USAGE', /--cluster .* or --issuer-of/],
      [{ dir, cluster: 'north', serial: '01' }, 'CERT_INVALID', /north/],
    ];
    for (const [opts, code, why] of cases) {
      const err = await revokeCertificate(opts).catch((e) => e);
      expect(isIsthmusError(err), String(err)).toBe(true);
      expect(err.code).toBe(code);
      expect(err.message).toMatch(why);
    }
    expect(read('crl.pem')).toBe(before);
  });

  it("refuses to extend a CRL its CA did not sign, and to revoke an issuer without the anchor's key", async () => {
    const other = join(root, 'other');
    await writeCertificates({ outDir: other, clusters: ['east'], anchorKeyBits: 2048 });
    // east's CRL from the first PKI dropped into the second one's directory.
    writeFileSync(join(other, 'east', 'issuer.crl'), read('east/issuer.crl'));
    const err = await revokeCertificate({ dir: other, cluster: 'east', serial: '01' }).catch((e) => e);
    expect(isIsthmusError(err, 'CRL_INVALID')).toBe(true);
    expect(err.message).toMatch(/not signed by the CA it belongs to/);

    rmSync(join(other, 'ca.key'));
    const noKey = await revokeCertificate({ dir: other, issuerOf: 'east', serial: '01' }).catch((e) => e);
    expect(isIsthmusError(noKey, 'CERT_INVALID')).toBe(true);
    expect(noKey.message).toMatch(/needs the trust anchor's key: .*ca\.key is missing/);
  });
});

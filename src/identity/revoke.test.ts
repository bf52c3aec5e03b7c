import { X509Certificate } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isIsthmusError } from '../errors.js';
import { createIssuer, issueGatewayCertificate, issueLeaf } from './ca.js';
import { createCrl, parseCrl } from './crl.js';
import { writeCertificates } from './files.js';
import { RevocationList } from './revocation.js';
import { crlApplySteps, revokeCertificate, revokedLines, revokeNextSteps } from './revoke.js';
import { identityServiceId } from './spiffe.js';
import { opensslCa, stepLikeAnchor, stepLikeIssuer, writeCaLayout } from './testing-openssl.js';

const root = mkdtempSync(join(tmpdir(), 'isthmus-revoke-'));
const dir = join(root, 'certs');
afterAll(() => rmSync(root, { recursive: true, force: true }));
beforeAll(async () => {
  await writeCertificates({ outDir: dir, clusters: ['east', 'west'], anchorKeyBits: 2048 });
});

const reader = (certs: string) => (f: string) => readFileSync(join(certs, f), 'utf8');
const read = reader(dir);

/** A gateway certificate signed by `cluster`'s issuer in `certs` as it is now, written to a file. */
function leafOf(certs: string, cluster: string): { file: string; cert: X509Certificate } {
  const r = reader(certs);
  const issuer = { certPem: r(`${cluster}/issuer.crt`), keyPem: r(`${cluster}/issuer.key`) };
  const cert = issueGatewayCertificate(issuer, { trustDomain: 'cluster.local', cluster });
  const file = join(root, `${cluster}-${Date.now()}-${Math.random()}.crt`);
  writeFileSync(file, cert.certPem);
  return { file, cert: new X509Certificate(cert.certPem) };
}
const gatewayCertFile = (cluster: string) => leafOf(dir, cluster);

/** A directory of its own with east and west, for tests that replace issuers. */
async function freshCerts(): Promise<string> {
  const certs = mkdtempSync(join(root, 'fresh-'));
  await writeCertificates({ outDir: certs, clusters: ['east', 'west'], anchorKeyBits: 2048 });
  return certs;
}

/** East's issuer renewed the way the CLI does it: `isthmus certs --clusters east --reuse-anchor --force`. */
const renewEast = (certs: string) =>
  writeCertificates({ outDir: certs, clusters: ['east'], reuseAnchor: true, force: true });

/** What a gateway trusting the anchor loads from crl.pem (it throws where a gateway refuses it). */
const loaded = (certs: string) => RevocationList.fromPem(reader(certs)('crl.pem'), reader(certs)('ca.crt'));

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
    // Every write is a new, complete CRL with a higher number, at least the signing time in ms.
    expect(crl.crlNumber).toBeGreaterThanOrEqual(BigInt(crl.thisUpdate.getTime()));
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

  it('under an ECDSA anchor and issuers (as step makes them for Linkerd), revokes an issuer and a gateway certificate', async () => {
    const ec = join(root, 'ecdsa');
    const anchor = stepLikeAnchor('P-256');
    const east = stepLikeIssuer(anchor, 'identity.east.cluster.local', 'P-384');
    mkdirSync(ec);
    writeCaLayout(ec, anchor, { east });
    const leaf = leafOf(ec, 'east');

    await revokeCertificate({ dir: ec, cluster: 'east', certFile: leaf.file, reason: 'keyCompromise' });
    await revokeCertificate({ dir: ec, issuerOf: 'east', certFile: join(ec, 'east', 'issuer.crt') });
    const r = reader(ec);
    expect(parseCrl(r('ca.crl')).signatureAlgorithm).toBe('1.2.840.10045.4.3.2'); // ecdsa-with-SHA256
    expect(parseCrl(r('east/issuer.crl')).signatureAlgorithm).toBe('1.2.840.10045.4.3.3'); // ecdsa-with-SHA384
    // What a gateway trusting the anchor loads: both lists verified, both certificates refused.
    const list = loaded(ec);
    expect(list.check(leaf.cert)).toMatch(/is revoked by its issuer's CRL \(keyCompromise, since /);
    expect(list.check(new X509Certificate(east.certPem))).toMatch(/is revoked by the trust anchor's CRL/);
  });

  it('refuses --issuer-of under an Ed25519 anchor up front, saying what to do, and writes nothing', async () => {
    const ed = join(root, 'ed25519');
    const anchor = opensslCa({ key: 'ed25519', commonName: 'root.cluster.local' });
    mkdirSync(ed);
    writeCaLayout(ed, anchor, {
      east: opensslCa({ key: 'rsa', commonName: 'identity.east.cluster.local', signer: anchor }),
    });
    for (const target of [{ certFile: join(ed, 'east', 'issuer.crt') }, { serial: '01' }]) {
      const err = await revokeCertificate({ dir: ed, issuerOf: 'east', ...target }).catch((e) => e);
      expect(isIsthmusError(err, 'CERT_INVALID'), String(err)).toBe(true);
      expect(err.message).toMatch(
        /^.*ca\.crt: the trust anchor key is Ed25519: Isthmus signs with RSA or ECDSA \(P-256, P-384, P-521\) keys only/,
      );
    }
    expect(existsSync(join(ed, 'ca.crl'))).toBe(false);
  });
});

describe('a kept CA whose key file is not its key (review finding)', () => {
  /**
   * A directory whose east issuer is in force, with a replaced east issuer kept in retired/ whose
   * key file holds `wrong`, and a leaf of the retired one; existing CRLs for each.
   */
  function layoutWithWrongRetiredKey(wrong: 'rsa' | 'P-384') {
    const certs = mkdtempSync(join(root, 'mismatch-'));
    const anchor = stepLikeAnchor('P-256');
    const current = stepLikeIssuer(anchor, 'identity.east.cluster.local');
    const retired = stepLikeIssuer(anchor, 'identity.east.cluster.local');
    writeCaLayout(certs, anchor, { east: current });
    const folder = join(
      certs,
      'east',
      'retired',
      new X509Certificate(retired.certPem).serialNumber.toLowerCase(),
    );
    mkdirSync(folder, { recursive: true });
    writeFileSync(join(folder, 'issuer.crt'), retired.certPem);
    const wrongKey =
      wrong === 'rsa'
        ? opensslCa({ key: 'rsa', commonName: 'x' }).keyPem
        : stepLikeIssuer(anchor, 'y', 'P-384').keyPem;
    writeFileSync(join(folder, 'issuer.key'), wrongKey, { mode: 0o600 });
    const leaf = issueGatewayCertificate(retired, { trustDomain: 'cluster.local', cluster: 'east' });
    const leafFile = join(certs, 'leaf.crt');
    writeFileSync(leafFile, leaf.certPem);
    return { certs, folder, leafFile, serial: new X509Certificate(leaf.certPem).serialNumber };
  }

  const files = (certs: string, folder: string) =>
    [join(certs, 'east', 'issuer.crl'), join(folder, 'issuer.crl'), join(certs, 'crl.pem')].map((f) =>
      existsSync(f) ? readFileSync(f, 'utf8') : undefined,
    );

  it.each(['rsa', 'P-384'] as const)(
    'with --cert (a %s key): refused, naming the key and certificate files, and nothing is written',
    async (wrong) => {
      const { certs, folder, leafFile } = layoutWithWrongRetiredKey(wrong);
      const before = files(certs, folder);
      const err = await revokeCertificate({ dir: certs, cluster: 'east', certFile: leafFile }).catch(
        (e) => e,
      );
      expect(isIsthmusError(err, 'CERT_INVALID'), String(err)).toBe(true);
      expect(err.message).toContain(
        `cannot sign the CRL of ${join(folder, 'issuer.crt')} (a replaced CA, kept for the certificates it signed): ${join(folder, 'issuer.key')}: the private key does not match the certificate. Nothing was written`,
      );
      expect(files(certs, folder)).toEqual(before);
    },
  );

  it('with --serial: the whole revocation is refused, the CRL of the issuer in force included', async () => {
    const { certs, folder, serial } = layoutWithWrongRetiredKey('P-384');
    // The issuer in force has a CRL already: it must stay as it is.
    await revokeCertificate({ dir: certs, cluster: 'east', certFile: leafOf(certs, 'east').file });
    const before = files(certs, folder);
    expect(before[0]).toBeDefined();
    for (const skipMissingKeys of [false, true]) {
      const err = await revokeCertificate({ dir: certs, cluster: 'east', serial, skipMissingKeys }).catch(
        (e) => e,
      );
      expect(isIsthmusError(err, 'CERT_INVALID'), String(err)).toBe(true);
      expect(err.message).toMatch(/issuer\.key: the private key does not match the certificate/);
      expect(files(certs, folder)).toEqual(before);
    }
  });
});

describe('what to do next (revokeNextSteps)', () => {
  it('says that a gateway and identity replace their own revoked certificates, and how with --cert-file', async () => {
    const gateway = await revokeCertificate({ dir, cluster: 'west', certFile: gatewayCertFile('west').file });
    expect(gateway.holder).toBe('gateway');
    expect(revokeNextSteps(dir, gateway)).toBe(
      'It is a gateway certificate of west: every peer that loads crl.pem (the isthmus-crl ConfigMap) refuses it, and the gateway that holds it asks identity for a new one as soon as it loads crl.pem too (its log: certificate refused by the CRL: replaced). A gateway run with --cert-file cannot: replace its files and send it SIGHUP.\n',
    );

    const issuer = { certPem: read('west/issuer.crt'), keyPem: read('west/issuer.key') };
    const identityFile = join(root, `west-identity-${Date.now()}.crt`);
    writeFileSync(
      identityFile,
      issueLeaf(issuer, { uriSans: [identityServiceId('cluster.local', 'west')] }).certPem,
    );
    const identity = await revokeCertificate({ dir, cluster: 'west', certFile: identityFile });
    expect(identity.holder).toBe('identity');
    expect(revokeNextSteps(dir, identity)).toBe(
      "It is west's identity service certificate: the identity service replaces its serving certificate on its own once it loads crl.pem (the isthmus-crl ConfigMap); gateways refuse it and keep their certificates meanwhile.\n",
    );

    // By serial alone nobody can tell whose it was: both are said.
    const bySerial = await revokeCertificate({ dir, cluster: 'west', serial: identity.serial });
    expect(bySerial.holder).toBeUndefined();
    expect(revokeNextSteps(dir, bySerial)).toMatch(
      /the gateway that holds it asks identity for a new one[\s\S]*\(If it is the identity service's serving certificate instead, the identity service replaces/,
    );
  });
});

describe('where crl.pem goes (crlApplySteps)', () => {
  it('to every cluster of the directory, one isthmus-crl ConfigMap command each, with its --context', async () => {
    const r = await revokeCertificate({ dir, cluster: 'east', certFile: gatewayCertFile('east').file });
    expect(r.clusters).toEqual(['east', 'west']);
    const bundle = join(dir, 'crl.pem');
    expect(crlApplySteps(r)).toBe(
      `wrote ${bundle}; give it to every gateway (--crl-file): in every cluster, as the isthmus-crl ConfigMap (each command takes the kubeconfig context to be named as its cluster: change --context where it is not):\n` +
        `  kubectl -n isthmus-system create configmap isthmus-crl --from-file=crl.pem=${bundle} --dry-run=client -o yaml | kubectl --context east apply -f -\n` +
        `  kubectl -n isthmus-system create configmap isthmus-crl --from-file=crl.pem=${bundle} --dry-run=client -o yaml | kubectl --context west apply -f -\n`,
    );
    expect(crlApplySteps(r)).not.toMatch(/\| kubectl apply/);
  });

  it('names a placeholder context when the directory holds no cluster to name', () => {
    expect(crlApplySteps({ bundleFile: 'c/crl.pem', clusters: [] })).toMatch(
      /\n {2}kubectl -n isthmus-system create configmap isthmus-crl --from-file=crl\.pem=c\/crl\.pem --dry-run=client -o yaml \| kubectl --context '<cluster>' apply -f -\n$/,
    );
  });
});

describe('revocation across issuer renewals', () => {
  it('after a routine issuer renewal, the next revocation still writes a bundle gateways load', async () => {
    const certs = await freshCerts();
    const early = leafOf(certs, 'east');
    await revokeCertificate({ dir: certs, cluster: 'east', certFile: early.file });
    await renewEast(certs);
    const west = leafOf(certs, 'west');
    await revokeCertificate({ dir: certs, cluster: 'west', certFile: west.file });
    // The replaced issuer's CRL travels with its certificate: both revocations hold, leaf alone.
    const list = loaded(certs);
    expect(list.check(west.cert)).toMatch(/revoked by its issuer's CRL/);
    expect(list.check(early.cert)).toMatch(/revoked by its issuer's CRL/);
    expect(list.check(leafOf(certs, 'east').cert)).toBeUndefined();
  });

  it("a leaf of the replaced issuer, still valid for a day, is revoked in that issuer's CRL", async () => {
    const certs = await freshCerts();
    const old = leafOf(certs, 'east');
    const { retired } = await renewEast(certs);
    const r = await revokeCertificate({ dir: certs, cluster: 'east', certFile: old.file });
    expect(r.crlFile).toBe(join(retired[0]!, 'issuer.crl'));
    expect(loaded(certs).check(old.cert)).toMatch(/revoked by its issuer's CRL/);
    expect(loaded(certs).check(leafOf(certs, 'east').cert)).toBeUndefined();
  });

  it('a revoked (compromised) issuer stays revoked after the cluster gets a new issuer', async () => {
    const certs = await freshCerts();
    const minted = leafOf(certs, 'east'); // made with the key that is then found compromised
    await revokeCertificate({
      dir: certs,
      issuerOf: 'east',
      certFile: join(certs, 'east', 'issuer.crt'),
      reason: 'keyCompromise',
    });
    await renewEast(certs);
    await revokeCertificate({ dir: certs, cluster: 'west', certFile: leafOf(certs, 'west').file });
    // Without the peer's issuer (the ingress on Node 20–24), the leaf alone must be refused...
    const list = loaded(certs);
    expect(list.check(minted.cert)).toMatch(/issuer .* is revoked by the trust anchor's CRL \(keyCompromise/);
    // ...and the new issuer's leaves, with the same issuer Name, are not.
    expect(list.check(leafOf(certs, 'east').cert)).toBeUndefined();
  });

  it('a revoked issuer stays revoked when its replacement is made by other means, over issuer.crt', async () => {
    const certs = await freshCerts();
    const minted = leafOf(certs, 'east');
    const serial = new X509Certificate(reader(certs)('east/issuer.crt')).serialNumber;
    await revokeCertificate({ dir: certs, issuerOf: 'east', serial });
    // e.g. openssl, with the anchor's key: the files are simply overwritten.
    const anchor = { certPem: reader(certs)('ca.crt'), keyPem: reader(certs)('ca.key') };
    const replacement = createIssuer(anchor, { cluster: 'east', trustDomain: 'cluster.local' });
    writeFileSync(join(certs, 'east', 'issuer.crt'), replacement.certPem);
    writeFileSync(join(certs, 'east', 'issuer.key'), replacement.keyPem);
    await revokeCertificate({ dir: certs, cluster: 'west', certFile: leafOf(certs, 'west').file });
    expect(loaded(certs).check(minted.cert)).toMatch(/revoked by the trust anchor's CRL/);
    expect(loaded(certs).check(leafOf(certs, 'east').cert)).toBeUndefined();
  });

  it('leaves out, with the reason, a CRL no bundled certificate verifies, so the rest still loads', async () => {
    const certs = await freshCerts();
    await revokeCertificate({ dir: certs, cluster: 'east', certFile: leafOf(certs, 'east').file });
    const stale = reader(certs)('east/issuer.crl');
    // East's issuer replaced by hand, its CRL left behind.
    await renewEast(certs);
    writeFileSync(join(certs, 'east', 'issuer.crl'), stale);
    const west = leafOf(certs, 'west');
    const r = await revokeCertificate({ dir: certs, cluster: 'west', certFile: west.file });
    expect(r.skipped).toEqual([
      {
        file: join(certs, 'east', 'issuer.crl'),
        reason: expect.stringMatching(/not signed by .*east\/issuer\.crt/),
      },
    ]);
    expect(loaded(certs).check(west.cert)).toMatch(/revoked/);
  });
});

describe('CRL numbers (nextCrlNumber)', () => {
  // Injected: an hour on, so a clock set back from it is still within the fresh CAs' validity.
  const at = new Date(Date.now() + 3_600_000);
  const numberOf = (certs: string, file: string) => parseCrl(reader(certs)(file)).crlNumber;

  it('are at least the signing time in ms, and still increase within the same millisecond', async () => {
    const certs = await freshCerts();
    await revokeCertificate({ dir: certs, cluster: 'east', certFile: leafOf(certs, 'east').file, at });
    expect(numberOf(certs, 'east/issuer.crl')).toBe(BigInt(at.getTime()));
    await revokeCertificate({ dir: certs, cluster: 'east', certFile: leafOf(certs, 'east').file, at });
    expect(numberOf(certs, 'east/issuer.crl')).toBe(BigInt(at.getTime()) + 1n);
    // A clock set back: the number still goes up from the file's.
    const earlier = new Date(at.getTime() - 1_800_000);
    await revokeCertificate({
      dir: certs,
      cluster: 'east',
      certFile: leafOf(certs, 'east').file,
      at: earlier,
    });
    expect(numberOf(certs, 'east/issuer.crl')).toBe(BigInt(at.getTime()) + 2n);
  });

  it('a CRL signed after its file and crl.pem were lost still supersedes the one gateways hold', async () => {
    const certs = await freshCerts();
    const first = leafOf(certs, 'east');
    await revokeCertificate({ dir: certs, cluster: 'east', certFile: first.file, at });
    const inForce = loaded(certs);
    rmSync(join(certs, 'east', 'issuer.crl'));
    rmSync(join(certs, 'crl.pem'));
    const later = new Date(at.getTime() + 1000);
    const second = leafOf(certs, 'east');
    await revokeCertificate({ dir: certs, cluster: 'east', certFile: second.file, at: later });
    expect(numberOf(certs, 'east/issuer.crl')).toBe(BigInt(later.getTime()));
    expect(loaded(certs).rollbackFrom(inForce)).toBeUndefined();
    // Nothing was left to say what the lost list revoked: the README's advice, take crl.pem back first.
    expect(loaded(certs).check(first.cert)).toBeUndefined();
    expect(loaded(certs).check(second.cert)).toMatch(/revoked/);
  });

  it('a lost CRL file goes on from its copy in crl.pem: its entries and number', async () => {
    const certs = await freshCerts();
    const first = leafOf(certs, 'east');
    await revokeCertificate({ dir: certs, cluster: 'east', certFile: first.file, at });
    await revokeCertificate({ dir: certs, cluster: 'east', certFile: leafOf(certs, 'east').file, at });
    rmSync(join(certs, 'east', 'issuer.crl'));
    const second = leafOf(certs, 'east');
    const r = await revokeCertificate({ dir: certs, cluster: 'east', certFile: second.file, at });
    expect(r.crls[0]).toMatchObject({ revokedCount: 3, recoveredFrom: join(certs, 'crl.pem') });
    expect(revokedLines(r)).toContain(
      `${join(certs, 'east', 'issuer.crl')} was missing: its earlier entries and CRL number were taken from the copy in ${join(certs, 'crl.pem')}`,
    );
    expect(numberOf(certs, 'east/issuer.crl')).toBe(BigInt(at.getTime()) + 2n);
    expect(loaded(certs).check(first.cert)).toMatch(/revoked/);
    expect(loaded(certs).check(second.cert)).toMatch(/revoked/);
  });

  it('a CRL file older than its copy in crl.pem (a backup put back) goes on from the copy', async () => {
    const certs = await freshCerts();
    const first = leafOf(certs, 'east');
    await revokeCertificate({ dir: certs, cluster: 'east', certFile: first.file, at });
    const backup = readFileSync(join(certs, 'east', 'issuer.crl'));
    const second = leafOf(certs, 'east');
    await revokeCertificate({ dir: certs, cluster: 'east', certFile: second.file, at });
    writeFileSync(join(certs, 'east', 'issuer.crl'), backup);
    const third = leafOf(certs, 'east');
    const r = await revokeCertificate({ dir: certs, cluster: 'east', certFile: third.file, at });
    expect(r.crls[0]).toMatchObject({ revokedCount: 3, recoveredFrom: join(certs, 'crl.pem') });
    expect(revokedLines(r)).toContain(
      `${join(certs, 'east', 'issuer.crl')} was older than its copy in ${join(certs, 'crl.pem')} (CRL number ${BigInt(at.getTime())} < ${BigInt(at.getTime()) + 1n}): its entries and CRL number were taken from the copy`,
    );
    // The backup's number is lower and the clock has not moved: without the copy the new list would
    // still be numbered above the one in force and lift the second revocation on every gateway.
    expect(numberOf(certs, 'east/issuer.crl')).toBe(BigInt(at.getTime()) + 2n);
    for (const leaf of [first, second, third]) expect(loaded(certs).check(leaf.cert)).toMatch(/revoked/);
  });

  it('supersedes a CRL numbered from 1 as before, which gateways keep accepting', async () => {
    const certs = await freshCerts();
    const east = { certPem: reader(certs)('east/issuer.crt'), keyPem: reader(certs)('east/issuer.key') };
    const old = leafOf(certs, 'east');
    writeFileSync(
      join(certs, 'east', 'issuer.crl'),
      createCrl({
        issuerCertPem: east.certPem,
        issuerKeyPem: east.keyPem,
        revoked: [{ serial: old.cert.serialNumber, revokedAt: at }],
        crlNumber: 3n,
      }),
    );
    await revokeCertificate({ dir: certs, cluster: 'west', certFile: leafOf(certs, 'west').file, at });
    const small = loaded(certs);
    expect(small.check(old.cert)).toMatch(/revoked/);
    await revokeCertificate({ dir: certs, cluster: 'east', certFile: leafOf(certs, 'east').file, at });
    expect(numberOf(certs, 'east/issuer.crl')).toBe(BigInt(at.getTime()));
    expect(loaded(certs).rollbackFrom(small)).toBeUndefined();
    expect(loaded(certs).check(old.cert)).toMatch(/revoked/);
  });
});

/**
 * `certs revoke --serial`: the serial from identity's audit log does not say which issuer signed
 * the leaf, and a CRL counts only for leaves of the CA that signed it (revocation.ts). So the entry
 * goes into the CRL of every unexpired issuer of the cluster. Each case ends where it matters: the
 * check a gateway makes at the handshake, over crl.pem read from the file as `--crl-file` reads it.
 */
import { X509Certificate } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { handshakeRefusal, watchCrlFile } from '../gateway/crl-watch.js';
import { startAnchorRotation } from './anchor-rotation.js';
import { createIssuer, createTrustAnchor, issueGatewayCertificate, issueLeaf } from './ca.js';
import { normaliseSerial } from './crl.js';
import { writeCertificates } from './files.js';
import { splitPem } from './pem.js';
import { type CandidateCa, crlApplySteps, pickSigners, revokeCertificate, revokedLines } from './revoke.js';
import { identityServiceId } from './spiffe.js';
import { revokeCli } from './testing-revoke-cli.js';

const TRUST_DOMAIN = 'cluster.local';
const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function certsDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'isthmus-revoke-serial-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  await writeCertificates({ outDir: dir, clusters: ['east', 'west'], anchorKeyBits: 2048 });
  return dir;
}

const read = (...path: string[]) => readFile(join(...path), 'utf8');
const serialOf = (pem: string) => normaliseSerial(new X509Certificate(pem).serialNumber);

/** A leaf of `cluster`'s issuer under `root` as it is now: a gateway's, or identity's serving one. */
async function leafOf(root: string, cluster: string, holder: 'gateway' | 'identity' = 'gateway') {
  const issuer = {
    certPem: await read(root, cluster, 'issuer.crt'),
    keyPem: await read(root, cluster, 'issuer.key'),
  };
  const certPem =
    holder === 'gateway'
      ? issueGatewayCertificate(issuer, { trustDomain: TRUST_DOMAIN, cluster }).certPem
      : issueLeaf(issuer, { uriSans: [identityServiceId(TRUST_DOMAIN, cluster)] }).certPem;
  return { cert: new X509Certificate(certPem), issuer: new X509Certificate(issuer.certPem) };
}

/**
 * A gateway's verdict at the handshake (the one every gateway of every cluster makes), with crl.pem
 * loaded from the file by the gateway's own watch, trusting `anchorFile` (its --ca-file).
 */
async function gatewayVerdicts(dir: string, anchorFile: string) {
  const watcher = await watchCrlFile({
    file: join(dir, 'crl.pem'),
    anchorPem: await read(dir, anchorFile),
    intervalMs: 60_000,
    onChange: () => {},
    onError: (err) => {
      throw err;
    },
  });
  cleanups.push(() => watcher.stop());
  expect(watcher.present()).toBe(true);
  const refusal = handshakeRefusal(watcher, TRUST_DOMAIN);
  // With the issuer the peer shows above its leaf, and without (what an ingress may see).
  return (leaf: { cert: X509Certificate; issuer: X509Certificate }) => ({
    shown: refusal(leaf.cert, leaf.issuer),
    alone: refusal(leaf.cert, undefined),
  });
}

const REFUSED = { shown: expect.stringMatching(/revoked/), alone: expect.stringMatching(/revoked/) };
const ADMITTED = { shown: undefined, alone: undefined };

describe('certs revoke --serial', () => {
  it("after an issuer renewal, a leaf of the replaced issuer is refused by every gateway, and the output names both issuers' CRLs", async () => {
    const dir = await certsDir();
    const stolen = await leafOf(dir, 'east');
    const serving = await leafOf(dir, 'east', 'identity');
    const oldIssuer = serialOf(await read(dir, 'east', 'issuer.crt'));
    await writeCertificates({ outDir: dir, clusters: ['east'], reuseAnchor: true, force: true });
    const newIssuer = serialOf(await read(dir, 'east', 'issuer.crt'));

    const serial = normaliseSerial(stolen.cert.serialNumber);
    const r = await revokeCertificate({ dir, cluster: 'east', serial, reason: 'keyCompromise' });
    await revokeCertificate({ dir, cluster: 'east', serial: serving.cert.serialNumber });

    const verdict = await gatewayVerdicts(dir, 'ca.crt');
    expect(verdict(stolen)).toEqual(REFUSED);
    expect(verdict(serving)).toEqual(REFUSED);
    expect(verdict(await leafOf(dir, 'east'))).toEqual(ADMITTED);
    expect(verdict(await leafOf(dir, 'west'))).toEqual(ADMITTED);

    expect(r.crls.map((c) => [c.crlFile, c.caSerial, c.added])).toEqual([
      [join(dir, 'east', 'issuer.crl'), newIssuer, true],
      [join(dir, 'east', 'retired', oldIssuer, 'issuer.crl'), oldIssuer, true],
    ]);
    expect(revokedLines(r)).toBe(
      `revoked serial ${serial} in the CRL of each issuer of east that may have signed it (a serial alone does not say which):\n` +
        `  ${join(dir, 'east', 'issuer.crl')} (issuer serial ${newIssuer}, in force): now lists 1\n` +
        `  ${join(dir, 'east', 'retired', oldIssuer, 'issuer.crl')} (issuer serial ${oldIssuer}, replaced): now lists 1\n`,
    );
  });

  it("during an anchor rotation, a leaf of the previous anchor's issuer is refused by every gateway that trusts both, and the output warns of those that do not yet", async () => {
    const dir = await certsDir();
    const stolen = await leafOf(dir, 'east');
    await startAnchorRotation({ dir });

    const r = await revokeCertificate({ dir, cluster: 'east', serial: stolen.cert.serialNumber });
    // Every gateway trusts both anchors from step 1 of the rotation on.
    const verdict = await gatewayVerdicts(dir, 'ca-bundle.crt');
    expect(verdict(stolen)).toEqual(REFUSED);
    expect(verdict(await leafOf(join(dir, 'previous'), 'east'))).toEqual(ADMITTED);
    expect(verdict(await leafOf(dir, 'east'))).toEqual(ADMITTED);

    expect(r.crls.map((c) => c.crlFile)).toEqual([
      join(dir, 'east', 'issuer.crl'),
      join(dir, 'previous', 'east', 'issuer.crl'),
    ]);
    expect(revokedLines(r)).toMatch(
      /previous\/east\/issuer\.crl \(issuer serial [0-9a-f]+, under the previous anchor\)/,
    );

    // A gateway on the old anchor alone (its cluster before step 1) refuses a crl.pem that holds a
    // CRL under the new anchor: the output says so, rather than leave it to a refused reload.
    await expect(gatewayVerdicts(dir, join('previous', 'ca.crt'))).rejects.toThrow(
      /not an issuer under this trust anchor/,
    );
    expect(r.oldAnchorRefuses).toMatch(/not an issuer under this trust anchor/);
    expect(crlApplySteps(r)).toMatch(
      /During the anchor rotation, a gateway that trusts the old anchor alone \(a cluster before step 1\) refuses this file: .* finish step 1 in a cluster before applying it there\.\n$/,
    );
  });

  it('during an anchor rotation, --cert of an old leaf keeps crl.pem loadable by gateways on the old anchor alone', async () => {
    const dir = await certsDir();
    const leaf = await leafOf(dir, 'east');
    await startAnchorRotation({ dir });
    const file = join(dir, 'leaf.crt');
    await writeFile(file, leaf.cert.toString());
    const r = await revokeCertificate({ dir, cluster: 'east', certFile: file });
    expect(r.oldAnchorRefuses).toBeUndefined();
    expect(crlApplySteps(r)).not.toMatch(/anchor rotation/);
    expect((await gatewayVerdicts(dir, join('previous', 'ca.crt')))(leaf)).toEqual(REFUSED);
    expect((await gatewayVerdicts(dir, 'ca-bundle.crt'))(leaf)).toEqual(REFUSED);
  });

  it("--issuer-of --serial during an anchor rotation revokes the previous anchor's issuer in that anchor's CRL", async () => {
    const dir = await certsDir();
    const minted = await leafOf(dir, 'east');
    await startAnchorRotation({ dir });
    const issuerSerial = serialOf(await read(dir, 'previous', 'east', 'issuer.crt'));

    const r = await revokeCertificate({ dir, issuerOf: 'east', serial: issuerSerial });
    const verdict = await gatewayVerdicts(dir, 'ca-bundle.crt');
    expect(verdict(minted)).toEqual({
      shown: expect.stringMatching(/revoked by the trust anchor's CRL/),
      alone: expect.stringMatching(/revoked by the trust anchor's CRL/),
    });
    expect(verdict(await leafOf(dir, 'east'))).toEqual(ADMITTED);

    // Found among east's issuers, so only the anchor that signed it lists it, and crl.pem holds no
    // CRL under the new anchor that gateways still on the old one would refuse.
    expect(r.crls.map((c) => c.crlFile)).toEqual([join(dir, 'previous', 'ca.crl')]);
    expect(r.oldAnchorRefuses).toBeUndefined();
    // Kept next to its anchor, so crl.pem carries it once issuer.crt is gone.
    expect(splitPem(await read(dir, 'previous', 'east', 'retired', issuerSerial, 'issuer.crt'))).toHaveLength(
      1,
    );
  });

  it('with --cert, only the CA that signed it gets the entry', async () => {
    const dir = await certsDir();
    const leaf = await leafOf(dir, 'east');
    await writeCertificates({ outDir: dir, clusters: ['east'], reuseAnchor: true, force: true });
    const file = join(dir, 'leaf.crt');
    await writeFile(file, leaf.cert.toString());
    const r = await revokeCertificate({ dir, cluster: 'east', certFile: file });
    expect(r.crls).toHaveLength(1);
    expect(r.crls[0]!.crlFile).toMatch(/east\/retired\/[0-9a-f]+\/issuer\.crl$/);
    expect(revokedLines(r)).toBe(`revoked serial ${r.serial}: ${r.crls[0]!.crlFile} now lists 1\n`);
    expect((await gatewayVerdicts(dir, 'ca.crt'))(leaf)).toEqual(REFUSED);
  });

  it('--issuer-of --serial of the issuer in force, with the new ca.key offline during a rotation, refuses and writes nothing (previous/ca.key cannot revoke it)', async () => {
    const dir = await certsDir();
    await startAnchorRotation({ dir });
    await rm(join(dir, 'ca.key')); // offline, as the rotation's steps advise
    const before = await read(dir, 'crl.pem').catch(() => undefined);
    const serial = serialOf(await read(dir, 'east', 'issuer.crt'));

    const err = await revokeCertificate({ dir, issuerOf: 'east', serial }).catch((e: unknown) => e);
    expect(String(err)).toMatch(/needs the trust anchor's key: .*ca\.key is missing/);
    await expect(stat(join(dir, 'previous', 'ca.crl'))).rejects.toThrow();
    await expect(stat(join(dir, 'ca.crl'))).rejects.toThrow();
    expect(await read(dir, 'crl.pem').catch(() => undefined)).toBe(before);
  });

  it("--issuer-of --serial of the previous anchor's issuer, with the new ca.key offline, is revoked by the anchor that signed it alone", async () => {
    const dir = await certsDir();
    await startAnchorRotation({ dir });
    await rm(join(dir, 'ca.key'));
    const serial = serialOf(await read(dir, 'previous', 'east', 'issuer.crt'));

    const r = await revokeCertificate({ dir, issuerOf: 'east', serial });
    expect(r.crls.map((c) => c.crlFile)).toEqual([join(dir, 'previous', 'ca.crl')]);
    expect(r.unsigned).toEqual([]);
  });

  it('--serial refuses, writing nothing, when an issuer that may have signed it has no key; --skip-missing-keys passes it over and says so', async () => {
    const dir = await certsDir();
    const oldIssuer = serialOf(await read(dir, 'east', 'issuer.crt'));
    await writeCertificates({ outDir: dir, clusters: ['east'], reuseAnchor: true, force: true });
    const oldKey = join(dir, 'east', 'retired', oldIssuer, 'issuer.key');
    await rm(oldKey);
    const serial = normaliseSerial((await leafOf(dir, 'east')).cert.serialNumber);

    const err = await revokeCertificate({ dir, cluster: 'east', serial }).catch((e: unknown) => e);
    expect(String(err)).toContain(`${oldKey} is missing`);
    expect(String(err)).toMatch(/--skip-missing-keys/);
    await expect(stat(join(dir, 'east', 'issuer.crl'))).rejects.toThrow();

    const r = await revokeCertificate({ dir, cluster: 'east', serial, skipMissingKeys: true });
    expect(r.crls.map((c) => c.crlFile)).toEqual([join(dir, 'east', 'issuer.crl')]);
    expect(r.unsigned).toEqual([
      {
        file: join(dir, 'east', 'retired', oldIssuer, 'issuer.crl'),
        reason: expect.stringContaining(oldKey),
      },
    ]);
  });

  it.each([
    ['--serial', false],
    ['--cert', true],
  ])(
    '%s still revokes with the issuer in force when retired/ holds an unreadable issuer, and names it',
    async (_, byCert) => {
      const dir = await certsDir();
      await writeFile(join(dir, 'east', 'issuer.crt'), 'not a certificate\n');
      await writeCertificates({ outDir: dir, clusters: ['east'], reuseAnchor: true, force: true });
      const kept = (await readdir(join(dir, 'east', 'retired'))).find((n) => n.startsWith('unreadable-'))!;
      const leaf = await leafOf(dir, 'east');
      const file = join(dir, 'leaf.crt');
      await writeFile(file, leaf.cert.toString());

      const r = await revokeCertificate(
        byCert
          ? { dir, cluster: 'east', certFile: file }
          : { dir, cluster: 'east', serial: leaf.cert.serialNumber },
      );
      expect(r.crls.map((c) => [c.crlFile, c.standing])).toEqual([
        [join(dir, 'east', 'issuer.crl'), 'in force'],
      ]);
      const keptCert = join(dir, 'east', 'retired', kept, 'issuer.crt');
      // By serial, it may have signed it: its CRL not written is said. By --cert, the signer is known.
      expect(r.unsigned).toEqual(
        byCert
          ? []
          : [
              {
                file: join(dir, 'east', 'retired', kept, 'issuer.crl'),
                reason: expect.stringContaining(`${keptCert} is not a certificate`),
              },
            ],
      );
      expect(r.skipped).toContainEqual({
        file: keptCert,
        reason: expect.stringMatching(/^not a certificate/),
      });
      expect((await gatewayVerdicts(dir, 'ca.crt'))(leaf)).toEqual(REFUSED);
    },
  );

  it('the CLI exits non-zero on a missing key and takes --skip-missing-keys, printing what it did not write', async () => {
    const dir = await certsDir();
    const oldIssuer = serialOf(await read(dir, 'east', 'issuer.crt'));
    await writeCertificates({ outDir: dir, clusters: ['east'], reuseAnchor: true, force: true });
    await rm(join(dir, 'east', 'retired', oldIssuer, 'issuer.key'));
    const serial = normaliseSerial((await leafOf(dir, 'east')).cert.serialNumber);
    const cli = (...extra: string[]) => revokeCli(dir, '--cluster', 'east', '--serial', serial, ...extra);
    expect(String((await cli()).err)).toMatch(/issuer\.key is missing/);
    const skipped = await cli('--skip-missing-keys');
    expect(skipped.err).toBeUndefined();
    expect(skipped.out).toMatch(
      /warning: did not write .*retired\/[0-9a-f]+\/issuer\.crl: .*issuer\.key is missing/,
    );
    expect(skipped.out).toMatch(/revoked serial /);
  });
});

describe('pickSigners: whose CRL gets the entry', () => {
  const anchor = createTrustAnchor({ trustDomain: TRUST_DOMAIN, keyBits: 2048 });
  const mint = () => createIssuer(anchor, { cluster: 'east', trustDomain: TRUST_DOMAIN });
  const current = mint();
  const replaced = mint();
  vi.useFakeTimers({ toFake: ['Date'] });
  vi.setSystemTime(new Date(Date.now() - 3 * 365 * 24 * 3600_000));
  const expired = mint();
  vi.useRealTimers();
  const ca = (name: string, pem: string, hasKey = true): CandidateCa => ({
    files: { cert: `${name}/issuer.crt`, key: `${name}/issuer.key`, crl: `${name}/issuer.crl`, root: '.' },
    cert: new X509Certificate(pem),
    hasKey,
  });
  const leafOfIssuer = (issuer: { certPem: string; keyPem: string }) =>
    new X509Certificate(
      issueGatewayCertificate(issuer, { trustDomain: TRUST_DOMAIN, cluster: 'east' }).certPem,
    );
  const names = (r: ReturnType<typeof pickSigners>) =>
    'notIssued' in r
      ? 'not issued'
      : {
          signers: r.signers.map((c) => c.files.crl),
          unsigned: r.unsigned.map((u) => u.file),
          ...(r.missingKeys.length > 0 ? { missingKeys: r.missingKeys.map((c) => c.files.key) } : {}),
        };

  it.each<[string, CandidateCa[], X509Certificate | undefined, unknown, boolean?]>([
    [
      'a serial: the one in force and the one it replaced',
      [ca('cur', current.certPem), ca('old', replaced.certPem)],
      undefined,
      { signers: ['cur/issuer.crl', 'old/issuer.crl'], unsigned: [] },
    ],
    [
      'a serial: not an expired issuer (its leaves have expired too)',
      [ca('cur', current.certPem), ca('gone', expired.certPem)],
      undefined,
      { signers: ['cur/issuer.crl'], unsigned: [] },
    ],
    [
      'a serial: a copy of the same issuer (a revoked one kept in retired/) counts once',
      [ca('cur', current.certPem), ca('copy', current.certPem, false)],
      undefined,
      { signers: ['cur/issuer.crl'], unsigned: [] },
    ],
    [
      'a serial: one without its key refuses, naming it',
      [ca('cur', current.certPem), ca('old', replaced.certPem, false)],
      undefined,
      { signers: [], unsigned: [], missingKeys: ['old/issuer.key'] },
    ],
    [
      'a serial: the one in force without its key refuses, though another has one',
      [ca('cur', current.certPem, false), ca('old', replaced.certPem)],
      undefined,
      { signers: [], unsigned: [], missingKeys: ['cur/issuer.key'] },
    ],
    [
      'a serial, skipping missing keys: one without its key is passed over, and said',
      [ca('cur', current.certPem, false), ca('old', replaced.certPem)],
      undefined,
      { signers: ['old/issuer.crl'], unsigned: ['cur/issuer.crl'] },
      true,
    ],
    [
      'a serial, skipping missing keys: none with its key is an error naming them',
      [ca('cur', current.certPem, false), ca('old', replaced.certPem, false)],
      undefined,
      { signers: [], unsigned: [], missingKeys: ['cur/issuer.key', 'old/issuer.key'] },
      true,
    ],
    [
      'a certificate: the issuer that signed it alone',
      [ca('cur', current.certPem), ca('old', replaced.certPem)],
      leafOfIssuer(replaced),
      { signers: ['old/issuer.crl'], unsigned: [] },
    ],
    ['a certificate none of them signed', [ca('cur', current.certPem)], leafOfIssuer(replaced), 'not issued'],
    [
      'a certificate whose issuer has no key',
      [ca('cur', current.certPem), ca('old', replaced.certPem, false)],
      leafOfIssuer(replaced),
      { signers: [], unsigned: [], missingKeys: ['old/issuer.key'] },
    ],
  ])('%s', (_, candidates, target, expected, skipMissingKeys = false) => {
    expect(names(pickSigners(candidates, target, new Date(), skipMissingKeys))).toEqual(expected);
  });
});

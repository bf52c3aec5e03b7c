import { X509Certificate } from 'node:crypto';
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { isIsthmusError } from '../errors.js';
import { requestCertificate } from '../identity/certify-client.js';
import { createCrl } from '../identity/crl.js';
import { splitPem } from '../identity/pem.js';
import type { RevocationList } from '../identity/revocation.js';
import {
  foreignTestPki,
  servingCredentials,
  startFakeIdentity,
  TEST_TRUST_DOMAIN,
  testCrlBundle,
  testGatewayCertificate,
  testIdentityTrust,
  testPki,
  testServingCertificate,
} from '../identity/testing.js';
import { handshakeRefusal, watchCrlFile } from './crl-watch.js';
import { waitFor } from './test-support/wait.js';

const dir = mkdtempSync(join(tmpdir(), 'isthmus-crl-watch-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const anchorPem = testPki().anchor.certPem;

/** Each list newer than the last, as `certs revoke` numbers them: a lower one is refused as a rollback. */
let lastCrlNumber = 0n;

function crlRevoking(...serials: string[]): string {
  const issuer = testPki().issuers.east;
  lastCrlNumber += 1n;
  return (
    issuer.certPem +
    createCrl({
      issuerCertPem: issuer.certPem,
      issuerKeyPem: issuer.keyPem,
      revoked: serials.map((serial) => ({ serial, revokedAt: new Date() })),
      crlNumber: lastCrlNumber,
    })
  );
}

/** A fast-ticking watch of `file` that records what it reports. */
async function watching(file: string) {
  const changes: RevocationList[] = [];
  const errors: string[] = [];
  const watch = await watchCrlFile({
    file,
    anchorPem,
    intervalMs: 10,
    onChange: (list) => changes.push(list),
    onError: (err) => errors.push(err.message),
  });
  return { watch, changes, errors };
}

/** As kubelet updates a ConfigMap mount: a new file swapped in, never a half-written one. */
function replace(file: string, text: string): void {
  writeFileSync(`${file}.tmp`, text);
  renameSync(`${file}.tmp`, file);
}

describe('CRL file watch', () => {
  it('refuses to start on a malformed file, naming it', async () => {
    const garbage = join(dir, 'garbage.pem');
    writeFileSync(garbage, 'not a CRL\n');
    const err = await watchCrlFile({ file: garbage, anchorPem, onChange: () => {}, onError: () => {} }).catch(
      (e) => e,
    );
    expect(isIsthmusError(err, 'CRL_INVALID')).toBe(true);
    expect(err.message).toContain(garbage);
    expect(err.message).toMatch(/no "-----BEGIN X509 CRL-----" block/);
  });

  it('starts with nothing revoked while the file does not exist, and loads it when it appears', async () => {
    const file = join(dir, 'later.pem');
    const leaf = new X509Certificate(testGatewayCertificate('east').certPem);
    const issuer = new X509Certificate(testPki().issuers.east.certPem);
    const { watch, changes, errors } = await watching(file);
    try {
      expect(watch.present()).toBe(false);
      expect(watch.current().check(leaf, issuer)).toBeUndefined();
      replace(file, crlRevoking(leaf.serialNumber));
      await waitFor(() => changes.length === 1, 'the CRL loaded once it appeared');
      expect(watch.present()).toBe(true);
      expect(watch.current().check(leaf, issuer)).toMatch(/revoked/);
      // Vanishing again (a ConfigMap deleted by mistake) keeps the revocations in force.
      rmSync(file);
      await waitFor(() => errors.length === 1, 'the missing file reported');
      expect(errors[0]).toMatch(/ENOENT/);
      expect(watch.current().check(leaf, issuer)).toMatch(/revoked/);
    } finally {
      watch.stop();
    }
  });

  it('follows updates, and keeps the list in force when an update is bad', async () => {
    const file = join(dir, 'crl.pem');
    const leaf = new X509Certificate(testGatewayCertificate('east').certPem);
    const issuer = new X509Certificate(testPki().issuers.east.certPem);
    replace(file, crlRevoking('01'));
    const { watch, changes, errors } = await watching(file);
    try {
      expect(watch.current().check(leaf, issuer)).toBeUndefined();

      replace(file, crlRevoking('01', leaf.serialNumber));
      await waitFor(() => changes.length === 1, 'the new CRL loaded');
      expect(watch.current().check(leaf, issuer)).toMatch(/revoked/);

      replace(file, '-----BEGIN X509 CRL-----\nAAAA\n-----END X509 CRL-----\n');
      await waitFor(() => errors.length === 1, 'the bad update reported');
      expect(errors[0]).toMatch(/CRL #1 of the bundle/);
      expect(watch.current().check(leaf, issuer)).toMatch(/revoked/); // still in force

      replace(file, crlRevoking('02'));
      await waitFor(() => changes.length === 2, 'the fixed CRL loaded');
      expect(watch.current().check(leaf, issuer)).toBeUndefined();
      expect(errors).toHaveLength(1); // the bad version was reported once, not at every tick
    } finally {
      watch.stop();
    }
  });
});

describe("the gateway's handshake check", () => {
  it("refuses the identity service's serving certificate once a reloaded CRL revokes it: the next connection sends no token", async () => {
    const file = join(dir, 'identity.pem');
    replace(file, crlRevoking('01'));
    const { watch, changes } = await watching(file);
    const trust = testIdentityTrust('east');
    const serving = testServingCertificate(testPki().issuers.east, [trust.serverId]);
    const fake = await startFakeIdentity(servingCredentials(serving));
    try {
      const server = { ...trust, checkPeerCertificate: handshakeRefusal(watch, TEST_TRUST_DOMAIN) };
      const certify = () =>
        requestCertificate({ address: fake.address, token: 'secret-token', server }).then(
          () => new Error('certified by a fake'),
          (e: Error) => e,
        );
      // Not revoked yet: the handshake passes and the (fake) service hears the token.
      expect((await certify()).message).toMatch(/a fake identity service/);
      expect(fake.tokens).toHaveLength(1);

      const serial = new X509Certificate(splitPem(serving.chainPem)[0]!).serialNumber;
      replace(file, crlRevoking('01', serial));
      await waitFor(() => changes.length === 1, 'the new CRL loaded');
      expect((await certify()).message).toMatch(
        new RegExp(
          `its serving certificate is refused: certificate serial ${serial} is revoked by its issuer's CRL`,
        ),
      );
      expect(fake.tokens).toHaveLength(1);
    } finally {
      watch.stop();
      fake.close();
    }
  });

  it("refuses a gateway certificate its CRL revokes, or one certified by another cluster's issuer", async () => {
    const file = join(dir, 'gateways.pem');
    const leaf = new X509Certificate(testGatewayCertificate('east').certPem);
    replace(file, crlRevoking(leaf.serialNumber));
    const { watch } = await watching(file);
    try {
      const refusal = handshakeRefusal(watch, TEST_TRUST_DOMAIN);
      expect(refusal(leaf, undefined)).toMatch(/is revoked by its issuer's CRL/);
      expect(refusal(new X509Certificate(testGatewayCertificate('west').certPem), undefined)).toBeUndefined();
      const byWest = new X509Certificate(
        splitPem(
          testServingCertificate(testPki().issuers.west, ['spiffe://cluster.local/cluster/east/gateway'])
            .chainPem,
        )[0]!,
      );
      expect(refusal(byWest, undefined)).toMatch(/signed by the issuer of cluster "west"/);
      // Without a CRL file, the issuer scope still holds.
      expect(handshakeRefusal(undefined, TEST_TRUST_DOMAIN)(byWest, undefined)).toMatch(
        /issuer of cluster "west"/,
      );
    } finally {
      watch.stop();
    }
  });
});

/**
 * End to end over a real file: a CRL update that drops one CA's CRL while another's stays, as
 * whoever can edit the isthmus-crl ConfigMap could make it. The gateway keeps refusing, at the TLS
 * handshake, what the dropped CRL revokes, and reports the update as refused (as a rollback or an
 * emptied file); once that CA's anchor is gone from the trust bundle (an anchor rotation's last
 * step), the same file is taken.
 *
 * `both`: mid-rotation, the new ("foreign") anchor and the old one, as ca-bundle.crt holds them.
 */
const both = () => foreignTestPki().anchor.certPem + testPki().anchor.certPem;

describe('a CRL update that drops one CA’s CRL while another’s stays', () => {
  it('is refused and reported; the revoked peer stays refused at the handshake, and the drop is taken once its anchor is gone', async () => {
    const file = join(dir, 'dropped.pem');
    const trust = testIdentityTrust('east');
    const serving = testServingCertificate(testPki().issuers.east, [trust.serverId]);
    const servingSerial = new X509Certificate(splitPem(serving.chainPem)[0]!).serialNumber;
    const leaf = new X509Certificate(testGatewayCertificate('east').certPem);
    const eastCrl = testCrlBundle(testPki().issuers.east, [servingSerial, leaf.serialNumber]);
    const newAnchorCrl = testCrlBundle(foreignTestPki().issuers.east, ['0c']);
    replace(file, eastCrl + newAnchorCrl);

    let trusted = both();
    const changes: RevocationList[] = [];
    const errors: string[] = [];
    const watch = await watchCrlFile({
      file,
      anchorPem: () => trusted,
      intervalMs: 10,
      onChange: (list) => changes.push(list),
      onError: (err) => errors.push(err.message),
    });
    const fake = await startFakeIdentity(servingCredentials(serving));
    try {
      const refusal = handshakeRefusal(watch, TEST_TRUST_DOMAIN);
      const server = { ...trust, checkPeerCertificate: refusal };
      const certify = () =>
        requestCertificate({ address: fake.address, token: 'secret-token', server }).then(
          () => new Error('certified by a fake'),
          (e: Error) => e,
        );
      const refusedServing = new RegExp(
        `its serving certificate is refused: certificate serial ${servingSerial} is revoked by its issuer's CRL`,
      );
      expect((await certify()).message).toMatch(refusedServing);
      expect(refusal(leaf, undefined)).toMatch(/is revoked by its issuer's CRL/);

      // East's CRL dropped, the new anchor's kept: refused, reported once, the list in force stays.
      replace(file, newAnchorCrl);
      await waitFor(() => errors.length > 0, 'the drop reported');
      expect(errors).toEqual([
        expect.stringMatching(
          /^CRL file .*dropped\.pem: refused: the CRL of "CN=identity\.east\.cluster\.local" \(CRL number 1, 2 revoked\) is gone while that CA is still usable/,
        ),
      ]);
      expect(changes).toHaveLength(0);
      expect((await certify()).message).toMatch(refusedServing);
      expect(fake.tokens).toHaveLength(0);
      expect(refusal(leaf, undefined)).toMatch(/is revoked by its issuer's CRL/);

      // The old anchor leaves the trust bundle: east's leaves no longer pass the handshake, and
      // the file is taken (identity follows its anchor and loads again; a gateway, which reads
      // its anchor at start, takes it when it restarts with the new anchor, below).
      trusted = foreignTestPki().anchor.certPem;
      expect(await watch.reload()).toBe(true);
      expect(watch.current().crlCount()).toBe(1);
      expect(watch.current().check(leaf)).toBeUndefined();
    } finally {
      watch.stop();
      fake.close();
    }

    // A gateway restarted with the new anchor alone takes the file it finds.
    const restarted = await watchCrlFile({
      file,
      anchorPem: foreignTestPki().anchor.certPem,
      onChange: () => {},
      onError: () => {},
    });
    restarted.stop();
    expect(restarted.current().crlCount()).toBe(1);
  });
});

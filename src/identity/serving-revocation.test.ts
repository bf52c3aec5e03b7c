/**
 * Identity holds its own serving certificate to the CRL file the gateways load: a list that
 * revokes it has it replaced at once, with no restart and no call dropped; a revoked issuer is
 * reported (renewing cannot help), once per load, never in a loop. On loopback, with the real
 * server, the real CRL watch and files swapped in as kubelet swaps a ConfigMap mount.
 */
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { waitFor } from '../wait-for.js';
import { createIssuer, gatewayIdentityOf, type KeyPairPem } from './ca.js';
import { requestCertificate } from './certify-client.js';
import { startIdentityServer, type TokenReviewer } from './certify-service.js';
import { normaliseSerial } from './crl.js';
import { followCrl } from './crl-follow.js';
import { ownCertificateVerdict } from './own-revocation.js';
import { RevocationList } from './revocation.js';
import type { ServingCertificate } from './serving-cert.js';
import { type ServingCheck, servingRevocationCheck } from './serving-revocation.js';
import {
  certifyOn,
  presentedChain,
  TEST_TRUST_DOMAIN,
  testCrlBundle,
  testIdentityClient,
  testPki,
  testServingCertificate,
} from './testing.js';
import { lookAlike } from './testing-look-alike.js';

const EAST_IDENTITY = 'spiffe://cluster.local/cluster/east/identity';
/** What a gateway of east requires of its identity service. */
const SERVER = { anchorPem: testPki().anchor.certPem, serverId: EAST_IDENTITY };
const dir = mkdtempSync(join(tmpdir(), 'isthmus-serving-crl-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const serialOf = (pem: string) => normaliseSerial(new X509Certificate(pem).serialNumber);

/** As kubelet updates a ConfigMap mount: a new file swapped in, never a half-written one. */
function replace(file: string, text: string): void {
  writeFileSync(`${file}.tmp`, text);
  renameSync(`${file}.tmp`, file);
}

/**
 * Identity as `isthmus identity --crl-file` wires it (crl-follow.ts): the CRL watch (fast
 * ticking), the server, and the check after each load; every check, log line and renewal recorded.
 * Tokens named `slow` wait in the TokenReview until `release()`: a call held in flight.
 */
async function identityFollowing(file: string, issuer: KeyPairPem = testPki().issuers.east) {
  const checks: ServingCheck[] = [];
  const renewals: ServingCertificate[] = [];
  const logs: Array<{ line: string; error: boolean }> = [];
  let release!: () => void;
  const gate = new Promise<void>((r) => {
    release = r;
  });
  let reviewing = 0;
  const reviewer: TokenReviewer = async (token) => {
    if (token === 'slow') {
      reviewing++;
      await gate;
    }
    return { authenticated: true, username: 'system:serviceaccount:isthmus-system:isthmus-gateway' };
  };
  const follower = await followCrl({
    file,
    anchorPem: testPki().anchor.certPem,
    intervalMs: 10,
    log: (line, error = false) => logs.push({ line, error }),
    onCheck: (c) => checks.push(c),
  });
  cleanups.push(() => follower.stop());
  const server = await startIdentityServer({
    issuer,
    trustDomain: TEST_TRUST_DOMAIN,
    cluster: 'east',
    reviewer,
    host: '127.0.0.1',
    port: 0,
    serving: { onRenewed: (c) => renewals.push(c) },
  });
  cleanups.push(release, () => server.close());
  await follower.serve({ issuer: () => issuer, server });
  return {
    server,
    crl: follower.crl,
    refused: follower.refused,
    address: `127.0.0.1:${server.port}`,
    checks,
    renewals,
    logs,
    errors: () => logs.filter((l) => l.error).map((l) => l.line),
    release,
    reviewing: () => reviewing,
  };
}

describe("identity's serving certificate against the CRL file", () => {
  it('is replaced at once when the CRL revokes it: new connections get a new serial, a call in flight on an old connection is answered', async () => {
    const file = join(dir, 'revokes-serving.pem');
    const id = await identityFollowing(file);
    // No file yet (the optional ConfigMap not created): nothing is revoked.
    expect(id.crl.present()).toBe(false);
    expect(id.logs).toEqual([
      { line: `identity: no CRL file ${file} (yet): nothing is revoked until it appears`, error: false },
    ]);
    expect(id.checks).toEqual([{ outcome: 'in-force' }]);
    const old = id.server.servingCertificate();

    // A connection made before the revocation, with a call held in flight on it.
    const client = testIdentityClient(id.address);
    cleanups.push(() => client.close());
    await certifyOn(client);
    const inFlight = certifyOn(client, 'slow');
    await waitFor('the call to be in its TokenReview', () => id.reviewing() === 1);

    replace(file, testCrlBundle(testPki().issuers.east, [old.serial]));
    const replaced = await waitFor('the serving certificate replaced', () =>
      id.checks.find((c) => c.outcome === 'replaced'),
    );
    expect(replaced.revoked.serial).toBe(old.serial);
    expect(replaced.renewed.serial).not.toBe(old.serial);
    expect(replaced.reason).toMatch(/is revoked by its issuer's CRL \(keyCompromise/);
    expect(id.renewals.map((c) => c.serial)).toEqual([replaced.renewed.serial]);
    expect(id.logs.map((l) => l.line)).toContainEqual(
      expect.stringMatching(
        new RegExp(
          `^identity: serving certificate serial=${old.serial} is revoked \\(.*\\): replaced by serial=${replaced.renewed.serial} notAfter=`,
        ),
      ),
    );
    expect(id.errors()).toEqual([]);

    // A new connection sees the new certificate, and a gateway holding the same CRL takes it.
    const { leaf } = await presentedChain(id.address, SERVER.anchorPem);
    expect(normaliseSerial(leaf.serialNumber)).toBe(replaced.renewed.serial);
    const gateway = { ...SERVER, checkPeerCertificate: id.crl.current().check.bind(id.crl.current()) };
    const issued = await requestCertificate({ address: id.address, token: 'token', server: gateway });
    expect(gatewayIdentityOf(issued.certPem)).toBe('spiffe://cluster.local/cluster/east/gateway');

    // The call that was in flight, on the connection that holds the revoked certificate, is answered.
    id.release();
    expect(gatewayIdentityOf((await inFlight).certPem)).toBe('spiffe://cluster.local/cluster/east/gateway');
    await certifyOn(client);
  });

  it('keeps the list in force through a malformed update, and acts on the next good one', async () => {
    const file = join(dir, 'malformed.pem');
    replace(file, testCrlBundle(testPki().issuers.east, ['4a11ce']));
    const id = await identityFollowing(file);
    const old = id.server.servingCertificate();
    expect(id.checks).toEqual([{ outcome: 'in-force' }]);

    replace(file, '-----BEGIN X509 CRL-----\nAAAA\n-----END X509 CRL-----\n');
    await waitFor('the bad update refused', () => id.errors().length === 1);
    expect(id.errors()[0]).toMatch(
      /^identity: CRL update refused, the list in force stays: CRL file .*malformed\.pem: CRL #1 of the bundle/,
    );
    expect(id.crl.current().size()).toBe(1); // still in force
    expect(id.refused()).toBe(true); // isthmus_identity_crl_file_refused, until a good one loads
    expect(id.server.servingCertificate().serial).toBe(old.serial);

    replace(file, testCrlBundle(testPki().issuers.east, ['4a11ce', old.serial]));
    const replaced = await waitFor('the serving certificate replaced', () =>
      id.checks.find((c) => c.outcome === 'replaced'),
    );
    expect(replaced.revoked.serial).toBe(old.serial);
    expect(id.checks.map((c) => c.outcome)).toEqual(['in-force', 'replaced']);
    expect(id.refused()).toBe(false);
  });

  it('reports a revoked issuer at each load and does not renew: a new certificate would be refused too', async () => {
    const file = join(dir, 'revokes-issuer.pem');
    const id = await identityFollowing(file);
    const old = id.server.servingCertificate();
    const issuerSerial = serialOf(testPki().issuers.east.certPem);

    replace(file, testCrlBundle(testPki().anchor, [issuerSerial]));
    await waitFor('the revoked issuer reported', () => id.checks.length === 2);
    // A second load (one more issuer revoked): reported again, once; nothing else happened between.
    replace(file, testCrlBundle(testPki().anchor, [issuerSerial, serialOf(testPki().issuers.west.certPem)]));
    await waitFor('the second load checked', () => id.checks.length === 3);

    expect(id.checks.map((c) => c.outcome)).toEqual(['in-force', 'issuer-revoked', 'issuer-revoked']);
    const reported = id.checks[1]!;
    expect(reported).toMatchObject({ certificate: { serial: old.serial }, issuerSerial });
    // An error each time, naming the fix.
    expect(id.errors()).toHaveLength(2);
    expect(id.errors()[0]).toMatch(
      new RegExp(
        `serving certificate serial=${old.serial} is refused by the CRL and a new one would be too: the issuer in force \\(serial ${issuerSerial}\\) is revoked \\(.*trust anchor's CRL.*\\)\\. Renew the issuer`,
      ),
    );
    expect(id.renewals).toEqual([]);
    expect(id.server.servingCertificate().serial).toBe(old.serial);
  });

  it('reports an issuer revoked by the list it starts with, and serves on', async () => {
    const file = join(dir, 'revoked-at-start.pem');
    replace(file, testCrlBundle(testPki().anchor, [serialOf(testPki().issuers.east.certPem)]));
    const id = await identityFollowing(file);
    expect(id.logs[0]).toEqual({ line: `identity: CRL loaded from ${file}: 1 revoked`, error: false });
    expect(id.checks.map((c) => c.outcome)).toEqual(['issuer-revoked']);
    expect(id.errors()).toEqual([expect.stringMatching(/Renew the issuer/)]);
    expect(id.renewals).toEqual([]);
    const { leaf } = await presentedChain(id.address, SERVER.anchorPem);
    expect(normaliseSerial(leaf.serialNumber)).toBe(id.server.servingCertificate().serial);
  });

  it('renews once for checks that overlap: each starts from the certificate in force', async () => {
    const file = join(dir, 'overlap.pem');
    const id = await identityFollowing(file);
    const old = id.server.servingCertificate();
    const list = RevocationList.fromPem(
      testCrlBundle(testPki().issuers.east, [old.serial]),
      SERVER.anchorPem,
    );
    const check = servingRevocationCheck({
      crl: () => list,
      issuer: () => testPki().issuers.east,
      server: id.server,
    });
    const [first, second] = await Promise.all([check(), check()]);
    expect(first).toMatchObject({ outcome: 'replaced', revoked: { serial: old.serial } });
    expect(second).toEqual({ outcome: 'in-force' });
    expect(id.renewals).toHaveLength(1);
  });
});

describe('an issuer renewed with the same key, its old certificate revoked', () => {
  it('renews once, sees the new certificate refused too, and says to renew the issuer', async () => {
    const { anchor, issuers } = testPki();
    const day = 86_400_000;
    // cert-manager's rotationPolicy: Never: the same Name and key, a new serial, from the anchor.
    const renewed: KeyPairPem = {
      certPem: lookAlike(issuers.east, {
        notBefore: new Date(Date.now() - 60_000),
        notAfter: new Date(Date.now() + day),
        signer: anchor,
      }),
      keyPem: issuers.east.keyPem,
    };
    // `certs revoke --issuer-of east` of the old certificate, which stays in the bundle.
    const list = RevocationList.fromPem(
      issuers.east.certPem + testCrlBundle(anchor, [serialOf(issuers.east.certPem)]),
      SERVER.anchorPem,
    );
    const id = await identityFollowing(join(dir, 'same-key.pem'), renewed);
    const check = servingRevocationCheck({ crl: () => list, issuer: () => renewed, server: id.server });
    expect(await check()).toMatchObject({
      outcome: 'issuer-revoked',
      issuerSerial: serialOf(renewed.certPem),
      reason: expect.stringMatching(/revoked by the trust anchor/),
    });
    expect(id.renewals).toHaveLength(1);
    // The next load says the same, and renews nothing more.
    expect(await check()).toMatchObject({ outcome: 'issuer-revoked' });
    expect(id.renewals).toHaveLength(1);
  });
});

describe('ownCertificateVerdict, of the serving certificate', () => {
  const east = () => testPki().issuers.east;
  const serving = (issuer: KeyPairPem) => testServingCertificate(issuer, [EAST_IDENTITY]).chainPem;
  const listOf = (bundle: string) => RevocationList.fromPem(bundle, SERVER.anchorPem);
  let renewed: KeyPairPem | undefined;
  /** Another issuer of east, as after a renewal of the issuer. */
  const renewedIssuer = () => {
    renewed ??= createIssuer(testPki().anchor, { cluster: 'east', trustDomain: TEST_TRUST_DOMAIN });
    return renewed;
  };

  it.each([
    ['nothing is revoked', false, () => RevocationList.empty(SERVER.anchorPem), east],
    [
      "the serving certificate is on its issuer's CRL",
      'leaf',
      (chain: string) => listOf(testCrlBundle(east(), [serialOf(chain)])),
      east,
    ],
    [
      "the issuer in force is on the anchor's CRL",
      'issuer',
      () => listOf(testCrlBundle(testPki().anchor, [serialOf(east().certPem)])),
      east,
    ],
    [
      "the serving certificate's old issuer is on the anchor's CRL, the issuer in force is not (renewing helps)",
      'leaf',
      () => listOf(testCrlBundle(testPki().anchor, [serialOf(east().certPem)])),
      renewedIssuer,
    ],
  ] as const)('when %s: revoked=%s', (_what, revoked, list, issuer) => {
    const chain = serving(east());
    expect(ownCertificateVerdict(list(chain), chain, issuer().certPem).revoked).toBe(revoked);
  });

  it("names the issuer's serial (lowercase, as `certs revoke --serial` takes it) when the issuer is revoked", () => {
    const issuerSerial = serialOf(east().certPem);
    const verdict = ownCertificateVerdict(
      listOf(testCrlBundle(testPki().anchor, [issuerSerial])),
      serving(east()),
      // cert-manager's tls.crt: the issuer, then its CA.
      east().certPem + testPki().anchor.certPem,
    );
    expect(verdict).toMatchObject({ revoked: 'issuer', issuerSerial });
  });
});

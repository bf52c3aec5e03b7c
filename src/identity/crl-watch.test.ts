/**
 * Loads of the CRL that overlap (identity's reload for a new anchor, the file watch's apply of a new
 * file) put the one started last in force, whichever finishes first (a review's finding: a slow
 * reload of the old file put the older list back after the watch applied the newer one, and the
 * revocations it added stayed dropped until the file changed again).
 */
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import forge from 'node-forge';
import { afterAll, describe, expect, it } from 'vitest';
import { isIsthmusError } from '../errors.js';
import { waitFor } from '../wait-for.js';
import { createIssuer, type KeyPairPem } from './ca.js';
import { createCrl } from './crl.js';
import { startedLastWins, watchCrlFile } from './crl-watch.js';
import { derToPem } from './pem.js';
import { foreignTestPki, TEST_TRUST_DOMAIN, testGatewayCertificate, testPki } from './testing.js';
import { parseDer, signedDer, signingKey } from './x509-signing.js';

function deferred<T>(): { promise: Promise<T>; resolve: (v: T) => void } {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

describe('startedLastWins', () => {
  it('drops a load that finishes after a later one was applied', async () => {
    const applied: string[] = [];
    const run = startedLastWins<string>((v) => applied.push(v));
    const slowOld = deferred<string>();
    const first = run(() => slowOld.promise);
    await run(async () => 'new file');
    slowOld.resolve('old file');
    await first;
    expect(applied).toEqual(['new file']);
  });

  it('applies loads in the order they finish when each started after the last applied', async () => {
    const applied: string[] = [];
    const run = startedLastWins<string>((v) => applied.push(v));
    const a = deferred<string>();
    const b = deferred<string>();
    const first = run(() => a.promise);
    const second = run(() => b.promise);
    a.resolve('first');
    await first;
    b.resolve('second');
    await second;
    expect(applied).toEqual(['first', 'second']);
  });
});

const dir = mkdtempSync(join(tmpdir(), 'isthmus-crl-watch-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** As kubelet updates a ConfigMap mount: a new file swapped in, never a half-written one. */
function replace(file: string, text: string): void {
  writeFileSync(`${file}.tmp`, text);
  renameSync(`${file}.tmp`, file);
}

/** The bundle `certs revoke` writes: `ca`'s certificate and its CRL number `n` listing `serials`. */
function numbered(ca: KeyPairPem, n: bigint, serials: string[]): string {
  const crl = createCrl({
    issuerCertPem: ca.certPem,
    issuerKeyPem: ca.keyPem,
    revoked: serials.map((serial) => ({ serial, revokedAt: new Date('2030-01-01T00:00:00Z') })),
    crlNumber: n,
  });
  return ca.certPem + crl;
}

/** A watch of `file` that only loads when told to (`reload`). */
function reloadedOnly(file: string, anchorPem = testPki().anchor.certPem) {
  return watchCrlFile({ file, anchorPem, intervalMs: 3_600_000, onChange: () => {}, onError: () => {} });
}

describe('a reload that puts back an older CRL (RFC 5280 §5.2.3; review finding)', () => {
  const east = testPki().issuers.east;
  const anchor = testPki().anchor.certPem;
  const leaf = () => new X509Certificate(testGatewayCertificate('east').certPem);

  it('is refused with both numbers, the list in force kept; the same number again is taken', async () => {
    const revoked = leaf();
    const file = join(dir, 'rollback.pem');
    replace(file, numbered(east, 4n, [revoked.serialNumber]));
    const w = await reloadedOnly(file);
    try {
      expect(w.current().check(revoked)).toMatch(/is revoked by its issuer's CRL/);
      // #3, validly signed before the leaf was revoked in #4, put back in the ConfigMap.
      replace(file, numbered(east, 3n, []));
      const err = await w.reload().catch((e) => e);
      expect(isIsthmusError(err, 'CRL_INVALID'), String(err)).toBe(true);
      expect(err.message).toBe(
        `CRL file ${file}: refused: the CRL of "${new X509Certificate(east.certPem).subject.replace(/\n/g, ', ')}" went back from CRL number 4 to CRL number 3: an older list put back would admit again what the newer one revoked (RFC 5280 §5.2.3: a CA's CRL numbers only increase)`,
      );
      expect(w.current().check(revoked)).toMatch(/is revoked/);
      // The same list re-applied (a reload for a new anchor), then a newer one: both taken.
      replace(file, numbered(east, 4n, [revoked.serialNumber]));
      expect(await w.reload()).toBe(true);
      replace(file, numbered(east, 5n, []));
      expect(await w.reload()).toBe(true);
      expect(w.current().check(revoked)).toBeUndefined();
    } finally {
      w.stop();
    }
  });

  it('an emptied file (no CRL at all) may not replace the CRLs in force', async () => {
    const revoked = leaf();
    const file = join(dir, 'emptied.pem');
    replace(file, numbered(east, 4n, [revoked.serialNumber]));
    const w = await reloadedOnly(file);
    try {
      // The isthmus-crl ConfigMap's crl.pem emptied: no CA's list left to compare numbers with.
      replace(file, '');
      await expect(w.reload()).rejects.toThrow(/holds no CRL while 1 is in force/);
      expect(w.current().check(revoked)).toMatch(/is revoked/);
    } finally {
      w.stop();
    }
  });

  it('a CRL without a number may not replace a numbered one', async () => {
    const file = join(dir, 'unnumbered.pem');
    replace(file, numbered(east, 2n, ['0a']));
    const w = await reloadedOnly(file);
    try {
      replace(file, `${east.certPem}${crlWithoutNumber(east)}`);
      await expect(w.reload()).rejects.toThrow(/went back from CRL number 2 to a CRL without a CRL number/);
      expect(w.current().size()).toBe(1);
    } finally {
      w.stop();
    }
  });

  it('is refused when the file watch brings it too, and reported', async () => {
    const revoked = leaf();
    const file = join(dir, 'watched.pem');
    replace(file, numbered(east, 7n, [revoked.serialNumber]));
    const errors: string[] = [];
    const w = await watchCrlFile({
      file,
      anchorPem: anchor,
      intervalMs: 10,
      onChange: () => {},
      onError: (e) => errors.push(e.message),
    });
    try {
      replace(file, numbered(east, 6n, []));
      await waitFor('the rollback reported', () => errors.length > 0, 10_000);
      expect(errors).toEqual([expect.stringMatching(/went back from CRL number 7 to CRL number 6/)]);
      expect(w.current().check(revoked)).toMatch(/is revoked/);
    } finally {
      w.stop();
    }
  });

  it('a start has nothing in force: it takes the older list it finds', async () => {
    const file = join(dir, 'restart.pem');
    replace(file, numbered(east, 3n, []));
    const w = await reloadedOnly(file);
    w.stop();
    expect(w.present()).toBe(true);
    expect(w.current().crlCount()).toBe(1);
  });

  it("rotations: another CA's CRL appearing, whatever its number, and an old CA's going once its anchor is, are taken", async () => {
    const file = join(dir, 'rotation.pem');
    const west = testPki().issuers.west;
    const foreign = foreignTestPki();
    replace(file, numbered(east, 9n, ['0a']));
    // Step 1 of an anchor rotation: the new anchor and the old one both trusted.
    let trusted = foreign.anchor.certPem + anchor;
    const w = await watchCrlFile({
      file,
      anchorPem: () => trusted,
      intervalMs: 3_600_000,
      onChange: () => {},
      onError: () => {},
    });
    try {
      // A new issuer of the same Name (another key) starts its own numbering: not compared with
      // east's, whose CRL stays beside it (as `certs` keeps a replaced issuer's in crl.pem).
      const renewed = createIssuer(testPki().anchor, { cluster: 'east', trustDomain: TEST_TRUST_DOMAIN });
      const oldCas = numbered(east, 9n, ['0a']) + numbered(renewed, 1n, []) + numbered(west, 1n, ['0b']);
      replace(file, oldCas);
      expect(await w.reload()).toBe(true);
      expect(w.current().crlCount()).toBe(3);
      // The new anchor's CAs alone while the old anchor is still trusted: the old CAs' leaves still
      // pass the handshake, so their CRLs may not go.
      replace(file, numbered(foreign.issuers.east, 1n, ['0c']));
      await expect(w.reload()).rejects.toThrow(/is gone while that CA is still usable/);
      expect(w.current().crlCount()).toBe(3);
      // The rotation finished (the new anchor alone): the old ones' CRLs go.
      trusted = foreign.anchor.certPem;
      expect(await w.reload()).toBe(true);
      expect(w.current().size()).toBe(1);
    } finally {
      w.stop();
    }
  });
});

/** A v1 CRL of `ca` (no extensions, so no CRL number), signed with its key. */
function crlWithoutNumber(ca: KeyPairPem): string {
  const pem = createCrl({ issuerCertPem: ca.certPem, issuerKeyPem: ca.keyPem, revoked: [], crlNumber: 1n });
  const body = pem.replace(/-----[A-Z0-9 ]+-----/g, '').replace(/\s+/g, '');
  const tbs = (parseDer(Buffer.from(body, 'base64')).value as forge.asn1.Asn1[])[0]!;
  // version and the [0] extensions go: a v1 CertList (RFC 5280 §5.1.2.1).
  tbs.value = (tbs.value as forge.asn1.Asn1[]).filter(
    (f, i) => i !== 0 && f.tagClass !== forge.asn1.Class.CONTEXT_SPECIFIC,
  );
  return derToPem(signedDer(tbs, signingKey(ca.keyPem)), 'X509 CRL');
}

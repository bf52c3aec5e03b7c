/**
 * A reload refused for dropping the CRL of a CA still usable holds only until that CA expires: the
 * watch tries the same file again a second after (RevocationList.refusalFrom's retryAt), without
 * waiting for it to change or for a restart. The watch's clock is injected.
 */
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { KeyPairPem } from './ca.js';
import { createCrl } from './crl.js';
import { RETRY_AFTER_EXPIRY_MS, watchCrlFile } from './crl-watch.js';
import { testGatewayCertificate, testPki } from './testing.js';

const dir = mkdtempSync(join(tmpdir(), 'isthmus-crl-retry-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const crlOf = (ca: KeyPairPem, serials: string[], n: bigint) =>
  ca.certPem +
  createCrl({
    issuerCertPem: ca.certPem,
    issuerKeyPem: ca.keyPem,
    revoked: serials.map((serial) => ({ serial, revokedAt: new Date('2026-11-01T00:00:00Z') })),
    crlNumber: n,
  });

describe('a CRL file refused until a CA expires', () => {
  it('is taken once that CA has expired, though the file did not change', async () => {
    const { anchor, issuers } = testPki();
    const expires = new Date(new X509Certificate(issuers.east.certPem).validTo).getTime();
    const file = join(dir, 'crl.pem');
    writeFileSync(file, crlOf(issuers.east, ['0a'], 5n) + crlOf(issuers.west, ['0b'], 5n));
    let clock = expires - 30_000;
    const westLeaf = new X509Certificate(testGatewayCertificate('west').certPem);
    let refused!: (message: string) => void;
    let changed!: (size: number) => void;
    const refusal = new Promise<string>((r) => {
      refused = r;
    });
    const change = new Promise<number>((r) => {
      changed = r;
    });
    const w = await watchCrlFile({
      file,
      anchorPem: anchor.certPem,
      now: () => new Date(clock),
      intervalMs: 5,
      onChange: (l) => changed(l.size()),
      onError: (e) => refused(e.message),
    });
    try {
      // Written at east's expiry by a clock a little ahead: east left out, west revokes the leaf.
      writeFileSync(file, crlOf(issuers.west, ['0b', westLeaf.serialNumber], 6n));
      expect(await refusal).toMatch(/is gone while that CA is still usable/);
      expect(w.current().check(westLeaf)).toBeUndefined();
      clock = expires + RETRY_AFTER_EXPIRY_MS;
      expect(await change).toBe(2);
      expect(w.current().check(westLeaf)).toMatch(/is revoked/);
    } finally {
      w.stop();
    }
  });
});

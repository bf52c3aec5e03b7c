/**
 * `isthmus identity --crl-file` checks the CRL file against the anchor in force: after an anchor
 * reload (step 1 of a rotation brings the bundle of the new anchor and the old one) a CRL under
 * the new anchor is taken, not refused for the anchor identity started with.
 */
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { waitFor } from '../wait-for.js';
import { createCrl } from './crl.js';
import { type CrlFollower, followCrl } from './crl-follow.js';
import { foreignTestPki, testCrlBundle, testPki } from './testing.js';

const dir = mkdtempSync(join(tmpdir(), 'isthmus-crl-follow-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let follower: CrlFollower | undefined;
afterEach(() => follower?.stop());

/** As kubelet updates a ConfigMap mount: a new file swapped in, never a half-written one. */
function replace(file: string, text: string): void {
  writeFileSync(`${file}.tmp`, text);
  renameSync(`${file}.tmp`, file);
}

const oldAnchor = testPki().anchor.certPem;
/** ca.crt after step 1 of a rotation to the "foreign" PKI's anchor. */
const bundle = foreignTestPki().anchor.certPem + oldAnchor;
/** A CRL of an issuer under the new anchor, as `certs revoke` writes it during the rotation. */
const newAnchorCrl = (serials: string[]) => testCrlBundle(foreignTestPki().issuers.east, serials);

/** Follows `file` checked against `anchorPem`; the error lines it logs are gathered in `errors`. */
async function following(
  file: string,
  anchorPem: string | (() => string),
  intervalMs: number,
): Promise<{ follower: CrlFollower; errors: string[] }> {
  const errors: string[] = [];
  const made = await followCrl({
    file,
    anchorPem,
    intervalMs,
    log: (line, error) => {
      if (error) errors.push(line);
    },
  });
  follower = made;
  return { follower: made, errors };
}

describe('followCrl after an anchor reload', () => {
  it('takes, at the next check, a CRL it refused under the anchor it started with', async () => {
    const file = join(dir, 'at-start.pem');
    replace(file, newAnchorCrl(['0a']));
    let anchor = oldAnchor;
    const { follower: f, errors } = await following(file, () => anchor, 10_000);
    expect(f.refused()).toBe(true);
    expect(errors).toEqual([expect.stringMatching(/CRL refused.*not an issuer under this trust anchor/)]);

    anchor = bundle;
    await f.recheck();
    expect(f.refused()).toBe(false);
    expect(f.crl.present()).toBe(true);
    expect(f.crl.current().size()).toBe(1);
    expect(errors).toHaveLength(1);
  });

  it('checks a later CRL update against the reloaded anchor', async () => {
    const file = join(dir, 'update.pem');
    replace(file, testCrlBundle(testPki().issuers.east, ['0b']));
    let anchor = oldAnchor;
    const { follower: f, errors } = await following(file, () => anchor, 10);
    expect(f.crl.current().size()).toBe(1);

    anchor = bundle;
    // The old issuer's CRL stays while the old anchor is trusted (certs keeps previous/'s in crl.pem).
    replace(file, newAnchorCrl(['0c', '0d']) + testCrlBundle(testPki().issuers.east, ['0b']));
    await waitFor('the update taken', () => f.crl.current().size() === 3, 10_000);
    expect(errors).toEqual([]);
  });

  it("refuses a CRL dropped while its CA is usable, and takes the drop once the CA's anchor is gone", async () => {
    const file = join(dir, 'drop.pem');
    const oldIssuerCrl = testCrlBundle(testPki().issuers.east, ['0b']);
    replace(file, newAnchorCrl(['0c']) + oldIssuerCrl);
    let anchor = bundle;
    const { follower: f, errors } = await following(file, () => anchor, 10);
    replace(file, newAnchorCrl(['0c']));
    await waitFor('the drop refused', () => f.refused() === true, 10_000);
    expect(errors).toEqual([
      expect.stringMatching(
        /^identity: CRL update refused, the list in force stays: .*refused: the CRL of "CN=identity\.east\.cluster\.local" .* is gone while that CA is still usable/,
      ),
    ]);
    expect(f.crl.current().size()).toBe(2);
    // The rotation finished: identity follows the new anchor alone, and loads the file again.
    anchor = foreignTestPki().anchor.certPem;
    await f.recheck();
    expect(f.refused()).toBe(false);
    expect(f.crl.current().size()).toBe(1);
  });
});

describe('followCrl at the last step of an anchor rotation, nothing revoked under the new anchor', () => {
  it('refuses the file with no CRL under both anchors, and takes it once it follows the new anchor alone', async () => {
    const file = join(dir, 'finish-empty.pem');
    replace(file, testCrlBundle(testPki().issuers.east, ['0b']));
    let anchor = bundle;
    const { follower: f, errors } = await following(file, () => anchor, 10);
    // --finish rebuilt crl.pem for the new anchor alone: no CRL left in it. Applied before the upgrade.
    replace(file, '');
    await waitFor('the emptied file refused', () => f.refused() === true, 10_000);
    expect(errors).toEqual([expect.stringMatching(/refused: the file holds no CRL while 1 is in force/)]);
    anchor = foreignTestPki().anchor.certPem;
    await f.recheck();
    expect(f.refused()).toBe(false);
    expect(f.crl.current().size()).toBe(0);
  });
});

describe('followCrl and an older CRL put back (review finding)', () => {
  it('refuses it, logs both numbers and keeps the list in force', async () => {
    const east = testPki().issuers.east;
    const numbered = (n: bigint, serials: string[]) =>
      east.certPem +
      createCrl({
        issuerCertPem: east.certPem,
        issuerKeyPem: east.keyPem,
        revoked: serials.map((serial) => ({ serial, revokedAt: new Date('2030-01-01T00:00:00Z') })),
        crlNumber: n,
      });
    const file = join(dir, 'rollback.pem');
    replace(file, numbered(2n, ['0e']));
    const { follower: f, errors } = await following(file, oldAnchor, 10);
    replace(file, numbered(1n, []));
    await waitFor('the rollback refused', () => f.refused(), 10_000);
    expect(errors).toEqual([
      expect.stringMatching(
        /^identity: CRL update refused, the list in force stays: CRL file .*rollback\.pem: refused: the CRL of ".*" went back from CRL number 2 to CRL number 1: /,
      ),
    ]);
    expect(f.crl.current().size()).toBe(1);
  });
});

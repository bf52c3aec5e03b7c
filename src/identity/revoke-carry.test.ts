/**
 * `certs revoke` writes a crl.pem the running gateways take: before writing, it judges the new
 * bundle against the crl.pem in force as they do (RevocationList.rollbackFrom). A CA's CRL the
 * files no longer hold while the CA is still usable (a lost file of another CA; the CRL of an
 * issuer cert-manager replaced with a new key) is carried over, said so; a bundle still refused is
 * not written. End to end: the real `isthmus certs revoke` (commander) and a real watchCrlFile
 * holding the earlier crl.pem, reloaded onto the new one.
 */
import { X509Certificate } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startAnchorRotation } from './anchor-rotation.js';
import { createIssuer, issueGatewayCertificate } from './ca.js';
import { normaliseSerial } from './crl.js';
import { type ReloadableCrlWatcher, watchCrlFile } from './crl-watch.js';
import { writeCertificates } from './files.js';
import { revokeCli } from './testing-revoke-cli.js';

const root = mkdtempSync(join(tmpdir(), 'isthmus-revoke-carry-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const read = (...p: string[]) => readFileSync(join(...p), 'utf8');

async function certsDir(): Promise<string> {
  const dir = mkdtempSync(join(root, 'certs-'));
  await writeCertificates({ outDir: dir, clusters: ['east', 'west'], anchorKeyBits: 2048 });
  return dir;
}

/** A gateway certificate of `cluster` signed by the issuer in `<certs>/<cluster>/`, in a file. */
function leafOf(certs: string, cluster: string): { file: string; cert: X509Certificate } {
  const issuer = { certPem: read(certs, cluster, 'issuer.crt'), keyPem: read(certs, cluster, 'issuer.key') };
  const leaf = issueGatewayCertificate(issuer, { trustDomain: 'cluster.local', cluster });
  const file = join(root, `${cluster}-${Math.random().toString(36).slice(2)}.crt`);
  writeFileSync(file, leaf.certPem);
  return { file, cert: new X509Certificate(leaf.certPem) };
}

/**
 * cert-manager renews the issuer (rotationPolicy: Always, a new key) and the operator copies the
 * Secret's tls.crt (issuer, then CA) and tls.key over <certs>/<cluster>/issuer.{crt,key}.
 */
function certManagerRenews(certs: string, cluster: string): X509Certificate {
  const anchor = { certPem: read(certs, 'ca.crt'), keyPem: read(certs, 'ca.key') };
  const issuer = createIssuer(anchor, { cluster, trustDomain: 'cluster.local', validityDays: 2 });
  writeFileSync(join(certs, cluster, 'issuer.crt'), issuer.certPem + anchor.certPem);
  writeFileSync(join(certs, cluster, 'issuer.key'), issuer.keyPem);
  return new X509Certificate(issuer.certPem);
}

/** A gateway's watch of its mounted crl.pem, started on what `certs` holds now. */
async function gatewayOn(
  certs: string,
  anchorFile = 'ca.crt',
  bundle = 'crl.pem',
): Promise<{
  watch: ReloadableCrlWatcher;
  /** Puts `<certs>/crl.pem` in the mount, as the ConfigMap applied, and reloads it. */
  apply: () => Promise<void>;
}> {
  const mount = join(mkdtempSync(join(root, 'mount-')), 'crl.pem');
  writeFileSync(mount, read(certs, bundle));
  const watch = await watchCrlFile({
    file: mount,
    anchorPem: read(certs, anchorFile),
    intervalMs: 3_600_000,
    onChange: () => {},
    onError: () => {},
  });
  return {
    watch,
    apply: async () => {
      writeFileSync(mount, read(certs, 'crl.pem'));
      await watch.reload();
    },
  };
}

/**
 * The gateway takes crl.pem and refuses `earlier`; then one more east leaf revoked: taken too, and
 * every one of them refused.
 */
async function takenWithTheNext(
  certs: string,
  gateway: Awaited<ReturnType<typeof gatewayOn>>,
  earlier: ReadonlyArray<{ cert: X509Certificate }>,
): Promise<void> {
  await gateway.apply();
  for (const l of earlier) expect(gateway.watch.current().check(l.cert)).toMatch(/is revoked/);
  const next = leafOf(certs, 'east');
  expect((await revokeCli(certs, '--cluster', 'east', '--cert', next.file)).err).toBeUndefined();
  await gateway.apply();
  for (const l of [...earlier, next]) expect(gateway.watch.current().check(l.cert)).toMatch(/is revoked/);
  gateway.watch.stop();
}

describe('certs revoke keeps crl.pem one the running gateways take', () => {
  it('after cert-manager renewed the issuer with a new key, keeps the old one with its CRL in retired/ and revokes', async () => {
    const certs = await certsDir();
    const first = certManagerRenews(certs, 'east');
    const leaf1 = leafOf(certs, 'east');
    expect((await revokeCli(certs, '--cluster', 'east', '--cert', leaf1.file)).err).toBeUndefined();
    const gateway = await gatewayOn(certs);
    certManagerRenews(certs, 'east'); // the first one is still valid
    const leaf2 = leafOf(certs, 'east');

    const r = await revokeCli(certs, '--cluster', 'east', '--cert', leaf2.file);
    expect(r.err).toBeUndefined();
    const kept = join(certs, 'east', 'retired', normaliseSerial(first.serialNumber));
    expect(r.out).toContain(
      `${join(certs, 'east', 'issuer.crl')} was the CRL of the issuer this one replaced`,
    );
    expect(r.out).toContain(join(kept, 'issuer.crl'));
    expect(new X509Certificate(read(kept, 'issuer.crt')).fingerprint256).toBe(first.fingerprint256);
    // And the next revocation goes on from east's own CRL.
    await takenWithTheNext(certs, gateway, [leaf1, leaf2]);
  });

  it("after the old advice was followed (the renewed issuer's issuer.crl moved away), carries the old issuer's CRL over from crl.pem", async () => {
    const certs = await certsDir();
    certManagerRenews(certs, 'east');
    const leaf1 = leafOf(certs, 'east');
    await revokeCli(certs, '--cluster', 'east', '--cert', leaf1.file);
    const gateway = await gatewayOn(certs);
    certManagerRenews(certs, 'east');
    rmSync(join(certs, 'east', 'issuer.crl'));
    const leaf2 = leafOf(certs, 'east');

    const r = await revokeCli(certs, '--cluster', 'east', '--cert', leaf2.file);
    expect(r.err).toBeUndefined();
    expect(r.out).toMatch(
      /the CRL of "CN=[^"]*east[^"]*" \(serial [0-9a-f]+, CRL number \d+, 1 revoked\) was not in the files while that CA is still usable, and gateways refuse a crl\.pem that drops it: taken from .*crl\.pem, carried into the new crl\.pem/,
    );
    // The next one carries it again, from the crl.pem just written.
    await takenWithTheNext(certs, gateway, [leaf1, leaf2]);
  });

  it.each([
    ['west/issuer.crl', ['west', 'issuer.crl']],
    ['ca.crl', ['ca.crl']],
  ])(
    'writes back a lost CRL file of another CA (%s) from crl.pem, says so, and the gateways take the file',
    async (_, lost) => {
      const certs = await certsDir();
      const west = leafOf(certs, 'west');
      await revokeCli(certs, '--cluster', 'west', '--cert', west.file);
      await revokeCli(certs, '--issuer-of', 'west', '--serial', '4242');
      const gateway = await gatewayOn(certs);
      const before = read(certs, ...lost);
      rmSync(join(certs, ...lost));
      const east = leafOf(certs, 'east');

      const r = await revokeCli(certs, '--cluster', 'east', '--cert', east.file);
      expect(r.err).toBeUndefined();
      expect(r.out).toContain(`written back to ${join(certs, ...lost)}, which was missing`);
      expect(read(certs, ...lost)).toBe(before);
      await gateway.apply();
      expect(gateway.watch.current().check(east.cert)).toMatch(/is revoked/);
      expect(gateway.watch.current().check(west.cert)).toMatch(/is revoked/);
      expect(gateway.watch.current().crlCount()).toBe(3);
      gateway.watch.stop();
    },
  );

  it('writes nothing, exiting non-zero with the reason, when the gateways would still refuse the new crl.pem', async () => {
    const certs = await certsDir();
    const west = leafOf(certs, 'west');
    await revokeCli(certs, '--cluster', 'west', '--cert', west.file);
    const older = read(certs, 'west', 'issuer.crl');
    await revokeCli(certs, '--cluster', 'west', '--cert', leafOf(certs, 'west').file);
    // An older west/issuer.crl put back (a backup): the new crl.pem would go back in CRL number.
    writeFileSync(join(certs, 'west', 'issuer.crl'), older);
    const bundle = read(certs, 'crl.pem');
    const r = await revokeCli(certs, '--cluster', 'east', '--cert', leafOf(certs, 'east').file);
    expect(String(r.err)).toMatch(
      /nothing was written: the gateways that hold .*crl\.pem would refuse the new .*went back from CRL number/,
    );
    expect(read(certs, 'crl.pem')).toBe(bundle);
    expect(existsSync(join(certs, 'east', 'issuer.crl'))).toBe(false);
  });

  it("during an anchor rotation, a lost CRL file of the previous anchor's issuer goes on from previous/crl.pem", async () => {
    const certs = await certsDir();
    const a = leafOf(certs, 'east');
    await revokeCli(certs, '--cluster', 'east', '--cert', a.file);
    const gateway = await gatewayOn(certs);
    await startAnchorRotation({ dir: certs });
    expect(existsSync(join(certs, 'crl.pem'))).toBe(false); // moved to previous/crl.pem
    rmSync(join(certs, 'previous', 'east', 'issuer.crl'));
    const b = leafOf(join(certs, 'previous'), 'east');

    const r = await revokeCli(certs, '--cluster', 'east', '--cert', b.file);
    expect(r.err).toBeUndefined();
    expect(r.out).toContain(
      `${join(certs, 'previous', 'east', 'issuer.crl')} was missing: its earlier entries and CRL number were taken from the copy in ${join(certs, 'previous', 'crl.pem')}`,
    );
    await gateway.apply();
    expect(gateway.watch.current().check(a.cert)).toMatch(/is revoked/);
    expect(gateway.watch.current().check(b.cert)).toMatch(/is revoked/);
    gateway.watch.stop();
  });
});

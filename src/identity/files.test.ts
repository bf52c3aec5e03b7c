import { X509Certificate } from 'node:crypto';
import { cp, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isIsthmusError } from '../errors.js';
import { certificateInfo, issueGatewayCertificate, verifyChain } from './ca.js';
import { issuerFiles } from './ca-files.js';
import { normaliseSerial } from './crl.js';
import {
  exists,
  loadCertificates,
  loadIssuer,
  renewalSteps,
  runCertsCommand,
  type WriteFile,
  writeCertificates,
} from './files.js';
import { revokeCertificate } from './revoke.js';
import { foreignTestPki, testGatewayCertificate } from './testing.js';

let root: string;
/** Written once; tests that tamper work on copies of it. */
let dir: string;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'isthmus-certs-'));
  dir = join(root, 'certs');
  await runCertsCommand({ outDir: dir, clusters: ['east', 'west'], anchorKeyBits: 2048 });
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

async function copy(name: string): Promise<string> {
  const target = join(root, name);
  await cp(dir, target, { recursive: true });
  return target;
}

/** Renews east's issuer on a disk that is full for its new key (and only for that). */
function renewEastOnAFullDisk(outDir: string) {
  const newKey = join(outDir, 'east', 'issuer.key');
  const diskFull: WriteFile = async (file, data, options) => {
    if (String(file).startsWith(newKey))
      throw Object.assign(new Error('ENOSPC: no space left'), { code: 'ENOSPC' });
    return writeFile(file, data, options);
  };
  return writeCertificates({
    outDir,
    clusters: ['east'],
    reuseAnchor: true,
    force: true,
    writeFile: diskFull,
  });
}

async function readFiles(folder: string, names: string[]): Promise<string[]> {
  return Promise.all(names.map((n) => readFile(join(folder, n), 'utf8')));
}

async function loadError(opts: Parameters<typeof loadCertificates>[0]): Promise<Error> {
  const err = await loadCertificates(opts).then(
    () => undefined,
    (e: unknown) => e as Error,
  );
  if (!err) throw new Error('expected loadCertificates to fail');
  expect(isIsthmusError(err, 'CERT_INVALID')).toBe(true);
  return err;
}

describe('writeCertificates', () => {
  it('writes the anchor and one issuer per cluster, keys 0600 and directories 0700', async () => {
    const mode = async (p: string) => (await stat(join(dir, p))).mode & 0o777;
    expect(await mode('ca.key')).toBe(0o600);
    expect(await mode('east/issuer.key')).toBe(0o600);
    expect(await mode('west/issuer.key')).toBe(0o600);
    expect(await mode('east')).toBe(0o700);
    expect(await mode('.')).toBe(0o700);
    expect(await mode('ca.crt')).toBe(0o644);
    const loaded = await loadCertificates({ dir });
    expect([...loaded.issuers.keys()]).toEqual(['east', 'west']);
    expect(loaded.anchor.keyPem).toContain('PRIVATE KEY');
    const east = loaded.issuers.get('east')!;
    expect(certificateInfo(east.certPem).subject).toBe('CN=identity.east.cluster.local');
    expect(verifyChain(east.certPem, [], [loaded.anchor.certPem])).toEqual({ ok: true });
  });

  it('never silently overwrites: lists the existing files, replaces them only with force', async () => {
    const target = await copy('overwrite');
    const before = await readFile(join(target, 'ca.crt'), 'utf8');
    const err = await writeCertificates({ outDir: target, clusters: ['east'] }).catch((e: Error) => e);
    expect(isIsthmusError(err, 'CERT_EXISTS')).toBe(true);
    expect((err as Error).message).toContain(join(target, 'ca.key'));
    expect((err as Error).message).toContain(join(target, 'east', 'issuer.crt'));
    expect((err as Error).message).toContain(
      'to renew these issuers under the same trust anchor, pass --reuse-anchor --force; --force alone also replaces the anchor',
    );
    expect(await readFile(join(target, 'ca.crt'), 'utf8')).toBe(before);
    // One more cluster: only the anchor is in the way, and --force is not what the user wants.
    const more = await writeCertificates({ outDir: target, clusters: ['north'] }).catch((e: Error) => e);
    expect((more as Error).message).toMatch(
      /\(to add issuers under the existing trust anchor, pass --reuse-anchor; --force would replace the anchor, and no issuer installed already would chain to it\)$/,
    );
    const file = join(target, 'ca.crt');
    await expect(writeCertificates({ outDir: file, clusters: ['east'] })).rejects.toThrow(
      `--out ${file} exists and is not a directory`,
    );
    const renew = await writeCertificates({ outDir: target, clusters: ['east'], reuseAnchor: true }).catch(
      (e: Error) => e,
    );
    expect((renew as Error).message).toMatch(/\(pass --force to replace them\)$/);

    const { written } = await writeCertificates({
      outDir: target,
      clusters: ['east'],
      force: true,
      anchorKeyBits: 2048,
    });
    expect(written).toHaveLength(4);
    expect(await readFile(join(target, 'ca.crt'), 'utf8')).not.toBe(before);
    expect((await stat(join(target, 'ca.key'))).mode & 0o777).toBe(0o600);
    // west/ was not rewritten, so it no longer chains to the new anchor.
    await expect(loadCertificates({ dir: target })).rejects.toThrow(
      /west\/issuer\.crt: not signed by the trust anchor/,
    );
  });

  it('reuseAnchor adds a cluster under the existing anchor', async () => {
    const target = await copy('join');
    const { written } = await writeCertificates({ outDir: target, clusters: ['north'], reuseAnchor: true });
    expect(written).toEqual([join(target, 'north', 'issuer.crt'), join(target, 'north', 'issuer.key')]);
    const loaded = await loadCertificates({ dir: target });
    expect([...loaded.issuers.keys()]).toEqual(['east', 'north', 'west']);
  });

  it('reuseAnchor with force renews an issuer and keeps the replaced one, key and CRL, in retired/<serial>/', async () => {
    const target = await copy('renew');
    const old = await readFile(join(target, 'east', 'issuer.crt'), 'utf8');
    await writeFile(join(target, 'east', 'issuer.crl'), 'its CRL');
    const { written, retired } = await writeCertificates({
      outDir: target,
      clusters: ['east'],
      reuseAnchor: true,
      force: true,
    });
    expect(written).toEqual([join(target, 'east', 'issuer.crt'), join(target, 'east', 'issuer.key')]);
    const serial = new X509Certificate(old).serialNumber.toLowerCase().replace(/^0+/, '');
    expect(retired).toEqual([join(target, 'east', 'retired', serial)]);
    expect(await readFile(join(retired[0]!, 'issuer.crt'), 'utf8')).toBe(old);
    expect(await readFile(join(retired[0]!, 'issuer.crl'), 'utf8')).toBe('its CRL');
    expect((await stat(join(retired[0]!, 'issuer.key'))).mode & 0o777).toBe(0o600);
    expect((await stat(retired[0]!)).mode & 0o777).toBe(0o700);
    const loaded = await loadCertificates({ dir: target });
    expect(loaded.issuers.get('east')!.certPem).not.toBe(old);
    expect(await exists(join(target, 'east', 'issuer.crl'))).toBe(false);
  });

  it('reuseAnchor keeps the trust domain of the existing anchor and its issuers', async () => {
    const target = join(root, 'reuse-td');
    await writeCertificates({
      outDir: target,
      clusters: ['a'],
      trustDomain: 'example.org',
      anchorKeyBits: 2048,
    });
    await writeCertificates({ outDir: target, clusters: ['b'], reuseAnchor: true });
    await writeCertificates({ outDir: target, clusters: ['a'], reuseAnchor: true, force: true });
    const loaded = await loadCertificates({ dir: target });
    expect(certificateInfo(loaded.issuers.get('a')!.certPem).subject).toBe('CN=identity.a.example.org');
    expect(certificateInfo(loaded.issuers.get('b')!.certPem).subject).toBe('CN=identity.b.example.org');
  });

  it('reuseAnchor refuses another trust domain than the existing one, writing nothing', async () => {
    const target = join(root, 'reuse-other-td');
    await writeCertificates({
      outDir: target,
      clusters: ['a'],
      trustDomain: 'example.org',
      anchorKeyBits: 2048,
    });
    const before = (await readdir(target, { recursive: true })).sort();
    const old = await readFile(join(target, 'a', 'issuer.crt'), 'utf8');
    for (const clusters of [['b'], ['a']]) {
      const err = await writeCertificates({
        outDir: target,
        clusters,
        trustDomain: 'cluster.local',
        reuseAnchor: true,
        force: true,
      }).catch((e: Error) => e);
      expect(isIsthmusError(err, 'USAGE')).toBe(true);
      expect((err as Error).message).toMatch(
        /^--trust-domain cluster\.local: the trust anchor in .* is of trust domain "example\.org" .*leave --trust-domain out or give example\.org/,
      );
    }
    expect((await readdir(target, { recursive: true })).sort()).toEqual(before);
    expect(await readFile(join(target, 'a', 'issuer.crt'), 'utf8')).toBe(old);
    // Given, the same trust domain is fine.
    await writeCertificates({
      outDir: target,
      clusters: ['b'],
      trustDomain: 'example.org',
      reuseAnchor: true,
    });
  });

  it('a renewal says whether the replaced issuer was revoked', async () => {
    const target = await copy('renew-says-revoked');
    const first = await writeCertificates({
      outDir: target,
      clusters: ['east'],
      reuseAnchor: true,
      force: true,
    });
    expect(first.renewed).toEqual([
      expect.objectContaining({ cluster: 'east', retired: first.retired[0], revoked: false }),
    ]);
    await revokeCertificate({ dir: target, issuerOf: 'east', certFile: join(target, 'east', 'issuer.crt') });
    const second = await writeCertificates({
      outDir: target,
      clusters: ['east'],
      reuseAnchor: true,
      force: true,
    });
    expect(second.renewed).toEqual([
      expect.objectContaining({ cluster: 'east', retired: second.retired[0], revoked: true }),
    ]);
    // An issuer joining has nothing renewed.
    const joined = await writeCertificates({ outDir: target, clusters: ['north'], reuseAnchor: true });
    expect(joined.renewed).toEqual([]);
  });

  it('after a renewal, prints the upgrade that applies the new issuer, and the truth about the old leaves', async () => {
    const target = await copy('renew-steps');
    const kept = await writeCertificates({
      outDir: target,
      clusters: ['east'],
      reuseAnchor: true,
      force: true,
    });
    const text = await renewalSteps(target, kept.renewed);
    const lines = text.split('\n').map((l) => l.trim());
    const upgrade = `isthmus upgrade --context east --trust-anchor ${join(target, 'ca.crt')} --issuer-cert ${join(target, 'east', 'issuer.crt')} --issuer-key ${join(target, 'east', 'issuer.key')} | kubectl --context east apply -f -`;
    expect(lines).toContain(upgrade);
    expect(text).not.toContain('isthmus install');
    expect(text).toMatch(/stay trusted until they expire/);
    expect(text).toMatch(/without a restart/);
    // Lowercase, as identity logs it (a case-sensitive grep for the printed line must find it).
    const newSerial = normaliseSerial(
      new X509Certificate(await readFile(join(target, 'east', 'issuer.crt'), 'utf8')).serialNumber,
    );
    expect(text).toContain(`issuer reloaded: CN=identity.east.cluster.local, serial ${newSerial}`);

    await revokeCertificate({ dir: target, issuerOf: 'east', certFile: join(target, 'east', 'issuer.crt') });
    const revoked = await writeCertificates({
      outDir: target,
      clusters: ['east'],
      reuseAnchor: true,
      force: true,
    });
    const after = await renewalSteps(target, revoked.renewed);
    expect(after).not.toMatch(/stay trusted/);
    expect(after).toMatch(/revoked/);
    const afterLines = after.split('\n').map((l) => l.trim());
    expect(afterLines).toContain(upgrade);
    // The gateways replace leaves of the revoked issuer on their own: no restart to run.
    expect(after).not.toContain('rollout restart');
    expect(after).toMatch(
      /east's gateways that have loaded crl\.pem renew at once, and retry .* leaves of the new issuer once identity has reloaded it/,
    );
  });

  it('during an anchor rotation, a renewed issuer is applied with the anchor bundle', async () => {
    const target = await copy('renew-during-rotation');
    const { startAnchorRotation } = await import('./anchor-rotation.js');
    await startAnchorRotation({ dir: target, anchorKeyBits: 2048 });
    const r = await writeCertificates({ outDir: target, clusters: ['east'], reuseAnchor: true, force: true });
    const text = await renewalSteps(target, r.renewed);
    expect(text).toContain(`--trust-anchor ${join(target, 'ca-bundle.crt')} --issuer-cert`);
  });

  it('a renewal that fails to write the new key leaves the old issuer whole and usable, its CRL too', async () => {
    const target = await copy('renew-disk-full');
    const east = join(target, 'east');
    await writeFile(join(east, 'issuer.crl'), 'its CRL');
    const before = await readFiles(east, ['issuer.crt', 'issuer.key', 'issuer.crl']);
    await expect(renewEastOnAFullDisk(target)).rejects.toThrow(/ENOSPC/);
    expect(await readFiles(east, ['issuer.crt', 'issuer.key', 'issuer.crl'])).toEqual(before);
    expect((await issuerFiles(target, 'east')).map((f) => f.cert)).toEqual([join(east, 'issuer.crt')]);
    const { anchorPem, issuer } = await loadIssuer({
      anchorFile: join(target, 'ca.crt'),
      certFile: join(east, 'issuer.crt'),
      keyFile: join(east, 'issuer.key'),
    });
    const leaf = issueGatewayCertificate(issuer, { trustDomain: 'cluster.local', cluster: 'east' });
    expect(verifyChain(leaf.certPem, [issuer.certPem], [anchorPem])).toEqual({ ok: true });
  });

  it('a failed renewal keeps what retired/ held before: the certificate `certs revoke --issuer-of` kept there', async () => {
    const target = await copy('renew-revoked-disk-full');
    const east = join(target, 'east');
    const [cert] = await readFiles(east, ['issuer.crt']);
    const serial = new X509Certificate(cert!).serialNumber.toLowerCase().replace(/^0+/, '');
    const kept = join(east, 'retired', serial);
    await mkdir(kept, { recursive: true });
    await writeFile(join(kept, 'issuer.crt'), cert!);
    await expect(renewEastOnAFullDisk(target)).rejects.toThrow(/ENOSPC/);
    expect(await readdir(kept)).toEqual(['issuer.crt']);
  });

  it.each([
    [{ clusters: [] }, /at least one cluster/],
    [{ clusters: ['East'] }, /"East" is not a valid cluster name/],
    [{ clusters: ['a', 'a'] }, /repeated: a/],
    [{ clusters: ['a'], trustDomain: 'Not Valid' }, /trust domain/],
  ])('refuses bad names %j', async (opts, message) => {
    const err = await writeCertificates({ outDir: join(root, 'never'), ...opts }).catch((e: Error) => e);
    expect(isIsthmusError(err, 'USAGE')).toBe(true);
    expect((err as Error).message).toMatch(message);
  });
});

describe('loadCertificates refuses bad material', () => {
  it('garbage instead of a certificate', async () => {
    const target = await copy('garbage');
    await writeFile(join(target, 'east', 'issuer.crt'), 'hello\n');
    const err = await loadError({ dir: target });
    expect(err.message).toMatch(/east\/issuer\.crt: no PEM CERTIFICATE block/);
  });

  it('a key that does not match its certificate', async () => {
    const target = await copy('mismatch');
    await cp(join(target, 'west', 'issuer.key'), join(target, 'east', 'issuer.key'));
    const err = await loadError({ dir: target, clusters: ['east'] });
    expect(err.message).toMatch(/east\/issuer\.crt: the private key does not match the certificate/);
  });

  it('an issuer of a foreign anchor', async () => {
    const target = await copy('foreign');
    const foreign = foreignTestPki().issuers.east;
    await writeFile(join(target, 'east', 'issuer.crt'), foreign.certPem);
    await writeFile(join(target, 'east', 'issuer.key'), foreign.keyPem);
    const err = await loadError({ dir: target });
    expect(err.message).toMatch(/east\/issuer\.crt: not signed by the trust anchor/);
  });

  it('a leaf where an issuer belongs, and a garbage key', async () => {
    const target = await copy('leaf');
    const leaf = testGatewayCertificate('east');
    await writeFile(join(target, 'east', 'issuer.crt'), leaf.certPem);
    await writeFile(join(target, 'east', 'issuer.key'), leaf.keyPem);
    await writeFile(join(target, 'west', 'issuer.key'), 'not a key');
    const err = await loadError({ dir: target });
    expect(err.message).toMatch(/east\/issuer\.crt: "CN=gateway\.east\.cluster\.local" is not a CA/);
    expect(err.message).toMatch(/west\/issuer\.crt: not a readable private key/);
  });

  it('expired material', async () => {
    const err = await loadError({ dir, at: new Date(Date.now() + 400 * 24 * 3600 * 1000) });
    expect(err.message).toMatch(/issuer\.crt: expired at/);
  });

  it('a missing file', async () => {
    const err = await loadError({ dir, clusters: ['south'] });
    expect(err.message).toMatch(/cannot read .*south\/issuer\.crt/);
  });
});

describe('loadIssuer', () => {
  it('needs only the anchor certificate, not its key', async () => {
    const { anchorPem, issuer } = await loadIssuer({
      anchorFile: join(dir, 'ca.crt'),
      certFile: join(dir, 'west', 'issuer.crt'),
      keyFile: join(dir, 'west', 'issuer.key'),
    });
    expect(verifyChain(issuer.certPem, [], [anchorPem])).toEqual({ ok: true });
  });

  it('refuses an issuer of another anchor', async () => {
    const target = await copy('loadIssuer');
    await writeFile(join(target, 'east', 'issuer.crt'), foreignTestPki().issuers.east.certPem);
    await expect(
      loadIssuer({
        anchorFile: join(target, 'ca.crt'),
        certFile: join(target, 'east', 'issuer.crt'),
        keyFile: join(target, 'east', 'issuer.key'),
      }),
    ).rejects.toThrow(/not signed by the trust anchor|does not match/);
  });

  it('says the files are swapped when the certificate file holds the key', async () => {
    const certFile = join(dir, 'west', 'issuer.key');
    await expect(
      loadIssuer({ anchorFile: join(dir, 'ca.crt'), certFile, keyFile: join(dir, 'west', 'issuer.crt') }),
    ).rejects.toThrow(
      `${certFile}: no PEM certificate but a private key: are the issuer certificate and key swapped?`,
    );
  });

  it('refuses an issuer made for another trust domain than the install names', async () => {
    const files = {
      anchorFile: join(dir, 'ca.crt'),
      certFile: join(dir, 'west', 'issuer.crt'),
      keyFile: join(dir, 'west', 'issuer.key'),
    };
    await expect(
      loadIssuer({ ...files, scope: { cluster: 'west', trustDomain: 'example.org' } }),
    ).rejects.toThrow(
      // The facts, not issuer-scope.ts's wording: which issuer, which domains, and the way out.
      /the issuer of west .*trust domain "cluster.local" \(CN=identity.west.cluster.local.*, not "example.org": .*give (install )?the --trust-domain isthmus certs was given \(cluster.local\)/,
    );
    await expect(
      loadIssuer({ ...files, scope: { cluster: 'west', trustDomain: 'cluster.local' } }),
    ).resolves.toBeDefined();
  });
});

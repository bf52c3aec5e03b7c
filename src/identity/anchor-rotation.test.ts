import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { isIsthmusError } from '../errors.js';
import {
  ANCHOR_BUNDLE_FILE,
  finishAnchorRotation,
  finishSteps,
  PREVIOUS_DIR,
  rotationSteps,
  startAnchorRotation,
} from './anchor-rotation.js';
import { issueGatewayCertificate } from './ca.js';
import { loadCertificates, loadIssuer, writeCertificates } from './files.js';
import { splitPem } from './pem.js';
import { RevocationList } from './revocation.js';
import { revokeCertificate } from './revoke.js';

const dirs: string[] = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

async function certsDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'isthmus-anchor-'));
  dirs.push(dir);
  await writeCertificates({ outDir: dir, clusters: ['east', 'west'], anchorKeyBits: 2048 });
  return dir;
}

const read = (dir: string, ...path: string[]) => readFile(join(dir, ...path), 'utf8');
/** The new anchor alone, as every cluster has it after the rotation. */
const next = (dir: string) => readFileSync(join(dir, 'ca.crt'), 'utf8');

/** A gateway certificate of `cluster`'s issuer in `issuerDir`, written to a file. */
async function leafOf(issuerDir: string, cluster: string): Promise<{ file: string; cert: X509Certificate }> {
  const issuer = {
    certPem: await read(issuerDir, cluster, 'issuer.crt'),
    keyPem: await read(issuerDir, cluster, 'issuer.key'),
  };
  const leaf = issueGatewayCertificate(issuer, { trustDomain: 'cluster.local', cluster });
  const file = join(issuerDir, `${cluster}-leaf-${Math.random()}.crt`);
  await writeFile(file, leaf.certPem);
  return { file, cert: new X509Certificate(leaf.certPem) };
}

/** What a gateway trusting `anchorFile` loads from crl.pem (it throws where a gateway refuses it). */
const crlAsSeenWith = async (dir: string, anchorFile: string) =>
  RevocationList.fromPem(await read(dir, 'crl.pem'), await read(dir, anchorFile));

async function errorOf(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  throw new Error('expected a rejection');
}

describe('trust anchor rotation', () => {
  it('keeps the old set in previous/, writes a new one and a bundle both install phases accept', async () => {
    const dir = await certsDir();
    const before = { anchor: await read(dir, 'ca.crt'), east: await read(dir, 'east', 'issuer.crt') };
    await writeFile(join(dir, 'crl.pem'), 'old revocations');

    const r = await startAnchorRotation({ dir, anchorKeyBits: 2048 });
    expect(r.clusters).toEqual(['east', 'west']);
    expect(r.movedCrl).toBe(true);
    expect(await read(dir, PREVIOUS_DIR, 'ca.crt')).toBe(before.anchor);
    expect(await read(dir, PREVIOUS_DIR, 'east', 'issuer.crt')).toBe(before.east);
    expect(await read(dir, PREVIOUS_DIR, 'crl.pem')).toBe('old revocations');
    const next = await read(dir, 'ca.crt');
    expect(next).not.toBe(before.anchor);
    expect(splitPem(await read(dir, ANCHOR_BUNDLE_FILE))).toEqual([next, before.anchor]);

    const bundle = join(dir, ANCHOR_BUNDLE_FILE);
    // Phase 1: the bundle with the old issuer; phase 2: the bundle with the new one.
    for (const issuerDir of [join(dir, PREVIOUS_DIR), dir]) {
      await loadIssuer({
        anchorFile: bundle,
        certFile: join(issuerDir, 'east', 'issuer.crt'),
        keyFile: join(issuerDir, 'east', 'issuer.key'),
      });
    }
    // The old anchor alone does not accept the new issuer: why the bundle comes first.
    const err = await errorOf(
      loadIssuer({
        anchorFile: join(dir, PREVIOUS_DIR, 'ca.crt'),
        certFile: join(dir, 'east', 'issuer.crt'),
        keyFile: join(dir, 'east', 'issuer.key'),
      }),
    );
    expect(isIsthmusError(err, 'CERT_INVALID')).toBe(true);
    expect(String(err)).toMatch(/not signed by the trust anchor/);
  });

  it('keeps old revocations in force under the bundle, and says why they must go at --finish', async () => {
    const dir = await certsDir();
    const issuer = {
      certPem: await read(dir, 'east', 'issuer.crt'),
      keyPem: await read(dir, 'east', 'issuer.key'),
    };
    const leaf = issueGatewayCertificate(issuer, { trustDomain: 'cluster.local', cluster: 'east' });
    const leafFile = join(dir, 'leaf.crt');
    await writeFile(leafFile, leaf.certPem);
    await revokeCertificate({ dir, cluster: 'east', certFile: leafFile });
    await startAnchorRotation({ dir, anchorKeyBits: 2048 });

    const oldCrl = await read(dir, PREVIOUS_DIR, 'crl.pem');
    const list = RevocationList.fromPem(oldCrl, await read(dir, ANCHOR_BUNDLE_FILE));
    expect(list.check(new X509Certificate(leaf.certPem))).toMatch(/revoked by its issuer's CRL/);
    const err = await errorOf(Promise.resolve().then(() => RevocationList.fromPem(oldCrl, next(dir))));
    expect(isIsthmusError(err, 'CRL_INVALID')).toBe(true);
  });

  it('refuses to start a second rotation before the first is finished, changing nothing', async () => {
    const dir = await certsDir();
    await startAnchorRotation({ dir, anchorKeyBits: 2048 });
    const files = async () => (await readdir(dir, { recursive: true })).sort();
    const listed = await files();
    const anchor = await read(dir, 'ca.crt');
    const err = await errorOf(startAnchorRotation({ dir, anchorKeyBits: 2048 }));
    expect(isIsthmusError(err, 'CERT_EXISTS')).toBe(true);
    expect(String(err)).toMatch(/rotation is in progress .* --finish/);
    expect(await files()).toEqual(listed);
    expect(await read(dir, 'ca.crt')).toBe(anchor);
  });

  it('finishes by removing the old set and the bundle; the new set stands alone', async () => {
    const dir = await certsDir();
    await startAnchorRotation({ dir, anchorKeyBits: 2048 });
    const { hadCrl } = await finishAnchorRotation(dir);
    expect(hadCrl).toBe(false);
    expect((await readdir(dir)).sort()).toEqual(['ca.crt', 'ca.key', 'east', 'west']);
    const loaded = await loadCertificates({ dir });
    expect([...loaded.issuers.keys()]).toEqual(['east', 'west']);
    const again = await errorOf(finishAnchorRotation(dir));
    expect(isIsthmusError(again, 'USAGE')).toBe(true);
    expect(String(again)).toMatch(/no anchor rotation in progress/);
  });

  it('refuses to rotate without the anchor key', async () => {
    const dir = await certsDir();
    await rm(join(dir, 'ca.key'));
    const err = await errorOf(startAnchorRotation({ dir, anchorKeyBits: 2048 }));
    expect(String(err)).toMatch(/ca\.key/);
    expect(await readdir(dir)).not.toContain(PREVIOUS_DIR);
  });

  it('prints the three steps for every cluster, in order', () => {
    const text = rotationSteps('certs', ['east', 'west'], true);
    const step = (n: number) => text.indexOf(`${n}. `);
    expect(step(1)).toBeLessThan(step(2));
    expect(step(2)).toBeLessThan(step(3));
    // upgrade, not install: install with these flags alone would drop every other recorded flag.
    expect(text).not.toContain('isthmus install');
    const lines = text.split('\n').map((l) => l.trim());
    expect(lines).toContain(
      'isthmus upgrade --context west --trust-anchor certs/ca-bundle.crt --issuer-cert certs/previous/west/issuer.crt --issuer-key certs/previous/west/issuer.key | kubectl --context west apply -f -',
    );
    expect(lines).toContain(
      'isthmus upgrade --context east --trust-anchor certs/ca-bundle.crt --issuer-cert certs/east/issuer.crt --issuer-key certs/east/issuer.key | kubectl --context east apply -f -',
    );
    const dropOld =
      'isthmus upgrade --context east --trust-anchor certs/ca.crt --issuer-cert certs/east/issuer.crt --issuer-key certs/east/issuer.key | kubectl --context east apply -f -';
    expect(lines).toContain(dropOld);
    expect(text.indexOf(dropOld)).toBeGreaterThan(step(3));
    expect(text).toContain('rollout restart deployment/isthmus-identity deployment/isthmus-gateway');
    expect(text).toContain('isthmus certs new-anchor --out certs --finish');
    expect(text).toMatch(
      /--finish rebuilds certs\/crl\.pem without them: apply it as the isthmus-crl ConfigMap/,
    );
  });

  it('revocations made before the rotation stay in crl.pem when something is revoked during it', async () => {
    const dir = await certsDir();
    const old = await leafOf(dir, 'east');
    await revokeCertificate({ dir, cluster: 'east', certFile: old.file, reason: 'keyCompromise' });
    await startAnchorRotation({ dir, anchorKeyBits: 2048 });
    const west = await leafOf(dir, 'west'); // under the new anchor
    await revokeCertificate({ dir, cluster: 'west', certFile: west.file });
    const list = await crlAsSeenWith(dir, ANCHOR_BUNDLE_FILE);
    expect(list.check(old.cert)).toMatch(/revoked by its issuer's CRL \(keyCompromise/);
    expect(list.check(west.cert)).toMatch(/revoked by its issuer's CRL/);
  });

  it("an old leaf leaking before step 1 is done is revoked in its issuer's CRL, which gateways on the old anchor alone load", async () => {
    const dir = await certsDir();
    const old = await leafOf(dir, 'east');
    await startAnchorRotation({ dir, anchorKeyBits: 2048 });
    const r = await revokeCertificate({ dir, cluster: 'east', certFile: old.file });
    expect(r.crlFile).toBe(join(dir, PREVIOUS_DIR, 'east', 'issuer.crl'));
    const list = await crlAsSeenWith(dir, join(PREVIOUS_DIR, 'ca.crt'));
    expect(list.check(old.cert)).toMatch(/revoked by its issuer's CRL/);
  });

  it('--finish rebuilds crl.pem for the new anchor alone, keeping what was revoked under it', async () => {
    const dir = await certsDir();
    const old = await leafOf(dir, 'east');
    await revokeCertificate({ dir, cluster: 'east', certFile: old.file });
    await startAnchorRotation({ dir, anchorKeyBits: 2048 });
    const west = await leafOf(dir, 'west');
    await revokeCertificate({ dir, cluster: 'west', certFile: west.file });
    const finished = await finishAnchorRotation(dir);
    expect(finished).toMatchObject({ hadCrl: true, crlFile: join(dir, 'crl.pem'), skipped: [] });
    const list = await crlAsSeenWith(dir, 'ca.crt');
    expect(list.check(west.cert)).toMatch(/revoked by its issuer's CRL/);
    expect(list.crlCount()).toBe(1);
  });

  it('takes the issuers a cluster replaced along into previous/', async () => {
    const dir = await certsDir();
    const { retired } = await writeCertificates({
      outDir: dir,
      clusters: ['east'],
      reuseAnchor: true,
      force: true,
    });
    const serial = basename(retired[0]!);
    await startAnchorRotation({ dir, anchorKeyBits: 2048 });
    expect(await readdir(join(dir, PREVIOUS_DIR, 'east', 'retired'))).toEqual([serial]);
    expect(await readdir(join(dir, 'east'))).toEqual(['issuer.crt', 'issuer.key']);
  });
  it('--finish names the real anchor file and the upgrade of every cluster, CRL first', async () => {
    const dir = await certsDir();
    await writeFile(join(dir, 'crl.pem'), 'old revocations');
    await startAnchorRotation({ dir, anchorKeyBits: 2048 });
    const finished = await finishAnchorRotation(dir);
    expect(finished.clusters).toEqual(['east', 'west']);
    const text = finishSteps(dir, finished.clusters, finished.crlFile);
    expect(text).not.toMatch(/<dir>|isthmus install/);
    const lines = text.split('\n').map((l) => l.trim());
    for (const c of ['east', 'west']) {
      expect(lines).toContain(
        `isthmus upgrade --context ${c} --trust-anchor ${join(dir, 'ca.crt')} --issuer-cert ${join(dir, c, 'issuer.crt')} --issuer-key ${join(dir, c, 'issuer.key')} | kubectl --context ${c} apply -f -`,
      );
      expect(lines).toContain(
        `kubectl --context ${c} -n isthmus-system rollout restart deployment/isthmus-gateway`,
      );
    }
    const crl = `kubectl -n isthmus-system create configmap isthmus-crl --from-file=crl.pem=${join(dir, 'crl.pem')} --dry-run=client -o yaml | kubectl --context east apply -f -`;
    expect(lines).toContain(crl);
    expect(text.indexOf(crl)).toBeLessThan(text.indexOf('isthmus upgrade'));
    // Without a CRL bundle there is none to apply.
    expect(finishSteps(dir, ['east'], undefined)).not.toContain('isthmus-crl');
  });

  it('quotes a path the shell would split', () => {
    expect(rotationSteps('my certs', ['east'], false)).toContain("--trust-anchor 'my certs/ca-bundle.crt'");
  });

  /** `isthmus certs --clusters a --trust-domain example.org` in a temp dir. */
  async function certsInExampleOrg(): Promise<string> {
    const dir = await mkdtemp(join(tmpdir(), 'isthmus-anchor-td-'));
    dirs.push(dir);
    await writeCertificates({
      outDir: dir,
      clusters: ['a'],
      trustDomain: 'example.org',
      anchorKeyBits: 2048,
    });
    return dir;
  }

  it('keeps the trust domain of the anchor it replaces', async () => {
    const dir = await certsInExampleOrg();
    const r = await startAnchorRotation({ dir, anchorKeyBits: 2048 });
    expect(new X509Certificate(await read(dir, 'ca.crt')).subject).toBe('CN=root.example.org');
    expect(new X509Certificate(await read(dir, 'a', 'issuer.crt')).subject).toBe('CN=identity.a.example.org');
    expect(r.trustDomain).toBe('example.org');
  });

  it('refuses another trust domain than the current one, before moving anything', async () => {
    const dir = await certsInExampleOrg();
    const listed = (await readdir(dir, { recursive: true })).sort();
    const err = await errorOf(
      startAnchorRotation({ dir, trustDomain: 'cluster.local', anchorKeyBits: 2048 }),
    );
    expect(isIsthmusError(err, 'USAGE')).toBe(true);
    expect(String(err)).toMatch(
      /--trust-domain cluster\.local: .* trust domain "example\.org".*leave --trust-domain out/,
    );
    expect((await readdir(dir, { recursive: true })).sort()).toEqual(listed);
    // The same trust domain, given, is fine.
    await startAnchorRotation({ dir, trustDomain: 'example.org', anchorKeyBits: 2048 });
    expect(new X509Certificate(await read(dir, 'a', 'issuer.crt')).subject).toBe('CN=identity.a.example.org');
  });
});

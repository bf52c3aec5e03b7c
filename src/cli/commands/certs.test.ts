import { X509Certificate } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { isIsthmusError } from '../../errors.js';
import { issueGatewayCertificate } from '../../identity/ca.js';
import { isIssuedBy, parseCrl } from '../../identity/crl.js';
import { writeCertificates } from '../../identity/files.js';
import { RevocationList } from '../../identity/revocation.js';
import {
  opensslCa,
  runOpenssl,
  stepLikeAnchor,
  stepLikeIssuer,
  writeCaLayout,
} from '../../identity/testing-openssl.js';
import { registerCerts } from './certs.js';

const dirs: string[] = [];

afterEach(() => {
  vi.restoreAllMocks();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('isthmus certs revoke', () => {
  it.each(['toString', 'constructor', '__proto__', 'keycompromise'])(
    'refuses --reason %s before revoking anything (not a CRL reason)',
    async (reason) => {
      const dir = mkdtempSync(join(tmpdir(), 'isthmus-certs-cli-'));
      dirs.push(dir);
      await writeCertificates({ outDir: dir, clusters: ['west'], trustDomain: 'cluster.local' });
      vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
      const program = new Command('isthmus').enablePositionalOptions().exitOverride();
      registerCerts(program);
      const run = program.parseAsync(
        ['certs', 'revoke', '--out', dir, '--cluster', 'west', '--serial', '0a', '--reason', reason],
        { from: 'user' },
      );
      const err = await run.then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(isIsthmusError(err, 'USAGE')).toBe(true);
      expect(String(err)).toMatch(/--reason .*expected one of unspecified, keyCompromise/);
      expect(existsSync(join(dir, 'crl.pem'))).toBe(false);
    },
  );
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'isthmus-certs-cli-'));
  dirs.push(dir);
  return dir;
}

/** Runs `isthmus <args>` with the certs commands, and returns what it printed on stdout. */
async function run(...args: string[]): Promise<string> {
  let out = '';
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
    out += String(chunk);
    return true;
  });
  vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
  const program = new Command('isthmus').enablePositionalOptions().exitOverride();
  registerCerts(program);
  try {
    await program.parseAsync(args, { from: 'user' });
  } finally {
    vi.restoreAllMocks();
  }
  return out;
}

/** `openssl x509 -text` of a certificate file. */
const opensslText = (file: string) =>
  runOpenssl({ 'c.pem': readFileSync(file, 'utf8') }, ['x509', '-in', 'c.pem', '-noout', '-text']).output;
const lines = (text: string) => text.split('\n').map((l) => l.trim());
const subject = (...path: string[]) => new X509Certificate(readFileSync(join(...path))).subject;
const upgrade = (dir: string, c: string, anchor: string, issuerDir = dir) =>
  `isthmus upgrade --context ${c} --trust-anchor ${join(dir, anchor)} --issuer-cert ${join(issuerDir, c, 'issuer.crt')} --issuer-key ${join(issuerDir, c, 'issuer.key')} | kubectl --context ${c} apply -f -`;

describe('isthmus certs new-anchor', () => {
  it('keeps the trust domain, and prints upgrades with the real files, through --finish', async () => {
    const dir = tempDir();
    await run('certs', '--out', dir, '--clusters', 'a', '--trust-domain', 'example.org');
    const started = await run('certs', 'new-anchor', '--out', dir);
    expect(subject(dir, 'ca.crt')).toBe('CN=root.example.org');
    expect(subject(dir, 'a', 'issuer.crt')).toBe('CN=identity.a.example.org');
    expect(started).not.toContain('isthmus install');
    expect(lines(started)).toContain(upgrade(dir, 'a', 'ca-bundle.crt', join(dir, 'previous')));
    expect(lines(started)).toContain(upgrade(dir, 'a', 'ca-bundle.crt'));

    const finished = await run('certs', 'new-anchor', '--out', dir, '--finish');
    expect(finished).not.toMatch(/<dir>|isthmus install/);
    expect(lines(finished)).toContain(upgrade(dir, 'a', 'ca.crt'));
    expect(lines(finished)).toContain(
      'kubectl --context a -n isthmus-system rollout restart deployment/isthmus-gateway',
    );
  });

  it("refuses a --trust-domain other than the current anchor's", async () => {
    const dir = tempDir();
    await run('certs', '--out', dir, '--clusters', 'a', '--trust-domain', 'example.org');
    const err = await run('certs', 'new-anchor', '--out', dir, '--trust-domain', 'cluster.local').then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isIsthmusError(err, 'USAGE')).toBe(true);
    expect(String(err)).toMatch(/trust domain "example\.org"/);
    expect(existsSync(join(dir, 'previous'))).toBe(false);
  });
});

describe('isthmus certs --reuse-anchor', () => {
  it('adds and renews issuers in the trust domain of the existing anchor', async () => {
    const dir = tempDir();
    await run('certs', '--out', dir, '--clusters', 'a', '--trust-domain', 'example.org');
    await run('certs', '--out', dir, '--clusters', 'b', '--reuse-anchor');
    await run('certs', '--out', dir, '--clusters', 'a', '--reuse-anchor', '--force');
    expect(subject(dir, 'a', 'issuer.crt')).toBe('CN=identity.a.example.org');
    expect(subject(dir, 'b', 'issuer.crt')).toBe('CN=identity.b.example.org');
  });

  it('renewing an issuer prints the upgrade that applies it; leaves of an unrevoked one stay trusted', async () => {
    const dir = tempDir();
    await writeCertificates({ outDir: dir, clusters: ['east'], anchorKeyBits: 2048 });
    const out = await run('certs', '--out', dir, '--clusters', 'east', '--reuse-anchor', '--force');
    expect(out).toMatch(/its leaves stay trusted until they expire/);
    expect(out).not.toContain('isthmus install');
    expect(lines(out)).toContain(upgrade(dir, 'east', 'ca.crt'));
  });

  it('renewing a revoked issuer does not claim its leaves stay trusted, and says the gateways replace them', async () => {
    const dir = tempDir();
    await writeCertificates({ outDir: dir, clusters: ['east'], anchorKeyBits: 2048 });
    await revokeEastIssuer(dir);
    const out = await run('certs', '--out', dir, '--clusters', 'east', '--reuse-anchor', '--force');
    expect(out).not.toMatch(/stay trusted/);
    expect(out).toMatch(/revoked/);
    expect(lines(out)).toContain(upgrade(dir, 'east', 'ca.crt'));
    // Gateways replace leaves of a revoked issuer themselves once identity signs with the new one.
    expect(out).not.toContain('rollout restart');
    expect(out).toMatch(/east's gateways that have loaded crl\.pem renew at once/);
    expect(out).toMatch(/--cert-file needs new files and a SIGHUP/);
  });
});

/** `isthmus certs revoke --issuer-of east`: every east identity. */
const revokeEastIssuer = (dir: string) =>
  run('certs', 'revoke', '--out', dir, '--issuer-of', 'east', '--cert', join(dir, 'east', 'issuer.crt'));

describe('isthmus certs revoke, what comes next', () => {
  it('a revoked gateway certificate: the gateway replaces it, a --cert-file one needs new files', async () => {
    const dir = tempDir();
    await writeCertificates({ outDir: dir, clusters: ['east'], anchorKeyBits: 2048 });
    const leaf = eastLeafFile(dir).file;
    const out = await run('certs', 'revoke', '--out', dir, '--cluster', 'east', '--cert', leaf);
    expect(out).not.toContain('rollout restart');
    // The ConfigMap goes to every cluster: one command each, naming its context.
    expect(out).toMatch(/in every cluster, as the isthmus-crl ConfigMap/);
    expect(out).toMatch(/--context east\b.*isthmus-crl|isthmus-crl.*--context east\b/);
    expect(out).toMatch(/the gateway that holds it asks identity for a new one as soon as it loads crl\.pem/);
    expect(out).toMatch(/--cert-file cannot: replace its files and send it SIGHUP/);
  });

  it('a revoked issuer: renew it', async () => {
    const dir = tempDir();
    await writeCertificates({ outDir: dir, clusters: ['east'], anchorKeyBits: 2048 });
    const out = await revokeEastIssuer(dir);
    expect(lines(out)).toContain(`isthmus certs --out ${dir} --clusters east --reuse-anchor --force`);
  });
});

/** A Linkerd-style directory: an ECDSA anchor and east's ECDSA issuer, as step makes them. */
function stepLikeDir(): string {
  const dir = tempDir();
  const anchor = stepLikeAnchor('P-256', 'root.cluster.local');
  writeCaLayout(dir, anchor, { east: stepLikeIssuer(anchor, 'identity.east.cluster.local') });
  return dir;
}

/** A gateway certificate of east's issuer in `dir`, written to `<dir>/leaf.crt`; with that issuer. */
function eastLeafFile(dir: string): { file: string; issuerPem: string } {
  const issuer = {
    certPem: readFileSync(join(dir, 'east', 'issuer.crt'), 'utf8'),
    keyPem: readFileSync(join(dir, 'east', 'issuer.key'), 'utf8'),
  };
  const file = join(dir, 'leaf.crt');
  writeFileSync(
    file,
    issueGatewayCertificate(issuer, { trustDomain: 'cluster.local', cluster: 'east' }).certPem,
  );
  return { file, issuerPem: issuer.certPem };
}

describe('isthmus certs with an ECDSA anchor (step certificate create --profile root-ca)', () => {
  it('--reuse-anchor signs RSA issuers with it, which chain to it', async () => {
    const dir = stepLikeDir();
    await run('certs', '--out', dir, '--clusters', 'west', '--reuse-anchor');
    const west = new X509Certificate(readFileSync(join(dir, 'west', 'issuer.crt')));
    const anchor = new X509Certificate(readFileSync(join(dir, 'ca.crt')));
    expect(west.subject).toBe('CN=identity.west.cluster.local');
    expect(west.publicKey.asymmetricKeyType).toBe('rsa');
    expect(west.checkIssued(anchor) && west.verify(anchor.publicKey)).toBe(true);
    expect(opensslText(join(dir, 'west', 'issuer.crt'))).toContain('Signature Algorithm: ecdsa-with-SHA256');
  });

  it('certs revoke signs the anchor CRL and the ECDSA issuer CRL, and builds crl.pem', async () => {
    const dir = stepLikeDir();
    const { file: leaf, issuerPem } = eastLeafFile(dir);
    await run('certs', 'revoke', '--out', dir, '--cluster', 'east', '--cert', leaf);
    await run(
      'certs',
      'revoke',
      '--out',
      dir,
      '--issuer-of',
      'east',
      '--cert',
      join(dir, 'east', 'issuer.crt'),
    );
    const list = RevocationList.fromPem(
      readFileSync(join(dir, 'crl.pem'), 'utf8'),
      readFileSync(join(dir, 'ca.crt'), 'utf8'),
    );
    expect(list.crlCount()).toBe(2);
    expect(list.check(new X509Certificate(readFileSync(leaf)))).toMatch(/revoked by its issuer's CRL/);
    expect(list.check(new X509Certificate(issuerPem))).toMatch(/revoked by the trust anchor's CRL/);
  });
});

describe('isthmus certs --reuse-anchor with an Ed25519 anchor', () => {
  it('refuses, saying why and what to do, and writes no issuer', async () => {
    const dir = tempDir();
    const ed = opensslCa({ key: 'ed25519', commonName: 'root.cluster.local' });
    writeFileSync(join(dir, 'ca.crt'), ed.certPem);
    writeFileSync(join(dir, 'ca.key'), ed.keyPem);
    const err = await run('certs', '--out', dir, '--clusters', 'east', '--reuse-anchor').then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isIsthmusError(err, 'CERT_INVALID')).toBe(true);
    expect(String(err)).toMatch(
      /ca\.crt: the trust anchor key is Ed25519: Isthmus signs with RSA or ECDSA \(P-256, P-384, P-521\) keys only/,
    );
    expect(existsSync(join(dir, 'east', 'issuer.crt'))).toBe(false);
  });
});

describe('isthmus certs new-anchor from an ECDSA anchor', () => {
  it('rotates to an RSA anchor made by isthmus certs; the old ECDSA anchor still signs its CRL meanwhile', async () => {
    const dir = tempDir();
    const ec = stepLikeAnchor('P-256', 'root.cluster.local');
    writeCaLayout(dir, ec, { east: stepLikeIssuer(ec, 'identity.east.cluster.local') });
    await run('certs', 'new-anchor', '--out', dir);
    expect(new X509Certificate(readFileSync(join(dir, 'ca.crt'))).publicKey.asymmetricKeyType).toBe('rsa');
    await run('certs', '--out', dir, '--clusters', 'west', '--reuse-anchor');
    expect(subject(dir, 'west', 'issuer.crt')).toBe('CN=identity.west.cluster.local');

    // East's old issuer revoked during the rotation: in previous/ca.crl, signed with the ECDSA key.
    const old = join(dir, 'previous', 'east', 'issuer.crt');
    await run('certs', 'revoke', '--out', dir, '--issuer-of', 'east', '--cert', old);
    const crl = parseCrl(readFileSync(join(dir, 'previous', 'ca.crl'), 'utf8'));
    expect(isIssuedBy(crl, new X509Certificate(ec.certPem))).toBe(true);
    const bundle = RevocationList.fromPem(readFileSync(join(dir, 'crl.pem'), 'utf8'), ec.certPem);
    expect(bundle.check(new X509Certificate(readFileSync(old)))).toMatch(/revoked by the trust anchor's CRL/);
  });
});

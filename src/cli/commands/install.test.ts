/**
 * `isthmus install` as a user runs it (the real CLI): an expired extra anchor in the bundle it is
 * given (step 3 of a rotation late) is installed, with a warning naming the file and what to do.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { createTrustAnchor } from '../../identity/ca.js';
import { writeCertificates } from '../../identity/files.js';

const dir = mkdtempSync(join(tmpdir(), 'isthmus-install-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function install(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['bin/isthmus.mjs', 'install', '--cluster-name', 'east', ...args],
      { timeout: 60_000, maxBuffer: 16 << 20 },
      (err, stdout, stderr) =>
        resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }),
    );
  });
}

/** An anchor that expired yesterday. */
function expiredAnchor(): string {
  vi.useFakeTimers({ toFake: ['Date'] });
  try {
    vi.setSystemTime(Date.now() - 11 * 86_400_000);
    return createTrustAnchor({ trustDomain: 'cluster.local', keyBits: 2048, validityDays: 10 }).certPem;
  } finally {
    vi.useRealTimers();
  }
}

describe('isthmus install --trust-anchor with an expired extra anchor', () => {
  it('installs the bundle and warns on stderr, naming the file', async () => {
    await writeCertificates({ outDir: join(dir, 'certs'), clusters: ['east'], trustDomain: 'cluster.local' });
    const bundle = join(dir, 'bundle.crt');
    writeFileSync(bundle, readFileSync(join(dir, 'certs', 'ca.crt'), 'utf8') + expiredAnchor());
    const issuer = ['--issuer-cert', join(dir, 'certs', 'east', 'issuer.crt')];
    const key = ['--issuer-key', join(dir, 'certs', 'east', 'issuer.key')];
    const [withIssuer, external] = await Promise.all([
      install('--trust-anchor', bundle, ...issuer, ...key),
      install('--trust-anchor', bundle, '--external-issuer'),
    ]);
    for (const run of [withIssuer, external]) {
      expect(run.code, run.stderr).toBe(0);
      expect(run.stdout).toContain('name: isthmus-trust-anchor');
      expect(run.stderr).toMatch(
        new RegExp(`^warning: ${bundle}: anchor #2 of the bundle: expired at .*new-anchor --finish`, 'm'),
      );
    }
  });
});

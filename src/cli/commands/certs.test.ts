import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { isIsthmusError } from '../../errors.js';
import { writeCertificates } from '../../identity/files.js';
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

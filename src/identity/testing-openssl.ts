/**
 * Test-only: CA certificates as other tools make them (openssl, like `step` and cert-manager), with
 * keys node-forge cannot make or sign with (ECDSA): what users bring to `install` and `certs`.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { KeyPairPem } from './ca.js';

export interface OpensslCaOptions {
  /** ECDSA P-256 (step's and Linkerd's default) or RSA 2048. */
  key: 'ec' | 'rsa';
  commonName: string;
  /** Self-signed (a trust anchor, pathlen 1) when absent; else an issuer (pathlen 0) it signs. */
  signer?: KeyPairPem;
  days?: number;
  /** Reuse this key (PKCS#8 or PKCS#1 PEM) rather than make one: a certificate renewed. */
  keyPem?: string;
}

/** A CA certificate and its PKCS#8 key, made by the openssl CLI in a throwaway folder. */
export function opensslCa(opts: OpensslCaOptions): KeyPairPem {
  const dir = mkdtempSync(join(tmpdir(), 'isthmus-openssl-'));
  try {
    const run = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
    if (opts.keyPem !== undefined) writeFileSync(join(dir, 'key.pem'), opts.keyPem);
    else if (opts.key === 'ec')
      run('genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', 'key.pem');
    else run('genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', 'key.pem');
    const pathLen = opts.signer === undefined ? 1 : 0;
    writeFileSync(
      join(dir, 'ext.cnf'),
      `basicConstraints=critical,CA:TRUE,pathlen:${pathLen}\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\n`,
    );
    const days = String(opts.days ?? 30);
    run('req', '-new', '-key', 'key.pem', '-subj', `/CN=${opts.commonName}`, '-out', 'csr.pem');
    if (opts.signer === undefined) {
      run(
        'x509',
        '-req',
        '-in',
        'csr.pem',
        '-key',
        'key.pem',
        '-days',
        days,
        '-extfile',
        'ext.cnf',
        '-out',
        'cert.pem',
      );
    } else {
      writeFileSync(join(dir, 'ca.crt'), opts.signer.certPem);
      writeFileSync(join(dir, 'ca.key'), opts.signer.keyPem);
      run(
        'x509',
        '-req',
        '-in',
        'csr.pem',
        '-CA',
        'ca.crt',
        '-CAkey',
        'ca.key',
        '-set_serial',
        '0x4a1b2c3d',
        '-days',
        days,
        '-extfile',
        'ext.cnf',
        '-out',
        'cert.pem',
      );
    }
    return {
      certPem: readFileSync(join(dir, 'cert.pem'), 'utf8'),
      keyPem: readFileSync(join(dir, 'key.pem'), 'utf8'),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

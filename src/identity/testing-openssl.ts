/**
 * Test-only: CA certificates as other tools make them (openssl, like `step` and cert-manager), with
 * keys node-forge cannot make (ECDSA, Ed25519): what users bring to `install` and `certs`.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { KeyPairPem } from './ca.js';
import { ANCHOR_CERT_FILE, ANCHOR_KEY_FILE, ISSUER_CERT_FILE, ISSUER_KEY_FILE } from './files.js';

export type EcCurve = 'P-256' | 'P-384' | 'P-521';

export interface OpensslCaOptions {
  /** ECDSA (P-256 unless `curve`: step's and Linkerd's default), RSA 2048, or Ed25519. */
  key: 'ec' | 'rsa' | 'ed25519';
  curve?: EcCurve;
  commonName: string;
  /** `-subj` in full (e.g. `/O=Linkerd+OU=mesh/CN=…`, a multi-valued RDN), instead of `/CN=<commonName>`. */
  subject?: string;
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
      run(
        'genpkey',
        '-algorithm',
        'EC',
        '-pkeyopt',
        `ec_paramgen_curve:${opts.curve ?? 'P-256'}`,
        '-out',
        'key.pem',
      );
    else if (opts.key === 'ed25519') run('genpkey', '-algorithm', 'ED25519', '-out', 'key.pem');
    else run('genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', 'key.pem');
    const pathLen = opts.signer === undefined ? 1 : 0;
    // An issuer names its anchor's key, as step and cert-manager write it (RFC 5280 §4.2.1.1).
    const authority = opts.signer === undefined ? '' : 'authorityKeyIdentifier=keyid\n';
    writeFileSync(
      join(dir, 'ext.cnf'),
      `basicConstraints=critical,CA:TRUE,pathlen:${pathLen}\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\n${authority}`,
    );
    const days = String(opts.days ?? 30);
    const subject = opts.subject ?? `/CN=${opts.commonName}`;
    run('req', '-new', '-multivalue-rdn', '-key', 'key.pem', '-subj', subject, '-out', 'csr.pem');
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
        `0x4${randomBytes(8).toString('hex')}`,
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

/**
 * A trust anchor as Linkerd's docs make it with `step certificate create root.linkerd.cluster.local
 * ca.crt ca.key --profile root-ca --no-password --insecure`: ECDSA on `curve` (step's default is
 * P-256), pathlen 1. Made by `openssl req -x509 -newkey ec` with step's extensions.
 */
export function stepLikeAnchor(
  curve: EcCurve = 'P-256',
  commonName = 'root.linkerd.cluster.local',
): KeyPairPem {
  const dir = mkdtempSync(join(tmpdir(), 'isthmus-openssl-'));
  try {
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        `ec_paramgen_curve:${curve}`,
        '-nodes',
        '-keyout',
        'ca.key',
        '-out',
        'ca.crt',
        '-days',
        '30',
        '-subj',
        `/CN=${commonName}`,
        '-addext',
        'basicConstraints=critical,CA:TRUE,pathlen:1',
        '-addext',
        'keyUsage=critical,keyCertSign,cRLSign',
      ],
      { cwd: dir, stdio: 'pipe' },
    );
    return {
      certPem: readFileSync(join(dir, 'ca.crt'), 'utf8'),
      keyPem: readFileSync(join(dir, 'ca.key'), 'utf8'),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * An issuer as `step certificate create identity.linkerd.cluster.local issuer.crt issuer.key
 * --profile intermediate-ca --ca ca.crt --ca-key ca.key` makes it: ECDSA on `curve`, pathlen 0,
 * signed by `anchor`; its subject has an O before the CN, as cert-manager's often does.
 */
export function stepLikeIssuer(anchor: KeyPairPem, commonName: string, curve: EcCurve = 'P-256'): KeyPairPem {
  return opensslCa({ key: 'ec', curve, commonName, subject: `/O=Linkerd/CN=${commonName}`, signer: anchor });
}

/**
 * Runs the openssl CLI in a throwaway folder holding `files` (name → content): its status and
 * what it printed, both streams (openssl 3 writes `verify OK` of a CRL on stderr).
 */
export function runOpenssl(
  files: Record<string, string>,
  args: string[],
): { status: number; output: string } {
  const dir = mkdtempSync(join(tmpdir(), 'isthmus-openssl-'));
  try {
    for (const [name, content] of Object.entries(files)) writeFileSync(join(dir, name), content);
    const r = spawnSync('openssl', args, { cwd: dir, encoding: 'utf8', timeout: 30_000 });
    return { status: r.status ?? -1, output: `${r.stdout ?? ''}${r.stderr ?? ''}` };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * `anchor` and `issuers` (cluster → issuer) written into `dir` as `isthmus certs` lays them out,
 * keys 0600: where `certs --reuse-anchor` and `certs revoke` find CAs another tool made.
 */
export function writeCaLayout(dir: string, anchor: KeyPairPem, issuers: Record<string, KeyPairPem>): void {
  writeFileSync(join(dir, ANCHOR_CERT_FILE), anchor.certPem);
  writeFileSync(join(dir, ANCHOR_KEY_FILE), anchor.keyPem, { mode: 0o600 });
  for (const [cluster, issuer] of Object.entries(issuers)) {
    mkdirSync(join(dir, cluster), { recursive: true });
    writeFileSync(join(dir, cluster, ISSUER_CERT_FILE), issuer.certPem);
    writeFileSync(join(dir, cluster, ISSUER_KEY_FILE), issuer.keyPem, { mode: 0o600 });
  }
}

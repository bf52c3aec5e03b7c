/**
 * `isthmus certs revoke`: adds a certificate to the CRL of the CA that issued it, in the layout of
 * `isthmus certs` (files.ts), and rebuilds the bundle gateways load with `--crl-file`:
 *
 *   <dir>/<cluster>/issuer.crl   gateway leaves revoked by that cluster's issuer
 *   <dir>/ca.crl                 issuers revoked by the trust anchor (a whole cluster's identity)
 *   <dir>/crl.pem                every CRL above and the issuer certificates, one file for the
 *                                `isthmus-crl` ConfigMap
 *
 * A CRL is complete (RFC 5280 §5): the new one lists everything the old one did, with a higher
 * CRL number. An existing CRL that the CA did not sign is an error, never silently replaced.
 */
import { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { IsthmusError } from '../errors.js';
import { type Crl, createCrl, isIssuedBy, normaliseSerial, parseCrl, type RevocationReason } from './crl.js';
import {
  ANCHOR_KEY_FILE,
  exists,
  ISSUER_CERT_FILE,
  issuerDirectories,
  loadAnchor,
  loadCertificates,
  writeAtomic,
} from './files.js';

export const ISSUER_CRL_FILE = 'issuer.crl';
export const ANCHOR_CRL_FILE = 'ca.crl';
export const CRL_BUNDLE_FILE = 'crl.pem';
const CRL_MODE = 0o644;

export interface RevokeOptions {
  dir: string;
  /** Revoke a gateway certificate of this cluster (its issuer signs the CRL) … */
  cluster?: string;
  /** … or this cluster's issuer itself (the trust anchor signs; needs ca.key). */
  issuerOf?: string;
  /** The certificate to revoke (its serial is taken and its issuer checked) … */
  certFile?: string;
  /** … or its serial number in hex, as `openssl x509 -serial` prints it. */
  serial?: string;
  reason?: RevocationReason;
  at?: Date;
}

export interface RevokeResult {
  crlFile: string;
  bundleFile: string;
  serial: string;
  /** False when the serial was already listed (the CRL is re-signed all the same). */
  added: boolean;
  revokedCount: number;
}

export async function revokeCertificate(opts: RevokeOptions): Promise<RevokeResult> {
  const at = opts.at ?? new Date();
  if ((opts.cluster === undefined) === (opts.issuerOf === undefined))
    throw usage('give --cluster (to revoke a gateway certificate) or --issuer-of (to revoke an issuer)');
  if ((opts.certFile === undefined) === (opts.serial === undefined))
    throw usage('give --cert (the certificate to revoke) or --serial');

  const ca = await signingCa(opts, at);
  const serial =
    opts.certFile !== undefined ? await serialOf(opts.certFile, ca) : normaliseSerial(opts.serial!);
  const previous = (await exists(ca.crlFile)) ? await readOwnCrl(ca.crlFile, ca.cert) : undefined;
  const entries = [...(previous?.revoked.values() ?? [])];
  const added = !previous?.revoked.has(serial);
  if (added) entries.push({ serial, revokedAt: at, ...(opts.reason ? { reason: opts.reason } : {}) });
  const pem = createCrl({
    issuerCertPem: ca.certPem,
    issuerKeyPem: ca.keyPem,
    revoked: entries,
    crlNumber: (previous?.crlNumber ?? 0n) + 1n,
    thisUpdate: at,
  });
  await writeAtomic(ca.crlFile, pem, CRL_MODE);
  const bundleFile = await writeBundle(opts.dir);
  return { crlFile: ca.crlFile, bundleFile, serial, added, revokedCount: entries.length };
}

interface SigningCa {
  certPem: string;
  keyPem: string;
  cert: X509Certificate;
  crlFile: string;
  what: string;
}

async function signingCa(opts: RevokeOptions, at: Date): Promise<SigningCa> {
  if (opts.cluster !== undefined) {
    const { issuers } = await loadCertificates({ dir: opts.dir, clusters: [opts.cluster], at });
    const issuer = issuers.get(opts.cluster)!;
    return {
      ...issuer,
      cert: new X509Certificate(issuer.certPem),
      crlFile: join(opts.dir, opts.cluster, ISSUER_CRL_FILE),
      what: `the issuer of cluster ${opts.cluster} (${join(opts.dir, opts.cluster, ISSUER_CERT_FILE)})`,
    };
  }
  const anchor = await loadAnchor(opts.dir, at, false);
  if (anchor.keyPem === undefined) {
    throw new IsthmusError(
      'CERT_INVALID',
      `revoking an issuer needs the trust anchor's key: ${join(opts.dir, ANCHOR_KEY_FILE)} is missing (bring it back from offline storage)`,
      { terminal: true },
    );
  }
  return {
    certPem: anchor.certPem,
    keyPem: anchor.keyPem,
    cert: new X509Certificate(anchor.certPem),
    crlFile: join(opts.dir, ANCHOR_CRL_FILE),
    what: 'the trust anchor',
  };
}

/** The serial of `file`'s first certificate, which `ca` must have issued. */
async function serialOf(file: string, ca: SigningCa): Promise<string> {
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(await readFile(file));
  } catch (err) {
    throw new IsthmusError(
      'CERT_INVALID',
      `cannot read a certificate from ${file}: ${(err as Error).message}`,
      {
        cause: err,
        terminal: true,
      },
    );
  }
  if (!cert.checkIssued(ca.cert) || !cert.verify(ca.cert.publicKey)) {
    throw new IsthmusError('CERT_INVALID', `${file} was not issued by ${ca.what}: nothing to revoke there`, {
      terminal: true,
    });
  }
  return normaliseSerial(cert.serialNumber);
}

async function readOwnCrl(file: string, ca: X509Certificate): Promise<Crl> {
  let crl: Crl;
  try {
    crl = parseCrl(await readFile(file, 'utf8'));
  } catch (err) {
    throw new IsthmusError('CRL_INVALID', `${file} is not a CRL: ${(err as Error).message}`, {
      cause: err,
      terminal: true,
    });
  }
  if (!isIssuedBy(crl, ca)) {
    throw new IsthmusError(
      'CRL_INVALID',
      `${file} is not signed by the CA it belongs to; move it away to start a new one`,
      {
        terminal: true,
      },
    );
  }
  return crl;
}

/**
 * <dir>/crl.pem: the anchor's CRL, then each cluster's issuer certificate and CRL, in name order.
 * The issuer certificates let a gateway verify the CRLs, and find a client's issuer, on its own.
 */
async function writeBundle(dir: string): Promise<string> {
  const files = [join(dir, ANCHOR_CRL_FILE)];
  for (const cluster of await issuerDirectories(dir)) {
    files.push(join(dir, cluster, ISSUER_CERT_FILE), join(dir, cluster, ISSUER_CRL_FILE));
  }
  const parts: string[] = [];
  for (const f of files) if (await exists(f)) parts.push(await readFile(f, 'utf8'));
  const bundleFile = join(dir, CRL_BUNDLE_FILE);
  await writeAtomic(bundleFile, parts.join(''), CRL_MODE);
  return bundleFile;
}

function usage(message: string): IsthmusError {
  return new IsthmusError('USAGE', message, { terminal: true });
}

/**
 * `isthmus certs revoke`: adds a certificate to the CRL of the CA that issued it, in the layout of
 * `isthmus certs` (files.ts), and rebuilds the bundle gateways load with `--crl-file`:
 *
 *   <dir>/<cluster>/issuer.crl   gateway leaves revoked by that cluster's issuer
 *   <dir>/ca.crl                 issuers revoked by the trust anchor (a whole cluster's identity)
 *   <dir>/crl.pem                the CRLs above and the issuer certificates that verify them, one
 *                                file for the `isthmus-crl` ConfigMap (crl-bundle.ts)
 *
 * The CA is the one that signed the certificate given: the current one, an issuer it replaced
 * (<cluster>/retired/, whose leaves live on until they expire) or, during an anchor rotation, one
 * under previous/. A revoked issuer's certificate is kept in <cluster>/retired/ so that it stays
 * in crl.pem after the cluster gets a new issuer, however that one is made.
 *
 * A CRL is complete (RFC 5280 §5): the new one lists everything the old one did, with a higher
 * CRL number. An existing CRL that the CA did not sign is an error, never silently replaced.
 */
import { X509Certificate } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { IsthmusError } from '../errors.js';
import { crlConfigMapCommand } from './anchor-rotation.js';
import { anchorFiles, type CaFiles, issuerFiles } from './ca-files.js';
import { parseSubjectAltName } from './certificate-info.js';
import { type Crl, createCrl, isIssuedBy, normaliseSerial, parseCrl, type RevocationReason } from './crl.js';
import { type Skipped, writeCrlBundle } from './crl-bundle.js';
import {
  ANCHOR_CRL_FILE,
  CRL_BUNDLE_FILE,
  exists,
  ISSUER_CERT_FILE,
  ISSUER_CRL_FILE,
  issuerDirectories,
  loadAnchor,
  loadCertificates,
  RETIRED_DIR,
  shellWord,
  writeAtomic,
} from './files.js';
import { parseSpiffeGatewayIdentity } from './spiffe.js';

/** Re-exported where they were first declared: the lab and older callers import them from here. */
export { ANCHOR_CRL_FILE, CRL_BUNDLE_FILE, ISSUER_CRL_FILE };

const CRL_MODE = 0o644;

export interface RevokeOptions {
  dir: string;
  /** Revoke a gateway certificate of this cluster (its issuer signs the CRL) … */
  cluster?: string;
  /** … or this cluster's issuer itself (the trust anchor signs; needs ca.key). */
  issuerOf?: string;
  /** The certificate to revoke (its serial is taken and its issuer checked) … */
  certFile?: string;
  /** … or its serial number in hex, as `openssl x509 -serial` prints it (the current CA's). */
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
  /** Files left out of the bundle because gateways could not verify them, with the reason. */
  skipped: Skipped[];
  /** The clusters of the directory (those with an issuer), every one of which needs the bundle. */
  clusters: string[];
  /** What was revoked: a leaf (gateway or identity) certificate of `cluster`, or an issuer of `issuerOf`. */
  cluster?: string;
  /** With cluster and --cert: whose leaf it is, by its URI SAN (unknown from a serial alone). */
  holder?: 'gateway' | 'identity';
  issuerOf?: string;
  /** With issuerOf: whether the issuer revoked is the cluster's current one (<dir>/<cluster>/issuer.crt). */
  currentIssuer?: boolean;
}

export async function revokeCertificate(opts: RevokeOptions): Promise<RevokeResult> {
  const at = opts.at ?? new Date();
  if ((opts.cluster === undefined) === (opts.issuerOf === undefined))
    throw usage('give --cluster (to revoke a gateway certificate) or --issuer-of (to revoke an issuer)');
  if ((opts.certFile === undefined) === (opts.serial === undefined))
    throw usage('give --cert (the certificate to revoke) or --serial');

  const target = opts.certFile === undefined ? undefined : await readCertificate(opts.certFile);
  const ca = await signingCa(opts, at, target);
  const serial = target ? normaliseSerial(target.serialNumber) : normaliseSerial(opts.serial!);
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
  if (opts.issuerOf !== undefined) await keepRevokedIssuer(opts.dir, opts.issuerOf, ca.root, serial, target);
  const { bundleFile, skipped } = await writeCrlBundle(opts.dir, at);
  const clusters = await issuerDirectories(opts.dir);
  const result = {
    crlFile: ca.crlFile,
    bundleFile,
    serial,
    added,
    revokedCount: entries.length,
    skipped,
    clusters,
  };
  if (opts.cluster !== undefined) {
    const holder = target === undefined ? undefined : holderOf(target);
    return { ...result, cluster: opts.cluster, ...(holder ? { holder } : {}) };
  }
  const currentPem = await readFile(join(opts.dir, opts.issuerOf!, ISSUER_CERT_FILE), 'utf8').catch(() => '');
  const currentIssuer = currentPem !== '' && serialOfPem(currentPem) === serial;
  return { ...result, issuerOf: opts.issuerOf!, currentIssuer };
}

function serialOfPem(pem: string): string | undefined {
  try {
    return normaliseSerial(new X509Certificate(pem).serialNumber);
  } catch {
    return undefined;
  }
}

/** A leaf's holder by its one URI SAN: `…/cluster/<c>/gateway` or `…/cluster/<c>/identity`. */
function holderOf(cert: X509Certificate): 'gateway' | 'identity' | undefined {
  const uris = parseSubjectAltName(cert.subjectAltName ?? '').filter((s) => s.type === 'URI');
  if (uris.length !== 1) return undefined;
  const uri = uris[0]!.value;
  if (parseSpiffeGatewayIdentity(uri)) return 'gateway';
  return /^spiffe:\/\/[^/]+\/cluster\/[^/]+\/identity$/.test(uri) ? 'identity' : undefined;
}

/**
 * How crl.pem reaches the gateways: each one loads it (--crl-file), in a cluster from the
 * isthmus-crl ConfigMap, and a peer is refused only by the gateways that loaded a list naming it,
 * so it goes to every cluster, not only the one whose certificate is revoked: one command per
 * cluster of the directory, with its kubeconfig context, as `certs new-anchor` prints them.
 */
export function crlApplySteps(r: Pick<RevokeResult, 'bundleFile' | 'clusters'>): string {
  const clusters = r.clusters.length > 0 ? r.clusters : ['<cluster>'];
  return (
    `wrote ${r.bundleFile}; give it to every gateway (--crl-file): in every cluster, as the isthmus-crl ConfigMap (each command takes the kubeconfig context to be named as its cluster: change --context where it is not):\n` +
    clusters.map((c) => `  ${crlConfigMapCommand(r.bundleFile, c)}\n`).join('')
  );
}

/** Identity follows the CRL (--crl-file) and replaces its own serving certificate once it loads it. */
const IDENTITY_REPLACES =
  'the identity service replaces its serving certificate on its own once it loads crl.pem (the isthmus-crl ConfigMap); gateways refuse it and keep their certificates meanwhile';

/**
 * What to do once crl.pem is applied. A gateway and identity replace a revoked certificate of
 * their own as soon as they load it (src/gateway/own-certificate-revocation.ts, serving-revocation.ts),
 * except a gateway run with --cert-file. A revoked issuer in force goes on signing what every peer
 * refuses: the cluster needs a new one.
 */
export function revokeNextSteps(dir: string, r: RevokeResult): string {
  if (r.cluster !== undefined && r.holder === 'identity')
    return `It is ${r.cluster}'s identity service certificate: ${IDENTITY_REPLACES}.\n`;
  if (r.cluster !== undefined) {
    return (
      `It is a gateway certificate of ${r.cluster}: every peer that loads crl.pem (the isthmus-crl ConfigMap) refuses it, and the gateway that holds it asks identity for a new one as soon as it loads crl.pem too (its log: certificate refused by the CRL: replaced). A gateway run with --cert-file cannot: replace its files and send it SIGHUP.\n` +
      (r.holder === undefined
        ? `(If it is the identity service's serving certificate instead, ${IDENTITY_REPLACES}.)\n`
        : '')
    );
  }
  if (r.issuerOf !== undefined && r.currentIssuer) {
    return (
      `${r.issuerOf}'s issuer in force is revoked: peers that have loaded crl.pem refuse what it signs, so ${r.issuerOf} needs a new issuer (this prints how to apply it):\n` +
      `  isthmus certs --out ${shellWord(dir)} --clusters ${r.issuerOf} --reuse-anchor --force\n`
    );
  }
  return '';
}

interface SigningCa {
  certPem: string;
  keyPem: string;
  cert: X509Certificate;
  crlFile: string;
  /** The anchor directory it belongs to (<dir>, or <dir>/previous during a rotation). */
  root: string;
}

/**
 * The CA whose CRL gets the entry: the one that issued `target`, or else the current one (which is
 * validated first, so a wrong cluster name or a broken directory is reported as such).
 */
async function signingCa(opts: RevokeOptions, at: Date, target?: X509Certificate): Promise<SigningCa> {
  const byIssuer = opts.cluster !== undefined;
  const [candidates, what] = byIssuer
    ? [
        await currentFirst(loadCertificates({ dir: opts.dir, clusters: [opts.cluster!], at }), () =>
          issuerFiles(opts.dir, opts.cluster),
        ),
        `the issuer of cluster ${opts.cluster} (${join(opts.dir, opts.cluster!, ISSUER_CERT_FILE)}) nor by one it replaced`,
      ]
    : [await currentFirst(loadAnchor(opts.dir, at, false), () => anchorFiles(opts.dir)), 'the trust anchor'];
  const certs = await Promise.all(candidates.map(async (f) => readFile(f.cert, 'utf8')));
  const index = target ? certs.findIndex((pem) => issued(new X509Certificate(pem), target)) : 0;
  if (index < 0) {
    throw new IsthmusError(
      'CERT_INVALID',
      `${opts.certFile} was not issued by ${what}: nothing to revoke there`,
      {
        terminal: true,
      },
    );
  }
  const files = candidates[index]!;
  if (!(await exists(files.key))) {
    throw new IsthmusError(
      'CERT_INVALID',
      byIssuer
        ? `revoking a certificate of this issuer needs its key: ${files.key} is missing`
        : `revoking an issuer needs the trust anchor's key: ${files.key} is missing (bring it back from offline storage)`,
      { terminal: true },
    );
  }
  return {
    certPem: certs[index]!,
    keyPem: await readFile(files.key, 'utf8'),
    cert: new X509Certificate(certs[index]!),
    crlFile: files.crl,
    root: files.root,
  };
}

/** Waits for `validation` (it throws on a broken current CA), then lists the candidates. */
async function currentFirst(
  validation: Promise<unknown>,
  list: () => Promise<CaFiles[]>,
): Promise<CaFiles[]> {
  await validation;
  return list();
}

function issued(ca: X509Certificate, cert: X509Certificate): boolean {
  return cert.checkIssued(ca) && cert.verify(ca.publicKey);
}

async function readCertificate(file: string): Promise<X509Certificate> {
  try {
    return new X509Certificate(await readFile(file));
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
}

/**
 * Keeps a copy of the revoked issuer's certificate in <cluster>/retired/<serial>/ under its
 * anchor's directory: crl.pem carries it from there once issuer.crt is replaced, so a leaf it
 * signed is still found revoked when the peer's issuer is not visible. With --serial, the
 * certificate is looked up among the cluster's issuers; one found nowhere cannot be kept.
 */
async function keepRevokedIssuer(
  dir: string,
  cluster: string,
  root: string,
  serial: string,
  given: X509Certificate | undefined,
): Promise<void> {
  let pem = given?.toString();
  if (pem === undefined) {
    for (const f of await issuerFiles(dir, cluster)) {
      const text = await readFile(f.cert, 'utf8');
      if (normaliseSerial(new X509Certificate(text).serialNumber) === serial) pem = text;
    }
  }
  if (pem === undefined) return;
  const folder = join(root, cluster, RETIRED_DIR, serial);
  if (await exists(join(folder, ISSUER_CERT_FILE))) return;
  await mkdir(folder, { recursive: true, mode: 0o700 });
  await writeAtomic(join(folder, ISSUER_CERT_FILE), pem, CRL_MODE);
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

function usage(message: string): IsthmusError {
  return new IsthmusError('USAGE', message, { terminal: true });
}

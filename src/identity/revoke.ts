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
 * under previous/. A serial alone (--serial, as identity's audit log gives it) does not say which,
 * and a CRL revokes only what its own CA signed (revocation.ts), so the entry goes into the CRL of
 * every unexpired one: serials are random (ca.ts), so it names nothing else. A revoked issuer's
 * certificate is kept in <cluster>/retired/ so that it stays in crl.pem after the cluster gets a
 * new issuer, however that one is made.
 *
 * A CRL is complete (RFC 5280 §5): the new one lists everything the old one did, with a higher
 * CRL number. An existing CRL that the CA did not sign is an error, never silently replaced.
 */
import { X509Certificate } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { describeError, IsthmusError } from '../errors.js';
import { crlConfigMapCommand } from './anchor-rotation.js';
import { anchorFiles, type CaFiles, issuerFiles } from './ca-files.js';
import { parseSubjectAltName } from './certificate-info.js';
import { type Crl, createCrl, isIssuedBy, normaliseSerial, parseCrl, type RevocationReason } from './crl.js';
import { type Skipped, writeCrlBundle } from './crl-bundle.js';
import {
  ANCHOR_CERT_FILE,
  ANCHOR_CRL_FILE,
  CRL_BUNDLE_FILE,
  exists,
  ISSUER_CERT_FILE,
  ISSUER_CRL_FILE,
  issuerDirectories,
  loadAnchor,
  loadCertificates,
  PREVIOUS_DIR,
  RETIRED_DIR,
  shellWord,
  writeAtomic,
} from './files.js';
import { RevocationList } from './revocation.js';
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
  /** … or its serial number in hex, as `openssl x509 -serial` prints it (revoked by every unexpired CA). */
  serial?: string;
  reason?: RevocationReason;
  at?: Date;
}

/** Where a CA stands in the directory: in force, replaced (retired/), or under previous/ in a rotation. */
export type CaStanding = 'in force' | 'replaced' | 'previous anchor';

/** One CRL written: by which CA, and what it lists now. */
export interface CrlWritten {
  crlFile: string;
  /** The serial of the CA that signs it (lowercase hex). */
  caSerial: string;
  standing: CaStanding;
  /** False when the serial was already listed (the CRL is re-signed all the same). */
  added: boolean;
  revokedCount: number;
}

export interface RevokeResult {
  /** The first of `crls`: the CA that signed --cert, or the one in force with --serial. */
  crlFile: string;
  bundleFile: string;
  serial: string;
  /** False when every CRL already listed the serial. */
  added: boolean;
  /** What the first of `crls` lists now. */
  revokedCount: number;
  /** Every CRL written: one with --cert; with --serial, one per unexpired CA that has its key. */
  crls: CrlWritten[];
  /** With --serial, the CAs whose CRL could not be written (no key), with the reason. */
  unsigned: Skipped[];
  /** Whether the certificate was named by serial alone, so which CA signed it was not known. */
  bySerial: boolean;
  /** Files left out of the bundle because gateways could not verify them, with the reason. */
  skipped: Skipped[];
  /** The clusters of the directory (those with an issuer), every one of which needs the bundle. */
  clusters: string[];
  /**
   * During an anchor rotation, why a gateway that trusts the old anchor alone (before step 1)
   * refuses crl.pem, when it does: it holds a CRL or an issuer under the new anchor.
   */
  oldAnchorRefuses?: string;
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
  const serial = target ? normaliseSerial(target.serialNumber) : normaliseSerial(opts.serial!);
  const { signers, unsigned } = await signingCas(opts, at, target);
  // Every CRL is read and checked before any is written: a bad one leaves all as they were.
  const planned = await Promise.all(
    signers.map(async (ca) => {
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
      const written: CrlWritten = {
        crlFile: ca.crlFile,
        caSerial: normaliseSerial(ca.cert.serialNumber),
        standing: ca.standing,
        added,
        revokedCount: entries.length,
      };
      return { pem, written };
    }),
  );
  for (const { pem, written } of planned) await writeAtomic(written.crlFile, pem, CRL_MODE);
  if (opts.issuerOf !== undefined)
    await keepRevokedIssuer(
      opts.dir,
      opts.issuerOf,
      serial,
      target && { cert: target, root: signers[0]!.root },
    );
  const { bundleFile, skipped } = await writeCrlBundle(opts.dir, at);
  const clusters = await issuerDirectories(opts.dir);
  const oldAnchorRefuses = await refusedUnderPreviousAnchor(opts.dir, bundleFile);
  const crls = planned.map((p) => p.written);
  const result = {
    crlFile: crls[0]!.crlFile,
    bundleFile,
    serial,
    added: crls.some((c) => c.added),
    revokedCount: crls[0]!.revokedCount,
    crls,
    unsigned,
    bySerial: target === undefined,
    skipped,
    clusters,
    ...(oldAnchorRefuses === undefined ? {} : { oldAnchorRefuses }),
  };
  if (opts.cluster !== undefined) {
    const holder = target === undefined ? undefined : holderOf(target);
    return { ...result, cluster: opts.cluster, ...(holder ? { holder } : {}) };
  }
  const currentPem = await readFile(join(opts.dir, opts.issuerOf!, ISSUER_CERT_FILE), 'utf8').catch(() => '');
  const currentIssuer = currentPem !== '' && serialOfPem(currentPem) === serial;
  return { ...result, issuerOf: opts.issuerOf!, currentIssuer };
}

/**
 * What `certs revoke` says it did: the CRL written, or with --serial each one, naming its CA, so
 * the operator sees which issuers now revoke the serial.
 */
export function revokedLines(r: RevokeResult): string {
  const verb = r.added ? 'revoked' : 'already revoked';
  if (!r.bySerial || r.crls.length === 1) {
    const only = r.crls[0]!;
    return `${verb} serial ${r.serial}: ${only.crlFile} now lists ${only.revokedCount}\n`;
  }
  const cas = r.cluster !== undefined ? `issuer of ${r.cluster}` : 'trust anchor';
  const kind = r.cluster !== undefined ? 'issuer' : 'anchor';
  return (
    `${verb} serial ${r.serial} in the CRL of each ${cas} that may have signed it (a serial alone does not say which):\n` +
    r.crls
      .map(
        (c) =>
          `  ${c.crlFile} (${kind} serial ${c.caSerial}, ${STANDING[c.standing]}): ${c.added ? 'now lists' : 'already listed it; lists'} ${c.revokedCount}\n`,
      )
      .join('')
  );
}

const STANDING: Record<CaStanding, string> = {
  'in force': 'in force',
  replaced: 'replaced',
  'previous anchor': 'under the previous anchor',
};

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
export function crlApplySteps(
  r: Pick<RevokeResult, 'bundleFile' | 'clusters'> & Pick<Partial<RevokeResult>, 'oldAnchorRefuses'>,
): string {
  const clusters = r.clusters.length > 0 ? r.clusters : ['<cluster>'];
  return (
    `wrote ${r.bundleFile}; give it to every gateway (--crl-file): in every cluster, as the isthmus-crl ConfigMap (each command takes the kubeconfig context to be named as its cluster: change --context where it is not):\n` +
    clusters.map((c) => `  ${crlConfigMapCommand(r.bundleFile, c)}\n`).join('') +
    (r.oldAnchorRefuses === undefined
      ? ''
      : `During the anchor rotation, a gateway that trusts the old anchor alone (a cluster before step 1) refuses this file: it keeps the list it has, and one that restarts on it does not start (${r.oldAnchorRefuses}). Nothing is signed under the new anchor before step 2, so finish step 1 in a cluster before applying it there.\n`)
  );
}

/**
 * During an anchor rotation, why gateways that trust only the previous anchor refuse `bundleFile`
 * (they load it as revocation.ts does), or undefined: no rotation, or they load it.
 */
async function refusedUnderPreviousAnchor(dir: string, bundleFile: string): Promise<string | undefined> {
  const previous = join(dir, PREVIOUS_DIR, ANCHOR_CERT_FILE);
  if (!(await exists(previous))) return undefined;
  try {
    RevocationList.fromPem(await readFile(bundleFile, 'utf8'), await readFile(previous, 'utf8'));
    return undefined;
  } catch (err) {
    return describeError(err);
  }
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
  standing: CaStanding;
}

/** A CA of the directory as `pickSigners` weighs it. */
export interface CandidateCa {
  files: CaFiles;
  cert: X509Certificate;
  hasKey: boolean;
}

/**
 * Pure: the CAs whose CRL gets the entry, current first. With `target`, the one that issued it;
 * with a serial alone, every distinct one still valid at `at` (an expired CA's leaves have expired
 * too, and crl.pem leaves it out). A CA without its key cannot sign: with a serial it is passed
 * over, with the reason, unless no CA is left.
 */
export function pickSigners(
  candidates: readonly CandidateCa[],
  target: X509Certificate | undefined,
  at: Date,
): { signers: CandidateCa[]; unsigned: Skipped[]; missingKey?: CandidateCa } | { notIssued: true } {
  if (target) {
    const ca = candidates.find((c) => issued(c.cert, target));
    if (!ca) return { notIssued: true };
    return ca.hasKey ? { signers: [ca], unsigned: [] } : { signers: [], unsigned: [], missingKey: ca };
  }
  const seen = new Set<string>();
  const valid = candidates.filter((c, i) => {
    // The one in force is always weighed: loadCertificates has checked it.
    if (seen.has(c.cert.fingerprint256) || (i > 0 && at > new Date(c.cert.validTo))) return false;
    seen.add(c.cert.fingerprint256);
    return true;
  });
  const signers = valid.filter((c) => c.hasKey);
  const keyless = valid.filter((c) => !c.hasKey);
  if (signers.length === 0) return { signers, unsigned: [], missingKey: keyless[0]! };
  const unsigned = keyless.map((c) => ({
    file: c.files.crl,
    reason: `${c.files.key} is missing: a certificate that CA signed is not revoked by this`,
  }));
  return { signers, unsigned };
}

/**
 * The CAs whose CRL gets the entry (pickSigners). The current CA is validated first, so a wrong
 * cluster name or a broken directory is reported as such.
 */
async function signingCas(
  opts: RevokeOptions,
  at: Date,
  target?: X509Certificate,
): Promise<{ signers: SigningCa[]; unsigned: Skipped[] }> {
  const byIssuer = opts.cluster !== undefined;
  const [files, what] = byIssuer
    ? [
        await currentFirst(loadCertificates({ dir: opts.dir, clusters: [opts.cluster!], at }), () =>
          issuerFiles(opts.dir, opts.cluster),
        ),
        `the issuer of cluster ${opts.cluster} (${join(opts.dir, opts.cluster!, ISSUER_CERT_FILE)}) nor by one it replaced`,
      ]
    : [await currentFirst(loadAnchor(opts.dir, at, false), () => anchorFiles(opts.dir)), 'the trust anchor'];
  const candidates = await Promise.all(
    files.map(async (f) => ({
      files: f,
      certPem: await readFile(f.cert, 'utf8'),
      hasKey: await exists(f.key),
    })),
  );
  const picked = pickSigners(
    candidates.map((c) => ({ files: c.files, cert: new X509Certificate(c.certPem), hasKey: c.hasKey })),
    target,
    at,
  );
  if ('notIssued' in picked) {
    throw new IsthmusError(
      'CERT_INVALID',
      `${opts.certFile} was not issued by ${what}: nothing to revoke there`,
      {
        terminal: true,
      },
    );
  }
  if (picked.missingKey) {
    const key = picked.missingKey.files.key;
    throw new IsthmusError(
      'CERT_INVALID',
      byIssuer
        ? `revoking a certificate of this issuer needs its key: ${key} is missing`
        : `revoking an issuer needs the trust anchor's key: ${key} is missing (bring it back from offline storage)`,
      { terminal: true },
    );
  }
  const signers = await Promise.all(
    picked.signers.map(async (c) => ({
      certPem: c.cert.toString(),
      keyPem: await readFile(c.files.key, 'utf8'),
      cert: c.cert,
      crlFile: c.files.crl,
      root: c.files.root,
      standing: standingOf(opts.dir, c.files),
    })),
  );
  return { signers, unsigned: picked.unsigned };
}

function standingOf(dir: string, files: CaFiles): CaStanding {
  if (files.root !== dir) return 'previous anchor';
  return relative(files.root, files.cert).split(sep).includes(RETIRED_DIR) ? 'replaced' : 'in force';
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
 * certificate is looked up among the cluster's issuers (under either anchor during a rotation);
 * one found nowhere cannot be kept.
 */
async function keepRevokedIssuer(
  dir: string,
  cluster: string,
  serial: string,
  given: { cert: X509Certificate; root: string } | undefined,
): Promise<void> {
  let found = given && { pem: given.cert.toString(), root: given.root };
  if (found === undefined) {
    for (const f of await issuerFiles(dir, cluster)) {
      const text = await readFile(f.cert, 'utf8');
      if (found === undefined && serialOfPem(text) === serial) found = { pem: text, root: f.root };
    }
  }
  if (found === undefined) return;
  const folder = join(found.root, cluster, RETIRED_DIR, serial);
  if (await exists(join(folder, ISSUER_CERT_FILE))) return;
  await mkdir(folder, { recursive: true, mode: 0o700 });
  await writeAtomic(join(folder, ISSUER_CERT_FILE), found.pem, CRL_MODE);
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

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
 * CRL number (nextCrlNumber). An existing CRL that the CA did not sign is an error, never silently
 * replaced.
 */
import { X509Certificate } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describeError, IsthmusError } from '../errors.js';
import { issuerFiles } from './ca-files.js';
import { parseSubjectAltName } from './certificate-info.js';
import { type Crl, createCrl, isIssuedBy, normaliseSerial, parseCrl, parseCrlBundle } from './crl.js';
import { writeCrlBundle } from './crl-bundle.js';
import {
  ANCHOR_CERT_FILE,
  ANCHOR_CRL_FILE,
  CRL_BUNDLE_FILE,
  exists,
  ISSUER_CERT_FILE,
  ISSUER_CRL_FILE,
  issuerDirectories,
  PREVIOUS_DIR,
  RETIRED_DIR,
  writeAtomic,
} from './files.js';
import { RevocationList } from './revocation.js';
import type { CrlWritten, RevokeOptions, RevokeResult } from './revoke-plan.js';
import { signingCas } from './revoke-signers.js';
import { parseSpiffeGatewayIdentity } from './spiffe.js';

// Split by role (revoke-plan.ts, revoke-steps.ts), re-exported so importers need not know where.
export {
  type CandidateCa,
  type CaStanding,
  type CrlWritten,
  candidateOf,
  pickSigners,
  type RevokeOptions,
  type RevokeResult,
  revokedLines,
} from './revoke-plan.js';
export { crlApplySteps, revokeNextSteps } from './revoke-steps.js';
/** Re-exported where they were first declared: the lab and older callers import them from here. */
export { ANCHOR_CRL_FILE, CRL_BUNDLE_FILE, ISSUER_CRL_FILE };

const CRL_MODE = 0o644;

export async function revokeCertificate(opts: RevokeOptions): Promise<RevokeResult> {
  const at = opts.at ?? new Date();
  if ((opts.cluster === undefined) === (opts.issuerOf === undefined))
    throw usage('give --cluster (to revoke a gateway certificate) or --issuer-of (to revoke an issuer)');
  if ((opts.certFile === undefined) === (opts.serial === undefined))
    throw usage('give --cert (the certificate to revoke) or --serial');

  const given = opts.certFile === undefined ? undefined : await readCertificate(opts.certFile);
  const serial = given ? normaliseSerial(given.serialNumber) : normaliseSerial(opts.serial!);
  // An issuer's serial is looked up among the cluster's issuers: found, the anchor that signed it
  // is known, so one without its key is refused rather than passed over for another that has one.
  const found =
    given === undefined && opts.issuerOf !== undefined
      ? await findIssuer(opts.dir, opts.issuerOf, serial)
      : undefined;
  const target = given ?? found?.cert;
  const { signers, unsigned } = await signingCas(opts, at, target);
  const bundled = await bundledCrls(opts.dir);
  // Every CRL is read and checked before any is written: a bad one leaves all as they were.
  const planned = await Promise.all(
    signers.map(async (ca) => {
      const own = (await exists(ca.crlFile)) ? await readOwnCrl(ca.crlFile, ca.cert) : undefined;
      // A lost CRL file: its list goes on from the copy in crl.pem, not from nothing (a new list
      // numbered above the old one would lift, on every gateway, what the old one revoked).
      const recovered = own ? undefined : latestOf(bundled.crls.filter((c) => isIssuedBy(c, ca.cert)));
      const previous = own ?? recovered;
      const entries = [...(previous?.revoked.values() ?? [])];
      const added = !previous?.revoked.has(serial);
      if (added) entries.push({ serial, revokedAt: at, ...(opts.reason ? { reason: opts.reason } : {}) });
      const pem = createCrl({
        issuerCertPem: ca.certPem,
        issuerKeyPem: ca.keyPem,
        revoked: entries,
        crlNumber: nextCrlNumber(previous?.crlNumber, at),
        thisUpdate: at,
      });
      const written: CrlWritten = {
        crlFile: ca.crlFile,
        caSerial: normaliseSerial(ca.cert.serialNumber),
        standing: ca.standing,
        added,
        revokedCount: entries.length,
        ...(recovered ? { recoveredFrom: bundled.file } : {}),
      };
      return { pem, written };
    }),
  );
  for (const { pem, written } of planned) await writeAtomic(written.crlFile, pem, CRL_MODE);
  if (opts.issuerOf !== undefined) {
    const kept = found ?? (given && { cert: given, root: signers[0]!.root });
    if (kept) await keepRevokedIssuer(opts.issuerOf, serial, kept);
  }
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
 * The CRL number of a CA's next CRL: above the previous one's, and at least the time of signing in
 * milliseconds since the Unix epoch. RFC 5280 §5.2.3 asks only that a CA's numbers increase (at
 * most 20 octets; this is 6 until the year 10889). Counting from the file alone restarted at 1
 * when the file was lost, and gateways refuse a lower number than the one in force as an older list
 * put back (RevocationList.rollbackFrom); the clock keeps a CRL signed after the loss above every
 * earlier one, as long as the signing machine's clock is not behind the one that signed last.
 * `previous + 1` keeps two CRLs of the same millisecond, or a clock set back, increasing, and
 * supersedes a small number from before this rule. Milliseconds rather than seconds: `at` has
 * them, and two machines that each sign a CRL within the same second (one lost the file the other
 * wrote) still get different numbers; an equal number is taken by gateways as the same list.
 */
export function nextCrlNumber(previous: bigint | undefined, at: Date): bigint {
  const next = (previous ?? 0n) + 1n;
  const clock = BigInt(Math.max(0, Math.floor(at.getTime())));
  return clock > next ? clock : next;
}

function certOfPem(pem: string): X509Certificate | undefined {
  try {
    return new X509Certificate(pem);
  } catch {
    return undefined;
  }
}

function serialOfPem(pem: string): string | undefined {
  const cert = certOfPem(pem);
  return cert && normaliseSerial(cert.serialNumber);
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

/** The issuer of `cluster` with this serial, under either anchor during a rotation, if one is here. */
async function findIssuer(
  dir: string,
  cluster: string,
  serial: string,
): Promise<{ cert: X509Certificate; root: string } | undefined> {
  for (const f of await issuerFiles(dir, cluster)) {
    const cert = certOfPem(await readFile(f.cert, 'utf8'));
    if (cert && normaliseSerial(cert.serialNumber) === serial) return { cert, root: f.root };
  }
  return undefined;
}

/**
 * Keeps a copy of the revoked issuer's certificate in <cluster>/retired/<serial>/ under its
 * anchor's directory: crl.pem carries it from there once issuer.crt is replaced, so a leaf it
 * signed is still found revoked when the peer's issuer is not visible. With --serial, only one
 * found among the cluster's issuers can be kept.
 */
async function keepRevokedIssuer(
  cluster: string,
  serial: string,
  found: { cert: X509Certificate; root: string },
): Promise<void> {
  const folder = join(found.root, cluster, RETIRED_DIR, serial);
  if (await exists(join(folder, ISSUER_CERT_FILE))) return;
  await mkdir(folder, { recursive: true, mode: 0o700 });
  await writeAtomic(join(folder, ISSUER_CERT_FILE), found.cert.toString(), CRL_MODE);
}

/**
 * The CRLs of <dir>/crl.pem, the bundle the last `certs revoke` wrote (and the isthmus-crl
 * ConfigMap holds): none when it is missing or unreadable, since it only stands in for a lost file.
 */
async function bundledCrls(dir: string): Promise<{ file: string; crls: Crl[] }> {
  const file = join(dir, CRL_BUNDLE_FILE);
  try {
    return { file, crls: parseCrlBundle(await readFile(file, 'utf8')) };
  } catch {
    return { file, crls: [] };
  }
}

/** The CRL of the highest CRL number (one without a number last), or undefined for none. */
function latestOf(crls: readonly Crl[]): Crl | undefined {
  return crls.reduce<Crl | undefined>(
    (best, c) => (best === undefined || (c.crlNumber ?? -1n) > (best.crlNumber ?? -1n) ? c : best),
    undefined,
  );
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

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
 * replaced, but for one case: a cluster's issuer.crl signed by the issuer the one in force replaced
 * with a new key (cert-manager's Secret copied in), whose certificate crl.pem carries: that issuer
 * is still valid, so its certificate and CRL go to <cluster>/retired/<serial>/, as `certs
 * --reuse-anchor --force` keeps a replaced issuer.
 *
 * Before anything is written, the new crl.pem is judged as the gateways holding the last one will
 * judge it (RevocationList.rollbackFrom, under the anchors of the directory): the CRL of a CA still
 * usable that the files no longer hold (a lost file of a CA other than the one signing; an issuer
 * kept nowhere but in crl.pem) is taken from the crl.pem in force, written back to the CA's file or
 * carried into the bundle, and said so; a bundle the gateways would still refuse (a CRL put back
 * older) is not written at all: refused, it would leave the new revocation unenforced.
 */
import { X509Certificate } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { describeError, IsthmusError } from '../errors.js';
import { issuerFiles } from './ca-files.js';
import { parseSubjectAltName } from './certificate-info.js';
import { type Crl, createCrl, isIssuedBy, normaliseSerial, parseCrl, parseCrlBundle } from './crl.js';
import { planCrlBundle, readCrlSources, type Skipped, writeCrlBundleFile } from './crl-bundle.js';
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
import { joinPem, splitPem } from './pem.js';
import { RevocationList } from './revocation.js';
import type { CrlCarried, CrlWritten, RevokeOptions, RevokeResult } from './revoke-plan.js';
import { type SigningCa, signingCas } from './revoke-signers.js';
import { parseSpiffeGatewayIdentity } from './spiffe.js';

// Split by role (revoke-plan.ts, revoke-steps.ts), re-exported so importers need not know where.
export {
  type CandidateCa,
  type CaStanding,
  type CrlCarried,
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
      const existing = (await exists(ca.crlFile)) ? await readOwnCrl(ca, bundled) : undefined;
      const own = existing && 'own' in existing ? existing.own : undefined;
      // A lost CRL file (or one that went to retired/ with the issuer it belongs to), or one older
      // than its copy in crl.pem (a backup put back): its list goes on from that copy, not from the
      // file or nothing (a new list numbered above the one in force, which time-based numbers
      // always are, would lift on every gateway what the newer list revoked).
      const copy = latestOf(bundled.crls.filter((c) => isIssuedBy(c.crl, ca.cert)));
      const recovered =
        copy && (!own || (copy.crl.crlNumber ?? -1n) > (own.crlNumber ?? -1n)) ? copy : undefined;
      const previous = recovered?.crl ?? own;
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
        ...(recovered ? { recoveredFrom: recovered.file } : {}),
        ...(recovered && own ? { olderFile: { own: own.crlNumber, copy: recovered.crl.crlNumber } } : {}),
      };
      return { pem, written, retire: existing && 'replaced' in existing ? existing.replaced : undefined };
    }),
  );
  const retirements = planned.flatMap((p) => (p.retire ? [p.retire] : []));
  const kept =
    opts.issuerOf === undefined ? undefined : (found ?? (given && { cert: given, root: signers[0]!.root }));
  const keptFolder = kept && join(kept.root, opts.issuerOf!, RETIRED_DIR, serial);
  // crl.pem as it will be once the files are written, judged as the gateways will judge it.
  const bundle = await plannedBundle(opts.dir, at, {
    crls: new Map(planned.map((p) => [p.written.crlFile, p.pem])),
    folders: [
      ...retirements.map((r) => ({ folder: r.folder, certPem: r.by.toString(), crlPem: r.crl.pem })),
      ...(keptFolder ? [{ folder: keptFolder, certPem: kept!.cert.toString() }] : []),
    ],
    bundled,
  });

  for (const r of retirements) {
    await mkdir(r.folder, { recursive: true, mode: 0o700 });
    await writeAtomic(join(r.folder, ISSUER_CERT_FILE), r.by.toString(), CRL_MODE);
    await writeAtomic(join(r.folder, ISSUER_CRL_FILE), r.crl.pem, CRL_MODE);
  }
  for (const c of bundle.carried) if (c.restored) await writeAtomic(c.restored, c.pem, CRL_MODE);
  for (const { pem, written } of planned) await writeAtomic(written.crlFile, pem, CRL_MODE);
  if (kept && keptFolder) await keepRevokedIssuer(keptFolder, kept.cert);
  const bundleFile = await writeCrlBundleFile(opts.dir, bundle.pems);
  const skipped = bundle.skipped;
  const clusters = await issuerDirectories(opts.dir);
  const oldAnchorRefuses = await refusedUnderPreviousAnchor(opts.dir, bundleFile);
  const crls = planned.map((p) => p.written);
  const result = {
    retired: retirements.map((r) => ({
      crlFile: join(r.folder, ISSUER_CRL_FILE),
      caSerial: normaliseSerial(r.by.serialNumber),
      from: r.crlFile,
    })),
    carried: bundle.carried.map(({ pem: _, ...c }) => c),
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
async function keepRevokedIssuer(folder: string, cert: X509Certificate): Promise<void> {
  if (await exists(join(folder, ISSUER_CERT_FILE))) return;
  await mkdir(folder, { recursive: true, mode: 0o700 });
  await writeAtomic(join(folder, ISSUER_CERT_FILE), cert.toString(), CRL_MODE);
}

/** A CRL of a bundle, with the file it was read from. */
interface BundledCrl {
  file: string;
  crl: Crl;
}

/** What the gateways hold: the CRLs and issuer certificates of the last crl.pem written. */
interface Bundled {
  crls: BundledCrl[];
  certs: X509Certificate[];
  /** The crl.pem the gateways have in force: <dir>/crl.pem, or previous/crl.pem (new-anchor moved it there). */
  inForce?: { file: string; pem: string };
}

/**
 * The CRLs of <dir>/crl.pem, the bundle the last `certs revoke` wrote (and the isthmus-crl
 * ConfigMap holds), and during an anchor rotation of previous/crl.pem, where `certs new-anchor`
 * moved it: none from one missing or unreadable, since they only stand in for a lost file.
 */
async function bundledCrls(dir: string): Promise<Bundled> {
  const found: Bundled = { crls: [], certs: [] };
  for (const file of [join(dir, CRL_BUNDLE_FILE), join(dir, PREVIOUS_DIR, CRL_BUNDLE_FILE)]) {
    const pem = await readFile(file, 'utf8').catch(() => undefined);
    if (pem === undefined) continue;
    found.inForce ??= { file, pem };
    try {
      found.crls.push(...parseCrlBundle(pem).map((crl) => ({ file, crl })));
      found.certs.push(...splitPem(pem).flatMap((c) => certOfPem(c) ?? []));
    } catch {
      // Unreadable: it stands in for nothing.
    }
  }
  return found;
}

/** The CRL of the highest CRL number (one without a number last), or undefined for none. */
function latestOf<T extends { crl: Crl }>(crls: readonly T[]): T | undefined {
  return crls.reduce<T | undefined>(
    (best, c) => (best === undefined || (c.crl.crlNumber ?? -1n) > (best.crl.crlNumber ?? -1n) ? c : best),
    undefined,
  );
}

/** An issuer's CRL file left by the issuer it replaced, and where that one is kept from now on. */
interface Replaced {
  crlFile: string;
  crl: Crl;
  /** The replaced issuer's certificate (from crl.pem). */
  by: X509Certificate;
  /** <cluster>/retired/<its serial>/ */
  folder: string;
}

/**
 * The CA's CRL file: its own list, or, for a cluster's issuer in force, the list of the issuer it
 * replaced when crl.pem carries that one's certificate (an issuer renewed with a new key outside
 * `isthmus certs`: cert-manager's Secret copied over issuer.crt and issuer.key). That one is still
 * valid, and its leaves with it: its CRL goes with its certificate to retired/<serial>/, as `certs
 * --reuse-anchor --force` keeps a replaced issuer, and stays in crl.pem. Anything else is refused.
 */
async function readOwnCrl(ca: SigningCa, bundled: Bundled): Promise<{ own: Crl } | { replaced: Replaced }> {
  const file = ca.crlFile;
  let crl: Crl;
  try {
    crl = parseCrl(await readFile(file, 'utf8'));
  } catch (err) {
    throw new IsthmusError('CRL_INVALID', `${file} is not a CRL: ${(err as Error).message}`, {
      cause: err,
      terminal: true,
    });
  }
  if (isIssuedBy(crl, ca.cert)) return { own: crl };
  const issuer = ca.standing === 'in force' && basename(file) === ISSUER_CRL_FILE;
  const by = issuer
    ? bundled.certs.find((c) => c.fingerprint256 !== ca.cert.fingerprint256 && isIssuedBy(crl, c))
    : undefined;
  const folder = by && join(dirname(file), RETIRED_DIR, normaliseSerial(by.serialNumber));
  if (by && folder && !(await exists(join(folder, ISSUER_CRL_FILE)))) {
    // The newer of the file and crl.pem's copy: the file is what the last revoke wrote.
    const newest = latestOf([{ crl }, ...bundled.crls.filter((c) => isIssuedBy(c.crl, by))])!.crl;
    return { replaced: { crlFile: file, crl: newest, by, folder } };
  }
  const advice = issuer
    ? `; if it is the CRL of the issuer ${ca.cert.subject.replace(/\n/g, ', ')} replaced (cert-manager renewed it with a new key), put that issuer's certificate and this file in ${join(dirname(file), RETIRED_DIR, '<its serial>')}/ as ${ISSUER_CERT_FILE} and ${ISSUER_CRL_FILE}, then revoke again (moving it away instead drops its revocations from crl.pem, which gateways refuse while that issuer is valid)`
    : '; put back the CRL this CA signed, or take its copy from crl.pem (the isthmus-crl ConfigMap)';
  throw new IsthmusError(
    'CRL_INVALID',
    `${file} is not signed by the CA it belongs to (${ca.cert.subject.replace(/\n/g, ', ')}, serial ${normaliseSerial(ca.cert.serialNumber)})${by && folder ? ` but by the issuer kept in ${folder}, which already has a CRL` : ''}${advice}. Nothing was written`,
    { terminal: true },
  );
}

/** A CRL carried over from the crl.pem in force into the new one (CrlCarried) with its PEM. */
type Carried = CrlCarried & { pem: string };

/**
 * crl.pem as it will be once the planned files are written (`crls`: CRL file → PEM; `folders`:
 * retired/ folders to be made), with, from the crl.pem the gateways hold, the CRL of any CA it
 * would drop while that CA is still usable (RevocationList.droppedFrom): its file written back
 * when the CA is in the directory without one, else carried into the bundle with the certificate
 * that verifies it. Throws, before anything is written, when the gateways would still refuse it
 * (RevocationList.rollbackFrom, with the anchors of the directory: both during a rotation).
 */
async function plannedBundle(
  dir: string,
  at: Date,
  plan: {
    crls: ReadonlyMap<string, string>;
    folders: ReadonlyArray<{ folder: string; certPem: string; crlPem?: string }>;
    bundled: Bundled;
  },
): Promise<{ pems: string[]; skipped: Skipped[]; carried: Carried[] }> {
  const sources = await readCrlSources(dir);
  const all = () => [...sources.anchors, ...sources.issuers];
  for (const s of all()) {
    const pem = plan.crls.get(s.crlFile);
    if (pem !== undefined) s.crlPem = pem;
  }
  for (const f of plan.folders) {
    const certFile = join(f.folder, ISSUER_CERT_FILE);
    const there = sources.issuers.find((s) => s.certFile === certFile);
    if (there && f.crlPem !== undefined) there.crlPem = f.crlPem;
    else if (!there)
      sources.issuers.push({
        certFile,
        certPem: f.certPem,
        crlFile: join(f.folder, ISSUER_CRL_FILE),
        ...(f.crlPem === undefined ? {} : { crlPem: f.crlPem }),
      });
  }
  const first = planCrlBundle(sources, at);
  const inForce = plan.bundled.inForce;
  const anchorsPem = joinPem(sources.anchors.map((a) => a.certPem));
  if (inForce === undefined || sources.anchors.length === 0) return { ...first, carried: [] };
  let held: RevocationList;
  try {
    held = RevocationList.fromPem(inForce.pem, anchorsPem);
  } catch {
    // The gateways could not have loaded it under these anchors: nothing of it is in force to keep.
    return { ...first, carried: [] };
  }
  const judge = (pems: readonly string[]) => {
    try {
      return RevocationList.fromPem(joinPem(pems), anchorsPem).refusalFrom(held, at)?.reason;
    } catch (err) {
      return describeError(err);
    }
  };
  const carried: Carried[] = [];
  const appended: string[] = [];
  let pems = first.pems;
  let skipped = first.skipped;
  const drops = RevocationList.fromPem(joinPem(first.pems), anchorsPem).droppedFrom(held, at);
  if (drops.length > 0) {
    for (const d of drops) {
      for (const l of d.lists) {
        const home = all().find(
          (s) => s.crlPem === undefined && certOfPem(s.certPem)?.fingerprint256 === l.ca.fingerprint256,
        );
        if (home) home.crlPem = l.crl.pem;
        else appended.push(l.ca.toString(), l.crl.pem);
        carried.push({
          subject: d.was.subject.replace(/\n/g, ', '),
          caSerial: normaliseSerial(l.ca.serialNumber),
          crlNumber: l.crl.crlNumber,
          revokedCount: l.crl.revoked.size,
          from: inForce.file,
          ...(home ? { restored: home.crlFile } : {}),
          pem: l.crl.pem,
        });
      }
    }
    const again = planCrlBundle(sources, at);
    const inBundle = new Set(splitPem(joinPem(again.pems)).map((c) => certOfPem(c)?.fingerprint256));
    for (const a of sources.anchors) inBundle.add(certOfPem(a.certPem)?.fingerprint256);
    const extra = appended.filter((pem) => {
      const cert = pem.includes('BEGIN CERTIFICATE') ? certOfPem(pem) : undefined;
      if (cert === undefined) return true;
      if (inBundle.has(cert.fingerprint256)) return false;
      inBundle.add(cert.fingerprint256);
      return true;
    });
    pems = [...again.pems, ...extra];
    skipped = again.skipped;
  }
  const refused = judge(pems);
  if (refused !== undefined) {
    throw new IsthmusError(
      'CRL_INVALID',
      `nothing was written: the gateways that hold ${inForce.file} would refuse the new ${join(dir, CRL_BUNDLE_FILE)} and keep the list they have, so this revocation would not be enforced: ${refused}`,
      { terminal: true },
    );
  }
  return { pems, skipped, carried };
}

function usage(message: string): IsthmusError {
  return new IsthmusError('USAGE', message, { terminal: true });
}

/**
 * crl.pem, the CRL bundle gateways load with `--crl-file` (revocation.ts verifies it the same way):
 * the anchors' CRLs, then each issuer certificate the gateways need, followed by its CRL.
 *
 * A gateway refuses the whole bundle when one certificate in it is not under its trust anchor or
 * one CRL is signed by no CA it can see, so `planCrlBundle` leaves out, with the reason, whatever
 * would not verify: a CRL left by a CA that was replaced, an issuer of an anchor no longer in the
 * directory. An issuer certificate goes in only when it is needed: to verify its CRL, or because
 * the anchor's CRL revokes it (a client's issuer is not always visible to the ingress, per
 * docs/design.md, so the gateway finds it in the bundle). The rest would only make the bundle
 * refused by gateways that do not trust its anchor yet, as in the first step of an anchor rotation.
 * An expired issuer is left out: every leaf it signed has expired too.
 */
import { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describeError } from '../errors.js';
import { anchorFiles, type CaFiles, issuerFiles } from './ca-files.js';
import { type Crl, isIssuedBy, normaliseSerial, parseCrl } from './crl.js';
import { CRL_BUNDLE_FILE, exists, writeAtomic } from './files.js';
import { joinPem } from './pem.js';

const CRL_MODE = 0o644;

/** A CA as found on disk: its certificate and, when it has one, its CRL. */
export interface CaOnDisk {
  certFile: string;
  certPem: string;
  crlFile: string;
  crlPem?: string;
}

export interface Skipped {
  file: string;
  reason: string;
}

export interface BundlePlan {
  pems: string[];
  /** What was left out because gateways could not verify it; printed by `certs revoke`. */
  skipped: Skipped[];
}

/** Pure: which certificates and CRLs go into crl.pem, in order. */
export function planCrlBundle(
  cas: { anchors: readonly CaOnDisk[]; issuers: readonly CaOnDisk[] },
  at: Date,
): BundlePlan {
  const skipped: Skipped[] = [];
  const anchors: X509Certificate[] = [];
  const anchorCrls: Array<{ crl: Crl; by: X509Certificate; pem: string }> = [];
  for (const a of cas.anchors) {
    const cert = certOf(a, skipped);
    if (!cert) continue;
    anchors.push(cert);
    const crl = crlOf(a, cert, skipped);
    if (crl) anchorCrls.push({ crl, by: cert, pem: a.crlPem! });
  }

  const pems = anchorCrls.map((c) => c.pem);
  const bundled = new Set<string>();
  for (const i of cas.issuers) {
    const cert = certOf(i, skipped);
    if (!cert) continue;
    const anchor = anchors.find((a) => cert.checkIssued(a) && cert.verify(a.publicKey));
    const dropped = !anchor
      ? 'it is not issued by a trust anchor of this directory'
      : at > new Date(cert.validTo)
        ? `it expired at ${new Date(cert.validTo).toISOString()}, and every certificate it signed with it`
        : undefined;
    if (dropped) {
      if (i.crlPem !== undefined) skipped.push({ file: i.crlFile, reason: `${i.certFile}: ${dropped}` });
      continue;
    }
    const crl = crlOf(i, cert, skipped);
    const serial = normaliseSerial(cert.serialNumber);
    const revoked = anchorCrls.some((c) => c.by === anchor && c.crl.revoked.has(serial));
    if ((crl || revoked) && !bundled.has(cert.fingerprint256)) {
      bundled.add(cert.fingerprint256);
      pems.push(i.certPem);
    }
    if (crl) pems.push(i.crlPem!);
  }
  return { pems, skipped };
}

/** Reads the CAs of `dir` (and of previous/ during a rotation) and writes <dir>/crl.pem. */
export async function writeCrlBundle(
  dir: string,
  at = new Date(),
): Promise<{ bundleFile: string; skipped: Skipped[] }> {
  const plan = planCrlBundle(await readCrlSources(dir), at);
  const bundleFile = await writeCrlBundleFile(dir, plan.pems);
  return { bundleFile, skipped: plan.skipped };
}

/** The CAs of `dir` (and of previous/ during a rotation) as planCrlBundle takes them. */
export async function readCrlSources(dir: string): Promise<{ anchors: CaOnDisk[]; issuers: CaOnDisk[] }> {
  const [anchors, issuers] = await Promise.all([
    anchorFiles(dir).then(readAll),
    issuerFiles(dir).then(readAll),
  ]);
  return { anchors, issuers };
}

/** Writes `pems` (planCrlBundle's, or more) as <dir>/crl.pem; returns its path. */
export async function writeCrlBundleFile(dir: string, pems: readonly string[]): Promise<string> {
  const bundleFile = join(dir, CRL_BUNDLE_FILE);
  await writeAtomic(bundleFile, joinPem([...pems]), CRL_MODE);
  return bundleFile;
}

async function readAll(files: readonly CaFiles[]): Promise<CaOnDisk[]> {
  return Promise.all(
    files.map(async (f) => ({
      certFile: f.cert,
      certPem: await readFile(f.cert, 'utf8'),
      crlFile: f.crl,
      ...((await exists(f.crl)) ? { crlPem: await readFile(f.crl, 'utf8') } : {}),
    })),
  );
}

function certOf(ca: CaOnDisk, skipped: Skipped[]): X509Certificate | undefined {
  try {
    return new X509Certificate(ca.certPem);
  } catch (err) {
    skipped.push({ file: ca.certFile, reason: `not a certificate: ${describeError(err)}` });
    if (ca.crlPem !== undefined) skipped.push({ file: ca.crlFile, reason: `${ca.certFile} is unreadable` });
    return undefined;
  }
}

/** The CA's CRL when it has one that it signed; anything else is skipped with the reason. */
function crlOf(ca: CaOnDisk, cert: X509Certificate, skipped: Skipped[]): Crl | undefined {
  if (ca.crlPem === undefined) return undefined;
  let crl: Crl;
  try {
    crl = parseCrl(ca.crlPem);
  } catch (err) {
    skipped.push({ file: ca.crlFile, reason: `not a CRL: ${describeError(err)}` });
    return undefined;
  }
  if (isIssuedBy(crl, cert)) return crl;
  skipped.push({
    file: ca.crlFile,
    reason: `not signed by ${ca.certFile} (left by the CA it replaced? \`isthmus certs --reuse-anchor --force\` keeps a replaced issuer with its CRL in <cluster>/retired/)`,
  });
  return undefined;
}

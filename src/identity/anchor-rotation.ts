/**
 * Rotating the trust anchor without a moment in which linked clusters distrust each other, the way
 * Linkerd users do it with a trust bundle: every cluster first trusts the old and the new anchor
 * (ca-bundle.crt), then gets an issuer under the new one, and only then drops the old anchor.
 *
 *   isthmus certs new-anchor --out DIR             the old ca.* and <cluster>/issuer.* move to
 *                                                  DIR/previous/, new ones take their place, and
 *                                                  DIR/ca-bundle.crt holds both anchors
 *   isthmus certs new-anchor --out DIR --finish    DIR/previous/ and ca-bundle.crt go
 *
 * CRLs made under the old anchor (crl.pem, ca.crl, <cluster>/issuer.crl, <cluster>/retired/) move
 * with it: they revoke old certificates, which the bundle still trusts until the rotation is
 * finished, so `certs revoke` keeps putting them in crl.pem meanwhile (crl-bundle.ts). --finish
 * rebuilds crl.pem without them: gateways that trust the new anchor alone refuse the old CAs.
 */
import { mkdir, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { IsthmusError } from '../errors.js';
import { type Skipped, writeCrlBundle } from './crl-bundle.js';
import {
  ANCHOR_CERT_FILE,
  ANCHOR_CRL_FILE,
  ANCHOR_KEY_FILE,
  CRL_BUNDLE_FILE,
  exists,
  ISSUER_CERT_FILE,
  ISSUER_CRL_FILE,
  ISSUER_KEY_FILE,
  loadCertificates,
  PREVIOUS_DIR,
  RETIRED_DIR,
  writeAtomic,
  writeCertificates,
} from './files.js';
import { joinPem } from './pem.js';

export { PREVIOUS_DIR };
export const ANCHOR_BUNDLE_FILE = 'ca-bundle.crt';

export interface AnchorRotation {
  clusters: string[];
  bundleFile: string;
  /** Files written: the new anchor, the new issuers, the bundle. */
  written: string[];
  /** Whether a CRL bundle moved to previous/ (the isthmus-crl ConfigMap then needs care at --finish). */
  movedCrl: boolean;
}

function rotationInProgress(dir: string): IsthmusError {
  return new IsthmusError(
    'CERT_EXISTS',
    `an anchor rotation is in progress in ${dir} (${join(dir, PREVIOUS_DIR)} exists): finish it first with isthmus certs new-anchor --out ${dir} --finish`,
    { terminal: true },
  );
}

/** Moves `from` to `to` when it exists; whether it did. */
async function moveIfPresent(from: string, to: string): Promise<boolean> {
  if (!(await exists(from))) return false;
  await rename(from, to);
  return true;
}

export async function startAnchorRotation(opts: {
  dir: string;
  trustDomain?: string;
  anchorKeyBits?: 2048 | 3072;
}): Promise<AnchorRotation> {
  const { dir } = opts;
  if (await exists(join(dir, PREVIOUS_DIR))) throw rotationInProgress(dir);
  // The current set must be whole and valid (anchor key included): it becomes "previous".
  const current = await loadCertificates({ dir });
  if (current.anchor.keyPem === undefined) {
    throw new IsthmusError(
      'CERT_INVALID',
      `${join(dir, ANCHOR_KEY_FILE)} is missing: a new anchor is made where the old key is`,
      {
        terminal: true,
      },
    );
  }
  const clusters = [...current.issuers.keys()];
  const previous = join(dir, PREVIOUS_DIR);
  await mkdir(previous, { mode: 0o700 });
  for (const f of [ANCHOR_CERT_FILE, ANCHOR_KEY_FILE, ANCHOR_CRL_FILE])
    await moveIfPresent(join(dir, f), join(previous, f));
  const movedCrl = await moveIfPresent(join(dir, CRL_BUNDLE_FILE), join(previous, CRL_BUNDLE_FILE));
  for (const c of clusters) {
    await mkdir(join(previous, c), { mode: 0o700 });
    for (const f of [ISSUER_CERT_FILE, ISSUER_KEY_FILE, ISSUER_CRL_FILE, RETIRED_DIR]) {
      await moveIfPresent(join(dir, c, f), join(previous, c, f));
    }
  }
  const { written } = await writeCertificates({
    outDir: dir,
    clusters,
    ...(opts.trustDomain === undefined ? {} : { trustDomain: opts.trustDomain }),
    ...(opts.anchorKeyBits === undefined ? {} : { anchorKeyBits: opts.anchorKeyBits }),
  });
  // New first: what a reader that takes only the first certificate should see.
  const bundleFile = join(dir, ANCHOR_BUNDLE_FILE);
  const [next, old] = await Promise.all([
    readFile(join(dir, ANCHOR_CERT_FILE), 'utf8'),
    readFile(join(previous, ANCHOR_CERT_FILE), 'utf8'),
  ]);
  await writeAtomic(bundleFile, joinPem([next, old]), 0o644);
  await loadCertificates({ dir });
  return { clusters, bundleFile, written: [...written, bundleFile], movedCrl };
}

export interface FinishedRotation {
  removed: string[];
  /** Whether there was a CRL bundle: it is then rebuilt under the new anchor alone. */
  hadCrl: boolean;
  /** The rebuilt <dir>/crl.pem, to apply as the isthmus-crl ConfigMap before step 3's installs. */
  crlFile?: string;
  skipped: Skipped[];
}

export async function finishAnchorRotation(dir: string): Promise<FinishedRotation> {
  const previous = join(dir, PREVIOUS_DIR);
  if (!(await exists(previous))) {
    throw new IsthmusError(
      'USAGE',
      `no anchor rotation in progress in ${dir} (no ${previous}): nothing to finish`,
      {
        terminal: true,
      },
    );
  }
  await loadCertificates({ dir });
  const hadCrl =
    (await exists(join(previous, CRL_BUNDLE_FILE))) || (await exists(join(dir, CRL_BUNDLE_FILE)));
  const bundleFile = join(dir, ANCHOR_BUNDLE_FILE);
  await rm(previous, { recursive: true, force: true });
  await rm(bundleFile, { force: true });
  const removed = [previous, bundleFile];
  if (!hadCrl) return { removed, hadCrl, skipped: [] };
  // crl.pem made during the rotation carries the old CAs; revocations under the new ones stay.
  const { bundleFile: crlFile, skipped } = await writeCrlBundle(dir);
  return { removed, hadCrl, crlFile, skipped };
}

/** The commands that take every cluster through the rotation (printed by the CLI). */
export function rotationSteps(dir: string, clusters: readonly string[], movedCrl: boolean): string {
  const install = (c: string, anchor: string, issuerDir: string) =>
    `  isthmus install --cluster-name ${c} --trust-anchor ${anchor} --issuer-cert ${issuerDir}/${c}/${ISSUER_CERT_FILE} --issuer-key ${issuerDir}/${c}/${ISSUER_KEY_FILE} | kubectl --context ${c} apply -f -`;
  const restart = (c: string, what: string) =>
    `  kubectl --context ${c} -n isthmus-system rollout restart ${what}`;
  const bundle = join(dir, ANCHOR_BUNDLE_FILE);
  const lines = [
    `New trust anchor and issuers written; the old ones are in ${join(dir, PREVIOUS_DIR)}. Take every cluster through each step before the next:`,
    '1. Trust both anchors everywhere (issuers unchanged):',
    ...clusters.flatMap((c) => [
      install(c, bundle, join(dir, PREVIOUS_DIR)),
      restart(c, 'deployment/isthmus-gateway'),
    ]),
    '2. Issue from the new anchor:',
    ...clusters.flatMap((c) => [
      install(c, bundle, dir),
      restart(c, 'deployment/isthmus-identity deployment/isthmus-gateway'),
    ]),
    `3. Drop the old anchor: isthmus certs new-anchor --out ${dir} --finish, then`,
    ...clusters.flatMap((c) => [
      install(c, join(dir, ANCHOR_CERT_FILE), dir),
      restart(c, 'deployment/isthmus-gateway'),
    ]),
  ];
  if (movedCrl) {
    lines.push(
      `Revocations made under the old anchor moved to ${join(dir, PREVIOUS_DIR, CRL_BUNDLE_FILE)}; they stay in force until step 3 (certs revoke keeps them in ${join(dir, CRL_BUNDLE_FILE)} meanwhile).`,
      `--finish rebuilds ${join(dir, CRL_BUNDLE_FILE)} without them: apply it as the isthmus-crl ConfigMap in every cluster before step 3's installs, as gateways that trust the new anchor alone refuse a CRL bundle of the old CAs.`,
    );
  }
  return `${lines.join('\n')}\n`;
}

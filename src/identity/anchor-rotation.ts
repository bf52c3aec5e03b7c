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
  ANCHOR_BUNDLE_FILE,
  ANCHOR_CERT_FILE,
  ANCHOR_CRL_FILE,
  ANCHOR_KEY_FILE,
  CRL_BUNDLE_FILE,
  exists,
  GATEWAY_DEPLOYMENT,
  ISSUER_CERT_FILE,
  ISSUER_CRL_FILE,
  ISSUER_KEY_FILE,
  loadCertificates,
  PREVIOUS_DIR,
  RETIRED_DIR,
  restartCommand,
  shellWord,
  trustDomainUnder,
  upgradeCommand,
  writeAtomic,
  writeCertificates,
} from './files.js';
import { joinPem } from './pem.js';

export { ANCHOR_BUNDLE_FILE, PREVIOUS_DIR };

export interface AnchorRotation {
  clusters: string[];
  /** The trust domain of the new issuers: the old ones'. */
  trustDomain: string;
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
  /** Checked against the current anchor's (trustDomainUnder), which the new set keeps. */
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
  // Every cluster runs with the trust domain of its issuer: new issuers of another would be refused.
  const trustDomain = trustDomainUnder(dir, current.anchor.certPem, opts.trustDomain);
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
    trustDomain,
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
  return { clusters, trustDomain, bundleFile, written: [...written, bundleFile], movedCrl };
}

export interface FinishedRotation {
  /** The clusters of the new set, each to be taken onto the new anchor alone (finishSteps). */
  clusters: string[];
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
  const clusters = [...(await loadCertificates({ dir })).issuers.keys()];
  const hadCrl =
    (await exists(join(previous, CRL_BUNDLE_FILE))) || (await exists(join(dir, CRL_BUNDLE_FILE)));
  const bundleFile = join(dir, ANCHOR_BUNDLE_FILE);
  await rm(previous, { recursive: true, force: true });
  await rm(bundleFile, { force: true });
  const removed = [previous, bundleFile];
  if (!hadCrl) return { clusters, removed, hadCrl, skipped: [] };
  // crl.pem made during the rotation carries the old CAs; revocations under the new ones stay.
  const { bundleFile: crlFile, skipped } = await writeCrlBundle(dir);
  return { clusters, removed, hadCrl, crlFile, skipped };
}

const CONTEXT_NOTE =
  '(each command takes the kubeconfig context to be named as its cluster: change --context where it is not)';

/**
 * The commands that take every cluster through the rotation (printed by the CLI): `isthmus upgrade`
 * with the certificate files of each step, which keeps every other flag the install recorded.
 */
export function rotationSteps(dir: string, clusters: readonly string[], movedCrl: boolean): string {
  const bundle = join(dir, ANCHOR_BUNDLE_FILE);
  const upgrade = (c: string, anchor: string, issuerDir: string) =>
    `  ${upgradeCommand(c, anchor, issuerDir)}`;
  const restart = (c: string, what: string) => `  ${restartCommand(c, what)}`;
  const lines = [
    `New trust anchor and issuers written; the old ones are in ${join(dir, PREVIOUS_DIR)}. Take every cluster through each step before the next ${CONTEXT_NOTE}:`,
    '1. Trust both anchors everywhere (issuers unchanged):',
    ...clusters.flatMap((c) => [upgrade(c, bundle, join(dir, PREVIOUS_DIR)), restart(c, GATEWAY_DEPLOYMENT)]),
    '2. Issue from the new anchor:',
    ...clusters.flatMap((c) => [
      upgrade(c, bundle, dir),
      restart(c, `deployment/isthmus-identity ${GATEWAY_DEPLOYMENT}`),
    ]),
    `3. Drop the old anchor: isthmus certs new-anchor --out ${shellWord(dir)} --finish, then`,
    ...clusters.flatMap((c) => [
      upgrade(c, join(dir, ANCHOR_CERT_FILE), dir),
      restart(c, GATEWAY_DEPLOYMENT),
    ]),
  ];
  if (movedCrl) {
    lines.push(
      `Revocations made under the old anchor moved to ${join(dir, PREVIOUS_DIR, CRL_BUNDLE_FILE)}; they stay in force until step 3 (certs revoke keeps them in ${join(dir, CRL_BUNDLE_FILE)} meanwhile).`,
      `--finish rebuilds ${join(dir, CRL_BUNDLE_FILE)} without them: apply it as the isthmus-crl ConfigMap in every cluster before step 3's installs, as gateways that trust the new anchor alone refuse a CRL bundle of the old CAs.`,
      `Until that restart the running gateways refuse the rebuilt file (their old anchor still trusts the old CAs, whose CRLs it drops) and keep the old revocations: isthmus_gateway_crl_file_refused is 1 meanwhile, as expected.`,
    );
  }
  return `${lines.join('\n')}\n`;
}

/** The isthmus-crl ConfigMap made from `crlFile`, applied in `cluster`. */
export function crlConfigMapCommand(crlFile: string, cluster: string): string {
  return `kubectl -n isthmus-system create configmap isthmus-crl --from-file=crl.pem=${shellWord(crlFile)} --dry-run=client -o yaml | kubectl --context ${shellWord(cluster)} apply -f -`;
}

/** Step 3 once --finish has run: the rebuilt CRL bundle first, if any, then the new anchor alone. */
export function finishSteps(dir: string, clusters: readonly string[], crlFile: string | undefined): string {
  const lines = [`The old anchor is gone from ${dir}. Finish in every cluster ${CONTEXT_NOTE}:`];
  if (crlFile !== undefined) {
    lines.push(
      `First replace the isthmus-crl ConfigMap with ${crlFile} everywhere (the one in place revokes under the old anchor, which gateways that trust the new one alone refuse):`,
      ...clusters.map((c) => `  ${crlConfigMapCommand(crlFile, c)}`),
      'Then drop the old anchor:',
    );
  }
  for (const c of clusters) {
    lines.push(
      `  ${upgradeCommand(c, join(dir, ANCHOR_CERT_FILE), dir)}`,
      `  ${restartCommand(c, GATEWAY_DEPLOYMENT)}`,
    );
  }
  return `${lines.join('\n')}\n`;
}

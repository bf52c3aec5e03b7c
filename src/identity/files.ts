import { randomBytes, X509Certificate } from 'node:crypto';
import { lstat, mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { IsthmusError } from '../errors.js';
import { createIssuer, createTrustAnchor, type KeyPairPem } from './ca.js';
import { certificateInfo } from './certificate-info.js';
import { isIssuedBy, normaliseSerial, parseCrl } from './crl.js';
import { issuerScopeProblems } from './issuer-scope.js';
import { splitPem } from './pem.js';
import { isValidClusterName, isValidTrustDomain } from './spiffe.js';
import { anchorBundleProblems, anchorProblems, issuerProblems } from './validate.js';

/**
 * The on-disk layout written by `isthmus certs` and read by `install` and the identity process:
 *
 *   <outDir>/ca.crt, ca.key                      trust anchor (the key should then go offline)
 *   <outDir>/<cluster>/issuer.crt, issuer.key    one issuer per cluster
 *   <outDir>/ca.crl, <cluster>/issuer.crl        CRLs, and <outDir>/crl.pem their bundle (revoke.ts)
 *   <outDir>/<cluster>/retired/<serial>/         an issuer replaced under the same anchor, or
 *                                                revoked: kept, with its CRL, for crl.pem
 *   <outDir>/previous/                           the same layout under the anchor being rotated
 *                                                out (anchor-rotation.ts), until --finish
 *
 * Keys are 0600 and directories this code creates 0700: they are CA keys.
 */
export const ANCHOR_CERT_FILE = 'ca.crt';
export const ANCHOR_KEY_FILE = 'ca.key';
export const ISSUER_CERT_FILE = 'issuer.crt';
export const ISSUER_KEY_FILE = 'issuer.key';
export const ISSUER_CRL_FILE = 'issuer.crl';
export const ANCHOR_CRL_FILE = 'ca.crl';
export const CRL_BUNDLE_FILE = 'crl.pem';
export const RETIRED_DIR = 'retired';
export const PREVIOUS_DIR = 'previous';
/** The old and the new anchor, trusted together during an anchor rotation (anchor-rotation.ts). */
export const ANCHOR_BUNDLE_FILE = 'ca-bundle.crt';
export const DEFAULT_TRUST_DOMAIN = 'cluster.local';
const KEY_MODE = 0o600;
const CERT_MODE = 0o644;
const DIR_MODE = 0o700;

export interface WriteCertificatesOptions {
  outDir: string;
  clusters: string[];
  /**
   * cluster.local by default. With reuseAnchor, the existing anchor's (trustDomainUnder): one that
   * differs is refused, as every installed cluster would refuse its issuers.
   */
  trustDomain?: string;
  /** Replace existing files. Without it, any existing target file is an error (CERT_EXISTS). */
  force?: boolean;
  /**
   * Keep an existing ca.crt/ca.key (validated) and only add issuers: how a cluster joins later, or,
   * with force, how an issuer is renewed (the replaced one moves to <cluster>/retired/).
   */
  reuseAnchor?: boolean;
  anchorValidityDays?: number;
  issuerValidityDays?: number;
  /** 3072 (default) or 2048 for tests. */
  anchorKeyBits?: 2048 | 3072;
  /** Only for tests: writes each file's bytes, so a full disk can be simulated. */
  writeFile?: WriteFile;
}

export type WriteFile = typeof writeFile;

/**
 * What to pass instead. `--force` over an existing anchor makes a new one, under which no issuer
 * already installed chains: the hint says so, and names `--reuse-anchor` for the usual wish (one
 * more cluster, or renewed issuers, under the same anchor).
 */
function overwriteHint(existing: readonly string[], anchorFiles: readonly string[]): string {
  if (!existing.some((f) => anchorFiles.includes(f))) return 'pass --force to replace them';
  const issuers = existing.some((f) => !anchorFiles.includes(f));
  return issuers
    ? 'to renew these issuers under the same trust anchor, pass --reuse-anchor --force; --force alone also replaces the anchor, and every installed cluster would then need new certificates'
    : 'to add issuers under the existing trust anchor, pass --reuse-anchor; --force would replace the anchor, and no issuer installed already would chain to it';
}

/** An issuer replaced by `writeCertificates` with reuseAnchor and force. */
export interface RenewedIssuer {
  cluster: string;
  /** The folder the replaced issuer was kept in (<cluster>/retired/<serial>/). */
  retired: string;
  /** Whether the anchor's CRL (<dir>/ca.crl) revokes the replaced issuer. */
  revoked: boolean;
  /** The new issuer's files. */
  certFile: string;
  keyFile: string;
}

export interface WrittenCertificates {
  written: string[];
  /** The folders replaced issuers were kept in. */
  retired: string[];
  renewed: RenewedIssuer[];
}

export async function writeCertificates(opts: WriteCertificatesOptions): Promise<WrittenCertificates> {
  checkNames(opts.clusters, opts.trustDomain ?? DEFAULT_TRUST_DOMAIN);
  const out = await lstat(opts.outDir).catch(() => undefined);
  if (out && !out.isDirectory()) {
    throw new IsthmusError('USAGE', `--out ${opts.outDir} exists and is not a directory`, { terminal: true });
  }
  const anchorFiles = [join(opts.outDir, ANCHOR_CERT_FILE), join(opts.outDir, ANCHOR_KEY_FILE)] as const;
  const issuerFiles = opts.clusters.map((c) => issuerPaths(opts.outDir, c));
  const targets = [...(opts.reuseAnchor ? [] : anchorFiles), ...issuerFiles.flatMap((p) => [p.cert, p.key])];
  if (!opts.force) {
    const existing = await existingOf(targets);
    if (existing.length > 0) {
      throw new IsthmusError(
        'CERT_EXISTS',
        `refusing to overwrite existing files: ${existing.join(', ')} (${overwriteHint(existing, anchorFiles)})`,
        { terminal: true },
      );
    }
  }

  const existingAnchor = opts.reuseAnchor ? await loadAnchor(opts.outDir, new Date(), true) : undefined;
  const trustDomain = existingAnchor
    ? trustDomainUnder(opts.outDir, existingAnchor.certPem, opts.trustDomain)
    : (opts.trustDomain ?? DEFAULT_TRUST_DOMAIN);
  const anchor =
    existingAnchor ??
    createTrustAnchor({
      trustDomain,
      ...(opts.anchorValidityDays === undefined ? {} : { validityDays: opts.anchorValidityDays }),
      ...(opts.anchorKeyBits === undefined ? {} : { keyBits: opts.anchorKeyBits }),
    });
  const written: string[] = [];
  const retired: string[] = [];
  const renewed: RenewedIssuer[] = [];
  await mkdir(opts.outDir, { recursive: true, mode: DIR_MODE });
  if (!opts.reuseAnchor) {
    await writeAtomic(anchorFiles[0], anchor.certPem, CERT_MODE);
    await writeAtomic(anchorFiles[1], anchor.keyPem!, KEY_MODE);
    written.push(...anchorFiles);
  }
  for (const [index, cluster] of opts.clusters.entries()) {
    const issuer = createIssuer(anchor as KeyPairPem, {
      cluster,
      trustDomain,
      ...(opts.issuerValidityDays === undefined ? {} : { validityDays: opts.issuerValidityDays }),
    });
    const paths = issuerFiles[index]!;
    // Under the same anchor the old issuer's leaves stay trusted until they expire: its CRL must
    // stay in crl.pem, next to a certificate that verifies it. A new anchor starts afresh. The old
    // issuer is copied, not moved, so that the folder holds a whole issuer pair at every step.
    const kept = opts.reuseAnchor ? await keepIssuer(paths.dir, opts.writeFile) : undefined;
    await mkdir(paths.dir, { recursive: true, mode: DIR_MODE });
    const pair = [
      { path: paths.cert, data: issuer.certPem, mode: CERT_MODE },
      { path: paths.key, data: issuer.keyPem, mode: KEY_MODE },
    ];
    // A copy of the issuer still in force would be a second, stale home for its CRL.
    await writeAllAtomic(pair, opts.writeFile).catch(async (err: unknown) => {
      await kept?.undo();
      throw err;
    });
    written.push(paths.cert, paths.key);
    if (kept === undefined) continue;
    // Its CRL lives on in retired/; left here it would pass for the new issuer's.
    await rm(join(paths.dir, ISSUER_CRL_FILE), { force: true });
    retired.push(kept.folder);
    renewed.push({
      cluster,
      retired: kept.folder,
      revoked: kept.serial !== undefined && (await revokedByAnchor(opts.outDir, anchor.certPem, kept.serial)),
      certFile: paths.cert,
      keyFile: paths.key,
    });
  }
  return { written, retired, renewed };
}

/** The common name of a certificate, when it has one. */
function commonNameOf(certPem: string): string | undefined {
  try {
    return /(?:^|, )CN=([^,]+)/.exec(certificateInfo(certPem).subject)?.[1];
  } catch {
    return undefined;
  }
}

/**
 * The trust domain of new issuers under the anchor in `dir` (its certificate `anchorPem`), given
 * `--trust-domain` or not: the one the anchor's name declares, `root.<td>` as writeCertificates
 * names it. Its issuers are `identity.<cluster>.<td>`, every cluster installed with them runs with
 * that trust domain, and install and identity refuse an issuer of another (issuer-scope.ts, which
 * also takes a trust domain as declared only where issuer and anchor names agree), so a given one
 * that differs is refused here. An anchor named otherwise (made elsewhere) declares none, and the
 * choice is `given`'s, cluster.local by default.
 */
export function trustDomainUnder(dir: string, anchorPem: string, given?: string): string {
  const name = commonNameOf(anchorPem);
  const declared = name?.startsWith('root.') ? name.slice('root.'.length) : undefined;
  if (declared === undefined || !isValidTrustDomain(declared)) return given ?? DEFAULT_TRUST_DOMAIN;
  if (given === undefined || given === declared) return declared;
  throw new IsthmusError(
    'USAGE',
    `--trust-domain ${given}: the trust anchor in ${dir} is of trust domain "${declared}" (it is named ${name}, and its issuers identity.<cluster>.${declared}), and the clusters installed with it refuse an issuer of another: leave --trust-domain out or give ${declared}. Moving to ${given} takes new certificates for every cluster (isthmus certs --out <another directory> --clusters … --trust-domain ${given}), installed in all of them`,
    { terminal: true },
  );
}

/** Whether <dir>/ca.crl, signed by the anchor, lists `serial` (an issuer revoked with --issuer-of). */
async function revokedByAnchor(dir: string, anchorPem: string, serial: string): Promise<boolean> {
  const text = await readFile(join(dir, ANCHOR_CRL_FILE), 'utf8').catch(() => undefined);
  if (text === undefined) return false;
  try {
    const crl = parseCrl(text);
    return isIssuedBy(crl, new X509Certificate(anchorPem)) && crl.revoked.has(serial);
  } catch {
    return false; // `certs revoke` refuses such a file; it revokes nothing a gateway would load
  }
}

/**
 * Copies <clusterDir>/issuer.{crt,key,crl} to <clusterDir>/retired/<serial>/ and returns that
 * folder, or undefined when there is no issuer to keep. The key goes too: a leaf the old issuer
 * signed can still leak and be revoked (revoke.ts picks the issuer that signed it). `undo` removes
 * what the copy added, and nothing that was there before (`certs revoke --issuer-of` keeps a
 * revoked issuer's certificate in the same folder).
 */
async function keepIssuer(
  clusterDir: string,
  write?: WriteFile,
): Promise<{ folder: string; serial?: string; undo: () => Promise<void> } | undefined> {
  const found = await readIssuerFiles(clusterDir);
  const cert = found.find((f) => f.name === ISSUER_CERT_FILE);
  if (cert === undefined) return undefined;
  const serial = serialOf(cert.data);
  const folder = join(clusterDir, RETIRED_DIR, serial ?? `unreadable-${Date.now()}`);
  const created = await mkdir(folder, { recursive: true, mode: DIR_MODE });
  const files = found.map((f) => ({ ...f, path: join(folder, f.name) }));
  const before = await existingOf(files.map((f) => f.path));
  await writeAllAtomic(files, write);
  const added = files.map((f) => f.path).filter((p) => !before.includes(p));
  const undo = async () => {
    if (created !== undefined) await rm(created, { recursive: true, force: true });
    else for (const p of added) await rm(p, { force: true });
  };
  return serial === undefined ? { folder, undo } : { folder, serial, undo };
}

const ISSUER_FILE_MODES = [
  [ISSUER_CERT_FILE, CERT_MODE],
  [ISSUER_KEY_FILE, KEY_MODE],
  [ISSUER_CRL_FILE, CERT_MODE],
] as const;

/** The issuer files present in `folder`; one that exists but cannot be read is an error. */
async function readIssuerFiles(folder: string): Promise<{ name: string; data: string; mode: number }[]> {
  const found: { name: string; data: string; mode: number }[] = [];
  for (const [name, mode] of ISSUER_FILE_MODES) {
    const data = await readFile(join(folder, name), 'utf8').catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return undefined;
      throw err;
    });
    if (data !== undefined) found.push({ name, data, mode });
  }
  return found;
}

/**
 * The folder name of a kept issuer: its serial, as `openssl x509 -serial` shows it. One that cannot
 * be read is still kept (in unreadable-<time>/): --force replaces whatever was there.
 */
function serialOf(certPem: string): string | undefined {
  try {
    return normaliseSerial(new X509Certificate(certPem).serialNumber);
  } catch {
    return undefined;
  }
}

export interface LoadedCertificates {
  /** The anchor key is absent where it was kept offline (the usual case inside a cluster). */
  anchor: { certPem: string; keyPem?: string };
  issuers: Map<string, KeyPairPem>;
}

/**
 * Reads and validates a directory written by writeCertificates. `clusters` defaults to every
 * sub-directory holding an issuer.crt. Any problem → CERT_INVALID naming each file and reason.
 */
export async function loadCertificates(opts: {
  dir: string;
  clusters?: string[];
  at?: Date;
}): Promise<LoadedCertificates> {
  const at = opts.at ?? new Date();
  const anchor = await loadAnchor(opts.dir, at, false);
  const clusters = opts.clusters ?? (await issuerDirectories(opts.dir));
  const issuers = new Map<string, KeyPairPem>();
  const problems: string[] = [];
  for (const cluster of clusters) {
    const paths = issuerPaths(opts.dir, cluster);
    const pair = await readPair(paths.cert, paths.key, true);
    const found = issuerProblems(pair.certPem, pair.keyPem!, anchor.certPem, at);
    problems.push(...found.map((p) => `${paths.cert}: ${p}`));
    issuers.set(cluster, pair as KeyPairPem);
  }
  if (problems.length > 0) throw invalid(problems);
  return { anchor, issuers };
}

/**
 * What the identity process needs: the anchor certificate and one issuer pair, from wherever they
 * are mounted (the issuer Secret and the anchor ConfigMap are separate volumes in a cluster).
 */
/** The trust anchor file: one anchor, or a bundle during a rotation, each a valid self-signed CA. */
export async function loadAnchorBundle(anchorFile: string, at = new Date()): Promise<string> {
  return checkedAnchorBundle(await readText(anchorFile), anchorFile, at);
}

export async function loadIssuer(opts: {
  anchorFile: string;
  certFile: string;
  keyFile: string;
  at?: Date;
  /** The cluster it must serve: an issuer named for another (`identity.<c>.<td>`) is refused. */
  scope?: { cluster: string; trustDomain: string };
}): Promise<{ anchorPem: string; issuer: KeyPairPem }> {
  const at = opts.at ?? new Date();
  const anchorPem = await loadAnchorBundle(opts.anchorFile, at);
  const pair = (await readPair(opts.certFile, opts.keyFile, true)) as KeyPairPem;
  return { anchorPem, issuer: checkedIssuer(pair, anchorPem, { ...opts, at, source: opts.certFile }) };
}

/**
 * An issuer pair read from anywhere (files, or the isthmus-issuer Secret of a running install),
 * validated against the anchor bundle; problems → CERT_INVALID, each prefixed with `source`.
 */
export function checkedIssuer(
  pair: KeyPairPem,
  anchorPem: string,
  opts: { at?: Date; scope?: { cluster: string; trustDomain: string }; source: string },
): KeyPairPem {
  const at = opts.at ?? new Date();
  if (splitPem(pair.certPem).length === 0) {
    const swapped = /-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(pair.certPem);
    throw invalid([
      `${opts.source}: no PEM certificate${swapped ? ' but a private key: are the issuer certificate and key swapped?' : ''}`,
    ]);
  }
  // cert-manager writes the issuer followed by its CA into tls.crt: the issuer is the first.
  const issuer = { ...pair, certPem: splitPem(pair.certPem)[0] ?? pair.certPem };
  const found = [
    ...issuerProblems(issuer.certPem, issuer.keyPem, anchorPem, at),
    ...(opts.scope ? issuerScopeProblems(issuer.certPem, opts.scope) : []),
  ].map((p) => `${opts.source}: ${p}`);
  if (found.length > 0) throw invalid(found);
  return issuer;
}

/** An issuer's certificate and key files, read but not yet validated (see checkedIssuer). */
export async function readIssuerPair(certFile: string, keyFile: string): Promise<KeyPairPem> {
  return (await readPair(certFile, keyFile, true)) as KeyPairPem;
}

/** An anchor bundle read from anywhere, validated as loadAnchorBundle validates the file. */
export function checkedAnchorBundle(anchorPem: string, source: string, at = new Date()): string {
  const problems = anchorBundleProblems(anchorPem, at).map((p) => `${source}: ${p}`);
  if (problems.length > 0) throw invalid(problems);
  return anchorPem;
}

export interface CertsCommandOptions extends WriteCertificatesOptions {}

/** `isthmus certs`: write, then read back through the same validation `install` will use. */
export async function runCertsCommand(opts: CertsCommandOptions): Promise<WrittenCertificates> {
  const result = await writeCertificates(opts);
  await loadCertificates({ dir: opts.outDir, clusters: opts.clusters });
  return result;
}

function checkNames(clusters: string[], trustDomain: string): void {
  const problems: string[] = [];
  if (clusters.length === 0) problems.push('at least one cluster name is required');
  if (!isValidTrustDomain(trustDomain)) problems.push(`trust domain "${trustDomain}" is not valid`);
  for (const c of clusters) if (!isValidClusterName(c)) problems.push(`"${c}" is not a valid cluster name`);
  const dupes = clusters.filter((c, i) => clusters.indexOf(c) !== i);
  if (dupes.length > 0) problems.push(`cluster names repeated: ${[...new Set(dupes)].join(', ')}`);
  if (problems.length > 0) throw new IsthmusError('USAGE', problems.join('; '), { terminal: true });
}

function issuerPaths(dir: string, cluster: string) {
  const clusterDir = join(dir, cluster);
  return {
    dir: clusterDir,
    cert: join(clusterDir, ISSUER_CERT_FILE),
    key: join(clusterDir, ISSUER_KEY_FILE),
  };
}

export async function loadAnchor(
  dir: string,
  at: Date,
  requireKey: boolean,
): Promise<LoadedCertificates['anchor']> {
  const certFile = join(dir, ANCHOR_CERT_FILE);
  const pair = await readPair(certFile, join(dir, ANCHOR_KEY_FILE), requireKey);
  const problems = anchorProblems(pair.certPem, pair.keyPem, at).map((p) => `${certFile}: ${p}`);
  if (problems.length > 0) throw invalid(problems);
  return pair;
}

async function readPair(certFile: string, keyFile: string, requireKey: boolean) {
  const certPem = await readText(certFile);
  const keyPem = requireKey ? await readText(keyFile) : await readText(keyFile).catch(() => undefined);
  return keyPem === undefined ? { certPem } : { certPem, keyPem };
}

async function readText(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    throw new IsthmusError('CERT_INVALID', `cannot read ${path}: ${(err as Error).message}`, { cause: err });
  }
}

export async function issuerDirectories(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  const found: string[] = [];
  for (const e of entries) {
    if (e.isDirectory() && (await exists(join(dir, e.name, ISSUER_CERT_FILE)))) found.push(e.name);
  }
  return found.sort();
}

async function existingOf(paths: readonly string[]): Promise<string[]> {
  const found: string[] = [];
  for (const p of paths) if (await exists(p)) found.push(p);
  return found;
}

export async function exists(path: string): Promise<boolean> {
  return lstat(path).then(
    () => true,
    () => false,
  );
}

/** Write to a sibling temp file with the final mode, then rename: readers never see half a key. */
export function writeAtomic(path: string, data: string, mode: number, write?: WriteFile): Promise<void> {
  return writeAllAtomic([{ path, data, mode }], write);
}

export interface AtomicFile {
  path: string;
  data: string;
  mode: number;
}

/**
 * writeAtomic for several files: all are written to temp files before any is renamed, so a failed
 * write (a full disk, a permission) replaces none of them. Only a rename in between could fail
 * halfway, and renaming within one folder does not run out of space.
 */
export async function writeAllAtomic(
  files: readonly AtomicFile[],
  write: WriteFile = writeFile,
): Promise<void> {
  const staged: string[] = [];
  try {
    for (const f of files) {
      staged.push(`${f.path}.${randomBytes(4).toString('hex')}.tmp`);
      await write(staged.at(-1)!, f.data, { mode: f.mode, flag: 'wx' });
    }
    for (const [i, f] of files.entries()) await rename(staged[i]!, f.path);
  } catch (err) {
    await Promise.all(staged.map((tmp) => rm(tmp, { force: true })));
    throw err;
  }
}

function invalid(problems: string[]): IsthmusError {
  return new IsthmusError('CERT_INVALID', problems.join('; '), { terminal: true });
}

/** `word` as one shell word: as it is when nothing in it is special, else single-quoted. */
export function shellWord(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replaceAll("'", "'\\''")}'`;
}

/**
 * The command printed for the user to take certificates into a cluster. `isthmus upgrade`, not
 * `install`: upgrade renders the install again from the flags recorded in the cluster, replacing
 * only the certificate files given, where install with these flags alone would drop every other
 * (an --ha install back to one replica). The kubeconfig context is taken to be named as the
 * cluster, as in the rest of the docs.
 */
export function upgradeCommand(cluster: string, anchorFile: string, issuerDir: string): string {
  const c = shellWord(cluster);
  return [
    `isthmus upgrade --context ${c}`,
    `--trust-anchor ${shellWord(anchorFile)}`,
    `--issuer-cert ${shellWord(join(issuerDir, cluster, ISSUER_CERT_FILE))}`,
    `--issuer-key ${shellWord(join(issuerDir, cluster, ISSUER_KEY_FILE))}`,
    `| kubectl --context ${c} apply -f -`,
  ].join(' ');
}

export function restartCommand(cluster: string, deployments: string): string {
  return `kubectl --context ${shellWord(cluster)} -n isthmus-system rollout restart ${deployments}`;
}

export const GATEWAY_DEPLOYMENT = 'deployment/isthmus-gateway';

/**
 * What `isthmus certs --reuse-anchor --force` prints after renewing issuers: where each old one
 * went and what its leaves are worth now, then how to apply the new one. `isthmus identity`
 * follows its mounted issuer Secret (issuer-watch.ts), so no restart is needed for it to sign
 * with the new issuer; the gateways renew their leaves on their own schedule, except leaves of a
 * revoked issuer, which a gateway that loads crl.pem replaces as soon as identity can sign others.
 */
export async function renewalSteps(dir: string, renewed: readonly RenewedIssuer[]): Promise<string> {
  if (renewed.length === 0) return '';
  const rotating = await exists(join(dir, PREVIOUS_DIR));
  const anchorFile = join(dir, rotating ? ANCHOR_BUNDLE_FILE : ANCHOR_CERT_FILE);
  const lines: string[] = [];
  for (const r of renewed) {
    lines.push(
      r.revoked
        ? `kept the replaced issuer of ${r.cluster} in ${r.retired}. It is revoked (${join(dir, ANCHOR_CRL_FILE)} lists it): gateways that have loaded crl.pem refuse every certificate it signed, the ones ${r.cluster}'s own gateways hold now included, and \`certs revoke\` keeps it in crl.pem`
        : `kept the replaced issuer of ${r.cluster} in ${r.retired}: its leaves stay trusted until they expire, and \`certs revoke\` keeps its CRL in crl.pem`,
    );
  }
  lines.push(
    `Apply the new issuer in its cluster${rotating ? ` (an anchor rotation is in progress: with ${anchorFile}, once step 1 is done there)` : ''}:`,
  );
  for (const r of renewed) lines.push(`  ${upgradeCommand(r.cluster, anchorFile, dir)}`);
  for (const r of renewed) {
    const info = certificateInfo(await readFile(r.certFile, 'utf8'));
    lines.push(
      `isthmus-identity of ${r.cluster} signs with the new issuer without a restart, once kubelet has updated its Secret mount (within a minute or two; its log then says "identity: issuer reloaded: ${info.subject}, serial ${normaliseSerial(info.serialNumber)}"). Its gateways get leaves of the new issuer at their next renewal (at about 70 % of a leaf's lifetime).`,
    );
    if (r.revoked) {
      // src/gateway/own-certificate-revocation.ts: a failed renewal is retried by the rotator.
      lines.push(
        `${r.cluster}'s gateways that have loaded crl.pem renew at once, and retry (at most about 30 s apart) while identity still serves with the revoked issuer: they take leaves of the new issuer once identity has reloaded it. A gateway run with --cert-file needs new files and a SIGHUP.`,
      );
    }
  }
  return `${lines.join('\n')}\n`;
}

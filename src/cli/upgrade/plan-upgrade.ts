/**
 * `isthmus upgrade` decides here, without I/O: which flags the new install renders with (the
 * recorded ones, replaced by those given, minus `--unset`), what it tells the user about the
 * change, and what `kubectl apply` will leave behind that the new install no longer has.
 */
import { X509Certificate } from 'node:crypto';
import { IsthmusError } from '../../errors.js';
import { GATEWAY_DEPLOYMENT } from '../../identity/files.js';
import { splitPem } from '../../identity/pem.js';
import { SYSTEM_NAMESPACE } from '../../kube/keys.js';
import { imageVersion } from '../install/image-version.js';
import {
  FILE_FLAGS,
  type FlagValue,
  flagChanges,
  type InstallRecord,
  mergeFlags,
  type RecordedFlags,
} from '../install/install-record.js';

const usage = (message: string) => new IsthmusError('USAGE', message, { terminal: true });

/** `--unset` takes a flag's long name, with or without its dashes. */
export const unsetName = (flag: string) => flag.replace(/^--/, '');

export function upgradeFlags(
  record: InstallRecord,
  given: RecordedFlags,
  unset: readonly string[],
  known: ReadonlyMap<string, unknown>,
): RecordedFlags {
  const problems: string[] = [];
  for (const flag of unset) {
    // A flag the record has can be dropped, even one this CLI does not know or never records.
    const droppable = (known.has(flag) && !FILE_FLAGS.includes(flag)) || flag in record.flags;
    if (!droppable) problems.push(`--unset ${flag}: no such install flag`);
    else if (flag === 'cluster-name')
      problems.push("--unset cluster-name: a cluster's name is what every Link to it calls it");
    else if (given[flag] !== undefined) problems.push(`--${flag} is both given and unset`);
  }
  const recordedName = record.flags['cluster-name'];
  const givenName = given['cluster-name'];
  if (givenName !== undefined && recordedName !== undefined && givenName !== recordedName) {
    problems.push(
      `this install is cluster ${recordedName}; --cluster-name ${givenName} would rename it, and every Link to it names it: install the other name afresh instead`,
    );
  }
  if (problems.length > 0) throw usage(problems.join('; '));
  return mergeFlags(record.flags, given, unset);
}

/** `--trust-anchor` as upgrade weighs it against the anchor (bundle) the cluster holds. */
export interface AnchorChange {
  /** ca.crt of the isthmus-trust-anchor ConfigMap; undefined: none, or it could not be read. */
  installedPem: string | undefined;
  /** The `--trust-anchor` file's bundle; undefined: not given (the cluster's anchor stays). */
  givenPem: string | undefined;
  /** The file, as the message names it. */
  givenFile?: string;
  /** `--replace-trust-anchor`: a swap that keeps none of the installed anchors is meant. */
  replace: boolean;
  /** `--kubeconfig`/`--context` as given to upgrade, for the kubectl command the note gives. */
  kubectlFlags?: readonly string[];
}

/**
 * Whether a new trust anchor (bundle) may be applied: refused (USAGE) when it keeps none of the
 * anchors installed here, unless `--replace-trust-anchor` says that is meant. Every other cluster
 * still trusts only the installed anchor, so it would refuse this cluster's gateway, and this one
 * theirs: the rotation's steps (README, "Rotating the trust anchor") keep an anchor in common at each
 * step, first a bundle of both. An anchor is kept when the new bundle has one of the same subject and
 * key (a chain verifies under either). Returns the note for a swap that is meant; undefined when
 * there is nothing to say. Nothing installed (or unreadable) leaves nothing to compare with.
 */
export function anchorReplacement(change: AnchorChange): string | undefined {
  const { installedPem, givenPem, replace } = change;
  if (givenPem === undefined) {
    if (replace)
      throw usage(
        '--replace-trust-anchor goes with --trust-anchor (the anchor that replaces the one installed)',
      );
    return undefined;
  }
  const installed = installedPem === undefined ? [] : anchorsOf(installedPem);
  const given = anchorsOf(givenPem);
  if (installed.length === 0 || given.length === 0) return undefined;
  const kept = new Set(given.map(anchorKey));
  if (installed.some((a) => kept.has(anchorKey(a)))) return undefined;
  const serials = (certs: X509Certificate[]) =>
    `serial${certs.length > 1 ? 's' : ''} ${certs.map((a) => a.serialNumber).join(', ')}`;
  const [before, after] = [serials(installed), serials(given)];
  if (!replace) {
    const file = change.givenFile ? ` ${change.givenFile}` : '';
    throw usage(
      `--trust-anchor${file} (${after}) keeps none of the trust anchors installed in this cluster (${before}): every cluster still on the installed anchor would refuse this cluster's gateway, and this one theirs. Rotate the anchor in the steps of the README's "Rotating the trust anchor": first upgrade every cluster with a bundle of both anchors (ca-bundle.crt, from isthmus certs new-anchor) and its current issuer, then with the bundle and the new issuer, and only then with the new anchor alone. To replace the anchor at once anyway (a single cluster, or every cluster together), add --replace-trust-anchor`,
    );
  }
  return `--replace-trust-anchor: the trust anchor is replaced outright (${before} → ${after}): every cluster still on the old anchor refuses this cluster's gateway, and this one theirs, until it is upgraded to the new anchor too; ${gatewayRestartNote(change.kubectlFlags)}`;
}

/**
 * Said with a new trust anchor: a gateway reads --ca-file once, at start (gateway-certificates.ts
 * loadCertificates), and the Deployment's pod template does not change with the ConfigMap, so
 * applying alone leaves every gateway on the old anchor. Identity follows its anchor file itself.
 */
export function gatewayRestartNote(kubectlFlags: readonly string[] = []): string {
  const kubectl = [
    'kubectl',
    ...kubectlFlags,
    '-n',
    SYSTEM_NAMESPACE,
    'rollout',
    'restart',
    GATEWAY_DEPLOYMENT,
  ];
  return `gateways read the trust anchor only at start: once this is applied, run ${kubectl.join(' ')}`;
}

/** The certificates of a PEM bundle; none when it cannot be parsed (the anchor checks say why). */
function anchorsOf(pem: string): X509Certificate[] {
  try {
    return splitPem(pem).map((c) => new X509Certificate(c));
  } catch {
    return [];
  }
}

/** What a chain verifies under: an anchor's subject and key, whatever else its certificate says. */
const anchorKey = (a: X509Certificate) =>
  `${a.subject}\n${a.publicKey.export({ type: 'spki', format: 'der' }).toString('base64')}`;

/** The lines upgrade prints on stderr before the manifests: versions, flag changes, leftovers. */
export function upgradeNotes(
  record: InstallRecord,
  flags: RecordedFlags,
  leftovers: readonly string[],
  opts: { cliVersion: string; kubectlFlags?: readonly string[] },
): string[] {
  const notes: string[] = [];
  const { cliVersion } = opts;
  if (record.version !== cliVersion) {
    const down = newerVersion(record.version, cliVersion);
    notes.push(
      down
        ? `this downgrades the install from isthmus ${record.version} to ${cliVersion}: its pods get ${cliVersion}'s image and manifests`
        : `the install was rendered by isthmus ${record.version || '(unknown)'}; this is ${cliVersion}`,
    );
  }
  const pinned = pinnedImageNote(flags.image, cliVersion);
  if (pinned) notes.push(pinned);
  const changes = flagChanges(record.flags, flags);
  notes.push(changes.length > 0 ? `flags changed: ${changes.join('; ')}` : 'flags unchanged');
  if (leftovers.length > 0) {
    notes.push(
      `kubectl apply deletes nothing; once this is applied, delete what the install no longer has (upgrade names it until it is gone):\n${deleteCommands(
        leftovers,
        opts.kubectlFlags,
      )
        .map((c) => `  ${c}`)
        .join('\n')}`,
    );
  }
  return notes;
}

/**
 * A recorded `--image` tagged with another version stays: the pods would run that binary under this
 * CLI's manifests, whose arguments it may not know. Said plainly, with the image to give instead.
 */
function pinnedImageNote(image: FlagValue | undefined, cliVersion: string): string | undefined {
  if (typeof image !== 'string') return undefined;
  const tagged = imageVersion(image);
  if (tagged === undefined || tagged.replace(/^v/, '') === cliVersion) return undefined;
  const repository = image.slice(0, image.lastIndexOf(':'));
  return `the recorded --image ${image} keeps the pods on ${tagged} under ${cliVersion}'s manifests: give --image ${repository}:${cliVersion} to move them, or --unset image for the default image`;
}

/** Whether version `a` is later than `b` (numeric major.minor.patch; anything else compares as not later). */
export function newerVersion(a: string, b: string): boolean {
  const parts = (v: string) => /^v?(\d+)\.(\d+)\.(\d+)/.exec(v)?.slice(1).map(Number);
  const [x, y] = [parts(a), parts(b)];
  if (!x || !y) return false;
  for (let i = 0; i < 3; i++) if (x[i] !== y[i]) return x[i]! > y[i]!;
  return false;
}

/** `kubectl delete` lines for `apiVersion kind [namespace/]name` lines, one per namespace. */
export function deleteCommands(lines: readonly string[], kubectlFlags: readonly string[] = []): string[] {
  const byNamespace = new Map<string, string[]>();
  for (const line of lines) {
    const [apiVersion = '', kind = '', ref = ''] = line.split(' ');
    const [namespace, name] = ref.includes('/') ? ref.split('/') : ['', ref];
    const group = apiVersion.includes('/') ? apiVersion.split('/')[0] : '';
    const type = `${kind.toLowerCase()}${group ? `.${group}` : ''}`;
    byNamespace.set(namespace!, [...(byNamespace.get(namespace!) ?? []), `${type}/${name}`]);
  }
  return [...byNamespace].map(([namespace, refs]) =>
    ['kubectl', ...kubectlFlags, 'delete', ...(namespace ? ['-n', namespace] : []), ...refs].join(' '),
  );
}

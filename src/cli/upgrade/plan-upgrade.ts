/**
 * `isthmus upgrade` decides here, without I/O: which flags the new install renders with (the
 * recorded ones, replaced by those given, minus `--unset`), what it tells the user about the
 * change, and what `kubectl apply` will leave behind that the new install no longer has.
 */
import { IsthmusError } from '../../errors.js';
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

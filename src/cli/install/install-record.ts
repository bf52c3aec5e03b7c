/**
 * What `isthmus install` records of itself in the cluster, so that `isthmus upgrade` renders the
 * same install again with only what changes given on its command line (Linkerd keeps its values in
 * the linkerd-config ConfigMap, which `linkerd upgrade` reads back). Kept: the flags as typed, by
 * their long names, except the certificate files (paths on the machine that ran install; the
 * anchor and the issuer are in the cluster already), and the objects the install rendered, so an
 * upgrade can name those it no longer renders (`kubectl apply` deletes nothing).
 */
import type { V1ConfigMap } from '@kubernetes/client-node';
import { parse } from 'yaml';
import { IsthmusError } from '../../errors.js';
import { kubeYaml } from '../kube-yaml.js';
import { PART_OF } from './options.js';

export const INSTALL_RECORD_CONFIGMAP = 'isthmus-config';

/** A switch (`--ha`), a value (`--image x`) or a repeatable flag (`--toleration a --toleration b`). */
export type FlagValue = true | string | string[];
export type FlagKind = 'switch' | 'value' | 'repeatable';
/** Long flag name without the dashes → what was given. */
export type RecordedFlags = Readonly<Record<string, FlagValue>>;

/** Never recorded: paths on the machine that ran install. */
export const FILE_FLAGS: readonly string[] = ['trust-anchor', 'issuer-cert', 'issuer-key'];

export interface InstallRecord {
  /** The CLI version that rendered the install. */
  version: string;
  flags: RecordedFlags;
  /** `apiVersion kind [namespace/]name` of every object the install rendered. */
  objects: string[];
}

export interface ObjectRef {
  apiVersion?: string;
  kind?: string;
  metadata?: { name?: string; namespace?: string };
}

export function objectLine(o: ObjectRef): string {
  const ns = o.metadata?.namespace;
  return `${o.apiVersion} ${o.kind} ${ns ? `${ns}/` : ''}${o.metadata?.name}`;
}

export function installRecordManifest(namespace: string, record: InstallRecord): V1ConfigMap {
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: INSTALL_RECORD_CONFIGMAP, namespace, labels: { ...PART_OF } },
    data: {
      version: record.version,
      flags: kubeYaml(record.flags),
      objects: `${record.objects.join('\n')}\n`,
    },
  };
}

const recordError = (problem: string) =>
  new IsthmusError(
    'INSTALL_RECORD_INVALID',
    `the ConfigMap ${INSTALL_RECORD_CONFIGMAP} is not what isthmus install writes: ${problem}; run isthmus install with every flag once, which writes it again`,
    { terminal: true },
  );

/**
 * The record of a ConfigMap read from the cluster, each flag checked against the kinds this CLI
 * knows (`kindOf`): a flag it does not know (the install was made by a newer CLI) or a value of
 * the wrong shape is an error naming it, never silently dropped.
 */
export function parseInstallRecord(
  cm: V1ConfigMap,
  kindOf: (flag: string) => FlagKind | undefined,
  /** Flags about to be dropped (`upgrade --unset`): kept as they are, whatever they hold. */
  dropping: readonly string[] = [],
): InstallRecord {
  const data = cm.data ?? {};
  const version = data.version ?? '';
  let raw: unknown;
  try {
    raw = parse(data.flags ?? '');
  } catch (err) {
    throw recordError(`flags is not YAML (${(err as Error).message.split('\n')[0]})`);
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw recordError('flags is not a mapping of flag names to values');
  }
  const flags: Record<string, FlagValue> = {};
  for (const [flag, value] of Object.entries(raw)) {
    if (dropping.includes(flag)) {
      flags[flag] = value as FlagValue;
      continue;
    }
    const kind = kindOf(flag);
    if (!kind || FILE_FLAGS.includes(flag)) {
      throw new IsthmusError(
        'INSTALL_RECORD_INVALID',
        `the install was recorded with --${flag}, which this isthmus (the CLI) does not know${version ? ` (the install was made by ${version})` : ''}: upgrade with a CLI that knows it, or drop it with --unset ${flag}`,
        { terminal: true },
      );
    }
    if (!fitsKind(value, kind)) throw recordError(`--${flag} should be ${KIND_SHAPE[kind]}`);
    flags[flag] = value as FlagValue;
  }
  const objects = (data.objects ?? '')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '');
  return { version, flags, objects };
}

const KIND_SHAPE: Record<FlagKind, string> = {
  switch: 'true (a switch: leave it out to turn it off)',
  value: 'a string',
  repeatable: 'a list of strings',
};

function fitsKind(value: unknown, kind: FlagKind): boolean {
  if (kind === 'switch') return value === true;
  if (kind === 'value') return typeof value === 'string';
  return Array.isArray(value) && value.every((v) => typeof v === 'string');
}

/**
 * The flags an upgrade renders with: the recorded ones, each replaced by the same flag given now (a
 * repeatable flag given now replaces the whole list, as Linkerd's `--set` does), minus `unset`.
 */
export function mergeFlags(
  recorded: RecordedFlags,
  given: RecordedFlags,
  unset: readonly string[],
): RecordedFlags {
  const merged: Record<string, FlagValue> = { ...recorded, ...given };
  for (const flag of unset) delete merged[flag];
  return merged;
}

const show = (v: FlagValue | undefined) =>
  v === undefined ? 'unset' : v === true ? 'on' : Array.isArray(v) ? `[${v.join(', ')}]` : v;

/** One line per flag that differs, e.g. `--gateway-replicas: 2 → 3`, `--ha: on → unset`. */
export function flagChanges(before: RecordedFlags, after: RecordedFlags): string[] {
  const names = [...new Set([...Object.keys(before), ...Object.keys(after)])].sort();
  return names
    .filter((n) => show(before[n]) !== show(after[n]))
    .map((n) => `--${n}: ${show(before[n])} → ${show(after[n])}`);
}

/**
 * What the recorded install had and the new one does not, for `kubectl delete` once the new one
 * is applied. CRDs and the namespace never: deleting either deletes every object in it.
 */
export function staleObjects(recorded: readonly string[], rendered: readonly string[]): string[] {
  // By kind and name: an object whose apiVersion moved on is still the same object.
  const identity = (line: string) => line.split(' ').slice(1).join(' ');
  const now = new Set(rendered.map(identity));
  return recorded.filter((line) => {
    const kind = line.split(' ')[1];
    return !now.has(identity(line)) && kind !== 'CustomResourceDefinition' && kind !== 'Namespace';
  });
}

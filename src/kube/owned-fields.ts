/**
 * "Compare only the fields you own" (STYLE.md §5): the API server defaults fields we never set
 * (Service `protocol: TCP`, `clusterIP`, `sessionAffinity`, EndpointSlice `conditions.serving`...).
 * Deep-comparing the whole object against what we want would see a difference forever and update
 * forever. Instead we ask: does the existing object already hold every value that we set?
 */
import type { KubeObject } from './types.js';

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/**
 * True when every field set in `desired` has the same value in `existing`; fields only in
 * `existing` are ignored (server defaults). Arrays must have the same length and match element by
 * element, since a list we own (ports, endpoints) is ours in full. `undefined` in desired means
 * "not set", `null` means "must be absent".
 */
export function isSubsetOf(desired: unknown, existing: unknown): boolean {
  if (desired === undefined) return true;
  if (desired === null) return existing === null || existing === undefined;
  if (Array.isArray(desired)) {
    return (
      Array.isArray(existing) &&
      existing.length === desired.length &&
      desired.every((d, i) => isSubsetOf(d, existing[i]))
    );
  }
  if (isPlainObject(desired)) {
    if (!isPlainObject(existing)) return false;
    return Object.entries(desired).every(([k, v]) => isSubsetOf(v, existing[k]));
  }
  return desired === existing;
}

export interface OwnedFields {
  /** Top-level or dotted paths whose desired value we own, e.g. ['spec', 'data'] or ['spec.ports']. */
  fields?: string[];
  /** Label keys we set earlier and may now want gone (absent from desired → removed). */
  ownedLabels?: string[];
  /** Annotation keys likewise. */
  ownedAnnotations?: string[];
}

function getPath(obj: unknown, path: string[]): unknown {
  let cur = obj;
  for (const p of path) {
    if (!isPlainObject(cur)) return undefined;
    cur = cur[p];
  }
  return cur;
}

function setPath(obj: Record<string, unknown>, path: string[], value: unknown): void {
  let cur = obj;
  for (const p of path.slice(0, -1)) {
    if (!isPlainObject(cur[p])) cur[p] = {};
    cur = cur[p] as Record<string, unknown>;
  }
  cur[path[path.length - 1] as string] = value;
}

/** A JSON merge patch (RFC 7386) for the string maps we own: set what differs, null what we drop. */
function mapPatch(
  desired: Record<string, string> | undefined,
  existing: Record<string, string> | undefined,
  owned: string[],
): Record<string, string | null> | undefined {
  const patch: Record<string, string | null> = {};
  for (const [k, v] of Object.entries(desired ?? {})) {
    if (existing?.[k] !== v) patch[k] = v;
  }
  for (const k of owned) {
    if (desired?.[k] === undefined && existing?.[k] !== undefined) patch[k] = null;
  }
  return Object.keys(patch).length > 0 ? patch : undefined;
}

/**
 * The merge patch that makes `existing` hold what we own of `desired`, or null when it already
 * does. Labels/annotations are compared key by key (others' keys are left alone); each owned field
 * is compared with isSubsetOf and, when it differs, sent whole (a merge patch replaces arrays).
 */
export function ownedFieldsPatch<T extends KubeObject>(
  existing: T,
  desired: T,
  owned: OwnedFields = {},
): Record<string, unknown> | null {
  const patch: Record<string, unknown> = {};
  const labels = mapPatch(desired.metadata?.labels, existing.metadata?.labels, owned.ownedLabels ?? []);
  const annotations = mapPatch(
    desired.metadata?.annotations,
    existing.metadata?.annotations,
    owned.ownedAnnotations ?? [],
  );
  if (labels) setPath(patch, ['metadata', 'labels'], labels);
  if (annotations) setPath(patch, ['metadata', 'annotations'], annotations);
  for (const field of owned.fields ?? []) {
    const path = field.split('.');
    const want = getPath(desired, path);
    if (want !== undefined && !isSubsetOf(want, getPath(existing, path))) setPath(patch, path, want);
  }
  return Object.keys(patch).length > 0 ? patch : null;
}

/** True when `existing` already holds everything we own of `desired`. */
export function ownedFieldsEqual<T extends KubeObject>(
  existing: T,
  desired: T,
  owned: OwnedFields = {},
): boolean {
  return ownedFieldsPatch(existing, desired, owned) === null;
}

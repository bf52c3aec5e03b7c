/**
 * kube-apiserver's ValidatePodUpdate (`pkg/apis/core/validation/validation.go`): a Pod's spec is
 * fixed at create but for a few fields, so a controller that edits a live Pod's spec (rather than
 * replacing the Pod) fails here as it would on a real cluster. Checked in kube's order, with its
 * early returns; the status subresource never reaches this with a changed spec (rest-ops.ts keeps
 * the stored spec, as the pod status strategy's PrepareForUpdate does).
 *
 * Left out: the `resize` subresource (in-place resource changes) and a gated Pod's node affinity
 * additions; both are refused here as any other spec change.
 */
import { child, forbidden, index, invalid, type StatusCause } from '../kube/validation/field-errors.js';
import {
  cloneJson,
  getArray,
  getRecord,
  isRecord,
  type JsonObject,
  jsonEqual,
} from '../kube/validation/json-values.js';

/** updatablePodSpecFields, joined with "," as ValidatePodUpdate words its Forbidden. */
const UPDATABLE_FIELDS = [
  '`spec.containers[*].image`',
  '`spec.initContainers[*].image`',
  '`spec.activeDeadlineSeconds`',
  '`spec.tolerations` (only additions to existing tolerations)',
  '`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)',
].join(',');

const CONTAINER_LISTS = ['containers', 'initContainers'] as const;
const MAX_INT32 = 2147483647;

export function validatePodUpdate(pod: unknown, old: unknown): StatusCause[] {
  const spec = getRecord(pod, 'spec') ?? {};
  const oldSpec = getRecord(old, 'spec') ?? {};
  const out: StatusCause[] = [];
  for (const list of CONTAINER_LISTS) {
    const path = child('spec', list);
    const [now, before] = [listOf(spec, list), listOf(oldSpec, list)];
    // Nothing else is compared once the lists differ in length (ValidateContainerUpdates' stop).
    if (now.length !== before.length)
      return [...out, forbidden(path, 'pod updates may not add or remove containers')];
    out.push(...imageWhitespace(now, path));
  }
  const deadline = activeDeadlineUpdate(spec.activeDeadlineSeconds, oldSpec.activeDeadlineSeconds);
  if (deadline) {
    out.push(deadline);
    if (spec.activeDeadlineSeconds != null) return out;
  }
  out.push(...onlyAddedTolerations(listOf(spec, 'tolerations'), listOf(oldSpec, 'tolerations')));
  out.push(...onlyDeletedGates(listOf(spec, 'schedulingGates'), listOf(oldSpec, 'schedulingGates')));
  const munged = mungedSpec(spec, oldSpec);
  if (listOf(oldSpec, 'schedulingGates').length > 0) {
    // A gated Pod may still have its placement narrowed (what Kueue does before releasing it).
    out.push(...onlyAddedNodeSelector(spec.nodeSelector, oldSpec.nodeSelector));
    setOrDelete(munged, 'nodeSelector', oldSpec.nodeSelector);
  }
  const [before, after] = [semantic(oldSpec), semantic(munged)];
  if (!jsonEqual(before, after)) {
    const diff = specDiff(before, after, 'spec').join('\n');
    out.push(forbidden('spec', `pod updates may not change fields other than ${UPDATABLE_FIELDS}\n${diff}`));
  }
  return out;
}

/** An absent list is an empty one (Go's nil slice). */
const listOf = (spec: JsonObject, key: string): unknown[] => getArray(spec, key) ?? [];

function imageWhitespace(containers: unknown[], path: string): StatusCause[] {
  return containers.flatMap((c, i) => {
    const image = isRecord(c) ? c.image : undefined;
    return typeof image === 'string' && image !== '' && image.trim() !== image
      ? [invalid(child(index(path, i), 'image'), image, 'must not have leading or trailing whitespace')]
      : [];
  });
}

/** Set from nothing, or lowered; never raised or unset. */
function activeDeadlineUpdate(now: unknown, before: unknown): StatusCause | undefined {
  const path = 'spec.activeDeadlineSeconds';
  if (typeof now === 'number') {
    if (now < 0 || now > MAX_INT32)
      return invalid(path, now, `must be between 0 and ${MAX_INT32}, inclusive`);
    if (typeof before === 'number' && before < now)
      return invalid(path, now, 'must be less than or equal to previous value');
    return undefined;
  }
  return typeof before === 'number'
    ? invalid(path, null, 'must not update from a positive integer to nil value')
    : undefined;
}

/** validateOnlyAddedTolerations: every old toleration is still there, tolerationSeconds aside. */
function onlyAddedTolerations(now: unknown[], before: unknown[]): StatusCause[] {
  const sansSeconds = (t: unknown) => {
    const { tolerationSeconds: _, ...rest } = isRecord(t) ? t : {};
    return semantic(rest);
  };
  const kept = before.every((o) => now.some((n) => jsonEqual(sansSeconds(o), sansSeconds(n))));
  return kept
    ? []
    : [forbidden('spec.tolerations', 'existing toleration can not be modified except its tolerationSeconds')];
}

/** validateOnlyDeletedSchedulingGates: a gate may go, never come (kube reports in map order; index order here). */
function onlyDeletedGates(now: unknown[], before: unknown[]): StatusCause[] {
  const names = new Set(before.map((g) => (isRecord(g) ? g.name : undefined)));
  return now.flatMap((g, i) => {
    const name = isRecord(g) ? g.name : undefined;
    if (names.has(name)) return [];
    const path = child(index('spec.schedulingGates', i), 'name');
    return [forbidden(path, `only deletion is allowed, but found new scheduling gate '${String(name)}'`)];
  });
}

function onlyAddedNodeSelector(now: unknown, before: unknown): StatusCause[] {
  const current = isRecord(now) ? now : {};
  const kept = Object.entries(isRecord(before) ? before : {}).every(([k, v]) => current[k] === v);
  return kept
    ? []
    : [
        invalid(
          'spec.nodeSelector',
          now ?? {},
          'only additions to spec.nodeSelector are allowed (no mutations or deletions)',
        ),
      ];
}

/** The new spec with every updatable field taken from the old one: what is left must not differ. */
function mungedSpec(spec: JsonObject, old: JsonObject): JsonObject {
  const munged = cloneJson(spec);
  for (const list of CONTAINER_LISTS) {
    const before = listOf(old, list);
    const now = getArray(munged, list);
    const imageOf = (i: number) => (isRecord(before[i]) ? before[i].image : undefined);
    if (now) munged[list] = now.map((c, i) => (isRecord(c) ? { ...c, image: imageOf(i) } : c));
  }
  for (const field of ['activeDeadlineSeconds', 'schedulingGates', 'tolerations'])
    setOrDelete(munged, field, old[field]);
  const grace = old.terminationGracePeriodSeconds;
  if (typeof grace === 'number' && grace < 0 && munged.terminationGracePeriodSeconds === 1) {
    munged.terminationGracePeriodSeconds = grace;
  }
  return munged;
}

function setOrDelete(obj: JsonObject, key: string, value: unknown): void {
  if (value === undefined) delete obj[key];
  else obj[key] = cloneJson(value);
}

/**
 * What apiequality.Semantic.DeepEqual compares after decoding: an empty string, list or map is the
 * same as an absent one (Go's zero values and nil slices/maps), so these are dropped.
 */
function semantic(value: unknown): unknown {
  if (Array.isArray(value)) return value.length === 0 ? undefined : value.map((v) => semantic(v) ?? null);
  if (isRecord(value)) {
    const out: JsonObject = {};
    for (const [k, v] of Object.entries(value)) {
      const s = semantic(v);
      if (s !== undefined) out[k] = s;
    }
    return Object.keys(out).length === 0 ? undefined : out;
  }
  return value === null || value === '' ? undefined : value;
}

/**
 * The changed leaves, `- path: old` / `+ path: new`: kube appends a cmp.Diff of the Go structs,
 * which nothing parses; this names the same fields by their JSON paths.
 */
function specDiff(before: unknown, after: unknown, path: string): string[] {
  if (jsonEqual(before, after)) return [];
  if (isRecord(before) && isRecord(after)) {
    const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])];
    return keys.flatMap((k) => specDiff(before[k], after[k], child(path, k)));
  }
  if (Array.isArray(before) && Array.isArray(after) && before.length === after.length) {
    return before.flatMap((v, i) => specDiff(v, after[i], index(path, i)));
  }
  return [
    ...(before === undefined ? [] : [`- ${path}: ${JSON.stringify(before)}`]),
    ...(after === undefined ? [] : [`+ ${path}: ${JSON.stringify(after)}`]),
  ];
}

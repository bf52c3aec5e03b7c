/**
 * Strategic merge patch as the apiserver applies it (k8s.io/apimachinery
 * `pkg/util/strategicpatch/patch.go`, StrategicMergeMapPatch with MergeParallelList and
 * IgnoreUnmatchedNulls): maps merge, null deletes, lists merge or replace per the kind's struct
 * tags (patch-meta.ts), and the directives `$patch` (replace | delete), `$retainKeys`,
 * `$setElementOrder/<list>` and `$deleteFromPrimitiveList/<list>`.
 */
import { cloneJson, isRecord, type JsonObject, jsonEqual } from '../kube/validation/json-values.js';
import { PatchError } from './patch-error.js';
import { type PatchMeta, STRATEGIC_PATCH_META } from './patch-meta.js';

const DIRECTIVE = '$patch';
const RETAIN_KEYS = '$retainKeys';
const SET_ORDER = '$setElementOrder/';
const DELETE_FROM = '$deleteFromPrimitiveList/';

/** Whether the kind has Go struct tags, i.e. accepts application/strategic-merge-patch+json. */
export function isStrategicMergeKind(gvk: string): boolean {
  return Object.hasOwn(STRATEGIC_PATCH_META, gvk);
}

export function applyStrategicMergePatch(target: unknown, patch: unknown, gvk: string): unknown {
  const meta = STRATEGIC_PATCH_META[gvk];
  if (!meta) {
    throw new PatchError(
      415,
      'the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml',
    );
  }
  if (!isRecord(patch)) {
    throw new PatchError(
      400,
      `json: cannot unmarshal ${Array.isArray(patch) ? 'array' : typeof patch} into Go value of type map[string]interface {}`,
    );
  }
  return mergeMap(isRecord(target) ? cloneJson(target) : {}, cloneJson(patch), meta);
}

const goMap = (m: unknown): string => JSON.stringify(m);

/** A patch value placed where the original has nothing: directives and nulls dropped (the typed decode does so in kube). */
function stripDirectives(value: unknown): unknown {
  if (Array.isArray(value)) {
    return value
      .filter((v) => !(isRecord(v) && v[DIRECTIVE] !== undefined && Object.keys(v).length === 1))
      .map(stripDirectives);
  }
  if (!isRecord(value)) return value;
  const out: JsonObject = {};
  for (const [k, v] of Object.entries(value)) {
    if (
      k === DIRECTIVE ||
      k === RETAIN_KEYS ||
      k.startsWith(SET_ORDER) ||
      k.startsWith(DELETE_FROM) ||
      v === null
    )
      continue;
    out[k] = stripDirectives(v);
  }
  return out;
}

function mergeMap(original: JsonObject, patch: JsonObject, meta: PatchMeta | undefined): JsonObject {
  if (Object.hasOwn(patch, DIRECTIVE)) {
    const directive = patch[DIRECTIVE];
    if (directive === 'replace') {
      delete patch[DIRECTIVE];
      return stripDirectives(patch) as JsonObject;
    }
    if (directive === 'delete') return {};
    throw new PatchError(422, `unknown patch type: ${String(directive)} in map: ${goMap(patch)}`);
  }
  applyRetainKeys(original, patch);
  mergeOrderedLists(original, patch, meta);
  for (const [rawKey, patchV] of Object.entries(patch)) {
    const isDeleteList = rawKey.startsWith(DELETE_FROM);
    const k = isDeleteList ? rawKey.slice(DELETE_FROM.length) : rawKey;
    if (patchV === null) {
      delete original[k];
      continue;
    }
    if (!Object.hasOwn(original, k)) {
      if (!isDeleteList) original[k] = stripDirectives(patchV);
      continue;
    }
    const origV = original[k];
    const fieldMeta = meta?.fields?.[k];
    if (isRecord(origV) && isRecord(patchV)) original[k] = mergeMap(origV, patchV, fieldMeta);
    else if (Array.isArray(origV) && Array.isArray(patchV)) {
      if (isDeleteList) {
        if (!Array.isArray(patchV)) throw new PatchError(400, 'invalid patch format of primitive list');
        if (fieldMeta?.mergeList) original[k] = origV.filter((v) => !patchV.some((d) => jsonEqual(d, v)));
      } else original[k] = mergeListField(origV, patchV, fieldMeta, undefined);
    } else original[k] = stripDirectives(patchV);
  }
  return original;
}

/** $retainKeys: keys of the original not listed are cleared; every patched key must be listed. */
function applyRetainKeys(original: JsonObject, patch: JsonObject): void {
  if (!Object.hasOwn(patch, RETAIN_KEYS)) return;
  const keys = patch[RETAIN_KEYS];
  delete patch[RETAIN_KEYS];
  if (!Array.isArray(keys)) throw new PatchError(400, 'invalid patch format of retainKeys');
  for (const [k, v] of Object.entries(patch)) {
    if (v === null || k.startsWith(DELETE_FROM) || k.startsWith(SET_ORDER)) continue;
    if (!keys.includes(k)) throw new PatchError(400, 'invalid patch format of retainKeys');
  }
  for (const k of Object.keys(original)) if (!keys.includes(k)) delete original[k];
}

/** mergePatchIntoOriginal: lists with a $setElementOrder are merged first, then ordered by it. */
function mergeOrderedLists(original: JsonObject, patch: JsonObject, meta: PatchMeta | undefined): void {
  for (const key of Object.keys(patch)) {
    if (!key.startsWith(SET_ORDER)) continue;
    const order = patch[key];
    delete patch[key];
    if (!Array.isArray(order)) throw new PatchError(400, 'invalid patch format of setElementOrder list');
    const field = key.slice(SET_ORDER.length);
    const origList = original[field];
    const patchList = patch[field];
    if (origList === undefined && patchList === undefined) continue;
    if (
      (origList !== undefined && !Array.isArray(origList)) ||
      (patchList !== undefined && !Array.isArray(patchList))
    ) {
      throw new PatchError(400, `invalid patch format of setElementOrder list for ${field}`);
    }
    if (patchList === null) continue; // deleted below
    const fieldMeta = meta?.fields?.[field];
    original[field] = mergeListField(
      (origList as unknown[] | undefined) ?? [],
      (patchList as unknown[] | undefined) ?? [],
      fieldMeta,
      order,
    );
    delete patch[field];
  }
}

function mergeListField(
  original: unknown[],
  patch: unknown[],
  meta: PatchMeta | undefined,
  order: unknown[] | undefined,
): unknown[] {
  if (!meta?.mergeList) return stripDirectives(patch) as unknown[];
  if (original.length === 0 && patch.length === 0) return original;
  const mergeKey = meta.mergeKey;
  const maps = [...original, ...patch].some(isRecord);
  let merged: unknown[];
  let patchItems: unknown[] = patch;
  let base = original;
  if (!maps) {
    merged = [...original];
    for (const v of patch) if (!merged.some((m) => jsonEqual(m, v))) merged.push(v);
  } else {
    if (!mergeKey) throw new PatchError(422, 'cannot merge lists without merge key');
    ({ base, patchItems } = specialElements(original, patch, mergeKey));
    merged = base.map((v) => v);
    for (const item of patchItems) {
      const p = item as JsonObject;
      if (!Object.hasOwn(p, mergeKey))
        throw new PatchError(422, `map: ${goMap(p)} does not contain declared merge key: ${mergeKey}`);
      const at = merged.findIndex((m) => isRecord(m) && jsonEqual(m[mergeKey], p[mergeKey]));
      if (at >= 0) merged[at] = mergeMap(merged[at] as JsonObject, p, meta.items);
      else merged.push(mergeMap({}, p, meta.items));
    }
  }
  return normalizeOrder(merged, order ?? patchItems, base, mergeKey);
}

/** `$patch: delete` items remove their match; a `$patch: replace` item makes the rest of the patch the list. */
function specialElements(
  original: unknown[],
  patch: unknown[],
  mergeKey: string,
): { base: unknown[]; patchItems: unknown[] } {
  const plain: unknown[] = [];
  let base = original;
  let replace = false;
  for (const v of patch) {
    if (!isRecord(v)) throw new PatchError(422, `list element types are not identical: ${goMap(patch)}`);
    if (!Object.hasOwn(v, DIRECTIVE)) {
      plain.push(v);
      continue;
    }
    const directive = v[DIRECTIVE];
    if (directive === 'delete') {
      if (!Object.hasOwn(v, mergeKey))
        throw new PatchError(422, `map: ${goMap(v)} does not contain declared merge key: ${mergeKey}`);
      base = base.filter((o) => !(isRecord(o) && jsonEqual(o[mergeKey], v[mergeKey])));
    } else if (directive === 'replace') replace = true;
    else if (directive === 'merge')
      throw new PatchError(422, 'merging lists cannot yet be specified in the patch');
    else throw new PatchError(422, `unknown patch type: ${String(directive)} in map: ${goMap(v)}`);
  }
  return replace ? { base: [], patchItems: plain } : { base, patchItems: plain };
}

/**
 * normalizeElementOrder: items named by the patch (or $setElementOrder) keep that order; items only
 * on the server keep theirs; the two are interleaved by server position where both are known, and
 * a patch item the server has never seen goes first (mergeSortedSlice).
 */
function normalizeOrder(
  merged: unknown[],
  patchOrder: unknown[],
  serverOrder: unknown[],
  mergeKey: string | undefined,
): unknown[] {
  const keyOf = (v: unknown): unknown => (mergeKey && isRecord(v) ? v[mergeKey] : v);
  const indexIn = (list: unknown[], v: unknown): number =>
    list.findIndex((x) => jsonEqual(keyOf(x), keyOf(v)));
  const inPatch = merged.filter((m) => indexIn(patchOrder, m) >= 0);
  const serverOnly = merged.filter((m) => indexIn(patchOrder, m) < 0);
  const byIndex = (list: unknown[]) => (a: unknown, b: unknown) => {
    const ia = indexIn(list, a);
    const ib = indexIn(list, b);
    return (ia < 0 ? Number.MAX_SAFE_INTEGER : ia) - (ib < 0 ? Number.MAX_SAFE_INTEGER : ib);
  };
  inPatch.sort(byIndex(patchOrder));
  serverOnly.sort(byIndex(serverOrder));
  const out: unknown[] = [];
  let i = 0;
  let j = 0;
  while (i < serverOnly.length || j < inPatch.length) {
    if (j >= inPatch.length) out.push(serverOnly[i++]);
    else if (i >= serverOnly.length) out.push(inPatch[j++]);
    else {
      const li = indexIn(serverOrder, serverOnly[i]);
      const ri = indexIn(serverOrder, inPatch[j]);
      if (li >= 0 && ri >= 0 && li < ri) out.push(serverOnly[i++]);
      else out.push(inPatch[j++]);
    }
  }
  return out;
}

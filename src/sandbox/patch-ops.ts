/**
 * PATCH as kube-apiserver's patch handler (`endpoints/handlers/patch.go`): the patch is applied to
 * the current object as served, a resourceVersion inside the patch is a precondition, and the
 * result goes through the ordinary update path (validation, status subresource, no-op detection).
 */
import { parse as parseYaml } from 'yaml';
import { ApiError, badRequest, notFound, staleConflict, unsupportedMediaType } from './api-status.js';
import { asServed } from './object-meta.js';
import { applyJsonPatch, applyMergePatch, applyStrategicMergePatch, PatchError } from './patch.js';
import { apiVersionOf, groupResource, gvkOf, type ResourceType, resourceKey } from './resource-types.js';
import type { RestOps, WriteOptions } from './rest-ops.js';
import type { KObj } from './store.js';

export const PATCH_TYPES = {
  json: 'application/json-patch+json',
  merge: 'application/merge-patch+json',
  strategic: 'application/strategic-merge-patch+json',
  apply: 'application/apply-patch+yaml',
} as const;

export function parseBody(contentType: string, raw: string): unknown {
  try {
    return contentType === PATCH_TYPES.apply ? parseYaml(raw) : JSON.parse(raw);
  } catch (err) {
    throw badRequest(`error decoding patch: ${(err as Error).message}`);
  }
}

export function patchFailure(err: unknown): never {
  if (err instanceof PatchError) {
    if (err.status === 415) {
      throw new ApiError(415, 'UnsupportedMediaType', err.message, {});
    }
    if (err.status === 422) throw new ApiError(422, 'Invalid', err.message, {});
    throw badRequest(err.message);
  }
  throw err;
}

/** The field manager's first check: an applied configuration names the URL's group/version. */
function checkApplyVersion(rt: ResourceType, version: string, patch: unknown): void {
  const want = apiVersionOf(rt.group, version);
  const got =
    patch && typeof patch === 'object' && !Array.isArray(patch)
      ? (patch as { apiVersion?: unknown }).apiVersion
      : undefined;
  if (got === want) return;
  // An absent apiVersion parses as the empty GroupVersion, printed "/".
  const shown = typeof got === 'string' && got !== '' ? got : '/';
  throw badRequest(
    `Incorrect version specified in apply patch. Specified patch version: ${shown}, expected: ${want}`,
  );
}

export function patchObject(
  ops: RestOps,
  rt: ResourceType,
  version: string,
  namespace: string | undefined,
  name: string,
  contentType: string,
  raw: string,
  opts: WriteOptions = {},
): { obj: KObj; created: boolean } {
  const type = contentType.split(';')[0]!.trim().toLowerCase();
  if (!Object.values(PATCH_TYPES).includes(type as never)) throw unsupportedMediaType(type);
  if (type === PATCH_TYPES.apply && !opts.fieldManager) {
    throw new ApiError(
      422,
      'Invalid',
      'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required for apply patch',
      {},
    );
  }
  const patch = parseBody(type, raw);
  if (type === PATCH_TYPES.apply) checkApplyVersion(rt, version, patch);
  const existing = ops.store.get(resourceKey(rt.group, rt.plural), namespace, name);
  if (!existing) {
    // Server-side apply creates; every other patch needs an object to patch.
    if (type === PATCH_TYPES.apply && !opts.subresource) {
      return { obj: ops.create(rt, version, namespace, patch, opts), created: true };
    }
    throw notFound(groupResource(rt), name);
  }
  const current = asServed(rt, existing, version);
  let result: unknown;
  try {
    if (type === PATCH_TYPES.json) result = applyJsonPatch(current, patch);
    else if (type === PATCH_TYPES.merge) result = applyMergePatch(current, patch);
    else if (rt.crd) {
      if (type === PATCH_TYPES.strategic) {
        throw new ApiError(
          415,
          'UnsupportedMediaType',
          `the body of the request was in an unknown format - accepted media types include: ${PATCH_TYPES.json}, ${PATCH_TYPES.merge}, ${PATCH_TYPES.apply}`,
          {},
        );
      }
      // Server-side apply on a CR, approximated as a merge of the applied configuration.
      result = applyMergePatch(current, patch);
    } else result = applyStrategicMergePatch(current, patch, gvkOf(rt));
  } catch (err) {
    patchFailure(err);
  }
  if (!result || typeof result !== 'object' || Array.isArray(result)) {
    throw badRequest('the patch produced something that is not an object');
  }
  const obj = result as KObj;
  obj.metadata ??= {};
  const rv = obj.metadata.resourceVersion;
  if (rv !== undefined && rv !== existing.metadata.resourceVersion)
    throw staleConflict(groupResource(rt), name);
  obj.metadata.resourceVersion = existing.metadata.resourceVersion;
  return ops.update(rt, version, namespace, name, obj, opts);
}

/**
 * One entry point for "is this object valid for this write": ObjectMeta rules, the built-in kind's
 * rules, or — for custom resources — the CRD's structural schema after pruning and defaulting,
 * exactly the order kube-apiserver applies them (decode → prune → default → validate).
 */

import type { StatusCause } from '../kube/validation/field-errors.js';
import { invalid } from '../kube/validation/field-errors.js';
import { badRequest } from './api-status.js';
import { validateCrd } from './crds.js';
import { pruneAndDefault, pruneUnknown, validateWithSchema } from './openapi-schema.js';
import type { ResourceType } from './resource-types.js';
import { gvkOf } from './resource-types.js';
import type { KObj } from './store.js';
import { nameRuleFor, validateBuiltin, validateObjectMeta } from './validation.js';

export interface WriteValidationOptions {
  allowLoopbackEndpoints: boolean;
}

/** The schema of a custom resource version, undefined for built-ins. */
export function crSchema(rt: ResourceType, version: string): unknown {
  return rt.crd?.versions.find((v) => v.name === version)?.schema;
}

/** Structural pruning and defaulting of a custom resource; built-ins are returned unchanged. */
export function pruneCustomResource(
  rt: ResourceType,
  version: string,
  obj: KObj,
  strict = false,
  warnings?: string[],
): KObj {
  if (!rt.crd) return obj;
  const schema = crSchema(rt, version);
  if (!schema) return obj;
  const out = pruneAndDefault(schema, obj) as KObj;
  if (strict || warnings) {
    const { metadata: _m, ...rest } = obj;
    const unknown = prunedPaths(rest, pruneUnknown(schema, obj)).filter(
      (p) => p !== 'apiVersion' && p !== 'kind',
    );
    if (strict && unknown.length > 0) {
      throw badRequest(
        `strict decoding error: ${unknown.map((p) => `unknown field ${JSON.stringify(p)}`).join(', ')}`,
      );
    }
    warnings?.push(...unknown.map((p) => `unknown field ${JSON.stringify(p)}`));
  }
  // apiVersion, kind and metadata are never pruned (apiextensions-apiserver keeps them aside).
  out.apiVersion = obj.apiVersion;
  out.kind = obj.kind;
  out.metadata = obj.metadata;
  return out;
}

/**
 * Paths present in `before` and gone from `after`: the fields structural pruning dropped, which
 * fieldValidation=Strict turns into `strict decoding error: unknown field "spec.x"` (kube 1.25+).
 */
export function prunedPaths(before: unknown, after: unknown, prefix = ''): string[] {
  if (Array.isArray(before) && Array.isArray(after)) {
    return before.flatMap((v, i) => prunedPaths(v, after[i], `${prefix}[${i}]`));
  }
  if (!isObj(before) || !isObj(after)) return [];
  const out: string[] = [];
  for (const [k, v] of Object.entries(before)) {
    const path = prefix ? `${prefix}.${k}` : k;
    if (!(k in after)) out.push(path);
    else out.push(...prunedPaths(v, after[k], path));
  }
  return out;
}

const isObj = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === 'object' && !Array.isArray(v);

export function validateWrite(
  rt: ResourceType,
  version: string,
  obj: KObj,
  old: KObj | undefined,
  opts: WriteValidationOptions,
): StatusCause[] {
  const gvk = gvkOf(rt, rt.crd ? version : rt.storageVersion);
  const nameRule = rt.crd ? 'dns1123-subdomain' : nameRuleFor(gvk);
  const causes = validateObjectMeta(obj.metadata, {
    namespaced: rt.namespaced,
    nameRule,
    generateNameAllowed: old === undefined,
    standardFinalizers: !rt.crd && rt.kind !== 'CustomResourceDefinition',
  });
  if (old) causes.push(...immutableMeta(obj, old));
  if (rt.crd) {
    const schema = crSchema(rt, version);
    if (schema) causes.push(...validateWithSchema(schema, obj));
  } else if (rt.kind === 'CustomResourceDefinition') {
    causes.push(...validateCrd(obj));
  } else {
    causes.push(...validateBuiltin(gvk, obj, old, { allowLoopbackEndpoints: opts.allowLoopbackEndpoints }));
  }
  return causes;
}

/** ValidateObjectMetaUpdate: identity fields never change; no finalizer may be added while deleting. */
function immutableMeta(obj: KObj, old: KObj): StatusCause[] {
  const causes: StatusCause[] = [];
  if (obj.metadata.uid !== old.metadata.uid) {
    causes.push(invalid('metadata.uid', obj.metadata.uid, 'field is immutable'));
  }
  if (old.metadata.deletionTimestamp) {
    const before = new Set(old.metadata.finalizers ?? []);
    const added = (obj.metadata.finalizers ?? []).filter((f) => !before.has(f));
    if (added.length > 0) {
      causes.push({
        reason: 'FieldValueForbidden',
        field: 'metadata.finalizers',
        message: `Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers []string{${added.map((f) => JSON.stringify(f)).join(', ')}}`,
      });
    }
  }
  return causes;
}

/**
 * Known fields of the built-in kinds, read from @kubernetes/client-node's generated models (the
 * same OpenAPI the real types come from). kube-apiserver decodes built-ins into Go structs, so an
 * unknown field is silently dropped — or, with `fieldValidation=Strict`, refused with
 * `strict decoding error: unknown field "spec.x"` — and a value of the wrong JSON type is a 400
 * (`json: cannot unmarshal string into Go struct field ...`). This module reproduces both.
 */
import * as models from '@kubernetes/client-node';
import { badRequest } from './api-status.js';

interface Attribute {
  baseName: string;
  type: string;
  format?: string;
}
type ModelClass = { getAttributeTypeMap(): Attribute[] };

/** The model class of each built-in kind the sandbox serves (keyed like gvkOf()). */
const TOP_LEVEL: Record<string, string> = {
  'v1/Namespace': 'V1Namespace',
  'v1/Service': 'V1Service',
  'v1/Endpoints': 'V1Endpoints',
  'v1/Secret': 'V1Secret',
  'v1/ConfigMap': 'V1ConfigMap',
  'v1/Pod': 'V1Pod',
  'v1/ServiceAccount': 'V1ServiceAccount',
  'v1/Event': 'CoreV1Event',
  'discovery.k8s.io/v1/EndpointSlice': 'V1EndpointSlice',
  'coordination.k8s.io/v1/Lease': 'V1Lease',
  'apps/v1/Deployment': 'V1Deployment',
  'policy/v1/PodDisruptionBudget': 'V1PodDisruptionBudget',
  'networking.k8s.io/v1/NetworkPolicy': 'V1NetworkPolicy',
  'rbac.authorization.k8s.io/v1/Role': 'V1Role',
  'rbac.authorization.k8s.io/v1/RoleBinding': 'V1RoleBinding',
  'rbac.authorization.k8s.io/v1/ClusterRole': 'V1ClusterRole',
  'rbac.authorization.k8s.io/v1/ClusterRoleBinding': 'V1ClusterRoleBinding',
  'apiextensions.k8s.io/v1/CustomResourceDefinition': 'V1CustomResourceDefinition',
  'admissionregistration.k8s.io/v1/ValidatingAdmissionPolicy': 'V1ValidatingAdmissionPolicy',
  'admissionregistration.k8s.io/v1/ValidatingAdmissionPolicyBinding': 'V1ValidatingAdmissionPolicyBinding',
};

const attrCache = new Map<string, Map<string, Attribute> | undefined>();

function attributes(className: string): Map<string, Attribute> | undefined {
  if (attrCache.has(className)) return attrCache.get(className);
  const cls = (models as unknown as Record<string, ModelClass | undefined>)[className];
  const map = cls?.getAttributeTypeMap
    ? new Map(cls.getAttributeTypeMap().map((a) => [a.baseName, a]))
    : undefined;
  attrCache.set(className, map);
  return map;
}

interface Finding {
  unknown: string[];
  typeError: string | undefined;
}

const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === 'object' && !Array.isArray(v);

function jsonKind(v: unknown): string {
  return Array.isArray(v) ? 'array' : v === null ? 'null' : typeof v === 'object' ? 'object' : typeof v;
}

/** Walks `value` against a model type string, collecting unknown paths (and dropping them) and the first type error. */
function walk(value: unknown, type: string, path: string, f: Finding, goType: string): void {
  if (value === null || value === undefined || type === 'any' || type === 'object') return;
  const arr = /^Array<(.+)>$/.exec(type);
  const map = /^\{ \[key: string\]: (.+); \}$/.exec(type);
  const mismatch = (want: string) => {
    f.typeError ??= `json: cannot unmarshal ${jsonKind(value)} into Go struct field ${goType}.${path} of type ${want}`;
  };
  if (arr) {
    if (!Array.isArray(value)) {
      mismatch(`[]${arr[1]}`);
      return;
    }
    for (const v of value) walk(v, arr[1]!, path, f, goType);
    return;
  }
  if (map) {
    if (!isPlainObject(value)) {
      mismatch(`map[string]${map[1]}`);
      return;
    }
    for (const v of Object.values(value)) walk(v, map[1]!, path, f, goType);
    return;
  }
  switch (type) {
    case 'string':
    case 'Date':
      if (typeof value !== 'string') mismatch('string');
      return;
    case 'number':
      if (typeof value !== 'number') mismatch('int32');
      return;
    case 'boolean':
      if (typeof value !== 'boolean') mismatch('bool');
      return;
    case 'IntOrString':
      if (typeof value !== 'string' && typeof value !== 'number') mismatch('intstr.IntOrString');
      return;
  }
  const attrs = attributes(type);
  if (!attrs) return; // a model we cannot see into: leave it alone
  if (!isPlainObject(value)) {
    mismatch(type.replace(/^(V1|CoreV1)/, ''));
    return;
  }
  for (const key of Object.keys(value)) {
    const child = path ? `${path}.${key}` : key;
    const attr = attrs.get(key);
    if (!attr) {
      f.unknown.push(child);
      delete value[key];
      continue;
    }
    walk(value[key], attr.type, child, f, type.replace(/^(V1|CoreV1)/, ''));
  }
}

/**
 * Drops the fields the kind does not have from `obj` (in place) and returns their paths; throws
 * 400 for a value of the wrong type, and for unknown fields when `strict`.
 */
export function decodeBuiltinFields(
  gvk: string,
  kind: string,
  obj: Record<string, unknown>,
  strict: boolean,
): string[] {
  const className = TOP_LEVEL[gvk];
  if (!className) return [];
  const f: Finding = { unknown: [], typeError: undefined };
  walk(obj, className, '', f, kind);
  if (f.typeError) {
    const version = gvk.split('/').slice(-2, -1)[0];
    throw badRequest(`${kind} in version "${version}" cannot be handled as a ${kind}: ${f.typeError}`);
  }
  if (strict && f.unknown.length > 0) {
    throw badRequest(
      `strict decoding error: ${f.unknown.map((p) => `unknown field ${JSON.stringify(p)}`).join(', ')}`,
    );
  }
  return f.unknown;
}

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

/** Go's layouts for metav1.Time (parsing takes an optional fraction) and metav1.MicroTime. */
const TIME_LAYOUT = '2006-01-02T15:04:05Z07:00';
const MICRO_TIME_LAYOUT = '2006-01-02T15:04:05.000000Z07:00';
const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

/**
 * `value` as kube-apiserver writes it back (UTC; to the second for a Time, to the microsecond for
 * a MicroTime), or undefined when Go's time.Parse refuses it: a MicroTime needs exactly six
 * fraction digits, and every field must be in range (time.Parse refuses a month 13 or a 31 April).
 */
function goTime(value: string, micro: boolean): string | undefined {
  const m = RFC3339.exec(value);
  if (!m || (micro && m[7]?.length !== 7)) return undefined;
  const [y, mo, d, h, mi, sec] = m.slice(1, 7).map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const day = new Date(Date.UTC(y, mo - 1, d));
  if (day.getUTCMonth() !== mo - 1 || day.getUTCDate() !== d || h > 23 || mi > 59 || sec > 59)
    return undefined;
  const ms = Date.parse(`${m.slice(1, 4).join('-')}T${m.slice(4, 7).join(':')}${m[8]}`);
  if (Number.isNaN(ms)) return undefined;
  const whole = new Date(ms).toISOString().slice(0, 19);
  return micro ? `${whole}${m[7]}Z` : `${whole}Z`;
}

const INT_RANGE: Record<string, [number, number]> = {
  int32: [-(2 ** 31), 2 ** 31 - 1],
  int64: [Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER],
};

/**
 * Walks `value` against a model type string, collecting unknown paths (and dropping them) and the
 * first type error; returns the value to keep (a time as the API server writes it back).
 */
function walk(value: unknown, type: string, path: string, f: Finding, goType: string, format = ''): unknown {
  if (value === null || value === undefined || type === 'any' || type === 'object') return value;
  const arr = /^Array<(.+)>$/.exec(type);
  const map = /^\{ \[key: string\]: (.+); \}$/.exec(type);
  const mismatch = (want: string) => {
    const kind = typeof value === 'number' ? `number ${value}` : jsonKind(value);
    f.typeError ??= `json: cannot unmarshal ${kind} into Go struct field ${goType}.${path} of type ${want}`;
  };
  if (arr) {
    if (!Array.isArray(value)) {
      mismatch(`[]${arr[1]}`);
      return value;
    }
    value.forEach((v, i) => {
      value[i] = walk(v, arr[1]!, path, f, goType);
    });
    return value;
  }
  if (map) {
    if (!isPlainObject(value)) {
      mismatch(`map[string]${map[1]}`);
      return value;
    }
    for (const [k, v] of Object.entries(value)) value[k] = walk(v, map[1]!, path, f, goType);
    return value;
  }
  switch (type) {
    case 'string':
      if (typeof value !== 'string') mismatch('string');
      return value;
    case 'Date':
    case 'V1MicroTime': {
      const micro = type === 'V1MicroTime';
      if (typeof value !== 'string') {
        mismatch(micro ? 'v1.MicroTime' : 'v1.Time');
        return value;
      }
      const written = goTime(value, micro);
      if (written === undefined) {
        const layout = micro ? MICRO_TIME_LAYOUT : TIME_LAYOUT;
        f.typeError ??= `parsing time ${JSON.stringify(value)} as ${JSON.stringify(layout)}: cannot parse ${JSON.stringify(value)} as ${JSON.stringify(layout)}`;
        return value;
      }
      return written;
    }
    case 'number': {
      const want = format === 'int64' ? 'int64' : format === 'double' ? 'float64' : 'int32';
      const range = INT_RANGE[want];
      if (
        typeof value !== 'number' ||
        (range && !(Number.isInteger(value) && value >= range[0] && value <= range[1]))
      )
        mismatch(want);
      return value;
    }
    case 'boolean':
      if (typeof value !== 'boolean') mismatch('bool');
      return value;
    case 'IntOrString':
      if (typeof value !== 'string' && typeof value !== 'number') mismatch('intstr.IntOrString');
      return value;
  }
  const attrs = attributes(type);
  if (!attrs) return value; // a model we cannot see into: leave it alone
  if (!isPlainObject(value)) {
    mismatch(type.replace(/^(V1|CoreV1)/, ''));
    return value;
  }
  for (const key of Object.keys(value)) {
    const child = path ? `${path}.${key}` : key;
    const attr = attrs.get(key);
    if (!attr) {
      f.unknown.push(child);
      delete value[key];
      continue;
    }
    value[key] = walk(value[key], attr.type, child, f, type.replace(/^(V1|CoreV1)/, ''), attr.format);
  }
  return value;
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

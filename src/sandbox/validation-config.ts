/**
 * Secret, ConfigMap and Namespace rules of kube-apiserver (`pkg/apis/core/validation/validation.go`:
 * ValidateSecret(+Update), ValidateConfigMap(+Update), ValidateNamespace).
 */
import {
  child,
  forbidden,
  index,
  invalid,
  key,
  required,
  type StatusCause,
  tooLong,
  typeInvalid,
} from '../kube/validation/field-errors.js';
import { isRecord, jsonEqual } from '../kube/validation/json-values.js';
import { immutable } from '../kube/validation/meta.js';
import { isConfigMapKey, isQualifiedName } from '../kube/validation/strings.js';

/** core.MaxSecretSize: the limit for Secret data and for ConfigMap data + binaryData (1 MiB). */
export const MAX_SECRET_SIZE = 1024 * 1024;

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Keys valid as config keys; values strings (base64 where `base64`). Returns the decoded byte size. */
function dataMap(map: unknown, path: string, base64: boolean, out: StatusCause[]): number {
  if (map === undefined || map === null) return 0;
  if (!isRecord(map)) {
    out.push(typeInvalid(path, map, 'must be a map of strings'));
    return 0;
  }
  let size = 0;
  for (const [k, v] of Object.entries(map)) {
    for (const msg of isConfigMapKey(k)) out.push(invalid(key(path, k), k, msg));
    if (typeof v !== 'string') {
      out.push(typeInvalid(key(path, k), v, 'must be a string'));
    } else if (base64 && !BASE64.test(v)) {
      out.push(invalid(key(path, k), '<value omitted>', 'illegal base64 data'));
    } else {
      size += base64 ? Buffer.from(v, 'base64').length : Buffer.byteLength(v);
    }
  }
  return size;
}

function requireKeys(data: Record<string, unknown>, keys: readonly string[], out: StatusCause[]): void {
  for (const k of keys) if (!Object.hasOwn(data, k)) out.push(required(key('data', k)));
}

/** Immutable Secrets and ConfigMaps (KEP-1412): once `immutable: true`, data and the flag are frozen. */
function immutableData(
  obj: Record<string, unknown>,
  old: Record<string, unknown>,
  fields: readonly string[],
): StatusCause[] {
  if (old.immutable !== true) return [];
  const out: StatusCause[] = [];
  if (obj.immutable !== true) out.push(forbidden('immutable', 'field is immutable when `immutable` is set'));
  for (const f of fields) {
    if (!jsonEqual(obj[f] ?? {}, old[f] ?? {}))
      out.push(forbidden(f, 'field is immutable when `immutable` is set'));
  }
  return out;
}

export function validateSecret(secret: unknown, old: unknown): StatusCause[] {
  if (!isRecord(secret)) return [];
  const out: StatusCause[] = [];
  let size = dataMap(secret.data, 'data', true, out);
  size += dataMap(secret.stringData, 'stringData', false, out);
  if (size > MAX_SECRET_SIZE) out.push(tooLong('data', MAX_SECRET_SIZE));
  const data = {
    ...(isRecord(secret.stringData) ? secret.stringData : {}),
    ...(isRecord(secret.data) ? secret.data : {}),
  };
  const type = typeof secret.type === 'string' && secret.type !== '' ? secret.type : 'Opaque';
  switch (type) {
    case 'kubernetes.io/service-account-token': {
      const ann =
        isRecord(secret.metadata) && isRecord(secret.metadata.annotations) ? secret.metadata.annotations : {};
      if (!ann['kubernetes.io/service-account.name']) {
        out.push(required(key('metadata.annotations', 'kubernetes.io/service-account.name')));
      }
      break;
    }
    case 'kubernetes.io/dockercfg':
      requireKeys(data, ['.dockercfg'], out);
      break;
    case 'kubernetes.io/dockerconfigjson':
      requireKeys(data, ['.dockerconfigjson'], out);
      break;
    case 'kubernetes.io/basic-auth':
      if (!Object.hasOwn(data, 'username') && !Object.hasOwn(data, 'password')) {
        out.push(required(key('data', 'username'), 'must have at least one of `username` or `password`'));
      }
      break;
    case 'kubernetes.io/ssh-auth':
      requireKeys(data, ['ssh-privatekey'], out);
      break;
    case 'kubernetes.io/tls':
      requireKeys(data, ['tls.crt', 'tls.key'], out);
      break;
    default:
      for (const msg of type === 'Opaque' ? [] : isQualifiedName(type)) out.push(invalid('type', type, msg));
  }
  if (isRecord(old)) {
    const oldType = typeof old.type === 'string' && old.type !== '' ? old.type : 'Opaque';
    if (oldType !== type) out.push(immutable('type', type));
    out.push(...immutableData(secret, old, ['data']));
  }
  return out;
}

export function validateConfigMap(cm: unknown, old: unknown): StatusCause[] {
  if (!isRecord(cm)) return [];
  const out: StatusCause[] = [];
  const size = dataMap(cm.data, 'data', false, out) + dataMap(cm.binaryData, 'binaryData', true, out);
  if (isRecord(cm.data) && isRecord(cm.binaryData)) {
    for (const k of Object.keys(cm.binaryData)) {
      if (Object.hasOwn(cm.data, k))
        out.push(invalid(key('binaryData', k), k, 'duplicate of key present in data'));
    }
  }
  if (size > MAX_SECRET_SIZE) out.push(tooLong('', MAX_SECRET_SIZE));
  if (isRecord(old)) out.push(...immutableData(cm, old, ['data', 'binaryData']));
  return out;
}

/** Namespace spec.finalizers: qualified names, and a bare name only if it is kube's own "kubernetes". */
export function validateNamespace(ns: unknown): StatusCause[] {
  if (!isRecord(ns) || !isRecord(ns.spec)) return [];
  const finalizers = ns.spec.finalizers;
  if (finalizers === undefined || finalizers === null) return [];
  if (!Array.isArray(finalizers))
    return [typeInvalid('spec.finalizers', finalizers, 'must be a list of strings')];
  const out: StatusCause[] = [];
  finalizers.forEach((f, i) => {
    const path = index(child('spec', 'finalizers'), i);
    if (typeof f !== 'string') {
      out.push(typeInvalid(path, f, 'must be a string'));
      return;
    }
    const errs = isQualifiedName(f);
    for (const msg of errs) out.push(invalid(path, f, msg));
    if (!errs.length && !f.includes('/') && f !== 'kubernetes') {
      out.push(invalid(path, f, 'name is neither a standard finalizer name nor is it fully qualified'));
    }
  });
  return out;
}
